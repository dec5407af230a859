//! Updates of the desktop app, served by the county hub to enrolled
//! stations (see docs/updates.md): the Tauri updater's dynamic manifest.

use serde::{Deserialize, Serialize};

/// `GET /api/updates/{target}/{arch}/{current_version}`: the newest
/// version above the station's, in the shape `tauri-plugin-updater`
/// reads (its "dynamic" manifest). No newer version: `204 No Content`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateManifest {
    /// SemVer, without a leading `v`.
    pub version: String,
    /// What changed (Chinese text, shown to the user before consent).
    pub notes: String,
    /// RFC 3339.
    pub pub_date: String,
    /// Where the package is (`/api/updates/file/{id}` on the same hub).
    pub url: String,
    /// The package's minisign signature as the Tauri signer writes it
    /// (the `.sig` file: base64 of the minisign signature text).
    pub signature: String,
}

/// The query of the manifest request: the installer the app was bundled
/// as (`deb`, `rpm`, `nsis`, `msi`, `appimage`; the updater's
/// `{{bundle_type}}`, `unknown` for an unbundled build).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct UpdateQuery {
    #[serde(default)]
    pub bundle: Option<String>,
}
