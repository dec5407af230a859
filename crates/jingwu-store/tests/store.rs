//! The station store, against real SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use jingwu_core::case::Status;
use jingwu_core::crypto::{KdfParams, PublicKey, Signer, SoftwareKey};
use jingwu_core::event::{verify_chain, Action, Decision};
use jingwu_core::form::{CaseType, FormValues};
use jingwu_core::registry::Registry;
use jingwu_store::{Origin, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

struct Kit {
    reg: Registry,
    keys: BTreeMap<String, SoftwareKey>,
}

impl Kit {
    fn new() -> Kit {
        let reg = Registry::builtin_demo().unwrap();
        let keys = reg
            .org
            .people()
            .map(|p| {
                (
                    p.id.clone(),
                    SoftwareKey::generate(&mut getrandom::SysRng).unwrap(),
                )
            })
            .collect();
        Kit { reg, keys }
    }

    fn holder(&self, unit: &str, post: &str) -> String {
        let u = self.reg.org.units().find(|u| u.name == unit).unwrap();
        self.reg.org.holders(&u.code, post)[0].id.clone()
    }

    fn unit(&self, name: &str) -> String {
        self.reg
            .org
            .units()
            .find(|u| u.name == name)
            .unwrap()
            .code
            .clone()
    }

    fn public(&self) -> BTreeMap<String, PublicKey> {
        self.keys
            .iter()
            .map(|(k, v)| (k.clone(), v.public_key().clone()))
            .collect()
    }

    /// Opens a 户口变更 draft at 方祥派出所.
    fn create(&self, store: &mut Store, now: OffsetDateTime) -> Result<Uuid, StoreError> {
        let officer = self.holder("方祥派出所", "户籍民警");
        let unit = self.unit("方祥派出所");
        let case_no = store.next_case_no(
            &unit,
            &self.keys[&officer].public_key().fingerprint(),
            now.date(),
        )?;
        let s = store.record(
            &self.reg,
            &self.keys[&officer],
            &officer,
            None,
            Action::Create {
                case_type: CaseType::HukouChange,
                template: self
                    .reg
                    .template_latest("hukou_change")
                    .unwrap()
                    .reference(),
                workflow: Some(
                    self.reg
                        .workflow_latest("hukou_change")
                        .unwrap()
                        .reference(),
                ),
                case_no,
                unit,
                form: form(),
                registry: None,
            },
            now,
        )?;
        Ok(s.case_id)
    }
}

fn form() -> FormValues {
    jingwu_core::demo::name_change_form()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(jingwu_core::SHANGHAI)
}

#[test]
fn a_case_runs_through_the_store_and_replays() {
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.db");
    let mut store = Store::open(&path).unwrap();
    let officer = kit.holder("方祥派出所", "户籍民警");
    let chief = kit.holder("方祥派出所", "所长");
    let id = kit.create(&mut store, now()).unwrap();
    let scan = store
        .put_attachment(
            b"\xff\xd8\xff\xe0 fake jpeg body",
            "登记表.jpg",
            "image/jpeg",
        )
        .unwrap();
    store
        .record(
            &kit.reg,
            &kit.keys[&officer],
            &officer,
            Some(id),
            Action::Attach {
                field: "scans".into(),
                attachment: scan.clone(),
            },
            now(),
        )
        .unwrap();
    store
        .record(
            &kit.reg,
            &kit.keys[&officer],
            &officer,
            Some(id),
            Action::Submit {},
            now(),
        )
        .unwrap();
    let s = store
        .record(
            &kit.reg,
            &kit.keys[&chief],
            &chief,
            Some(id),
            store
                .case(&id)
                .unwrap()
                .unwrap()
                .decision_action(&kit.reg, Decision::Agree, "同意")
                .unwrap(),
            now(),
        )
        .unwrap();
    assert_eq!(s.status, Status::InReview);
    assert_eq!(s.next_seq, 4);
    drop(store);

    // Reopen: everything is there, verifies and replays to the same state.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let events = store.events(&id).unwrap();
    assert_eq!(events.len(), 4);
    let keys = kit.public();
    verify_chain(&events, |a, _| keys.get(a)).unwrap();
    let hashes: Vec<String> = events.iter().map(|e| e.hash_hex()).collect();
    let replayed = jingwu_core::case::CaseState::replay(
        events
            .iter()
            .zip(&hashes)
            .map(|(e, h)| (&e.event, h.as_str())),
        &kit.reg,
    )
    .unwrap();
    assert_eq!(Some(replayed), store.case(&id).unwrap());
    // The outbox holds the four events in the order they were made.
    let out = store.outbox(100).unwrap();
    assert_eq!(
        out.iter().map(|p| p.event.event.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(
        store.attachment(&scan.sm3).unwrap().unwrap(),
        b"\xff\xd8\xff\xe0 fake jpeg body"
    );
    let list = store.list_cases(10).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, Status::InReview);
}

#[test]
fn a_refused_event_changes_nothing() {
    let kit = Kit::new();
    let mut store = Store::open_in_memory().unwrap();
    let id = kit.create(&mut store, now()).unwrap();
    let section = kit.holder("户政股", "股长");
    let before = store.case(&id).unwrap();
    let err = store
        .record(
            &kit.reg,
            &kit.keys[&section],
            &section,
            Some(id),
            Action::Decide {
                step: "station_chief".into(),
                decision: Decision::Agree,
                opinion: String::new(),
                case_no: String::new(),
                summary: String::new(),
            },
            now(),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err}");
    assert!(err.to_string().contains("不能审批"), "{err}");
    assert_eq!(store.case(&id).unwrap(), before);
    assert_eq!(store.events(&id).unwrap().len(), 1);
    assert_eq!(store.outbox_len().unwrap(), 1);
}

#[test]
fn events_from_elsewhere_are_verified_and_idempotent() {
    let kit = Kit::new();
    let mut a = Store::open_in_memory().unwrap();
    let mut b = Store::open_in_memory().unwrap();
    let id = kit.create(&mut a, now()).unwrap();
    let ev = a.events(&id).unwrap().remove(0);
    let author_key = kit.keys[&ev.event.author].public_key().clone();
    // A wrong key is refused.
    let other = kit
        .keys
        .values()
        .find(|k| k.public_key() != &author_key)
        .unwrap();
    assert!(matches!(
        b.append(&kit.reg, &ev, other.public_key(), Origin::Remote),
        Err(StoreError::Event(_))
    ));
    let s1 = b
        .append(&kit.reg, &ev, &author_key, Origin::Remote)
        .unwrap();
    let s2 = b
        .append(&kit.reg, &ev, &author_key, Origin::Remote)
        .unwrap();
    assert_eq!(s1, s2);
    assert_eq!(b.events(&id).unwrap().len(), 1);
    // Remote events are not queued for the hub again.
    assert_eq!(b.outbox_len().unwrap(), 0);
    // Outbox bookkeeping.
    a.mark_failed(&ev.event.id, "连接县局失败").unwrap();
    let p = a.outbox(10).unwrap();
    assert_eq!(
        (p[0].attempts, p[0].last_error.as_deref()),
        (1, Some("连接县局失败"))
    );
    a.mark_sent(&ev.event.id).unwrap();
    assert_eq!(a.outbox_len().unwrap(), 0);
}

#[test]
fn case_numbers_are_unique_per_unit_and_day() {
    let mut store = Store::open_in_memory().unwrap();
    let d = time::macros::date!(2026 - 11 - 27);
    let fp = "3fa90c1b".repeat(8);
    let a = store.next_case_no("522634580000", &fp, d).unwrap();
    let b = store.next_case_no("522634580000", &fp, d).unwrap();
    let c = store.next_case_no("522634510000", &fp, d).unwrap();
    let e = store
        .next_case_no("522634580000", &fp, d.next_day().unwrap())
        .unwrap();
    let i = jingwu_core::caseno::issuer_of(&fp, &store.device_id().unwrap());
    assert_eq!(a, format!("522634580000-20261127-{i}-0001"));
    assert_eq!(b, format!("522634580000-20261127-{i}-0002"));
    assert_eq!(c, format!("522634510000-20261127-{i}-0001"));
    assert_eq!(e, format!("522634580000-20261128-{i}-0001"));
    // Another store (another PC, or the same key copied there) numbers in
    // its own space.
    let mut other = Store::open_in_memory().unwrap();
    let o = other.next_case_no("522634580000", &fp, d).unwrap();
    assert_ne!(o, a);
    assert!(o.ends_with("-0001"), "{o}");
}

#[test]
fn attachments_are_content_addressed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = Store::open(&path).unwrap();
    let a = store
        .put_attachment(b"page one", "a.png", "image/png")
        .unwrap();
    let b = store
        .put_attachment(b"page one", "copy.png", "image/png")
        .unwrap();
    assert_eq!(a.sm3, b.sm3);
    assert_eq!(a.sm3, jingwu_core::crypto::sm3_hex(b"page one"));
    assert!(matches!(
        store.put_attachment(b"", "e", "image/png"),
        Err(StoreError::EmptyAttachment)
    ));
    drop(store);
    // Corrupt the stored bytes behind the store's back: reading notices.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE attachments SET data = x'00'", [])
        .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert!(matches!(
        store.attachment(&a.sm3),
        Err(StoreError::Corrupt(_))
    ));
    assert!(store.attachment(&"0".repeat(64)).unwrap().is_none());
}

/// The database and SQLite's `-wal`/`-shm` are the owner's only (0600),
/// after a write too, and files left with a looser mode are tightened
/// when the store is opened.
#[cfg(unix)]
#[test]
fn store_files_are_private_to_the_owner() {
    use jingwu_store::private_fs::mode_of;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.db");
    let sidecar = |s: &str| {
        let mut p = path.clone().into_os_string();
        p.push(s);
        std::path::PathBuf::from(p)
    };
    let mut store = Store::open(&path).unwrap();
    store
        .put_attachment(b"a scanned page", "p.png", "image/png")
        .unwrap();
    store.set_meta("k", Some("v")).unwrap();
    for p in [path.clone(), sidecar("-wal"), sidecar("-shm")] {
        assert!(p.exists(), "{} missing", p.display());
        assert_eq!(
            format!("{:o}", mode_of(&p).unwrap()),
            "600",
            "{}",
            p.display()
        );
    }

    // Files an older version left world-readable: a second connection
    // keeps the -wal/-shm in place while the store is reopened.
    let other = rusqlite::Connection::open(&path).unwrap();
    let _: i64 = other
        .query_row("SELECT count(*) FROM meta", [], |r| r.get(0))
        .unwrap();
    for p in [path.clone(), sidecar("-wal"), sidecar("-shm")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    drop(store);
    let store = Store::open(&path).unwrap();
    for p in [path.clone(), sidecar("-wal"), sidecar("-shm")] {
        assert_eq!(
            format!("{:o}", mode_of(&p).unwrap()),
            "600",
            "{}",
            p.display()
        );
    }
    drop((store, other));
}

/// A hub session token an older version kept in clear in `meta` is
/// erased when the store is opened: gone from the table and from the
/// bytes of the file and its WAL.
#[test]
fn a_clear_session_token_left_by_an_older_version_is_erased() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.db");
    let token = "Zq3tVYx1bS8pWcK0mN7aJ5dF2hG9rT4u";
    let files = |path: &std::path::Path| -> Vec<u8> {
        let mut all = std::fs::read(path).unwrap();
        for s in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_os_string();
            p.push(s);
            all.extend(std::fs::read(p).unwrap_or_default());
        }
        all
    };
    let holds = |bytes: &[u8]| bytes.windows(token.len()).any(|w| w == token.as_bytes());
    {
        // A schema-5 store (the last before the token left it) as the
        // older version left it.
        let mut store = Store::open(&path).unwrap();
        store.set_meta("hub_token", Some(token)).unwrap();
        store.set_meta("hub_url", Some("https://hub")).unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 5).unwrap();
    }
    assert!(holds(&files(&path)), "the test's old store holds no token");
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        jingwu_store::SCHEMA_VERSION
    );
    assert_eq!(store.meta("hub_token").unwrap(), None);
    assert_eq!(
        store.meta("hub_url").unwrap().as_deref(),
        Some("https://hub")
    );
    assert!(!holds(&files(&path)), "the token is still in the file");
    drop(store);
    assert!(!holds(&files(&path)), "the token is still in the file");
}

#[test]
fn keys_are_stored_encrypted_and_old_keys_kept() {
    let mut store = Store::open_in_memory().unwrap();
    let k1 = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let k2 = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let e1 = k1
        .seal("135790", KdfParams::TEST_ONLY, &mut getrandom::SysRng)
        .unwrap();
    let e2 = k2
        .seal("135790", KdfParams::TEST_ONLY, &mut getrandom::SysRng)
        .unwrap();
    store.save_key("052601", &e1).unwrap();
    store.save_key("052601", &e2).unwrap();
    let newest = store.key("052601").unwrap().unwrap();
    assert_eq!(
        newest.unlock("135790").unwrap().public_key(),
        k2.public_key()
    );
    // The old key still verifies old events.
    let fp1 = k1.public_key().fingerprint();
    assert_eq!(
        store.public_key("052601", &fp1).unwrap().as_ref(),
        Some(k1.public_key())
    );
    assert!(store.key("nobody").unwrap().is_none());
}

#[test]
fn migrations_are_recorded_and_a_newer_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        jingwu_store::SCHEMA_VERSION
    );
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = Store::open(&path).err().unwrap();
    assert!(err.to_string().contains("升级"), "{err}");
}

/// The child side of the crash test: writes events forever, printing each
/// event id once `record` has returned. Run only by `crash_recovery`.
#[test]
#[ignore = "run as a child process by crash_recovery"]
fn crash_child_writer() {
    let Ok(path) = std::env::var("JINGWU_CRASH_DB") else {
        return;
    };
    let kit = Kit::new();
    let mut store = Store::open(std::path::Path::new(&path)).unwrap();
    let officer = kit.holder("方祥派出所", "户籍民警");
    for (person, key) in &kit.keys {
        store.save_public_key(person, key.public_key()).unwrap();
    }
    let mut out = std::io::stdout().lock();
    loop {
        let id = kit.create(&mut store, now()).unwrap();
        let s = store.case(&id).unwrap().unwrap();
        writeln!(out, "written {} {}", id, s.head).unwrap();
        out.flush().unwrap();
        for i in 0..3 {
            let s = store
                .record(
                    &kit.reg,
                    &kit.keys[&officer],
                    &officer,
                    Some(id),
                    Action::UpdateForm {
                        changes: [("remarks".to_string(), json!(format!("第 {i} 次修改")))].into(),
                    },
                    now(),
                )
                .unwrap();
            writeln!(out, "written {} {}", id, s.head).unwrap();
            out.flush().unwrap();
        }
    }
}

/// SIGKILLs a writer at random moments; after each kill, every event the
/// writer reported is there, the file is sound, and every case verifies.
#[test]
fn crash_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut reported: Vec<(Uuid, String)> = Vec::new();
    let mut seed = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64 | 1;
    for round in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = 5 + (seed % 60) as usize;
        let mut child = Command::new(&exe)
            .args([
                "crash_child_writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("JINGWU_CRASH_DB", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        while seen < kill_after {
            let Some(line) = lines.next() else {
                panic!("round {round}: writer stopped early");
            };
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("written ") {
                let mut it = rest.split(' ');
                let id = Uuid::parse_str(it.next().unwrap()).unwrap();
                reported.push((id, it.next().unwrap().to_string()));
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let kit = Kit::new();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        for (case, head) in &reported {
            let events = store.events(case).unwrap();
            assert!(
                events.iter().any(|e| &e.hash_hex() == head),
                "round {round}: reported event {head} of case {case} is missing"
            );
            // Every signature and link verifies with the keys in the store.
            assert_eq!(store.verified_events(case).unwrap(), events);
            let hashes: Vec<String> = events.iter().map(|e| e.hash_hex()).collect();
            let replayed = jingwu_core::case::CaseState::replay(
                events
                    .iter()
                    .zip(&hashes)
                    .map(|(e, h)| (&e.event, h.as_str())),
                &kit.reg,
            )
            .unwrap();
            assert_eq!(Some(replayed), store.case(case).unwrap());
        }
    }
    assert!(reported.len() >= 20);
}

/// A stored seal keeps its content; a later copy only brings its
/// revocation, and a revocation is never undone.
#[test]
fn seals_keep_their_content_and_take_revocations() {
    let mut store = Store::open_in_memory().unwrap();
    let seal = jingwu_store::StoredSeal {
        id: "052637-20261127-abcdef".into(),
        kind: "personal".into(),
        holder: "052637".into(),
        holder_key: "aa".repeat(32),
        seal_json: "{\"original\":true}".into(),
        registered_at: "2026-11-27T10:00:00Z".into(),
        revoked_at: None,
        revoked_by: None,
    };
    store.save_seal(&seal).unwrap();
    let revoked = jingwu_store::StoredSeal {
        seal_json: "{\"replaced\":true}".into(),
        revoked_at: Some("2026-11-28T10:00:00Z".into()),
        revoked_by: Some("052644".into()),
        ..seal.clone()
    };
    store.save_seal(&revoked).unwrap();
    let got = store.seals().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].seal_json, seal.seal_json);
    assert_eq!(got[0].revoked_at.as_deref(), Some("2026-11-28T10:00:00Z"));
    // Fetched again without the revocation (an old copy): stays revoked.
    store.save_seal(&seal).unwrap();
    assert_eq!(
        store.seals().unwrap()[0].revoked_by.as_deref(),
        Some("052644")
    );
}
