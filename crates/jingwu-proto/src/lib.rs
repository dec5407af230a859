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
mod updates;
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
pub use updates::{UpdateManifest, UpdateQuery};
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

/// `GET /api/registry/digest`: the newest published registry version
/// (see `jingwu_core::published`); a station fetches the versions it
/// lacks when this differs from its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryDigest {
    pub version: u32,
    /// SM3 hex of that version's signed document.
    pub digest: String,
}

/// One published registry version: its exact signed document and the
/// administrator's signature (`jingwu_core::published::SignedRegistry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryVersion {
    pub version: u32,
    /// Canonical JSON (RFC 8785) of the document, as signed.
    pub doc: String,
    /// The signer's SM2 public key (PEM).
    pub key: String,
    /// SM2 signature (DER, hex) over `doc`.
    pub signature: String,
}

/// `GET /api/registry?after=N`: the published versions after `N`, oldest
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryVersions {
    pub versions: Vec<RegistryVersion>,
}

impl From<jingwu_core::published::SignedRegistry> for RegistryVersion {
    fn from(s: jingwu_core::published::SignedRegistry) -> Self {
        RegistryVersion {
            version: s.version,
            doc: s.doc,
            key: s.key,
            signature: s.signature,
        }
    }
}

impl From<RegistryVersion> for jingwu_core::published::SignedRegistry {
    fn from(s: RegistryVersion) -> Self {
        jingwu_core::published::SignedRegistry {
            version: s.version,
            doc: s.doc,
            key: s.key,
            signature: s.signature,
        }
    }
}

/// `GET /api/seals/digest`: changes whenever a seal is registered or
/// revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealsDigest {
    /// SM3 hex of the registry.
    pub digest: String,
}
