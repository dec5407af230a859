//! Whole-system tests: OpenSSL 3 interoperability of signatures and hashes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use jingwu_core::crypto::{sm3_hex, PublicKey, Signer, SoftwareKey};
use jingwu_core::event::{Action, Event, SignedEvent};
use time::macros::datetime;
use uuid::Uuid;

/// GB/T 32918's default distinguishing ID. OpenSSL 3.0's `pkeyutl`
/// does not apply it by default (measured here: without this option,
/// OpenSSL 3.0.19 signs with an empty ID), so it is always passed.
const DISTID: &str = "distid:1234567812345678";

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (scripts/setup.sh installs it)");
    out
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "openssl failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An event signed by our code verifies with `openssl pkeyutl`, and its
/// hash equals `openssl dgst -sm3` of the signed bytes.
#[test]
fn our_event_signature_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let key = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let ev = Event::new(
        Uuid::now_v7(),
        0,
        None,
        "052630",
        "device-1",
        &key.public_key().fingerprint(),
        datetime!(2026-11-27 10:42 +8),
        [7; 10],
        Action::Withdraw {
            reason: "所长已于 10:42 同意".into(),
        },
    );
    let se = SignedEvent::sign(ev, &key).unwrap();
    std::fs::write(dir.path().join("msg"), se.bytes()).unwrap();
    std::fs::write(dir.path().join("sig.der"), se.signature()).unwrap();
    std::fs::write(dir.path().join("pub.pem"), key.public_key().to_pem()).unwrap();
    let out = openssl(
        dir.path(),
        &[
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-digest", "sm3",
            "-pkeyopt", DISTID, "-in", "msg", "-sigfile", "sig.der",
        ],
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));

    // A changed byte fails OpenSSL's verification too.
    let mut bad = se.bytes().to_vec();
    bad[10] ^= 1;
    std::fs::write(dir.path().join("bad"), &bad).unwrap();
    let out = openssl(
        dir.path(),
        &[
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-digest", "sm3",
            "-pkeyopt", DISTID, "-in", "bad", "-sigfile", "sig.der",
        ],
    );
    assert!(!out.status.success());

    // Without the ID, OpenSSL computes a different Z and refuses: the ID is
    // part of what is signed.
    let out = openssl(
        dir.path(),
        &[
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-digest", "sm3", "-in",
            "msg", "-sigfile", "sig.der",
        ],
    );
    assert!(!out.status.success());

    let out = openssl(dir.path(), &["dgst", "-sm3", "-r", "msg"]);
    ok(&out);
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(line.split_whitespace().next().unwrap(), se.hash_hex());
}

/// A key and a signature made by OpenSSL verify in our code; OpenSSL's
/// private key imports and signs in our code.
#[test]
fn openssl_key_and_signature_verify_in_our_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:SM2",
            "-out",
            "key.pem",
        ],
    ));
    ok(&openssl(
        d,
        &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
    ));
    let msg = "户口变更登记表 522634-20261127-0001 同意".as_bytes();
    std::fs::write(d.join("msg"), msg).unwrap();
    ok(&openssl(
        d,
        &[
            "pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-digest", "sm3", "-pkeyopt",
            DISTID, "-in", "msg", "-out", "sig.der",
        ],
    ));
    let pem = std::fs::read_to_string(d.join("pub.pem")).unwrap();
    let sig = std::fs::read(d.join("sig.der")).unwrap();
    let pk = PublicKey::from_pem(&pem).unwrap();
    pk.verify(msg, &sig).unwrap();
    assert!(pk.verify(b"something else", &sig).is_err());

    // OpenSSL's PKCS#8 private key works as our signer.
    let key =
        SoftwareKey::from_pkcs8_pem(&std::fs::read_to_string(d.join("key.pem")).unwrap()).unwrap();
    assert_eq!(key.public_key(), &pk);
    let ours = key.sign(msg).unwrap();
    pk.verify(msg, &ours).unwrap();

    // SM3 agrees with OpenSSL on the GB/T 32905 vector and on our message.
    std::fs::write(d.join("abc"), b"abc").unwrap();
    let out = openssl(d, &["dgst", "-sm3", "-r", "abc"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&sm3_hex(b"abc")));
}

/// SM4 matches OpenSSL on the GB/T 32907 vector.
#[test]
fn sm4_matches_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let k = hex::decode("0123456789abcdeffedcba9876543210").unwrap();
    std::fs::write(dir.path().join("p"), &k).unwrap();
    let out = openssl(
        dir.path(),
        &[
            "enc",
            "-sm4-ecb",
            "-nopad",
            "-K",
            "0123456789abcdeffedcba9876543210",
            "-in",
            "p",
            "-out",
            "c",
        ],
    );
    ok(&out);
    let c = std::fs::read(dir.path().join("c")).unwrap();
    assert_eq!(hex::encode(&c), "681edf34d206965e86b3e94f536e4246");
    let ours = jingwu_core::crypto::sm4_encrypt_block(
        &k.clone().try_into().unwrap(),
        &k.try_into().unwrap(),
    );
    assert_eq!(ours.to_vec(), c);
}
