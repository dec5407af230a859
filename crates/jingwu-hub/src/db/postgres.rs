//! PostgreSQL backend (sync `postgres` client, `r2d2` pool). Several hub
//! processes may share one database: writers of events are serialised by
//! a transaction-scoped advisory lock, so `gseq` grows in commit order
//! across processes, and every commit that wrote something sends a
//! `NOTIFY` that the listener (`HubDb::listen`) turns into a wake-up of
//! the live channel. Every call runs through [`off_runtime`]: the blocking
//! client must not run on an async worker.
//!
//! A URL may name a schema (`postgres://…/db?schema=name`): the hub's
//! tables then live in that schema (created on first use) and every pooled
//! connection sets its `search_path` to it, so several hubs (or tests) can
//! share one database without seeing each other. Without it the tables
//! live in `public`. The schema version is in its `schema_version` table.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{private::BytesMut, to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use sha2::{Digest, Sha256};

use super::sql::{rewrite, Conn, Dialect, Param, Row, Value};
use super::store::{self, Backend, Store};
use super::{off_runtime, DbError, DbResult, PushAbort};

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

/// Prepared statements of one connection, by SQL text as written.
type Stmts = HashMap<String, Statement>;

/// A pooled connection with its prepared statements (the sync client has
/// no statement cache, and preparing on every call doubles the round
/// trips of a push).
pub struct PgConn {
    client: Client,
    stmts: Stmts,
}

/// The pool's connection manager: [`PostgresConnectionManager`] plus the
/// `search_path` of the hub's schema on every new connection, and no JIT:
/// the hub's queries run in milliseconds, and compiling one with LLVM
/// (PostgreSQL's default above a plan cost a million-row statistic
/// reaches) costs more than running it.
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
        client.batch_execute(&format!(
            "SET search_path TO {}; SET jit = off",
            ident(&self.schema)
        ))?;
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
pub type PgDb = Store<PgBackend>;

/// A pool of connections to one schema of a PostgreSQL database.
pub struct PgBackend {
    /// `None` only while dropping (off the async runtime).
    pool: Option<r2d2::Pool<PgManager>>,
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

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Closing the connections blocks on the client's runtime.
        let pool = self.pool.take();
        off_runtime(move || drop(pool));
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

/// The table of the schema version (the number of steps applied).
pub(crate) const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
        one     boolean PRIMARY KEY DEFAULT true CHECK (one),
        version bigint NOT NULL
     );
     INSERT INTO schema_version(version) VALUES(0) ON CONFLICT DO NOTHING;";
pub(crate) const GET_VERSION: &str = "SELECT version FROM schema_version";
pub(crate) const SET_VERSION: &str = "UPDATE schema_version SET version=$1";
const ADVISORY_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";

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
    c.batch_execute(&format!("SET search_path TO {}", ident(&t.schema)))
        .map_err(db)?;
    c.batch_execute(VERSION_TABLE).map_err(db)?;
    let found: i64 = c
        .query_one(GET_VERSION, &[])
        .and_then(|r| r.try_get(0))
        .map_err(db)?;
    let schema = t.schema.as_str();
    store::migrate(found, |version, apply| {
        let mut tx = c.transaction().map_err(db)?;
        let mut stmts = Stmts::new();
        apply(&mut Pg {
            link: Link::Tx(&mut tx),
            stmts: &mut stmts,
            schema,
        })?;
        tx.execute(SET_VERSION, &[&version]).map_err(db)?;
        tx.commit().map_err(db)?;
        tracing::info!(schema, version, "数据库已迁移");
        Ok(())
    })?;
    // Step 11's indexes are left out when the account could not create
    // pg_trgm; an administrator may have created it since (a store that
    // has just taken the step has just tried).
    if found >= store::MIGRATIONS.len() as i64 {
        retry_trigram_indexes(c, schema)?;
    }
    Ok(())
}

fn retry_trigram_indexes(c: &mut Client, schema: &str) -> DbResult<()> {
    let mut tx = c.transaction().map_err(db)?;
    let mut stmts = Stmts::new();
    let mut conn = Pg {
        link: Link::Tx(&mut tx),
        stmts: &mut stmts,
        schema,
    };
    if super::incidents::trigram_indexes_missing(&mut conn)? {
        super::incidents::trigram_indexes(&mut conn)?;
    }
    tx.commit().map_err(db)
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        fn check<T: ToSql>(ty: &Type) -> Result<(), Box<dyn std::error::Error + Sync + Send>> {
            if T::accepts(ty) {
                Ok(())
            } else {
                Err(format!("参数类型与列类型 {ty} 不符").into())
            }
        }
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::I64(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Param::I64(v) if *ty == Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
            Param::I64(v) => {
                check::<i64>(ty)?;
                v.to_sql(ty, out)
            }
            Param::Text(v) => {
                check::<&str>(ty)?;
                v.to_sql(ty, out)
            }
            Param::Bytes(v) => {
                check::<&[u8]>(ty)?;
                v.to_sql(ty, out)
            }
            Param::Bool(v) => {
                check::<bool>(ty)?;
                v.to_sql(ty, out)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A result row as [`Row`], by the columns' types.
fn pg_row(r: &postgres::Row) -> DbResult<Row> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::I64))
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|v| Value::I64(v.into())))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|v| Value::I64(v.into())))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i).map(|v| v.map(Value::Bool))
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Value::Bytes))
        } else if <String as postgres::types::FromSql>::accepts(ty) {
            r.try_get::<_, Option<String>>(i)
                .map(|v| v.map(Value::Text))
        } else {
            return Err(DbError::Backend(format!(
                "不支持的列类型 {ty}（第 {i} 列）"
            )));
        };
        out.push(v.map_err(db)?.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

/// Where a statement runs: a connection in autocommit, or a transaction.
enum Link<'a, 't> {
    Client(&'a mut Client),
    Tx(&'a mut Transaction<'t>),
}

/// A PostgreSQL connection (or transaction) as a [`Conn`].
pub struct Pg<'a, 't> {
    link: Link<'a, 't>,
    stmts: &'a mut Stmts,
    schema: &'a str,
}

impl<'a> Pg<'a, '_> {
    /// A plain client as a [`Conn`] (tests).
    #[cfg(test)]
    pub(crate) fn client(
        client: &'a mut Client,
        stmts: &'a mut HashMap<String, Statement>,
        schema: &'a str,
    ) -> Self {
        Pg {
            link: Link::Client(client),
            stmts,
            schema,
        }
    }

    /// The prepared statement for `sql` on this connection.
    fn prepared(&mut self, sql: &str) -> DbResult<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let text = rewrite(sql, Dialect::Postgres);
        let s = match &mut self.link {
            Link::Client(c) => c.prepare(&text),
            Link::Tx(t) => t.prepare(&text),
        }
        .map_err(db)?;
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn refs<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Conn for Pg<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<u64> {
        let s = self.prepared(sql)?;
        let p = refs(params);
        match &mut self.link {
            Link::Client(c) => c.execute(&s, &p),
            Link::Tx(t) => t.execute(&s, &p),
        }
        .map_err(db)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Vec<Row>> {
        let s = self.prepared(sql)?;
        let p = refs(params);
        let rows = match &mut self.link {
            Link::Client(c) => c.query(&s, &p),
            Link::Tx(t) => t.query(&s, &p),
        }
        .map_err(db)?;
        rows.iter().map(pg_row).collect()
    }

    fn query_planned(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Vec<Row>> {
        // Text, not a kept statement: the client prepares it unnamed for
        // this call, and the server plans it with the values.
        let text = rewrite(sql, Dialect::Postgres);
        let p = refs(params);
        let rows = match &mut self.link {
            Link::Client(c) => c.query(text.as_ref(), &p),
            Link::Tx(t) => t.query(text.as_ref(), &p),
        }
        .map_err(db)?;
        rows.iter().map(pg_row).collect()
    }

    fn batch(&mut self, sql: &str) -> DbResult<()> {
        let text = rewrite(sql, Dialect::Postgres);
        match &mut self.link {
            Link::Client(c) => c.batch_execute(&text),
            Link::Tx(t) => t.batch_execute(&text),
        }
        .map_err(db)
    }

    fn lock(&mut self, purpose: &str, key: &str) -> DbResult<()> {
        let k = lock_key(purpose, &format!("{}:{key}", self.schema));
        self.execute(ADVISORY_LOCK, &[Param::I64(k)])?;
        Ok(())
    }
}

/// Ends a transaction that failed; a failed rollback is only logged
/// (closing the connection rolls back anyway).
fn rollback(tx: Transaction<'_>) {
    if let Err(e) = tx.rollback() {
        tracing::warn!(error = %db(e), "回滚失败");
    }
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

impl Store<PgBackend> {
    /// Connects to (and migrates) the database named by `url`, e.g.
    /// `postgres://hub@127.0.0.1:5432/jingwu?schema=county1`.
    pub fn open(url: &str) -> DbResult<PgDb> {
        off_runtime(|| {
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
            Ok(Store::new(PgBackend {
                pool: Some(pool),
                config: t.config,
                url: t.url,
                channel: channel_name(&t.schema),
                lock_key: lock_key("jingwu-events", &t.schema),
                schema: t.schema,
                stop: Arc::new(AtomicBool::new(false)),
            }))
        })
    }

    /// The schema holding the hub's tables (`public` by default).
    pub fn schema(&self) -> &str {
        &self.b.schema
    }

    /// Restores a `pg_dump` archive made by `HubDb::backup` into the
    /// database (and schema) named by `url`, replacing the objects it
    /// contains, then migrates. The hub must not be running on it. The
    /// archive must be of the same schema: `pg_restore` cannot rename one.
    pub fn restore(url: &str, backup: &Path) -> DbResult<()> {
        off_runtime(|| restore(url, backup))
    }
}

fn restore(url: &str, backup: &Path) -> DbResult<()> {
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
    let mut c = t.config.connect(NoTls).map_err(db)?;
    if t.explicit {
        c.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&t.schema)))
            .map_err(db)?;
    }
    // The archive's trigram indexes (schema step 11) name pg_trgm's
    // operator class, which a database without the extension lacks.
    let has_trgm = c
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')",
            &[],
        )
        .and_then(|r| r.try_get::<_, bool>(0))
        .map_err(db)?;
    if !has_trgm {
        if let Err(e) = c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public") {
            tracing::warn!(error = %db(e), "未能创建 pg_trgm 扩展；备份中若有三元组索引，恢复会失败，请数据库管理员先执行 CREATE EXTENSION pg_trgm SCHEMA public");
        }
    }
    drop(c);
    // Everything but the `public` schema itself (in the archive of a hub
    // there): `--clean` would drop it, and the extensions in it (pg_trgm)
    // forbid that. Its contents are restored as any schema's.
    let toc: String = list
        .lines()
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            !w.windows(3)
                .any(|x| x[0] == "SCHEMA" && x[1] == "-" && x[2] == "public")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let toc_path =
        std::env::temp_dir().join(format!("jingwu-restore-{}.list", uuid::Uuid::now_v7()));
    jingwu_store::private_fs::create_new(&toc_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, toc.as_bytes()))
        .map_err(|e| {
            DbError::Backend(format!(
                "无法写入恢复清单 {}：{e}（请检查临时目录）",
                toc_path.display()
            ))
        })?;
    let out = run_tool(
        "pg_restore",
        Command::new(&pg_restore)
            .arg("--clean")
            .arg("--if-exists")
            .arg("--no-owner")
            .arg("--single-transaction")
            .arg(arg("--use-list=", &toc_path))
            .arg(arg("--dbname=", &t.url))
            .arg(backup),
    );
    let _ = std::fs::remove_file(&toc_path);
    out?;
    migrate(&t)
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

impl PgBackend {
    fn conn(&self) -> DbResult<r2d2::PooledConnection<PgManager>> {
        match &self.pool {
            Some(p) => p.get().map_err(pool_err),
            None => Err(DbError::Backend("数据库连接已关闭".into())),
        }
    }

    /// Runs `f` on a pooled connection (autocommit).
    fn autocommit<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        off_runtime(|| {
            let mut conn = self.conn()?;
            let PgConn { client, stmts } = &mut *conn;
            f(&mut Pg {
                link: Link::Client(client),
                stmts,
                schema: &self.schema,
            })
        })
    }

    /// Runs `f` in a transaction on a pooled connection, first taking
    /// the event writers' lock when `events`; commits when it returns
    /// `Ok` (announcing it when `f` says it wrote events).
    fn in_transaction<T, E: From<DbError>>(
        &self,
        events: bool,
        f: impl FnOnce(&mut dyn Conn) -> Result<(T, bool), E>,
    ) -> Result<T, E> {
        off_runtime(|| {
            let mut conn = self.conn()?;
            let PgConn { client, stmts } = &mut *conn;
            let mut tx = client.transaction().map_err(db)?;
            let out = {
                let mut c = Pg {
                    link: Link::Tx(&mut tx),
                    stmts,
                    schema: &self.schema,
                };
                (|| {
                    if events {
                        // Serialise writers: gseq values are drawn, and
                        // become visible, in lock order, so a reader at
                        // gseq n has seen all below it.
                        c.execute(ADVISORY_LOCK, &[Param::I64(self.lock_key)])?;
                    }
                    let (out, wrote) = f(&mut c)?;
                    if wrote {
                        c.execute("SELECT pg_notify($1, '')", &[Param::Text(&self.channel)])?;
                    }
                    Ok(out)
                })()
            };
            match out {
                Ok(v) => {
                    tx.commit().map_err(db)?;
                    Ok(v)
                }
                Err(e) => {
                    rollback(tx);
                    Err(e)
                }
            }
        })
    }
}

impl Backend for PgBackend {
    const NAME: &'static str = "postgresql";

    fn read<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.autocommit(f)
    }

    fn write<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.autocommit(f)
    }

    fn transaction<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.in_transaction(false, |c| Ok::<_, DbError>((f(c)?, false)))
    }

    fn push_transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn Conn) -> Result<bool, PushAbort>,
    ) -> Result<(), PushAbort> {
        self.in_transaction(true, |c| Ok(((), f(c)?)))
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
        let client = off_runtime(|| listen_connect(&self.config, &self.channel)).map_err(db)?;
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
    //! What only PostgreSQL has: schemas in URLs, several processes on one
    //! database, LISTEN/NOTIFY, pg_dump/pg_restore. The rest of the
    //! storage suite runs on both backends (`db/tests.rs`).
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::mpsc;

    use super::super::tests::{base_url, push, push_one, Ev, PgScratch as Scratch};
    use super::super::HubDb;
    use super::*;
    use uuid::Uuid;

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
    fn the_schema_is_named_in_the_url() {
        let s = Scratch::new();
        let db = s.open();
        assert_eq!(db.schema(), s.schema);
        assert_eq!(db.backend(), "postgresql");
        let mut c = s.client();
        let n: i64 = c
            .query_one("SELECT count(*) FROM schema_version", &[])
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
        push(&writer, |_| Ok(())).unwrap();
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
        let channel = db.b.channel.clone();
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

    #[test]
    fn trigram_indexes_that_cannot_be_made_leave_the_transaction_usable() {
        // An empty schema: no `incidents` table to index, as a failure
        // to create pg_trgm would stop the step.
        let s = Scratch::new();
        let mut c = s.client();
        let mut stmts = HashMap::new();
        let mut conn = Pg::client(&mut c, &mut stmts, &s.schema);
        conn.batch("BEGIN; CREATE TABLE kept (x int)").unwrap();
        super::super::incidents::trigram_indexes(&mut conn).unwrap();
        assert!(super::super::incidents::trigram_indexes_missing(&mut conn).unwrap());
        conn.batch("INSERT INTO kept VALUES (1); COMMIT").unwrap();
        let mut r = conn.query_one("SELECT COUNT(*) FROM kept", &[]).unwrap();
        assert_eq!(r.i64(0).unwrap(), 1);
        // A store has them.
        let s = Scratch::new();
        drop(s.open());
        let mut c = s.client();
        let mut stmts = HashMap::new();
        let mut conn = Pg::client(&mut c, &mut stmts, &s.schema);
        assert!(!super::super::incidents::trigram_indexes_missing(&mut conn).unwrap());
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
