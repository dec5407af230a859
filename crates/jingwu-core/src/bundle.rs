//! The evidence bundle of a case: everything a third party needs to check
//! a case's log with its own tools.
//!
//! A bundle is JSON holding, per event, the exact signed bytes (Base64),
//! their SM3 hash (hex), the previous event's hash, the DER-encoded SM2
//! signature (Base64), the author and the fingerprint of the signing key,
//! plus every signer's public key as PEM. The signed bytes are the
//! authority: every other field of an event is a convenience copy that
//! [`Bundle::verify`] checks against them. With OpenSSL alone, a reader
//! checks each event with
//! `openssl dgst -sm3` and
//! `openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin -digest sm3
//! -pkeyopt distid:1234567812345678 -in BYTES -sigfile SIG`
//! (`scripts/verify-bundle-openssl.sh` does exactly that).
//!
//! A bundle carries the signers' keys so that it is self-contained; it
//! proves that the log is intact and signed by the holders of those keys.
//! Whether a key really belongs to the person it names is for the reader
//! to confirm against keys they already hold.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::case::CaseState;
use crate::crypto::{sm3_hex, PublicKey};
use crate::event::SignedEvent;
use crate::registry::Registry;

/// The format tag of every bundle this code writes and reads.
pub const BUNDLE_FORMAT: &str = "jingwu-evidence-bundle/1";

/// A case's evidence bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    pub case_id: Uuid,
    /// 受理编号 / 接警单编号, as signed in the case's `create` event.
    pub case_no: String,
    /// When the bundle was exported (RFC 3339); not signed.
    pub exported_at: String,
    /// The case's log, in order.
    pub events: Vec<BundleEvent>,
    /// The public keys of every signer.
    pub keys: Vec<BundleKey>,
}

/// One event of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEvent {
    pub seq: u64,
    pub id: Uuid,
    /// Person id of the author.
    pub author: String,
    /// Fingerprint of the signing key (SM3 of its SEC1 point, hex).
    pub key: String,
    /// The action's kind (`create`, `submit`, `decide` …).
    pub kind: String,
    /// The exact signed bytes (RFC 8785 canonical JSON), Base64.
    pub bytes_b64: String,
    /// SM3 of the signed bytes, hex.
    pub sm3_hex: String,
    /// SM3 hex of the previous event's signed bytes; `null` for seq 0.
    pub prev: Option<String>,
    /// DER-encoded SM2 signature of the signed bytes, Base64.
    pub signature_b64: String,
}

/// A signer's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleKey {
    /// Person id of the key's holder.
    pub person: String,
    /// SM3 of the key's SEC1 point, hex.
    pub fingerprint: String,
    /// SubjectPublicKeyInfo PEM, readable by `openssl pkey -pubin`.
    pub pem: String,
}

/// What a successful check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub case_id: Uuid,
    pub case_no: String,
    /// Number of events checked.
    pub events: usize,
    /// The case's status after replaying it under the rules (its Chinese
    /// label, e.g. `已同意`); `None` when no registry was given.
    pub final_status: Option<String>,
    /// SM3 hex of the last event: the head of the log.
    pub head: String,
}

/// Why a bundle could not be built or does not verify. Names the first bad
/// event (`index` is its position in the log, equal to its `seq`) when the
/// fault lies with one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleError {
    pub index: Option<usize>,
    pub event_id: Option<String>,
    pub reason: String,
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, &self.event_id) {
            (Some(i), Some(id)) => write!(f, "第 {i} 个事件（{id}）校验失败：{}", self.reason),
            (Some(i), None) => write!(f, "第 {i} 个事件校验失败：{}", self.reason),
            (None, _) => write!(f, "证据包校验失败：{}", self.reason),
        }
    }
}

impl std::error::Error for BundleError {}

impl BundleError {
    fn bundle(reason: impl Into<String>) -> BundleError {
        BundleError {
            index: None,
            event_id: None,
            reason: reason.into(),
        }
    }

    fn event(index: usize, id: impl ToString, reason: impl Into<String>) -> BundleError {
        BundleError {
            index: Some(index),
            event_id: Some(id.to_string()),
            reason: reason.into(),
        }
    }
}

/// A key of the bundle as parsed: usable, or why not.
type ParsedKeys = BTreeMap<(String, String), Result<PublicKey, String>>;

impl Bundle {
    /// Builds the bundle of a case's log. `key_of(author, fingerprint)`
    /// returns the public key an event names. The log must verify (chain,
    /// signatures); the result is checked with [`Bundle::verify`] before it
    /// is returned, so a bundle built here always verifies.
    pub fn build(
        events: &[SignedEvent],
        key_of: impl Fn(&str, &str) -> Option<PublicKey>,
        exported_at: &str,
    ) -> Result<Bundle, BundleError> {
        check_time(exported_at)?;
        let first = events
            .first()
            .ok_or_else(|| BundleError::bundle("案件没有任何事件"))?;
        let Some(case_no) = first.event.action.opening_case_no() else {
            return Err(BundleError::event(
                0,
                first.event.id,
                "案件的第一个事件必须是“创建”",
            ));
        };
        let mut keys: Vec<BundleKey> = Vec::new();
        let mut out = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let ev = &e.event;
            let have = keys
                .iter()
                .any(|k| k.person == ev.author && k.fingerprint == ev.key);
            if !have {
                let pk = key_of(&ev.author, &ev.key).ok_or_else(|| {
                    BundleError::event(i, ev.id, format!("找不到签名人 {} 的公钥", ev.author))
                })?;
                if pk.fingerprint() != ev.key {
                    return Err(BundleError::event(
                        i,
                        ev.id,
                        format!("签名人 {} 的公钥与事件记载的公钥指纹不符", ev.author),
                    ));
                }
                keys.push(BundleKey {
                    person: ev.author.clone(),
                    fingerprint: pk.fingerprint(),
                    pem: pk.to_pem(),
                });
            }
            out.push(BundleEvent {
                seq: ev.seq,
                id: ev.id,
                author: ev.author.clone(),
                key: ev.key.clone(),
                kind: ev.action.kind().to_string(),
                bytes_b64: B64.encode(e.bytes()),
                sm3_hex: e.hash_hex(),
                prev: ev.prev.clone(),
                signature_b64: B64.encode(e.signature()),
            });
        }
        let bundle = Bundle {
            format: BUNDLE_FORMAT.to_string(),
            case_id: first.event.case_id,
            case_no: case_no.to_string(),
            exported_at: exported_at.to_string(),
            events: out,
            keys,
        };
        bundle.verify(None)?;
        Ok(bundle)
    }

    /// Checks the bundle completely: its format; every key (PEM parses,
    /// fingerprint matches); every event in order (Base64, canonical bytes,
    /// SM3, the bundle's fields against the signed ones, consecutive `seq`
    /// from 0, `prev` chaining, one case, the signature against the named
    /// key of its author). With `reg`, also replays the case under the
    /// rules and reports its final status. The error names the first bad
    /// event.
    pub fn verify(&self, reg: Option<&Registry>) -> Result<VerifyReport, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::bundle(format!(
                "不支持的证据包格式“{}”（应为 {BUNDLE_FORMAT}）",
                self.format
            )));
        }
        check_time(&self.exported_at)?;
        if self.events.is_empty() {
            return Err(BundleError::bundle("证据包中没有任何事件"));
        }
        let keys = self.parse_keys()?;

        let mut signed: Vec<SignedEvent> = Vec::with_capacity(self.events.len());
        let mut prev: Option<String> = None;
        for (i, be) in self.events.iter().enumerate() {
            let se = check_event(i, be, prev.as_deref(), self, &keys)?;
            prev = Some(se.hash_hex());
            signed.push(se);
        }
        // Keys no event uses must still be well-formed.
        for ((person, fp), k) in &keys {
            if let Err(why) = k {
                return Err(BundleError::bundle(format!(
                    "{person} 的公钥（{fp}）有误：{why}"
                )));
            }
        }

        let final_status = match reg {
            None => None,
            Some(reg) => {
                let hashes: Vec<String> = signed.iter().map(SignedEvent::hash_hex).collect();
                let state = CaseState::replay(
                    signed
                        .iter()
                        .zip(hashes.iter())
                        .map(|(e, h)| (&e.event, h.as_str())),
                    reg,
                )
                .map_err(|(seq, why)| {
                    let i = usize::try_from(seq).unwrap_or(usize::MAX);
                    let id = signed
                        .get(i)
                        .map(|e| e.event.id.to_string())
                        .unwrap_or_default();
                    BundleError::event(i, id, format!("不符合业务规则：{why}"))
                })?;
                Some(state.status.label().to_string())
            }
        };
        Ok(VerifyReport {
            case_id: self.case_id,
            case_no: self.case_no.clone(),
            events: signed.len(),
            final_status,
            head: prev.unwrap_or_default(),
        })
    }

    /// Parses a bundle from JSON.
    pub fn from_json(json: &str) -> Result<Bundle, BundleError> {
        serde_json::from_str(json)
            .map_err(|e| BundleError::bundle(format!("不是有效的证据包 JSON：{e}")))
    }

    /// The bundle as indented JSON.
    pub fn to_json_pretty(&self) -> Result<String, BundleError> {
        serde_json::to_string_pretty(self)
            .map_err(|e| BundleError::bundle(format!("无法写出证据包：{e}")))
    }

    /// Every key of the bundle by (person, fingerprint), parsed. A key that
    /// does not parse or whose PEM does not match its fingerprint is kept
    /// with the reason, so the first event signed with it is named.
    fn parse_keys(&self) -> Result<ParsedKeys, BundleError> {
        let mut keys = ParsedKeys::new();
        for k in &self.keys {
            let parsed = match PublicKey::from_pem(&k.pem) {
                Err(e) => Err(e.to_string()),
                Ok(pk) if pk.fingerprint() != k.fingerprint => Err(format!(
                    "PEM 公钥的指纹为 {}，与记载的指纹不符",
                    pk.fingerprint()
                )),
                Ok(pk) => Ok(pk),
            };
            let slot = (k.person.clone(), k.fingerprint.clone());
            if keys.insert(slot, parsed).is_some() {
                return Err(BundleError::bundle(format!(
                    "{} 的公钥（{}）重复出现",
                    k.person, k.fingerprint
                )));
            }
        }
        Ok(keys)
    }
}

fn check_time(s: &str) -> Result<(), BundleError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|_| ())
        .map_err(|_| BundleError::bundle(format!("导出时间“{s}”不是 RFC 3339 格式")))
}

/// Checks the `i`-th event of `bundle` given the previous event's hash.
fn check_event(
    i: usize,
    be: &BundleEvent,
    prev: Option<&str>,
    bundle: &Bundle,
    keys: &ParsedKeys,
) -> Result<SignedEvent, BundleError> {
    let fail = |reason: String| BundleError::event(i, be.id, reason);
    let bytes = B64
        .decode(be.bytes_b64.as_bytes())
        .map_err(|_| fail("签名内容不是有效的 Base64".into()))?;
    let sig = B64
        .decode(be.signature_b64.as_bytes())
        .map_err(|_| fail("签名不是有效的 Base64".into()))?;
    let hash = sm3_hex(&bytes);
    if hash != be.sm3_hex {
        return Err(fail(format!(
            "签名内容的 SM3 为 {hash}，与记载的 {} 不符",
            be.sm3_hex
        )));
    }
    let se = SignedEvent::from_parts(bytes, sig).map_err(|e| fail(e.to_string()))?;
    let ev = &se.event;
    if ev.id != be.id {
        return Err(fail(format!(
            "签名内容中的事件 id 为 {}，与记载不符",
            ev.id
        )));
    }
    if ev.case_id != bundle.case_id {
        return Err(fail("不属于证据包所记载的案件".into()));
    }
    if ev.seq != be.seq {
        return Err(fail(format!(
            "签名内容中的序号为 {}，与记载的 {} 不符",
            ev.seq, be.seq
        )));
    }
    if ev.seq != i as u64 {
        return Err(fail(format!("序号应为 {i}，实际为 {}", ev.seq)));
    }
    if ev.author != be.author {
        return Err(fail(format!(
            "签名内容中的签名人为 {}，与记载的 {} 不符",
            ev.author, be.author
        )));
    }
    if ev.key != be.key {
        return Err(fail("签名内容中的公钥指纹与记载不符".into()));
    }
    if ev.action.kind() != be.kind {
        return Err(fail(format!(
            "签名内容中的操作为 {}，与记载的 {} 不符",
            ev.action.kind(),
            be.kind
        )));
    }
    if ev.prev != be.prev {
        return Err(fail("签名内容中的前一事件哈希与记载不符".into()));
    }
    if ev.prev.as_deref() != prev {
        return Err(fail("前一事件哈希不符，链条断裂".into()));
    }
    if i == 0 {
        match ev.action.opening_case_no() {
            Some(case_no) if case_no == bundle.case_no => {}
            Some(case_no) => {
                return Err(fail(format!(
                    "签名内容中的案件编号为 {case_no}，与证据包记载的 {} 不符",
                    bundle.case_no
                )))
            }
            None => return Err(fail("案件的第一个事件必须是“创建”".into())),
        }
    }
    let key = keys
        .get(&(ev.author.clone(), ev.key.clone()))
        .ok_or_else(|| {
            fail(format!(
                "证据包中没有签名人 {} 的公钥（{}）",
                ev.author, ev.key
            ))
        })?
        .as_ref()
        .map_err(|why| fail(format!("签名人 {} 的公钥有误：{why}", ev.author)))?;
    se.verify(key).map_err(|e| fail(e.to_string()))?;
    Ok(se)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::crypto::Signer;
    use crate::event::{Action, Decision, Event};
    use crate::tests::{decide, hukou_form, World};

    const STATION: &str = "方祥派出所";
    const EXPORTED: &str = "2026-11-21T10:00:00+08:00";

    /// A 户口变更 driven through every step, carried out and the applicant
    /// told: 7 events.
    fn approved_case() -> World {
        let mut w = World::new();
        let officer = w.holder(STATION, "户籍民警");
        let chief = w.holder(STATION, "所长");
        let section = w.holder("户政股", "股长");
        let deputy = w.deputy();
        w.create_hukou(STATION, &officer, hukou_form()).unwrap();
        w.act(&officer, Action::Submit {}).unwrap();
        w.act(&chief, decide("station_chief", Decision::Agree, "同意上报"))
            .unwrap();
        w.act(
            &section,
            decide("household_section", Decision::Agree, "材料齐全"),
        )
        .unwrap();
        w.act(&deputy, decide("deputy_director", Decision::Agree, ""))
            .unwrap();
        w.act(
            &officer,
            Action::Implement {
                note: "已在系统中变更".into(),
            },
        )
        .unwrap();
        let at = w.clock;
        w.act(
            &officer,
            Action::InformApplicant {
                at,
                channel: "phone".into(),
                note: "已电话告知".into(),
            },
        )
        .unwrap();
        w
    }

    fn export(w: &World) -> Bundle {
        Bundle::build(
            &w.log,
            |a, _| w.keys.get(a).map(|k| k.public_key().clone()),
            EXPORTED,
        )
        .unwrap()
    }

    /// The approved case and its bundle, made once.
    fn fixture() -> &'static (World, Bundle) {
        static F: OnceLock<(World, Bundle)> = OnceLock::new();
        F.get_or_init(|| {
            let w = approved_case();
            let b = export(&w);
            (w, b)
        })
    }

    fn fails_at(b: &Bundle, reg: Option<&Registry>, index: usize) -> BundleError {
        match b.verify(reg) {
            Ok(r) => panic!("expected a failure at event {index}, got {r:?}"),
            Err(e) => {
                assert_eq!(e.index, Some(index), "{e}");
                e
            }
        }
    }

    fn edit_b64(s: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = B64.decode(s).unwrap();
        f(&mut v);
        B64.encode(v)
    }

    #[test]
    fn exported_bundle_verifies() {
        let (w, b) = fixture();
        assert_eq!(b.format, BUNDLE_FORMAT);
        assert_eq!(b.events.len(), 7);
        assert_eq!(b.case_no, w.state().case_no);
        // Officer, chief, section, deputy: one key each.
        assert_eq!(b.keys.len(), 4);
        assert_eq!(b.events[0].prev, None);
        assert_eq!(b.events[3].kind, "decide");
        let r = b.verify(Some(&w.reg)).unwrap();
        assert_eq!(r.case_id, w.case_id);
        assert_eq!(r.case_no, w.state().case_no);
        assert_eq!(r.events, 7);
        assert_eq!(r.final_status.as_deref(), Some("已同意"));
        assert_eq!(r.head, w.state().head);
        assert_eq!(b.verify(None).unwrap().final_status, None);

        // The JSON round-trips and the bytes are exactly the stored ones.
        let json = b.to_json_pretty().unwrap();
        let back = Bundle::from_json(&json).unwrap();
        assert_eq!(&back, b);
        for (be, se) in back.events.iter().zip(&w.log) {
            assert_eq!(B64.decode(&be.bytes_b64).unwrap(), se.bytes());
            assert_eq!(B64.decode(&be.signature_b64).unwrap(), se.signature());
        }
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v["events"][0]["prev"].is_null());
        assert!(v["keys"][0]["pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn flipped_byte_in_signed_bytes_fails_at_that_event() {
        let (w, b) = fixture();
        let mut t = b.clone();
        t.events[3].bytes_b64 = edit_b64(&t.events[3].bytes_b64, |v| v[40] ^= 0x01);
        let e = fails_at(&t, Some(&w.reg), 3);
        assert_eq!(
            e.event_id.as_deref(),
            Some(b.events[3].id.to_string().as_str())
        );
        assert!(e.reason.contains("SM3"), "{e}");
        assert!(e.to_string().starts_with("第 3 个事件（"), "{e}");
    }

    #[test]
    fn flipped_byte_with_matching_hash_still_fails() {
        // Changing the bytes and recording their new hash is caught by the
        // chain or the signature, never accepted.
        let (_, b) = fixture();
        let mut t = b.clone();
        let raw = B64.decode(&t.events[2].bytes_b64).unwrap();
        let s = String::from_utf8(raw)
            .unwrap()
            .replace("同意上报", "同意上交");
        t.events[2].bytes_b64 = B64.encode(s.as_bytes());
        t.events[2].sm3_hex = sm3_hex(s.as_bytes());
        let e = fails_at(&t, None, 2);
        assert!(e.reason.contains("签名无效"), "{e}");
    }

    #[test]
    fn flipped_byte_in_signature_fails_at_that_event() {
        let (_, b) = fixture();
        let mut t = b.clone();
        t.events[5].signature_b64 = edit_b64(&t.events[5].signature_b64, |v| {
            let n = v.len();
            v[n - 3] ^= 0x40;
        });
        let e = fails_at(&t, None, 5);
        assert!(e.reason.contains("签名"), "{e}");
        assert_eq!(
            e.event_id.as_deref(),
            Some(b.events[5].id.to_string().as_str())
        );
    }

    #[test]
    fn swapped_events_fail_at_the_first_of_the_pair() {
        let (_, b) = fixture();
        let mut t = b.clone();
        t.events.swap(2, 3);
        let e = fails_at(&t, None, 2);
        assert!(e.reason.contains("序号应为 2，实际为 3"), "{e}");
    }

    #[test]
    fn dropped_middle_event_fails_where_it_was() {
        let (_, b) = fixture();
        let mut t = b.clone();
        t.events.remove(4);
        let e = fails_at(&t, None, 4);
        assert!(e.reason.contains("序号应为 4"), "{e}");
        // Dropping the last one leaves a valid, shorter log: the head
        // moves, which the reader sees in the report.
        let mut t = b.clone();
        t.events.pop();
        assert_eq!(t.verify(None).unwrap().head, b.events[5].sm3_hex);
    }

    #[test]
    fn wrong_key_pem_fails_at_the_first_event_of_its_holder() {
        let (w, b) = fixture();
        let chief = &b.events[2].author;
        let other = &b.events[3].author;
        let chief_at = b.keys.iter().position(|k| &k.person == chief).unwrap();
        let other_pem = b
            .keys
            .iter()
            .find(|k| &k.person == other)
            .unwrap()
            .pem
            .clone();

        // Another person's PEM under the chief's fingerprint.
        let mut t = b.clone();
        t.keys[chief_at].pem = other_pem.clone();
        let e = fails_at(&t, Some(&w.reg), 2);
        assert!(e.reason.contains("指纹"), "{e}");

        // The whole entry replaced by another key: the chief's key is
        // missing.
        let mut t = b.clone();
        t.keys[chief_at].pem = other_pem;
        t.keys[chief_at].fingerprint = b.events[3].key.clone();
        let e = fails_at(&t, None, 2);
        assert!(e.reason.contains("没有签名人"), "{e}");

        // The chief's key attributed to somebody else.
        let mut t = b.clone();
        t.keys[chief_at].person = other.clone();
        let e = fails_at(&t, None, 2);
        assert!(e.reason.contains("没有签名人"), "{e}");

        // Garbage PEM.
        let mut t = b.clone();
        t.keys[chief_at].pem =
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into();
        let e = fails_at(&t, None, 2);
        assert!(e.reason.contains("公钥"), "{e}");

        // A bad key no event uses is still refused, without an index.
        let mut t = b.clone();
        t.keys.push(BundleKey {
            person: "nobody".into(),
            fingerprint: "00".into(),
            pem: "not a key".into(),
        });
        let e = t.verify(None).unwrap_err();
        assert_eq!(e.index, None);
        assert!(e.to_string().starts_with("证据包校验失败："), "{e}");
    }

    #[test]
    fn prev_that_does_not_match_fails_at_that_event() {
        let (w, b) = fixture();
        // The bundle's copy of prev disagrees with the signed one.
        let mut t = b.clone();
        t.events[4].prev = Some(b.events[2].sm3_hex.clone());
        let e = fails_at(&t, None, 4);
        assert!(e.reason.contains("前一事件哈希"), "{e}");

        // A correctly signed event whose own prev skips its predecessor.
        let orig = &w.log[4];
        let key = &w.keys[&orig.event.author];
        let mut ev: Event = orig.event.clone();
        ev.prev = Some(w.log[2].hash_hex());
        let se = SignedEvent::sign(ev, key).unwrap();
        assert_eq!(se.event.key, key.public_key().fingerprint());
        let mut t = b.clone();
        t.events[4].bytes_b64 = B64.encode(se.bytes());
        t.events[4].sm3_hex = se.hash_hex();
        t.events[4].prev = se.event.prev.clone();
        t.events[4].signature_b64 = B64.encode(se.signature());
        let e = fails_at(&t, None, 4);
        assert!(e.reason.contains("链条断裂"), "{e}");
    }

    #[test]
    fn unsigned_fields_are_checked_against_the_signed_bytes() {
        let (_, b) = fixture();
        let mut t = b.clone();
        t.events[1].kind = "cancel".into();
        fails_at(&t, None, 1);
        let mut t = b.clone();
        t.events[6].author = b.events[2].author.clone();
        fails_at(&t, None, 6);
        let mut t = b.clone();
        t.case_no = "522634-20261120-9999".into();
        fails_at(&t, None, 0);
        let mut t = b.clone();
        t.case_id = Uuid::nil();
        fails_at(&t, None, 0);
        let mut t = b.clone();
        t.format = "jingwu-evidence-bundle/2".into();
        assert_eq!(t.verify(None).unwrap_err().index, None);
        let mut t = b.clone();
        t.events.clear();
        assert_eq!(t.verify(None).unwrap_err().index, None);
    }

    #[test]
    fn a_log_breaking_the_rules_fails_the_replay() {
        // Validly signed and chained, but the officer approves their own
        // case: only the rules catch it.
        let mut w = World::new();
        let officer = w.holder(STATION, "户籍民警");
        w.create_hukou(STATION, &officer, hukou_form()).unwrap();
        w.act(&officer, Action::Submit {}).unwrap();
        let rogue = w.event(&officer, decide("station_chief", Decision::Agree, "自批"));
        w.log.push(rogue);
        let b = export(&w);
        assert!(b.verify(None).is_ok());
        let e = fails_at(&b, Some(&w.reg), 2);
        assert!(e.reason.contains("业务规则"), "{e}");
    }

    #[test]
    fn build_refuses_a_broken_log() {
        let (w, _) = fixture();
        let key_of = |a: &str, _: &str| w.keys.get(a).map(|k| k.public_key().clone());
        let mut log = w.log.clone();
        log.remove(1);
        assert_eq!(
            Bundle::build(&log, key_of, EXPORTED).unwrap_err().index,
            Some(1)
        );
        let e = Bundle::build(&w.log, |_, _| None, EXPORTED).unwrap_err();
        assert_eq!(e.index, Some(0));
        assert!(Bundle::build(&w.log[1..], key_of, EXPORTED).is_err());
        assert!(Bundle::build(&[], key_of, EXPORTED).is_err());
        assert!(Bundle::build(&w.log, key_of, "yesterday").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Changing any single byte of any event's signed bytes or
        /// signature fails verification, at that event.
        #[test]
        fn any_flipped_byte_fails(
            event in 0usize..7,
            in_signature in any::<bool>(),
            at in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let (_, b) = fixture();
            let mut t = b.clone();
            let e = &mut t.events[event];
            let field = if in_signature { &mut e.signature_b64 } else { &mut e.bytes_b64 };
            *field = edit_b64(field, |v| {
                let i = at.index(v.len());
                v[i] ^= mask;
            });
            let err = t.verify(None).unwrap_err();
            prop_assert_eq!(err.index, Some(event));
        }
    }
}
