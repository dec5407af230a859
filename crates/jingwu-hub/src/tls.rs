//! TLS: the hub certificate (made on first start) and its pinned fingerprint.
//!
//! The hub has no certificate from a public CA: county networks reach it by
//! LAN address, and the address may change. On first start the hub makes a
//! self-signed certificate and keeps it in its data directory; stations record
//! the SHA-256 fingerprint of that certificate when they enrol and from then on
//! trust the hub by that fingerprint alone (see `jingwu_station::pin`).
//!
//! Regenerating the certificate therefore changes the fingerprint and every
//! station must enrol again, so [`load_or_create`] never replaces a
//! certificate it finds: a half-present pair (certificate without key or the
//! other way round) is an error, not a reason to make a new one.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// File name of the hub certificate (PEM) inside the data directory.
pub const CERT_FILE: &str = "hub-cert.pem";
/// File name of the hub private key (PKCS#8 PEM, mode 0600) inside the data directory.
pub const KEY_FILE: &str = "hub-key.pem";
/// Subject common name of the generated certificate.
pub const COMMON_NAME: &str = "Jingwu county hub";
/// Validity of the generated certificate, in days (about ten years).
pub const VALIDITY_DAYS: i64 = 3650;

/// Errors from loading, generating or configuring the hub certificate.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("无法创建证书目录 {path}：{source}", path = .path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("无法读取 {path}：{source}", path = .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("无法写入 {path}：{source}", path = .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "证书文件不完整：{present} 存在，但 {missing} 缺失。请恢复缺失的文件；\
         或删除两者以重新生成（重新生成会改变证书指纹，所有站点须重新登记）",
        present = .present.display(),
        missing = .missing.display()
    )]
    Incomplete { present: PathBuf, missing: PathBuf },
    #[error("{path} 不是有效的 PEM 文件：{reason}", path = .path.display())]
    Pem { path: PathBuf, reason: String },
    #[error(
        "私钥 {key} 与证书 {cert} 不匹配：{source}",
        key = .key.display(),
        cert = .cert.display()
    )]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("无法生成自签名证书（目录 {dir}）：{source}", dir = .dir.display())]
    Generate { dir: PathBuf, source: rcgen::Error },
    #[error("内存中的私钥 PEM 无效：{0}")]
    InvalidKey(String),
    #[error("TLS 服务端配置失败：{0}")]
    Config(#[source] rustls::Error),
}

/// The hub certificate and its private key.
#[derive(Clone)]
pub struct HubCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM; wiped from memory on drop.
    pub key_pem: Zeroizing<String>,
    /// The certificate, DER (what the fingerprint is taken over).
    pub cert_der: Vec<u8>,
    /// Lower-case hex SHA-256 of `cert_der` (64 characters, no separators).
    pub fingerprint: String,
}

impl HubCert {
    /// The fingerprint for people: upper-case hex pairs separated by colons
    /// (`AB:CD:…`), as shown to the operator who enrols a station.
    pub fn fingerprint_display(&self) -> String {
        display_fingerprint(&self.fingerprint)
    }
}

impl fmt::Debug for HubCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubCert")
            .field("fingerprint", &self.fingerprint)
            .field("cert_der_len", &self.cert_der.len())
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Lower-case hex SHA-256 of a certificate DER.
pub fn sha256_fingerprint(cert_der: &[u8]) -> String {
    hex::encode(Sha256::digest(cert_der))
}

/// `abcd…` → `AB:CD:…`.
fn display_fingerprint(hex_lower: &str) -> String {
    let upper = hex_lower.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for (i, pair) in bytes.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&String::from_utf8_lossy(pair));
    }
    out
}

/// Loads the hub certificate from `dir/hub-cert.pem` and `dir/hub-key.pem`,
/// or — when neither exists — generates a self-signed one and writes both.
///
/// The generated certificate is ECDSA P-256, CN "Jingwu county hub", valid
/// for ten years, with SANs `names` + `localhost` + IP `127.0.0.1` (names that
/// parse as IP addresses become IP SANs). Both files are written with mode
/// 0600 in a 0700 directory, each atomically (temporary file, fsync,
/// rename); an existing pair with a looser mode is tightened when loaded.
///
/// If only one of the two files exists this is an error ([`TlsError::Incomplete`]):
/// making a new pair would silently change the fingerprint stations have pinned.
/// A loaded pair is checked to belong together.
pub fn load_or_create(dir: &Path, names: &[String]) -> Result<HubCert, TlsError> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    match (exists(&cert_path)?, exists(&key_path)?) {
        (true, true) => load(&cert_path, &key_path),
        (false, false) => create(dir, &cert_path, &key_path, names),
        (true, false) => Err(TlsError::Incomplete {
            present: cert_path,
            missing: key_path,
        }),
        (false, true) => Err(TlsError::Incomplete {
            present: key_path,
            missing: cert_path,
        }),
    }
}

/// A rustls server configuration serving `cert`, with the ring provider,
/// the safe default protocol versions (TLS 1.2 and 1.3), no client
/// authentication, and ALPN `h2`, `http/1.1`.
pub fn server_config(cert: &HubCert) -> Result<rustls::ServerConfig, TlsError> {
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())
        .map_err(|e| TlsError::InvalidKey(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.cert_der.clone())], key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// [`server_config`] wrapped for `axum_server::bind_rustls`.
pub async fn axum_config(
    cert: &HubCert,
) -> Result<axum_server::tls_rustls::RustlsConfig, TlsError> {
    let config = server_config(cert)?;
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

fn exists(path: &Path) -> Result<bool, TlsError> {
    path.try_exists().map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn load(cert_path: &Path, key_path: &Path) -> Result<HubCert, TlsError> {
    let cert_pem = fs::read_to_string(cert_path).map_err(|source| TlsError::Read {
        path: cert_path.to_path_buf(),
        source,
    })?;
    let key_pem = read_secret(key_path)?;
    tighten_pair(cert_path, key_path);

    let cert_der = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .next()
        .ok_or_else(|| TlsError::Pem {
            path: cert_path.to_path_buf(),
            reason: "没有 CERTIFICATE 段".to_owned(),
        })?
        .map_err(|e| TlsError::Pem {
            path: cert_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| TlsError::Pem {
        path: key_path.to_path_buf(),
        reason: e.to_string(),
    })?;

    // The pair must belong together, or the hub would start and then fail
    // every handshake.
    rustls::sign::CertifiedKey::from_der(
        vec![cert_der.clone()],
        key_der,
        &rustls::crypto::ring::default_provider(),
    )
    .map_err(|source| TlsError::KeyMismatch {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
        source,
    })?;

    let cert_der = cert_der.as_ref().to_vec();
    Ok(HubCert {
        fingerprint: sha256_fingerprint(&cert_der),
        cert_pem,
        key_pem,
        cert_der,
    })
}

fn read_secret(path: &Path) -> Result<Zeroizing<String>, TlsError> {
    let read_err = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(read_err)?;
    // Allocate once up front so no unwiped copy is left behind by a regrowth.
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let capacity = usize::try_from(len).unwrap_or(0).saturating_add(1);
    let mut out = Zeroizing::new(String::with_capacity(capacity));
    file.read_to_string(&mut out).map_err(read_err)?;
    Ok(out)
}

/// Takes the group and other bits off the key and the certificate (an
/// older hub wrote the certificate 0644). A failure is logged: the hub can
/// still serve.
fn tighten_pair(cert_path: &Path, key_path: &Path) {
    for path in [key_path, cert_path] {
        if let Err(e) = jingwu_store::private_fs::tighten(path) {
            tracing::warn!(
                path = %path.display(),
                error = %e,
                "无法收紧文件权限，应为 0600"
            );
        }
    }
}

fn create(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
    names: &[String],
) -> Result<HubCert, TlsError> {
    jingwu_store::private_fs::create_dir(dir).map_err(|source| TlsError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let gen_err = |source| TlsError::Generate {
        dir: dir.to_path_buf(),
        source,
    };

    let mut sans: Vec<String> = Vec::new();
    for name in names
        .iter()
        .map(|n| n.trim())
        .chain(["localhost", "127.0.0.1"])
    {
        if !name.is_empty() && !sans.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            sans.push(name.to_owned());
        }
    }

    let mut params = rcgen::CertificateParams::new(sans).map_err(gen_err)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, COMMON_NAME);
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    // A day of slack for station clocks that run behind.
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALIDITY_DAYS);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];

    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let cert = params.self_signed(&key_pair).map_err(gen_err)?;

    let cert_pem = cert.pem();
    let key_pem = Zeroizing::new(key_pair.serialize_pem());
    let cert_der = cert.der().as_ref().to_vec();

    // Key first, certificate last: a crash in between leaves a key without a
    // certificate, which load_or_create reports instead of half-using.
    write_atomic(key_path, key_pem.as_bytes(), 0o600)?;
    write_atomic(cert_path, cert_pem.as_bytes(), 0o600)?;
    sync_dir(dir);

    Ok(HubCert {
        fingerprint: sha256_fingerprint(&cert_der),
        cert_pem,
        key_pem,
        cert_der,
    })
}

/// Writes `bytes` to a temporary file next to `path` (created with `mode` on
/// Unix), fsyncs it and renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp{}", std::process::id()));
    let write_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| TlsError::Write { path: p, source }
    };

    // A leftover from an earlier crash of this same pid number.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(write_err(&tmp)(e)),
    }

    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(&tmp)(e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(path)(e));
    }
    Ok(())
}

/// Makes the renames durable (best effort; not possible on every platform).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn names() -> Vec<String> {
        vec!["hub.county.example".to_owned(), "192.168.1.10".to_owned()]
    }

    #[test]
    fn creates_once_then_loads_the_same_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), &names()).unwrap();
        assert!(dir.path().join(CERT_FILE).is_file());
        assert!(dir.path().join(KEY_FILE).is_file());
        let cert_bytes = fs::read(dir.path().join(CERT_FILE)).unwrap();

        let second = load_or_create(dir.path(), &names()).unwrap();
        assert_eq!(first.fingerprint, second.fingerprint);
        assert_eq!(first.cert_der, second.cert_der);
        assert_eq!(first.cert_pem, second.cert_pem);
        assert_eq!(*first.key_pem, *second.key_pem);
        // Not rewritten on the second call.
        assert_eq!(fs::read(dir.path().join(CERT_FILE)).unwrap(), cert_bytes);
        // No temporary files left behind.
        let entries: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries.len(), 2, "{entries:?}");
    }

    #[test]
    fn creates_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("b");
        let cert = load_or_create(&nested, &[]).unwrap();
        assert!(nested.join(CERT_FILE).is_file());
        assert_eq!(cert.fingerprint.len(), 64);
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path(), &names()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn fingerprint_is_sha256_of_der_in_lower_hex() {
        let dir = tempfile::tempdir().unwrap();
        let cert = load_or_create(dir.path(), &names()).unwrap();
        assert_eq!(cert.fingerprint.len(), 64);
        assert!(cert
            .fingerprint
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(
            cert.fingerprint,
            hex::encode(Sha256::digest(&cert.cert_der))
        );

        let shown = cert.fingerprint_display();
        assert_eq!(shown.len(), 64 + 31);
        assert_eq!(shown.split(':').count(), 32);
        assert_eq!(shown.replace(':', "").to_lowercase(), cert.fingerprint);
        assert_eq!(shown, shown.to_uppercase());
    }

    #[test]
    fn generated_certificate_has_the_names_and_curve() {
        fn contains(haystack: &[u8], needle: &[u8]) -> bool {
            haystack.windows(needle.len()).any(|w| w == needle)
        }
        let dir = tempfile::tempdir().unwrap();
        let cert = load_or_create(dir.path(), &names()).unwrap();
        let der = &cert.cert_der;
        assert!(contains(der, COMMON_NAME.as_bytes()));
        // dNSName [2] SANs.
        assert!(contains(der, b"\x82\x12hub.county.example"));
        assert!(contains(der, b"\x82\x09localhost"));
        // iPAddress [7] SANs.
        assert!(contains(der, &[0x87, 4, 127, 0, 0, 1]));
        assert!(contains(der, &[0x87, 4, 192, 168, 1, 10]));
        // id-ecPublicKey on prime256v1 (1.2.840.10045.3.1.7).
        assert!(contains(
            der,
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
        ));
    }

    #[test]
    fn half_present_pair_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path(), &names()).unwrap();
        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = load_or_create(dir.path(), &names()).unwrap_err();
        assert!(matches!(err, TlsError::Incomplete { .. }), "{err}");
        assert!(err.to_string().contains(KEY_FILE), "{err}");
        // The surviving certificate was left alone.
        assert!(dir.path().join(CERT_FILE).is_file());
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn mismatched_pair_is_rejected() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        load_or_create(a.path(), &names()).unwrap();
        load_or_create(b.path(), &names()).unwrap();
        fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).unwrap();
        let err = load_or_create(a.path(), &names()).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
    }

    #[test]
    fn garbage_pem_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path(), &names()).unwrap();
        fs::write(dir.path().join(CERT_FILE), "not a certificate").unwrap();
        let err = load_or_create(dir.path(), &names()).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err}");
        assert!(err.to_string().contains(CERT_FILE), "{err}");
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cert = load_or_create(dir.path(), &names()).unwrap();
        let shown = format!("{cert:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(shown.contains(&cert.fingerprint));
    }

    #[test]
    fn server_config_offers_h2_and_http11() {
        let dir = tempfile::tempdir().unwrap();
        let cert = load_or_create(dir.path(), &names()).unwrap();
        let config = server_config(&cert).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[tokio::test]
    async fn axum_config_builds() {
        let dir = tempfile::tempdir().unwrap();
        let cert = load_or_create(dir.path(), &names()).unwrap();
        let config = axum_config(&cert).await.unwrap();
        assert_eq!(
            config.get_inner().alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
