//! Updates of the desktop app (see docs/updates.md). An administrator
//! uploads a package signed with the county's update key (the Tauri
//! signer's minisign `.sig`), through the one admin gate
//! ([`crate::admin::Admin::upload_update`], `jingwu-hub admin update
//! upload`); enrolled stations ask for the newest version above theirs
//! (`tauri-plugin-updater`'s dynamic manifest) and download the package.
//!
//! The hub never holds the private key and does not verify the signature
//! (the app does, with the public key built into it); it checks that the
//! signature file is a minisign signature, that the package is of the
//! platform's kind, and that versions only go up.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use semver::Version;

use crate::db::{HubDb, UpdateRow};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::{blocking, AppState, Auth};
use crate::hub::Caller;
use jingwu_proto::{UpdateManifest, UpdateQuery};

/// The largest package the hub takes.
pub const MAX_PACKAGE_BYTES: usize = 256 * 1024 * 1024;
/// The longest notes (characters).
pub const MAX_NOTES_CHARS: usize = 4000;

/// The operating systems, architectures and installers of the updater's
/// platform keys (`{os}-{arch}` or `{os}-{arch}-{installer}`).
const OSES: &[&str] = &["linux", "windows", "darwin"];
const ARCHES: &[&str] = &["x86_64", "aarch64", "i686", "armv7", "riscv64"];
/// (installer, its OS, the package file's ending).
const INSTALLERS: &[(&str, &str, &str)] = &[
    ("deb", "linux", ".deb"),
    ("rpm", "linux", ".rpm"),
    ("appimage", "linux", ".AppImage"),
    ("nsis", "windows", ".exe"),
    ("msi", "windows", ".msi"),
    ("app", "darwin", ".app.tar.gz"),
];

/// The scheme the hub is reached by (`https`, or `http` on loopback),
/// for the package URL in the manifest; set by `server::serve`.
#[derive(Debug, Clone, Copy)]
pub struct Scheme(pub &'static str);

/// What an administrator uploads.
#[derive(Debug, Clone)]
pub struct UpdateUpload {
    pub platform: String,
    pub version: String,
    pub notes: String,
    /// The `.sig` file's text.
    pub signature: String,
    pub file_name: String,
    pub package: Vec<u8>,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadArguments, msg)
}

/// The installer named by a platform key (`None` for `{os}-{arch}`), or
/// why the key is not one the updater uses.
pub fn check_platform(
    key: &str,
) -> Result<Option<&'static (&'static str, &'static str, &'static str)>, ApiError> {
    let wrong = || {
        bad(format!(
            "平台“{key}”不是更新程序使用的平台名：应为 系统-架构 或 系统-架构-安装包类型，\
             如 linux-x86_64-deb、windows-x86_64-nsis、linux-aarch64-deb"
        ))
    };
    let mut parts = key.split('-');
    let (Some(os), Some(arch)) = (parts.next(), parts.next()) else {
        return Err(wrong());
    };
    let installer = parts.next();
    if parts.next().is_some() || !OSES.contains(&os) || !ARCHES.contains(&arch) {
        return Err(wrong());
    }
    match installer {
        None => Ok(None),
        Some(i) => match INSTALLERS.iter().find(|x| x.0 == i) {
            Some(x) if x.1 == os => Ok(Some(x)),
            Some(x) => Err(bad(format!(
                "安装包类型 {} 只用于 {}，不能用于平台“{key}”",
                x.0, x.1
            ))),
            None => Err(wrong()),
        },
    }
}

/// A version as SemVer (`1.2.3`, `1.2.3-rc.1`; no leading `v`).
pub fn parse_version(text: &str) -> Result<Version, ApiError> {
    Version::parse(text.trim()).map_err(|_| {
        bad(format!(
            "版本号“{text}”格式错误：应为 主版本.次版本.修订号，如 1.4.2（不加 v）"
        ))
    })
}

/// Whether the package's first bytes are its installer's kind.
fn looks_like(installer: &str, data: &[u8]) -> bool {
    match installer {
        "deb" => data.starts_with(b"!<arch>\ndebian-binary"),
        "rpm" => data.starts_with(&[0xed, 0xab, 0xee, 0xdb]),
        "nsis" => data.starts_with(b"MZ"),
        "msi" => data.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
        "appimage" => data.starts_with(b"\x7fELF"),
        "app" => data.starts_with(&[0x1f, 0x8b]),
        _ => true,
    }
}

/// The `.sig` text, checked for form: base64 of a minisign signature (as
/// `tauri signer sign` writes it). Returned trimmed.
pub fn check_signature(sig: &str) -> Result<String, ApiError> {
    let sig = sig.trim();
    let wrong = || {
        bad("签名文件格式错误：应为 Tauri 签名工具（tauri signer sign）生成的 .sig 文件，内容为 minisign 签名的 base64")
    };
    let text = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(wrong)?;
    minisign_verify::Signature::decode(&text).map_err(|_| wrong())?;
    Ok(sig.to_string())
}

/// Checks an upload; the row to store (id and time filled in).
pub fn check_upload(u: &UpdateUpload, by: &str, now: &str) -> Result<UpdateRow, ApiError> {
    let platform = u.platform.trim();
    let installer = check_platform(platform)?;
    let version = parse_version(&u.version)?;
    let notes = u.notes.trim();
    if notes.is_empty() {
        return Err(bad("请填写更新说明（告诉使用者这一版改了什么）"));
    }
    if notes.chars().count() > MAX_NOTES_CHARS {
        return Err(bad(format!("更新说明过长：最多 {MAX_NOTES_CHARS} 字")));
    }
    let signature = check_signature(&u.signature)?;
    if u.package.is_empty() {
        return Err(ApiError::new(ErrorCode::EmptyUpload, "安装包是空文件"));
    }
    if u.package.len() > MAX_PACKAGE_BYTES {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("安装包过大：最大 {} MB", MAX_PACKAGE_BYTES / 1024 / 1024),
        ));
    }
    let file_name = std::path::Path::new(u.file_name.trim())
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    if let Some((kind, _, ending)) = installer {
        if !file_name.ends_with(ending) || !looks_like(kind, &u.package) {
            return Err(ApiError::new(
                ErrorCode::TypeMismatch,
                format!("平台 {platform} 的安装包应为 {ending} 文件，“{file_name}”不是"),
            ));
        }
    }
    Ok(UpdateRow {
        id: uuid::Uuid::now_v7().to_string(),
        platform: platform.to_string(),
        version: version.to_string(),
        notes: notes.to_string(),
        signature,
        sm3: jingwu_core::crypto::sm3_hex(&u.package),
        file_name,
        size: i64::try_from(u.package.len()).unwrap_or(i64::MAX),
        pub_date: now.to_string(),
        uploaded_by: by.to_string(),
    })
}

/// Stores a checked upload unless a version as high or higher is there
/// for its platform.
pub fn store_upload(db: &dyn HubDb, row: &UpdateRow, package: &[u8]) -> Result<(), ApiError> {
    let version = parse_version(&row.version)?;
    let check = |have: &[String]| -> Result<(), String> {
        let newest = have.iter().filter_map(|v| Version::parse(v).ok()).max();
        match newest {
            Some(n) if n >= version => Err(format!(
                "平台 {} 已有版本 {n}，新上传的版本 {version} 不高于它：更新只能升级，不能降级或重复上传",
                row.platform
            )),
            _ => Ok(()),
        }
    };
    db.insert_update(row, package, &check)?
        .map_err(|why| ApiError::new(ErrorCode::UpdateNotNewer, why))
}

/// The platform keys a station asks for, most specific first.
fn platform_keys(target: &str, arch: &str, bundle: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(b) = bundle.filter(|b| INSTALLERS.iter().any(|x| x.0 == *b)) {
        keys.push(format!("{target}-{arch}-{b}"));
    }
    keys.push(format!("{target}-{arch}"));
    keys
}

/// The newest update above `current` for the station's platform: for
/// its installer if there is one, else for its system and architecture.
pub fn newest_above(
    db: &dyn HubDb,
    target: &str,
    arch: &str,
    bundle: Option<&str>,
    current: &Version,
) -> Result<Option<UpdateRow>, ApiError> {
    for key in platform_keys(target, arch, bundle) {
        let best = db
            .updates(Some(&key))?
            .into_iter()
            .filter_map(|r| Version::parse(&r.version).ok().map(|v| (v, r)))
            .filter(|(v, _)| v > current)
            .max_by(|a, b| a.0.cmp(&b.0));
        if let Some((_, row)) = best {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// Updates go to stations only: a session on a device enrolled (and
/// approved) for the caller.
fn enrolled_device(db: &dyn HubDb, c: &Caller) -> Result<(), ApiError> {
    let refused = || {
        ApiError::new(
            ErrorCode::DeviceNotEnrolled,
            "只有已向县局登记并获批准的设备可以获取软件更新",
        )
    };
    let device = c.device.as_deref().ok_or_else(refused)?;
    let enrolled = db
        .enrolments(Some("approved"))?
        .iter()
        .any(|e| e.person == c.person && e.device == device);
    if enrolled {
        Ok(())
    } else {
        Err(refused())
    }
}

/// The newest version above the station's, as the Tauri updater reads
/// it; 204 when there is none.
#[utoipa::path(get, path = "/api/updates/{target}/{arch}/{current_version}",
    params(("target" = String, Path), ("arch" = String, Path), ("current_version" = String, Path), UpdateQuery),
    responses((status = 200, body = UpdateManifest), (status = 204, description = "no newer version"),
        (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn manifest(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Extension(scheme): Extension<Scheme>,
    Path((target, arch, current)): Path<(String, String, String)>,
    Query(q): Query<UpdateQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = parse_version(&current)?;
    // The address the station reached the hub by: HTTP/1.1's Host, or
    // HTTP/2's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()))
        .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ']))
        .ok_or_else(|| bad("请求缺少服务器地址（Host）"))?;
    let found = blocking(move || {
        enrolled_device(hub.db.as_ref(), &c)?;
        newest_above(
            hub.db.as_ref(),
            &target,
            &arch,
            q.bundle.as_deref(),
            &current,
        )
    })
    .await?;
    Ok(match found {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(r) => Json(UpdateManifest {
            url: format!("{}://{host}/api/updates/file/{}", scheme.0, r.id),
            version: r.version,
            notes: r.notes,
            pub_date: r.pub_date,
            signature: r.signature,
        })
        .into_response(),
    })
}

/// An update's package.
#[utoipa::path(get, path = "/api/updates/file/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "the package"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn file(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (row, data) = blocking(move || {
        enrolled_device(hub.db.as_ref(), &c)?;
        hub.db
            .update_package(&id)?
            .ok_or_else(|| ApiError::not_found("没有这个更新包"))
    })
    .await?;
    let name: String = row
        .file_name
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        data,
    )
        .into_response())
}

/// The update routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/updates/file/{id}", get(file))
        .route(
            "/api/updates/{target}/{arch}/{current_version}",
            get(manifest),
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn platform_keys_are_the_updaters() {
        assert!(check_platform("linux-x86_64-deb").unwrap().is_some());
        assert!(check_platform("windows-x86_64-nsis").unwrap().is_some());
        assert!(check_platform("linux-aarch64").unwrap().is_none());
        for bad in [
            "",
            "linux",
            "linux-x86_64-nsis",
            "windows-x86_64-deb",
            "linux-amd64-deb",
            "linux-x86_64-deb-x",
            "win-x86_64",
        ] {
            assert!(check_platform(bad).is_err(), "{bad}");
        }
        assert_eq!(
            platform_keys("linux", "x86_64", Some("deb")),
            ["linux-x86_64-deb", "linux-x86_64"]
        );
        assert_eq!(
            platform_keys("linux", "x86_64", Some("unknown")),
            ["linux-x86_64"]
        );
    }

    #[test]
    fn versions_are_semver_without_v() {
        assert!(parse_version("1.2.3").is_ok());
        assert!(parse_version("1.2.3-rc.1").is_ok());
        for bad in ["v1.2.3", "1.2", "", "一.二.三"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
    }
}
