//! Hub receipts: the county hub's signed statement of when it accepted an
//! event (like an RFC 3161 time-stamp token, in the project's own format).
//!
//! A device's clock can drift and a signer can lie about time, so the
//! event's own `time` is only what the officer saw. When the hub commits
//! events it states, for each, the event's id, its SM3, the case, the
//! global sequence number and the hub's time, and signs that with its own
//! SM2 key. Seal validity, the slip's printed times and other time rules
//! read [`ReceiptBody::received_at`]. Two formats exist; both verify here:
//!
//! - **Format 2 (group receipts, made today).** The hub commits the pushes
//!   of many stations together (group commit) and signs **once per
//!   commit**: the [`TreeHead`] names the root of an RFC 6962 Merkle tree
//!   (SM3; leaf hash `SM3(0x00 || leaf)`, node hash `SM3(0x01 || l || r)`,
//!   built by the `ct-merkle` crate) over one [`ReceiptLeaf`] per committed
//!   event, in `gseq` order. Each event's receipt carries the signed head
//!   (its exact bytes, as a string), the event's own leaf, its index and
//!   its inclusion proof (the sibling hashes, RFC 6962 §2.1.1). Nothing in
//!   it shows another event: the proof holds only hashes of leaves whose
//!   event ids and hashes cannot be guessed, and the head holds the root
//!   and the number of events committed together. The signed bytes (the
//!   head) are RFC 8785 canonical JSON; the signature is SM2 (default
//!   distinguishing ID) over them, DER-encoded, so `openssl pkeyutl
//!   -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678` checks
//!   the head offline (`jq -j .head receipt.json` gives its bytes).
//! - **Format 1 (one signature per event, made before group commit).** The
//!   signed bytes are the RFC 8785 JSON of the [`ReceiptBody`] itself.
//!   Stations keep such receipts; they stay valid.
//!
//! The hub signs per commit because an SM2 signature per event cost about
//! as much CPU as a third of the push path (see `bench/README.md`).

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{InclusionProof, RootHash};
use serde::{Deserialize, Serialize};
use sm3::Sm3;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::{CryptoError, PublicKey, Signer};
use crate::event::{canonical_bytes, EventError, SignedEvent};

/// The single-event receipt format (format 1; still verified).
pub const RECEIPT_FORMAT: u32 = 1;

/// The group receipt format (format 2): one signature per commit over a
/// Merkle tree of its events.
pub const GROUP_RECEIPT_FORMAT: u32 = 2;

/// The most events one signed tree may hold (a receipt naming a larger
/// tree is malformed).
pub const MAX_TREE_SIZE: u64 = 1 << 32;

/// What a receipt states about one accepted event. For format 1 it is
/// exactly what the hub signed; for format 2 it is read from the signed
/// head (`hub_key`) and the event's leaf (everything else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// Format version, [`RECEIPT_FORMAT`] or [`GROUP_RECEIPT_FORMAT`].
    pub v: u32,
    /// Fingerprint of the hub key that signs the receipt.
    pub hub_key: String,
    pub event_id: Uuid,
    /// SM3 hex of the event's signed bytes.
    pub event_hash: String,
    pub case_id: Uuid,
    /// The event's global sequence number on the hub.
    pub gseq: i64,
    /// The hub's clock when it accepted the event (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// One committed event: a leaf of its commit's tree (format 2). The leaf
/// bytes are its RFC 8785 canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLeaf {
    pub event_id: Uuid,
    /// SM3 hex of the event's signed bytes.
    pub event_hash: String,
    pub case_id: Uuid,
    pub gseq: i64,
    /// The hub's clock at the commit (UTC), the same for every leaf.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// What the hub signs once per commit (format 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeHead {
    /// [`GROUP_RECEIPT_FORMAT`].
    pub v: u32,
    /// Fingerprint of the hub key that signs the head.
    pub hub_key: String,
    /// Events committed together: the tree's leaves.
    pub tree_size: u64,
    /// The RFC 6962 Merkle tree hash (SM3) of the leaves, hex.
    pub root: String,
    /// The hub's clock at the commit (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// The bytes of a format-2 receipt: RFC 8785 JSON of this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupReceipt {
    v: u32,
    /// The signed head, its exact bytes (canonical JSON of a [`TreeHead`]).
    head: String,
    leaf: ReceiptLeaf,
    /// The leaf's position in the tree (0-based).
    index: u64,
    /// The inclusion proof: sibling hashes from the leaf up, hex.
    proof: Vec<String>,
}

/// Why a receipt could not be made, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("县局回执格式错误：{0}")]
    Malformed(String),
    #[error("县局回执不是规范化（RFC 8785）编码，可能被改动过")]
    NotCanonical,
    #[error("不支持的县局回执格式版本 {0}")]
    UnsupportedVersion(u32),
    #[error("县局回执的签名密钥与所给县局公钥不符")]
    KeyMismatch,
    #[error("县局回执不属于该事件")]
    WrongEvent,
    #[error("县局回执的默克尔证明与签名的根不符：{0}")]
    BadProof(String),
    #[error("县局回执签名无效：{0}")]
    Crypto(#[from] CryptoError),
}

/// The parts of a format-2 receipt that verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inclusion {
    /// The signed bytes.
    head_bytes: Vec<u8>,
    head: TreeHead,
    root: [u8; 32],
    /// Canonical JSON of the leaf.
    leaf_bytes: Vec<u8>,
    index: u64,
    /// Concatenated sibling hashes.
    proof: Vec<u8>,
}

/// A receipt with its exact bytes and the hub's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    pub body: ReceiptBody,
    bytes: Vec<u8>,
    signature: Vec<u8>,
    /// Format 2: the signed head and the inclusion proof.
    tree: Option<Inclusion>,
}

impl ReceiptBody {
    /// The format-1 receipt of `event`, accepted as `gseq` at
    /// `received_at`, to be signed by the hub key with fingerprint
    /// `hub_key`.
    pub fn for_event(
        event: &SignedEvent,
        gseq: i64,
        received_at: OffsetDateTime,
        hub_key: &str,
    ) -> ReceiptBody {
        ReceiptBody {
            v: RECEIPT_FORMAT,
            hub_key: hub_key.to_string(),
            event_id: event.event.id,
            event_hash: event.hash_hex(),
            case_id: event.event.case_id,
            gseq,
            received_at: received_at.to_offset(time::UtcOffset::UTC),
        }
    }
}

impl ReceiptLeaf {
    /// The leaf of `event`, committed as `gseq` at `received_at`.
    pub fn for_event(event: &SignedEvent, gseq: i64, received_at: OffsetDateTime) -> ReceiptLeaf {
        ReceiptLeaf {
            event_id: event.event.id,
            event_hash: event.hash_hex(),
            case_id: event.event.case_id,
            gseq,
            received_at: received_at.to_offset(time::UtcOffset::UTC),
        }
    }
}

type Digest32 = ct_merkle::digest::Output<Sm3>;

fn digest_of(bytes: &[u8]) -> Result<Digest32, ReceiptError> {
    Digest32::try_from(bytes).map_err(|_| ReceiptError::Malformed("SM3 摘要应为 32 字节".into()))
}

/// Hex of exactly 32 bytes, lower case (the only form accepted).
fn hash_from_hex(s: &str) -> Result<[u8; 32], ReceiptError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out)
        .map_err(|e| ReceiptError::Malformed(format!("摘要 {s}：{e}")))?;
    if hex::encode(out) != s {
        return Err(ReceiptError::NotCanonical);
    }
    Ok(out)
}

impl SignedReceipt {
    /// Signs a format-1 `body` with the hub's key; `body.hub_key` must be
    /// its fingerprint. (The hub signs format 2 now:
    /// [`SignedReceipt::sign_group`].)
    pub fn sign(body: ReceiptBody, signer: &dyn Signer) -> Result<SignedReceipt, ReceiptError> {
        if body.hub_key != signer.public_key().fingerprint() {
            return Err(ReceiptError::KeyMismatch);
        }
        if body.v != RECEIPT_FORMAT {
            return Err(ReceiptError::UnsupportedVersion(body.v));
        }
        let bytes = canonical_bytes(&body).map_err(malformed)?;
        let signature = signer.sign(&bytes)?;
        Ok(SignedReceipt {
            body,
            bytes,
            signature,
            tree: None,
        })
    }

    /// The format-2 receipts of one commit: `accepted` are its events with
    /// their `gseq`, in commit order, all accepted at `received_at`. One
    /// signature over the tree head; one receipt per event, in order.
    pub fn sign_group(
        accepted: &[(&SignedEvent, i64)],
        received_at: OffsetDateTime,
        signer: &dyn Signer,
    ) -> Result<Vec<SignedReceipt>, ReceiptError> {
        if accepted.is_empty() {
            return Ok(Vec::new());
        }
        let tree_size = accepted.len() as u64;
        if tree_size > MAX_TREE_SIZE {
            return Err(ReceiptError::Malformed(format!(
                "一次提交的事件过多：{tree_size}"
            )));
        }
        let received_at = received_at.to_offset(time::UtcOffset::UTC);
        let leaves: Vec<(ReceiptLeaf, Vec<u8>)> = accepted
            .iter()
            .map(|(e, gseq)| {
                let leaf = ReceiptLeaf::for_event(e, *gseq, received_at);
                let bytes = canonical_bytes(&leaf).map_err(malformed)?;
                Ok((leaf, bytes))
            })
            .collect::<Result<_, ReceiptError>>()?;
        let mut tree = MemoryBackedTree::<Sm3, Vec<u8>>::new();
        for (_, bytes) in &leaves {
            tree.push(bytes.clone());
        }
        let root = tree.root();
        let head = TreeHead {
            v: GROUP_RECEIPT_FORMAT,
            hub_key: signer.public_key().fingerprint(),
            tree_size,
            root: hex::encode(root.as_bytes()),
            received_at,
        };
        let head_bytes = canonical_bytes(&head).map_err(malformed)?;
        let head_text = String::from_utf8(head_bytes.clone())
            .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
        let signature = signer.sign(&head_bytes)?;
        let mut root_bytes = [0u8; 32];
        root_bytes.copy_from_slice(root.as_bytes());
        leaves
            .into_iter()
            .enumerate()
            .map(|(i, (leaf, leaf_bytes))| {
                let proof = tree.prove_inclusion(i);
                let wire = GroupReceipt {
                    v: GROUP_RECEIPT_FORMAT,
                    head: head_text.clone(),
                    leaf: leaf.clone(),
                    index: i as u64,
                    proof: proof.as_bytes().chunks(32).map(hex::encode).collect(),
                };
                let bytes = canonical_bytes(&wire).map_err(malformed)?;
                Ok(SignedReceipt {
                    body: body_of(&head, &leaf),
                    bytes,
                    signature: signature.clone(),
                    tree: Some(Inclusion {
                        head_bytes: head_bytes.clone(),
                        head: head.clone(),
                        root: root_bytes,
                        leaf_bytes,
                        index: i as u64,
                        proof: proof.as_bytes().to_vec(),
                    }),
                })
            })
            .collect()
    }

    /// Rebuilds a receipt of either format from stored or received parts;
    /// the bytes must be canonical JSON of a well-formed receipt. The
    /// signature and the proof are NOT checked here: call
    /// [`SignedReceipt::verify`].
    pub fn from_parts(bytes: Vec<u8>, signature: Vec<u8>) -> Result<SignedReceipt, ReceiptError> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version =
            serde_json::from_slice(&bytes).map_err(|e| ReceiptError::Malformed(e.to_string()))?;
        match version.v {
            RECEIPT_FORMAT => {
                let body: ReceiptBody = serde_json::from_slice(&bytes)
                    .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
                if canonical_bytes(&body).map_err(malformed)? != bytes {
                    return Err(ReceiptError::NotCanonical);
                }
                Ok(SignedReceipt {
                    body,
                    bytes,
                    signature,
                    tree: None,
                })
            }
            GROUP_RECEIPT_FORMAT => {
                let wire: GroupReceipt = serde_json::from_slice(&bytes)
                    .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
                if canonical_bytes(&wire).map_err(malformed)? != bytes {
                    return Err(ReceiptError::NotCanonical);
                }
                let head: TreeHead = serde_json::from_str(&wire.head)
                    .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
                let head_bytes = wire.head.into_bytes();
                if canonical_bytes(&head).map_err(malformed)? != head_bytes {
                    return Err(ReceiptError::NotCanonical);
                }
                if head.v != GROUP_RECEIPT_FORMAT {
                    return Err(ReceiptError::UnsupportedVersion(head.v));
                }
                if head.tree_size == 0 || head.tree_size > MAX_TREE_SIZE {
                    return Err(ReceiptError::Malformed(format!(
                        "树的大小 {} 不在 1…{MAX_TREE_SIZE} 之内",
                        head.tree_size
                    )));
                }
                if wire.index >= head.tree_size {
                    return Err(ReceiptError::Malformed(format!(
                        "叶子位置 {} 超出树的大小 {}",
                        wire.index, head.tree_size
                    )));
                }
                let root = hash_from_hex(&head.root)?;
                let mut proof = Vec::with_capacity(wire.proof.len() * 32);
                for h in &wire.proof {
                    proof.extend_from_slice(&hash_from_hex(h)?);
                }
                let leaf_bytes = canonical_bytes(&wire.leaf).map_err(malformed)?;
                Ok(SignedReceipt {
                    body: body_of(&head, &wire.leaf),
                    bytes,
                    signature,
                    tree: Some(Inclusion {
                        head_bytes,
                        head,
                        root,
                        leaf_bytes,
                        index: wire.index,
                        proof,
                    }),
                })
            }
            v => Err(ReceiptError::UnsupportedVersion(v)),
        }
    }

    /// Checks the hub's signature with `hub_key`, for format 2 the leaf's
    /// inclusion in the signed tree, and that the receipt is the one of
    /// `event` (same id, same SM3, same case).
    pub fn verify(&self, hub_key: &PublicKey, event: &SignedEvent) -> Result<(), ReceiptError> {
        if hub_key.fingerprint() != self.body.hub_key {
            return Err(ReceiptError::KeyMismatch);
        }
        match &self.tree {
            None => hub_key.verify(&self.bytes, &self.signature)?,
            Some(t) => {
                hub_key.verify(&t.head_bytes, &self.signature)?;
                if t.head.received_at != self.body.received_at {
                    return Err(ReceiptError::BadProof("叶子与树根的时间不一致".into()));
                }
                let root = RootHash::<Sm3>::new(digest_of(&t.root)?, t.head.tree_size);
                let proof = InclusionProof::<Sm3>::try_from_bytes(t.proof.clone())
                    .map_err(|e| ReceiptError::BadProof(e.to_string()))?;
                root.verify_inclusion(&t.leaf_bytes, t.index, &proof)
                    .map_err(|e| ReceiptError::BadProof(e.to_string()))?;
            }
        }
        if self.body.event_id != event.event.id
            || self.body.case_id != event.event.case_id
            || self.body.event_hash != event.hash_hex()
        {
            return Err(ReceiptError::WrongEvent);
        }
        Ok(())
    }

    /// The receipt's exact bytes (format 1: the signed bytes; format 2:
    /// head, leaf and proof).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The DER signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The exact bytes the signature covers: format 1 the receipt itself,
    /// format 2 the tree head.
    pub fn signed_bytes(&self) -> &[u8] {
        match &self.tree {
            None => &self.bytes,
            Some(t) => &t.head_bytes,
        }
    }

    /// The signed tree head (format 2).
    pub fn head(&self) -> Option<&TreeHead> {
        self.tree.as_ref().map(|t| &t.head)
    }
}

fn body_of(head: &TreeHead, leaf: &ReceiptLeaf) -> ReceiptBody {
    ReceiptBody {
        v: GROUP_RECEIPT_FORMAT,
        hub_key: head.hub_key.clone(),
        event_id: leaf.event_id,
        event_hash: leaf.event_hash.clone(),
        case_id: leaf.case_id,
        gseq: leaf.gseq,
        received_at: leaf.received_at,
    }
}

fn malformed(e: EventError) -> ReceiptError {
    ReceiptError::Malformed(e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::crypto::SoftwareKey;
    use crate::tests::{hukou_form, World};
    use time::macros::datetime;

    fn world_and_hub() -> (World, SoftwareKey) {
        let mut w = World::new();
        let officer = w.holder("方祥派出所", "户籍民警");
        w.create_hukou("方祥派出所", &officer, hukou_form())
            .unwrap();
        let hub = SoftwareKey::generate(&mut w.rng).unwrap();
        (w, hub)
    }

    #[test]
    fn a_receipt_verifies_for_its_event_only() {
        let (w, hub) = world_and_hub();
        let ev = &w.log[0];
        let at = datetime!(2026-11-20 09:07:30.125 +8);
        let body = ReceiptBody::for_event(ev, 42, at, &hub.public_key().fingerprint());
        assert_eq!(body.received_at.offset(), time::UtcOffset::UTC);
        let r = SignedReceipt::sign(body, &hub).unwrap();
        let text = std::str::from_utf8(r.bytes()).unwrap();
        assert!(
            text.contains("\"received_at\":\"2026-11-20T01:07:30.125Z\""),
            "{text}"
        );
        assert!(text.contains("\"gseq\":42"), "{text}");
        let back = SignedReceipt::from_parts(r.bytes().to_vec(), r.signature().to_vec()).unwrap();
        assert_eq!(back, r);
        back.verify(hub.public_key(), ev).unwrap();
        assert_eq!(back.body.received_at, at);

        // Another key, a changed byte, another event: each refused.
        let mut rng = crate::tests::TestRng(7);
        let other = SoftwareKey::generate(&mut rng).unwrap();
        assert_eq!(
            back.verify(other.public_key(), ev),
            Err(ReceiptError::KeyMismatch)
        );
        let mut bytes = r.bytes().to_vec();
        let i = text.find("2026-11-20T01").unwrap() + 12;
        bytes[i] = b'0';
        let forged = SignedReceipt::from_parts(bytes, r.signature().to_vec()).unwrap();
        assert!(matches!(
            forged.verify(hub.public_key(), ev),
            Err(ReceiptError::Crypto(_))
        ));
        let mut w2 = World::new();
        let officer = w2.holder("西江派出所", "户籍民警");
        w2.create_hukou("西江派出所", &officer, hukou_form())
            .unwrap();
        assert_eq!(
            back.verify(hub.public_key(), &w2.log[0]),
            Err(ReceiptError::WrongEvent)
        );
        // Not canonical (a space added) is refused before any signature check.
        let mut spaced = r.bytes().to_vec();
        spaced.insert(1, b' ');
        assert_eq!(
            SignedReceipt::from_parts(spaced, r.signature().to_vec()),
            Err(ReceiptError::NotCanonical)
        );
    }

    /// `n` signed events of `n` different cases.
    fn events(n: usize) -> Vec<SignedEvent> {
        let mut rng = crate::tests::TestRng(9);
        let key = SoftwareKey::generate(&mut rng).unwrap();
        (0..n)
            .map(|i| {
                let ev = crate::event::Event::new(
                    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_1000 + i as u128),
                    0,
                    None,
                    "052638",
                    "dev",
                    &key.public_key().fingerprint(),
                    datetime!(2026-11-20 09:00 +8),
                    [i as u8; 10],
                    crate::event::Action::Submit {},
                );
                SignedEvent::sign(ev, &key).unwrap()
            })
            .collect()
    }

    /// RFC 6962 §2.1 Merkle Tree Hash, written out for the test only.
    fn mth(leaves: &[Vec<u8>]) -> [u8; 32] {
        use sm3::Digest as _;
        match leaves.len() {
            0 => Sm3::digest([]).into(),
            1 => Sm3::new_with_prefix([0u8])
                .chain_update(&leaves[0])
                .finalize()
                .into(),
            n => {
                let k = n.next_power_of_two() / 2;
                Sm3::new_with_prefix([1u8])
                    .chain_update(mth(&leaves[..k]))
                    .chain_update(mth(&leaves[k..]))
                    .finalize()
                    .into()
            }
        }
    }

    #[test]
    fn one_signature_covers_a_commit_and_each_receipt_proves_its_own_event() {
        let (_, hub) = world_and_hub();
        let at = datetime!(2026-11-20 09:07:30.125 +8);
        for n in [1usize, 2, 3, 7, 8, 13] {
            let evs = events(n);
            let accepted: Vec<(&SignedEvent, i64)> = evs
                .iter()
                .enumerate()
                .map(|(i, e)| (e, 100 + i as i64))
                .collect();
            let rs = SignedReceipt::sign_group(&accepted, at, &hub).unwrap();
            assert_eq!(rs.len(), n);
            // One signature for the whole commit.
            assert!(rs.iter().all(|r| r.signature() == rs[0].signature()));
            // The root is RFC 6962's Merkle Tree Hash of the leaves (SM3).
            let leaves: Vec<Vec<u8>> = accepted
                .iter()
                .map(|(e, g)| canonical_bytes(&ReceiptLeaf::for_event(e, *g, at)).unwrap())
                .collect();
            let head = rs[0].head().unwrap();
            assert_eq!(head.root, hex::encode(mth(&leaves)), "n = {n}");
            assert_eq!(head.tree_size, n as u64);
            for (i, r) in rs.iter().enumerate() {
                let back =
                    SignedReceipt::from_parts(r.bytes().to_vec(), r.signature().to_vec()).unwrap();
                assert_eq!(&back, r);
                back.verify(hub.public_key(), &evs[i]).unwrap();
                assert_eq!(back.body.gseq, 100 + i as i64);
                assert_eq!(back.body.received_at, at);
                assert_eq!(back.body.v, GROUP_RECEIPT_FORMAT);
                // The signed bytes are the head, as a verifier extracts it.
                let wire: serde_json::Value = serde_json::from_slice(r.bytes()).unwrap();
                assert_eq!(wire["head"].as_str().unwrap().as_bytes(), r.signed_bytes());
                hub.public_key()
                    .verify(r.signed_bytes(), r.signature())
                    .unwrap();
                // Nothing of the other events shows.
                let text = std::str::from_utf8(r.bytes()).unwrap();
                for (j, other) in evs.iter().enumerate() {
                    if j != i {
                        assert!(!text.contains(&other.event.id.to_string()), "{text}");
                        assert!(!text.contains(&other.hash_hex()), "{text}");
                        assert!(!text.contains(&other.event.case_id.to_string()), "{text}");
                    }
                }
                // Another event's receipt does not fit this event.
                if n > 1 {
                    assert_eq!(
                        rs[(i + 1) % n].verify(hub.public_key(), &evs[i]),
                        Err(ReceiptError::WrongEvent)
                    );
                }
            }
        }
    }

    /// `r`'s bytes with `f` applied to its JSON, re-encoded canonically.
    fn edited(r: &SignedReceipt, f: impl FnOnce(&mut serde_json::Value)) -> SignedReceipt {
        let mut v: serde_json::Value = serde_json::from_slice(r.bytes()).unwrap();
        f(&mut v);
        SignedReceipt::from_parts(canonical_bytes(&v).unwrap(), r.signature().to_vec()).unwrap()
    }

    #[test]
    fn a_group_receipt_with_anything_changed_is_refused() {
        let (_, hub) = world_and_hub();
        let at = datetime!(2026-11-20 09:07:30.125 +8);
        let evs = events(5);
        let accepted: Vec<(&SignedEvent, i64)> = evs
            .iter()
            .enumerate()
            .map(|(i, e)| (e, i as i64 + 1))
            .collect();
        let rs = SignedReceipt::sign_group(&accepted, at, &hub).unwrap();
        let r = &rs[2];
        let ev = &evs[2];
        r.verify(hub.public_key(), ev).unwrap();
        // Another gseq or time in the leaf: the proof no longer reaches
        // the signed root.
        let gseq = edited(r, |v| v["leaf"]["gseq"] = 99.into());
        assert!(matches!(
            gseq.verify(hub.public_key(), ev),
            Err(ReceiptError::BadProof(_))
        ));
        let moved = edited(r, |v| v["index"] = 3.into());
        assert!(matches!(
            moved.verify(hub.public_key(), ev),
            Err(ReceiptError::BadProof(_))
        ));
        let proof = edited(r, |v| v["proof"][0] = hex::encode([7u8; 32]).into());
        assert!(matches!(
            proof.verify(hub.public_key(), ev),
            Err(ReceiptError::BadProof(_))
        ));
        let short = edited(r, |v| {
            v["proof"].as_array_mut().unwrap().pop();
        });
        assert!(matches!(
            short.verify(hub.public_key(), ev),
            Err(ReceiptError::BadProof(_))
        ));
        let later = edited(r, |v| {
            v["leaf"]["received_at"] = "2026-11-20T01:07:31.125Z".into()
        });
        assert!(matches!(
            later.verify(hub.public_key(), ev),
            Err(ReceiptError::BadProof(_))
        ));
        // A changed head breaks the signature.
        let head = r.head().unwrap();
        let bigger = TreeHead {
            tree_size: 6,
            ..head.clone()
        };
        let forged = edited(r, |v| {
            v["head"] = String::from_utf8(canonical_bytes(&bigger).unwrap())
                .unwrap()
                .into()
        });
        assert!(matches!(
            forged.verify(hub.public_key(), ev),
            Err(ReceiptError::Crypto(_))
        ));
        // Malformed: index past the tree, absurd sizes, upper-case hex,
        // a head that is not canonical.
        let mut v: serde_json::Value = serde_json::from_slice(r.bytes()).unwrap();
        v["index"] = 5.into();
        assert!(matches!(
            SignedReceipt::from_parts(canonical_bytes(&v).unwrap(), vec![]),
            Err(ReceiptError::Malformed(_))
        ));
        let huge = TreeHead {
            tree_size: u64::MAX,
            ..head.clone()
        };
        let mut v: serde_json::Value = serde_json::from_slice(r.bytes()).unwrap();
        v["head"] = String::from_utf8(canonical_bytes(&huge).unwrap())
            .unwrap()
            .into();
        assert!(matches!(
            SignedReceipt::from_parts(canonical_bytes(&v).unwrap(), vec![]),
            Err(ReceiptError::Malformed(_))
        ));
        let mut v: serde_json::Value = serde_json::from_slice(r.bytes()).unwrap();
        v["proof"][0] = v["proof"][0].as_str().unwrap().to_uppercase().into();
        assert_eq!(
            SignedReceipt::from_parts(canonical_bytes(&v).unwrap(), vec![]),
            Err(ReceiptError::NotCanonical)
        );
        let mut v: serde_json::Value = serde_json::from_slice(r.bytes()).unwrap();
        v["head"] = format!(" {}", v["head"].as_str().unwrap()).into();
        assert_eq!(
            SignedReceipt::from_parts(canonical_bytes(&v).unwrap(), vec![]),
            Err(ReceiptError::NotCanonical)
        );
        let mut v: serde_json::Value = serde_json::from_slice(r.bytes()).unwrap();
        v["v"] = 3.into();
        assert_eq!(
            SignedReceipt::from_parts(canonical_bytes(&v).unwrap(), vec![]),
            Err(ReceiptError::UnsupportedVersion(3))
        );
        // Another hub key.
        let mut rng = crate::tests::TestRng(7);
        let other = SoftwareKey::generate(&mut rng).unwrap();
        assert_eq!(
            r.verify(other.public_key(), ev),
            Err(ReceiptError::KeyMismatch)
        );
    }

    #[test]
    fn format_one_receipts_kept_by_stations_still_verify() {
        // Bytes as the hub made them before group commit (format 1).
        let (w, hub) = world_and_hub();
        let ev = &w.log[0];
        let at = datetime!(2026-11-20 09:07:30.125 +8);
        let body = ReceiptBody::for_event(ev, 7, at, &hub.public_key().fingerprint());
        let old = SignedReceipt::sign(body, &hub).unwrap();
        let back =
            SignedReceipt::from_parts(old.bytes().to_vec(), old.signature().to_vec()).unwrap();
        back.verify(hub.public_key(), ev).unwrap();
        assert_eq!(back.body.v, RECEIPT_FORMAT);
        assert_eq!(back.signed_bytes(), old.bytes());
        assert!(back.head().is_none());
        // A format-2 body cannot be signed as format 1.
        let mut body = ReceiptBody::for_event(ev, 7, at, &hub.public_key().fingerprint());
        body.v = GROUP_RECEIPT_FORMAT;
        assert_eq!(
            SignedReceipt::sign(body, &hub),
            Err(ReceiptError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn signing_needs_the_named_key() {
        let (w, hub) = world_and_hub();
        let body = ReceiptBody::for_event(&w.log[0], 1, w.clock, "not-the-hub");
        assert_eq!(
            SignedReceipt::sign(body, &hub),
            Err(ReceiptError::KeyMismatch)
        );
    }
}
