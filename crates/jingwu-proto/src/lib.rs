//! The county hub's HTTP API as data (see docs/sync-protocol.md): the
//! request and response bodies of every endpoint the station protocol
//! uses, and [`ErrorCode`], the one list of the codes the hub refuses
//! with. The hub's handlers answer with these types and the station
//! client reads them, so the two cannot drift apart.
//!
//! Deliberately absent: HTTP itself (statuses, headers, routes — the
//! hub's `http.rs` and `error.rs` map codes to statuses), any client or
//! server code, storage rows, and rules (what the hub accepts is decided
//! by `jingwu_core` and the hub). Signed events and receipts travel as
//! base64 of their exact signed bytes; this crate only converts between
//! that text and `jingwu_core`'s types, checking nothing but the form.
//! With the `openapi` feature the types derive `utoipa` schemas for the
//! hub's OpenAPI document.

mod accounts;
mod error;
mod events;
mod stats;
mod uploads;

pub use accounts::{
    CreateUserRequest, EnrolRequest, Enrolment, EnrolmentQuery, HubKeyInfo, KeyInfo, LoginRequest,
    LoginResult, MeResponse, RevokeRequest, RevokeResponse,
};
pub use error::{ErrorBody, ErrorCode};
pub use events::{
    live, LiveQuery, PullQuery, PullResponse, PushRequest, PushResult, PushedEvent, StoredEvent,
    WireError, WireEvent, WireReceipt,
};
pub use stats::{
    ImportOutcome, ImportRequest, IncidentRow, QueryPage, QueryRequest, SavedQuery, SortBy,
    SpeedRequest, SpeedRow, StatsAccess, StatsRequest, StatsRow, MAX_PER_PAGE,
};
pub use uploads::{ChunkQuery, UploadRequest, UploadStatus};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A case waiting for the caller's decision (`GET /api/inbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxItem {
    pub case_id: Uuid,
    pub case_no: String,
    pub unit: String,
    pub status: String,
    pub step: Option<String>,
    pub summary: String,
    pub updated_at: String,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`, or `low_disk` (with HTTP 503).
    pub status: String,
    pub backend: String,
    /// `ok`, `low` (below the configured floor) or `unknown`.
    pub disk: String,
    /// Events and cases stored: only for a logged-in administrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<i64>,
}

/// `GET /api/seals/digest`: changes whenever a seal is registered or
/// revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealsDigest {
    /// SM3 hex of the registry.
    pub digest: String,
}
