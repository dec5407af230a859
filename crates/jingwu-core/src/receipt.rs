//! Hub receipts: the county hub's signed statement of when it accepted an
//! event (like an RFC 3161 time-stamp token, in the project's own format).
//!
//! A device's clock can drift and a signer can lie about time, so the
//! event's own `time` is only what the officer saw. When the hub commits an
//! event it signs a [`ReceiptBody`] — the event's id, its SM3, the case, the
//! global sequence number and the hub's time — with the hub's own SM2 key.
//! The **signed bytes** are the RFC 8785 canonical JSON of the body; the
//! **signature** is SM2 (default distinguishing ID) over those bytes,
//! DER-encoded, so `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt
//! distid:1234567812345678` checks it offline. Seal validity, the slip's
//! printed times and other time rules read [`ReceiptBody::received_at`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::{CryptoError, PublicKey, Signer};
use crate::event::{canonical_bytes, EventError, SignedEvent};

/// The receipt format version written into every receipt.
pub const RECEIPT_FORMAT: u32 = 1;

/// What the hub signs for an accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// Format version, [`RECEIPT_FORMAT`].
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
    #[error("县局回执签名无效：{0}")]
    Crypto(#[from] CryptoError),
}

/// A receipt with its exact signed bytes and the hub's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    pub body: ReceiptBody,
    bytes: Vec<u8>,
    signature: Vec<u8>,
}

impl ReceiptBody {
    /// The receipt of `event`, accepted as `gseq` at `received_at`, to be
    /// signed by the hub key with fingerprint `hub_key`.
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

impl SignedReceipt {
    /// Signs `body` with the hub's key; `body.hub_key` must be its
    /// fingerprint.
    pub fn sign(body: ReceiptBody, signer: &dyn Signer) -> Result<SignedReceipt, ReceiptError> {
        if body.hub_key != signer.public_key().fingerprint() {
            return Err(ReceiptError::KeyMismatch);
        }
        let bytes = canonical_bytes(&body).map_err(malformed)?;
        let signature = signer.sign(&bytes)?;
        Ok(SignedReceipt {
            body,
            bytes,
            signature,
        })
    }

    /// Rebuilds a receipt from stored or received parts; the bytes must
    /// be canonical JSON of a well-formed body. The signature is NOT
    /// checked here: call [`SignedReceipt::verify`].
    pub fn from_parts(bytes: Vec<u8>, signature: Vec<u8>) -> Result<SignedReceipt, ReceiptError> {
        let body: ReceiptBody =
            serde_json::from_slice(&bytes).map_err(|e| ReceiptError::Malformed(e.to_string()))?;
        if body.v != RECEIPT_FORMAT {
            return Err(ReceiptError::UnsupportedVersion(body.v));
        }
        if canonical_bytes(&body).map_err(malformed)? != bytes {
            return Err(ReceiptError::NotCanonical);
        }
        Ok(SignedReceipt {
            body,
            bytes,
            signature,
        })
    }

    /// Checks the hub's signature with `hub_key` and that the receipt is
    /// the one of `event` (same id, same SM3, same case).
    pub fn verify(&self, hub_key: &PublicKey, event: &SignedEvent) -> Result<(), ReceiptError> {
        if hub_key.fingerprint() != self.body.hub_key {
            return Err(ReceiptError::KeyMismatch);
        }
        hub_key.verify(&self.bytes, &self.signature)?;
        if self.body.event_id != event.event.id
            || self.body.case_id != event.event.case_id
            || self.body.event_hash != event.hash_hex()
        {
            return Err(ReceiptError::WrongEvent);
        }
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
