//! Logins, sessions, accounts, device enrolment and the keys that verify
//! events and receipts.

use serde::{Deserialize, Serialize};

/// `POST /api/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub person: String,
    pub password: String,
    /// The device the session is used from.
    #[serde(default)]
    pub device: Option<String>,
}

/// A login's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResult {
    pub token: String,
    pub person: String,
    pub name: Option<String>,
    pub is_admin: bool,
    /// Unix seconds when the session ends at the latest.
    pub expires_at: i64,
    pub idle_timeout_secs: i64,
}

/// `GET /api/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    pub person: String,
    pub name: Option<String>,
    pub is_admin: bool,
    pub device: Option<String>,
    /// Units the person holds posts in.
    pub units: Vec<String>,
}

/// `POST /api/admin/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUserRequest {
    pub person: String,
    pub password: String,
    #[serde(default)]
    pub is_admin: bool,
}

/// `POST /api/admin/sessions/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeRequest {
    pub person: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeResponse {
    pub revoked: u64,
}

/// `POST /api/enrolments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolRequest {
    /// The installation's device id.
    pub device: String,
    /// A human name for the device, e.g. 方祥派出所户籍室 1 号机.
    #[serde(default)]
    pub device_name: String,
    /// The user's SM2 public key, SubjectPublicKeyInfo PEM.
    pub public_key_pem: String,
}

/// A device enrolment: one user's SM2 public key on one device, waiting
/// for or carrying an administrator's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrolment {
    pub id: String,
    pub device: String,
    pub device_name: String,
    pub person: String,
    pub fingerprint: String,
    pub pem: String,
    /// `pending`, `approved`, `rejected` or `revoked`.
    pub status: String,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// `GET /api/enrolments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct EnrolmentQuery {
    pub status: Option<String>,
}

/// An approved signing key (`GET /api/keys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    pub person: String,
    pub fingerprint: String,
    pub pem: String,
}

/// The hub's receipt-signing public key (`GET /api/hub-key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HubKeyInfo {
    /// SM3 fingerprint, as named in each receipt's `hub_key`.
    pub fingerprint: String,
    /// SM2 public key, PEM (SubjectPublicKeyInfo).
    pub pem: String,
}
