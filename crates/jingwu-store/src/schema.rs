//! Schema migrations, applied in order by `PRAGMA user_version`, each in
//! its own transaction. Never edit a released migration: add a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
     ) STRICT;
     CREATE TABLE cases (
        id         TEXT PRIMARY KEY,
        case_type  TEXT NOT NULL,
        case_no    TEXT NOT NULL UNIQUE,
        unit       TEXT NOT NULL,
        status     TEXT NOT NULL,
        initiator  TEXT NOT NULL,
        head       TEXT NOT NULL,
        next_seq   INTEGER NOT NULL,
        state_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
     ) STRICT;
     CREATE INDEX cases_updated ON cases(updated_at);
     CREATE TABLE events (
        id          TEXT PRIMARY KEY,
        case_id     TEXT NOT NULL REFERENCES cases(id) DEFERRABLE INITIALLY DEFERRED,
        seq         INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        signature   BLOB NOT NULL,
        hash        TEXT NOT NULL,
        author      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        origin      TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
        UNIQUE (case_id, seq)
     ) STRICT;
     CREATE TABLE outbox (
        event_id    TEXT PRIMARY KEY REFERENCES events(id),
        case_id     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        enqueued_at TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT
     ) STRICT;
     CREATE TABLE attachments (
        sm3        TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        mime       TEXT NOT NULL,
        data       BLOB NOT NULL,
        created_at TEXT NOT NULL
     ) STRICT;
     CREATE TABLE keys (
        person      TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        encrypted   TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (person, fingerprint)
     ) STRICT;
     CREATE TABLE public_keys (
        person      TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        pem         TEXT NOT NULL,
        PRIMARY KEY (person, fingerprint)
     ) STRICT;
     CREATE TABLE case_no_seq (
        unit TEXT NOT NULL,
        day  TEXT NOT NULL,
        last INTEGER NOT NULL,
        PRIMARY KEY (unit, day)
     ) STRICT;",
    // 2: local events the hub refused for good (kept as evidence of what
    // was attempted), replaced by the hub's version of the case.
    "CREATE TABLE conflicts (
        event_id  TEXT PRIMARY KEY,
        case_id   TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        bytes     BLOB NOT NULL,
        signature BLOB NOT NULL,
        reason    TEXT NOT NULL,
        at        TEXT NOT NULL
     ) STRICT;",
    // 3: scanned originals, kept on the station as evidence and never
    // sent (no event names them), and which processed page (an
    // attachment) came from which original.
    "CREATE TABLE scan_originals (
        sm3        TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        mime       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        data       BLOB NOT NULL,
        created_at TEXT NOT NULL
     ) STRICT;
     CREATE TABLE scan_pages (
        page_sm3     TEXT PRIMARY KEY,
        original_sm3 TEXT NOT NULL REFERENCES scan_originals(sm3),
        page         INTEGER NOT NULL,
        created_at   TEXT NOT NULL
     ) STRICT;",
    // 4: registered electronic seals fetched from the hub, each verified
    // against its maker's key before it is stored.
    "CREATE TABLE seals (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        holder        TEXT NOT NULL,
        holder_key    TEXT NOT NULL,
        seal_json     TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        revoked_at    TEXT,
        revoked_by    TEXT
     ) STRICT;",
    // 5: the hub's signed receipts (its time of acceptance of each event),
    // each verified against the hub's key before it is stored, and the
    // hub keys that sign them.
    "CREATE TABLE hub_keys (
        fingerprint TEXT PRIMARY KEY,
        pem         TEXT NOT NULL
     ) STRICT;
     CREATE TABLE receipts (
        event_id    TEXT PRIMARY KEY,
        case_id     TEXT NOT NULL,
        bytes       BLOB NOT NULL,
        signature   BLOB NOT NULL,
        received_at TEXT NOT NULL
     ) STRICT;
     CREATE INDEX receipts_case ON receipts(case_id);",
    // 6: the hub session token no longer lives here (it is kept in the OS
    // key store, see jingwu-station's session.rs): a token an older
    // version left in clear is erased, its bytes overwritten
    // (secure_delete), and `migrate` truncates the WAL that held them.
    // The user logs in again once.
    "PRAGMA secure_delete=ON;
     DELETE FROM meta WHERE key = 'hub_token';",
    // 7: a set-aside 110 step that still applies on the hub's version of
    // the record (another unit acted first) waits to be signed again with
    // the user's PIN: redo 1 = waiting, 2 = signed again; 0 = set aside
    // for good.
    "ALTER TABLE conflicts ADD COLUMN redo INTEGER NOT NULL DEFAULT 0;",
    // 8: the time-limit reminders already shown (jingwu_core::reminders),
    // each once per case, step instance, kind and person. (IF NOT EXISTS:
    // a store whose recorded version was set back runs it again.)
    "CREATE TABLE IF NOT EXISTS alerts_sent (
        case_id  TEXT NOT NULL,
        step_key TEXT NOT NULL,
        kind     TEXT NOT NULL,
        person   TEXT NOT NULL,
        sent_at  TEXT NOT NULL,
        PRIMARY KEY (case_id, step_key, kind, person)
     ) STRICT;",
];

/// The migration that erases a clear session token.
const TOKEN_ERASED: i64 = 6;

/// The migration that adds `conflicts.redo` (an `ALTER TABLE`, which
/// SQLite cannot make conditional): skipped where the column is there
/// already, e.g. a store whose recorded version was set back.
const REDO_COLUMN: i64 = 7;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let has_redo = || -> Result<bool, rusqlite::Error> {
            tx.query_row(
                "SELECT count(*) FROM pragma_table_info('conflicts') WHERE name = 'redo'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        };
        if !((i + 1) as i64 == REDO_COLUMN && has_redo()?) {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    if found < TOKEN_ERASED {
        // The erased token's old page versions may still be in the WAL
        // (and its overwritten copy in the main file only after a
        // checkpoint): copy everything back and empty the WAL file.
        let _: (i64, i64, i64) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        conn.pragma_update(None, "secure_delete", "OFF")?;
    }
    Ok(())
}
