//! Whole-system tests: OpenSSL 3 interoperability of signatures and hashes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use jingwu_core::crypto::{sm3_hex, PublicKey, Signer, SoftwareKey};
use jingwu_core::event::{Action, Event, SignedEvent};
use time::macros::datetime;
use uuid::Uuid;

mod commands;

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

/// A published registry version (`docs/registry.md`) verifies with
/// `openssl pkeyutl` over its document bytes, and its digest is `openssl
/// dgst -sm3` of them.
#[test]
fn a_published_registry_version_verifies_with_openssl() {
    use jingwu_core::published::RegistryDoc;
    let dir = tempfile::tempdir().unwrap();
    let key = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let reg = jingwu_core::registry::Registry::builtin_demo().unwrap();
    let doc = RegistryDoc::of(
        &reg,
        1,
        "2026-12-04T10:00:00+08:00",
        "admin",
        "第一版",
        vec![key.public_key().to_pem()],
    );
    let signed = doc.sign(&key).unwrap();
    std::fs::write(dir.path().join("doc.json"), &signed.doc).unwrap();
    std::fs::write(
        dir.path().join("sig.der"),
        hex::decode(&signed.signature).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("key.pem"), &signed.key).unwrap();
    let verify = |file: &str| {
        openssl(
            dir.path(),
            &[
                "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-digest", "sm3",
                "-pkeyopt", DISTID, "-in", file, "-sigfile", "sig.der",
            ],
        )
    };
    ok(&verify("doc.json"));
    std::fs::write(
        dir.path().join("changed.json"),
        signed.doc.replacen("雷山", "雷田", 1),
    )
    .unwrap();
    assert!(!verify("changed.json").status.success());
    let out = openssl(dir.path(), &["dgst", "-sm3", "-r", "doc.json"]);
    ok(&out);
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(line.split_whitespace().next().unwrap(), signed.digest());
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

/// Signs a small 户口变更 log (create, submit, one decision) with two
/// software keys and exports its evidence bundle.
fn small_bundle() -> jingwu_core::bundle::Bundle {
    use jingwu_core::event::Decision;
    use jingwu_core::form::CaseType;
    use jingwu_core::registry::Registry;

    let reg = Registry::builtin_demo().unwrap();
    let officer = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let chief = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let case_id = Uuid::now_v7();
    let case_no = "522634-20261127-0001".to_string();
    let actions: Vec<(&str, &SoftwareKey, Action)> = vec![
        (
            "052601",
            &officer,
            Action::Create {
                case_type: CaseType::HukouChange,
                template: reg.template_latest("hukou_change").unwrap().reference(),
                workflow: Some(reg.workflow_latest("hukou_change").unwrap().reference()),
                case_no: case_no.clone(),
                unit: "522634010000".into(),
                form: jingwu_core::demo::name_change_form(),
                registry: None,
            },
        ),
        ("052601", &officer, Action::Submit {}),
        (
            "052602",
            &chief,
            Action::Decide {
                step: "station_chief".into(),
                decision: Decision::Agree,
                opinion: "同意上报".into(),
                case_no,
                summary: "姓名：王德永 → 王德勇".into(),
            },
        ),
    ];
    let mut log: Vec<SignedEvent> = Vec::new();
    let mut time = datetime!(2026-11-27 09:00 +8);
    for (seq, (author, key, action)) in actions.into_iter().enumerate() {
        time += time::Duration::minutes(9);
        let ev = Event::new(
            case_id,
            seq as u64,
            log.last().map(SignedEvent::hash_hex),
            author,
            "device-1",
            &key.public_key().fingerprint(),
            time,
            [seq as u8; 10],
            action,
        );
        log.push(SignedEvent::sign(ev, key).unwrap());
    }
    let key_of = |author: &str, _: &str| match author {
        "052601" => Some(officer.public_key().clone()),
        "052602" => Some(chief.public_key().clone()),
        _ => None,
    };
    jingwu_core::bundle::Bundle::build(&log, key_of, "2026-11-27T10:00:00+08:00").unwrap()
}

/// Runs `scripts/verify-bundle-openssl.sh` on `bundle`; (success, stdout
/// and stderr).
fn run_bundle_script(dir: &Path, bundle: &jingwu_core::bundle::Bundle) -> (bool, String) {
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle.to_json_pretty().unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify-bundle-openssl.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&path)
        .output()
        .expect("bash must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// An evidence bundle checks with OpenSSL alone (through the shell
/// script), and a changed signature byte is caught and the event named.
#[test]
fn evidence_bundle_verifies_with_openssl_alone() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;

    let dir = tempfile::tempdir().unwrap();
    let bundle = small_bundle();
    bundle.verify(None).unwrap();
    let (ok, text) = run_bundle_script(dir.path(), &bundle);
    assert!(ok, "the script refused a good bundle:\n{text}");
    for (i, e) in bundle.events.iter().enumerate() {
        assert!(
            text.contains(&format!("第 {i} 个事件（{}）通过", e.id)),
            "{text}"
        );
    }
    assert!(text.contains("证据包校验通过"), "{text}");
    assert!(text.contains(&bundle.events[2].sm3_hex), "{text}");

    // One signature byte changed: OpenSSL refuses event 1, and so does our
    // code, at the same event.
    let mut bad = bundle.clone();
    let mut sig = b64.decode(&bad.events[1].signature_b64).unwrap();
    let n = sig.len();
    sig[n - 5] ^= 0x01;
    bad.events[1].signature_b64 = b64.encode(&sig);
    let (ok, text) = run_bundle_script(dir.path(), &bad);
    assert!(!ok, "the script accepted a changed signature:\n{text}");
    let named = format!("第 1 个事件（{}）校验失败", bundle.events[1].id);
    assert!(text.contains(&named), "{text}");
    assert!(text.contains("签名无效"), "{text}");
    assert!(text.contains("第 0 个事件"), "{text}");
    assert!(!text.contains("第 2 个事件"), "{text}");
    assert_eq!(bad.verify(None).unwrap_err().index, Some(1));

    // The middle event dropped: the chain breaks at its place.
    let mut short = bundle.clone();
    short.events.remove(1);
    let (ok, text) = run_bundle_script(dir.path(), &short);
    assert!(!ok, "{text}");
    let named = format!("第 1 个事件（{}）校验失败：序号应为 1", bundle.events[2].id);
    assert!(text.contains(&named), "{text}");

    // A signed byte changed (hash recomputed to match): the signature fails.
    let mut forged = bundle.clone();
    let msg = b64.decode(&forged.events[2].bytes_b64).unwrap();
    let msg = String::from_utf8(msg)
        .unwrap()
        .replace("同意上报", "不予上报");
    forged.events[2].bytes_b64 = b64.encode(msg.as_bytes());
    forged.events[2].sm3_hex = sm3_hex(msg.as_bytes());
    let (ok, text) = run_bundle_script(dir.path(), &forged);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "第 2 个事件（{}）校验失败：签名无效",
            bundle.events[2].id
        )),
        "{text}"
    );
}
