//! The hub's storage written once: the schema steps, every statement and
//! row mapper, and [`HubDb`] for any [`Backend`]. A backend supplies
//! connections (read, write, transaction), the push transaction's write
//! lock, backup and the wake-up of other processes; everything else is
//! here.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use std::collections::BTreeMap;

use jingwu_core::case::CaseState;
use jingwu_core::public::PublicStatus;
use jingwu_core::stats::{Conditions, Dim, IncidentFacts, Measures, SpeedKind, SpeedRows};
use uuid::Uuid;

use jingwu_proto::{IncidentRow, SortBy};

use super::sql::{args, Conn, Dialect, Param, Row};
use super::{
    enum_text, parse_state, parse_uuid, state_json, CaseStatusRow, DbError, DbResult, EnrolmentRow,
    EventRow, EventTx, HostedKeyRow, HubDb, LoginCounter, LoginCounterFn, NewEvent, PushAbort,
    PushFn, SealRow, SessionRow, SmsRow, UpdateCheck, UpdateRow, UploadBegin, UploadRow, UserRow,
};

/// What a storage backend provides. Every closure gets a [`Conn`] that
/// speaks its dialect.
pub trait Backend: Send + Sync + 'static {
    /// `sqlite` or `postgresql`.
    const NAME: &'static str;
    /// Runs `f` on a connection for reading.
    fn read<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T>;
    /// Runs `f`, whose statements are each atomic on their own (no
    /// transaction needed across them), on a connection for writing.
    fn write<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T>;
    /// Runs `f` in one transaction: commits when it returns `Ok`.
    fn transaction<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T>;
    /// Runs `f` in one transaction serialised with every other push
    /// (across processes), so `gseq` grows in commit order; commits when
    /// it returns `Ok`. `f` says whether it wrote anything (then other
    /// processes are woken).
    fn push_transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn Conn) -> Result<bool, PushAbort>,
    ) -> Result<(), PushAbort>;
    /// Writes a consistent copy of the live database to `dest`.
    fn backup(&self, dest: &Path) -> DbResult<()>;
    /// Calls `wake` whenever another process commits events.
    fn listen(&self, wake: Box<dyn Fn() + Send + Sync>) -> DbResult<()>;
}

/// One schema step: a script (with `{word}`s, see `sql::rewrite`), then
/// optionally data work written against [`Conn`]. Applied in order, each
/// in its own transaction; the number applied is the schema version (in
/// SQLite's `user_version`, PostgreSQL's `schema_version` table). Never
/// edit one that has shipped: append.
pub struct Migration {
    pub sql: &'static str,
    pub then: Option<fn(&mut dyn Conn) -> DbResult<()>>,
}

impl Migration {
    fn apply(&self, c: &mut dyn Conn) -> DbResult<()> {
        c.batch(self.sql)?;
        match self.then {
            Some(f) => f(c),
            None => Ok(()),
        }
    }
}

/// Text columns that are sorted on use `{c}` (PostgreSQL's "C"
/// collation), so ordering is by bytes as in SQLite whatever the
/// database's locale.
pub const MIGRATIONS: &[Migration] = &[
    // 1: the first schema.
    Migration {
        sql: r#"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL){strict};
     CREATE TABLE users (
        person        TEXT{c} PRIMARY KEY,
        password_hash TEXT NOT NULL,
        is_admin      {bool} NOT NULL,
        disabled      {bool} NOT NULL DEFAULT {false},
        created_at    TEXT NOT NULL
     ){strict};
     CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        person     TEXT NOT NULL,
        device     TEXT,
        created_at {int} NOT NULL,
        last_seen  {int} NOT NULL,
        revoked    {bool} NOT NULL DEFAULT {false}
     ){strict};
     CREATE INDEX sessions_person ON sessions(person);
     CREATE TABLE enrolments (
        id          TEXT{c} PRIMARY KEY,
        device      TEXT NOT NULL,
        device_name TEXT NOT NULL,
        person      TEXT{c} NOT NULL,
        fingerprint TEXT{c} NOT NULL,
        pem         TEXT{c} NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','revoked')),
        created_at  TEXT{c} NOT NULL,
        decided_by  TEXT,
        decided_at  TEXT
     ){strict};
     CREATE INDEX enrolments_key ON enrolments(person, fingerprint, status);
     CREATE TABLE events (
        gseq        {gseq},
        id          TEXT NOT NULL UNIQUE,
        case_id     TEXT NOT NULL,
        seq         {int} NOT NULL,
        bytes       {bytes} NOT NULL,
        signature   {bytes} NOT NULL,
        hash        TEXT NOT NULL,
        author      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (case_id, seq)
     ){strict};
     CREATE TABLE cases (
        id         TEXT PRIMARY KEY,
        case_type  TEXT NOT NULL,
        case_no    TEXT NOT NULL UNIQUE,
        unit       TEXT NOT NULL,
        status     TEXT NOT NULL,
        head       TEXT NOT NULL,
        next_seq   {int} NOT NULL,
        state_json TEXT NOT NULL,
        updated_at TEXT{c} NOT NULL
     ){strict};
     CREATE TABLE case_access (
        case_id TEXT NOT NULL,
        person  TEXT{c} NOT NULL,
        PRIMARY KEY (person, case_id)
     ){strict_norowid};
     CREATE INDEX case_access_case ON case_access(case_id);
     CREATE TABLE uploads (
        sm3      TEXT PRIMARY KEY,
        size     {int} NOT NULL,
        mime     TEXT NOT NULL,
        received {int} NOT NULL
     ){strict};
     CREATE TABLE upload_chunks (
        sm3      TEXT NOT NULL,
        "offset" {int} NOT NULL,
        data     {bytes} NOT NULL,
        PRIMARY KEY (sm3, "offset")
     ){strict};
     CREATE TABLE attachments (
        sm3        TEXT PRIMARY KEY,
        mime       TEXT NOT NULL,
        size       {int} NOT NULL,
        data       {bytes} NOT NULL,
        created_at TEXT NOT NULL
     ){strict};"#,
        then: None,
    },
    // 2: signing keys the hub keeps for browser users.
    Migration {
        sql: "CREATE TABLE hosted_keys (
        person       TEXT PRIMARY KEY,
        enrolment_id TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        sealed       TEXT NOT NULL,
        failures     {int} NOT NULL,
        locked_until {int} NOT NULL,
        created_at   TEXT NOT NULL
     ){strict};",
        then: None,
    },
    // 3: electronic seals issued by seal administrators (印章管理员).
    Migration {
        sql: "CREATE TABLE seals (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('unit', 'personal')),
        holder        TEXT NOT NULL,
        holder_key    TEXT NOT NULL,
        seal_json     TEXT NOT NULL,
        registered_at TEXT{c} NOT NULL,
        registered_by TEXT NOT NULL,
        revoked_at    TEXT,
        revoked_by    TEXT
     ){strict};
     CREATE INDEX seals_holder ON seals(holder);",
        then: None,
    },
    // 4: the hub's signed receipt of each event it accepts (the canonical
    // receipt bytes and the hub's SM2 signature). Events stored before
    // this step have none.
    Migration {
        sql: "ALTER TABLE events ADD COLUMN receipt {bytes};
     ALTER TABLE events ADD COLUMN receipt_sig {bytes};",
        then: None,
    },
    // 5: attachments are scoped. Uploads belong to their uploader (keyed
    // by person and SM3, touched_at for expiry); unfinished uploads from
    // before had no owner and are dropped (stations start them again).
    // attachment_holders: who uploaded a stored file completely.
    // case_attachments: which cases an attach event put a file in,
    // backfilled from the attach events already stored.
    Migration {
        sql: r#"DROP TABLE upload_chunks;
     DROP TABLE uploads;
     CREATE TABLE uploads (
        person     TEXT NOT NULL,
        sm3        TEXT NOT NULL,
        size       {int} NOT NULL,
        mime       TEXT NOT NULL,
        received   {int} NOT NULL,
        touched_at {int} NOT NULL,
        PRIMARY KEY (person, sm3)
     ){strict};
     CREATE INDEX uploads_touched ON uploads(touched_at);
     CREATE TABLE upload_chunks (
        person   TEXT NOT NULL,
        sm3      TEXT NOT NULL,
        "offset" {int} NOT NULL,
        data     {bytes} NOT NULL,
        PRIMARY KEY (person, sm3, "offset")
     ){strict};
     CREATE TABLE attachment_holders (
        sm3    TEXT NOT NULL,
        person TEXT NOT NULL,
        PRIMARY KEY (sm3, person)
     ){strict_norowid};
     CREATE TABLE case_attachments (
        sm3     TEXT NOT NULL,
        case_id TEXT NOT NULL,
        PRIMARY KEY (sm3, case_id)
     ){strict_norowid};"#,
        then: Some(backfill_case_attachments),
    },
    // 6: login attempts per account and per source address (lockout).
    Migration {
        sql: "CREATE TABLE login_counters (
        key          TEXT PRIMARY KEY,
        failures     {int} NOT NULL,
        lockouts     {int} NOT NULL,
        locked_until {int} NOT NULL,
        last_failure {int} NOT NULL
     ){strict};
     CREATE INDEX login_counters_last ON login_counters(last_failure);",
        then: None,
    },
    // 7: the typed 110 table statistics read (`incidents.rs`), kept by
    // the push transaction; backfilled from the records stored.
    Migration {
        sql: super::incidents::MIGRATION,
        then: Some(super::incidents::backfill),
    },
    // 8: statistics' rollups per day and per month (`incidents.rs`),
    // kept with the typed rows; filled from the rows stored.
    Migration {
        sql: super::incidents::ROLLUPS,
        then: None,
    },
    // 9: what the public status page shows of a 户口变更
    // (`jingwu_core::public::PublicStatus`), kept by the push transaction
    // beside the projection and backfilled from it; and the SMS outbox
    // (`crate::sms`): one row per case whose result became final, written
    // in the transaction of the event that made it final.
    Migration {
        sql: "CREATE TABLE case_status (
        case_no    TEXT PRIMARY KEY,
        case_id    TEXT NOT NULL,
        id_tail    TEXT NOT NULL,
        status     TEXT NOT NULL,
        changed_on TEXT NOT NULL
     ){strict};
     CREATE TABLE sms_outbox (
        id          TEXT PRIMARY KEY,
        case_id     TEXT NOT NULL UNIQUE,
        case_no     TEXT NOT NULL,
        phone       TEXT NOT NULL,
        result      TEXT NOT NULL,
        result_date TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        attempts    {int} NOT NULL,
        next_try    {int} NOT NULL,
        sent_at     TEXT,
        last_error  TEXT
     ){strict};
     CREATE INDEX sms_outbox_due ON sms_outbox(state, next_try);",
        then: Some(backfill_case_status),
    },
    // 10: cases by status and type (the 督办 list reads the 户口变更 in
    // review among a million 110 records).
    Migration {
        sql: "CREATE INDEX cases_status ON cases(status, case_type, updated_at);",
        then: None,
    },
    // 11: trigram indexes for the query's free text, on PostgreSQL when
    // the account may create `pg_trgm` (`incidents.rs`); nothing on SQLite.
    Migration {
        sql: "",
        then: Some(super::incidents::trigram_indexes),
    },
    // 12: updates of the desktop app uploaded by administrators
    // (`crate::updates`); the packages are kept in `attachments`.
    Migration {
        sql: "CREATE TABLE updates (
        id          TEXT PRIMARY KEY,
        platform    TEXT NOT NULL,
        version     TEXT NOT NULL,
        notes       TEXT NOT NULL,
        signature   TEXT NOT NULL,
        sm3         TEXT NOT NULL,
        file_name   TEXT NOT NULL,
        size        {int} NOT NULL,
        pub_date    TEXT{c} NOT NULL,
        uploaded_by TEXT NOT NULL,
        UNIQUE (platform, version)
     ){strict};",
        then: None,
    },
];

/// Step 9's data: the public status of every 户口变更 stored.
fn backfill_case_status(c: &mut dyn Conn) -> DbResult<()> {
    let rows = c.query(
        "SELECT state_json FROM cases WHERE case_type = 'hukou_change'",
        &[],
    )?;
    let mut states = Vec::with_capacity(rows.len());
    for mut r in rows {
        states.push(parse_state(&r.text(0)?)?);
    }
    write_case_status(c, states.iter())
}

/// Upserts the public status of the cases that have one (see
/// `jingwu_core::public::PublicStatus::of`).
fn write_case_status<'a>(
    c: &mut dyn Conn,
    states: impl Iterator<Item = &'a CaseState>,
) -> DbResult<()> {
    let mut rows = Vec::new();
    for st in states {
        if let Some(p) = PublicStatus::of(st) {
            rows.push((
                p.case_no,
                st.case_id.to_string(),
                p.id_tail,
                enum_text(&p.status)?,
                jingwu_core::public::date_text(p.changed_on),
            ));
        }
    }
    for chunk in rows.chunks(FLUSH_ROWS) {
        let sql = values_sql(
            "INSERT INTO case_status(case_no, case_id, id_tail, status, changed_on)",
            5,
            chunk.len(),
            "ON CONFLICT(case_no) DO UPDATE SET case_id=excluded.case_id,
               id_tail=excluded.id_tail, status=excluded.status, changed_on=excluded.changed_on",
        );
        let params: Vec<Param<'_>> = chunk
            .iter()
            .flat_map(|(a, b, t, s, d)| {
                [
                    Param::Text(a),
                    Param::Text(b),
                    Param::Text(t),
                    Param::Text(s),
                    Param::Text(d),
                ]
            })
            .collect();
        c.execute(&sql, &params)?;
    }
    Ok(())
}

/// Step 5's data: the attachment of every stored attach event (its
/// signed JSON's `payload.attachment.sm3`) belongs to the event's case.
fn backfill_case_attachments(c: &mut dyn Conn) -> DbResult<()> {
    let rows = c.query(
        "SELECT case_id, bytes FROM events WHERE kind = 'attach'",
        &[],
    )?;
    for mut r in rows {
        let case_id = r.text(0)?;
        let bytes = r.bytes(1)?;
        let sm3 = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.pointer("/payload/attachment/sm3")
                    .and_then(|s| s.as_str().map(str::to_string))
            });
        if let Some(sm3) = sm3 {
            c.execute(SQL_LINK_ATTACHMENT, args![&sm3, &case_id])?;
        }
    }
    Ok(())
}

/// Applies the steps after version `found`; `step` runs one in a
/// transaction of the backend's and records its version there.
pub fn migrate(
    found: i64,
    mut step: impl FnMut(i64, &mut dyn FnMut(&mut dyn Conn) -> DbResult<()>) -> DbResult<()>,
) -> DbResult<()> {
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(DbError::TooNew { found, supported });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        step(i as i64 + 1, &mut |c| m.apply(c))?;
    }
    Ok(())
}

// ----- row mappers ------------------------------------------------------

const USER_COLS: &str = "person, password_hash, is_admin, disabled, created_at";

fn user_row(mut r: Row) -> DbResult<UserRow> {
    Ok(UserRow {
        person: r.text(0)?,
        password_hash: r.text(1)?,
        is_admin: r.bool(2)?,
        disabled: r.bool(3)?,
        created_at: r.text(4)?,
    })
}

fn session_row(mut r: Row) -> DbResult<SessionRow> {
    Ok(SessionRow {
        token_hash: r.text(0)?,
        person: r.text(1)?,
        device: r.opt_text(2)?,
        created_at: r.i64(3)?,
        last_seen: r.i64(4)?,
        revoked: r.bool(5)?,
    })
}

fn enrolment_row(mut r: Row) -> DbResult<EnrolmentRow> {
    Ok(EnrolmentRow {
        id: r.text(0)?,
        device: r.text(1)?,
        device_name: r.text(2)?,
        person: r.text(3)?,
        fingerprint: r.text(4)?,
        pem: r.text(5)?,
        status: r.text(6)?,
        created_at: r.text(7)?,
        decided_by: r.opt_text(8)?,
        decided_at: r.opt_text(9)?,
    })
}

fn hosted_key_row(mut r: Row) -> DbResult<HostedKeyRow> {
    Ok(HostedKeyRow {
        person: r.text(0)?,
        enrolment_id: r.text(1)?,
        fingerprint: r.text(2)?,
        sealed: r.text(3)?,
        failures: r.i64(4)?,
        locked_until: r.i64(5)?,
        created_at: r.text(6)?,
    })
}

fn upload_row(mut r: Row) -> DbResult<UploadRow> {
    Ok(UploadRow {
        person: r.text(0)?,
        sm3: r.text(1)?,
        size: r.i64(2)?,
        mime: r.text(3)?,
        received: r.i64(4)?,
        touched_at: r.i64(5)?,
    })
}

fn seal_row(mut r: Row) -> DbResult<SealRow> {
    Ok(SealRow {
        id: r.text(0)?,
        kind: r.text(1)?,
        holder: r.text(2)?,
        holder_key: r.text(3)?,
        seal_json: r.text(4)?,
        registered_at: r.text(5)?,
        registered_by: r.text(6)?,
        revoked_at: r.opt_text(7)?,
        revoked_by: r.opt_text(8)?,
    })
}

/// The columns [`sms_row`] reads.
const UPDATE_COLS: &str =
    "id, platform, version, notes, signature, sm3, file_name, size, pub_date, uploaded_by";

fn update_row(mut r: Row) -> DbResult<UpdateRow> {
    Ok(UpdateRow {
        id: r.text(0)?,
        platform: r.text(1)?,
        version: r.text(2)?,
        notes: r.text(3)?,
        signature: r.text(4)?,
        sm3: r.text(5)?,
        file_name: r.text(6)?,
        size: r.i64(7)?,
        pub_date: r.text(8)?,
        uploaded_by: r.text(9)?,
    })
}

const SMS_COLS: &str = "id, case_id, case_no, phone, result, result_date, created_at, state,
    attempts, next_try, sent_at, last_error";

fn sms_row(mut r: Row) -> DbResult<SmsRow> {
    Ok(SmsRow {
        id: r.text(0)?,
        case_id: r.text(1)?,
        case_no: r.text(2)?,
        phone: r.text(3)?,
        result: r.text(4)?,
        result_date: r.text(5)?,
        created_at: r.text(6)?,
        state: r.text(7)?,
        attempts: r.i64(8)?,
        next_try: r.i64(9)?,
        sent_at: r.opt_text(10)?,
        last_error: r.opt_text(11)?,
    })
}

/// The columns [`event_row`] reads, from `events e`.
const EVENT_COLS: &str =
    "e.gseq, e.id, e.case_id, e.seq, e.bytes, e.signature, e.receipt, e.receipt_sig";

fn event_row(r: &mut Row) -> DbResult<EventRow> {
    let receipt = r.opt_bytes(6)?;
    let receipt_sig = r.opt_bytes(7)?;
    Ok(EventRow {
        gseq: r.i64(0)?,
        id: parse_uuid(&r.text(1)?)?,
        case_id: parse_uuid(&r.text(2)?)?,
        seq: r.i64(3)?,
        bytes: r.bytes(4)?,
        signature: r.bytes(5)?,
        receipt: receipt.zip(receipt_sig),
    })
}

fn events(rows: Vec<Row>) -> DbResult<Vec<EventRow>> {
    rows.into_iter().map(|mut r| event_row(&mut r)).collect()
}

fn state_of(row: Option<Row>) -> DbResult<Option<CaseState>> {
    row.map(|mut r| parse_state(&r.text(0)?)).transpose()
}

fn len_i64(n: usize, what: &str) -> DbResult<i64> {
    i64::try_from(n).map_err(|_| DbError::Backend(format!("{what}过大")))
}

// ----- statements used in more than one place ---------------------------

const SQL_CASE_STATE: &str = "SELECT state_json FROM cases WHERE id=$1";
const SQL_CAN_SEE: &str = "SELECT 1 FROM case_access WHERE person=$1 AND case_id=$2";
const SQL_META_GET: &str = "SELECT value FROM meta WHERE key=$1";
const SQL_LINK_ATTACHMENT: &str =
    "INSERT INTO case_attachments(sm3, case_id) VALUES($1, $2) ON CONFLICT DO NOTHING";
const SQL_DELETE_CHUNKS: &str = "DELETE FROM upload_chunks WHERE person=$1 AND sm3=$2";

fn delete_upload(c: &mut dyn Conn, person: &str, sm3: &str) -> DbResult<()> {
    c.execute(SQL_DELETE_CHUNKS, args![person, sm3])?;
    c.execute(
        "DELETE FROM uploads WHERE person=$1 AND sm3=$2",
        args![person, sm3],
    )?;
    Ok(())
}

// ----- the push transaction ---------------------------------------------

/// Rows per multi-row insert of projections and grants.
const FLUSH_ROWS: usize = 64;

/// `INSERT INTO … VALUES ($1, …), (…) <tail>` for `rows` rows of `cols`
/// columns.
pub(super) fn values_sql(head: &str, cols: usize, rows: usize, tail: &str) -> String {
    let mut s = String::with_capacity(head.len() + tail.len() + rows * cols * 5);
    s.push_str(head);
    s.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(r * cols + c + 1).to_string());
        }
        s.push(')');
    }
    s.push(' ');
    s.push_str(tail);
    s
}

/// The operations of one push transaction, over either backend.
///
/// Case projections and grants are kept in memory and written in one
/// multi-row statement each when the transaction ends or a savepoint is
/// set or released, which saves round trips on PostgreSQL; reads inside
/// the transaction see them (only push transactions write these tables,
/// and they are serialised, so what the transaction itself wrote is all
/// that can differ from the database). A failing write (say a duplicate
/// `case_no`) is reported there instead of at `put_case`; either way
/// nothing of it is stored.
struct PushTx<'a> {
    c: &'a mut dyn Conn,
    /// Whether anything was written (then other processes are woken).
    dirty: bool,
    /// The latest projection of each case written, in first-write order.
    cases: HashMap<Uuid, CaseState>,
    case_order: Vec<Uuid>,
    /// Grants made: (case, person).
    grants: HashSet<(Uuid, String)>,
}

impl<'a> PushTx<'a> {
    fn new(c: &'a mut dyn Conn) -> PushTx<'a> {
        PushTx {
            c,
            dirty: false,
            cases: HashMap::new(),
            case_order: Vec::new(),
            grants: HashSet::new(),
        }
    }

    /// Forgets the pending projections and grants.
    fn discard(&mut self) {
        self.cases.clear();
        self.case_order.clear();
        self.grants.clear();
    }

    /// Writes the pending projections and grants.
    fn flush(&mut self) -> DbResult<()> {
        let order = std::mem::take(&mut self.case_order);
        let mut cases = std::mem::take(&mut self.cases);
        let mut rows = Vec::with_capacity(order.len());
        for id in &order {
            if let Some(st) = cases.remove(id) {
                rows.push((
                    st.case_id.to_string(),
                    enum_text(&st.case_type)?,
                    enum_text(&st.status)?,
                    i64::try_from(st.next_seq)
                        .map_err(|_| DbError::Corrupt(format!("案件序号 {} 过大", st.next_seq)))?,
                    state_json(&st)?,
                    crate::rfc3339(st.updated_at),
                    st,
                ));
            }
        }
        let facts = super::incidents::facts_of(rows.iter().map(|r| &r.6));
        for chunk in rows.chunks(FLUSH_ROWS) {
            let sql = values_sql(
                "INSERT INTO cases(id, case_type, case_no, unit, status, head, next_seq, state_json,
                   updated_at)",
                9,
                chunk.len(),
                "ON CONFLICT(id) DO UPDATE SET status=excluded.status, head=excluded.head,
                   next_seq=excluded.next_seq, state_json=excluded.state_json,
                   updated_at=excluded.updated_at",
            );
            let mut params = Vec::with_capacity(chunk.len() * 9);
            for (id, case_type, status, next_seq, json, updated, st) in chunk {
                params.extend([
                    Param::Text(id),
                    Param::Text(case_type),
                    Param::Text(&st.case_no),
                    Param::Text(&st.unit),
                    Param::Text(status),
                    Param::Text(&st.head),
                    Param::I64(*next_seq),
                    Param::Text(json),
                    Param::Text(updated),
                ]);
            }
            self.c.execute(&sql, &params)?;
        }
        super::incidents::write(self.c, &facts)?;
        write_case_status(self.c, rows.iter().map(|r| &r.6))?;
        let mut grants: Vec<(String, String)> = std::mem::take(&mut self.grants)
            .into_iter()
            .map(|(c, p)| (c.to_string(), p))
            .collect();
        grants.sort();
        for chunk in grants.chunks(FLUSH_ROWS) {
            let sql = values_sql(
                "INSERT INTO case_access(case_id, person)",
                2,
                chunk.len(),
                "ON CONFLICT DO NOTHING",
            );
            let params: Vec<Param<'_>> = chunk
                .iter()
                .flat_map(|(c, p)| [Param::Text(c), Param::Text(p)])
                .collect();
            self.c.execute(&sql, &params)?;
        }
        Ok(())
    }
}

/// A savepoint name: an SQL identifier.
fn savepoint_name(name: &str) -> DbResult<&str> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(DbError::Backend(format!("保存点名称 {name:?} 无效")))
    }
}

impl EventTx for PushTx<'_> {
    fn event_hash(&mut self, id: &Uuid) -> DbResult<Option<String>> {
        self.c
            .query_opt(
                "SELECT hash FROM events WHERE id=$1",
                args![&id.to_string()],
            )?
            .map(|mut r| r.text(0))
            .transpose()
    }

    fn case_state(&mut self, case_id: &Uuid) -> DbResult<Option<CaseState>> {
        if let Some(st) = self.cases.get(case_id) {
            return Ok(Some(st.clone()));
        }
        state_of(
            self.c
                .query_opt(SQL_CASE_STATE, args![&case_id.to_string()])?,
        )
    }

    fn can_see(&mut self, person: &str, case_id: &Uuid) -> DbResult<bool> {
        if self.grants.contains(&(*case_id, person.to_string())) {
            return Ok(true);
        }
        self.c
            .exists(SQL_CAN_SEE, args![person, &case_id.to_string()])
    }

    fn insert_event(&mut self, ev: &NewEvent<'_>) -> DbResult<i64> {
        let mut r = self.c.query_one(
            "INSERT INTO events(id, case_id, seq, bytes, signature, hash, author, kind, received_at)
             VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING gseq",
            args![
                &ev.id.to_string(),
                &ev.case_id.to_string(),
                ev.seq,
                ev.bytes,
                ev.signature,
                ev.hash,
                ev.author,
                ev.kind,
                ev.received_at
            ],
        )?;
        self.dirty = true;
        r.i64(0)
    }

    fn set_receipt(&mut self, gseq: i64, bytes: &[u8], signature: &[u8]) -> DbResult<()> {
        self.c.execute(
            "UPDATE events SET receipt=$1, receipt_sig=$2 WHERE gseq=$3",
            args![bytes, signature, gseq],
        )?;
        self.dirty = true;
        Ok(())
    }

    fn put_case(&mut self, st: &CaseState) -> DbResult<()> {
        if self.cases.insert(st.case_id, st.clone()).is_none() {
            self.case_order.push(st.case_id);
        }
        self.dirty = true;
        Ok(())
    }

    fn grant(&mut self, case_id: &Uuid, persons: &[String]) -> DbResult<()> {
        for p in persons {
            if self.grants.insert((*case_id, p.clone())) {
                self.dirty = true;
            }
        }
        Ok(())
    }

    fn holds_attachment(&mut self, person: &str, sm3: &str) -> DbResult<bool> {
        self.c.exists(
            "SELECT 1 FROM attachment_holders WHERE sm3=$1 AND person=$2",
            args![sm3, person],
        )
    }

    fn attachment_cases(&mut self, sm3: &str) -> DbResult<Vec<Uuid>> {
        self.c
            .query(
                "SELECT case_id FROM case_attachments WHERE sm3=$1",
                args![sm3],
            )?
            .into_iter()
            .map(|mut r| parse_uuid(&r.text(0)?))
            .collect()
    }

    fn link_attachment(&mut self, case_id: &Uuid, sm3: &str) -> DbResult<()> {
        self.c
            .execute(SQL_LINK_ATTACHMENT, args![sm3, &case_id.to_string()])?;
        self.dirty = true;
        Ok(())
    }

    fn case_no_taken(&mut self, case_no: &str, case_id: &Uuid) -> DbResult<bool> {
        // Projections of this transaction are written later.
        if self
            .cases
            .values()
            .any(|c| c.case_no == case_no && c.case_id != *case_id)
        {
            return Ok(true);
        }
        self.c.exists(
            "SELECT 1 FROM cases WHERE case_no=$1 AND id<>$2",
            args![case_no, &case_id.to_string()],
        )
    }

    fn queue_sms(&mut self, r: &SmsRow) -> DbResult<bool> {
        let n = self.c.execute(
            "INSERT INTO sms_outbox(id, case_id, case_no, phone, result, result_date, created_at,
               state, attempts, next_try, sent_at, last_error)
             VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT(case_id) DO NOTHING",
            args![
                &r.id,
                &r.case_id,
                &r.case_no,
                &r.phone,
                &r.result,
                &r.result_date,
                &r.created_at,
                &r.state,
                r.attempts,
                r.next_try,
                &r.sent_at,
                &r.last_error
            ],
        )?;
        if n > 0 {
            self.dirty = true;
        }
        Ok(n > 0)
    }

    fn savepoint(&mut self, name: &str) -> DbResult<()> {
        let name = savepoint_name(name)?;
        // What was written before belongs outside the savepoint.
        self.flush()?;
        self.c.batch(&format!("SAVEPOINT {name}"))
    }

    fn rollback_to(&mut self, name: &str) -> DbResult<()> {
        let name = savepoint_name(name)?;
        // Everything pending was written after the latest savepoint.
        self.discard();
        self.c.batch(&format!("ROLLBACK TO SAVEPOINT {name}"))
    }

    fn release(&mut self, name: &str) -> DbResult<()> {
        let name = savepoint_name(name)?;
        // A failing write shows here, while the savepoint can still be
        // rolled back to.
        self.flush()?;
        self.c.batch(&format!("RELEASE SAVEPOINT {name}"))
    }
}

// ----- the store --------------------------------------------------------

/// The hub's storage over a backend: every [`HubDb`] method, once.
pub struct Store<B: Backend> {
    pub(crate) b: B,
}

impl<B: Backend> Store<B> {
    pub(crate) fn new(b: B) -> Self {
        Store { b }
    }
}

impl<B: Backend> HubDb for Store<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn meta_get(&self, key: &str) -> DbResult<Option<String>> {
        self.b.read(|c| {
            c.query_opt(SQL_META_GET, args![key])?
                .map(|mut r| r.text(0))
                .transpose()
        })
    }

    fn meta_set(&self, key: &str, value: &str) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "INSERT INTO meta(key, value) VALUES($1, $2)
                 ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                args![key, value],
            )?;
            Ok(())
        })
    }

    fn meta_init(&self, key: &str, value: &str) -> DbResult<String> {
        self.b.write(|c| {
            c.execute(
                "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO NOTHING",
                args![key, value],
            )?;
            c.query_one(SQL_META_GET, args![key])?.text(0)
        })
    }

    fn insert_user(&self, u: &UserRow) -> DbResult<bool> {
        self.b.write(|c| {
            let n = c.execute(
                "INSERT INTO users(person, password_hash, is_admin, disabled, created_at)
                 VALUES($1, $2, $3, $4, $5) ON CONFLICT(person) DO NOTHING",
                args![
                    &u.person,
                    &u.password_hash,
                    u.is_admin,
                    u.disabled,
                    &u.created_at
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn user(&self, person: &str) -> DbResult<Option<UserRow>> {
        self.b.read(|c| {
            c.query_opt(
                &format!("SELECT {USER_COLS} FROM users WHERE person=$1"),
                args![person],
            )?
            .map(user_row)
            .transpose()
        })
    }

    fn users(&self) -> DbResult<Vec<UserRow>> {
        self.b.read(|c| {
            c.query(
                &format!("SELECT {USER_COLS} FROM users ORDER BY person"),
                &[],
            )?
            .into_iter()
            .map(user_row)
            .collect()
        })
    }

    fn set_user_disabled(&self, person: &str, disabled: bool) -> DbResult<bool> {
        self.b.write(|c| {
            let n = c.execute(
                "UPDATE users SET disabled=$2 WHERE person=$1",
                args![person, disabled],
            )?;
            Ok(n == 1)
        })
    }

    fn set_password_hash(&self, person: &str, password_hash: &str) -> DbResult<bool> {
        self.b.write(|c| {
            let n = c.execute(
                "UPDATE users SET password_hash=$2 WHERE person=$1",
                args![person, password_hash],
            )?;
            Ok(n == 1)
        })
    }

    fn insert_session(&self, s: &SessionRow) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "INSERT INTO sessions(token_hash, person, device, created_at, last_seen, revoked)
                 VALUES($1, $2, $3, $4, $5, $6)",
                args![
                    &s.token_hash,
                    &s.person,
                    &s.device,
                    s.created_at,
                    s.last_seen,
                    s.revoked
                ],
            )?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str) -> DbResult<Option<SessionRow>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT token_hash, person, device, created_at, last_seen, revoked FROM sessions
                 WHERE token_hash=$1",
                args![token_hash],
            )?
            .map(session_row)
            .transpose()
        })
    }

    fn touch_session(&self, token_hash: &str, now: i64) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "UPDATE sessions SET last_seen=$2 WHERE token_hash=$1 AND last_seen < $2",
                args![token_hash, now],
            )?;
            Ok(())
        })
    }

    fn revoke_session(&self, token_hash: &str) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "UPDATE sessions SET revoked=true WHERE token_hash=$1",
                args![token_hash],
            )?;
            Ok(())
        })
    }

    fn revoke_sessions_of(&self, person: &str) -> DbResult<u64> {
        self.b.write(|c| {
            c.execute(
                "UPDATE sessions SET revoked=true WHERE person=$1 AND NOT revoked",
                args![person],
            )
        })
    }

    fn insert_enrolment(&self, e: &EnrolmentRow) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "INSERT INTO enrolments(id, device, device_name, person, fingerprint, pem, status,
                   created_at, decided_by, decided_at)
                 VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                args![
                    &e.id,
                    &e.device,
                    &e.device_name,
                    &e.person,
                    &e.fingerprint,
                    &e.pem,
                    &e.status,
                    &e.created_at,
                    &e.decided_by,
                    &e.decided_at
                ],
            )?;
            Ok(())
        })
    }

    fn enrolment(&self, id: &str) -> DbResult<Option<EnrolmentRow>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT id, device, device_name, person, fingerprint, pem, status, created_at,
                   decided_by, decided_at
                 FROM enrolments WHERE id=$1",
                args![id],
            )?
            .map(enrolment_row)
            .transpose()
        })
    }

    fn enrolments(&self, status: Option<&str>) -> DbResult<Vec<EnrolmentRow>> {
        self.b.read(|c| {
            c.query(
                "SELECT id, device, device_name, person, fingerprint, pem, status, created_at,
                   decided_by, decided_at
                 FROM enrolments WHERE CAST($1 AS TEXT) IS NULL OR status=CAST($1 AS TEXT)
                 ORDER BY created_at DESC, id DESC",
                args![status],
            )?
            .into_iter()
            .map(enrolment_row)
            .collect()
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
        self.b.write(|c| {
            let n = c.execute(
                "UPDATE enrolments SET status=$3, decided_by=$4, decided_at=$5
                 WHERE id=$1 AND status=$2",
                args![id, from, to, by, at],
            )?;
            Ok(n == 1)
        })
    }

    fn approved_key(&self, person: &str, fingerprint: &str) -> DbResult<Option<String>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT pem FROM enrolments WHERE person=$1 AND fingerprint=$2 AND status='approved'
                 LIMIT 1",
                args![person, fingerprint],
            )?
            .map(|mut r| r.text(0))
            .transpose()
        })
    }

    fn approved_keys(&self) -> DbResult<Vec<(String, String, String)>> {
        self.b.read(|c| {
            c.query(
                "SELECT DISTINCT person, fingerprint, pem FROM enrolments WHERE status='approved'
                 ORDER BY person, fingerprint, pem",
                &[],
            )?
            .into_iter()
            .map(|mut r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))
            .collect()
        })
    }

    fn hosted_key(&self, person: &str) -> DbResult<Option<HostedKeyRow>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT person, enrolment_id, fingerprint, sealed, failures, locked_until, created_at
                 FROM hosted_keys WHERE person=$1",
                args![person],
            )?
            .map(hosted_key_row)
            .transpose()
        })
    }

    fn put_hosted_key(&self, k: &HostedKeyRow) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "INSERT INTO hosted_keys(person, enrolment_id, fingerprint, sealed, failures,
                   locked_until, created_at)
                 VALUES($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT(person) DO UPDATE SET enrolment_id=excluded.enrolment_id,
                   fingerprint=excluded.fingerprint, sealed=excluded.sealed,
                   failures=excluded.failures, locked_until=excluded.locked_until,
                   created_at=excluded.created_at",
                args![
                    &k.person,
                    &k.enrolment_id,
                    &k.fingerprint,
                    &k.sealed,
                    k.failures,
                    k.locked_until,
                    &k.created_at
                ],
            )?;
            Ok(())
        })
    }

    fn hosted_key_attempt(&self, person: &str, now: i64) -> DbResult<Option<i64>> {
        self.b.write(|c| {
            c.query_opt(
                "UPDATE hosted_keys SET failures=failures+1 WHERE person=$1 AND locked_until<=$2
                 RETURNING failures",
                args![person, now],
            )?
            .map(|mut r| r.i64(0))
            .transpose()
        })
    }

    fn set_hosted_key_failures(
        &self,
        person: &str,
        failures: i64,
        locked_until: i64,
    ) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "UPDATE hosted_keys SET failures=$2, locked_until=$3 WHERE person=$1",
                args![person, failures, locked_until],
            )?;
            Ok(())
        })
    }

    fn login_counters(
        &self,
        keys: &[String],
        prune_before: i64,
        update: &mut LoginCounterFn<'_>,
    ) -> DbResult<()> {
        self.b.transaction(|c| {
            // Each row is made if missing and locked (PostgreSQL: the
            // upsert takes the row lock), in key order, so two logins
            // never wait on each other crosswise.
            let mut order: Vec<usize> = (0..keys.len()).collect();
            order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
            let mut rows: Vec<LoginCounter> = keys.iter().map(|k| LoginCounter::new(k)).collect();
            for i in order {
                let mut r = c.query_one(
                    "INSERT INTO login_counters (key, failures, lockouts, locked_until, last_failure)
                     VALUES ($1, 0, 0, 0, 0)
                     ON CONFLICT (key) DO UPDATE SET failures=login_counters.failures
                     RETURNING failures, lockouts, locked_until, last_failure",
                    args![&keys[i]],
                )?;
                rows[i] = LoginCounter {
                    key: keys[i].clone(),
                    failures: r.i64(0)?,
                    lockouts: r.i64(1)?,
                    locked_until: r.i64(2)?,
                    last_failure: r.i64(3)?,
                };
            }
            update(&mut rows);
            for k in &rows {
                c.execute(
                    "UPDATE login_counters SET failures=$2, lockouts=$3, locked_until=$4,
                        last_failure=$5 WHERE key=$1",
                    args![&k.key, k.failures, k.lockouts, k.locked_until, k.last_failure],
                )?;
            }
            // Rows another login holds are left to a later prune.
            c.execute(
                "DELETE FROM login_counters WHERE key IN (
                    SELECT key FROM login_counters WHERE last_failure < $1 AND locked_until < $1
                    {skip_locked})",
                args![prune_before],
            )?;
            Ok(())
        })
    }

    fn write_events(&self, f: &mut PushFn<'_>) -> Result<(), PushAbort> {
        self.b.push_transaction(&mut |c| {
            let mut tx = PushTx::new(c);
            f(&mut tx)?;
            tx.flush()?;
            Ok(tx.dirty)
        })
    }

    fn events_after(&self, person: &str, after: i64, limit: i64) -> DbResult<Vec<EventRow>> {
        events(self.b.read(|c| {
            c.query(
                &format!(
                    "SELECT {EVENT_COLS}
                     FROM events e JOIN case_access a ON a.case_id = e.case_id AND a.person = $1
                     WHERE e.gseq > $2 ORDER BY e.gseq LIMIT $3"
                ),
                args![person, after, limit],
            )
        })?)
    }

    fn feed_after(&self, after: i64, limit: i64) -> DbResult<Vec<(EventRow, Vec<String>)>> {
        // One statement, one snapshot: the viewers are those at the time
        // the events are read. One row per (event, viewer).
        let rows = self.b.read(|c| {
            c.query(
                &format!(
                    "SELECT {EVENT_COLS}, a.person
                     FROM (SELECT * FROM events WHERE gseq > $1 ORDER BY gseq LIMIT $2) e
                     LEFT JOIN case_access a ON a.case_id = e.case_id
                     ORDER BY e.gseq, a.person"
                ),
                args![after, limit],
            )
        })?;
        let mut out: Vec<(EventRow, Vec<String>)> = Vec::new();
        for mut r in rows {
            let viewer = r.opt_text(8)?;
            let e = event_row(&mut r)?;
            match out.last_mut() {
                Some((last, v)) if last.gseq == e.gseq => v.extend(viewer),
                _ => out.push((e, viewer.into_iter().collect())),
            }
        }
        Ok(out)
    }

    fn case_events(&self, case_id: &Uuid) -> DbResult<Vec<EventRow>> {
        events(self.b.read(|c| {
            c.query(
                &format!("SELECT {EVENT_COLS} FROM events e WHERE e.case_id=$1 ORDER BY e.seq"),
                args![&case_id.to_string()],
            )
        })?)
    }

    fn can_see(&self, person: &str, case_id: &Uuid) -> DbResult<bool> {
        self.b
            .read(|c| c.exists(SQL_CAN_SEE, args![person, &case_id.to_string()]))
    }

    fn case_state(&self, case_id: &Uuid) -> DbResult<Option<CaseState>> {
        state_of(
            self.b
                .read(|c| c.query_opt(SQL_CASE_STATE, args![&case_id.to_string()]))?,
        )
    }

    fn visible_cases(&self, person: &str, status: &str, limit: i64) -> DbResult<Vec<CaseState>> {
        self.b
            .read(|c| {
                c.query(
                    "SELECT c.state_json FROM cases c
                       JOIN case_access a ON a.case_id = c.id AND a.person = $1
                     WHERE c.status = $2 ORDER BY c.updated_at DESC LIMIT $3",
                    args![person, status, limit],
                )
            })?
            .into_iter()
            .map(|mut r| parse_state(&r.text(0)?))
            .collect()
    }

    fn cases_with_status(
        &self,
        case_type: &str,
        status: &str,
        limit: i64,
    ) -> DbResult<Vec<CaseState>> {
        self.b
            .read(|c| {
                c.query(
                    "SELECT state_json FROM cases WHERE status = $1 AND case_type = $2
                     ORDER BY updated_at LIMIT $3",
                    args![status, case_type, limit],
                )
            })?
            .into_iter()
            .map(|mut r| parse_state(&r.text(0)?))
            .collect()
    }

    fn case_nos_with_prefix(&self, prefix: &str) -> DbResult<Vec<String>> {
        // No LIKE wildcard can hide in such a prefix.
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b) || b == b'-')
        {
            return Ok(Vec::new());
        }
        self.b
            .read(|c| {
                c.query(
                    "SELECT case_no FROM cases WHERE case_no LIKE $1",
                    args![&format!("{prefix}%")],
                )
            })?
            .into_iter()
            .map(|mut r| r.text(0))
            .collect()
    }

    fn max_gseq(&self) -> DbResult<i64> {
        self.b.read(|c| {
            c.query_one(
                "SELECT CAST(coalesce(max(gseq), 0) AS BIGINT) FROM events",
                &[],
            )?
            .i64(0)
        })
    }

    fn counts(&self) -> DbResult<(i64, i64)> {
        self.b.read(|c| {
            let mut r = c.query_one(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM cases)",
                &[],
            )?;
            Ok((r.i64(0)?, r.i64(1)?))
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
        self.b.transaction(|c| {
            let row = |received| UploadRow {
                person: person.into(),
                sm3: sm3.into(),
                size,
                mime: mime.into(),
                received,
                touched_at: now,
            };
            // One begin per person at a time, so that the quota check and
            // the insert cannot interleave with another begin of theirs.
            c.lock("jingwu-uploads", person)?;
            let existing = c.query_opt(
                "SELECT size, mime, received FROM uploads WHERE person=$1 AND sm3=$2",
                args![person, sm3],
            )?;
            if let Some(mut r) = existing {
                let (s, m, received) = (r.i64(0)?, r.text(1)?, r.i64(2)?);
                if s == size && m == mime {
                    c.execute(
                        "UPDATE uploads SET touched_at=$3 WHERE person=$1 AND sm3=$2",
                        args![person, sm3, now],
                    )?;
                    return Ok(UploadBegin::Started(row(received)));
                }
            }
            let used = c
                .query_one(
                    "SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM uploads
                     WHERE person=$1 AND sm3<>$2",
                    args![person, sm3],
                )?
                .i64(0)?;
            if used.saturating_add(size) > quota {
                return Ok(UploadBegin::OverQuota { used });
            }
            c.execute(SQL_DELETE_CHUNKS, args![person, sm3])?;
            c.execute(
                "INSERT INTO uploads(person, sm3, size, mime, received, touched_at)
                 VALUES($1, $2, $3, $4, 0, $5)
                 ON CONFLICT(person, sm3) DO UPDATE SET size=excluded.size, mime=excluded.mime,
                   received=0, touched_at=excluded.touched_at",
                args![person, sm3, size, mime, now],
            )?;
            Ok(UploadBegin::Started(row(0)))
        })
    }

    fn upload(&self, person: &str, sm3: &str) -> DbResult<Option<UploadRow>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT person, sm3, size, mime, received, touched_at FROM uploads
                 WHERE person=$1 AND sm3=$2",
                args![person, sm3],
            )?
            .map(upload_row)
            .transpose()
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
        let len = len_i64(data.len(), "上传分块")?;
        self.b.transaction(|c| {
            let n = c.execute(
                "UPDATE uploads SET received = received + $4, touched_at=$5
                 WHERE person=$1 AND sm3=$2 AND received=$3",
                args![person, sm3, offset, len, now],
            )?;
            if n != 1 {
                return Ok(false);
            }
            c.execute(
                r#"INSERT INTO upload_chunks(person, sm3, "offset", data) VALUES($1, $2, $3, $4)"#,
                args![person, sm3, offset, data],
            )?;
            Ok(true)
        })
    }

    fn upload_data(&self, person: &str, sm3: &str) -> DbResult<Vec<u8>> {
        let rows = self.b.read(|c| {
            c.query(
                r#"SELECT data FROM upload_chunks WHERE person=$1 AND sm3=$2 ORDER BY "offset""#,
                args![person, sm3],
            )
        })?;
        let mut out = Vec::new();
        for mut r in rows {
            out.extend_from_slice(&r.bytes(0)?);
        }
        Ok(out)
    }

    fn upload_finish(&self, person: &str, sm3: &str, mime: &str, data: &[u8]) -> DbResult<()> {
        let size = len_i64(data.len(), "附件")?;
        let now = crate::now_rfc3339();
        self.b.transaction(|c| {
            c.execute(
                "INSERT INTO attachments(sm3, mime, size, data, created_at)
                 VALUES($1, $2, $3, $4, $5) ON CONFLICT(sm3) DO NOTHING",
                args![sm3, mime, size, data, &now],
            )?;
            c.execute(
                "INSERT INTO attachment_holders(sm3, person) VALUES($1, $2) ON CONFLICT DO NOTHING",
                args![sm3, person],
            )?;
            delete_upload(c, person, sm3)
        })
    }

    fn upload_abort(&self, person: &str, sm3: &str) -> DbResult<()> {
        self.b.transaction(|c| delete_upload(c, person, sm3))
    }

    fn expire_uploads(&self, before: i64) -> DbResult<u64> {
        self.b.transaction(|c| {
            // The chunks of exactly the uploads removed: one touched by a
            // chunk meanwhile is not removed, and keeps its chunks.
            let gone = c.query(
                "DELETE FROM uploads WHERE touched_at < $1 RETURNING person, sm3",
                args![before],
            )?;
            let n = gone.len() as u64;
            for mut r in gone {
                let (person, sm3) = (r.text(0)?, r.text(1)?);
                c.execute(SQL_DELETE_CHUNKS, args![&person, &sm3])?;
            }
            Ok(n)
        })
    }

    fn attachment_meta(&self, sm3: &str) -> DbResult<Option<(String, i64)>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT mime, size FROM attachments WHERE sm3=$1",
                args![sm3],
            )?
            .map(|mut r| Ok((r.text(0)?, r.i64(1)?)))
            .transpose()
        })
    }

    fn attachment(&self, sm3: &str) -> DbResult<Option<(String, Vec<u8>)>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT mime, data FROM attachments WHERE sm3=$1",
                args![sm3],
            )?
            .map(|mut r| Ok((r.text(0)?, r.bytes(1)?)))
            .transpose()
        })
    }

    fn attachment_in_scope(&self, person: &str, sm3: &str) -> DbResult<bool> {
        self.b.read(|c| {
            c.query_one(
                "SELECT EXISTS(SELECT 1 FROM attachment_holders WHERE sm3=$1 AND person=$2)
                     OR EXISTS(SELECT 1 FROM case_attachments ca
                               JOIN case_access a ON a.case_id = ca.case_id AND a.person = $2
                               WHERE ca.sm3 = $1)",
                args![sm3, person],
            )?
            .bool(0)
        })
    }

    fn insert_seal(&self, s: &SealRow) -> DbResult<bool> {
        self.b.write(|c| {
            let n = c.execute(
                "INSERT INTO seals(id, kind, holder, holder_key, seal_json, registered_at,
                   registered_by, revoked_at, revoked_by)
                 VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT(id) DO NOTHING",
                args![
                    &s.id,
                    &s.kind,
                    &s.holder,
                    &s.holder_key,
                    &s.seal_json,
                    &s.registered_at,
                    &s.registered_by,
                    &s.revoked_at,
                    &s.revoked_by
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn seals(&self) -> DbResult<Vec<SealRow>> {
        self.b.read(|c| {
            c.query(
                "SELECT id, kind, holder, holder_key, seal_json, registered_at, registered_by,
                   revoked_at, revoked_by FROM seals ORDER BY registered_at, id",
                &[],
            )?
            .into_iter()
            .map(seal_row)
            .collect()
        })
    }

    fn revoke_seal(&self, id: &str, by: &str, at: &str) -> DbResult<bool> {
        self.b.write(|c| {
            let n = c.execute(
                "UPDATE seals SET revoked_at=$3, revoked_by=$2 WHERE id=$1 AND revoked_at IS NULL",
                args![id, by, at],
            )?;
            Ok(n == 1)
        })
    }

    fn insert_update(
        &self,
        row: &UpdateRow,
        package: &[u8],
        check: &UpdateCheck<'_>,
    ) -> DbResult<Result<(), String>> {
        self.b.transaction(|c| {
            c.lock("update", &row.platform)?;
            let versions = c
                .query(
                    "SELECT version FROM updates WHERE platform=$1",
                    args![&row.platform],
                )?
                .into_iter()
                .map(|mut r| r.text(0))
                .collect::<DbResult<Vec<_>>>()?;
            if let Err(why) = check(&versions) {
                return Ok(Err(why));
            }
            c.execute(
                "INSERT INTO attachments(sm3, mime, size, data, created_at)
                 VALUES($1, $2, $3, $4, $5) ON CONFLICT(sm3) DO NOTHING",
                args![
                    &row.sm3,
                    "application/octet-stream",
                    row.size,
                    package,
                    &row.pub_date
                ],
            )?;
            c.execute(
                &format!("INSERT INTO updates({UPDATE_COLS}) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                args![
                    &row.id,
                    &row.platform,
                    &row.version,
                    &row.notes,
                    &row.signature,
                    &row.sm3,
                    &row.file_name,
                    row.size,
                    &row.pub_date,
                    &row.uploaded_by
                ],
            )?;
            Ok(Ok(()))
        })
    }

    fn updates(&self, platform: Option<&str>) -> DbResult<Vec<UpdateRow>> {
        self.b.read(|c| {
            c.query(
                &format!(
                    "SELECT {UPDATE_COLS} FROM updates WHERE CAST($1 AS TEXT) IS NULL OR platform=CAST($1 AS TEXT)
                     ORDER BY pub_date, id"
                ),
                args![platform],
            )?
            .into_iter()
            .map(update_row)
            .collect()
        })
    }

    fn update_package(&self, id: &str) -> DbResult<Option<(UpdateRow, Vec<u8>)>> {
        self.b.read(|c| {
            let Some(r) = c.query_opt(
                &format!("SELECT {UPDATE_COLS} FROM updates WHERE id=$1"),
                args![id],
            )?
            else {
                return Ok(None);
            };
            let row = update_row(r)?;
            let data = c
                .query_opt("SELECT data FROM attachments WHERE sm3=$1", args![&row.sm3])?
                .map(|mut r| r.bytes(0))
                .transpose()?
                .ok_or_else(|| DbError::Corrupt(format!("更新 {id} 的安装包不在附件库中")))?;
            Ok(Some((row, data)))
        })
    }

    fn incident_stats(
        &self,
        cond: &Conditions,
        dims: &[Dim],
    ) -> DbResult<Vec<(Vec<String>, Measures)>> {
        self.b.read(|c| super::incidents::stats(c, cond, dims))
    }

    fn incident_speed(&self, cond: &Conditions, kind: SpeedKind) -> DbResult<SpeedRows> {
        self.b.read(|c| super::incidents::speed(c, cond, kind))
    }

    fn incident_statuses(&self, cond: &Conditions) -> DbResult<BTreeMap<String, i64>> {
        self.b.read(|c| super::incidents::statuses(c, cond))
    }

    fn incident_rows(
        &self,
        cond: &Conditions,
        sort: SortBy,
        desc: bool,
        limit: i64,
        offset: i64,
    ) -> DbResult<(i64, Vec<IncidentRow>)> {
        self.b
            .read(|c| super::incidents::rows(c, cond, sort, desc, limit, offset))
    }

    fn taken_case_nos(&self, case_nos: &[String]) -> DbResult<Vec<String>> {
        self.b
            .read(|c| super::incidents::taken_case_nos(c, case_nos))
    }

    fn put_incident_facts(&self, facts: &[(String, IncidentFacts)]) -> DbResult<()> {
        self.b.transaction(|c| super::incidents::write(c, facts))
    }

    fn refresh_statistics(&self) -> DbResult<()> {
        self.b.write(|c| match c.dialect() {
            Dialect::Postgres => c.batch(
                "ANALYZE cases; ANALYZE incidents; ANALYZE incident_dispatches;
                 ANALYZE incident_days; ANALYZE incident_months;",
            ),
            Dialect::Sqlite => Ok(()),
        })
    }

    fn saved_queries(&self, person: &str) -> DbResult<Vec<(String, String)>> {
        self.b.read(|c| super::incidents::saved_queries(c, person))
    }

    fn save_query(&self, person: &str, name: &str, filter: &str, at: &str) -> DbResult<()> {
        self.b
            .write(|c| super::incidents::save_query(c, person, name, filter, at))
    }

    fn delete_query(&self, person: &str, name: &str) -> DbResult<bool> {
        self.b
            .write(|c| super::incidents::delete_query(c, person, name))
    }

    fn case_status(&self, case_no: &str) -> DbResult<Option<CaseStatusRow>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT id_tail, status, changed_on FROM case_status WHERE case_no=$1",
                args![case_no],
            )?
            .map(|mut r| {
                Ok(CaseStatusRow {
                    id_tail: r.text(0)?,
                    status: r.text(1)?,
                    changed_on: r.text(2)?,
                })
            })
            .transpose()
        })
    }

    fn sms_claim(&self, now_ms: i64, lease_until: i64) -> DbResult<Option<SmsRow>> {
        self.b.transaction(|c| {
            c.query_opt(
                &format!(
                    "UPDATE sms_outbox SET attempts = attempts + 1, next_try = $2
                     WHERE id = (SELECT id FROM sms_outbox
                                 WHERE state = 'pending' AND next_try <= $1
                                 ORDER BY next_try, id LIMIT 1 {{skip_locked}})
                     RETURNING {SMS_COLS}"
                ),
                args![now_ms, lease_until],
            )?
            .map(sms_row)
            .transpose()
        })
    }

    fn sms_sent(&self, id: &str, at: &str) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "UPDATE sms_outbox SET state = 'sent', sent_at = $2, last_error = NULL WHERE id = $1",
                args![id, at],
            )?;
            Ok(())
        })
    }

    fn sms_retry(&self, id: &str, next_try: i64, error: &str) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "UPDATE sms_outbox SET next_try = $2, last_error = $3
                 WHERE id = $1 AND state = 'pending'",
                args![id, next_try, error],
            )?;
            Ok(())
        })
    }

    fn sms_failed(&self, id: &str, error: &str) -> DbResult<()> {
        self.b.write(|c| {
            c.execute(
                "UPDATE sms_outbox SET state = 'failed', last_error = $2
                 WHERE id = $1 AND state = 'pending'",
                args![id, error],
            )?;
            Ok(())
        })
    }

    fn sms_next_try(&self) -> DbResult<Option<i64>> {
        self.b.read(|c| {
            c.query_opt(
                "SELECT next_try FROM sms_outbox WHERE state = 'pending'
                 ORDER BY next_try LIMIT 1",
                &[],
            )?
            .map(|mut r| r.i64(0))
            .transpose()
        })
    }

    fn sms_outbox(&self) -> DbResult<Vec<SmsRow>> {
        self.b.read(|c| {
            c.query(
                &format!("SELECT {SMS_COLS} FROM sms_outbox ORDER BY created_at, id"),
                &[],
            )?
            .into_iter()
            .map(sms_row)
            .collect()
        })
    }

    fn backup(&self, dest: &Path) -> DbResult<()> {
        self.b.backup(dest)
    }

    fn listen(&self, wake: Box<dyn Fn() + Send + Sync>) -> DbResult<()> {
        self.b.listen(wake)
    }
}
