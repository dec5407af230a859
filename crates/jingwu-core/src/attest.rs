//! The offline-verifiable payload printed as a QR code on a result slip.
//!
//! A slip must prove, with no network, that the decisions on it were made
//! and signed by the approvers. SM2 verification needs the exact signed
//! message, so the payload carries every field of each decision event that
//! cannot be recomputed; the verifier rebuilds the event, re-canonicalises
//! it (RFC 8785), and checks the SM2 signature with the author's public
//! key named by the fingerprint in the payload, taken from the keys the
//! verifier already holds (never from the slip itself).
//!
//! Wire format `JW1:` + Base45 (RFC 9285, QR alphanumeric mode) of:
//!
//! ```text
//! u8      format (1)
//! [16]    case id (UUID)
//! str     case number (受理编号), signed in every decision
//! str     summary of the change, signed in every decision
//! u8      result: 1 同意, 2 不同意
//! [32]    SM3 of the last decision event (the slip's "final hash")
//! u8      number of decisions n (1..=16)
//! n ×     decision:
//!   u8      flags: bit0 = prev given (else prev = hash of the previous
//!           decision in this payload), bit1 = device is a UUID (16 bytes)
//!   [32]?   prev
//!   [16]    event id
//!   varint  seq
//!   str     author
//!   [16]|str device
//!   [32]    SM3 fingerprint of the signing key
//!   i64     unix seconds, u32 nanoseconds, i32 UTC offset seconds
//!   str     step id
//!   u8      decision: 1 同意, 2 不同意, 3 退回补正
//!   str     opinion
//!   [64]    SM2 signature r‖s
//! ```
//!
//! `str` is a varint length followed by UTF-8 bytes. Every multi-byte
//! integer is big-endian.

use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::crypto::PublicKey;
use crate::event::{Action, Decision, Event, SignedEvent, EVENT_FORMAT};

/// The text prefix of a slip payload.
pub const PREFIX: &str = "JW1:";
const FORMAT: u8 = 1;
const MAX_DECISIONS: usize = 16;

/// The result a slip reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlipResult {
    Approved,
    Rejected,
}

/// One decision as carried in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipDecision {
    pub prev: [u8; 32],
    pub id: Uuid,
    pub seq: u64,
    pub author: String,
    pub device: String,
    /// SM3 fingerprint of the signing key.
    pub key: [u8; 32],
    pub time: OffsetDateTime,
    pub step: String,
    pub decision: Decision,
    pub opinion: String,
    /// r‖s, 64 bytes.
    pub signature: Vec<u8>,
}

/// The decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipPayload {
    pub case_id: Uuid,
    pub case_no: String,
    /// What the approvers signed they saw (变动人、项目、变更前后).
    pub summary: String,
    pub result: SlipResult,
    pub final_hash: [u8; 32],
    pub decisions: Vec<SlipDecision>,
}

/// Why a payload could not be made, read or verified. Shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    #[error("二维码内容不是警务协同通知单（缺少 JW1: 前缀）")]
    NotASlip,
    #[error("二维码内容已损坏：{0}")]
    Malformed(String),
    #[error("案件尚无审批结论，不能生成通知单")]
    NoDecision,
    #[error("审批记录过多（{0} 条），超出二维码容量")]
    TooMany(usize),
    #[error("第 {index} 条审批记录（{author}）的签名无法用其登记的公钥验证")]
    BadSignature { index: usize, author: String },
    #[error("找不到审批人 {0} 的公钥")]
    UnknownSigner(String),
    #[error("第 {0} 条审批记录与前一条不衔接，审批链被改动")]
    BrokenChain(usize),
    #[error("通知单记载的最终哈希与审批记录不符")]
    FinalHashMismatch,
    #[error("通知单记载的结论与最后一条审批意见不符")]
    ResultMismatch,
}

impl SlipPayload {
    /// Builds the payload from a decided case's signed decision events (in
    /// log order). The last one must decide the case.
    pub fn from_decisions(decisions: &[&SignedEvent]) -> Result<SlipPayload, AttestError> {
        let Some(last) = decisions.last() else {
            return Err(AttestError::NoDecision);
        };
        if decisions.len() > MAX_DECISIONS {
            return Err(AttestError::TooMany(decisions.len()));
        }
        let mut out = Vec::new();
        let mut signed: Option<(String, String)> = None;
        for se in decisions {
            let e = &se.event;
            let Action::Decide {
                step,
                decision,
                opinion,
                case_no,
                summary,
            } = &e.action
            else {
                return Err(AttestError::Malformed("不是审批事件".into()));
            };
            match &signed {
                None => signed = Some((case_no.clone(), summary.clone())),
                Some((n, s)) if n == case_no && s == summary => {}
                Some(_) => {
                    return Err(AttestError::Malformed(
                        "各环节审批所签的编号或摘要不一致".into(),
                    ));
                }
            }
            let prev = e
                .prev
                .as_deref()
                .and_then(|p| hex::decode(p).ok())
                .and_then(|p| <[u8; 32]>::try_from(p).ok())
                .ok_or_else(|| AttestError::Malformed("审批事件缺少前一事件哈希".into()))?;
            let key = hex::decode(&e.key)
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or_else(|| AttestError::Malformed("密钥指纹无效".into()))?;
            let sig = sm2::dsa::Signature::from_der(se.signature())
                .map_err(|_| AttestError::Malformed("签名不是 DER 编码".into()))?;
            out.push(SlipDecision {
                prev,
                id: e.id,
                seq: e.seq,
                author: e.author.clone(),
                device: e.device.clone(),
                key,
                time: e.time,
                step: step.clone(),
                decision: *decision,
                opinion: opinion.clone(),
                signature: sig.to_bytes().to_vec(),
            });
        }
        let result = match out.last().map(|d| d.decision) {
            Some(Decision::Agree) => SlipResult::Approved,
            Some(Decision::Disagree) => SlipResult::Rejected,
            _ => return Err(AttestError::NoDecision),
        };
        let (case_no, summary) = signed.unwrap_or_default();
        Ok(SlipPayload {
            case_id: last.event.case_id,
            case_no,
            summary,
            result,
            final_hash: last.hash(),
            decisions: out,
        })
    }

    /// The QR text: `JW1:` + Base45 of the binary form.
    pub fn encode(&self) -> String {
        let mut b = Vec::with_capacity(600);
        b.push(FORMAT);
        b.extend_from_slice(self.case_id.as_bytes());
        put_str(&mut b, &self.case_no);
        put_str(&mut b, &self.summary);
        b.push(match self.result {
            SlipResult::Approved => 1,
            SlipResult::Rejected => 2,
        });
        b.extend_from_slice(&self.final_hash);
        b.push(self.decisions.len() as u8);
        let mut prev_hash: Option<[u8; 32]> = None;
        for d in &self.decisions {
            let implicit = prev_hash == Some(d.prev);
            let device_uuid = Uuid::parse_str(&d.device)
                .ok()
                .filter(|u| u.hyphenated().to_string() == d.device);
            let flags = u8::from(!implicit) | (u8::from(device_uuid.is_some()) << 1);
            b.push(flags);
            if !implicit {
                b.extend_from_slice(&d.prev);
            }
            b.extend_from_slice(d.id.as_bytes());
            put_varint(&mut b, d.seq);
            put_str(&mut b, &d.author);
            match device_uuid {
                Some(u) => b.extend_from_slice(u.as_bytes()),
                None => put_str(&mut b, &d.device),
            }
            b.extend_from_slice(&d.key);
            b.extend_from_slice(&d.time.unix_timestamp().to_be_bytes());
            b.extend_from_slice(&d.time.nanosecond().to_be_bytes());
            b.extend_from_slice(&d.time.offset().whole_seconds().to_be_bytes());
            put_str(&mut b, &d.step);
            b.push(match d.decision {
                Decision::Agree => 1,
                Decision::Disagree => 2,
                Decision::Return => 3,
            });
            put_str(&mut b, &d.opinion);
            b.extend_from_slice(&d.signature);
            // The next decision's prev is implicit when it is this one's hash.
            prev_hash = rebuild(self, d)
                .ok()
                .map(|bytes| crate::crypto::sm3(&bytes));
        }
        format!("{PREFIX}{}", base45::encode(&b))
    }

    /// Parses QR text. Only the structure is checked here; call
    /// [`SlipPayload::verify`] for the signatures.
    pub fn decode(text: &str) -> Result<SlipPayload, AttestError> {
        let body = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(AttestError::NotASlip)?;
        let bytes =
            base45::decode(body).map_err(|_| AttestError::Malformed("Base45 解码失败".into()))?;
        let mut r = Reader { b: &bytes, pos: 0 };
        if r.u8()? != FORMAT {
            return Err(AttestError::Malformed("不支持的格式版本".into()));
        }
        let case_id = Uuid::from_bytes(r.array::<16>()?);
        let case_no = r.str()?;
        let summary = r.str()?;
        let result = match r.u8()? {
            1 => SlipResult::Approved,
            2 => SlipResult::Rejected,
            _ => return Err(AttestError::Malformed("结论代码无效".into())),
        };
        let final_hash = r.array::<32>()?;
        let n = r.u8()? as usize;
        if n == 0 || n > MAX_DECISIONS {
            return Err(AttestError::Malformed("审批记录条数无效".into()));
        }
        let mut decisions: Vec<SlipDecision> = Vec::with_capacity(n);
        for _ in 0..n {
            let flags = r.u8()?;
            if flags & !0b11 != 0 {
                return Err(AttestError::Malformed("标志位无效".into()));
            }
            let prev = if flags & 1 == 1 {
                r.array::<32>()?
            } else {
                // Implicit: the hash of the previous decision.
                let Some(p) = decisions.last() else {
                    return Err(AttestError::Malformed(
                        "首条审批记录缺少前一事件哈希".into(),
                    ));
                };
                crate::crypto::sm3(&rebuild_parts(case_id, &case_no, &summary, p)?)
            };
            let id = Uuid::from_bytes(r.array::<16>()?);
            let seq = r.varint()?;
            let author = r.str()?;
            let device = if flags & 2 == 2 {
                Uuid::from_bytes(r.array::<16>()?).hyphenated().to_string()
            } else {
                r.str()?
            };
            let key = r.array::<32>()?;
            let secs = i64::from_be_bytes(r.array::<8>()?);
            let nanos = u32::from_be_bytes(r.array::<4>()?);
            let offset = i32::from_be_bytes(r.array::<4>()?);
            let bad_time = || AttestError::Malformed("时间无效".into());
            let offset = UtcOffset::from_whole_seconds(offset).map_err(|_| bad_time())?;
            let time = OffsetDateTime::from_unix_timestamp(secs)
                .map_err(|_| bad_time())?
                .replace_nanosecond(nanos)
                .map_err(|_| bad_time())?
                .to_offset(offset);
            let step = r.str()?;
            let decision = match r.u8()? {
                1 => Decision::Agree,
                2 => Decision::Disagree,
                3 => Decision::Return,
                _ => return Err(AttestError::Malformed("审批结论代码无效".into())),
            };
            let opinion = r.str()?;
            let signature = r.array::<64>()?.to_vec();
            decisions.push(SlipDecision {
                prev,
                id,
                seq,
                author,
                device,
                key,
                time,
                step,
                decision,
                opinion,
                signature,
            });
        }
        if r.pos != bytes.len() {
            return Err(AttestError::Malformed("二维码末尾有多余数据".into()));
        }
        Ok(SlipPayload {
            case_id,
            case_no,
            summary,
            result,
            final_hash,
            decisions,
        })
    }

    /// Verifies every decision's signature with the key `key_of(author,
    /// fingerprint)` returns (the verifier's own copy of the approvers'
    /// keys), that sequence numbers increase, the final hash, and the
    /// stated result. Returns the hashes of the decisions.
    pub fn verify(
        &self,
        key_of: impl Fn(&str, &str) -> Option<PublicKey>,
    ) -> Result<Vec<[u8; 32]>, AttestError> {
        let mut hashes: Vec<[u8; 32]> = Vec::new();
        let mut last_seq = None;
        for (i, d) in self.decisions.iter().enumerate() {
            if last_seq.is_some_and(|s| d.seq <= s) {
                return Err(AttestError::BrokenChain(i + 1));
            }
            last_seq = Some(d.seq);
            let fp = hex::encode(d.key);
            let key = key_of(&d.author, &fp)
                .ok_or_else(|| AttestError::UnknownSigner(d.author.clone()))?;
            if key.fingerprint() != fp {
                return Err(AttestError::UnknownSigner(d.author.clone()));
            }
            let sig = sm2::dsa::Signature::from_slice(&d.signature)
                .map_err(|_| AttestError::Malformed("签名格式错误".into()))?;
            let bytes = rebuild(self, d)?;
            if key.verify(&bytes, sig.to_der().as_bytes()).is_err() {
                return Err(AttestError::BadSignature {
                    index: i + 1,
                    author: d.author.clone(),
                });
            }
            hashes.push(crate::crypto::sm3(&bytes));
        }
        if hashes.last() != Some(&self.final_hash) {
            return Err(AttestError::FinalHashMismatch);
        }
        let stated = match self.result {
            SlipResult::Approved => Decision::Agree,
            SlipResult::Rejected => Decision::Disagree,
        };
        if self.decisions.last().map(|d| d.decision) != Some(stated) {
            return Err(AttestError::ResultMismatch);
        }
        Ok(hashes)
    }
}

/// Rebuilds a decision event's exact signed bytes.
fn rebuild(p: &SlipPayload, d: &SlipDecision) -> Result<Vec<u8>, AttestError> {
    rebuild_parts(p.case_id, &p.case_no, &p.summary, d)
}

fn rebuild_parts(
    case_id: Uuid,
    case_no: &str,
    summary: &str,
    d: &SlipDecision,
) -> Result<Vec<u8>, AttestError> {
    let ev = Event {
        v: EVENT_FORMAT,
        id: d.id,
        case_id,
        seq: d.seq,
        prev: Some(hex::encode(d.prev)),
        author: d.author.clone(),
        device: d.device.clone(),
        key: hex::encode(d.key),
        time: d.time,
        action: Action::Decide {
            step: d.step.clone(),
            decision: d.decision,
            opinion: d.opinion.clone(),
            case_no: case_no.to_string(),
            summary: summary.to_string(),
        },
    };
    ev.canonical_bytes()
        .map_err(|e| AttestError::Malformed(e.to_string()))
}

fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            b.push(byte);
            return;
        }
        b.push(byte | 0x80);
    }
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_varint(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], AttestError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len());
        let Some(end) = end else {
            return Err(AttestError::Malformed("数据不完整".into()));
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, AttestError> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], AttestError> {
        let s = self.take(N)?;
        <[u8; N]>::try_from(s).map_err(|_| AttestError::Malformed("数据不完整".into()))
    }
    fn varint(&mut self) -> Result<u64, AttestError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(AttestError::Malformed("整数编码过长".into()))
    }
    fn str(&mut self) -> Result<String, AttestError> {
        let n = self.varint()?;
        if n > 4096 {
            return Err(AttestError::Malformed("字符串过长".into()));
        }
        let s = self.take(n as usize)?;
        String::from_utf8(s.to_vec()).map_err(|_| AttestError::Malformed("文字编码错误".into()))
    }
}
