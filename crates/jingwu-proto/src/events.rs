//! Signed events on the wire: push, pull, case logs and the live channel.

use base64::Engine as _;
use jingwu_core::event::SignedEvent;
use jingwu_core::receipt::SignedReceipt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why wire text does not decode to signed bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A part is not base64 (which part, in words).
    #[error("{0}不是有效的 base64")]
    Base64(&'static str),
    /// The bytes are not a well-formed signed event or receipt in
    /// canonical form (the core's reason).
    #[error("{0}")]
    Signed(String),
}

fn decode(text: &str, part: &'static str) -> Result<Vec<u8>, WireError> {
    B64.decode(text.as_bytes())
        .map_err(|_| WireError::Base64(part))
}

/// A signed event on the wire: its exact signed bytes and DER signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireEvent {
    /// The signed bytes (RFC 8785 JSON of the event), base64.
    pub bytes: String,
    /// The SM2 signature (DER), base64.
    pub signature: String,
}

impl WireEvent {
    /// The wire form of a signed event.
    pub fn of(e: &SignedEvent) -> WireEvent {
        WireEvent {
            bytes: B64.encode(e.bytes()),
            signature: B64.encode(e.signature()),
        }
    }

    /// Decodes the signed event (signature not yet checked).
    pub fn signed(&self) -> Result<SignedEvent, WireError> {
        signed_event(&self.bytes, &self.signature)
    }
}

fn signed_event(bytes: &str, signature: &str) -> Result<SignedEvent, WireError> {
    let b = decode(bytes, "事件内容")?;
    let s = decode(signature, "签名")?;
    SignedEvent::from_parts(b, s).map_err(|e| WireError::Signed(e.to_string()))
}

/// The hub's signed receipt of an event (see `jingwu_core::receipt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WireReceipt {
    /// The receipt (RFC 8785 JSON), base64. Format 2 (`"v":2`, made
    /// now): `head`, the signed tree head as a string (format, hub key
    /// fingerprint, number of events committed together, RFC 6962 SM3
    /// Merkle root, the hub's time of acceptance); `leaf` (event id,
    /// event SM3, case id, gseq, the hub's time); `index`; `proof`, the
    /// leaf's inclusion proof (hex SM3 hashes). Format 1 (`"v":1`, older
    /// events): the signed body itself (event id, event SM3, case id,
    /// gseq, the hub's time, the hub key's fingerprint).
    pub bytes: String,
    /// The hub's SM2 signature (DER, default ID), base64: over the tree
    /// head (format 2) or over `bytes` (format 1).
    pub signature: String,
}

impl WireReceipt {
    /// The wire form of a receipt's signed bytes and signature.
    pub fn of_parts(bytes: &[u8], signature: &[u8]) -> WireReceipt {
        WireReceipt {
            bytes: B64.encode(bytes),
            signature: B64.encode(signature),
        }
    }

    /// Decodes the receipt (signature not yet checked).
    pub fn signed(&self) -> Result<SignedReceipt, WireError> {
        let b = decode(&self.bytes, "回执内容")?;
        let s = decode(&self.signature, "回执签名")?;
        SignedReceipt::from_parts(b, s).map_err(|e| WireError::Signed(e.to_string()))
    }
}

/// A stored event as served by pull, case logs and the live channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredEvent {
    /// Global order on the hub; the pull cursor.
    pub gseq: i64,
    pub case_id: Uuid,
    pub seq: i64,
    pub bytes: String,
    pub signature: String,
    /// The hub's receipt; absent for events stored before receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<WireReceipt>,
}

impl StoredEvent {
    /// Decodes the signed event (signature not yet checked).
    pub fn signed(&self) -> Result<SignedEvent, WireError> {
        signed_event(&self.bytes, &self.signature)
    }
}

/// `POST /api/events`: a batch, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub events: Vec<WireEvent>,
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResult {
    /// Per pushed event, in order.
    pub results: Vec<PushedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushedEvent {
    pub id: Uuid,
    pub gseq: Option<i64>,
    /// Already stored before this push (idempotent resend).
    pub duplicate: bool,
}

/// `GET /api/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct PullQuery {
    /// Return events with `gseq` greater than this.
    #[serde(default)]
    pub after: i64,
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub events: Vec<StoredEvent>,
    /// The cursor for the next pull.
    pub next: i64,
    /// Whether more events are waiting.
    pub more: bool,
}

/// `GET /api/live`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct LiveQuery {
    /// Replay events after this cursor first (also `Last-Event-ID`).
    pub after: Option<i64>,
}

/// The names of the live channel's Server-Sent Events.
pub mod live {
    /// `data:` a [`super::StoredEvent`], `id:` its `gseq`.
    pub const EVENT: &str = "event";
    /// Caught up: `data:` the cursor; later events arrive as committed.
    pub const READY: &str = "ready";
    /// The stream ends with its session: `data:` the
    /// [`crate::ErrorBody`] saying why.
    pub const END: &str = "end";
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn bad_base64_names_the_part() {
        let w = WireEvent {
            bytes: "***".into(),
            signature: "AA==".into(),
        };
        assert_eq!(
            w.signed().unwrap_err().to_string(),
            "事件内容不是有效的 base64"
        );
        let w = WireEvent {
            bytes: "AA==".into(),
            signature: "***".into(),
        };
        assert_eq!(w.signed().unwrap_err().to_string(), "签名不是有效的 base64");
        let w = WireEvent {
            bytes: "AA==".into(),
            signature: "AA==".into(),
        };
        assert!(matches!(w.signed(), Err(WireError::Signed(_))));
    }

    /// A stored event without a receipt leaves the field out.
    #[test]
    fn receipt_is_optional() {
        let e = StoredEvent {
            gseq: 1,
            case_id: Uuid::nil(),
            seq: 0,
            bytes: "AA==".into(),
            signature: "AA==".into(),
            receipt: None,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("receipt"), "{json}");
        assert_eq!(serde_json::from_str::<StoredEvent>(&json).unwrap(), e);
    }
}
