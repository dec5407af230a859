//! The storage suite: every case written once against [`HubDb`] and run
//! on SQLite (a file in a temporary directory) and on PostgreSQL (a fresh
//! schema on the test server, dropped afterwards; `JINGWU_TEST_PG`
//! overrides `postgres://root@127.0.0.1:5432/test`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jingwu_core::case::CaseState;
use uuid::Uuid;

use super::sql::{args, Conn};
use super::store::MIGRATIONS;
use super::*;
use super::{postgres as pg, sqlite as lite};

/// The PostgreSQL test server.
pub(crate) fn base_url() -> String {
    std::env::var("JINGWU_TEST_PG").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
}

pub(crate) fn pg_admin() -> ::postgres::Client {
    ::postgres::Config::from_str(&base_url())
        .unwrap()
        .connect(::postgres::NoTls)
        .unwrap()
}

/// A fresh PostgreSQL schema, dropped (with everything in it) at the end.
pub(crate) struct PgScratch {
    pub(crate) schema: String,
}

impl PgScratch {
    pub(crate) fn new() -> PgScratch {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        PgScratch {
            schema: format!("t_{}", hex::encode(b)),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("{}?schema={}", base_url(), self.schema)
    }

    pub(crate) fn open(&self) -> pg::PgDb {
        pg::PgDb::open(&self.url()).unwrap()
    }

    /// A plain connection with the schema on its search path.
    pub(crate) fn client(&self) -> ::postgres::Client {
        let mut c = pg_admin();
        c.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{0}\"; SET search_path TO \"{0}\"",
            self.schema
        ))
        .unwrap();
        c
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        if let Ok(mut c) = ::postgres::Config::from_str(&base_url())
            .unwrap()
            .connect(::postgres::NoTls)
        {
            let _ = c.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ));
        }
    }
}

/// A place for one database of either backend.
pub(crate) enum Scratch {
    Sqlite(tempfile::TempDir),
    Pg(PgScratch),
}

impl Scratch {
    fn sqlite() -> Scratch {
        Scratch::Sqlite(tempfile::tempdir().unwrap())
    }

    fn pg() -> Scratch {
        Scratch::Pg(PgScratch::new())
    }

    fn path(&self) -> std::path::PathBuf {
        match self {
            Scratch::Sqlite(d) => d.path().join("hub.db"),
            Scratch::Pg(_) => panic!("not SQLite"),
        }
    }

    fn try_open(&self) -> DbResult<Arc<dyn HubDb>> {
        Ok(match self {
            Scratch::Sqlite(_) => Arc::new(lite::SqliteDb::open(&self.path())?),
            Scratch::Pg(s) => Arc::new(pg::PgDb::open(&s.url())?),
        })
    }

    fn open(&self) -> Arc<dyn HubDb> {
        self.try_open().unwrap()
    }

    /// Runs `f` on a plain connection to the database, outside the store.
    fn raw<T>(&self, f: impl FnOnce(&mut dyn Conn) -> T) -> T {
        match self {
            Scratch::Sqlite(_) => {
                let c = rusqlite::Connection::open(self.path()).unwrap();
                f(&mut lite::Lite(&c))
            }
            Scratch::Pg(s) => {
                let mut c = s.client();
                let mut stmts = Default::default();
                f(&mut pg::Pg::client(&mut c, &mut stmts, &s.schema))
            }
        }
    }

    /// The schema version recorded in the database.
    fn version(&self) -> i64 {
        self.raw(|c| match c.dialect() {
            sql::Dialect::Sqlite => c.query_one(lite::GET_VERSION, &[]),
            sql::Dialect::Postgres => c.query_one(pg::GET_VERSION, &[]),
        })
        .unwrap()
        .i64(0)
        .unwrap()
    }

    /// Records schema version `v` (the tables are made by the caller).
    fn set_version(&self, v: i64) {
        self.raw(|c| match c.dialect() {
            sql::Dialect::Sqlite => c.batch(&format!("PRAGMA user_version = {v}")),
            sql::Dialect::Postgres => {
                c.batch(pg::VERSION_TABLE)?;
                c.execute(pg::SET_VERSION, args![v]).map(|_| ())
            }
        })
        .unwrap()
    }
}

/// Each case, once on SQLite and once on PostgreSQL.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&super::Scratch::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&super::Scratch::pg()) } )*
        }
    };
}

both_backends!(
    migrations_are_idempotent,
    scoping_migration_backfills_attachments_of_cases,
    users_sessions_enrolments,
    hosted_keys_seals_and_login_counters,
    push_commits_or_rolls_back,
    a_rolled_back_savepoint_leaves_the_rest_of_the_push,
    events_after_respects_access_and_cursor,
    uploads,
    concurrent_pushes_are_ordered_without_gaps,
    the_store_recovers_after_a_panic_inside_a_push,
    sql_conditions_and_sums_agree_with_the_core,
    rollups_follow_every_change_of_a_record,
    sms_outbox_rows_are_claimed_once,
);

fn sms_row(case: &Uuid) -> SmsRow {
    SmsRow {
        id: Uuid::now_v7().to_string(),
        case_id: case.to_string(),
        case_no: "NO-1".into(),
        phone: "13985500123".into(),
        result: "同意".into(),
        result_date: "2026-12-03".into(),
        created_at: "2026-12-03T01:00:00Z".into(),
        state: "pending".into(),
        attempts: 0,
        next_try: 0,
        sent_at: None,
        last_error: None,
    }
}

fn sms_outbox_rows_are_claimed_once(s: &Scratch) {
    let db = s.open();
    let db = db.as_ref();
    let case = Uuid::now_v7();
    // A refused push leaves no row.
    let r = db.push(&mut |tx| {
        assert!(tx.queue_sms(&sms_row(&case))?);
        Err(DbError::Backend("refused".into()))
    });
    assert!(r.is_err());
    assert!(db.sms_outbox().unwrap().is_empty());
    // One row per case.
    let row = sms_row(&case);
    push(db, |tx| {
        assert!(tx.queue_sms(&row)?);
        assert!(!tx.queue_sms(&sms_row(&case))?);
        Ok(())
    })
    .unwrap();
    assert_eq!(db.sms_outbox().unwrap(), vec![row.clone()]);
    assert_eq!(db.sms_next_try().unwrap(), Some(0));
    // Claimed: counted and leased; nobody else gets it meanwhile.
    let c = db.sms_claim(1000, 5000).unwrap().unwrap();
    assert_eq!(
        (c.id.as_str(), c.attempts, c.next_try),
        (row.id.as_str(), 1, 5000)
    );
    assert_eq!(db.sms_claim(1000, 5000).unwrap(), None);
    db.sms_retry(&row.id, 2000, "503").unwrap();
    assert_eq!(db.sms_claim(1999, 9000).unwrap(), None);
    let c = db.sms_claim(2000, 9000).unwrap().unwrap();
    assert_eq!((c.attempts, c.last_error.as_deref()), (2, Some("503")));
    db.sms_sent(&row.id, "2026-12-03T01:00:02Z").unwrap();
    assert_eq!(db.sms_claim(i64::MAX, i64::MAX).unwrap(), None);
    assert_eq!(db.sms_next_try().unwrap(), None);
    let sent = &db.sms_outbox().unwrap()[0];
    assert_eq!(
        (sent.state.as_str(), sent.last_error.as_deref()),
        ("sent", None)
    );
    // A permanent refusal.
    let other = sms_row(&Uuid::now_v7());
    push(db, |tx| tx.queue_sms(&other).map(|_| ())).unwrap();
    db.sms_claim(0, 10).unwrap().unwrap();
    db.sms_failed(&other.id, "400").unwrap();
    assert_eq!(db.sms_claim(i64::MAX, i64::MAX).unwrap(), None);
    let rows = db.sms_outbox().unwrap();
    assert_eq!(rows.iter().filter(|r| r.state == "failed").count(), 1);
}

pub(crate) struct Ev {
    pub(crate) id: Uuid,
    pub(crate) case_id: Uuid,
    pub(crate) seq: i64,
    pub(crate) bytes: Vec<u8>,
}

impl Ev {
    pub(crate) fn new(case_id: Uuid, seq: i64) -> Ev {
        let id = Uuid::now_v7();
        Ev {
            id,
            case_id,
            seq,
            bytes: format!("event {id}").into_bytes(),
        }
    }

    pub(crate) fn new_event(&self) -> NewEvent<'_> {
        NewEvent {
            id: &self.id,
            case_id: &self.case_id,
            seq: self.seq,
            bytes: &self.bytes,
            signature: b"sig",
            hash: "hash",
            author: "p1",
            kind: "create",
            received_at: "2026-01-01T00:00:00Z",
        }
    }
}

/// A push whose closure fails with storage errors only.
pub(crate) fn push(
    db: &dyn HubDb,
    mut f: impl FnMut(&mut dyn EventTx) -> DbResult<()>,
) -> DbResult<()> {
    db.push(&mut f)
}

/// Pushes one event of `case_id` visible to `persons`; its gseq.
pub(crate) fn push_one(db: &dyn HubDb, ev: &Ev, persons: &[&str]) -> i64 {
    let persons: Vec<String> = persons.iter().map(|p| p.to_string()).collect();
    let mut gseq = 0;
    push(db, |tx| {
        gseq = tx.insert_event(&ev.new_event())?;
        tx.grant(&ev.case_id, &persons)
    })
    .unwrap();
    gseq
}

fn case_state(case_id: Uuid, no: &str, status: &str, updated: &str) -> CaseState {
    serde_json::from_value(serde_json::json!({
        "case_id": case_id,
        "case_type": "incident",
        "template": {"id": "incident", "version": 1},
        "workflow": null,
        "case_no": no,
        "unit": "u1",
        "initiator": "p1",
        "created_at": "2026-01-01T00:00:00Z",
        "form": {},
        "status": status,
        "route": null,
        "step_index": null,
        "step_since": "2026-01-01T00:00:00Z",
        "trail": [],
        "implemented": null,
        "informed": null,
        "dispatch": null,
        "dispatch_history": [],
        "next_seq": 1,
        "head": "abc",
        "updated_at": updated,
        "last_send": null
    }))
    .unwrap()
}

fn migrations_are_idempotent(s: &Scratch) {
    let db = s.open();
    db.meta_set("k", "v1").unwrap();
    drop(db);
    let db = s.open();
    assert_eq!(db.meta_get("k").unwrap().as_deref(), Some("v1"));
    db.meta_set("k", "v2").unwrap();
    assert_eq!(db.meta_get("k").unwrap().as_deref(), Some("v2"));
    assert_eq!(db.meta_get("nope").unwrap(), None);
    assert_eq!(db.meta_init("k", "v3").unwrap(), "v2");
    assert_eq!(db.meta_init("k2", "v3").unwrap(), "v3");
    assert_eq!(s.version(), MIGRATIONS.len() as i64);
    drop(db);
    // A newer database is refused.
    s.set_version(99);
    match s.try_open() {
        Err(DbError::TooNew {
            found: 99,
            supported,
        }) => assert_eq!(supported, MIGRATIONS.len() as i64),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a newer database"),
    }
}

fn scoping_migration_backfills_attachments_of_cases(s: &Scratch) {
    // A database as the hub left it before attachments were scoped.
    s.raw(|c| {
        for m in &MIGRATIONS[..3] {
            c.batch(m.sql).unwrap();
        }
    });
    s.set_version(3);
    let (case, other) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    let sm3 = "ab".repeat(32);
    let attach = format!(
        r#"{{"case_id":"{case}","kind":"attach","payload":{{"attachment":{{"mime":"image/png","name":"a.png","size":3,"sm3":"{sm3}"}},"field":"scans"}}}}"#
    );
    s.raw(|c| {
        for (i, (case_id, kind, bytes)) in [
            (&case, "create", b"not json: never read".to_vec()),
            (&case, "attach", attach.into_bytes()),
            (
                &other,
                "attach",
                br#"{"kind":"attach","payload":{}}"#.to_vec(),
            ),
            (&other, "attach", b"not json".to_vec()),
        ]
        .into_iter()
        .enumerate()
        {
            c.execute(
                "INSERT INTO events(id, case_id, seq, bytes, signature, hash, author, kind,
                   received_at) VALUES($1, $2, $3, $4, $5, 'h', 'p1', $6, 't')",
                args![
                    &Uuid::now_v7().to_string(),
                    case_id,
                    i as i64,
                    &bytes,
                    &b"\x00"[..],
                    kind
                ],
            )
            .unwrap();
        }
        c.execute(
            "INSERT INTO case_access(case_id, person) VALUES($1, 'p1')",
            args![&case],
        )
        .unwrap();
        c.execute(
            "INSERT INTO attachments(sm3, mime, size, data, created_at)
             VALUES($1, 'image/png', 3, $2, 't')",
            args![&sm3, &[1u8, 2, 3][..]],
        )
        .unwrap();
        c.execute(
            "INSERT INTO uploads(sm3, size, mime, received) VALUES('cd', 5, 'image/png', 2)",
            &[],
        )
        .unwrap();
    });
    let db = s.open();
    assert_eq!(s.version(), MIGRATIONS.len() as i64);
    assert!(db.attachment_in_scope("p1", &sm3).unwrap());
    assert!(!db.attachment_in_scope("p2", &sm3).unwrap());
    assert_eq!(
        db.attachment(&sm3).unwrap(),
        Some(("image/png".into(), vec![1, 2, 3]))
    );
    // The old unfinished upload had no owner: gone.
    assert_eq!(db.upload("p1", "cd").unwrap(), None);
    let n = s.raw(|c| {
        c.query_one("SELECT count(*) FROM case_attachments", &[])
            .unwrap()
            .i64(0)
            .unwrap()
    });
    assert_eq!(n, 1);
}

fn users_sessions_enrolments(s: &Scratch) {
    let db = s.open();
    let u = UserRow {
        person: "p2".into(),
        password_hash: "$argon2id$x".into(),
        is_admin: true,
        disabled: false,
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    assert!(db.insert_user(&u).unwrap());
    assert!(!db.insert_user(&u).unwrap());
    let u1 = UserRow {
        person: "p1".into(),
        is_admin: false,
        disabled: true,
        ..u.clone()
    };
    assert!(db.insert_user(&u1).unwrap());
    assert_eq!(db.user("p2").unwrap(), Some(u.clone()));
    assert_eq!(db.user("p3").unwrap(), None);
    assert_eq!(db.users().unwrap(), vec![u1, u.clone()]);
    // An administrator's changes: enable / disable, a new password.
    assert!(db.set_user_disabled("p1", false).unwrap());
    assert!(!db.user("p1").unwrap().unwrap().disabled);
    assert!(db.set_user_disabled("p1", true).unwrap());
    assert!(db.user("p1").unwrap().unwrap().disabled);
    assert!(!db.set_user_disabled("p3", true).unwrap());
    assert!(db.set_password_hash("p2", "$argon2id$y").unwrap());
    assert_eq!(db.user("p2").unwrap().unwrap().password_hash, "$argon2id$y");
    assert!(!db.set_password_hash("p3", "$argon2id$y").unwrap());
    assert!(db.set_password_hash("p2", &u.password_hash).unwrap());

    let sess = SessionRow {
        token_hash: "t1".into(),
        person: "p1".into(),
        device: Some("d1".into()),
        created_at: 100,
        last_seen: 100,
        revoked: false,
    };
    db.insert_session(&sess).unwrap();
    db.insert_session(&SessionRow {
        token_hash: "t2".into(),
        device: None,
        ..sess.clone()
    })
    .unwrap();
    assert!(db.insert_session(&sess).is_err());
    assert_eq!(db.session("t1").unwrap(), Some(sess.clone()));
    db.touch_session("t1", 150).unwrap();
    db.touch_session("t1", 120).unwrap();
    assert_eq!(db.session("t1").unwrap().unwrap().last_seen, 150);
    db.revoke_session("t1").unwrap();
    assert!(db.session("t1").unwrap().unwrap().revoked);
    assert_eq!(db.session("t2").unwrap().unwrap().device, None);
    assert_eq!(db.revoke_sessions_of("p1").unwrap(), 1);
    assert_eq!(db.revoke_sessions_of("p1").unwrap(), 0);
    assert_eq!(db.session("nope").unwrap(), None);

    let e1 = EnrolmentRow {
        id: "e1".into(),
        device: "d1".into(),
        device_name: "前台电脑".into(),
        person: "p1".into(),
        fingerprint: "fp1".into(),
        pem: "PEM1".into(),
        status: "pending".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        decided_by: None,
        decided_at: None,
    };
    let e2 = EnrolmentRow {
        id: "e2".into(),
        fingerprint: "fp2".into(),
        pem: "PEM2".into(),
        created_at: "2026-01-02T00:00:00Z".into(),
        ..e1.clone()
    };
    db.insert_enrolment(&e1).unwrap();
    db.insert_enrolment(&e2).unwrap();
    assert!(db
        .insert_enrolment(&EnrolmentRow {
            id: "e3".into(),
            status: "bogus".into(),
            ..e1.clone()
        })
        .is_err());
    assert_eq!(db.enrolment("e1").unwrap(), Some(e1.clone()));
    assert_eq!(db.enrolment("e9").unwrap(), None);
    assert_eq!(db.enrolments(None).unwrap(), vec![e2.clone(), e1.clone()]);
    assert_eq!(db.enrolments(Some("pending")).unwrap().len(), 2);
    assert!(db.enrolments(Some("approved")).unwrap().is_empty());
    assert!(db
        .decide_enrolment("e1", "pending", "approved", "admin", "2026-01-03T00:00:00Z")
        .unwrap());
    assert!(!db
        .decide_enrolment("e1", "pending", "rejected", "admin", "2026-01-03T00:00:00Z")
        .unwrap());
    let d = db.enrolment("e1").unwrap().unwrap();
    assert_eq!(d.status, "approved");
    assert_eq!(d.decided_by.as_deref(), Some("admin"));
    assert_eq!(d.decided_at.as_deref(), Some("2026-01-03T00:00:00Z"));
    assert_eq!(
        db.approved_key("p1", "fp1").unwrap().as_deref(),
        Some("PEM1")
    );
    assert_eq!(db.approved_key("p1", "fp2").unwrap(), None);
    assert_eq!(
        db.approved_keys().unwrap(),
        vec![("p1".into(), "fp1".into(), "PEM1".into())]
    );
    assert_eq!(db.enrolments(Some("approved")).unwrap(), vec![d]);
}

fn hosted_keys_seals_and_login_counters(s: &Scratch) {
    let db = s.open();
    assert_eq!(db.hosted_key("p1").unwrap(), None);
    assert_eq!(db.hosted_key_attempt("p1", 10).unwrap(), None);
    let k = HostedKeyRow {
        person: "p1".into(),
        enrolment_id: "e1".into(),
        fingerprint: "fp".into(),
        sealed: "{}".into(),
        failures: 0,
        locked_until: 0,
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    db.put_hosted_key(&k).unwrap();
    assert_eq!(db.hosted_key("p1").unwrap(), Some(k.clone()));
    assert_eq!(db.hosted_key_attempt("p1", 10).unwrap(), Some(1));
    assert_eq!(db.hosted_key_attempt("p1", 10).unwrap(), Some(2));
    db.set_hosted_key_failures("p1", 5, 100).unwrap();
    assert_eq!(db.hosted_key_attempt("p1", 50).unwrap(), None);
    assert_eq!(db.hosted_key_attempt("p1", 100).unwrap(), Some(6));
    let k2 = HostedKeyRow {
        fingerprint: "fp2".into(),
        ..k.clone()
    };
    db.put_hosted_key(&k2).unwrap();
    assert_eq!(db.hosted_key("p1").unwrap(), Some(k2));

    let seal = |id: &str, at: &str| SealRow {
        id: id.into(),
        kind: "unit".into(),
        holder: "u1".into(),
        holder_key: "fp".into(),
        seal_json: "{}".into(),
        registered_at: at.into(),
        registered_by: "admin".into(),
        revoked_at: None,
        revoked_by: None,
    };
    assert!(db.insert_seal(&seal("s2", "2026-01-02")).unwrap());
    assert!(db.insert_seal(&seal("s1", "2026-01-03")).unwrap());
    assert!(!db.insert_seal(&seal("s1", "2026-01-04")).unwrap());
    assert!(db.revoke_seal("s1", "admin", "2026-01-05").unwrap());
    assert!(!db.revoke_seal("s1", "admin", "2026-01-06").unwrap());
    assert!(!db.revoke_seal("s9", "admin", "2026-01-06").unwrap());
    let all = db.seals().unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec!["s2", "s1"]
    );
    assert_eq!(all[1].revoked_at.as_deref(), Some("2026-01-05"));
    assert_eq!(all[1].revoked_by.as_deref(), Some("admin"));

    let keys = vec!["b".to_string(), "a".to_string()];
    db.login_counters(&keys, 0, &mut |rows| {
        assert_eq!(rows[0], LoginCounter::new("b"));
        rows[0].failures = 2;
        rows[0].last_failure = 10;
        rows[1].locked_until = 50;
    })
    .unwrap();
    db.login_counters(&keys, 20, &mut |rows| {
        assert_eq!((rows[0].failures, rows[0].last_failure), (2, 10));
        assert_eq!(rows[1].locked_until, 50);
    })
    .unwrap();
    // Pruned: no attempt since 20 and not locked.
    db.login_counters(&keys, 20, &mut |rows| {
        assert_eq!(rows[0], LoginCounter::new("b"));
        assert_eq!(rows[1].locked_until, 50);
    })
    .unwrap();
}

/// A refusal of the push closure's own.
#[derive(Debug, PartialEq)]
enum Refusal {
    Stale,
    Db(String),
}

impl From<DbError> for Refusal {
    fn from(e: DbError) -> Refusal {
        Refusal::Db(e.to_string())
    }
}

fn push_commits_or_rolls_back(s: &Scratch) {
    let db = s.open();
    let db = db.as_ref();
    let case = Uuid::now_v7();
    let ev0 = Ev::new(case, 0);
    let state = case_state(case, "NO-1", "received", "2026-01-01T00:00:00Z");
    let mut gseq = 0;
    push(db, |tx| {
        assert_eq!(tx.case_state(&case)?, None);
        assert!(!tx.can_see("p1", &case)?);
        gseq = tx.insert_event(&ev0.new_event())?;
        tx.put_case(&state)?;
        tx.grant(&case, &["p1".into(), "p2".into(), "p1".into()])?;
        tx.grant(&case, &["p1".into()])?;
        tx.grant(&case, &[])?;
        // Writes are visible inside the transaction.
        assert_eq!(tx.event_hash(&ev0.id)?.as_deref(), Some("hash"));
        assert!(tx.can_see("p2", &case)?);
        assert_eq!(tx.case_state(&case)?, Some(state.clone()));
        assert!(!tx.holds_attachment("p1", "x")?);
        assert!(tx.attachment_cases("x")?.is_empty());
        assert!(!tx.case_no_taken("NO-1", &case)?);
        assert!(tx.case_no_taken("NO-1", &Uuid::now_v7())?);
        Ok(())
    })
    .unwrap();
    assert!(gseq > 0);
    assert_eq!(db.counts().unwrap(), (1, 1));
    assert_eq!(db.max_gseq().unwrap(), gseq);
    assert!(db.can_see("p2", &case).unwrap());
    assert!(!db.can_see("p3", &case).unwrap());
    assert_eq!(db.case_state(&case).unwrap(), Some(state.clone()));
    assert_eq!(db.case_state(&Uuid::now_v7()).unwrap(), None);
    push(db, |tx| {
        assert!(tx.case_no_taken("NO-1", &Uuid::now_v7())?);
        assert!(!tx.case_no_taken("NO-1", &case)?);
        Ok(())
    })
    .unwrap();

    // A refusal rolls everything back and comes out unchanged.
    let ev1 = Ev::new(case, 1);
    let err = db
        .push(&mut |tx| {
            tx.insert_event(&ev1.new_event())?;
            tx.grant(&case, &["p3".into()])?;
            tx.put_case(&case_state(
                case,
                "NO-1",
                "archived",
                "2026-01-02T00:00:00Z",
            ))?;
            Err(Refusal::Stale)
        })
        .unwrap_err();
    assert_eq!(err, Refusal::Stale);
    assert_eq!(db.counts().unwrap(), (1, 1));
    assert!(!db.can_see("p3", &case).unwrap());
    assert_eq!(db.case_state(&case).unwrap(), Some(state.clone()));

    // A database error (duplicate seq) also rolls back.
    let dup = Ev::new(case, 0);
    let err = push(db, |tx| {
        tx.grant(&case, &["p4".into()])?;
        tx.insert_event(&dup.new_event())?;
        Ok(())
    })
    .unwrap_err();
    assert!(matches!(err, DbError::Backend(_)), "{err:?}");
    assert!(!db.can_see("p4", &case).unwrap());
    // So does a failing deferred write (a duplicate case number), which
    // comes out as the closure's error type.
    let case3 = Uuid::now_v7();
    let ev3 = Ev::new(case3, 0);
    let err = db
        .push(&mut |tx| -> Result<(), Refusal> {
            tx.insert_event(&ev3.new_event())?;
            tx.put_case(&case_state(
                case3,
                "NO-1",
                "received",
                "2026-01-01T00:00:00Z",
            ))?;
            tx.grant(&case3, &["p1".into()])?;
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, Refusal::Db(_)), "{err:?}");
    assert_eq!(db.case_state(&case3).unwrap(), None);
    assert!(!db.can_see("p1", &case3).unwrap());
    // The connections are still usable afterwards.
    for _ in 0..20 {
        assert_eq!(db.counts().unwrap(), (1, 1));
    }

    // Update of the projection, and visible_cases.
    let ev1b = Ev::new(case, 1);
    let later = case_state(case, "NO-1", "archived", "2026-01-02T00:00:00Z");
    push(db, |tx| {
        tx.insert_event(&ev1b.new_event())?;
        tx.put_case(&later)
    })
    .unwrap();
    assert_eq!(db.counts().unwrap(), (2, 1));
    assert_eq!(db.case_state(&case).unwrap(), Some(later.clone()));
    let case2 = Uuid::now_v7();
    let other = case_state(case2, "NO-2", "archived", "2026-01-03T00:00:00Z");
    let ev2 = Ev::new(case2, 0);
    push(db, |tx| {
        tx.insert_event(&ev2.new_event())?;
        tx.put_case(&other)?;
        tx.grant(&case2, &["p1".into()])
    })
    .unwrap();
    assert_eq!(
        db.visible_cases("p1", "archived", 10).unwrap(),
        vec![other.clone(), later.clone()]
    );
    assert_eq!(db.visible_cases("p1", "archived", 1).unwrap(), vec![other]);
    assert_eq!(db.visible_cases("p2", "archived", 10).unwrap(), vec![later]);
    assert!(db.visible_cases("p1", "received", 10).unwrap().is_empty());
    let log = db.case_events(&case).unwrap();
    assert_eq!(
        log.iter().map(|e| (e.seq, e.id)).collect::<Vec<_>>(),
        vec![(0, ev0.id), (1, ev1b.id)]
    );
    assert_eq!(log[0].bytes, ev0.bytes);
    assert_eq!(log[0].signature, b"sig");
    assert_eq!(log[0].receipt, None);
    push(db, |tx| tx.set_receipt(log[1].gseq, b"receipt", b"rsig")).unwrap();
    assert_eq!(
        db.case_events(&case).unwrap()[1].receipt,
        Some((b"receipt".to_vec(), b"rsig".to_vec()))
    );
}

fn a_rolled_back_savepoint_leaves_the_rest_of_the_push(s: &Scratch) {
    let db = s.open();
    let db = db.as_ref();
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (a0, b0, c0) = (Ev::new(a, 0), Ev::new(b, 0), Ev::new(c, 0));
    let b1 = Ev::new(b, 1);
    let (sa, sb, sc) = (
        case_state(a, "NO-A", "received", "2026-01-01T00:00:00Z"),
        case_state(b, "NO-B", "received", "2026-01-01T00:00:00Z"),
        case_state(c, "NO-C", "received", "2026-01-01T00:00:00Z"),
    );
    push(db, |tx| {
        // Kept: a, written before any savepoint.
        tx.insert_event(&a0.new_event())?;
        tx.put_case(&sa)?;
        tx.grant(&a, &["p1".into()])?;
        // Undone: b, inside a savepoint rolled back to.
        tx.savepoint("s1")?;
        tx.insert_event(&b0.new_event())?;
        tx.insert_event(&b1.new_event())?;
        tx.put_case(&sb)?;
        tx.grant(&b, &["p1".into()])?;
        tx.grant(&a, &["p2".into()])?;
        assert_eq!(tx.case_state(&b)?, Some(sb.clone()));
        tx.rollback_to("s1")?;
        assert_eq!(tx.event_hash(&b0.id)?, None);
        assert_eq!(tx.case_state(&b)?, None);
        assert!(!tx.can_see("p1", &b)?);
        assert!(!tx.can_see("p2", &a)?);
        assert!(tx.can_see("p1", &a)?);
        tx.release("s1")?;
        // Kept: c, inside a savepoint released.
        tx.savepoint("s2")?;
        tx.insert_event(&c0.new_event())?;
        tx.put_case(&sc)?;
        tx.grant(&c, &["p1".into()])?;
        tx.release("s2")?;
        // A failing write shows at release, and the savepoint can still
        // be rolled back to.
        tx.savepoint("s3")?;
        tx.put_case(&case_state(
            Uuid::now_v7(),
            "NO-A",
            "received",
            "2026-01-01T00:00:00Z",
        ))?;
        assert!(tx.release("s3").is_err());
        tx.rollback_to("s3")?;
        tx.release("s3")?;
        assert!(tx.savepoint("bad name").is_err());
        Ok(())
    })
    .unwrap();
    assert_eq!(db.counts().unwrap(), (2, 2));
    assert_eq!(db.case_state(&a).unwrap(), Some(sa));
    assert_eq!(db.case_state(&b).unwrap(), None);
    assert_eq!(db.case_state(&c).unwrap(), Some(sc));
    assert!(db.case_events(&b).unwrap().is_empty());
    assert!(db.can_see("p1", &a).unwrap());
    assert!(!db.can_see("p2", &a).unwrap());
    assert!(!db.can_see("p1", &b).unwrap());
    assert!(db.can_see("p1", &c).unwrap());
    let got: Vec<Uuid> = db
        .events_after("p1", 0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(got, vec![a0.id, c0.id]);
}

fn events_after_respects_access_and_cursor(s: &Scratch) {
    let db = s.open();
    let db = db.as_ref();
    let a = Uuid::now_v7();
    let b = Uuid::now_v7();
    let a0 = Ev::new(a, 0);
    let b0 = Ev::new(b, 0);
    let a1 = Ev::new(a, 1);
    let g_a0 = push_one(db, &a0, &["p2", "p1"]);
    let g_b0 = push_one(db, &b0, &["p2"]);
    let g_a1 = push_one(db, &a1, &[]);
    assert!(g_a0 < g_b0 && g_b0 < g_a1);
    let c = Uuid::now_v7();
    let g_c0 = push_one(db, &Ev::new(c, 0), &[]);

    let ids = |rows: Vec<EventRow>| rows.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.events_after("p1", 0, 100).unwrap()),
        vec![a0.id, a1.id]
    );
    assert_eq!(
        ids(db.events_after("p2", 0, 100).unwrap()),
        vec![a0.id, b0.id, a1.id]
    );
    assert_eq!(
        ids(db.events_after("p2", g_a0, 100).unwrap()),
        vec![b0.id, a1.id]
    );
    assert_eq!(ids(db.events_after("p2", 0, 1).unwrap()), vec![a0.id]);
    assert!(db.events_after("p1", g_a1, 100).unwrap().is_empty());
    assert!(db.events_after("p3", 0, 100).unwrap().is_empty());
    let row = &db.events_after("p1", 0, 1).unwrap()[0];
    assert_eq!(
        (row.gseq, row.case_id, row.seq, &row.bytes[..]),
        (g_a0, a, 0, &a0.bytes[..])
    );

    let feed = db.feed_after(0, 100).unwrap();
    let got: Vec<(i64, Vec<String>)> = feed.into_iter().map(|(e, v)| (e.gseq, v)).collect();
    let p12 = vec!["p1".to_string(), "p2".to_string()];
    assert_eq!(
        got,
        vec![
            (g_a0, p12.clone()),
            (g_b0, vec!["p2".to_string()]),
            (g_a1, p12),
            (g_c0, vec![]),
        ]
    );
    // The limit counts events, not viewers.
    let two = db.feed_after(0, 2).unwrap();
    assert_eq!(
        two.iter().map(|(e, _)| e.id).collect::<Vec<_>>(),
        vec![a0.id, b0.id]
    );
    assert_eq!(two[0].0.bytes, a0.bytes);
    assert_eq!(db.feed_after(g_b0, 1).unwrap()[0].0.id, a1.id);
    assert!(db.feed_after(g_c0, 100).unwrap().is_empty());
    assert_eq!(db.max_gseq().unwrap(), g_c0);
}

fn uploads(s: &Scratch) {
    let db = s.open();
    let db = db.as_ref();
    const Q: i64 = 100;
    let started = |b: UploadBegin| match b {
        UploadBegin::Started(u) => u,
        other => panic!("{other:?}"),
    };
    assert_eq!(db.upload("p1", "f").unwrap(), None);
    let u = started(db.upload_begin("p1", "f", 6, "image/png", 10, Q).unwrap());
    assert_eq!((u.received, u.touched_at), (0, 10));
    assert!(db.upload_append("p1", "f", 0, b"abc", 11).unwrap());
    assert!(!db.upload_append("p1", "f", 0, b"abc", 11).unwrap());
    assert!(!db.upload_append("p1", "f", 5, b"x", 11).unwrap());
    assert!(!db.upload_append("p1", "nope", 0, b"x", 11).unwrap());
    // Another person's upload of the same file is their own.
    assert_eq!(db.upload("p2", "f").unwrap(), None);
    assert!(!db.upload_append("p2", "f", 3, b"def", 11).unwrap());
    let u2 = started(db.upload_begin("p2", "f", 6, "image/png", 12, Q).unwrap());
    assert_eq!(u2.received, 0);
    // Beginning again resumes.
    let u = started(db.upload_begin("p1", "f", 6, "image/png", 13, Q).unwrap());
    assert_eq!((u.received, u.touched_at), (3, 13));
    assert_eq!(db.upload("p1", "f").unwrap(), Some(u));
    assert!(db.upload_append("p1", "f", 3, b"def", 14).unwrap());
    assert_eq!(db.upload_data("p1", "f").unwrap(), b"abcdef");
    assert!(db.upload_data("p2", "f").unwrap().is_empty());
    assert_eq!(db.attachment("f").unwrap(), None);
    assert!(!db.attachment_in_scope("p1", "f").unwrap());
    db.upload_finish("p1", "f", "image/png", b"abcdef").unwrap();
    assert_eq!(db.upload("p1", "f").unwrap(), None);
    assert!(db.upload_data("p1", "f").unwrap().is_empty());
    assert_eq!(db.upload("p2", "f").unwrap().map(|u| u.received), Some(0));
    assert_eq!(
        db.attachment_meta("f").unwrap(),
        Some(("image/png".into(), 6))
    );
    assert_eq!(
        db.attachment("f").unwrap(),
        Some(("image/png".into(), b"abcdef".to_vec()))
    );
    assert!(db.attachment_in_scope("p1", "f").unwrap());
    assert!(!db.attachment_in_scope("p2", "f").unwrap());
    // A second holder (dedup: the stored bytes are kept).
    db.upload_finish("p2", "f", "image/png", b"abcdef").unwrap();
    assert_eq!(db.upload("p2", "f").unwrap(), None);
    assert!(db.attachment_in_scope("p2", "f").unwrap());
    // Attached to a case: whoever may see the case may read it.
    let case = Uuid::now_v7();
    push(db, |tx| {
        assert!(tx.holds_attachment("p1", "f")?);
        assert!(!tx.holds_attachment("p3", "f")?);
        tx.link_attachment(&case, "f")?;
        tx.link_attachment(&case, "f")?;
        tx.grant(&case, &["p3".into()])?;
        assert_eq!(tx.attachment_cases("f")?, vec![case]);
        Ok(())
    })
    .unwrap();
    assert!(db.attachment_in_scope("p3", "f").unwrap());
    assert!(!db.attachment_in_scope("p4", "f").unwrap());

    // A different size or type replaces the upload.
    started(db.upload_begin("p1", "g", 4, "image/png", 20, Q).unwrap());
    assert!(db.upload_append("p1", "g", 0, b"ab", 20).unwrap());
    let u = started(db.upload_begin("p1", "g", 5, "image/png", 20, Q).unwrap());
    assert_eq!(u.received, 0);
    assert!(db.upload_data("p1", "g").unwrap().is_empty());
    assert!(db.upload_append("p1", "g", 0, b"xy", 20).unwrap());
    let u = started(
        db.upload_begin("p1", "g", 5, "application/pdf", 20, Q)
            .unwrap(),
    );
    assert_eq!((u.received, u.mime.as_str()), (0, "application/pdf"));
    assert!(db.upload_append("p1", "g", 0, b"12", 20).unwrap());
    db.upload_abort("p1", "g").unwrap();
    assert_eq!(db.upload("p1", "g").unwrap(), None);
    assert!(db.upload_data("p1", "g").unwrap().is_empty());

    // The quota counts the person's other unfinished uploads.
    started(db.upload_begin("p1", "h", 60, "image/png", 30, Q).unwrap());
    assert_eq!(
        db.upload_begin("p1", "i", 41, "image/png", 30, Q).unwrap(),
        UploadBegin::OverQuota { used: 60 }
    );
    started(db.upload_begin("p1", "h", 100, "image/png", 30, Q).unwrap());
    assert!(db.upload_append("p1", "h", 0, b"hh", 30).unwrap());
    started(db.upload_begin("p5", "i", 41, "image/png", 30, Q).unwrap());
    assert!(db.upload_append("p5", "i", 0, b"x", 40).unwrap());
    // Expiry: untouched before the cut-off.
    assert_eq!(db.expire_uploads(31).unwrap(), 1);
    assert_eq!(db.upload("p1", "h").unwrap(), None);
    assert!(db.upload_data("p1", "h").unwrap().is_empty());
    assert_eq!(db.upload_data("p5", "i").unwrap(), b"x");
    started(db.upload_begin("p1", "i", 41, "image/png", 50, Q).unwrap());
}

fn concurrent_pushes_are_ordered_without_gaps(s: &Scratch) {
    const THREADS: usize = 8;
    const PUSHES: usize = 25;
    const PER_PUSH: usize = 4;
    let db = s.open();
    let done = Arc::new(AtomicBool::new(false));

    // A reader that follows the feed with a cursor, as the live channel
    // does: it must never skip an event committed later with a smaller
    // gseq.
    let reader = {
        let db = db.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                let batch = db.feed_after(cursor, 1000).unwrap();
                for (e, viewers) in batch {
                    assert_eq!(viewers, vec!["p1".to_string()]);
                    assert!(e.gseq > cursor);
                    cursor = e.gseq;
                    seen.push(e.gseq);
                }
                if finished {
                    return seen;
                }
            }
        })
    };

    let writers: Vec<_> = (0..THREADS)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let case = Uuid::now_v7();
                let mut mine = Vec::new();
                for p in 0..PUSHES {
                    let evs: Vec<Ev> = (0..PER_PUSH)
                        .map(|i| Ev::new(case, (p * PER_PUSH + i) as i64))
                        .collect();
                    push(db.as_ref(), |tx| {
                        for e in &evs {
                            mine.push(tx.insert_event(&e.new_event())?);
                        }
                        tx.grant(&case, &["p1".into()])
                    })
                    .unwrap();
                }
                mine
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for w in writers {
        let mine = w.join().unwrap();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        all.extend(mine);
    }
    done.store(true, Ordering::Release);
    let seen = reader.join().unwrap();
    let total = THREADS * PUSHES * PER_PUSH;
    assert_eq!(all.len(), total);
    let expected: Vec<i64> = (1..=total as i64).collect();
    assert_eq!(all.into_iter().collect::<Vec<_>>(), expected);
    assert_eq!(seen, expected);
    assert_eq!(db.max_gseq().unwrap(), total as i64);
}

/// A panic inside a push (as a failing log write used to cause) leaves
/// neither a stuck lock nor an open transaction: the next writes work,
/// and the panicking one's rows are gone.
fn the_store_recovers_after_a_panic_inside_a_push(s: &Scratch) {
    let db = s.open();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = push(db.as_ref(), |tx| {
            tx.insert_event(&Ev::new(Uuid::nil(), 0).new_event())?;
            tx.grant(&Uuid::nil(), &["x".to_string()])?;
            panic!("a log write failed");
        });
    }));
    assert!(r.is_err());
    db.meta_set("k", "v").unwrap();
    assert_eq!(db.meta_get("k").unwrap().as_deref(), Some("v"));
    assert!(!db.can_see("x", &Uuid::nil()).unwrap());
    assert_eq!(db.counts().unwrap(), (0, 0));
    push(db.as_ref(), |tx| tx.grant(&Uuid::nil(), &["y".to_string()])).unwrap();
    assert!(db.can_see("y", &Uuid::nil()).unwrap());
}

/// SQLite: the panic poisoned the writer's lock, which is recovered.
#[test]
fn sqlite_writer_lock_recovers_from_poison() {
    let dir = tempfile::tempdir().unwrap();
    let db = lite::SqliteDb::open(&dir.path().join("hub.db")).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = push(&db, |tx| {
            tx.grant(&Uuid::nil(), &["x".to_string()])?;
            tx.savepoint("s")?;
            panic!("a log write failed");
        });
    }));
    assert!(r.is_err());
    assert!(db.b.writer_poisoned());
    db.meta_set("k", "v").unwrap();
    assert!(!db.b.writer_poisoned());
    assert!(!db.can_see("x", &Uuid::nil()).unwrap());
}

/// A small deterministic generator (tests only).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.next(v.len() as u64) as usize]
    }
}

/// The SQL the store builds from `Conditions` finds exactly the records
/// the core's `Conditions::matches` accepts, and its sums and groups are
/// the in-memory ones, over random records and random conditions.
fn sql_conditions_and_sums_agree_with_the_core(s: &Scratch) {
    use jingwu_core::stats::{Conditions, Dim, IncidentFacts, Measures, PeriodKind};
    let db = s.open();
    let mut r = Lcg(15);
    let units = [
        "522634510000",
        "522634520000",
        "522634080000",
        "522634100000",
    ];
    let cats = ["010101", "010100", "010000", "030101", "050000", "080300"];
    let towns = ["522634100", "522634101", "522634204"];
    let statuses = ["archived", "dispatched", "feedback_filed", "received"];
    let words = ["电动车被盗", "邻里纠纷", "火情_100%", "交通事故", "求助"];
    let base = 1_735_660_800; // 2025-01-01 00:00 +08:00
    let mut facts = Vec::new();
    for i in 0..400 {
        let at = base + r.next(400 * 86_400) as i64;
        let t = time::OffsetDateTime::from_unix_timestamp(at)
            .unwrap()
            .to_offset(jingwu_core::SHANGHAI)
            .date();
        let cat = r.pick(&cats).to_string();
        let f = IncidentFacts {
            case_no: format!("N{i:04}"),
            report_at: at,
            day: PeriodKind::Day.key(t),
            week: PeriodKind::Week.key(t),
            month: PeriodKind::Month.key(t),
            quarter: PeriodKind::Quarter.key(t),
            year: PeriodKind::Year.key(t),
            unit: r.pick(&units).into(),
            registered_by: "522634080000".into(),
            category1: jingwu_core::case::category_level1(&cat),
            category: cat,
            township: r.pick(&towns).into(),
            method: r.pick(&["1", "2"]).into(),
            level: r.pick(&["1", "2", ""]).into(),
            result: r.pick(&["04", "06", ""]).into(),
            status: r.pick(&statuses).into(),
            valid: r.next(10) > 0,
            injured: r.next(3) as i64,
            dead: (r.next(20) == 0) as i64,
            loss_fen: if r.next(2) == 0 {
                0
            } else {
                r.next(10_000_000) as i64
            },
            summary: r.pick(&words).into(),
            location: r.pick(&["丹江镇", "西江镇营上村"]).into(),
            imported: true,
            dispatches: Vec::new(),
        };
        facts.push((Uuid::now_v7().to_string(), f));
    }
    db.put_incident_facts(&facts).unwrap();
    let opt = |r: &mut Lcg, v: &[&str]| -> Option<String> {
        (r.next(3) == 0).then(|| r.pick(v).to_string())
    };
    for round in 0..80 {
        let mut c = Conditions::default();
        // Bounds are often a record's own value: the edges count.
        let some = |r: &mut Lcg| &facts[r.next(facts.len() as u64) as usize].1;
        if r.next(2) == 0 {
            c.from = Some(some(&mut r).report_at);
            c.to = Some(some(&mut r).report_at.max(c.from.unwrap_or(0)) + r.next(2) as i64);
        }
        if r.next(3) == 0 {
            c.units = Some(
                units[..1 + r.next(3) as usize]
                    .iter()
                    .map(|u| u.to_string())
                    .collect(),
            );
        }
        match r.next(4) {
            0 => c.category_prefix = Some(r.pick(&["01", "0101", "03"]).into()),
            1 => c.category_exact = Some(r.pick(&cats).into()),
            _ => {}
        }
        c.township = opt(&mut r, &towns);
        c.level = opt(&mut r, &["1", "2", ""]);
        c.result = opt(&mut r, &["04", "06"]);
        if r.next(3) == 0 {
            c.statuses = Some(vec![r.pick(&statuses).into(), r.pick(&statuses).into()]);
        }
        c.valid = (r.next(3) == 0).then(|| r.next(2) == 0);
        c.injured = (r.next(4) == 0).then(|| r.next(2) == 0);
        c.dead = (r.next(4) == 0).then(|| r.next(2) == 0);
        if r.next(3) == 0 {
            c.loss_min = Some(some(&mut r).loss_fen);
        }
        if r.next(3) == 0 {
            c.loss_max = Some(some(&mut r).loss_fen);
        }
        if r.next(3) == 0 {
            // Includes LIKE's own characters, which must match literally.
            c.terms = vec![r.pick(&["纠纷", "_100%", "%", "营上", "车"]).into()];
        }
        let want: Vec<&(String, IncidentFacts)> =
            facts.iter().filter(|(_, f)| c.matches(f)).collect();
        let (total, rows) = db
            .incident_rows(&c, jingwu_proto::SortBy::ReportTime, false, 1000, 0)
            .unwrap();
        assert_eq!(total as usize, want.len(), "round {round}: {c:?}");
        let got: BTreeSet<&str> = rows.iter().map(|x| x.case_id.as_str()).collect();
        let exp: BTreeSet<&str> = want.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(got, exp, "round {round}: {c:?}");
        let mut sum = Measures::default();
        for (_, f) in &want {
            sum.add(&f.measures());
        }
        let stats = db.incident_stats(&c, &[]).unwrap();
        assert_eq!(
            stats.first().map(|x| x.1).unwrap_or_default(),
            sum,
            "round {round}"
        );
        // Grouped by month and unit: the in-memory groups.
        let mut groups: std::collections::BTreeMap<(String, String), Measures> = Default::default();
        for (_, f) in &want {
            groups
                .entry((f.month.clone(), f.unit.clone()))
                .or_default()
                .add(&f.measures());
        }
        let got: Vec<((String, String), Measures)> = db
            .incident_stats(&c, &[Dim::Period(PeriodKind::Month), Dim::Unit])
            .unwrap()
            .into_iter()
            .map(|(k, m)| ((k[0].clone(), k[1].clone()), m))
            .collect();
        assert_eq!(got, groups.into_iter().collect::<Vec<_>>(), "round {round}");
    }
}

/// A 110 record's facts: `at` is its 报警时间 (Asia/Shanghai).
#[allow(clippy::too_many_arguments)]
fn facts(
    no: &str,
    at: &str,
    unit: &str,
    category: &str,
    township: &str,
    valid: bool,
    loss_fen: i64,
    injured: i64,
    status: &str,
) -> jingwu_core::stats::IncidentFacts {
    use jingwu_core::stats::PeriodKind;
    let t = jingwu_core::import::parse_local_time(at).unwrap();
    let d = t.date();
    jingwu_core::stats::IncidentFacts {
        case_no: no.into(),
        report_at: t.unix_timestamp(),
        day: PeriodKind::Day.key(d),
        week: PeriodKind::Week.key(d),
        month: PeriodKind::Month.key(d),
        quarter: PeriodKind::Quarter.key(d),
        year: PeriodKind::Year.key(d),
        unit: unit.into(),
        registered_by: "522634080000".into(),
        category: category.into(),
        category1: jingwu_core::case::category_level1(category),
        township: township.into(),
        method: "1".into(),
        level: "1".into(),
        result: String::new(),
        status: status.into(),
        valid,
        injured,
        dead: 0,
        loss_fen,
        summary: "报警人称电动车被盗".into(),
        location: "丹江镇".into(),
        imported: true,
        dispatches: Vec::new(),
    }
}

/// The rollups equal a fresh GROUP BY over the records, and their day
/// and month starts are those of their keys.
fn assert_rollups_are_sums(s: &Scratch) {
    use jingwu_core::stats::{day_start, parse_date, Period};
    let (days, fresh_days, months, fresh_months) = s.raw(|c| {
        let q = |c: &mut dyn Conn, sql: &str| c.query(sql, &[]).unwrap();
        (
            q(
                c,
                "SELECT day, week, month, quarter, year, unit, category1, township, valid, n,
                   loss_fen, injured, dead, day_at FROM incident_days
                 ORDER BY day, unit, category1, township, valid",
            ),
            q(
                c,
                "SELECT day, week, month, quarter, year, unit, category1, township, valid,
                   COUNT(*), CAST(SUM(loss_fen) AS BIGINT), CAST(SUM(injured) AS BIGINT),
                   CAST(SUM(dead) AS BIGINT)
                 FROM incidents GROUP BY day, week, month, quarter, year, unit, category1,
                   township, valid
                 ORDER BY day, unit, category1, township, valid",
            ),
            q(
                c,
                "SELECT month, quarter, year, unit, category1, township, valid, n, loss_fen,
                   injured, dead, month_at FROM incident_months
                 ORDER BY month, unit, category1, township, valid",
            ),
            q(
                c,
                "SELECT month, quarter, year, unit, category1, township, valid, COUNT(*),
                   CAST(SUM(loss_fen) AS BIGINT), CAST(SUM(injured) AS BIGINT),
                   CAST(SUM(dead) AS BIGINT)
                 FROM incidents GROUP BY month, quarter, year, unit, category1, township, valid
                 ORDER BY month, unit, category1, township, valid",
            ),
        )
    });
    let split = |rows: Vec<sql::Row>, keys: usize| -> (Vec<sql::Row>, Vec<i64>) {
        let mut at = Vec::new();
        let rows = rows
            .into_iter()
            .map(|mut r| {
                if r.0.len() > keys {
                    at.push(r.i64(keys).unwrap());
                    r.0.truncate(keys);
                }
                r
            })
            .collect();
        (rows, at)
    };
    let (days, day_at) = split(days, 13);
    let (months, month_at) = split(months, 11);
    assert_eq!(days, fresh_days);
    assert_eq!(months, fresh_months);
    for (mut r, at) in days.into_iter().zip(day_at) {
        let d = parse_date(&r.text(0).unwrap(), "day").unwrap();
        assert_eq!(at, day_start(d));
    }
    for (mut r, at) in months.into_iter().zip(month_at) {
        let p = Period::parse(&r.text(0).unwrap()).unwrap();
        assert_eq!(at, day_start(p.first));
    }
}

/// Statistics from the store (rollups or records) equal the core's own
/// count of the same facts (`Conditions::matches`), for conditions and
/// dimensions the rollups answer and some they do not.
fn assert_stats_are_counts(
    db: &dyn HubDb,
    all: &std::collections::BTreeMap<String, jingwu_core::stats::IncidentFacts>,
) {
    use jingwu_core::stats::{day_start, parse_date, Conditions, Dim, Measures, PeriodKind};
    let day = |s: &str| day_start(parse_date(s, "day").unwrap());
    let end = |s: &str| day(s) + 86_400;
    let ranges = [
        (None, None),
        (Some(day("2026-03-01")), Some(end("2026-04-30"))),
        (Some(day("2026-03-04")), Some(end("2026-04-01"))),
        (Some(day("2026-02-10")), Some(end("2026-03-31"))),
        (Some(day("2026-03-31")), None),
        (None, Some(end("2026-03-05"))),
        (Some(day("2026-03-05") + 3600), Some(end("2026-04-01"))),
    ];
    let dim_sets: [&[Dim]; 6] = [
        &[],
        &[Dim::Period(PeriodKind::Month), Dim::Unit, Dim::Category],
        &[Dim::Unit],
        &[Dim::Period(PeriodKind::Year), Dim::Township],
        &[Dim::Period(PeriodKind::Day), Dim::Category],
        &[Dim::Period(PeriodKind::Week), Dim::Unit, Dim::Township],
    ];
    let mut conds = Vec::new();
    for (from, to) in ranges {
        let base = Conditions {
            from,
            to,
            ..Conditions::default()
        };
        conds.push(base.clone());
        conds.push(Conditions {
            units: Some(vec!["522634510000".into(), "522634520000".into()]),
            category_prefix: Some("01".into()),
            valid: Some(true),
            ..base.clone()
        });
        conds.push(Conditions {
            township: Some("522634100".into()),
            units: Some(Vec::new()),
            ..base.clone()
        });
        conds.push(Conditions {
            township: Some("522634100".into()),
            valid: Some(false),
            ..base.clone()
        });
        conds.push(Conditions {
            statuses: Some(vec!["archived".into()]),
            category_prefix: Some("0101".into()),
            ..base.clone()
        });
    }
    for cond in &conds {
        for dims in dim_sets {
            let mut want: std::collections::BTreeMap<Vec<String>, Measures> = Default::default();
            for f in all.values().filter(|f| cond.matches(f)) {
                let keys = dims
                    .iter()
                    .map(|d| match d {
                        Dim::Period(k) => f.period(*k).to_string(),
                        Dim::Unit => f.unit.clone(),
                        Dim::Category => f.category1.clone(),
                        Dim::Township => f.township.clone(),
                    })
                    .collect();
                want.entry(keys).or_default().add(&f.measures());
            }
            let want: Vec<(Vec<String>, Measures)> = want.into_iter().collect();
            assert_eq!(
                db.incident_stats(cond, dims).unwrap(),
                want,
                "{cond:?} by {dims:?}"
            );
        }
    }
}

fn rollups_follow_every_change_of_a_record(s: &Scratch) {
    let db = s.open();
    let mut all = std::collections::BTreeMap::new();
    let mut put = |db: &dyn HubDb, batch: Vec<(&str, jingwu_core::stats::IncidentFacts)>| {
        let batch: Vec<(String, _)> = batch.into_iter().map(|(k, f)| (k.to_string(), f)).collect();
        db.put_incident_facts(&batch).unwrap();
        for (k, f) in batch {
            all.insert(k, f);
        }
        assert_rollups_are_sums(s);
        assert_stats_are_counts(db, &all);
    };
    let (u1, u2) = ("522634510000", "522634520000");
    let (t1, t2) = ("522634100", "522634101");
    let at = "2026-03-05 10:00:00";
    // Others sharing the record's rows, one of them first.
    put(
        db.as_ref(),
        vec![
            (
                "b",
                facts("B", at, u1, "010100", t1, true, 500, 0, "archived"),
            ),
            (
                "c",
                facts(
                    "C",
                    "2026-03-31 23:59:59",
                    u2,
                    "030101",
                    t2,
                    true,
                    0,
                    2,
                    "arrived",
                ),
            ),
            (
                "d",
                facts(
                    "D",
                    "2026-04-01 00:00:00",
                    u1,
                    "010000",
                    t1,
                    false,
                    7,
                    0,
                    "archived",
                ),
            ),
            (
                "e",
                facts(
                    "E",
                    "2026-02-28 12:00:00",
                    u1,
                    "080100",
                    t1,
                    true,
                    0,
                    0,
                    "received",
                ),
            ),
        ],
    );
    let a0 = facts("A", at, u1, "010100", t1, true, 100, 0, "dispatched");
    put(db.as_ref(), vec![("a", a0.clone())]);
    // Only the status: no rollup row moves.
    put(
        db.as_ref(),
        vec![(
            "a",
            facts("A", at, u1, "010100", t1, true, 100, 0, "arrived"),
        )],
    );
    // Another unit, then another category and loss.
    put(
        db.as_ref(),
        vec![(
            "a",
            facts("A", at, u2, "010100", t1, true, 100, 0, "arrived"),
        )],
    );
    put(
        db.as_ref(),
        vec![(
            "a",
            facts("A", at, u2, "030101", t1, true, 250, 0, "feedback_filed"),
        )],
    );
    // Found invalid, with a casualty, archived; then in another 乡镇.
    put(
        db.as_ref(),
        vec![(
            "a",
            facts("A", at, u2, "030101", t1, false, 250, 1, "archived"),
        )],
    );
    put(
        db.as_ref(),
        vec![(
            "a",
            facts("A", at, u2, "030101", t2, false, 250, 1, "archived"),
        )],
    );
    // Another day and month; the same case twice in one write (the last
    // counts) beside a new record.
    put(
        db.as_ref(),
        vec![
            (
                "a",
                facts(
                    "A",
                    "2026-04-01 00:00:00",
                    u1,
                    "010000",
                    t1,
                    false,
                    7,
                    0,
                    "archived",
                ),
            ),
            (
                "f",
                facts(
                    "F",
                    "2026-03-31 00:00:00",
                    u2,
                    "020100",
                    t2,
                    true,
                    1,
                    0,
                    "archived",
                ),
            ),
            (
                "a",
                facts(
                    "A",
                    "2026-03-31 23:59:59",
                    u2,
                    "030101",
                    t2,
                    true,
                    3,
                    2,
                    "arrived",
                ),
            ),
        ],
    );
    // Back to where it started: the rows it left are gone.
    put(db.as_ref(), vec![("a", a0.clone())]);
    let n = |sql: &str| s.raw(|c| c.query_one(sql, &[]).unwrap().i64(0).unwrap());
    assert_eq!(
        n("SELECT COUNT(*) FROM incident_days WHERE n <= 0"),
        0,
        "no empty rollup rows"
    );
    assert_eq!(n("SELECT COUNT(*) FROM incident_days"), 5);
    assert_eq!(n("SELECT COUNT(*) FROM incident_months"), 5);

    // Schema step 8 fills the rollups of a store that had none (the
    // later steps' objects go too, as a store at step 7 has none).
    drop(db);
    s.raw(|c| {
        c.batch(
            "DROP TABLE incident_days; DROP TABLE incident_months;
             DROP TABLE case_status; DROP TABLE sms_outbox; DROP INDEX cases_status;
             DROP INDEX IF EXISTS incidents_summary_trgm;
             DROP INDEX IF EXISTS incidents_location_trgm; DROP TABLE updates;",
        )
        .unwrap()
    });
    s.set_version(7);
    let db = s.open();
    assert_eq!(s.version(), MIGRATIONS.len() as i64);
    assert_rollups_are_sums(s);
    assert_stats_are_counts(db.as_ref(), &all);
    assert_eq!(n("SELECT COUNT(*) FROM incident_days"), 5);
}
