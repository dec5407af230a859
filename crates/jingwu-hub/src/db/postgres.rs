//! PostgreSQL backend (sync `postgres` client, `r2d2` pool). Several hub
//! processes may share one database: writers of events are serialised by
//! a transaction-scoped advisory lock, so `gseq` grows in commit order
//! across processes, and every commit that wrote something sends a
//! `NOTIFY` that [`PgDb::listen`] turns into a wake-up of the live channel.
//!
//! A URL may name a schema (`postgres://…/db?schema=name`): the hub's
//! tables then live in that schema (created on first use) and every pooled
//! connection sets its `search_path` to it, so several hubs (or tests) can
//! share one database without seeing each other. Without it the tables
//! live in `public`.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jingwu_core::case::CaseState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, GenericClient, NoTls, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    enum_text, parse_state, parse_uuid, savepoint_name, state_json, DbError, DbResult,
    EnrolmentRow, EventRow, EventTx, HostedKeyRow, HubDb, LoginCounter, LoginCounterFn, NewEvent,
    PushFn, SealRow, SessionRow, UploadBegin, UploadRow, UserRow,
};
use crate::error::ApiError;

/// The schema migrations, applied in order; `schema_version` holds how
/// many have been applied. Never edit one that has shipped: append.
///
/// Text columns that are sorted on use the "C" collation, so ordering is
/// by bytes as in SQLite whatever the database's locale.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
     CREATE TABLE users (
        person        text COLLATE "C" PRIMARY KEY,
        password_hash text NOT NULL,
        is_admin      boolean NOT NULL,
        disabled      boolean NOT NULL DEFAULT false,
        created_at    text NOT NULL
     );
     CREATE TABLE sessions (
        token_hash text PRIMARY KEY,
        person     text NOT NULL,
        device     text,
        created_at bigint NOT NULL,
        last_seen  bigint NOT NULL,
        revoked    boolean NOT NULL DEFAULT false
     );
     CREATE INDEX sessions_person ON sessions(person);
     CREATE TABLE enrolments (
        id          text COLLATE "C" PRIMARY KEY,
        device      text NOT NULL,
        device_name text NOT NULL,
        person      text COLLATE "C" NOT NULL,
        fingerprint text COLLATE "C" NOT NULL,
        pem         text COLLATE "C" NOT NULL,
        status      text NOT NULL CHECK (status IN ('pending','approved','rejected','revoked')),
        created_at  text COLLATE "C" NOT NULL,
        decided_by  text,
        decided_at  text
     );
     CREATE INDEX enrolments_key ON enrolments(person, fingerprint, status);
     CREATE TABLE events (
        gseq        BIGSERIAL PRIMARY KEY,
        id          text NOT NULL UNIQUE,
        case_id     text NOT NULL,
        seq         bigint NOT NULL,
        bytes       bytea NOT NULL,
        signature   bytea NOT NULL,
        hash        text NOT NULL,
        author      text NOT NULL,
        kind        text NOT NULL,
        received_at text NOT NULL,
        UNIQUE (case_id, seq)
     );
     CREATE TABLE cases (
        id         text PRIMARY KEY,
        case_type  text NOT NULL,
        case_no    text NOT NULL UNIQUE,
        unit       text NOT NULL,
        status     text NOT NULL,
        head       text NOT NULL,
        next_seq   bigint NOT NULL,
        state_json text NOT NULL,
        updated_at text COLLATE "C" NOT NULL
     );
     CREATE TABLE case_access (
        case_id text NOT NULL,
        person  text COLLATE "C" NOT NULL,
        PRIMARY KEY (person, case_id)
     );
     CREATE INDEX case_access_case ON case_access(case_id);
     CREATE TABLE uploads (
        sm3      text PRIMARY KEY,
        size     bigint NOT NULL,
        mime     text NOT NULL,
        received bigint NOT NULL
     );
     CREATE TABLE upload_chunks (
        sm3      text NOT NULL,
        "offset" bigint NOT NULL,
        data     bytea NOT NULL,
        PRIMARY KEY (sm3, "offset")
     );
     CREATE TABLE attachments (
        sm3        text PRIMARY KEY,
        mime       text NOT NULL,
        size       bigint NOT NULL,
        data       bytea NOT NULL,
        created_at text NOT NULL
     );"#,
    // 2: signing keys the hub keeps for browser users.
    r#"CREATE TABLE hosted_keys (
        person       text PRIMARY KEY,
        enrolment_id text NOT NULL,
        fingerprint  text NOT NULL,
        sealed       text NOT NULL,
        failures     bigint NOT NULL,
        locked_until bigint NOT NULL,
        created_at   text NOT NULL
     );"#,
    // 3: electronic seals issued by seal administrators (印章管理员).
    r#"CREATE TABLE seals (
        id            text PRIMARY KEY,
        kind          text NOT NULL CHECK (kind IN ('unit', 'personal')),
        holder        text NOT NULL,
        holder_key    text NOT NULL,
        seal_json     text NOT NULL,
        registered_at text COLLATE "C" NOT NULL,
        registered_by text NOT NULL,
        revoked_at    text,
        revoked_by    text
     );
     CREATE INDEX seals_holder ON seals(holder);"#,
    // receipts: the hub's signed receipt of each event it accepts (the
    // canonical receipt bytes and the hub's SM2 signature). Events stored
    // before this step have none.
    r#"ALTER TABLE events ADD COLUMN receipt bytea;
     ALTER TABLE events ADD COLUMN receipt_sig bytea;"#,
    // attachments are scoped. Uploads belong to their uploader (keyed
    // by person and SM3, touched_at for expiry); unfinished uploads from
    // before had no owner and are dropped (stations start them again).
    // attachment_holders: who uploaded a stored file completely.
    // case_attachments: which cases an attach event put a file in,
    // backfilled from the attach events already stored.
    r#"DROP TABLE upload_chunks;
     DROP TABLE uploads;
     CREATE TABLE uploads (
        person     text NOT NULL,
        sm3        text NOT NULL,
        size       bigint NOT NULL,
        mime       text NOT NULL,
        received   bigint NOT NULL,
        touched_at bigint NOT NULL,
        PRIMARY KEY (person, sm3)
     );
     CREATE INDEX uploads_touched ON uploads(touched_at);
     CREATE TABLE upload_chunks (
        person   text NOT NULL,
        sm3      text NOT NULL,
        "offset" bigint NOT NULL,
        data     bytea NOT NULL,
        PRIMARY KEY (person, sm3, "offset")
     );
     CREATE TABLE attachment_holders (
        sm3    text NOT NULL,
        person text NOT NULL,
        PRIMARY KEY (sm3, person)
     );
     CREATE TABLE case_attachments (
        sm3     text NOT NULL,
        case_id text NOT NULL,
        PRIMARY KEY (sm3, case_id)
     );
     INSERT INTO case_attachments(sm3, case_id)
        SELECT DISTINCT sm3, case_id FROM (
            SELECT case_id, CASE WHEN kind = 'attach' THEN
                convert_from(bytes, 'UTF8')::jsonb #>> '{payload,attachment,sm3}' END AS sm3
            FROM events WHERE kind = 'attach'
        ) a
        WHERE sm3 IS NOT NULL
        ON CONFLICT DO NOTHING;"#,
    // login attempts per account and per source address (lockout).
    r#"CREATE TABLE login_counters (
        key          text PRIMARY KEY,
        failures     bigint NOT NULL,
        lockouts     bigint NOT NULL,
        locked_until bigint NOT NULL,
        last_failure bigint NOT NULL
     );
     CREATE INDEX login_counters_last ON login_counters(last_failure);"#,
];

/// Most pooled connections per process.
const POOL_SIZE: u32 = 16;
/// Connections kept open while idle.
const POOL_MIN_IDLE: u32 = 2;
/// How long a request waits for a pooled connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the listener wakes to check for shutdown.
const LISTEN_POLL: Duration = Duration::from_secs(1);
/// How often the listener checks that its idle connection still works.
const LISTEN_CHECK: Duration = Duration::from_secs(30);
/// Reconnect backoff of the listener.
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Prepared statements of one connection, by SQL text.
type Stmts = HashMap<&'static str, Statement>;

/// A pooled connection with its prepared statements (the sync client has
/// no statement cache, and preparing on every call doubles the round
/// trips of a push).
pub struct PgConn {
    client: Client,
    stmts: Stmts,
}

/// The pool's connection manager: [`PostgresConnectionManager`] plus the
/// `search_path` of the hub's schema on every new connection.
#[derive(Debug)]
pub struct PgManager {
    inner: PostgresConnectionManager<NoTls>,
    schema: String,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        let mut client = self.inner.connect()?;
        client.batch_execute(&format!("SET search_path TO {}", ident(&self.schema)))?;
        Ok(PgConn {
            client,
            stmts: Stmts::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        self.inner.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        self.inner.has_broken(&mut conn.client)
    }
}

/// The PostgreSQL hub database.
pub struct PgDb {
    pool: r2d2::Pool<PgManager>,
    config: Config,
    /// The URL without our own parameters, for `pg_dump`.
    url: String,
    schema: String,
    /// The NOTIFY channel of this schema.
    channel: String,
    /// The advisory lock that serialises event writers of this schema.
    lock_key: i64,
    /// Tells the listener thread to stop when the database is dropped.
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn db(e: postgres::Error) -> DbError {
    if let Some(d) = e.as_db_error() {
        return DbError::Backend(format!("{d}（{}）", d.code().code()));
    }
    match std::error::Error::source(&e) {
        Some(s) => DbError::Backend(format!("{e}：{s}")),
        None => DbError::Backend(e.to_string()),
    }
}

fn pool_err(e: r2d2::Error) -> DbError {
    DbError::Backend(format!("无法取得数据库连接：{e}"))
}

/// A validated identifier, double-quoted.
fn ident(name: &str) -> String {
    format!("\"{name}\"")
}

/// Whether `name` is an acceptable schema name: `[a-z_][a-z0-9_]{0,62}`,
/// not one of PostgreSQL's reserved `pg_` names.
fn valid_schema(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        && !name.starts_with("pg_")
}

/// A 64-bit key for `pg_advisory_lock`, stable across processes.
fn lock_key(purpose: &str, schema: &str) -> i64 {
    let d = Sha256::digest(format!("{purpose}:{schema}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// The NOTIFY channel of a schema (an identifier: at most 63 bytes).
fn channel_name(schema: &str) -> String {
    let c = format!("jingwu_events_{schema}");
    if c.len() <= 63 {
        c
    } else {
        let d = Sha256::digest(schema.as_bytes());
        format!("jingwu_events_{}", &hex::encode(d)[..32])
    }
}

/// A parsed database URL.
struct Target {
    config: Config,
    /// The URL without `schema=`.
    url: String,
    schema: String,
    /// Whether the URL named the schema (then it is created if missing).
    explicit: bool,
}

fn parse_url(url: &str) -> DbResult<Target> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut rest = Vec::new();
    let mut schema = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("schema=") {
            Some(v) => {
                if schema.is_some() {
                    return Err(DbError::Backend("数据库地址中 schema 参数重复".into()));
                }
                if !valid_schema(v) {
                    return Err(DbError::Backend(format!(
                        "模式名 {v:?} 无效：只能用小写字母、数字和下划线，不以数字或 pg_ 开头，最长 63 个字符"
                    )));
                }
                schema = Some(v.to_string());
            }
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    // The error text may contain the URL (and its password): not shown.
    let mut config = Config::from_str(&url)
        .map_err(|e| DbError::Backend(format!("PostgreSQL 连接地址无效：{e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("jingwu-hub");
    }
    let explicit = schema.as_deref().is_some_and(|s| s != "public");
    Ok(Target {
        config,
        url,
        schema: schema.unwrap_or_else(|| "public".into()),
        explicit,
    })
}

/// Creates the schema if asked to and applies the missing migrations, on
/// a connection of its own under a session advisory lock, so that hubs
/// starting together migrate once.
fn migrate(t: &Target) -> DbResult<()> {
    let mut c = t.config.connect(NoTls).map_err(db)?;
    let key = lock_key("jingwu-migrate", &t.schema);
    c.execute("SELECT pg_advisory_lock($1)", &[&key])
        .map_err(db)?;
    let out = migrate_locked(&mut c, t);
    if let Err(e) = c.execute("SELECT pg_advisory_unlock($1)", &[&key]) {
        // Closing the connection releases it anyway.
        tracing::warn!(error = %db(e), "释放迁移锁失败");
    }
    out
}

fn migrate_locked(c: &mut Client, t: &Target) -> DbResult<()> {
    if t.explicit {
        c.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&t.schema)))
            .map_err(db)?;
    }
    c.batch_execute(&format!(
        "SET search_path TO {};
         CREATE TABLE IF NOT EXISTS schema_version (
            one     boolean PRIMARY KEY DEFAULT true CHECK (one),
            version bigint NOT NULL
         );
         INSERT INTO schema_version(version) VALUES(0) ON CONFLICT DO NOTHING;",
        ident(&t.schema)
    ))
    .map_err(db)?;
    let found: i64 = c
        .query_one("SELECT version FROM schema_version", &[])
        .and_then(|r| r.try_get(0))
        .map_err(db)?;
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(DbError::TooNew { found, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let mut tx = c.transaction().map_err(db)?;
        tx.batch_execute(sql).map_err(db)?;
        tx.execute("UPDATE schema_version SET version=$1", &[&((i + 1) as i64)])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        tracing::info!(schema = %t.schema, version = i + 1, "数据库已迁移");
    }
    Ok(())
}

/// The prepared statement for `sql` on this connection.
fn stmt<C: GenericClient>(
    c: &mut C,
    stmts: &mut Stmts,
    sql: &'static str,
) -> Result<Statement, postgres::Error> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(sql)?;
    stmts.insert(sql, s.clone());
    Ok(s)
}

/// Finds a PostgreSQL client program: on `PATH`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian installs them there).
fn pg_tool(name: &str) -> DbResult<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(dirs) = std::fs::read_dir("/usr/lib/postgresql") {
        for d in dirs.flatten() {
            let Some(v) = d.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let p = d.path().join("bin").join(name);
            if p.is_file() && best.as_ref().is_none_or(|(bv, _)| v > *bv) {
                best = Some((v, p));
            }
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        DbError::Backend(format!(
            "找不到 {name}：请安装 PostgreSQL 客户端程序（Debian：postgresql-client）"
        ))
    })
}

/// Runs a client program; its stderr becomes the error.
fn run_tool(what: &str, cmd: &mut Command) -> DbResult<std::process::Output> {
    let out = cmd
        .output()
        .map_err(|e| DbError::Backend(format!("无法运行 {what}：{e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(DbError::Backend(format!(
            "{what} 执行失败（{}）：{}",
            out.status,
            stderr.trim()
        )));
    }
    Ok(out)
}

fn arg(prefix: &str, value: impl AsRef<std::ffi::OsStr>) -> OsString {
    let mut a = OsString::from(prefix);
    a.push(value);
    a
}

impl PgDb {
    /// Connects to (and migrates) the database named by `url`, e.g.
    /// `postgres://hub@127.0.0.1:5432/jingwu?schema=county1`.
    pub fn open(url: &str) -> DbResult<PgDb> {
        let t = parse_url(url)?;
        migrate(&t)?;
        let manager = PgManager {
            inner: PostgresConnectionManager::new(t.config.clone(), NoTls),
            schema: t.schema.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(POOL_MIN_IDLE))
            .connection_timeout(CONNECT_TIMEOUT)
            .build(manager)
            .map_err(pool_err)?;
        Ok(PgDb {
            pool,
            config: t.config,
            url: t.url,
            channel: channel_name(&t.schema),
            lock_key: lock_key("jingwu-events", &t.schema),
            schema: t.schema,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The schema holding the hub's tables (`public` by default).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Restores a `pg_dump` archive made by [`HubDb::backup`] into the
    /// database (and schema) named by `url`, replacing the objects it
    /// contains, then migrates. The hub must not be running on it. The
    /// archive must be of the same schema: `pg_restore` cannot rename one.
    pub fn restore(url: &str, backup: &Path) -> DbResult<()> {
        let t = parse_url(url)?;
        if !backup.is_file() {
            return Err(DbError::Backend(format!(
                "备份文件 {} 不存在",
                backup.display()
            )));
        }
        let pg_restore = pg_tool("pg_restore")?;
        let list = run_tool(
            "pg_restore",
            Command::new(&pg_restore).arg("--list").arg(backup),
        )?;
        let list = String::from_utf8_lossy(&list.stdout);
        let has_events = list.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.windows(3)
                .any(|x| x[0] == "TABLE" && x[1] == t.schema && x[2] == "events")
        });
        if !has_events {
            return Err(DbError::Backend(format!(
                "备份文件 {} 中没有模式 {} 的数据（备份只能恢复到原来的模式）",
                backup.display(),
                t.schema
            )));
        }
        if t.explicit {
            let mut c = t.config.connect(NoTls).map_err(db)?;
            c.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&t.schema)))
                .map_err(db)?;
        }
        run_tool(
            "pg_restore",
            Command::new(&pg_restore)
                .arg("--clean")
                .arg("--if-exists")
                .arg("--no-owner")
                .arg("--single-transaction")
                .arg(arg("--dbname=", &t.url))
                .arg(backup),
        )?;
        migrate(&t)
    }

    fn conn(&self) -> DbResult<r2d2::PooledConnection<PgManager>> {
        self.pool.get().map_err(pool_err)
    }

    /// Runs `f` on a pooled connection (autocommit).
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client, &mut Stmts) -> Result<T, postgres::Error>,
    ) -> DbResult<T> {
        let mut conn = self.conn()?;
        let PgConn { client, stmts } = &mut *conn;
        f(client, stmts).map_err(db)
    }

    /// Runs `f` in a transaction; commits when it returns `Ok`.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>, &mut Stmts) -> Result<T, postgres::Error>,
    ) -> DbResult<T> {
        let mut conn = self.conn()?;
        let PgConn { client, stmts } = &mut *conn;
        let mut tx = client.transaction().map_err(db)?;
        let out = f(&mut tx, stmts).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(out)
    }
}

/// Removes one person's upload and its chunks.
fn delete_upload(
    tx: &mut Transaction<'_>,
    st: &mut Stmts,
    person: &str,
    sm3: &str,
) -> Result<(), postgres::Error> {
    let dc = stmt(
        tx,
        st,
        "DELETE FROM upload_chunks WHERE person=$1 AND sm3=$2",
    )?;
    tx.execute(&dc, &[&person, &sm3])?;
    let du = stmt(tx, st, "DELETE FROM uploads WHERE person=$1 AND sm3=$2")?;
    tx.execute(&du, &[&person, &sm3])?;
    Ok(())
}

fn user_row(r: &postgres::Row) -> Result<UserRow, postgres::Error> {
    Ok(UserRow {
        person: r.try_get(0)?,
        password_hash: r.try_get(1)?,
        is_admin: r.try_get(2)?,
        disabled: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

fn enrolment_row(r: &postgres::Row) -> Result<EnrolmentRow, postgres::Error> {
    Ok(EnrolmentRow {
        id: r.try_get(0)?,
        device: r.try_get(1)?,
        device_name: r.try_get(2)?,
        person: r.try_get(3)?,
        fingerprint: r.try_get(4)?,
        pem: r.try_get(5)?,
        status: r.try_get(6)?,
        created_at: r.try_get(7)?,
        decided_by: r.try_get(8)?,
        decided_at: r.try_get(9)?,
    })
}

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

fn raw_event(r: &postgres::Row) -> Result<RawEvent, postgres::Error> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
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

const SQL_EVENT_HASH: &str = "SELECT hash FROM events WHERE id=$1";
const SQL_CASE_STATE: &str = "SELECT state_json FROM cases WHERE id=$1";
const SQL_CAN_SEE: &str = "SELECT 1 FROM case_access WHERE person=$1 AND case_id=$2";
const SQL_CASE_NO_TAKEN: &str = "SELECT 1 FROM cases WHERE case_no=$1 AND id<>$2";
const SQL_HOLDS_ATTACHMENT: &str = "SELECT 1 FROM attachment_holders WHERE sm3=$1 AND person=$2";
const SQL_ATTACHMENT_CASES: &str = "SELECT case_id FROM case_attachments WHERE sm3=$1";
const SQL_LINK_ATTACHMENT: &str =
    "INSERT INTO case_attachments(sm3, case_id) VALUES($1, $2) ON CONFLICT DO NOTHING";

/// The operations of one push transaction.
///
/// Case projections and grants are kept in memory and written at the end
/// of the transaction in one statement each (`unnest` of arrays), which
/// saves two round trips per event; reads inside the transaction see them
/// (only push transactions write these tables, and they are serialised,
/// so what the transaction itself wrote is all that can differ from the
/// database). A failing write (say a duplicate `case_no`) is reported when
/// the transaction ends instead of at `put_case`; either way the push
/// fails and nothing is stored.
struct PgTx<'a, 't> {
    tx: &'a mut Transaction<'t>,
    stmts: &'a mut Stmts,
    /// Whether anything was written (then the commit is announced).
    dirty: bool,
    /// The latest projection of each case written.
    cases: HashMap<Uuid, CaseState>,
    /// Grants made: (case, person).
    grants: HashSet<(Uuid, String)>,
}

impl<'a, 't> PgTx<'a, 't> {
    fn new(tx: &'a mut Transaction<'t>, stmts: &'a mut Stmts) -> PgTx<'a, 't> {
        PgTx {
            tx,
            stmts,
            dirty: false,
            cases: HashMap::new(),
            grants: HashSet::new(),
        }
    }

    fn stmt(&mut self, sql: &'static str) -> DbResult<Statement> {
        stmt(self.tx, self.stmts, sql).map_err(db)
    }

    /// Writes the pending projections and grants.
    fn flush(&mut self) -> DbResult<()> {
        let cases = std::mem::take(&mut self.cases);
        if !cases.is_empty() {
            let n = cases.len();
            let mut ids = Vec::with_capacity(n);
            let mut types = Vec::with_capacity(n);
            let mut nos = Vec::with_capacity(n);
            let mut units = Vec::with_capacity(n);
            let mut statuses = Vec::with_capacity(n);
            let mut heads = Vec::with_capacity(n);
            let mut next_seqs = Vec::with_capacity(n);
            let mut jsons = Vec::with_capacity(n);
            let mut updated = Vec::with_capacity(n);
            for st in cases.values() {
                ids.push(st.case_id.to_string());
                types.push(enum_text(&st.case_type)?);
                nos.push(st.case_no.as_str());
                units.push(st.unit.as_str());
                statuses.push(enum_text(&st.status)?);
                heads.push(st.head.as_str());
                next_seqs.push(
                    i64::try_from(st.next_seq)
                        .map_err(|_| DbError::Corrupt(format!("案件序号 {} 过大", st.next_seq)))?,
                );
                jsons.push(state_json(st)?);
                updated.push(crate::rfc3339(st.updated_at));
            }
            let s = self.stmt(
                "INSERT INTO cases(id, case_type, case_no, unit, status, head, next_seq, state_json,
                   updated_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                   $6::text[], $7::bigint[], $8::text[], $9::text[])
                 ON CONFLICT(id) DO UPDATE SET status=excluded.status, head=excluded.head,
                   next_seq=excluded.next_seq, state_json=excluded.state_json,
                   updated_at=excluded.updated_at",
            )?;
            self.tx
                .execute(
                    &s,
                    &[
                        &ids, &types, &nos, &units, &statuses, &heads, &next_seqs, &jsons, &updated,
                    ],
                )
                .map_err(db)?;
        }
        let grants = std::mem::take(&mut self.grants);
        if !grants.is_empty() {
            let (case_ids, persons): (Vec<String>, Vec<String>) =
                grants.into_iter().map(|(c, p)| (c.to_string(), p)).unzip();
            let s = self.stmt(
                "INSERT INTO case_access(case_id, person)
                 SELECT * FROM unnest($1::text[], $2::text[])
                 ON CONFLICT DO NOTHING",
            )?;
            self.tx.execute(&s, &[&case_ids, &persons]).map_err(db)?;
        }
        Ok(())
    }
}

impl EventTx for PgTx<'_, '_> {
    /// Writes the pending projections and grants first, so that a
    /// rollback to the savepoint undoes exactly what followed it.
    fn savepoint(&mut self, name: &str) -> DbResult<()> {
        self.flush()?;
        let sql = format!("SAVEPOINT {}", savepoint_name(name)?);
        self.tx.batch_execute(&sql).map_err(db)
    }

    fn rollback_to(&mut self, name: &str) -> DbResult<()> {
        self.cases.clear();
        self.grants.clear();
        let sql = format!("ROLLBACK TO SAVEPOINT {}", savepoint_name(name)?);
        self.tx.batch_execute(&sql).map_err(db)
    }

    /// Writes the pending projections and grants (a duplicate `case_no`
    /// fails here, while the savepoint can still be rolled back to).
    fn release(&mut self, name: &str) -> DbResult<()> {
        self.flush()?;
        let sql = format!("RELEASE SAVEPOINT {}", savepoint_name(name)?);
        self.tx.batch_execute(&sql).map_err(db)
    }

    fn event_hash(&mut self, id: &Uuid) -> DbResult<Option<String>> {
        let s = self.stmt(SQL_EVENT_HASH)?;
        let row = self.tx.query_opt(&s, &[&id.to_string()]).map_err(db)?;
        row.map(|r| r.try_get(0)).transpose().map_err(db)
    }

    fn case_state(&mut self, case_id: &Uuid) -> DbResult<Option<CaseState>> {
        if let Some(st) = self.cases.get(case_id) {
            return Ok(Some(st.clone()));
        }
        let s = self.stmt(SQL_CASE_STATE)?;
        let row = self.tx.query_opt(&s, &[&case_id.to_string()]).map_err(db)?;
        let json: Option<String> = row.map(|r| r.try_get(0)).transpose().map_err(db)?;
        json.map(|j| parse_state(&j)).transpose()
    }

    fn can_see(&mut self, person: &str, case_id: &Uuid) -> DbResult<bool> {
        if self.grants.contains(&(*case_id, person.to_string())) {
            return Ok(true);
        }
        let s = self.stmt(SQL_CAN_SEE)?;
        Ok(self
            .tx
            .query_opt(&s, &[&person, &case_id.to_string()])
            .map_err(db)?
            .is_some())
    }

    fn insert_event(&mut self, ev: &NewEvent<'_>) -> DbResult<i64> {
        let s = self.stmt(
            "INSERT INTO events(id, case_id, seq, bytes, signature, hash, author, kind, received_at)
             VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING gseq",
        )?;
        let row = self
            .tx
            .query_one(
                &s,
                &[
                    &ev.id.to_string(),
                    &ev.case_id.to_string(),
                    &ev.seq,
                    &ev.bytes,
                    &ev.signature,
                    &ev.hash,
                    &ev.author,
                    &ev.kind,
                    &ev.received_at,
                ],
            )
            .map_err(db)?;
        self.dirty = true;
        row.try_get(0).map_err(db)
    }

    fn set_receipt(&mut self, gseq: i64, bytes: &[u8], signature: &[u8]) -> DbResult<()> {
        let s = self.stmt("UPDATE events SET receipt=$1, receipt_sig=$2 WHERE gseq=$3")?;
        self.tx
            .execute(&s, &[&bytes, &signature, &gseq])
            .map_err(db)?;
        self.dirty = true;
        Ok(())
    }

    fn put_case(&mut self, st: &CaseState) -> DbResult<()> {
        self.cases.insert(st.case_id, st.clone());
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
        let s = self.stmt(SQL_HOLDS_ATTACHMENT)?;
        Ok(self
            .tx
            .query_opt(&s, &[&sm3, &person])
            .map_err(db)?
            .is_some())
    }

    fn attachment_cases(&mut self, sm3: &str) -> DbResult<Vec<Uuid>> {
        let s = self.stmt(SQL_ATTACHMENT_CASES)?;
        let rows = self.tx.query(&s, &[&sm3]).map_err(db)?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0).map_err(db)?;
                parse_uuid(&id)
            })
            .collect()
    }

    fn link_attachment(&mut self, case_id: &Uuid, sm3: &str) -> DbResult<()> {
        let s = self.stmt(SQL_LINK_ATTACHMENT)?;
        self.tx
            .execute(&s, &[&sm3, &case_id.to_string()])
            .map_err(db)?;
        self.dirty = true;
        Ok(())
    }

    fn case_no_taken(&mut self, case_no: &str, case_id: &Uuid) -> DbResult<bool> {
        // Projections of this transaction are written at its end.
        if self
            .cases
            .values()
            .any(|c| c.case_no == case_no && c.case_id != *case_id)
        {
            return Ok(true);
        }
        let s = self.stmt(SQL_CASE_NO_TAKEN)?;
        Ok(self
            .tx
            .query_opt(&s, &[&case_no, &case_id.to_string()])
            .map_err(db)?
            .is_some())
    }
}

/// Connects the listener and subscribes to the channel.
fn listen_connect(config: &Config, channel: &str) -> Result<Client, postgres::Error> {
    let mut c = config.connect(NoTls)?;
    c.batch_execute(&format!("LISTEN {}", ident(channel)))?;
    Ok(c)
}

/// Waits up to [`LISTEN_POLL`] for notifications: `Ok(true)` when some
/// came (all already buffered ones are taken too).
fn wait_notifications(client: &mut Client) -> Result<bool, postgres::Error> {
    let mut n = client.notifications();
    let first = n.timeout_iter(LISTEN_POLL).next()?;
    if first.is_none() {
        return Ok(false);
    }
    while n.iter().next()?.is_some() {}
    Ok(true)
}

/// Reconnects the listener with backoff; `None` when told to stop.
fn listen_reconnect(config: &Config, channel: &str, stop: &AtomicBool) -> Option<Client> {
    let mut delay = BACKOFF_START;
    loop {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if stop.load(Ordering::Acquire) {
                return None;
            }
            std::thread::sleep(LISTEN_POLL.min(until.saturating_duration_since(Instant::now())));
        }
        match listen_connect(config, channel) {
            Ok(c) => {
                tracing::info!(channel, "已重新连接 PostgreSQL 通知");
                return Some(c);
            }
            Err(e) => {
                tracing::warn!(channel, error = %db(e), retry_in = ?delay, "重新连接 PostgreSQL 通知失败");
                delay = (delay * 2).min(BACKOFF_MAX);
            }
        }
    }
}

fn listen_loop(
    mut client: Client,
    config: Config,
    channel: String,
    stop: Arc<AtomicBool>,
    wake: Box<dyn Fn() + Send + Sync>,
) {
    let mut checked = Instant::now();
    while !stop.load(Ordering::Acquire) {
        let broken = match wait_notifications(&mut client) {
            Ok(true) => {
                wake();
                None
            }
            Ok(false) if client.is_closed() => Some("连接已关闭".to_string()),
            Ok(false) if checked.elapsed() >= LISTEN_CHECK => {
                checked = Instant::now();
                client
                    .is_valid(CONNECT_TIMEOUT)
                    .err()
                    .map(|e| db(e).to_string())
            }
            Ok(false) => None,
            Err(e) => Some(db(e).to_string()),
        };
        if let Some(why) = broken {
            tracing::warn!(channel = %channel, error = %why, "PostgreSQL 通知连接中断，正在重连");
            match listen_reconnect(&config, &channel, &stop) {
                Some(c) => {
                    client = c;
                    checked = Instant::now();
                    // Commits made while disconnected were not announced.
                    wake();
                }
                None => break,
            }
        }
    }
    tracing::debug!(channel = %channel, "PostgreSQL 通知监听结束");
}

impl HubDb for PgDb {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    fn meta_get(&self, key: &str) -> DbResult<Option<String>> {
        self.with(|c, st| {
            let s = stmt(c, st, "SELECT value FROM meta WHERE key=$1")?;
            c.query_opt(&s, &[&key])?.map(|r| r.try_get(0)).transpose()
        })
    }

    fn meta_set(&self, key: &str, value: &str) -> DbResult<()> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "INSERT INTO meta(key, value) VALUES($1, $2)
                 ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            )?;
            c.execute(&s, &[&key, &value])?;
            Ok(())
        })
    }

    fn meta_init(&self, key: &str, value: &str) -> DbResult<String> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO NOTHING",
            )?;
            c.execute(&s, &[&key, &value])?;
            let s = stmt(c, st, "SELECT value FROM meta WHERE key=$1")?;
            c.query_one(&s, &[&key])?.try_get(0)
        })
    }

    fn insert_user(&self, u: &UserRow) -> DbResult<bool> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "INSERT INTO users(person, password_hash, is_admin, disabled, created_at)
                 VALUES($1, $2, $3, $4, $5) ON CONFLICT(person) DO NOTHING",
            )?;
            let n = c.execute(
                &s,
                &[
                    &u.person,
                    &u.password_hash,
                    &u.is_admin,
                    &u.disabled,
                    &u.created_at,
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn user(&self, person: &str) -> DbResult<Option<UserRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT person, password_hash, is_admin, disabled, created_at FROM users WHERE person=$1",
            )?;
            c.query_opt(&s, &[&person])?
                .map(|r| user_row(&r))
                .transpose()
        })
    }

    fn users(&self) -> DbResult<Vec<UserRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT person, password_hash, is_admin, disabled, created_at FROM users ORDER BY person",
            )?;
            c.query(&s, &[])?.iter().map(user_row).collect()
        })
    }

    fn insert_session(&self, s: &SessionRow) -> DbResult<()> {
        self.with(|c, st| {
            let q = stmt(
                c,
                st,
                "INSERT INTO sessions(token_hash, person, device, created_at, last_seen, revoked)
                 VALUES($1, $2, $3, $4, $5, $6)",
            )?;
            c.execute(
                &q,
                &[
                    &s.token_hash,
                    &s.person,
                    &s.device,
                    &s.created_at,
                    &s.last_seen,
                    &s.revoked,
                ],
            )?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str) -> DbResult<Option<SessionRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT token_hash, person, device, created_at, last_seen, revoked FROM sessions
                 WHERE token_hash=$1",
            )?;
            c.query_opt(&s, &[&token_hash])?
                .map(|r| {
                    Ok(SessionRow {
                        token_hash: r.try_get(0)?,
                        person: r.try_get(1)?,
                        device: r.try_get(2)?,
                        created_at: r.try_get(3)?,
                        last_seen: r.try_get(4)?,
                        revoked: r.try_get(5)?,
                    })
                })
                .transpose()
        })
    }

    fn touch_session(&self, token_hash: &str, now: i64) -> DbResult<()> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "UPDATE sessions SET last_seen=$2 WHERE token_hash=$1 AND last_seen < $2",
            )?;
            c.execute(&s, &[&token_hash, &now])?;
            Ok(())
        })
    }

    fn revoke_session(&self, token_hash: &str) -> DbResult<()> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "UPDATE sessions SET revoked=true WHERE token_hash=$1",
            )?;
            c.execute(&s, &[&token_hash])?;
            Ok(())
        })
    }

    fn revoke_sessions_of(&self, person: &str) -> DbResult<u64> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "UPDATE sessions SET revoked=true WHERE person=$1 AND NOT revoked",
            )?;
            c.execute(&s, &[&person])
        })
    }

    fn insert_enrolment(&self, e: &EnrolmentRow) -> DbResult<()> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "INSERT INTO enrolments(id, device, device_name, person, fingerprint, pem, status,
                   created_at, decided_by, decided_at)
                 VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )?;
            c.execute(
                &s,
                &[
                    &e.id,
                    &e.device,
                    &e.device_name,
                    &e.person,
                    &e.fingerprint,
                    &e.pem,
                    &e.status,
                    &e.created_at,
                    &e.decided_by,
                    &e.decided_at,
                ],
            )?;
            Ok(())
        })
    }

    fn enrolment(&self, id: &str) -> DbResult<Option<EnrolmentRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT id, device, device_name, person, fingerprint, pem, status, created_at, decided_by, decided_at
                 FROM enrolments WHERE id=$1",
            )?;
            c.query_opt(&s, &[&id])?
                .map(|r| enrolment_row(&r))
                .transpose()
        })
    }

    fn enrolments(&self, status: Option<&str>) -> DbResult<Vec<EnrolmentRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT id, device, device_name, person, fingerprint, pem, status, created_at, decided_by, decided_at
                 FROM enrolments WHERE $1::text IS NULL OR status=$1::text
                 ORDER BY created_at DESC, id DESC",
            )?;
            c.query(&s, &[&status])?
                .iter()
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
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "UPDATE enrolments SET status=$3, decided_by=$4, decided_at=$5
                 WHERE id=$1 AND status=$2",
            )?;
            Ok(c.execute(&s, &[&id, &from, &to, &by, &at])? == 1)
        })
    }

    fn approved_key(&self, person: &str, fingerprint: &str) -> DbResult<Option<String>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT pem FROM enrolments WHERE person=$1 AND fingerprint=$2 AND status='approved'
                 LIMIT 1",
            )?;
            c.query_opt(&s, &[&person, &fingerprint])?
                .map(|r| r.try_get(0))
                .transpose()
        })
    }

    fn approved_keys(&self) -> DbResult<Vec<(String, String, String)>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT DISTINCT person, fingerprint, pem FROM enrolments WHERE status='approved'
                 ORDER BY person, fingerprint, pem",
            )?;
            c.query(&s, &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect()
        })
    }

    fn hosted_key(&self, person: &str) -> DbResult<Option<HostedKeyRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT person, enrolment_id, fingerprint, sealed, failures, locked_until, created_at
                 FROM hosted_keys WHERE person=$1",
            )?;
            c.query_opt(&s, &[&person])?
                .map(|r| {
                    Ok(HostedKeyRow {
                        person: r.try_get(0)?,
                        enrolment_id: r.try_get(1)?,
                        fingerprint: r.try_get(2)?,
                        sealed: r.try_get(3)?,
                        failures: r.try_get(4)?,
                        locked_until: r.try_get(5)?,
                        created_at: r.try_get(6)?,
                    })
                })
                .transpose()
        })
    }

    fn put_hosted_key(&self, k: &HostedKeyRow) -> DbResult<()> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "INSERT INTO hosted_keys(person, enrolment_id, fingerprint, sealed, failures, locked_until, created_at)
                 VALUES($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT(person) DO UPDATE SET enrolment_id=excluded.enrolment_id,
                   fingerprint=excluded.fingerprint, sealed=excluded.sealed, failures=excluded.failures,
                   locked_until=excluded.locked_until, created_at=excluded.created_at",
            )?;
            c.execute(
                &s,
                &[
                    &k.person,
                    &k.enrolment_id,
                    &k.fingerprint,
                    &k.sealed,
                    &k.failures,
                    &k.locked_until,
                    &k.created_at,
                ],
            )?;
            Ok(())
        })
    }

    fn hosted_key_attempt(&self, person: &str, now: i64) -> DbResult<Option<i64>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "UPDATE hosted_keys SET failures=failures+1 WHERE person=$1 AND locked_until<=$2
                 RETURNING failures",
            )?;
            c.query_opt(&s, &[&person, &now])?
                .map(|r| r.try_get(0))
                .transpose()
        })
    }

    fn set_hosted_key_failures(
        &self,
        person: &str,
        failures: i64,
        locked_until: i64,
    ) -> DbResult<()> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "UPDATE hosted_keys SET failures=$2, locked_until=$3 WHERE person=$1",
            )?;
            c.execute(&s, &[&person, &failures, &locked_until])?;
            Ok(())
        })
    }

    fn login_counters(
        &self,
        keys: &[String],
        prune_before: i64,
        update: &mut LoginCounterFn<'_>,
    ) -> DbResult<()> {
        self.write(|tx, st| {
            let ins = stmt(
                tx,
                st,
                "INSERT INTO login_counters (key, failures, lockouts, locked_until, last_failure)
                 VALUES ($1, 0, 0, 0, 0) ON CONFLICT (key) DO NOTHING",
            )?;
            let sel = stmt(
                tx,
                st,
                "SELECT failures, lockouts, locked_until, last_failure
                 FROM login_counters WHERE key=$1 FOR UPDATE",
            )?;
            // Rows locked in key order, so two logins never wait on each
            // other crosswise.
            let mut order: Vec<usize> = (0..keys.len()).collect();
            order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
            let mut rows: Vec<LoginCounter> = keys.iter().map(|k| LoginCounter::new(k)).collect();
            for i in order {
                tx.execute(&ins, &[&keys[i]])?;
                let r = tx.query_one(&sel, &[&keys[i]])?;
                rows[i] = LoginCounter {
                    key: keys[i].clone(),
                    failures: r.try_get(0)?,
                    lockouts: r.try_get(1)?,
                    locked_until: r.try_get(2)?,
                    last_failure: r.try_get(3)?,
                };
            }
            update(&mut rows);
            let upd = stmt(
                tx,
                st,
                "UPDATE login_counters SET failures=$2, lockouts=$3, locked_until=$4,
                    last_failure=$5 WHERE key=$1",
            )?;
            for c in &rows {
                tx.execute(
                    &upd,
                    &[
                        &c.key,
                        &c.failures,
                        &c.lockouts,
                        &c.locked_until,
                        &c.last_failure,
                    ],
                )?;
            }
            let prune = stmt(
                tx,
                st,
                "DELETE FROM login_counters WHERE key IN (
                    SELECT key FROM login_counters WHERE last_failure < $1 AND locked_until < $1
                    FOR UPDATE SKIP LOCKED)",
            )?;
            tx.execute(&prune, &[&prune_before])?;
            Ok(())
        })
    }

    fn push(&self, f: &mut PushFn<'_>) -> Result<(), ApiError> {
        let mut conn = self.conn()?;
        let PgConn { client, stmts } = &mut *conn;
        let mut tx = client.transaction().map_err(db)?;
        // Serialise writers: gseq values are drawn, and become visible, in
        // lock order, so a reader at gseq n has seen all below it.
        let lock = stmt(&mut tx, stmts, "SELECT pg_advisory_xact_lock($1)").map_err(db)?;
        tx.execute(&lock, &[&self.lock_key]).map_err(db)?;
        let mut t = PgTx::new(&mut tx, stmts);
        let res = match f(&mut t) {
            Ok(()) => t.flush().map_err(ApiError::from),
            Err(e) => Err(e),
        };
        let dirty = t.dirty;
        drop(t);
        match res {
            Ok(()) => {
                if dirty {
                    let n = stmt(&mut tx, stmts, "SELECT pg_notify($1, '')").map_err(db)?;
                    tx.execute(&n, &[&self.channel]).map_err(db)?;
                }
                tx.commit().map_err(db)?;
                Ok(())
            }
            Err(e) => {
                if let Err(re) = tx.rollback() {
                    tracing::warn!(error = %db(re), "回滚失败");
                }
                Err(e)
            }
        }
    }

    fn events_after(&self, person: &str, after: i64, limit: i64) -> DbResult<Vec<EventRow>> {
        let raw = self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT e.gseq, e.id, e.case_id, e.seq, e.bytes, e.signature, e.receipt, e.receipt_sig
                 FROM events e JOIN case_access a ON a.case_id = e.case_id AND a.person = $1
                 WHERE e.gseq > $2 ORDER BY e.gseq LIMIT $3",
            )?;
            c.query(&s, &[&person, &after, &limit])?
                .iter()
                .map(raw_event)
                .collect::<Result<Vec<_>, _>>()
        })?;
        raw.into_iter().map(to_event).collect()
    }

    fn feed_after(&self, after: i64, limit: i64) -> DbResult<Vec<(EventRow, Vec<String>)>> {
        // One statement, one snapshot: the viewers are those at the time
        // the events are read.
        let raw = self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT e.gseq, e.id, e.case_id, e.seq, e.bytes, e.signature, e.receipt, e.receipt_sig,
                   ARRAY(SELECT a.person FROM case_access a WHERE a.case_id = e.case_id
                         ORDER BY a.person)
                 FROM events e WHERE e.gseq > $1 ORDER BY e.gseq LIMIT $2",
            )?;
            c.query(&s, &[&after, &limit])?
                .iter()
                .map(|r| Ok((raw_event(r)?, r.try_get::<_, Vec<String>>(8)?)))
                .collect::<Result<Vec<_>, postgres::Error>>()
        })?;
        raw.into_iter()
            .map(|(e, v)| Ok((to_event(e)?, v)))
            .collect()
    }

    fn case_events(&self, case_id: &Uuid) -> DbResult<Vec<EventRow>> {
        let raw = self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT gseq, id, case_id, seq, bytes, signature, receipt, receipt_sig FROM events WHERE case_id=$1
                 ORDER BY seq",
            )?;
            c.query(&s, &[&case_id.to_string()])?
                .iter()
                .map(raw_event)
                .collect::<Result<Vec<_>, _>>()
        })?;
        raw.into_iter().map(to_event).collect()
    }

    fn can_see(&self, person: &str, case_id: &Uuid) -> DbResult<bool> {
        self.with(|c, st| {
            let s = stmt(c, st, SQL_CAN_SEE)?;
            Ok(c.query_opt(&s, &[&person, &case_id.to_string()])?.is_some())
        })
    }

    fn case_state(&self, case_id: &Uuid) -> DbResult<Option<CaseState>> {
        let json: Option<String> = self.with(|c, st| {
            let s = stmt(c, st, SQL_CASE_STATE)?;
            c.query_opt(&s, &[&case_id.to_string()])?
                .map(|r| r.try_get(0))
                .transpose()
        })?;
        json.map(|j| parse_state(&j)).transpose()
    }

    fn visible_cases(&self, person: &str, status: &str, limit: i64) -> DbResult<Vec<CaseState>> {
        let rows: Vec<String> = self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT c.state_json FROM cases c
                   JOIN case_access a ON a.case_id = c.id AND a.person = $1
                 WHERE c.status = $2 ORDER BY c.updated_at DESC LIMIT $3",
            )?;
            c.query(&s, &[&person, &status, &limit])?
                .iter()
                .map(|r| r.try_get(0))
                .collect()
        })?;
        rows.iter().map(|j| parse_state(j)).collect()
    }

    fn max_gseq(&self) -> DbResult<i64> {
        self.with(|c, st| {
            let s = stmt(c, st, "SELECT coalesce(max(gseq), 0)::bigint FROM events")?;
            c.query_one(&s, &[])?.try_get(0)
        })
    }

    fn counts(&self) -> DbResult<(i64, i64)> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM cases)",
            )?;
            let r = c.query_one(&s, &[])?;
            Ok((r.try_get(0)?, r.try_get(1)?))
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
        let lock = lock_key("jingwu-uploads", &format!("{}:{person}", self.schema));
        self.write(|tx, st| {
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
            let l = stmt(tx, st, "SELECT pg_advisory_xact_lock($1)")?;
            tx.execute(&l, &[&lock])?;
            let sel = stmt(
                tx,
                st,
                "SELECT size, mime, received FROM uploads WHERE person=$1 AND sm3=$2",
            )?;
            if let Some(r) = tx.query_opt(&sel, &[&person, &sm3])? {
                let (s, m, received): (i64, String, i64) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                if s == size && m == mime {
                    let t = stmt(
                        tx,
                        st,
                        "UPDATE uploads SET touched_at=$3 WHERE person=$1 AND sm3=$2",
                    )?;
                    tx.execute(&t, &[&person, &sm3, &now])?;
                    return Ok(UploadBegin::Started(row(received)));
                }
            }
            let sum = stmt(
                tx,
                st,
                "SELECT coalesce(sum(size), 0)::bigint FROM uploads WHERE person=$1 AND sm3<>$2",
            )?;
            let used: i64 = tx.query_one(&sum, &[&person, &sm3])?.try_get(0)?;
            if used.saturating_add(size) > quota {
                return Ok(UploadBegin::OverQuota { used });
            }
            let del = stmt(
                tx,
                st,
                "DELETE FROM upload_chunks WHERE person=$1 AND sm3=$2",
            )?;
            tx.execute(&del, &[&person, &sm3])?;
            let ins = stmt(
                tx,
                st,
                "INSERT INTO uploads(person, sm3, size, mime, received, touched_at)
                 VALUES($1, $2, $3, $4, 0, $5)
                 ON CONFLICT(person, sm3) DO UPDATE SET size=excluded.size, mime=excluded.mime,
                   received=0, touched_at=excluded.touched_at",
            )?;
            tx.execute(&ins, &[&person, &sm3, &size, &mime, &now])?;
            Ok(UploadBegin::Started(row(0)))
        })
    }

    fn upload(&self, person: &str, sm3: &str) -> DbResult<Option<UploadRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT person, sm3, size, mime, received, touched_at FROM uploads
                 WHERE person=$1 AND sm3=$2",
            )?;
            c.query_opt(&s, &[&person, &sm3])?
                .map(|r| {
                    Ok(UploadRow {
                        person: r.try_get(0)?,
                        sm3: r.try_get(1)?,
                        size: r.try_get(2)?,
                        mime: r.try_get(3)?,
                        received: r.try_get(4)?,
                        touched_at: r.try_get(5)?,
                    })
                })
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
        let len = i64::try_from(data.len()).map_err(|_| DbError::Backend("上传分块过大".into()))?;
        self.write(|tx, st| {
            let upd = stmt(
                tx,
                st,
                "UPDATE uploads SET received = received + $4, touched_at=$5
                 WHERE person=$1 AND sm3=$2 AND received=$3",
            )?;
            if tx.execute(&upd, &[&person, &sm3, &offset, &len, &now])? != 1 {
                return Ok(false);
            }
            let ins = stmt(
                tx,
                st,
                r#"INSERT INTO upload_chunks(person, sm3, "offset", data) VALUES($1, $2, $3, $4)"#,
            )?;
            tx.execute(&ins, &[&person, &sm3, &offset, &data])?;
            Ok(true)
        })
    }

    fn upload_data(&self, person: &str, sm3: &str) -> DbResult<Vec<u8>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                r#"SELECT data FROM upload_chunks WHERE person=$1 AND sm3=$2 ORDER BY "offset""#,
            )?;
            let mut out = Vec::new();
            for r in c.query(&s, &[&person, &sm3])? {
                let chunk: &[u8] = r.try_get(0)?;
                out.extend_from_slice(chunk);
            }
            Ok(out)
        })
    }

    fn upload_finish(&self, person: &str, sm3: &str, mime: &str, data: &[u8]) -> DbResult<()> {
        let size = i64::try_from(data.len()).map_err(|_| DbError::Backend("附件过大".into()))?;
        let now = crate::now_rfc3339();
        self.write(|tx, st| {
            let ins = stmt(
                tx,
                st,
                "INSERT INTO attachments(sm3, mime, size, data, created_at) VALUES($1, $2, $3, $4, $5)
                 ON CONFLICT(sm3) DO NOTHING",
            )?;
            tx.execute(&ins, &[&sm3, &mime, &size, &data, &now])?;
            let h = stmt(
                tx,
                st,
                "INSERT INTO attachment_holders(sm3, person) VALUES($1, $2) ON CONFLICT DO NOTHING",
            )?;
            tx.execute(&h, &[&sm3, &person])?;
            delete_upload(tx, st, person, sm3)
        })
    }

    fn upload_abort(&self, person: &str, sm3: &str) -> DbResult<()> {
        self.write(|tx, st| delete_upload(tx, st, person, sm3))
    }

    fn expire_uploads(&self, before: i64) -> DbResult<u64> {
        self.write(|tx, st| {
            // The chunks of exactly the uploads removed: one touched by a
            // chunk meanwhile is not removed, and keeps its chunks.
            let s = stmt(
                tx,
                st,
                "WITH gone AS (DELETE FROM uploads WHERE touched_at < $1 RETURNING person, sm3),
                      chunks AS (DELETE FROM upload_chunks c USING gone g
                                 WHERE c.person = g.person AND c.sm3 = g.sm3)
                 SELECT count(*) FROM gone",
            )?;
            let n: i64 = tx.query_one(&s, &[&before])?.try_get(0)?;
            Ok(n.unsigned_abs())
        })
    }

    fn attachment_meta(&self, sm3: &str) -> DbResult<Option<(String, i64)>> {
        self.with(|c, st| {
            let s = stmt(c, st, "SELECT mime, size FROM attachments WHERE sm3=$1")?;
            c.query_opt(&s, &[&sm3])?
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .transpose()
        })
    }

    fn attachment(&self, sm3: &str) -> DbResult<Option<(String, Vec<u8>)>> {
        self.with(|c, st| {
            let s = stmt(c, st, "SELECT mime, data FROM attachments WHERE sm3=$1")?;
            c.query_opt(&s, &[&sm3])?
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .transpose()
        })
    }

    fn attachment_in_scope(&self, person: &str, sm3: &str) -> DbResult<bool> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT EXISTS(SELECT 1 FROM attachment_holders WHERE sm3=$1 AND person=$2)
                     OR EXISTS(SELECT 1 FROM case_attachments ca
                               JOIN case_access a ON a.case_id = ca.case_id AND a.person = $2
                               WHERE ca.sm3 = $1)",
            )?;
            c.query_one(&s, &[&sm3, &person])?.try_get(0)
        })
    }

    fn insert_seal(&self, r: &SealRow) -> DbResult<bool> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "INSERT INTO seals(id, kind, holder, holder_key, seal_json, registered_at,
                   registered_by, revoked_at, revoked_by)
                 VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT(id) DO NOTHING",
            )?;
            Ok(c.execute(
                &s,
                &[
                    &r.id,
                    &r.kind,
                    &r.holder,
                    &r.holder_key,
                    &r.seal_json,
                    &r.registered_at,
                    &r.registered_by,
                    &r.revoked_at,
                    &r.revoked_by,
                ],
            )? == 1)
        })
    }

    fn seals(&self) -> DbResult<Vec<SealRow>> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "SELECT id, kind, holder, holder_key, seal_json, registered_at, registered_by,
                   revoked_at, revoked_by FROM seals ORDER BY registered_at, id",
            )?;
            c.query(&s, &[])?
                .iter()
                .map(|r| {
                    Ok(SealRow {
                        id: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        holder: r.try_get(2)?,
                        holder_key: r.try_get(3)?,
                        seal_json: r.try_get(4)?,
                        registered_at: r.try_get(5)?,
                        registered_by: r.try_get(6)?,
                        revoked_at: r.try_get(7)?,
                        revoked_by: r.try_get(8)?,
                    })
                })
                .collect()
        })
    }

    fn revoke_seal(&self, id: &str, by: &str, at: &str) -> DbResult<bool> {
        self.with(|c, st| {
            let s = stmt(
                c,
                st,
                "UPDATE seals SET revoked_at=$3, revoked_by=$2 WHERE id=$1 AND revoked_at IS NULL",
            )?;
            Ok(c.execute(&s, &[&id, &by, &at])? == 1)
        })
    }

    /// A `pg_dump` archive (custom format) of the hub's schema: one
    /// snapshot, taken while the hub keeps serving. Restore it with
    /// [`PgDb::restore`].
    fn backup(&self, dest: &Path) -> DbResult<()> {
        if dest.exists() {
            return Err(DbError::Backend(format!(
                "备份目标 {} 已存在，不会覆盖",
                dest.display()
            )));
        }
        let pg_dump = pg_tool("pg_dump")?;
        // The archive is as private as the database: pg_dump writes into
        // an empty 0600 file made here (create_new: nothing else is
        // overwritten), whatever its umask.
        jingwu_store::private_fs::create_new(dest)
            .map_err(|e| DbError::Backend(format!("无法创建备份文件 {}：{e}", dest.display())))?;
        let out = run_tool(
            "pg_dump",
            Command::new(pg_dump)
                .arg("--format=custom")
                .arg(arg("--file=", dest))
                .arg(arg("--schema=", &self.schema))
                .arg("--no-owner")
                .arg(&self.url),
        );
        if out.is_err() {
            // Do not leave a partial archive that looks like a backup.
            let _ = std::fs::remove_file(dest);
        }
        out?;
        if std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0) == 0 {
            let _ = std::fs::remove_file(dest);
            return Err(DbError::Backend(format!(
                "pg_dump 没有写出备份文件 {}",
                dest.display()
            )));
        }
        Ok(())
    }

    fn listen(&self, wake: Box<dyn Fn() + Send + Sync>) -> DbResult<()> {
        // Subscribe before returning, so no commit after this call is
        // missed.
        let client = listen_connect(&self.config, &self.channel).map_err(db)?;
        let config = self.config.clone();
        let channel = self.channel.clone();
        let stop = self.stop.clone();
        std::thread::Builder::new()
            .name("jingwu-pg-listen".into())
            .spawn(move || listen_loop(client, config, channel, stop, wake))
            .map_err(|e| DbError::Backend(format!("无法启动通知监听线程：{e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    // `ApiError` is what `HubDb::push` closures return.
    #![allow(clippy::result_large_err)]

    use std::collections::BTreeSet;
    use std::sync::mpsc;

    use super::*;

    /// The test server; `JINGWU_TEST_PG` overrides it.
    fn base_url() -> String {
        std::env::var("JINGWU_TEST_PG")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into())
    }

    /// A fresh schema, dropped (with everything in it) at the end.
    struct Scratch {
        schema: String,
    }

    impl Scratch {
        fn new() -> Scratch {
            let mut b = [0u8; 6];
            getrandom::fill(&mut b).unwrap();
            Scratch {
                schema: format!("t_{}", hex::encode(b)),
            }
        }

        fn url(&self) -> String {
            format!("{}?schema={}", base_url(), self.schema)
        }

        fn open(&self) -> PgDb {
            PgDb::open(&self.url()).unwrap()
        }

        fn client(&self) -> Client {
            let mut c = Config::from_str(&base_url())
                .unwrap()
                .connect(NoTls)
                .unwrap();
            c.batch_execute(&format!("SET search_path TO {}", ident(&self.schema)))
                .unwrap();
            c
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let Ok(mut c) = Config::from_str(&base_url()).unwrap().connect(NoTls) {
                let _ = c.batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    ident(&self.schema)
                ));
            }
        }
    }

    struct Ev {
        id: Uuid,
        case_id: Uuid,
        seq: i64,
        bytes: Vec<u8>,
    }

    impl Ev {
        fn new(case_id: Uuid, seq: i64) -> Ev {
            let id = Uuid::now_v7();
            Ev {
                id,
                case_id,
                seq,
                bytes: format!("event {id}").into_bytes(),
            }
        }

        fn new_event(&self) -> NewEvent<'_> {
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

    /// Pushes one event of `case_id` visible to `persons`; its gseq.
    fn push_one(db: &PgDb, ev: &Ev, persons: &[&str]) -> i64 {
        let persons: Vec<String> = persons.iter().map(|p| p.to_string()).collect();
        let mut gseq = 0;
        db.push(&mut |tx| {
            gseq = tx.insert_event(&ev.new_event())?;
            tx.grant(&ev.case_id, &persons)?;
            Ok(())
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

    #[test]
    fn urls_and_schema_names() {
        let t = parse_url("postgres://root@127.0.0.1:5432/test?schema=a_1").unwrap();
        assert_eq!(t.schema, "a_1");
        assert!(t.explicit);
        assert_eq!(t.url, "postgres://root@127.0.0.1:5432/test");
        let t = parse_url("postgres://root@h/test?connect_timeout=5&schema=_x&sslmode=disable")
            .unwrap();
        assert_eq!(t.schema, "_x");
        assert_eq!(
            t.url,
            "postgres://root@h/test?connect_timeout=5&sslmode=disable"
        );
        let t = parse_url("postgres://root@h/test").unwrap();
        assert_eq!(t.schema, "public");
        assert!(!t.explicit);
        for bad in [
            "",
            "A",
            "1a",
            "a-b",
            "a;drop",
            "a\"b",
            "pg_x",
            &"a".repeat(64),
        ] {
            assert!(
                parse_url(&format!("postgres://root@h/test?schema={bad}")).is_err(),
                "{bad:?}"
            );
        }
        assert!(valid_schema(&"a".repeat(63)));
        assert!(parse_url("postgres://h/test?schema=a&schema=b").is_err());
        assert!(channel_name(&"a".repeat(63)).len() <= 63);
        assert_ne!(
            lock_key("jingwu-events", "a"),
            lock_key("jingwu-events", "b")
        );
    }

    #[test]
    fn migrations_are_idempotent() {
        let s = Scratch::new();
        let db = s.open();
        assert_eq!(db.schema(), s.schema);
        assert_eq!(db.backend(), "postgresql");
        db.meta_set("k", "v1").unwrap();
        drop(db);
        let db = s.open();
        assert_eq!(db.meta_get("k").unwrap().as_deref(), Some("v1"));
        db.meta_set("k", "v2").unwrap();
        assert_eq!(db.meta_get("k").unwrap().as_deref(), Some("v2"));
        assert_eq!(db.meta_get("nope").unwrap(), None);
        let mut c = s.client();
        let v: i64 = c
            .query_one("SELECT version FROM schema_version", &[])
            .unwrap()
            .get(0);
        assert_eq!(v, MIGRATIONS.len() as i64);
        let n: i64 = c
            .query_one("SELECT count(*) FROM schema_version", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
        // A newer database is refused.
        c.execute("UPDATE schema_version SET version = 99", &[])
            .unwrap();
        drop(db);
        match PgDb::open(&s.url()) {
            Err(DbError::TooNew {
                found: 99,
                supported,
            }) => {
                assert_eq!(supported, MIGRATIONS.len() as i64)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scoping_migration_backfills_attachments_of_cases() {
        let s = Scratch::new();
        // A database as the hub left it before attachments were scoped.
        let mut c = Config::from_str(&base_url())
            .unwrap()
            .connect(NoTls)
            .unwrap();
        c.batch_execute(&format!(
            "CREATE SCHEMA {0}; SET search_path TO {0};
             CREATE TABLE schema_version (
                one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL);
             INSERT INTO schema_version(version) VALUES(3);",
            ident(&s.schema)
        ))
        .unwrap();
        for sql in &MIGRATIONS[..3] {
            c.batch_execute(sql).unwrap();
        }
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
                 VALUES($1, $2, $3, $4, '\\x00', 'h', 'p1', $5, 't')",
                &[&Uuid::now_v7().to_string(), case_id, &(i as i64), &bytes, &kind],
            )
            .unwrap();
        }
        c.batch_execute(&format!(
            "INSERT INTO case_access(case_id, person) VALUES('{case}', 'p1');
             INSERT INTO attachments(sm3, mime, size, data, created_at)
                VALUES('{sm3}', 'image/png', 3, '\\x010203', 't');
             INSERT INTO uploads(sm3, size, mime, received) VALUES('cd', 5, 'image/png', 2);"
        ))
        .unwrap();
        drop(c);
        let db = s.open();
        assert!(db.attachment_in_scope("p1", &sm3).unwrap());
        assert!(!db.attachment_in_scope("p2", &sm3).unwrap());
        assert_eq!(
            db.attachment(&sm3).unwrap(),
            Some(("image/png".into(), vec![1, 2, 3]))
        );
        // The old unfinished upload had no owner: gone.
        assert_eq!(db.upload("p1", "cd").unwrap(), None);
        let mut c = s.client();
        let n: i64 = c
            .query_one("SELECT count(*) FROM case_attachments", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
    }

    #[test]
    fn concurrent_opens_migrate_once() {
        let s = Scratch::new();
        let url = s.url();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || PgDb::open(&url).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }

    #[test]
    fn users_sessions_enrolments() {
        let s = Scratch::new();
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
        assert_eq!(db.users().unwrap(), vec![u1, u]);

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

    #[test]
    fn push_commits_or_rolls_back() {
        let s = Scratch::new();
        let db = s.open();
        let case = Uuid::now_v7();
        let ev0 = Ev::new(case, 0);
        let state = case_state(case, "NO-1", "received", "2026-01-01T00:00:00Z");
        let mut gseq = 0;
        db.push(&mut |tx| {
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

        // An error rolls everything back and comes out unchanged.
        let ev1 = Ev::new(case, 1);
        let refused = ApiError::conflict("stale_head", "测试");
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
                Err(refused.clone())
            })
            .unwrap_err();
        assert_eq!(err, refused);
        assert_eq!(db.counts().unwrap(), (1, 1));
        assert!(!db.can_see("p3", &case).unwrap());
        assert_eq!(db.case_state(&case).unwrap(), Some(state.clone()));

        // A database error (duplicate seq) also rolls back.
        let dup = Ev::new(case, 0);
        let err = db
            .push(&mut |tx| {
                tx.grant(&case, &["p4".into()])?;
                tx.insert_event(&dup.new_event())?;
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.status.as_u16(), 500);
        assert!(!db.can_see("p4", &case).unwrap());
        // So does a failing deferred write (a duplicate case number).
        let case3 = Uuid::now_v7();
        let ev3 = Ev::new(case3, 0);
        let err = db
            .push(&mut |tx| {
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
        assert_eq!(err.status.as_u16(), 500);
        assert_eq!(db.case_state(&case3).unwrap(), None);
        assert!(!db.can_see("p1", &case3).unwrap());
        // The pooled connection is still usable afterwards.
        for _ in 0..20 {
            assert_eq!(db.counts().unwrap(), (1, 1));
        }

        // Update of the projection, and visible_cases.
        let ev1b = Ev::new(case, 1);
        let later = case_state(case, "NO-1", "archived", "2026-01-02T00:00:00Z");
        db.push(&mut |tx| {
            tx.insert_event(&ev1b.new_event())?;
            tx.put_case(&later)?;
            Ok(())
        })
        .unwrap();
        assert_eq!(db.counts().unwrap(), (2, 1));
        assert_eq!(db.case_state(&case).unwrap(), Some(later.clone()));
        let case2 = Uuid::now_v7();
        let other = case_state(case2, "NO-2", "archived", "2026-01-03T00:00:00Z");
        let ev2 = Ev::new(case2, 0);
        db.push(&mut |tx| {
            tx.insert_event(&ev2.new_event())?;
            tx.put_case(&other)?;
            tx.grant(&case2, &["p1".into()])?;
            Ok(())
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
    }

    #[test]
    fn events_after_respects_access_and_cursor() {
        let s = Scratch::new();
        let db = s.open();
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let a0 = Ev::new(a, 0);
        let b0 = Ev::new(b, 0);
        let a1 = Ev::new(a, 1);
        let g_a0 = push_one(&db, &a0, &["p1", "p2"]);
        let g_b0 = push_one(&db, &b0, &["p2"]);
        let g_a1 = push_one(&db, &a1, &[]);
        assert!(g_a0 < g_b0 && g_b0 < g_a1);

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
                (g_a1, p12)
            ]
        );
        assert_eq!(db.feed_after(g_b0, 1).unwrap()[0].0.id, a1.id);
        assert!(db.feed_after(g_a1, 100).unwrap().is_empty());
        assert_eq!(db.max_gseq().unwrap(), g_a1);
    }

    #[test]
    fn uploads() {
        let s = Scratch::new();
        let db = s.open();
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
        db.push(&mut |tx| {
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

    #[test]
    fn listen_wakes_on_a_push_from_another_process() {
        let s = Scratch::new();
        let listener = s.open();
        let writer = s.open();
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        listener
            .listen(Box::new(move || {
                let _ = tx.lock().unwrap().send(());
            }))
            .unwrap();
        // Another schema's commits do not wake it.
        let other = Scratch::new();
        let odb = other.open();
        push_one(&odb, &Ev::new(Uuid::now_v7(), 0), &["p1"]);
        assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
        // A push that writes nothing is not announced either.
        writer.push(&mut |_| Ok(())).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
        push_one(&writer, &Ev::new(Uuid::now_v7(), 0), &["p1"]);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("no wake-up within 5 s");
        push_one(&writer, &Ev::new(Uuid::now_v7(), 0), &["p1"]);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("no second wake-up within 5 s");
    }

    #[test]
    fn listen_reconnects_and_wakes() {
        let s = Scratch::new();
        let db = s.open();
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        db.listen(Box::new(move || {
            let _ = tx.lock().unwrap().send(());
        }))
        .unwrap();
        // Kill the listener's connection.
        let mut c = s.client();
        let channel = db.channel.clone();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE query = $1) t",
                    &[&format!("LISTEN {}", ident(&channel))],
                )
                .unwrap()
                .get(0);
            if n > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "listener connection not found");
            std::thread::sleep(Duration::from_millis(50));
        }
        // After reconnecting it wakes (events may have been missed)…
        rx.recv_timeout(Duration::from_secs(10))
            .expect("no wake-up after reconnecting");
        // …and listens again.
        push_one(&db, &Ev::new(Uuid::now_v7(), 0), &["p1"]);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("no wake-up after reconnect");
    }

    #[test]
    fn concurrent_pushes_are_ordered_without_gaps() {
        const THREADS: usize = 8;
        const PUSHES: usize = 25;
        const PER_PUSH: usize = 4;
        let s = Scratch::new();
        let db = Arc::new(s.open());
        let done = Arc::new(AtomicBool::new(false));

        // A reader that follows the feed with a cursor, as the live
        // channel does: it must never skip an event committed later with
        // a smaller gseq.
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
                        db.push(&mut |tx| {
                            for e in &evs {
                                mine.push(tx.insert_event(&e.new_event())?);
                            }
                            tx.grant(&case, &["p1".into()])?;
                            Ok(())
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

    #[test]
    fn backup_and_restore() {
        let s = Scratch::new();
        let db = s.open();
        let case = Uuid::now_v7();
        push_one(&db, &Ev::new(case, 0), &["p1"]);
        db.meta_set("k", "before").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("hub.dump");
        db.backup(&dest).unwrap();
        assert!(dest.is_file());
        assert!(db.backup(&dest).is_err(), "overwrote a backup");

        push_one(&db, &Ev::new(case, 1), &["p1"]);
        db.meta_set("k", "after").unwrap();
        assert_eq!(db.counts().unwrap().0, 2);
        drop(db);

        PgDb::restore(&s.url(), &dest).unwrap();
        let db = s.open();
        assert_eq!(db.counts().unwrap().0, 1);
        assert_eq!(db.meta_get("k").unwrap().as_deref(), Some("before"));
        assert!(db.can_see("p1", &case).unwrap());
        // The sequence was restored too: new events continue after it.
        let g = push_one(&db, &Ev::new(case, 1), &["p1"]);
        assert!(g > 1);

        // A backup cannot be restored over another schema.
        let other = Scratch::new();
        drop(other.open());
        let err = PgDb::restore(&other.url(), &dest).unwrap_err();
        assert!(err.to_string().contains("没有模式"), "{err}");
        assert!(PgDb::restore(&s.url(), &dir.path().join("missing")).is_err());
    }

    /// The default schema (`public`), in a scratch database of its own
    /// (skipped when the test role may not create databases).
    #[test]
    fn public_schema_backup_and_restore() {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let name = format!("t_{}", hex::encode(b));
        let mut admin = Config::from_str(&base_url())
            .unwrap()
            .connect(NoTls)
            .unwrap();
        if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {}", ident(&name))) {
            eprintln!("skipped: cannot create a database: {e}");
            return;
        }
        let url = {
            let t = parse_url(&base_url()).unwrap();
            match t.url.rsplit_once('/') {
                Some((host, _)) => format!("{host}/{name}"),
                None => panic!("{}", t.url),
            }
        };
        let result = std::panic::catch_unwind(|| {
            let db = PgDb::open(&url).unwrap();
            assert_eq!(db.schema(), "public");
            let case = Uuid::now_v7();
            push_one(&db, &Ev::new(case, 0), &["p1"]);
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("hub.dump");
            db.backup(&dest).unwrap();
            push_one(&db, &Ev::new(case, 1), &["p1"]);
            drop(db);
            PgDb::restore(&url, &dest).unwrap();
            let db = PgDb::open(&url).unwrap();
            assert_eq!(db.counts().unwrap(), (1, 0));
            assert_eq!(db.events_after("p1", 0, 10).unwrap().len(), 1);
        });
        let _ = admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(&name)
        ));
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
}
