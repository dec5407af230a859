//! Content-addressed, chunked, resumable attachment uploads.

use serde::{Deserialize, Serialize};

/// `POST /api/uploads`: begin or resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRequest {
    /// SM3 of the whole file, lower-case hex.
    pub sm3: String,
    pub size: i64,
    pub mime: String,
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadStatus {
    pub sm3: String,
    /// Bytes the hub holds; resume from here.
    pub received: i64,
    pub complete: bool,
}

/// `PUT /api/uploads/{sm3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ChunkQuery {
    /// Where this chunk starts; must equal the bytes received so far.
    pub offset: i64,
}
