//! The hub's clock is the authority on time: a pushed event's device time
//! is checked against it, and every accepted event gets a receipt — the
//! hub's time of acceptance, signed with the hub's own SM2 key once per
//! commit over a Merkle tree of the commit's events, each receipt with its
//! event's inclusion proof (see `jingwu_core::receipt`) — that stations
//! and auditors check offline.
//!
//! The hub key is made on the first start of a hub on a database and kept
//! in the database's `meta` table (PKCS#8 PEM), so every hub process on one
//! PostgreSQL database signs with the same key. Its public half is served
//! at `GET /api/hub-key`.

use jingwu_core::crypto::{PublicKey, Signer, SoftwareKey};
use jingwu_core::event::SignedEvent;
use jingwu_core::receipt::SignedReceipt;
use jingwu_core::SHANGHAI;
use time::OffsetDateTime;

use crate::db::HubDb;
use crate::error::{ApiError, ErrorCode};

/// The `meta` key holding the hub's receipt key (PKCS#8 PEM).
const META_KEY: &str = "hub_receipt_key";

/// The hub's receipt-signing key.
pub struct HubKey {
    key: SoftwareKey,
}

impl std::fmt::Debug for HubKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HubKey({})", self.key.public_key().fingerprint())
    }
}

impl HubKey {
    /// The database's hub key, made now if it has none. Two processes
    /// starting together agree on the one stored first.
    pub fn load_or_create(db: &dyn HubDb) -> Result<HubKey, ApiError> {
        let pem = match db.meta_get(META_KEY)? {
            Some(pem) => pem,
            None => {
                let fresh = SoftwareKey::generate(&mut getrandom::SysRng)
                    .map_err(|e| ApiError::internal(format!("无法生成县局回执密钥：{e}")))?;
                let pem = fresh
                    .to_pkcs8_pem()
                    .map_err(|e| ApiError::internal(format!("无法保存县局回执密钥：{e}")))?;
                db.meta_init(META_KEY, pem.as_str())?
            }
        };
        let key = SoftwareKey::from_pkcs8_pem(&pem)
            .map_err(|e| ApiError::internal(format!("县局回执密钥已损坏：{e}")))?;
        Ok(HubKey { key })
    }

    /// The public key that verifies receipts.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The receipts of one commit's accepted events `(event, gseq)`, in
    /// commit order: ONE signature over the RFC 6962 tree of their leaves
    /// (see `jingwu_core::receipt`), made inside the write transaction;
    /// returns `(gseq, receipt)` in order.
    pub fn receipts(
        &self,
        accepted: &[(&SignedEvent, i64)],
        received_at: OffsetDateTime,
    ) -> Result<Vec<(i64, SignedReceipt)>, ApiError> {
        let receipts = SignedReceipt::sign_group(accepted, received_at, &self.key)
            .map_err(|e| ApiError::internal(format!("县局回执签名失败：{e}")))?;
        Ok(accepted
            .iter()
            .map(|(_, gseq)| *gseq)
            .zip(receipts)
            .collect())
    }
}

/// The hub's now, to the millisecond (the precision receipts carry).
pub fn hub_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let ms = now.nanosecond() / 1_000_000 * 1_000_000;
    now.replace_nanosecond(ms).unwrap_or(now)
}

fn beijing(t: OffsetDateTime) -> String {
    crate::rfc3339(t.to_offset(SHANGHAI).replace_nanosecond(0).unwrap_or(t))
}

/// Refuses a device time later than the hub's `now` by more than
/// `tolerance_secs` (a device clock running fast, or a decision dated in
/// the future). Earlier than the case's previous event is the core's rule
/// (`Rejection::Backdated`).
pub fn check_device_time(
    device: OffsetDateTime,
    now: OffsetDateTime,
    tolerance_secs: i64,
) -> Result<(), ApiError> {
    if device > now + time::Duration::seconds(tolerance_secs) {
        return Err(ApiError::new(
            ErrorCode::ClockFuture,
            format!(
                "事件时间 {} 晚于县局服务器时间 {}（允许误差 {} 秒），不予受理：请校准本机时钟后重新操作",
                beijing(device),
                beijing(now),
                tolerance_secs
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use time::macros::datetime;

    #[test]
    fn device_times_ahead_of_the_hub_beyond_the_tolerance_are_refused() {
        let now = datetime!(2026-12-02 06:00:00 UTC);
        check_device_time(now, now, 300).unwrap();
        check_device_time(now + time::Duration::seconds(300), now, 300).unwrap();
        check_device_time(datetime!(2001-01-01 0:00 UTC), now, 300).unwrap();
        let e = check_device_time(now + time::Duration::seconds(301), now, 300).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.body.code.as_str()),
            (422, "clock_future")
        );
        let e = check_device_time(datetime!(2099-12-31 10:00 +8), now, 300).unwrap_err();
        assert!(
            e.body.error.contains("2099-12-31T10:00:00+08:00"),
            "{}",
            e.body.error
        );
        assert!(
            e.body.error.contains("2026-12-02T14:00:00+08:00"),
            "{}",
            e.body.error
        );
    }
}
