//! The station binary, run as the README runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

/// The README's main job: the station demo runs end to end on a fresh data
/// directory, twice (the second run reuses the stored keys), and `verify`
/// re-checks the store.
#[test]
fn station_demo_runs_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_jingwu-station");
    for _ in 0..2 {
        let out = Command::new(bin)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("demo")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("分管局长"), "{text}");
        assert!(text.contains("已归档"), "{text}");
        assert!(text.contains("全部校验通过"), "{text}");
    }
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("verify")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("已校验 4 个案件"));
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
}

/// A store whose bytes were changed behind the app's back fails `verify`
/// with the case named.
#[test]
fn verify_names_a_tampered_case() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_jingwu-station");
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("demo")
        .output()
        .unwrap();
    assert!(out.status.success());
    // Change one opinion inside a stored signed event.
    let conn = tamper_first_decision(&dir.path().join("station.db"));
    assert!(conn, "could not tamper");
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("verify")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("校验失败") || err.contains("事件无效"),
        "{err}"
    );
}

/// Bad input: an unusable data dir gives a plain Chinese error, not a panic.
#[test]
fn unusable_data_dir_is_explained() {
    let bin = env!("CARGO_BIN_EXE_jingwu-station");
    let out = Command::new(bin)
        .args(["--data-dir", "/proc/jingwu", "demo"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("错误：无法创建数据目录"), "{err}");
}

/// Replaces "同意" by "不同" in the first stored decision event.
fn tamper_first_decision(db: &std::path::Path) -> bool {
    let conn = rusqlite::Connection::open(db).unwrap();
    let (id, bytes): (String, Vec<u8>) = conn
        .query_row(
            "SELECT id, bytes FROM events WHERE kind='decide' ORDER BY rowid LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let changed = text.replacen("\"opinion\":\"同意\"", "\"opinion\":\"不同\"", 1);
    if changed == text {
        return false;
    }
    conn.execute(
        "UPDATE events SET bytes=?1 WHERE id=?2",
        rusqlite::params![changed.into_bytes(), id],
    )
    .unwrap()
        == 1
}
