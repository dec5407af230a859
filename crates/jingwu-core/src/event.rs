//! Case events: the signed, hash-chained entries of a case's log.
//!
//! An event's **signed bytes** are the RFC 8785 (JCS) canonical JSON of the
//! event without its signature. Its **hash** is SM3 over those bytes; the
//! next event of the case carries it as `prev`. The **signature** is SM2
//! (default distinguishing ID) over the same bytes, DER-encoded — exactly
//! what `openssl pkeyutl -verify -rawin -digest sm3` checks.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::{self, CryptoError, PublicKey, Signer};
use crate::form::{AttachmentRef, CaseType, FormValues, TemplateRef};
use crate::workflow::WorkflowRef;

/// The event format version written into every event.
pub const EVENT_FORMAT: u32 = 1;

/// A decision at an approval step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// 同意
    Agree,
    /// 不同意
    Disagree,
    /// 退回补正
    Return,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::Agree => "同意",
            Decision::Disagree => "不同意",
            Decision::Return => "退回补正",
        }
    }
}

/// A decision's text that names none (see [`Decision`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("审批意见应为 agree（同意）、disagree（不同意）或 return（退回补正），不是“{0}”")]
pub struct UnknownDecision(pub String);

/// A decision from text: its wire name (`agree`, `disagree`, `return`,
/// as the UI and the event's JSON spell it) or its Chinese label (`同意`,
/// `不同意`, `退回补正`, also `退回`).
impl std::str::FromStr for Decision {
    type Err = UnknownDecision;

    fn from_str(s: &str) -> Result<Decision, UnknownDecision> {
        match s {
            "agree" | "同意" => Ok(Decision::Agree),
            "disagree" | "不同意" => Ok(Decision::Disagree),
            "return" | "退回" | "退回补正" => Ok(Decision::Return),
            other => Err(UnknownDecision(other.to_string())),
        }
    }
}

/// What an event does. Serialised as `{"kind": …, "payload": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum Action {
    /// Opens a case. The first event of every case.
    Create {
        case_type: CaseType,
        template: TemplateRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workflow: Option<WorkflowRef>,
        /// 受理编号 / 接警单编号, unique by construction (see [`crate::caseno`]).
        case_no: String,
        /// The unit that registers the case (a station, or the 110 desk).
        unit: String,
        form: FormValues,
        /// The published registry version the case is decided with for its
        /// whole life (absent: not published, e.g. the demo).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        registry: Option<u32>,
    },
    /// 110: a historical record imported from an earlier system, the
    /// first and only event of its case, signed by the importing officer
    /// at a desk (see [`crate::import`]).
    ImportIncident {
        template: TemplateRef,
        /// The old system's 接警单编号.
        case_no: String,
        /// The importing desk.
        unit: String,
        /// The intake (报警时间, 报警方式, 报警人, 联系电话, 案发地点,
        /// 乡镇, 报警类别, 警情级别, 报警内容).
        form: FormValues,
        record: crate::import::ImportedRecord,
    },
    /// Changes form fields (drafting, correcting after a return).
    UpdateForm { changes: FormValues },
    /// Adds an attachment to an attachments field.
    Attach {
        field: String,
        attachment: AttachmentRef,
    },
    /// Removes an attachment (by SM3) from an attachments field.
    Detach { field: String, sm3: String },
    /// Puts the attachments of a field in a new order (scanned pages
    /// reordered by hand): `order` lists every SM3 of the field exactly
    /// once.
    ArrangeAttachments { field: String, order: Vec<String> },
    /// Sends the case into its approval chain (also after a return or a
    /// withdrawal).
    Submit {},
    /// A decision at the current step. The approver signs the case number
    /// and a summary of the change they saw (see
    /// [`crate::case::CaseState::summary`]), so a printed slip binds them.
    Decide {
        step: String,
        decision: Decision,
        opinion: String,
        case_no: String,
        summary: String,
    },
    /// 撤回: the sender takes back the last send while the next step is
    /// untouched.
    Withdraw { reason: String },
    /// The initiator abandons a case that is not under review.
    Cancel { reason: String },
    /// 落实: the approved change was carried out at the station.
    Implement { note: String },
    /// 告知申请人: the applicant was told the result.
    InformApplicant {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        channel: String,
        note: String,
    },
    /// 110: the desk dispatches the incident to a handling unit (派警).
    /// An incident may be dispatched to several units, each with its own
    /// dispatch (一警多处).
    Dispatch {
        unit: String,
        opinion: String,
        /// When it happened, if recorded afterwards (else the event's
        /// time); kept when a set-aside step is signed again.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        at: Option<OffsetDateTime>,
    },
    /// 110: the handling unit refuses its dispatch (退单), before it sets
    /// out; the desk dispatches again.
    RejectDispatch {
        reason: String,
        /// Which dispatch, by unit code: needed only when the author
        /// belongs to more than one dispatched unit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        /// When it happened, if recorded afterwards (else the event's
        /// time); kept when a set-aside step is signed again.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        at: Option<OffsetDateTime>,
    },
    /// 110: the handling unit acknowledges (签收) at the event's time.
    Acknowledge {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        /// When it happened, if recorded afterwards (else the event's
        /// time); kept when a set-aside step is signed again.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        at: Option<OffsetDateTime>,
    },
    /// 110: officers set out (出警).
    Depart {
        officers: Vec<String>,
        #[serde(default)]
        vehicles: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        /// When they set out, if recorded afterwards (else the event's
        /// time).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        at: Option<OffsetDateTime>,
    },
    /// 110: officers reached the scene (到达现场).
    Arrive {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        /// When they arrived, if recorded afterwards (else the event's
        /// time).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        at: Option<OffsetDateTime>,
    },
    /// 110: the handling unit's report (反馈单); may be amended until the
    /// incident is concluded.
    Feedback {
        changes: FormValues,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
        /// When it happened, if recorded afterwards (else the event's
        /// time); kept when a set-aside step is signed again.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        at: Option<OffsetDateTime>,
    },
    /// 110: handling is finished (终结); the record is filed at the 110
    /// brigade at once (归档), with no further step.
    Conclude {},
    /// 110: filed at the 110 brigade (归档).
    Archive {},
}

impl Action {
    /// The same 110 step with its `at` set to `t` where it has none: how a
    /// step set aside by a sync (another unit acted on the record first)
    /// is signed again without changing when it happened.
    pub fn keeping_time(mut self, t: OffsetDateTime) -> Action {
        match &mut self {
            Action::Dispatch { at, .. }
            | Action::RejectDispatch { at, .. }
            | Action::Acknowledge { at, .. }
            | Action::Depart { at, .. }
            | Action::Arrive { at, .. }
            | Action::Feedback { at, .. } => {
                at.get_or_insert(t);
            }
            _ => {}
        }
        self
    }

    /// The `kind` string of the action.
    /// The case number of an action that opens a case (`create`, or a
    /// historical record's `import_incident`); `None` for every other.
    pub fn opening_case_no(&self) -> Option<&str> {
        match self {
            Action::Create { case_no, .. } | Action::ImportIncident { case_no, .. } => {
                Some(case_no)
            }
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::ImportIncident { .. } => "import_incident",
            Action::UpdateForm { .. } => "update_form",
            Action::Attach { .. } => "attach",
            Action::Detach { .. } => "detach",
            Action::ArrangeAttachments { .. } => "arrange_attachments",
            Action::Submit {} => "submit",
            Action::Decide { .. } => "decide",
            Action::Withdraw { .. } => "withdraw",
            Action::Cancel { .. } => "cancel",
            Action::Implement { .. } => "implement",
            Action::InformApplicant { .. } => "inform_applicant",
            Action::Dispatch { .. } => "dispatch",
            Action::RejectDispatch { .. } => "reject_dispatch",
            Action::Acknowledge { .. } => "acknowledge",
            Action::Depart { .. } => "depart",
            Action::Arrive { .. } => "arrive",
            Action::Feedback { .. } => "feedback",
            Action::Conclude {} => "conclude",
            Action::Archive {} => "archive",
        }
    }
}

/// An event as signed (everything but the signature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Format version, [`EVENT_FORMAT`].
    pub v: u32,
    /// UUIDv7.
    pub id: Uuid,
    pub case_id: Uuid,
    /// Position in the case's log, from 0.
    pub seq: u64,
    /// SM3 hex of the previous event's signed bytes; `None` for seq 0.
    pub prev: Option<String>,
    /// Person id of the author.
    pub author: String,
    /// The device the author used.
    pub device: String,
    /// Fingerprint of the author's public key that signs this event.
    pub key: String,
    /// The device's clock when the event was made (what the user saw).
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    #[serde(flatten)]
    pub action: Action,
}

/// Why an event could not be made, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("事件格式错误：{0}")]
    Malformed(String),
    #[error("事件不是规范化（RFC 8785）编码，可能被改动过")]
    NotCanonical,
    #[error("不支持的事件格式版本 {0}")]
    UnsupportedVersion(u32),
    #[error("签名公钥与事件记载的公钥指纹不符")]
    KeyMismatch,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The canonical (RFC 8785) bytes of a JSON-serialisable value.
pub fn canonical_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, EventError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| EventError::Malformed(e.to_string()))
}

impl Event {
    /// A new event id: UUIDv7 from the given time and random bits.
    pub fn new_id(time: OffsetDateTime, random: [u8; 10]) -> Uuid {
        let ms = (time.unix_timestamp_nanos() / 1_000_000).clamp(0, u64::MAX as i128) as u64;
        uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
    }

    /// A new event of format [`EVENT_FORMAT`]. `random` feeds the UUIDv7.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        case_id: Uuid,
        seq: u64,
        prev: Option<String>,
        author: &str,
        device: &str,
        key: &str,
        time: OffsetDateTime,
        random: [u8; 10],
        action: Action,
    ) -> Event {
        Event {
            v: EVENT_FORMAT,
            id: Event::new_id(time, random),
            case_id,
            seq,
            prev,
            author: author.to_string(),
            device: device.to_string(),
            key: key.to_string(),
            time,
            action,
        }
    }

    /// The signed bytes.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, EventError> {
        canonical_bytes(self)
    }
}

/// An event with its exact signed bytes, hash and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvent {
    pub event: Event,
    bytes: Vec<u8>,
    hash: [u8; 32],
    signature: Vec<u8>,
}

impl SignedEvent {
    /// Signs `event` with `signer`. The event's `key` must be the signer's
    /// fingerprint.
    pub fn sign(event: Event, signer: &dyn Signer) -> Result<SignedEvent, EventError> {
        if event.key != signer.public_key().fingerprint() {
            return Err(EventError::KeyMismatch);
        }
        let bytes = event.canonical_bytes()?;
        let signature = signer.sign(&bytes)?;
        let hash = crypto::sm3(&bytes);
        Ok(SignedEvent {
            event,
            bytes,
            hash,
            signature,
        })
    }

    /// Rebuilds a signed event from stored or received parts. The bytes
    /// must be canonical JSON of a well-formed event. The signature is NOT
    /// checked here; call [`SignedEvent::verify`].
    pub fn from_parts(bytes: Vec<u8>, signature: Vec<u8>) -> Result<SignedEvent, EventError> {
        let event: Event =
            serde_json::from_slice(&bytes).map_err(|e| EventError::Malformed(e.to_string()))?;
        if event.v != EVENT_FORMAT {
            return Err(EventError::UnsupportedVersion(event.v));
        }
        if event.canonical_bytes()? != bytes {
            return Err(EventError::NotCanonical);
        }
        let hash = crypto::sm3(&bytes);
        Ok(SignedEvent {
            event,
            bytes,
            hash,
            signature,
        })
    }

    /// Checks the signature against `key`, which must be the key the event
    /// names.
    pub fn verify(&self, key: &PublicKey) -> Result<(), EventError> {
        if key.fingerprint() != self.event.key {
            return Err(EventError::KeyMismatch);
        }
        key.verify(&self.bytes, &self.signature)?;
        Ok(())
    }

    /// The exact signed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The DER signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// SM3 of the signed bytes.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// SM3 of the signed bytes, hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// Why a chain of events does not verify; names the first bad event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("第 {index} 个事件（{id}）校验失败：{reason}")]
pub struct ChainError {
    pub index: usize,
    pub id: String,
    pub reason: String,
}

/// Verifies a case's log: every signature against the author's key as
/// returned by `key_of(author, fingerprint)`, consecutive `seq` from 0,
/// each `prev` equal to the previous event's hash, one case id throughout.
pub fn verify_chain<'k>(
    events: &[SignedEvent],
    key_of: impl Fn(&str, &str) -> Option<&'k PublicKey>,
) -> Result<(), ChainError> {
    let mut prev: Option<String> = None;
    let case_id = events.first().map(|e| e.event.case_id);
    for (i, e) in events.iter().enumerate() {
        let fail = |reason: String| ChainError {
            index: i,
            id: e.event.id.to_string(),
            reason,
        };
        if Some(e.event.case_id) != case_id {
            return Err(fail("不属于同一案件".into()));
        }
        if e.event.seq != i as u64 {
            return Err(fail(format!("序号应为 {i}，实际为 {}", e.event.seq)));
        }
        if e.event.prev != prev {
            return Err(fail("前一事件哈希不符，链条断裂".into()));
        }
        let key = key_of(&e.event.author, &e.event.key)
            .ok_or_else(|| fail(format!("找不到签名人 {} 的公钥", e.event.author)))?;
        e.verify(key).map_err(|x| fail(x.to_string()))?;
        prev = Some(e.hash_hex());
    }
    Ok(())
}
