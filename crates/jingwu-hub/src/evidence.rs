//! Evidence bundles of hub cases (see [`jingwu_core::bundle`]).

use std::collections::HashMap;

use jingwu_core::bundle::Bundle;
use jingwu_core::crypto::PublicKey;
use uuid::Uuid;

use crate::error::ApiError;
use crate::hub::Hub;

/// The evidence bundle of a case: its events with the keys that signed
/// them (keys revoked since stay valid for what they signed before).
pub fn bundle_of(hub: &Hub, case_id: &Uuid) -> Result<Bundle, ApiError> {
    let events = hub.signed_events(case_id)?;
    if events.is_empty() {
        return Err(ApiError::not_found("没有该案件"));
    }
    let mut keys: HashMap<(String, String), PublicKey> = HashMap::new();
    for e in hub.db.enrolments(None)? {
        if e.status == "approved" || e.status == "revoked" {
            if let Ok(k) = PublicKey::from_pem(&e.pem) {
                keys.insert((e.person, e.fingerprint), k);
            }
        }
    }
    Bundle::build(
        &events,
        |a, f| keys.get(&(a.to_string(), f.to_string())).cloned(),
        &crate::now_rfc3339(),
    )
    .map_err(|e| ApiError::internal(format!("证据包生成失败：{e}")))
}
