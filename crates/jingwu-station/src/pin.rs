//! Certificate pinning: the hub is trusted by the SHA-256 fingerprint of its certificate, taken at enrolment.
//!
//! The county hub runs with a self-signed certificate (see `jingwu_hub::tls`).
//! When a station enrols, the operator confirms the hub's fingerprint (read
//! off the hub's console, `AB:CD:…`) and the station stores it. Every HTTPS
//! connection to the hub then goes through [`pinned_client_config`]: the
//! handshake succeeds only if the certificate the hub presents hashes to the
//! stored fingerprint.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use sha2::{Digest, Sha256};

/// Connect timeout of the hub client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors building a pinned TLS configuration or HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error(
        "证书指纹格式错误：{reason}（收到“{input}”）；\
         应为 64 位十六进制数字（SHA-256），可用冒号分隔，大小写均可"
    )]
    Malformed { input: String, reason: String },
    #[error("TLS 客户端配置失败：{0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP 客户端构建失败：{0}")]
    Client(#[from] reqwest::Error),
}

/// The hub presented a certificate other than the one pinned at enrolment.
///
/// Carried inside the handshake error as
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))`; find it
/// in an error chain with [`fingerprint_mismatch`]. Its `Debug` prints the
/// same human message as `Display`, because rustls renders the inner error
/// of `CertificateError::Other` with `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerprintMismatch {
    /// The pinned fingerprint, lower-case hex.
    pub expected: String,
    /// The fingerprint of the certificate the hub presented, lower-case hex.
    pub actual: String,
}

impl fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "证书指纹不符：中心的证书与登记时记录的不一致（登记时 {}，实际 {}）。\
             中心证书可能已更换，也可能连接被劫持；请向中心核实指纹后重新登记",
            display_fingerprint(&self.expected),
            display_fingerprint(&self.actual)
        )
    }
}

impl fmt::Debug for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StdError for FingerprintMismatch {}

/// Parses a SHA-256 fingerprint written as 64 hex digits, with or without
/// colons between the pairs, in either case.
pub fn parse_fingerprint(fingerprint_hex: &str) -> Result<[u8; 32], PinError> {
    let malformed = |reason: String| PinError::Malformed {
        input: fingerprint_hex.to_owned(),
        reason,
    };
    let digits: String = fingerprint_hex
        .trim()
        .chars()
        .filter(|&c| c != ':')
        .collect();
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(malformed(format!("含有非十六进制字符“{bad}”")));
    }
    if digits.len() != 64 {
        return Err(malformed(format!(
            "应为 64 位十六进制数字，实际 {} 位",
            digits.len()
        )));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(&digits, &mut out).map_err(|e| malformed(e.to_string()))?;
    Ok(out)
}

/// A rustls client configuration (ring provider, TLS 1.2/1.3, ALPN `h2`,
/// `http/1.1`) that trusts exactly one server certificate: the one whose
/// DER hashes (SHA-256) to `fingerprint_hex`.
///
/// # Why the hostname is not checked
///
/// Name checks exist to tie a certificate issued by some trusted CA to the
/// host the client meant to reach; any CA-issued certificate for another name
/// must not do. Here there is no CA: the pinned fingerprint names one exact
/// certificate, and only the holder of that certificate's private key can
/// complete the handshake, whatever address it was reached at. Checking the
/// name would add nothing to that, and would break the common county set-up
/// where the hub is reached by a LAN IP or a name that changes after the
/// certificate was made. For the same reason the validity period and chain
/// are not checked: the pin, not an issuer, is the trust anchor, and a new
/// hub certificate means re-enrolment.
///
/// The handshake signatures are still verified with the provider's
/// algorithms, so a server that merely replays the certificate without its
/// key is rejected.
pub fn pinned_client_config(fingerprint_hex: &str) -> Result<rustls::ClientConfig, PinError> {
    let pin = parse_fingerprint(fingerprint_hex)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedServerVerifier {
        pin,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The HTTP client for talking to the hub (connect timeout 10 s).
///
/// With `Some(fingerprint)` every `https://` connection is pinned to that
/// fingerprint ([`pinned_client_config`]). With `None` the client is meant
/// for plain `http://` on loopback (tests, a hub on the same machine): its
/// TLS configuration trusts no certificate at all, so an `https://` hub
/// without a pin is refused, and no system certificate store is read
/// (building a client stays cheap).
pub fn http_client(fingerprint_hex: Option<&str>) -> Result<reqwest::Client, PinError> {
    Ok(pin_builder(reqwest::Client::builder(), tls_config(fingerprint_hex)?).build()?)
}

/// Puts `config` (from [`tls_config`]) and the connect timeout on a client
/// builder: how every client of the hub is made, [`http_client`]'s and
/// the desktop updater's (`tauri-plugin-updater` builds its own clients
/// and lets the app configure them).
pub fn pin_builder(
    builder: reqwest::ClientBuilder,
    config: rustls::ClientConfig,
) -> reqwest::ClientBuilder {
    builder
        .connect_timeout(CONNECT_TIMEOUT)
        .tls_backend_preconfigured(config)
}

/// The TLS configuration of a client of the hub: pinned to the
/// fingerprint ([`pinned_client_config`]), or with `None` (plain `http://`
/// on loopback) one that trusts no certificate at all.
pub fn tls_config(fingerprint_hex: Option<&str>) -> Result<rustls::ClientConfig, PinError> {
    Ok(match fingerprint_hex {
        Some(fp) => pinned_client_config(fp)?,
        None => rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth(),
    })
}

/// Finds a [`FingerprintMismatch`] anywhere in an error chain, e.g. in the
/// `reqwest::Error` of a failed request, so the UI can say "the hub's
/// certificate changed" instead of a generic connection failure.
pub fn fingerprint_mismatch<'a>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a FingerprintMismatch> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = mismatch_here(e) {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn mismatch_here<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a FingerprintMismatch> {
    if let Some(m) = e.downcast_ref::<FingerprintMismatch>() {
        return Some(m);
    }
    if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))) =
        e.downcast_ref::<rustls::Error>()
    {
        return inner.downcast_ref::<FingerprintMismatch>();
    }
    // io::Error::source() skips the wrapped error itself; look inside.
    if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
        return fingerprint_mismatch(inner);
    }
    None
}

fn display_fingerprint(hex_lower: &str) -> String {
    hex_lower
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// Accepts the server iff SHA-256(end-entity DER) equals the pin; verifies
/// handshake signatures normally.
#[derive(Debug)]
struct PinnedServerVerifier {
    pin: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = Sha256::digest(end_entity.as_ref());
        if actual.as_slice() == self.pin.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            let mismatch = FingerprintMismatch {
                expected: hex::encode(self.pin),
                actual: hex::encode(actual),
            };
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(mismatch)),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};

    use rustls::pki_types::PrivateKeyDer;

    use super::*;

    const BODY: &str = "景武中心 ok";

    /// An HTTPS server on 127.0.0.1 with a fresh self-signed certificate
    /// whose only SAN is a name the client never uses. Returns its address
    /// and the certificate fingerprint (lower hex).
    fn spawn_server() -> (SocketAddr, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["not-this-host.invalid".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let fingerprint = hex::encode(Sha256::digest(cert.der()));
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                std::thread::spawn(move || serve_one(config, tcp));
            }
        });
        (addr, fingerprint)
    }

    /// Reads one request head and answers it with a hand-written HTTP/1.1
    /// response. Handshake failures just end the connection.
    fn serve_one(config: Arc<rustls::ServerConfig>, tcp: TcpStream) {
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
        let Ok(conn) = rustls::ServerConnection::new(config) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        let _ = tls.write_all(response.as_bytes());
        let _ = tls.flush();
        tls.conn.send_close_notify();
        let _ = tls.conn.complete_io(&mut tls.sock);
    }

    fn with_colons_upper(hex_lower: &str) -> String {
        display_fingerprint(hex_lower)
    }

    /// The whole error chain, joined, as a user would see it logged.
    fn chain(err: &(dyn StdError + 'static)) -> String {
        let mut out = err.to_string();
        let mut cur = err.source();
        while let Some(e) = cur {
            out.push_str(" / ");
            out.push_str(&e.to_string());
            cur = e.source();
        }
        out
    }

    #[tokio::test]
    async fn right_pin_connects_and_returns_the_body() {
        let (addr, fingerprint) = spawn_server();
        // Lower-case plain hex and upper-case colon form both work.
        for pin in [fingerprint.clone(), with_colons_upper(&fingerprint)] {
            let client = http_client(Some(&pin)).unwrap();
            let response = client
                .get(format!("https://{addr}/health"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            assert_eq!(response.text().await.unwrap(), BODY);
        }
    }

    #[tokio::test]
    async fn hostname_is_not_checked() {
        // The certificate names only not-this-host.invalid; reaching it as
        // "localhost" still works because the pin is the trust anchor.
        let (addr, fingerprint) = spawn_server();
        let client = http_client(Some(&fingerprint)).unwrap();
        let body = client
            .get(format!("https://localhost:{}/", addr.port()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, BODY);
    }

    #[tokio::test]
    async fn wrong_pin_is_refused_with_both_fingerprints() {
        let (addr, fingerprint) = spawn_server();
        let (_, other) = spawn_server();
        let client = http_client(Some(&other)).unwrap();
        let err = client
            .get(format!("https://{addr}/health"))
            .send()
            .await
            .unwrap_err();
        let text = chain(&err);
        assert!(text.contains("证书指纹不符"), "{text}");
        assert!(text.contains(&with_colons_upper(&other)), "{text}");
        assert!(text.contains(&with_colons_upper(&fingerprint)), "{text}");

        let found = fingerprint_mismatch(&err).expect("mismatch in the chain");
        assert_eq!(found.expected, other);
        assert_eq!(found.actual, fingerprint);
    }

    #[test]
    fn malformed_pins_are_rejected() {
        for bad in [
            "",
            "abcd",
            &"a".repeat(63),
            &"a".repeat(65),
            &format!("{}zz", "a".repeat(62)),
            &format!("{}-", "a".repeat(64)),
        ] {
            let err = pinned_client_config(bad).unwrap_err();
            assert!(matches!(err, PinError::Malformed { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("证书指纹格式错误"), "{err}");
            assert!(matches!(
                http_client(Some(bad)),
                Err(PinError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn accepts_any_case_and_colons() {
        let lower = "0123456789abcdef".repeat(4);
        let expected = parse_fingerprint(&lower).unwrap();
        assert_eq!(parse_fingerprint(&lower.to_uppercase()).unwrap(), expected);
        assert_eq!(
            parse_fingerprint(&with_colons_upper(&lower)).unwrap(),
            expected
        );
        assert_eq!(
            parse_fingerprint(&format!("  {}\n", with_colons_upper(&lower).to_lowercase()))
                .unwrap(),
            expected
        );
    }

    #[test]
    fn unpinned_client_builds_without_a_preinstalled_provider() {
        http_client(None).unwrap();
        // And again, with the provider now installed.
        http_client(None).unwrap();
    }

    #[test]
    fn fingerprint_mismatch_message() {
        let m = FingerprintMismatch {
            expected: "ab".repeat(32),
            actual: "cd".repeat(32),
        };
        let shown = format!("{m}");
        assert!(shown.starts_with("证书指纹不符"), "{shown}");
        assert!(shown.contains("AB:AB"), "{shown}");
        assert_eq!(format!("{m:?}"), shown);
        let err = rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
            m.clone(),
        ))));
        assert!(err.to_string().contains("证书指纹不符"), "{err}");
        assert_eq!(fingerprint_mismatch(&err), Some(&m));
    }
}
