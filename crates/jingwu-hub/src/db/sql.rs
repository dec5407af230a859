//! The statement layer both backends share: SQL text written once (with
//! PostgreSQL's `$1` placeholders), parameters and rows as small enums,
//! and a [`Conn`] trait that runs them on rusqlite or on the sync
//! `postgres` client. Every query of the hub is written once over it (see
//! `store.rs`); a backend only says how to connect, lock and listen.

use std::borrow::Cow;

use super::{DbError, DbResult};

/// A statement parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param<'a> {
    Null,
    I64(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
    Bool(bool),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::I64(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Param::Bytes(v)
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Param::Null, Param::Text)
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Param::Null, Param::Text)
    }
}

/// Parameters of a statement: `args![a, b]`.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::db::sql::Param::from($v)),*][..] };
}
pub(crate) use args;

/// A column value read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    I64(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// A result row. The getters move the value out (a blob is not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

fn wrong(i: usize, want: &str, got: &Value) -> DbError {
    DbError::Corrupt(format!("第 {i} 列应为{want}，实为 {got:?}"))
}

impl Row {
    fn take(&mut self, i: usize) -> DbResult<Value> {
        match self.0.get_mut(i) {
            Some(v) => Ok(std::mem::replace(v, Value::Null)),
            None => Err(DbError::Corrupt(format!("结果中没有第 {i} 列"))),
        }
    }

    pub fn i64(&mut self, i: usize) -> DbResult<i64> {
        match self.take(i)? {
            Value::I64(v) => Ok(v),
            v => Err(wrong(i, "整数", &v)),
        }
    }

    pub fn text(&mut self, i: usize) -> DbResult<String> {
        match self.take(i)? {
            Value::Text(v) => Ok(v),
            v => Err(wrong(i, "文本", &v)),
        }
    }

    pub fn opt_text(&mut self, i: usize) -> DbResult<Option<String>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            v => Err(wrong(i, "文本", &v)),
        }
    }

    pub fn bytes(&mut self, i: usize) -> DbResult<Vec<u8>> {
        match self.take(i)? {
            Value::Bytes(v) => Ok(v),
            v => Err(wrong(i, "二进制", &v)),
        }
    }

    pub fn opt_bytes(&mut self, i: usize) -> DbResult<Option<Vec<u8>>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Bytes(v) => Ok(Some(v)),
            v => Err(wrong(i, "二进制", &v)),
        }
    }

    /// A boolean: PostgreSQL's `boolean`, or SQLite's 0/1.
    pub fn bool(&mut self, i: usize) -> DbResult<bool> {
        match self.take(i)? {
            Value::Bool(v) => Ok(v),
            Value::I64(v) => Ok(v != 0),
            v => Err(wrong(i, "布尔值", &v)),
        }
    }
}

/// The SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The words that differ between the dialects, as `{name}` in the SQL
/// text: DDL types and table options, and PostgreSQL's row-locking
/// clause (SQLite has one writer and no row locks).
const WORDS: &[(&str, &str, &str)] = &[
    // (name, SQLite, PostgreSQL)
    ("int", "INTEGER", "bigint"),
    ("bool", "INTEGER", "boolean"),
    ("false", "0", "false"),
    ("bytes", "BLOB", "bytea"),
    (
        "gseq",
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "BIGSERIAL PRIMARY KEY",
    ),
    ("c", "", " COLLATE \"C\""),
    ("strict", " STRICT", ""),
    ("strict_norowid", " STRICT, WITHOUT ROWID", ""),
    ("skip_locked", "", " FOR UPDATE SKIP LOCKED"),
];

/// Rewrites SQL written for PostgreSQL with `{word}`s into `dialect`:
/// for SQLite `$n` becomes `?n`; each `{word}` becomes that dialect's
/// text. Quoted strings and identifiers are left alone.
pub fn rewrite(sql: &str, dialect: Dialect) -> Cow<'_, str> {
    if !sql.contains(['$', '{']) {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$'
                && dialect == Dialect::Sqlite
                && rest.starts_with(|d: char| d.is_ascii_digit()) =>
            {
                out.push('?');
            }
            None if c == '{' => {
                let word = rest.split_once('}').and_then(|(name, after)| {
                    WORDS.iter().find(|w| w.0 == name).map(|w| (w, after))
                });
                match word {
                    Some((w, after)) => {
                        out.push_str(match dialect {
                            Dialect::Sqlite => w.1,
                            Dialect::Postgres => w.2,
                        });
                        rest = after;
                    }
                    None => out.push(c),
                }
            }
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A connection (or a transaction on one) that runs statements written
/// once for both databases. `sql` uses `$1`… placeholders and `{word}`s
/// (see [`rewrite`]).
pub trait Conn {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<u64>;
    /// Runs a query; every row.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Vec<Row>>;
    /// Runs a script of statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> DbResult<()>;
    /// Serialises writers that take the same (`purpose`, `key`) until the
    /// end of the transaction (PostgreSQL: a transaction-scoped advisory
    /// lock; SQLite has one writer, so nothing to do).
    fn lock(&mut self, purpose: &str, key: &str) -> DbResult<()>;

    /// Runs a query planned for these parameters at every call: on
    /// PostgreSQL it is not kept prepared, so it never gets a generic plan
    /// (one made without the values, which after five runs PostgreSQL may
    /// keep even when it is far worse, e.g. a range whose width it cannot
    /// see). For the few queries whose best plan depends on the values.
    fn query_planned(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Vec<Row>> {
        self.query(sql, params)
    }

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The only row.
    fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError::Backend("查询没有返回结果".into()))
    }

    /// Whether the query returns a row.
    fn exists(&mut self, sql: &str, params: &[Param<'_>]) -> DbResult<bool> {
        Ok(self.query_opt(sql, params)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn placeholders_and_words_are_rewritten_for_sqlite_only() {
        let sql =
            "SELECT a FROM t WHERE b=$1 AND c<>$12 AND d='$1 {int}' AND \"$2\"=$3{skip_locked}";
        assert_eq!(
            rewrite(sql, Dialect::Sqlite),
            "SELECT a FROM t WHERE b=?1 AND c<>?12 AND d='$1 {int}' AND \"$2\"=?3"
        );
        assert_eq!(
            rewrite(sql, Dialect::Postgres),
            "SELECT a FROM t WHERE b=$1 AND c<>$12 AND d='$1 {int}' AND \"$2\"=$3 FOR UPDATE SKIP LOCKED"
        );
        assert_eq!(
            rewrite(
                "CREATE TABLE t (a {int}, b {bytes}{c}, x {nope}){strict};",
                Dialect::Sqlite
            ),
            "CREATE TABLE t (a INTEGER, b BLOB, x {nope}) STRICT;"
        );
        assert_eq!(
            rewrite(
                "CREATE TABLE t (a {int}, b {bytes}{c}){strict};",
                Dialect::Postgres
            ),
            "CREATE TABLE t (a bigint, b bytea COLLATE \"C\");"
        );
        assert!(matches!(
            rewrite("SELECT 1", Dialect::Sqlite),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            rewrite("SELECT '中文' || $1", Dialect::Sqlite),
            "SELECT '中文' || ?1"
        );
        assert_eq!(rewrite("a $ b $x", Dialect::Sqlite), "a $ b $x");
    }

    #[test]
    fn rows_move_typed_values_out() {
        let mut r = Row(vec![
            Value::I64(1),
            Value::Text("t".into()),
            Value::Null,
            Value::Bytes(vec![1]),
            Value::Bool(true),
            Value::I64(0),
        ]);
        assert_eq!(r.i64(0).unwrap(), 1);
        assert_eq!(r.text(1).unwrap(), "t");
        assert_eq!(r.opt_text(2).unwrap(), None);
        assert_eq!(r.opt_bytes(3).unwrap(), Some(vec![1]));
        assert!(r.bool(4).unwrap());
        assert!(!r.bool(5).unwrap());
        assert!(r.text(0).is_err());
        assert!(r.i64(9).is_err());
    }
}
