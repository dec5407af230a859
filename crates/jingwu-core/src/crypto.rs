//! SM2 / SM3 / SM4 primitives, the [`Signer`] trait and software keys
//! encrypted at rest under the user's signing PIN.
//!
//! Nothing here implements cryptography: SM2 (GB/T 32918), SM3 (GB/T 32905)
//! and SM4 (GB/T 32907) come from RustCrypto's `sm2`, `sm3` and `sm4`
//! crates, Argon2id from `argon2`, and GCM from `aes-gcm` instantiated with
//! SM4 (SM4-GCM, RFC 8998). This module only fixes the choices (default
//! distinguishing ID, DER signatures, PEM keys) and gives them typed errors.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand_core::TryCryptoRng;
use serde::{Deserialize, Serialize};
use sm2::dsa::signature::{Signer as _, Verifier as _};
use sm2::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sm3::Digest;
use zeroize::Zeroizing;

/// The default SM2 distinguishing ID of GB/T 32918 / GB/T 35276; OpenSSL 3
/// uses the same one, so our signatures verify with `openssl pkeyutl`.
pub const DEFAULT_DIST_ID: &str = "1234567812345678";

/// SM4 in Galois/Counter Mode with a 96-bit nonce and a 128-bit tag.
type Sm4Gcm = aes_gcm::AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;

/// Errors of key handling and signature checks. Messages are shown to users.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("签名无效：签名与内容或公钥不符")]
    BadSignature,
    #[error("签名格式错误（应为 DER 编码的 SM2 签名）")]
    MalformedSignature,
    #[error("公钥格式错误：{0}")]
    BadPublicKey(String),
    #[error("私钥格式错误：{0}")]
    BadPrivateKey(String),
    #[error("签名 PIN 不正确，或密钥文件已被改动")]
    WrongPin,
    #[error("签名 PIN 至少 6 位，且不能全部相同")]
    WeakPin,
    #[error("密钥文件格式不受支持：{0}")]
    UnsupportedKeyFile(String),
    #[error("无法取得随机数")]
    Rng,
    #[error("签名失败：{0}")]
    SigningFailed(String),
}

/// SM3 digest of `data`.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&sm3::Sm3::digest(data));
    out
}

/// SM3 digest of `data` as lower-case hex.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(sm3(data))
}

/// An SM2 public key (with the default distinguishing ID).
#[derive(Clone)]
pub struct PublicKey {
    key: sm2::dsa::VerifyingKey,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key.as_affine() == other.key.as_affine()
    }
}
impl Eq for PublicKey {}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), as
    /// written by `openssl pkey -pubout`.
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let pk = sm2::PublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| CryptoError::BadPublicKey(e.to_string()))?;
        Self::from_sm2(pk)
    }

    /// Parses an uncompressed or compressed SEC1 point.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        let key = sm2::dsa::VerifyingKey::from_sec1_bytes(DEFAULT_DIST_ID, bytes)
            .map_err(|_| CryptoError::BadPublicKey("不是 SM2 曲线上的点".into()))?;
        Ok(Self { key })
    }

    fn from_sm2(pk: sm2::PublicKey) -> Result<Self, CryptoError> {
        let key = sm2::dsa::VerifyingKey::new(DEFAULT_DIST_ID, pk)
            .map_err(|_| CryptoError::BadPublicKey("不是 SM2 曲线上的点".into()))?;
        Ok(Self { key })
    }

    /// SubjectPublicKeyInfo PEM, readable by OpenSSL.
    pub fn to_pem(&self) -> String {
        // Encoding a valid point cannot fail; fall back to an empty string
        // rather than panicking should the encoder ever refuse.
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// Uncompressed SEC1 encoding of the point.
    pub fn to_sec1(&self) -> Vec<u8> {
        self.key.to_sec1_bytes().to_vec()
    }

    /// SM3 of the SEC1 point, hex: a short stable identifier of the key.
    pub fn fingerprint(&self) -> String {
        sm3_hex(&self.to_sec1())
    }

    /// Verifies a DER-encoded SM2 signature of `msg`.
    pub fn verify(&self, msg: &[u8], der_signature: &[u8]) -> Result<(), CryptoError> {
        let sig = sm2::dsa::Signature::from_der(der_signature)
            .map_err(|_| CryptoError::MalformedSignature)?;
        self.key
            .verify(msg, &sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(sm3:{})", &self.fingerprint()[..16])
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_pem())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PublicKey::from_pem(&s).map_err(serde::de::Error::custom)
    }
}

/// Something that makes SM2 signatures: a software key today, a USB key or
/// a signing server later. Signatures are DER-encoded, over the raw message
/// (the signer hashes `Z_A || msg` with SM3 as GB/T 32918 prescribes).
pub trait Signer {
    /// The public half, registered with the hub at enrolment.
    fn public_key(&self) -> &PublicKey;
    /// Signs `msg`; returns the DER-encoded signature.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

/// A software SM2 key held in memory. Create with [`SoftwareKey::generate`],
/// import from PKCS#8 PEM, persist only through [`SoftwareKey::seal`].
pub struct SoftwareKey {
    signing: sm2::dsa::SigningKey,
    public: PublicKey,
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoftwareKey({:?})", self.public)
    }
}

impl SoftwareKey {
    /// A fresh key from a cryptographic random source.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, CryptoError> {
        use sm2::elliptic_curve::Generate;
        let secret = sm2::SecretKey::try_generate_from_rng(rng).map_err(|_| CryptoError::Rng)?;
        Self::from_secret(&secret)
    }

    fn from_secret(secret: &sm2::SecretKey) -> Result<Self, CryptoError> {
        let signing = sm2::dsa::SigningKey::new(DEFAULT_DIST_ID, secret)
            .map_err(|_| CryptoError::BadPrivateKey("无效的 SM2 私钥".into()))?;
        let public = PublicKey {
            key: signing.verifying_key().clone(),
        };
        Ok(Self { signing, public })
    }

    /// Imports an unencrypted PKCS#8 PEM private key (as `openssl genpkey`
    /// writes for the SM2 curve).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CryptoError> {
        let secret = sm2::SecretKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| CryptoError::BadPrivateKey(e.to_string()))?;
        Self::from_secret(&secret)
    }

    /// Exports the private key as unencrypted PKCS#8 PEM (for OpenSSL
    /// interoperability tests and key escrow tooling only).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, CryptoError> {
        let secret = sm2::SecretKey::from(self.signing.as_nonzero_scalar());
        secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| CryptoError::BadPrivateKey(e.to_string()))
    }

    /// Encrypts the private key under `pin` (Argon2id → SM4-GCM); the public
    /// key and the KDF parameters are bound as associated data.
    pub fn seal<R: TryCryptoRng + ?Sized>(
        &self,
        pin: &str,
        params: KdfParams,
        rng: &mut R,
    ) -> Result<EncryptedKey, CryptoError> {
        check_pin_strength(pin)?;
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        rng.try_fill_bytes(&mut salt)
            .map_err(|_| CryptoError::Rng)?;
        rng.try_fill_bytes(&mut nonce)
            .map_err(|_| CryptoError::Rng)?;
        let mut sealed = EncryptedKey {
            format: KEY_FILE_FORMAT.to_string(),
            kdf: params,
            salt: B64.encode(salt),
            nonce: B64.encode(nonce),
            ciphertext: String::new(),
            public_key: self.public.clone(),
        };
        let kek = derive_kek(pin, &salt, params)?;
        let cipher = Sm4Gcm::new_from_slice(kek.as_slice())
            .map_err(|_| CryptoError::SigningFailed("SM4 密钥长度错误".into()))?;
        let secret = Zeroizing::new(self.signing.to_bytes().to_vec());
        let aad = sealed.associated_data();
        let ct = cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: secret.as_slice(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::SigningFailed("加密私钥失败".into()))?;
        sealed.ciphertext = B64.encode(ct);
        Ok(sealed)
    }
}

impl Signer for SoftwareKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig: sm2::dsa::Signature = self
            .signing
            .try_sign(msg)
            .map_err(|e| CryptoError::SigningFailed(e.to_string()))?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

const KEY_FILE_FORMAT: &str = "jingwu-sm2-key/1 argon2id sm4-gcm";

/// Argon2id cost parameters, stored with the key so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The production default: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };
    /// Cheap parameters for tests only.
    pub const TEST_ONLY: KdfParams = KdfParams {
        m_cost: 256,
        t_cost: 1,
        p_cost: 1,
    };
}

/// A private key encrypted at rest under the user's signing PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedKey {
    pub format: String,
    pub kdf: KdfParams,
    /// Base64 salt for Argon2id.
    pub salt: String,
    /// Base64 SM4-GCM nonce.
    pub nonce: String,
    /// Base64 SM4-GCM ciphertext with tag.
    pub ciphertext: String,
    pub public_key: PublicKey,
}

impl EncryptedKey {
    fn associated_data(&self) -> String {
        format!(
            "{}|m={},t={},p={}|{}",
            self.format,
            self.kdf.m_cost,
            self.kdf.t_cost,
            self.kdf.p_cost,
            self.public_key.fingerprint()
        )
    }

    /// Decrypts the key with `pin`. A wrong PIN and a tampered file give the
    /// same error: GCM cannot tell them apart, and neither should an attacker.
    pub fn unlock(&self, pin: &str) -> Result<SoftwareKey, CryptoError> {
        if self.format != KEY_FILE_FORMAT {
            return Err(CryptoError::UnsupportedKeyFile(self.format.clone()));
        }
        let salt = B64
            .decode(&self.salt)
            .map_err(|_| CryptoError::UnsupportedKeyFile("salt".into()))?;
        let nonce: [u8; 12] = B64
            .decode(&self.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| CryptoError::UnsupportedKeyFile("nonce".into()))?;
        let ct = B64
            .decode(&self.ciphertext)
            .map_err(|_| CryptoError::UnsupportedKeyFile("ciphertext".into()))?;
        let kek = derive_kek(pin, &salt, self.kdf)?;
        let cipher = Sm4Gcm::new_from_slice(kek.as_slice()).map_err(|_| CryptoError::WrongPin)?;
        let aad = self.associated_data();
        let secret = Zeroizing::new(
            cipher
                .decrypt(
                    (&nonce).into(),
                    Payload {
                        msg: &ct,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| CryptoError::WrongPin)?,
        );
        let secret = sm2::SecretKey::from_slice(&secret).map_err(|_| CryptoError::WrongPin)?;
        let key = SoftwareKey::from_secret(&secret)?;
        if key.public != self.public_key {
            return Err(CryptoError::WrongPin);
        }
        Ok(key)
    }
}

/// A signing PIN has at least 6 characters and is not one repeated character.
pub fn check_pin_strength(pin: &str) -> Result<(), CryptoError> {
    let mut chars = pin.chars();
    let first = chars.next();
    if pin.chars().count() < 6 || first.is_some_and(|c| pin.chars().all(|x| x == c)) {
        return Err(CryptoError::WeakPin);
    }
    Ok(())
}

fn derive_kek(pin: &str, salt: &[u8], p: KdfParams) -> Result<Zeroizing<[u8; 16]>, CryptoError> {
    let params = argon2::Params::new(p.m_cost, p.t_cost, p.p_cost, Some(16))
        .map_err(|e| CryptoError::UnsupportedKeyFile(format!("argon2: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 16]);
    argon
        .hash_password_into(pin.as_bytes(), salt, out.as_mut())
        .map_err(|e| CryptoError::UnsupportedKeyFile(format!("argon2: {e}")))?;
    Ok(out)
}

/// Encrypts one 16-byte block with SM4 (exposed for the GB/T 32907 vector).
pub fn sm4_encrypt_block(key: &[u8; 16], block: &[u8; 16]) -> [u8; 16] {
    use sm4::cipher::{BlockCipherEncrypt, KeyInit as _};
    let cipher = sm4::Sm4::new(key.into());
    let mut b = (*block).into();
    cipher.encrypt_block(&mut b);
    b.into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// A deterministic RNG for tests (not cryptographic; tests only).
    pub(crate) struct TestRng(pub u64);
    impl rand_core::TryRng for TestRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for TestRng {}

    #[test]
    fn sm3_vector_gbt32905() {
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        // Second example of the standard: "abcd" repeated 16 times.
        assert_eq!(
            sm3_hex("abcd".repeat(16).as_bytes()),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn sm4_vector_gbt32907() {
        let k: [u8; 16] = hex::decode("0123456789abcdeffedcba9876543210")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hex::encode(sm4_encrypt_block(&k, &k)),
            "681edf34d206965e86b3e94f536e4246"
        );
    }

    #[test]
    fn sign_verify_and_tamper() {
        let key = SoftwareKey::generate(&mut TestRng(1)).unwrap();
        let sig = key.sign(b"hello").unwrap();
        key.public_key().verify(b"hello", &sig).unwrap();
        assert_eq!(
            key.public_key().verify(b"hellp", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            key.public_key().verify(b"hello", b"junk"),
            Err(CryptoError::MalformedSignature)
        );
        let pem = key.public_key().to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(&PublicKey::from_pem(&pem).unwrap(), key.public_key());
    }

    #[test]
    fn seal_and_unlock() {
        let mut rng = TestRng(7);
        let key = SoftwareKey::generate(&mut rng).unwrap();
        let sealed = key.seal("246810", KdfParams::TEST_ONLY, &mut rng).unwrap();
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(!json.contains(&hex::encode(key.signing.to_bytes())));
        let back: EncryptedKey = serde_json::from_str(&json).unwrap();
        let unlocked = back.unlock("246810").unwrap();
        assert_eq!(unlocked.public_key(), key.public_key());
        assert_eq!(back.unlock("246811").unwrap_err(), CryptoError::WrongPin);
        // Tampering with the stored parameters is detected too.
        let mut t = back.clone();
        t.kdf.t_cost = 2;
        assert_eq!(t.unlock("246810").unwrap_err(), CryptoError::WrongPin);
        let mut t = back.clone();
        t.public_key = SoftwareKey::generate(&mut rng).unwrap().public.clone();
        assert_eq!(t.unlock("246810").unwrap_err(), CryptoError::WrongPin);
    }

    #[test]
    fn weak_pins_refused() {
        let key = SoftwareKey::generate(&mut TestRng(3)).unwrap();
        for pin in ["", "12345", "000000", "aaaaaaaa"] {
            assert_eq!(
                key.seal(pin, KdfParams::TEST_ONLY, &mut TestRng(4))
                    .unwrap_err(),
                CryptoError::WeakPin
            );
        }
    }

    #[test]
    fn pkcs8_round_trip() {
        let key = SoftwareKey::generate(&mut TestRng(9)).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let back = SoftwareKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }
}
