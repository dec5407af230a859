//! SQLite backend (rusqlite, WAL, `synchronous=FULL`). One writer
//! connection (SQLite serialises writers anyway, so every write
//! transaction is `BEGIN IMMEDIATE` on it and `gseq` grows in commit
//! order) and a small pool of readers, which WAL lets run beside the
//! writer. The schema version is SQLite's `user_version`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use super::sql::{rewrite, Conn, Dialect, Param, Row, Value};
use super::store::{self, Backend, Store};
use super::{DbError, DbResult, PushAbort};

const READERS: usize = 4;
/// The schema version (the number of steps applied).
pub(crate) const GET_VERSION: &str = "PRAGMA user_version";
/// Prepared statements kept per connection (the hub has about 60, and
/// the multi-row inserts of a push come in several sizes).
const STATEMENT_CACHE: usize = 256;

/// The SQLite hub database.
pub type SqliteDb = Store<SqliteBackend>;

/// Connections to one SQLite file.
pub struct SqliteBackend {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn db(e: rusqlite::Error) -> DbError {
    DbError::Backend(e.to_string())
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Param::I64(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(v)),
            Param::Bool(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(v.into())),
            Param::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Param::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

fn value(v: ValueRef<'_>) -> DbResult<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::I64(i),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec())
                .map_err(|e| DbError::Corrupt(format!("文本不是 UTF-8：{e}")))?,
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        ValueRef::Real(r) => return Err(DbError::Corrupt(format!("意外的浮点数 {r}"))),
    })
}

/// A rusqlite connection (or transaction) as a [`Conn`].
pub struct Lite<'a>(pub &'a Connection);

impl Conn for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<u64> {
        let mut st = self
            .0
            .prepare_cached(&rewrite(sql, Dialect::Sqlite))
            .map_err(db)?;
        let n = st
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(db)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Vec<Row>> {
        let mut st = self
            .0
            .prepare_cached(&rewrite(sql, Dialect::Sqlite))
            .map_err(db)?;
        let n = st.column_count();
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(db)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(value(r.get_ref(i).map_err(db)?)?);
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> DbResult<()> {
        self.0
            .execute_batch(&rewrite(sql, Dialect::Sqlite))
            .map_err(db)
    }

    fn lock(&mut self, _purpose: &str, _key: &str) -> DbResult<()> {
        // One writer connection: write transactions are serialised.
        Ok(())
    }
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
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    jingwu_store::private_fs::tighten_sqlite(path).map_err(file_err)?;
    Ok(conn)
}

/// Applies the missing schema steps; the version is `user_version`.
fn migrate(conn: &mut Connection) -> DbResult<()> {
    let found: i64 = conn.query_row(GET_VERSION, [], |r| r.get(0)).map_err(db)?;
    store::migrate(found, |version, apply| {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        apply(&mut Lite(&tx))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(db)?;
        tx.commit().map_err(db)
    })
}

impl Store<SqliteBackend> {
    /// Opens (creating and migrating) the database file.
    pub fn open(path: &Path) -> DbResult<SqliteDb> {
        let mut writer = connect(path)?;
        migrate(&mut writer)?;
        let mut readers = Vec::new();
        for _ in 0..READERS {
            readers.push(connect(path)?);
        }
        Ok(Store::new(SqliteBackend {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(readers),
        }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.b.path
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
}

impl SqliteBackend {
    fn reader<T>(&self, f: impl FnOnce(&Connection) -> DbResult<T>) -> DbResult<T> {
        let conn = {
            // A list of idle connections: usable after a panic elsewhere.
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let out = f(&conn);
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

    /// Whether a panic left the writer's lock poisoned (tests).
    #[cfg(test)]
    pub(crate) fn writer_poisoned(&self) -> bool {
        self.writer.is_poisoned()
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer.
    fn immediate<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let out = f(&mut Lite(&tx))?;
        tx.commit().map_err(db)?;
        Ok(out)
    }
}

impl Backend for SqliteBackend {
    const NAME: &'static str = "sqlite";

    fn read<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.reader(|c| f(&mut Lite(c)))
    }

    fn write<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.immediate(f)
    }

    fn transaction<T>(&self, f: impl FnOnce(&mut dyn Conn) -> DbResult<T>) -> DbResult<T> {
        self.immediate(f)
    }

    fn push_transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn Conn) -> Result<bool, PushAbort>,
    ) -> Result<(), PushAbort> {
        // One hub process per file: nobody else to wake.
        self.immediate(|c| f(c).map(|_wrote| ()))
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
        let copied = self.reader(|c| {
            c.backup(
                rusqlite::MAIN_DB,
                dest,
                None::<fn(rusqlite::backup::Progress)>,
            )
            .map_err(db)
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
        // One hub process per file: nothing to listen for.
        Ok(())
    }
}
