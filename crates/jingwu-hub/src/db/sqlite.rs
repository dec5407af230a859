//! SQLite backend (rusqlite, WAL, `synchronous=FULL`). One writer
//! connection (SQLite serialises writers anyway) and a small pool of
//! readers, which WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jingwu_core::case::CaseState;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::{
    enum_text, parse_state, parse_uuid, savepoint_name, state_json, DbError, DbResult,
    EnrolmentRow, EventRow, EventTx, HostedKeyRow, HubDb, LoginCounter, LoginCounterFn, NewEvent,
    PushFn, SealRow, SessionRow, UploadBegin, UploadRow, UserRow,
};
use crate::error::ApiError;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
     CREATE TABLE users (
        person        TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        is_admin      INTEGER NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL
     ) STRICT;
     CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        person     TEXT NOT NULL,
        device     TEXT,
        created_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        revoked    INTEGER NOT NULL DEFAULT 0
     ) STRICT;
     CREATE INDEX sessions_person ON sessions(person);
     CREATE TABLE enrolments (
        id          TEXT PRIMARY KEY,
        device      TEXT NOT NULL,
        device_name TEXT NOT NULL,
        person      TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        pem         TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','revoked')),
        created_at  TEXT NOT NULL,
        decided_by  TEXT,
        decided_at  TEXT
     ) STRICT;
     CREATE INDEX enrolments_key ON enrolments(person, fingerprint, status);
     CREATE TABLE events (
        gseq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        case_id     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        signature   BLOB NOT NULL,
        hash        TEXT NOT NULL,
        author      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (case_id, seq)
     ) STRICT;
     CREATE TABLE cases (
        id         TEXT PRIMARY KEY,
        case_type  TEXT NOT NULL,
        case_no    TEXT NOT NULL UNIQUE,
        unit       TEXT NOT NULL,
        status     TEXT NOT NULL,
        head       TEXT NOT NULL,
        next_seq   INTEGER NOT NULL,
        state_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
     ) STRICT;
     CREATE TABLE case_access (
        case_id TEXT NOT NULL,
        person  TEXT NOT NULL,
        PRIMARY KEY (person, case_id)
     ) STRICT, WITHOUT ROWID;
     CREATE INDEX case_access_case ON case_access(case_id);
     CREATE TABLE uploads (
        sm3      TEXT PRIMARY KEY,
        size     INTEGER NOT NULL,
        mime     TEXT NOT NULL,
        received INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE upload_chunks (
        sm3    TEXT NOT NULL,
        offset INTEGER NOT NULL,
        data   BLOB NOT NULL,
        PRIMARY KEY (sm3, offset)
     ) STRICT;
     CREATE TABLE attachments (
        sm3        TEXT PRIMARY KEY,
        mime       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        data       BLOB NOT NULL,
        created_at TEXT NOT NULL
     ) STRICT;",
    // 2: signing keys the hub keeps for browser users.
    "CREATE TABLE hosted_keys (
        person       TEXT PRIMARY KEY,
        enrolment_id TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        sealed       TEXT NOT NULL,
        failures     INTEGER NOT NULL,
        locked_until INTEGER NOT NULL,
        created_at   TEXT NOT NULL
     ) STRICT;",
    // 3: electronic seals issued by seal administrators (印章管理员).
    "CREATE TABLE seals (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('unit', 'personal')),
        holder        TEXT NOT NULL,
        holder_key    TEXT NOT NULL,
        seal_json     TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        registered_by TEXT NOT NULL,
        revoked_at    TEXT,
        revoked_by    TEXT
     ) STRICT;
     CREATE INDEX seals_holder ON seals(holder);",
    // receipts: the hub's signed receipt of each event it accepts (the
    // canonical receipt bytes and the hub's SM2 signature). Events stored
    // before this step have none.
    "ALTER TABLE events ADD COLUMN receipt BLOB;
     ALTER TABLE events ADD COLUMN receipt_sig BLOB;",
    // attachments are scoped. Uploads belong to their uploader (keyed
    // by person and SM3, touched_at for expiry); unfinished uploads from
    // before had no owner and are dropped (stations start them again).
    // attachment_holders: who uploaded a stored file completely.
    // case_attachments: which cases an attach event put a file in,
    // backfilled from the attach events already stored.
    "DROP TABLE upload_chunks;
     DROP TABLE uploads;
     CREATE TABLE uploads (
        person     TEXT NOT NULL,
        sm3        TEXT NOT NULL,
        size       INTEGER NOT NULL,
        mime       TEXT NOT NULL,
        received   INTEGER NOT NULL,
        touched_at INTEGER NOT NULL,
        PRIMARY KEY (person, sm3)
     ) STRICT;
     CREATE INDEX uploads_touched ON uploads(touched_at);
     CREATE TABLE upload_chunks (
        person TEXT NOT NULL,
        sm3    TEXT NOT NULL,
        offset INTEGER NOT NULL,
        data   BLOB NOT NULL,
        PRIMARY KEY (person, sm3, offset)
     ) STRICT;
     CREATE TABLE attachment_holders (
        sm3    TEXT NOT NULL,
        person TEXT NOT NULL,
        PRIMARY KEY (sm3, person)
     ) STRICT, WITHOUT ROWID;
     CREATE TABLE case_attachments (
        sm3     TEXT NOT NULL,
        case_id TEXT NOT NULL,
        PRIMARY KEY (sm3, case_id)
     ) STRICT, WITHOUT ROWID;
     INSERT OR IGNORE INTO case_attachments(sm3, case_id)
        SELECT sm3, case_id FROM (
            SELECT case_id, CASE WHEN kind = 'attach' THEN
                json_extract(CAST(bytes AS TEXT), '$.payload.attachment.sm3') END AS sm3
            FROM events WHERE kind = 'attach'
        )
        WHERE sm3 IS NOT NULL;",
    // login attempts per account and per source address (lockout).
    "CREATE TABLE login_counters (
        key          TEXT PRIMARY KEY,
        failures     INTEGER NOT NULL,
        lockouts     INTEGER NOT NULL,
        locked_until INTEGER NOT NULL,
        last_failure INTEGER NOT NULL
     ) STRICT;
     CREATE INDEX login_counters_last ON login_counters(last_failure);",
];

const READERS: usize = 4;

/// The SQLite hub database.
pub struct SqliteDb {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn db(e: rusqlite::Error) -> DbError {
    DbError::Backend(e.to_string())
}

/// Opens a connection to the database file `path`, which (with SQLite's
/// `-wal`/`-shm` beside it) is the owner's only on Unix: made 0600 before
/// SQLite opens it, tightened when an older version left it looser.
fn connect(path: &Path) -> DbResult<Connection> {
    let file_err = |e: std::io::Error| {
        DbError::Backend(format!("无法创建或保护数据库文件 {}：{e}", path.display()))
    };
    jingwu_store::private_fs::ensure_file(path).map_err(file_err)?;
    let conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(db)?;
    let _mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(db)?;
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA trusted_schema=OFF;")
        .map_err(db)?;
    jingwu_store::private_fs::tighten_sqlite(path).map_err(file_err)?;
    Ok(conn)
}

fn now_text() -> String {
    crate::now_rfc3339()
}

impl SqliteDb {
    /// Opens (creating and migrating) the database file.
    pub fn open(path: &Path) -> DbResult<SqliteDb> {
        let mut writer = connect(path)?;
        migrate(&mut writer)?;
        let mut readers = Vec::new();
        for _ in 0..READERS {
            readers.push(connect(path)?);
        }
        Ok(SqliteDb {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(readers),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Restores a backup file into `path` (the hub must not be running on
    /// it). Uses SQLite's online backup API, page by page.
    pub fn restore(backup: &Path, path: &Path) -> DbResult<()> {
        let src = Connection::open_with_flags(backup, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db)?;
        let check: String = src
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(db)?;
        if check != "ok" {
            return Err(DbError::Corrupt(format!("备份文件校验失败：{check}")));
        }
        let mut dst = connect(path)?;
        {
            let b = rusqlite::backup::Backup::new(&src, &mut dst).map_err(db)?;
            b.run_to_completion(256, std::time::Duration::from_millis(0), None)
                .map_err(db)?;
        }
        migrate(&mut dst)?;
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> DbResult<T> {
        let conn = {
            // A list of idle connections: usable after a panic elsewhere.
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let out = f(&conn).map_err(db);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READERS {
                pool.push(conn);
            }
        }
        out
    }

    /// The writer connection, ready for a new transaction. A panic in an
    /// earlier writer poisons the lock but leaves a usable connection:
    /// whatever transaction it left open is rolled back and the writer
    /// carries on, so no write path stays stuck.
    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        let conn = match self.writer.lock() {
            Ok(c) => c,
            Err(p) => {
                self.writer.clear_poison();
                p.into_inner()
            }
        };
        if !conn.is_autocommit() {
            // Nothing may be logged here (the lock is held); a failed
            // rollback shows up as the next statement's error.
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn
    }

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> DbResult<T>) -> DbResult<T> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let out = f(&tx)?;
        tx.commit().map_err(db)?;
        Ok(out)
    }
}

fn migrate(conn: &mut Connection) -> DbResult<()> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(DbError::TooNew { found, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        person: r.get(0)?,
        password_hash: r.get(1)?,
        is_admin: r.get::<_, i64>(2)? != 0,
        disabled: r.get::<_, i64>(3)? != 0,
        created_at: r.get(4)?,
    })
}

fn enrolment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EnrolmentRow> {
    Ok(EnrolmentRow {
        id: r.get(0)?,
        device: r.get(1)?,
        device_name: r.get(2)?,
        person: r.get(3)?,
        fingerprint: r.get(4)?,
        pem: r.get(5)?,
        status: r.get(6)?,
        created_at: r.get(7)?,
        decided_by: r.get(8)?,
        decided_at: r.get(9)?,
    })
}

const ENROLMENT_COLS: &str =
    "id, device, device_name, person, fingerprint, pem, status, created_at, decided_by, decided_at";

type RawEvent = (
    i64,
    String,
    String,
    i64,
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

fn raw_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn to_event(raw: RawEvent) -> DbResult<EventRow> {
    let (gseq, id, case_id, seq, bytes, signature, receipt, receipt_sig) = raw;
    Ok(EventRow {
        gseq,
        id: parse_uuid(&id)?,
        case_id: parse_uuid(&case_id)?,
        seq,
        bytes,
        signature,
        receipt: receipt.zip(receipt_sig),
    })
}

fn delete_upload(tx: &rusqlite::Transaction<'_>, person: &str, sm3: &str) -> DbResult<()> {
    tx.execute(
        "DELETE FROM upload_chunks WHERE person=?1 AND sm3=?2",
        params![person, sm3],
    )
    .map_err(db)?;
    tx.execute(
        "DELETE FROM uploads WHERE person=?1 AND sm3=?2",
        params![person, sm3],
    )
    .map_err(db)?;
    Ok(())
}

struct Tx<'a, 'c> {
    tx: &'a rusqlite::Transaction<'c>,
}

impl EventTx for Tx<'_, '_> {
    fn savepoint(&mut self, name: &str) -> DbResult<()> {
        let sql = format!("SAVEPOINT {}", savepoint_name(name)?);
        self.tx.execute_batch(&sql).map_err(db)
    }

    fn rollback_to(&mut self, name: &str) -> DbResult<()> {
        let sql = format!("ROLLBACK TO SAVEPOINT {}", savepoint_name(name)?);
        self.tx.execute_batch(&sql).map_err(db)
    }

    fn release(&mut self, name: &str) -> DbResult<()> {
        let sql = format!("RELEASE SAVEPOINT {}", savepoint_name(name)?);
        self.tx.execute_batch(&sql).map_err(db)
    }

    fn case_no_taken(&mut self, case_no: &str, case_id: &Uuid) -> DbResult<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM cases WHERE case_no=?1 AND id<>?2",
                params![case_no, case_id.to_string()],
                |_| Ok(()),
            )
            .optional()
            .map_err(db)?
            .is_some())
    }

    fn event_hash(&mut self, id: &Uuid) -> DbResult<Option<String>> {
        self.tx
            .query_row(
                "SELECT hash FROM events WHERE id=?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
    }

    fn case_state(&mut self, case_id: &Uuid) -> DbResult<Option<CaseState>> {
        let json: Option<String> = self
            .tx
            .query_row(
                "SELECT state_json FROM cases WHERE id=?1",
                params![case_id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        json.map(|j| parse_state(&j)).transpose()
    }

    fn can_see(&mut self, person: &str, case_id: &Uuid) -> DbResult<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM case_access WHERE person=?1 AND case_id=?2",
                params![person, case_id.to_string()],
                |_| Ok(()),
            )
            .optional()
            .map_err(db)?
            .is_some())
    }

    fn insert_event(&mut self, ev: &NewEvent<'_>) -> DbResult<i64> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO events(id, case_id, seq, bytes, signature, hash, author, kind, received_at)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING gseq",
            )
            .map_err(db)?;
        stmt.query_row(
            params![
                ev.id.to_string(),
                ev.case_id.to_string(),
                ev.seq,
                ev.bytes,
                ev.signature,
                ev.hash,
                ev.author,
                ev.kind,
                ev.received_at
            ],
            |r| r.get(0),
        )
        .map_err(db)
    }

    fn set_receipt(&mut self, gseq: i64, bytes: &[u8], signature: &[u8]) -> DbResult<()> {
        let mut stmt = self
            .tx
            .prepare_cached("UPDATE events SET receipt=?1, receipt_sig=?2 WHERE gseq=?3")
            .map_err(db)?;
        stmt.execute(params![bytes, signature, gseq]).map_err(db)?;
        Ok(())
    }

    fn put_case(&mut self, s: &CaseState) -> DbResult<()> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO cases(id, case_type, case_no, unit, status, head, next_seq, state_json, updated_at)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id) DO UPDATE SET status=excluded.status, head=excluded.head,
                   next_seq=excluded.next_seq, state_json=excluded.state_json,
                   updated_at=excluded.updated_at",
            )
            .map_err(db)?;
        stmt.execute(params![
            s.case_id.to_string(),
            enum_text(&s.case_type)?,
            s.case_no,
            s.unit,
            enum_text(&s.status)?,
            s.head,
            s.next_seq as i64,
            state_json(s)?,
            crate::rfc3339(s.updated_at),
        ])
        .map_err(db)?;
        Ok(())
    }

    fn grant(&mut self, case_id: &Uuid, persons: &[String]) -> DbResult<()> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO case_access(case_id, person) VALUES(?1, ?2) ON CONFLICT DO NOTHING",
            )
            .map_err(db)?;
        let id = case_id.to_string();
        for p in persons {
            stmt.execute(params![id, p]).map_err(db)?;
        }
        Ok(())
    }

    fn holds_attachment(&mut self, person: &str, sm3: &str) -> DbResult<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM attachment_holders WHERE sm3=?1 AND person=?2",
                params![sm3, person],
                |_| Ok(()),
            )
            .optional()
            .map_err(db)?
            .is_some())
    }

    fn attachment_cases(&mut self, sm3: &str) -> DbResult<Vec<Uuid>> {
        let ids: Vec<String> = {
            let mut stmt = self
                .tx
                .prepare_cached("SELECT case_id FROM case_attachments WHERE sm3=?1")
                .map_err(db)?;
            let rows = stmt.query_map(params![sm3], |r| r.get(0)).map_err(db)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db)?
        };
        ids.iter().map(|i| parse_uuid(i)).collect()
    }

    fn link_attachment(&mut self, case_id: &Uuid, sm3: &str) -> DbResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO case_attachments(sm3, case_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING",
            )
            .map_err(db)?
            .execute(params![sm3, case_id.to_string()])
            .map_err(db)?;
        Ok(())
    }
}

impl HubDb for SqliteDb {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn meta_get(&self, key: &str) -> DbResult<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT value FROM meta WHERE key=?1", params![key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn meta_set(&self, key: &str, value: &str) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                params![key, value],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn meta_init(&self, key: &str, value: &str) -> DbResult<String> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO NOTHING",
                params![key, value],
            )
            .map_err(db)?;
            tx.query_row("SELECT value FROM meta WHERE key=?1", params![key], |r| {
                r.get(0)
            })
            .map_err(db)
        })
    }

    fn insert_user(&self, u: &UserRow) -> DbResult<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "INSERT INTO users(person, password_hash, is_admin, disabled, created_at)
                     VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(person) DO NOTHING",
                    params![
                        u.person,
                        u.password_hash,
                        u.is_admin as i64,
                        u.disabled as i64,
                        u.created_at
                    ],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
    }

    fn user(&self, person: &str) -> DbResult<Option<UserRow>> {
        self.read(|c| {
            c.query_row(
                "SELECT person, password_hash, is_admin, disabled, created_at FROM users WHERE person=?1",
                params![person],
                user_row,
            )
            .optional()
        })
    }

    fn users(&self) -> DbResult<Vec<UserRow>> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT person, password_hash, is_admin, disabled, created_at FROM users ORDER BY person",
            )?;
            let rows = s.query_map([], user_row)?;
            rows.collect()
        })
    }

    fn insert_session(&self, s: &SessionRow) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions(token_hash, person, device, created_at, last_seen, revoked)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    s.token_hash,
                    s.person,
                    s.device,
                    s.created_at,
                    s.last_seen,
                    s.revoked as i64
                ],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str) -> DbResult<Option<SessionRow>> {
        self.read(|c| {
            c.query_row(
                "SELECT token_hash, person, device, created_at, last_seen, revoked FROM sessions WHERE token_hash=?1",
                params![token_hash],
                |r| {
                    Ok(SessionRow {
                        token_hash: r.get(0)?,
                        person: r.get(1)?,
                        device: r.get(2)?,
                        created_at: r.get(3)?,
                        last_seen: r.get(4)?,
                        revoked: r.get::<_, i64>(5)? != 0,
                    })
                },
            )
            .optional()
        })
    }

    fn touch_session(&self, token_hash: &str, now: i64) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET last_seen=?2 WHERE token_hash=?1 AND last_seen < ?2",
                params![token_hash, now],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn revoke_session(&self, token_hash: &str) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sessions SET revoked=1 WHERE token_hash=?1",
                params![token_hash],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn revoke_sessions_of(&self, person: &str) -> DbResult<u64> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE sessions SET revoked=1 WHERE person=?1 AND revoked=0",
                    params![person],
                )
                .map_err(db)?;
            Ok(n as u64)
        })
    }

    fn insert_enrolment(&self, e: &EnrolmentRow) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO enrolments({ENROLMENT_COLS}) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    e.id,
                    e.device,
                    e.device_name,
                    e.person,
                    e.fingerprint,
                    e.pem,
                    e.status,
                    e.created_at,
                    e.decided_by,
                    e.decided_at
                ],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn enrolment(&self, id: &str) -> DbResult<Option<EnrolmentRow>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {ENROLMENT_COLS} FROM enrolments WHERE id=?1"),
                params![id],
                enrolment_row,
            )
            .optional()
        })
    }

    fn enrolments(&self, status: Option<&str>) -> DbResult<Vec<EnrolmentRow>> {
        self.read(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {ENROLMENT_COLS} FROM enrolments WHERE ?1 IS NULL OR status=?1
                 ORDER BY created_at DESC, id DESC"
            ))?;
            let rows = s.query_map(params![status], enrolment_row)?;
            rows.collect()
        })
    }

    fn decide_enrolment(
        &self,
        id: &str,
        from: &str,
        to: &str,
        by: &str,
        at: &str,
    ) -> DbResult<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE enrolments SET status=?3, decided_by=?4, decided_at=?5 WHERE id=?1 AND status=?2",
                    params![id, from, to, by, at],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
    }

    fn approved_key(&self, person: &str, fingerprint: &str) -> DbResult<Option<String>> {
        self.read(|c| {
            c.query_row(
                "SELECT pem FROM enrolments WHERE person=?1 AND fingerprint=?2 AND status='approved' LIMIT 1",
                params![person, fingerprint],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn approved_keys(&self) -> DbResult<Vec<(String, String, String)>> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT DISTINCT person, fingerprint, pem FROM enrolments WHERE status='approved'
                 ORDER BY person, fingerprint",
            )?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    fn hosted_key(&self, person: &str) -> DbResult<Option<HostedKeyRow>> {
        self.read(|c| {
            c.query_row(
                "SELECT person, enrolment_id, fingerprint, sealed, failures, locked_until, created_at
                 FROM hosted_keys WHERE person=?1",
                params![person],
                |r| {
                    Ok(HostedKeyRow {
                        person: r.get(0)?,
                        enrolment_id: r.get(1)?,
                        fingerprint: r.get(2)?,
                        sealed: r.get(3)?,
                        failures: r.get(4)?,
                        locked_until: r.get(5)?,
                        created_at: r.get(6)?,
                    })
                },
            )
            .optional()
        })
    }

    fn put_hosted_key(&self, k: &HostedKeyRow) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO hosted_keys(person, enrolment_id, fingerprint, sealed, failures, locked_until, created_at)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(person) DO UPDATE SET enrolment_id=excluded.enrolment_id,
                   fingerprint=excluded.fingerprint, sealed=excluded.sealed, failures=excluded.failures,
                   locked_until=excluded.locked_until, created_at=excluded.created_at",
                params![
                    k.person,
                    k.enrolment_id,
                    k.fingerprint,
                    k.sealed,
                    k.failures,
                    k.locked_until,
                    k.created_at
                ],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn hosted_key_attempt(&self, person: &str, now: i64) -> DbResult<Option<i64>> {
        self.write(|tx| {
            tx.query_row(
                "UPDATE hosted_keys SET failures=failures+1 WHERE person=?1 AND locked_until<=?2
                 RETURNING failures",
                params![person, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
    }

    fn set_hosted_key_failures(
        &self,
        person: &str,
        failures: i64,
        locked_until: i64,
    ) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE hosted_keys SET failures=?2, locked_until=?3 WHERE person=?1",
                params![person, failures, locked_until],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn login_counters(
        &self,
        keys: &[String],
        prune_before: i64,
        update: &mut LoginCounterFn<'_>,
    ) -> DbResult<()> {
        self.write(|tx| {
            let mut rows = Vec::with_capacity(keys.len());
            for k in keys {
                let row = tx
                    .query_row(
                        "SELECT failures, lockouts, locked_until, last_failure
                         FROM login_counters WHERE key=?1",
                        params![k],
                        |r| {
                            Ok(LoginCounter {
                                key: k.clone(),
                                failures: r.get(0)?,
                                lockouts: r.get(1)?,
                                locked_until: r.get(2)?,
                                last_failure: r.get(3)?,
                            })
                        },
                    )
                    .optional()
                    .map_err(db)?;
                rows.push(row.unwrap_or_else(|| LoginCounter::new(k)));
            }
            update(&mut rows);
            for c in &rows {
                tx.execute(
                    "INSERT INTO login_counters (key, failures, lockouts, locked_until, last_failure)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (key) DO UPDATE SET failures=?2, lockouts=?3,
                        locked_until=?4, last_failure=?5",
                    params![c.key, c.failures, c.lockouts, c.locked_until, c.last_failure],
                )
                .map_err(db)?;
            }
            tx.execute(
                "DELETE FROM login_counters WHERE last_failure < ?1 AND locked_until < ?1",
                params![prune_before],
            )
            .map_err(db)?;
            Ok(())
        })
    }

    fn push(&self, f: &mut PushFn<'_>) -> Result<(), ApiError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        f(&mut Tx { tx: &tx })?;
        tx.commit().map_err(db)?;
        Ok(())
    }

    fn events_after(&self, person: &str, after: i64, limit: i64) -> DbResult<Vec<EventRow>> {
        let raw = self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT e.gseq, e.id, e.case_id, e.seq, e.bytes, e.signature, e.receipt, e.receipt_sig
                 FROM events e JOIN case_access a ON a.case_id = e.case_id AND a.person = ?1
                 WHERE e.gseq > ?2 ORDER BY e.gseq LIMIT ?3",
            )?;
            let rows = s.query_map(params![person, after, limit], raw_event)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        raw.into_iter().map(to_event).collect()
    }

    fn feed_after(&self, after: i64, limit: i64) -> DbResult<Vec<(EventRow, Vec<String>)>> {
        let raw = self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT gseq, id, case_id, seq, bytes, signature, receipt, receipt_sig FROM events
                 WHERE gseq > ?1 ORDER BY gseq LIMIT ?2",
            )?;
            let events = s
                .query_map(params![after, limit], raw_event)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut a = c.prepare_cached("SELECT person FROM case_access WHERE case_id=?1")?;
            let mut out = Vec::with_capacity(events.len());
            let mut cache: std::collections::HashMap<String, Vec<String>> =
                std::collections::HashMap::new();
            for e in events {
                let viewers = match cache.get(&e.2) {
                    Some(v) => v.clone(),
                    None => {
                        let v = a
                            .query_map(params![e.2], |r| r.get::<_, String>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        cache.insert(e.2.clone(), v.clone());
                        v
                    }
                };
                out.push((e, viewers));
            }
            Ok(out)
        })?;
        raw.into_iter()
            .map(|(e, v)| Ok((to_event(e)?, v)))
            .collect()
    }

    fn case_events(&self, case_id: &Uuid) -> DbResult<Vec<EventRow>> {
        let raw = self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT gseq, id, case_id, seq, bytes, signature, receipt, receipt_sig FROM events WHERE case_id=?1 ORDER BY seq",
            )?;
            let rows = s.query_map(params![case_id.to_string()], raw_event)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        raw.into_iter().map(to_event).collect()
    }

    fn can_see(&self, person: &str, case_id: &Uuid) -> DbResult<bool> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT 1 FROM case_access WHERE person=?1 AND case_id=?2",
                params![person, case_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
    }

    fn case_state(&self, case_id: &Uuid) -> DbResult<Option<CaseState>> {
        let json: Option<String> = self.read(|c| {
            c.query_row(
                "SELECT state_json FROM cases WHERE id=?1",
                params![case_id.to_string()],
                |r| r.get(0),
            )
            .optional()
        })?;
        json.map(|j| parse_state(&j)).transpose()
    }

    fn visible_cases(&self, person: &str, status: &str, limit: i64) -> DbResult<Vec<CaseState>> {
        let rows: Vec<String> = self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT c.state_json FROM cases c JOIN case_access a ON a.case_id = c.id AND a.person=?1
                 WHERE c.status=?2 ORDER BY c.updated_at DESC LIMIT ?3",
            )?;
            let rows = s.query_map(params![person, status, limit], |r| r.get(0))?;
            rows.collect()
        })?;
        rows.iter().map(|j| parse_state(j)).collect()
    }

    fn max_gseq(&self) -> DbResult<i64> {
        self.read(|c| {
            c.query_row("SELECT coalesce(max(gseq), 0) FROM events", [], |r| {
                r.get(0)
            })
        })
    }

    fn counts(&self) -> DbResult<(i64, i64)> {
        self.read(|c| {
            Ok((
                c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?,
                c.query_row("SELECT count(*) FROM cases", [], |r| r.get(0))?,
            ))
        })
    }

    fn upload_begin(
        &self,
        person: &str,
        sm3: &str,
        size: i64,
        mime: &str,
        now: i64,
        quota: i64,
    ) -> DbResult<UploadBegin> {
        self.write(|tx| {
            let row = |received| UploadRow {
                person: person.into(),
                sm3: sm3.into(),
                size,
                mime: mime.into(),
                received,
                touched_at: now,
            };
            let existing: Option<(i64, String, i64)> = tx
                .query_row(
                    "SELECT size, mime, received FROM uploads WHERE person=?1 AND sm3=?2",
                    params![person, sm3],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db)?;
            if let Some((s, m, received)) = existing {
                if s == size && m == mime {
                    tx.execute(
                        "UPDATE uploads SET touched_at=?3 WHERE person=?1 AND sm3=?2",
                        params![person, sm3, now],
                    )
                    .map_err(db)?;
                    return Ok(UploadBegin::Started(row(received)));
                }
            }
            let used: i64 = tx
                .query_row(
                    "SELECT coalesce(sum(size), 0) FROM uploads WHERE person=?1 AND sm3<>?2",
                    params![person, sm3],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if used.saturating_add(size) > quota {
                return Ok(UploadBegin::OverQuota { used });
            }
            tx.execute(
                "DELETE FROM upload_chunks WHERE person=?1 AND sm3=?2",
                params![person, sm3],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO uploads(person, sm3, size, mime, received, touched_at)
                 VALUES(?1, ?2, ?3, ?4, 0, ?5)
                 ON CONFLICT(person, sm3) DO UPDATE SET size=excluded.size, mime=excluded.mime,
                   received=0, touched_at=excluded.touched_at",
                params![person, sm3, size, mime, now],
            )
            .map_err(db)?;
            Ok(UploadBegin::Started(row(0)))
        })
    }

    fn upload(&self, person: &str, sm3: &str) -> DbResult<Option<UploadRow>> {
        self.read(|c| {
            c.query_row(
                "SELECT person, sm3, size, mime, received, touched_at FROM uploads
                 WHERE person=?1 AND sm3=?2",
                params![person, sm3],
                |r| {
                    Ok(UploadRow {
                        person: r.get(0)?,
                        sm3: r.get(1)?,
                        size: r.get(2)?,
                        mime: r.get(3)?,
                        received: r.get(4)?,
                        touched_at: r.get(5)?,
                    })
                },
            )
            .optional()
        })
    }

    fn upload_append(
        &self,
        person: &str,
        sm3: &str,
        offset: i64,
        data: &[u8],
        now: i64,
    ) -> DbResult<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE uploads SET received = received + ?4, touched_at=?5
                     WHERE person=?1 AND sm3=?2 AND received=?3",
                    params![person, sm3, offset, data.len() as i64, now],
                )
                .map_err(db)?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO upload_chunks(person, sm3, offset, data) VALUES(?1, ?2, ?3, ?4)",
                params![person, sm3, offset, data],
            )
            .map_err(db)?;
            Ok(true)
        })
    }

    fn upload_data(&self, person: &str, sm3: &str) -> DbResult<Vec<u8>> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT data FROM upload_chunks WHERE person=?1 AND sm3=?2 ORDER BY offset",
            )?;
            let mut out = Vec::new();
            let rows = s.query_map(params![person, sm3], |r| r.get::<_, Vec<u8>>(0))?;
            for r in rows {
                out.extend_from_slice(&r?);
            }
            Ok(out)
        })
    }

    fn upload_finish(&self, person: &str, sm3: &str, mime: &str, data: &[u8]) -> DbResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO attachments(sm3, mime, size, data, created_at) VALUES(?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(sm3) DO NOTHING",
                params![sm3, mime, data.len() as i64, data, now_text()],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT INTO attachment_holders(sm3, person) VALUES(?1, ?2) ON CONFLICT DO NOTHING",
                params![sm3, person],
            )
            .map_err(db)?;
            delete_upload(tx, person, sm3)
        })
    }

    fn upload_abort(&self, person: &str, sm3: &str) -> DbResult<()> {
        self.write(|tx| delete_upload(tx, person, sm3))
    }

    fn expire_uploads(&self, before: i64) -> DbResult<u64> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM upload_chunks WHERE (person, sm3) IN
                   (SELECT person, sm3 FROM uploads WHERE touched_at < ?1)",
                params![before],
            )
            .map_err(db)?;
            let n = tx
                .execute("DELETE FROM uploads WHERE touched_at < ?1", params![before])
                .map_err(db)?;
            Ok(n as u64)
        })
    }

    fn attachment_meta(&self, sm3: &str) -> DbResult<Option<(String, i64)>> {
        self.read(|c| {
            c.query_row(
                "SELECT mime, size FROM attachments WHERE sm3=?1",
                params![sm3],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    fn attachment(&self, sm3: &str) -> DbResult<Option<(String, Vec<u8>)>> {
        self.read(|c| {
            c.query_row(
                "SELECT mime, data FROM attachments WHERE sm3=?1",
                params![sm3],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    fn attachment_in_scope(&self, person: &str, sm3: &str) -> DbResult<bool> {
        self.read(|c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM attachment_holders WHERE sm3=?1 AND person=?2)
                     OR EXISTS(SELECT 1 FROM case_attachments ca
                               JOIN case_access a ON a.case_id = ca.case_id AND a.person = ?2
                               WHERE ca.sm3 = ?1)",
                params![sm3, person],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n != 0)
        })
    }

    fn insert_seal(&self, s: &SealRow) -> DbResult<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "INSERT INTO seals(id, kind, holder, holder_key, seal_json, registered_at,
                       registered_by, revoked_at, revoked_by)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) DO NOTHING",
                    params![
                        s.id,
                        s.kind,
                        s.holder,
                        s.holder_key,
                        s.seal_json,
                        s.registered_at,
                        s.registered_by,
                        s.revoked_at,
                        s.revoked_by
                    ],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
    }

    fn seals(&self) -> DbResult<Vec<SealRow>> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT id, kind, holder, holder_key, seal_json, registered_at, registered_by,
                   revoked_at, revoked_by FROM seals ORDER BY registered_at, id",
            )?;
            let rows = s.query_map([], |r| {
                Ok(SealRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    holder: r.get(2)?,
                    holder_key: r.get(3)?,
                    seal_json: r.get(4)?,
                    registered_at: r.get(5)?,
                    registered_by: r.get(6)?,
                    revoked_at: r.get(7)?,
                    revoked_by: r.get(8)?,
                })
            })?;
            rows.collect()
        })
    }

    fn revoke_seal(&self, id: &str, by: &str, at: &str) -> DbResult<bool> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE seals SET revoked_at=?3, revoked_by=?2 WHERE id=?1 AND revoked_at IS NULL",
                    params![id, by, at],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
    }

    fn backup(&self, dest: &Path) -> DbResult<()> {
        if dest.exists() {
            return Err(DbError::Backend(format!(
                "备份目标 {} 已存在，不会覆盖",
                dest.display()
            )));
        }
        // The copy is as private as the database: an empty 0600 file
        // that SQLite fills (create_new: nothing else is overwritten).
        jingwu_store::private_fs::create_new(dest)
            .map_err(|e| DbError::Backend(format!("无法创建备份文件 {}：{e}", dest.display())))?;
        // Online backup from a reader connection: consistent (one
        // snapshot per step, restarted if the writer changes pages) and
        // the hub keeps serving.
        let copied = self.read(|c| {
            c.backup(
                rusqlite::MAIN_DB,
                dest,
                None::<fn(rusqlite::backup::Progress)>,
            )?;
            Ok(())
        });
        if let Err(e) = copied {
            // No empty file that looks like a backup.
            let _ = std::fs::remove_file(dest);
            return Err(e);
        }
        let check = Connection::open(dest)
            .and_then(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)))
            .map_err(db)?;
        if check != "ok" {
            return Err(DbError::Corrupt(format!("备份校验失败：{check}")));
        }
        Ok(())
    }

    fn listen(&self, _wake: Box<dyn Fn() + Send + Sync>) -> DbResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn scoping_migration_backfills_attachments_of_cases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        // A database as the hub left it before attachments were scoped.
        let c = connect(&path).unwrap();
        for sql in &MIGRATIONS[..3] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 3).unwrap();
        let (case, other) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        let sm3 = "ab".repeat(32);
        let attach = format!(
            r#"{{"case_id":"{case}","kind":"attach","payload":{{"attachment":{{"mime":"image/png","name":"a.png","size":3,"sm3":"{sm3}"}},"field":"scans"}}}}"#
        );
        for (i, (case_id, kind, bytes)) in [
            (&case, "create", b"not json: never read".to_vec()),
            (&case, "attach", attach.into_bytes()),
            (
                &other,
                "attach",
                br#"{"kind":"attach","payload":{}}"#.to_vec(),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            c.execute(
                "INSERT INTO events(id, case_id, seq, bytes, signature, hash, author, kind, received_at)
                 VALUES(?1, ?2, ?3, ?4, x'00', 'h', 'p1', ?5, 't')",
                params![Uuid::now_v7().to_string(), case_id, i as i64, bytes, kind],
            )
            .unwrap();
        }
        c.execute_batch(&format!(
            "INSERT INTO case_access(case_id, person) VALUES('{case}', 'p1');
             INSERT INTO attachments(sm3, mime, size, data, created_at)
                VALUES('{sm3}', 'image/png', 3, x'010203', 't');
             INSERT INTO uploads(sm3, size, mime, received) VALUES('cd', 5, 'image/png', 2);"
        ))
        .unwrap();
        drop(c);
        let db = SqliteDb::open(&path).unwrap();
        assert!(db.attachment_in_scope("p1", &sm3).unwrap());
        assert!(!db.attachment_in_scope("p2", &sm3).unwrap());
        assert_eq!(
            db.attachment(&sm3).unwrap(),
            Some(("image/png".into(), vec![1, 2, 3]))
        );
        // The old unfinished upload had no owner: gone.
        assert_eq!(db.upload("p1", "cd").unwrap(), None);
        let n: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM case_attachments", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 1);
    }

    /// A panic inside a write transaction (as a failing log write used to
    /// cause) leaves neither a poisoned lock nor an open transaction: the
    /// next writes work, and the panicking one's rows are gone.
    #[test]
    fn the_writer_recovers_after_a_panic_inside_a_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("hub.db")).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = db.push(&mut |tx| {
                tx.grant(&Uuid::nil(), &["x".to_string()])?;
                panic!("a log write failed");
            });
        }));
        assert!(r.is_err());
        assert!(db.writer.is_poisoned());
        db.meta_set("k", "v").unwrap();
        assert_eq!(db.meta_get("k").unwrap().as_deref(), Some("v"));
        assert!(!db.can_see("x", &Uuid::nil()).unwrap());
        db.push(&mut |tx| Ok(tx.grant(&Uuid::nil(), &["y".to_string()])?))
            .unwrap();
        assert!(db.can_see("y", &Uuid::nil()).unwrap());
    }
}
