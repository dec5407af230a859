//! The typed 110 table that statistics read, written once for both
//! backends: one `incidents` row per record and one `incident_dispatches`
//! row per measured dispatch, both [`IncidentFacts`] of the record's
//! latest state, written by the push transaction that writes the state
//! (so figures are never behind the events), and the queries over them.
//!
//! What a figure means is the core's (`jingwu_core::stats`); this file
//! only turns [`Conditions`] into `WHERE` clauses and adds up.

use std::collections::{BTreeMap, HashMap};

use jingwu_core::case::CaseState;
use jingwu_core::stats::{
    Conditions, Dim, IncidentFacts, Measures, PeriodKind, SpeedKind, SpeedRows,
};
use jingwu_proto::{IncidentRow, SortBy};

use super::sql::{Conn, Dialect, Param, Row};
use super::{DbError, DbResult};

/// Schema step 7.
pub const MIGRATION: &str = "CREATE TABLE incidents (
        case_id       TEXT PRIMARY KEY,
        case_no       TEXT{c} NOT NULL,
        report_at     {int} NOT NULL,
        day           TEXT{c} NOT NULL,
        week          TEXT{c} NOT NULL,
        month         TEXT{c} NOT NULL,
        quarter       TEXT{c} NOT NULL,
        year          TEXT{c} NOT NULL,
        unit          TEXT{c} NOT NULL,
        registered_by TEXT{c} NOT NULL,
        category      TEXT{c} NOT NULL,
        category1     TEXT{c} NOT NULL,
        township      TEXT{c} NOT NULL,
        method        TEXT{c} NOT NULL,
        level         TEXT{c} NOT NULL,
        result        TEXT{c} NOT NULL,
        status        TEXT{c} NOT NULL,
        valid         {int} NOT NULL,
        injured       {int} NOT NULL,
        dead          {int} NOT NULL,
        loss_fen      {int} NOT NULL,
        summary       TEXT NOT NULL,
        location      TEXT NOT NULL,
        imported      {int} NOT NULL
     ){strict};
     CREATE INDEX incidents_time ON incidents(report_at);
     CREATE INDEX incidents_unit_time ON incidents(unit, report_at);
     CREATE INDEX incidents_month ON incidents(month, unit, category1, township);
     CREATE INDEX incidents_status ON incidents(status, report_at);
     CREATE TABLE incident_dispatches (
        case_id       TEXT NOT NULL,
        no            TEXT NOT NULL,
        unit          TEXT{c} NOT NULL,
        report_at     {int} NOT NULL,
        dispatched_at {int} NOT NULL,
        ack_secs      {int},
        depart_secs   {int},
        feedback_secs {int},
        PRIMARY KEY (case_id, no)
     ){strict};
     CREATE INDEX incident_dispatches_time ON incident_dispatches(report_at);
     CREATE TABLE saved_queries (
        person     TEXT{c} NOT NULL,
        name       TEXT{c} NOT NULL,
        filter     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (person, name)
     ){strict};";

/// Schema step 8: the rollups [`stats`] adds up instead of the records
/// when the conditions allow — per day and per month, by 管辖单位,
/// level-1 category, 乡镇 and 有效: the records' count and sums. [`write`]
/// keeps them in the transaction that writes the records' rows; this
/// step fills them from the rows already stored. `day_at` / `month_at`
/// are the Unix times of the day's / month's start in Asia/Shanghai (a
/// fixed +8: every day is 86,400 s).
pub const ROLLUPS: &str = "CREATE TABLE incident_days (
        day_at    {int} NOT NULL,
        day       TEXT{c} NOT NULL,
        week      TEXT{c} NOT NULL,
        month     TEXT{c} NOT NULL,
        quarter   TEXT{c} NOT NULL,
        year      TEXT{c} NOT NULL,
        unit      TEXT{c} NOT NULL,
        category1 TEXT{c} NOT NULL,
        township  TEXT{c} NOT NULL,
        valid     {int} NOT NULL,
        n         {int} NOT NULL,
        loss_fen  {int} NOT NULL,
        injured   {int} NOT NULL,
        dead      {int} NOT NULL,
        PRIMARY KEY (day_at, unit, category1, township, valid)
     ){strict_norowid};
     CREATE TABLE incident_months (
        month_at  {int} NOT NULL,
        month     TEXT{c} NOT NULL,
        quarter   TEXT{c} NOT NULL,
        year      TEXT{c} NOT NULL,
        unit      TEXT{c} NOT NULL,
        category1 TEXT{c} NOT NULL,
        township  TEXT{c} NOT NULL,
        valid     {int} NOT NULL,
        n         {int} NOT NULL,
        loss_fen  {int} NOT NULL,
        injured   {int} NOT NULL,
        dead      {int} NOT NULL,
        PRIMARY KEY (month_at, unit, category1, township, valid)
     ){strict_norowid};
     INSERT INTO incident_days(day_at, day, week, month, quarter, year, unit, category1,
        township, valid, n, loss_fen, injured, dead)
       SELECT report_at - ((report_at + 28800) % 86400 + 86400) % 86400, day, week, month,
         quarter, year, unit, category1, township, valid, COUNT(*), SUM(loss_fen),
         SUM(injured), SUM(dead)
       FROM incidents
       GROUP BY report_at - ((report_at + 28800) % 86400 + 86400) % 86400, day, week, month,
         quarter, year, unit, category1, township, valid;
     INSERT INTO incident_months(month_at, month, quarter, year, unit, category1, township,
        valid, n, loss_fen, injured, dead)
       SELECT MIN(day_at - (CAST(substr(day, 9, 2) AS {int}) - 1) * 86400), month, quarter,
         year, unit, category1, township, valid, SUM(n), SUM(loss_fen), SUM(injured), SUM(dead)
       FROM incident_days
       GROUP BY month, quarter, year, unit, category1, township, valid;";

/// The trigram indexes of the free-text condition (schema step 11).
const TRIGRAM_INDEXES: [&str; 2] = ["incidents_summary_trgm", "incidents_location_trgm"];

/// Schema step 11, PostgreSQL only: trigram indexes (`pg_trgm`, GIN) on
/// 报警内容 and 案发地点, which `LIKE '%词%'` (the query's free text, see
/// [`where_of`]) uses for a word of three characters or more. Without them
/// PostgreSQL read every record of the unit and period from the heap to
/// look for the word (3× DuckDB over a million records); with them it
/// reads only the records holding the word's trigrams. pg_trgm hashes
/// each trigram of non-ASCII letters, so Chinese words get trigrams too
/// (checked with `show_trgm` under C.UTF-8).
///
/// The extension is created in `public` (one per database; a hub schema
/// dropped with `CASCADE` must not take it, and the other schemas' indexes,
/// with it). pg_trgm is a trusted extension: an account with CREATE on the
/// database may create it. One that may not leaves the store as it was,
/// with a warning (the query then reads the rows as before); every start
/// tries again (`postgres::migrate`).
pub fn trigram_indexes(c: &mut dyn Conn) -> DbResult<()> {
    if c.dialect() != Dialect::Postgres {
        return Ok(());
    }
    c.batch("SAVEPOINT trigram_indexes")?;
    match create_trigram_indexes(c) {
        Ok(()) => c.batch("RELEASE SAVEPOINT trigram_indexes"),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "未能建立关键词检索的三元组索引（pg_trgm），关键词查询仍可用但较慢；\
                 请数据库管理员在本数据库执行 CREATE EXTENSION pg_trgm SCHEMA public，\
                 再重启中心，索引会自动建立"
            );
            c.batch("ROLLBACK TO SAVEPOINT trigram_indexes; RELEASE SAVEPOINT trigram_indexes")
        }
    }
}

/// Whether the store lacks a trigram index of step 11 (PostgreSQL; the
/// connection's search path is the hub's schema).
pub fn trigram_indexes_missing(c: &mut dyn Conn) -> DbResult<bool> {
    if c.dialect() != Dialect::Postgres {
        return Ok(false);
    }
    let mut r = c.query_one(
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()
           AND indexname IN ($1, $2)",
        &[
            Param::Text(TRIGRAM_INDEXES[0]),
            Param::Text(TRIGRAM_INDEXES[1]),
        ],
    )?;
    Ok(r.i64(0)? < TRIGRAM_INDEXES.len() as i64)
}

fn create_trigram_indexes(c: &mut dyn Conn) -> DbResult<()> {
    // Hubs of other schemas may create the extension at the same time.
    c.batch("SELECT pg_advisory_xact_lock(74706774726700)")?;
    let found = c.query_opt(
        "SELECT CAST(n.nspname AS TEXT) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_trgm'",
        &[],
    )?;
    let schema = match found {
        Some(mut r) => r.text(0)?,
        None => {
            c.batch("CREATE EXTENSION pg_trgm SCHEMA public")?;
            "public".to_string()
        }
    };
    let schema = schema.replace('"', "\"\"");
    for (name, col) in TRIGRAM_INDEXES.iter().zip(["summary", "location"]) {
        c.batch(&format!(
            "CREATE INDEX IF NOT EXISTS {name} ON incidents USING gin ({col} \"{schema}\".gin_trgm_ops)"
        ))?;
    }
    Ok(())
}

const COLS: usize = 24;

/// Rows per multi-row insert.
const CHUNK: usize = 40;

/// Step 7's data: the facts of every 110 record already stored.
pub fn backfill(c: &mut dyn Conn) -> DbResult<()> {
    let rows = c.query(
        "SELECT state_json FROM cases WHERE case_type = 'incident'",
        &[],
    )?;
    let mut facts = Vec::new();
    for mut r in rows {
        let st = super::parse_state(&r.text(0)?)?;
        if let Some(f) = IncidentFacts::of(&st) {
            facts.push((st.case_id.to_string(), f));
        }
    }
    write_rows(c, &facts.iter().collect::<Vec<_>>())
}

/// The facts of the incident records among `states` (others are
/// skipped), keyed by case id.
pub fn facts_of<'a>(
    states: impl IntoIterator<Item = &'a CaseState>,
) -> Vec<(String, IncidentFacts)> {
    states
        .into_iter()
        .filter_map(|s| IncidentFacts::of(s).map(|f| (s.case_id.to_string(), f)))
        .collect()
}

/// Writes (inserts or replaces) the rows of `facts` (the last of a case
/// given twice) and moves their figures in the rollups: each record's
/// stored row is taken out of them and its new one added, so they stay
/// the sums of the rows whatever changed (time, unit, category, 乡镇,
/// 有效, the sums).
pub fn write(c: &mut dyn Conn, facts: &[(String, IncidentFacts)]) -> DbResult<()> {
    if c.dialect() == Dialect::Postgres {
        // Every read and write here goes by a key. Without planner
        // statistics (a server without autovacuum, a bulk load just
        // written) PostgreSQL reads `case_id IN (…40 values)` as a fifth of
        // the table and scans a million rows per chunk; for the rest of
        // this transaction it takes the index.
        c.batch("SET LOCAL enable_seqscan = off")?;
    }
    let last: HashMap<&str, usize> = facts
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let facts: Vec<&(String, IncidentFacts)> = facts
        .iter()
        .enumerate()
        .filter(|(i, (id, _))| last.get(id.as_str()) == Some(i))
        .map(|(_, x)| x)
        .collect();
    let mut moves = Rollups::default();
    for chunk in facts.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let ids: Vec<Param<'_>> = chunk.iter().map(|(id, _)| Param::Text(id)).collect();
        // On PostgreSQL the rows stay locked until the commit, so a
        // concurrent writer of the same record reads what this one wrote.
        let lock = match c.dialect() {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "SELECT report_at, day, week, month, quarter, year, unit, category1, township,
               valid, loss_fen, injured, dead
             FROM incidents WHERE case_id IN ({}){lock}",
            marks.join(", ")
        );
        for mut r in c.query(&sql, &ids)? {
            let old = Rolled {
                report_at: r.i64(0)?,
                periods: [r.text(1)?, r.text(2)?, r.text(3)?, r.text(4)?, r.text(5)?],
                unit: r.text(6)?,
                category1: r.text(7)?,
                township: r.text(8)?,
                valid: r.i64(9)?,
                sums: Sums {
                    n: 1,
                    loss_fen: r.i64(10)?,
                    injured: r.i64(11)?,
                    dead: r.i64(12)?,
                },
            };
            moves.add(old, -1);
        }
    }
    for (_, f) in &facts {
        moves.add(Rolled::of(f), 1);
    }
    write_rows(c, &facts)?;
    moves.apply(c)
}

/// The start of the Asia/Shanghai day holding Unix time `t`.
fn day_at(t: i64) -> i64 {
    let offset = i64::from(jingwu_core::SHANGHAI.whole_seconds());
    t - (t + offset).rem_euclid(86_400)
}

/// The start of the Asia/Shanghai month holding Unix time `t`.
fn month_at(t: i64) -> i64 {
    let d = day_at(t);
    let dom = time::OffsetDateTime::from_unix_timestamp(d)
        .map(|x| x.to_offset(jingwu_core::SHANGHAI).day())
        .unwrap_or(1);
    d - (i64::from(dom) - 1) * 86_400
}

/// What one record adds to a rollup row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    n: i64,
    loss_fen: i64,
    injured: i64,
    dead: i64,
}

impl Sums {
    fn add(&mut self, o: &Sums, sign: i64) {
        self.n += sign * o.n;
        self.loss_fen += sign * o.loss_fen;
        self.injured += sign * o.injured;
        self.dead += sign * o.dead;
    }
}

/// A record as the rollups see it.
struct Rolled {
    report_at: i64,
    /// day, week, month, quarter, year.
    periods: [String; 5],
    unit: String,
    category1: String,
    township: String,
    valid: i64,
    sums: Sums,
}

impl Rolled {
    fn of(f: &IncidentFacts) -> Rolled {
        Rolled {
            report_at: f.report_at,
            periods: [
                f.day.clone(),
                f.week.clone(),
                f.month.clone(),
                f.quarter.clone(),
                f.year.clone(),
            ],
            unit: f.unit.clone(),
            category1: f.category1.clone(),
            township: f.township.clone(),
            valid: i64::from(f.valid),
            sums: Sums {
                n: 1,
                loss_fen: f.loss_fen,
                injured: f.injured,
                dead: f.dead,
            },
        }
    }
}

/// A rollup row's key: the day's (month's) start, unit, category1,
/// 乡镇, 有效.
type RollKey = (i64, String, String, String, i64);

/// Changes to the rollups, by row (ordered, so concurrent writers lock
/// rows in one order); each with its period keys (day … year, or month …
/// year).
#[derive(Default)]
struct Rollups {
    days: BTreeMap<RollKey, ([String; 5], Sums)>,
    months: BTreeMap<RollKey, ([String; 5], Sums)>,
}

impl Rollups {
    fn add(&mut self, r: Rolled, sign: i64) {
        let key = |at: i64| {
            (
                at,
                r.unit.clone(),
                r.category1.clone(),
                r.township.clone(),
                r.valid,
            )
        };
        self.days
            .entry(key(day_at(r.report_at)))
            .or_insert_with(|| (r.periods.clone(), Sums::default()))
            .1
            .add(&r.sums, sign);
        self.months
            .entry(key(month_at(r.report_at)))
            .or_insert_with(|| (r.periods.clone(), Sums::default()))
            .1
            .add(&r.sums, sign);
    }

    /// Adds the changes to the tables; rows left with no record go.
    fn apply(self, c: &mut dyn Conn) -> DbResult<()> {
        for (table, at, periods, rows) in [
            ("incident_days", "day_at", 0..5, self.days),
            ("incident_months", "month_at", 2..5, self.months),
        ] {
            let names = ["day", "week", "month", "quarter", "year"];
            let period_cols = names[periods.clone()].join(", ");
            let cols = 1 + periods.len() + 8;
            let changed: Vec<(&RollKey, &([String; 5], Sums))> = rows
                .iter()
                .filter(|(_, (_, s))| *s != Sums::default())
                .collect();
            for chunk in changed.chunks(CHUNK) {
                let sql = super::store::values_sql(
                    &format!(
                        "INSERT INTO {table}({at}, {period_cols}, unit, category1, township,
                           valid, n, loss_fen, injured, dead)"
                    ),
                    cols,
                    chunk.len(),
                    &format!(
                        "ON CONFLICT({at}, unit, category1, township, valid) DO UPDATE SET
                           n = {table}.n + excluded.n,
                           loss_fen = {table}.loss_fen + excluded.loss_fen,
                           injured = {table}.injured + excluded.injured,
                           dead = {table}.dead + excluded.dead"
                    ),
                );
                let mut p: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * cols);
                for ((t, unit, cat, town, valid), (keys, s)) in chunk {
                    p.push(Param::I64(*t));
                    p.extend(keys[periods.clone()].iter().map(|k| Param::Text(k)));
                    p.extend([
                        Param::Text(unit),
                        Param::Text(cat),
                        Param::Text(town),
                        Param::I64(*valid),
                        Param::I64(s.n),
                        Param::I64(s.loss_fen),
                        Param::I64(s.injured),
                        Param::I64(s.dead),
                    ]);
                }
                c.execute(&sql, &p)?;
            }
            let sql = format!(
                "DELETE FROM {table} WHERE {at} = $1 AND unit = $2 AND category1 = $3
                   AND township = $4 AND valid = $5 AND n = 0"
            );
            for ((t, unit, cat, town, valid), _) in changed.iter().filter(|(_, (_, s))| s.n < 0) {
                c.execute(
                    &sql,
                    &[
                        Param::I64(*t),
                        Param::Text(unit),
                        Param::Text(cat),
                        Param::Text(town),
                        Param::I64(*valid),
                    ],
                )?;
            }
        }
        Ok(())
    }
}

/// Writes (inserts or replaces) the rows of `facts` (each case once), as
/// schema step 7 did.
fn write_rows(c: &mut dyn Conn, facts: &[&(String, IncidentFacts)]) -> DbResult<()> {
    let pg = c.dialect() == Dialect::Postgres;
    for chunk in facts.chunks(CHUNK) {
        let sql = super::store::values_sql(
            "INSERT INTO incidents(case_id, case_no, report_at, day, week, month, quarter, year,
               unit, registered_by, category, category1, township, method, level, result, status,
               valid, injured, dead, loss_fen, summary, location, imported)",
            COLS,
            chunk.len(),
            "ON CONFLICT(case_id) DO UPDATE SET case_no=excluded.case_no,
               report_at=excluded.report_at, day=excluded.day, week=excluded.week,
               month=excluded.month, quarter=excluded.quarter, year=excluded.year,
               unit=excluded.unit, registered_by=excluded.registered_by,
               category=excluded.category, category1=excluded.category1,
               township=excluded.township, method=excluded.method, level=excluded.level,
               result=excluded.result, status=excluded.status, valid=excluded.valid,
               injured=excluded.injured, dead=excluded.dead, loss_fen=excluded.loss_fen,
               summary=excluded.summary, location=excluded.location,
               imported=excluded.imported",
        ) + if pg {
            // Which rows were there before (`xmax` is set on an update).
            " RETURNING CASE WHEN xmax = 0 THEN NULL ELSE case_id END"
        } else {
            ""
        };
        let mut p: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * COLS);
        for (id, f) in chunk {
            p.extend([
                Param::Text(id),
                Param::Text(&f.case_no),
                Param::I64(f.report_at),
                Param::Text(&f.day),
                Param::Text(&f.week),
                Param::Text(&f.month),
                Param::Text(&f.quarter),
                Param::Text(&f.year),
                Param::Text(&f.unit),
                Param::Text(&f.registered_by),
                Param::Text(&f.category),
                Param::Text(&f.category1),
                Param::Text(&f.township),
                Param::Text(&f.method),
                Param::Text(&f.level),
                Param::Text(&f.result),
                Param::Text(&f.status),
                Param::I64(i64::from(f.valid)),
                Param::I64(f.injured),
                Param::I64(f.dead),
                Param::I64(f.loss_fen),
                Param::Text(&f.summary),
                Param::Text(&f.location),
                Param::I64(i64::from(f.imported)),
            ]);
        }
        // Dispatches: replaced whole (one may have been returned); on
        // PostgreSQL only those of records that were there before (a new
        // record has none to delete).
        let replaced: Vec<String> = if pg {
            let mut old = Vec::new();
            for mut r in c.query(&sql, &p)? {
                old.extend(r.opt_text(0)?);
            }
            old
        } else {
            c.execute(&sql, &p)?;
            chunk.iter().map(|(id, _)| id.clone()).collect()
        };
        if !replaced.is_empty() {
            let marks: Vec<String> = (1..=replaced.len()).map(|i| format!("${i}")).collect();
            c.execute(
                &format!(
                    "DELETE FROM incident_dispatches WHERE case_id IN ({})",
                    marks.join(", ")
                ),
                &replaced.iter().map(|s| Param::Text(s)).collect::<Vec<_>>(),
            )?;
        }
        let ds: Vec<(&str, i64, &jingwu_core::stats::DispatchFacts)> = chunk
            .iter()
            .flat_map(|(id, f)| {
                f.dispatches
                    .iter()
                    .map(move |d| (id.as_str(), f.report_at, d))
            })
            .collect();
        for dchunk in ds.chunks(CHUNK) {
            let sql = super::store::values_sql(
                "INSERT INTO incident_dispatches(case_id, no, unit, report_at, dispatched_at,
                   ack_secs, depart_secs, feedback_secs)",
                8,
                dchunk.len(),
                "",
            );
            let opt = |v: Option<i64>| v.map_or(Param::Null, Param::I64);
            let mut p: Vec<Param<'_>> = Vec::with_capacity(dchunk.len() * 8);
            for (id, at, d) in dchunk {
                p.extend([
                    Param::Text(id),
                    Param::Text(&d.no),
                    Param::Text(&d.unit),
                    Param::I64(*at),
                    Param::I64(d.dispatched_at),
                    opt(d.ack_secs),
                    opt(d.depart_secs),
                    opt(d.feedback_secs),
                ]);
            }
            c.execute(&sql, &p)?;
        }
    }
    Ok(())
}

/// A `WHERE` clause and its parameters, built up condition by condition.
struct Where {
    sql: Vec<String>,
    params: Vec<ParamOwned>,
}

/// An owned parameter (the clause outlives the conditions' borrows).
#[derive(Clone)]
enum ParamOwned {
    I64(i64),
    Text(String),
}

impl Where {
    fn new() -> Where {
        Where {
            sql: Vec::new(),
            params: Vec::new(),
        }
    }

    fn mark(&mut self, p: ParamOwned) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    fn push(&mut self, clause: String) {
        self.sql.push(clause);
    }

    /// `col` (a 报警时间 in Unix seconds) in the conditions' `[from, to)`.
    fn time_range(&mut self, col: &str, c: &Conditions) {
        if let Some(a) = c.from {
            let m = self.mark(ParamOwned::I64(a));
            self.push(format!("{col} >= {m}"));
        }
        if let Some(b) = c.to {
            let m = self.mark(ParamOwned::I64(b));
            self.push(format!("{col} < {m}"));
        }
    }

    fn text(&mut self, col: &str, v: &Option<String>) {
        if let Some(v) = v {
            let m = self.mark(ParamOwned::Text(v.clone()));
            self.push(format!("{col} = {m}"));
        }
    }

    fn clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }

    fn params(&self) -> Vec<Param<'_>> {
        self.params
            .iter()
            .map(|p| match p {
                ParamOwned::I64(v) => Param::I64(*v),
                ParamOwned::Text(s) => Param::Text(s),
            })
            .collect()
    }
}

/// `%text%` for LIKE, with `\` escaping `%`, `_` and itself.
fn like(t: &str) -> String {
    let mut s = String::from("%");
    for ch in t.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(ch);
    }
    s.push('%');
    s
}

/// The `WHERE` clause of `c` over the `incidents` table aliased `i`.
fn where_of(c: &Conditions) -> Where {
    let mut w = Where::new();
    w.time_range("i.report_at", c);
    if let Some(units) = &c.units {
        if units.is_empty() {
            w.push("1 = 0".into());
        } else {
            let marks: Vec<String> = units
                .iter()
                .map(|u| w.mark(ParamOwned::Text(u.clone())))
                .collect();
            w.push(format!("i.unit IN ({})", marks.join(", ")));
        }
    }
    w.text("i.category", &c.category_exact);
    if let Some(p) = &c.category_prefix {
        // Codes are digits: a range instead of LIKE keeps the index.
        let lo = w.mark(ParamOwned::Text(p.clone()));
        let hi = w.mark(ParamOwned::Text(format!("{p}\u{7f}")));
        w.push(format!("i.category >= {lo} AND i.category < {hi}"));
    }
    w.text("i.township", &c.township);
    w.text("i.method", &c.method);
    w.text("i.level", &c.level);
    w.text("i.result", &c.result);
    if let Some(st) = &c.statuses {
        let marks: Vec<String> = st
            .iter()
            .map(|s| w.mark(ParamOwned::Text(s.clone())))
            .collect();
        w.push(format!("i.status IN ({})", marks.join(", ")));
    }
    if let Some(v) = c.valid {
        w.push(format!("i.valid = {}", i64::from(v)));
    }
    if let Some(v) = c.injured {
        w.push(if v { "i.injured > 0" } else { "i.injured = 0" }.into());
    }
    if let Some(v) = c.dead {
        w.push(if v { "i.dead > 0" } else { "i.dead = 0" }.into());
    }
    if let Some(m) = c.loss_min {
        let k = w.mark(ParamOwned::I64(m));
        w.push(format!("i.loss_fen >= {k}"));
    }
    if let Some(m) = c.loss_max {
        let k = w.mark(ParamOwned::I64(m));
        w.push(format!("i.loss_fen <= {k}"));
    }
    for t in &c.terms {
        let k = w.mark(ParamOwned::Text(like(t)));
        w.push(format!(
            "(i.summary LIKE {k} ESCAPE '\\' OR i.location LIKE {k} ESCAPE '\\')"
        ));
    }
    w
}

const SUMS: &str = "COUNT(*), CAST(COALESCE(SUM(i.valid), 0) AS BIGINT),
    CAST(COALESCE(SUM(i.loss_fen), 0) AS BIGINT), CAST(COALESCE(SUM(i.injured), 0) AS BIGINT),
    CAST(COALESCE(SUM(i.dead), 0) AS BIGINT)";

fn measures(r: &mut Row, from: usize) -> DbResult<Measures> {
    Ok(Measures {
        count: r.i64(from)?,
        valid: r.i64(from + 1)?,
        loss_fen: r.i64(from + 2)?,
        injured: r.i64(from + 3)?,
        dead: r.i64(from + 4)?,
    })
}

fn column(d: Dim) -> &'static str {
    match d {
        Dim::Period(k) => match k {
            jingwu_core::stats::PeriodKind::Day => "i.day",
            jingwu_core::stats::PeriodKind::Week => "i.week",
            jingwu_core::stats::PeriodKind::Month => "i.month",
            jingwu_core::stats::PeriodKind::Quarter => "i.quarter",
            jingwu_core::stats::PeriodKind::Year => "i.year",
        },
        Dim::Unit => "i.unit",
        Dim::Category => "i.category1",
        Dim::Township => "i.township",
    }
}

/// The measures of the records meeting `c`, grouped by `dims` (in their
/// order, ascending); empty groups are absent. Added up from the rollups
/// when they can answer (see [`Plan`]), else from the records.
pub fn stats(
    c: &mut dyn Conn,
    cond: &Conditions,
    dims: &[Dim],
) -> DbResult<Vec<(Vec<String>, Measures)>> {
    if let Some(plan) = Plan::of(cond, dims) {
        return rollup_stats(c, cond, dims, &plan);
    }
    let w = where_of(cond);
    let cols: Vec<&str> = dims.iter().map(|d| column(*d)).collect();
    let sql = if cols.is_empty() {
        format!("SELECT {SUMS} FROM incidents i{}", w.clause())
    } else {
        let g = cols.join(", ");
        format!(
            "SELECT {g}, {SUMS} FROM incidents i{} GROUP BY {g} ORDER BY {g}",
            w.clause()
        )
    };
    let rows = c.query(&sql, &w.params())?;
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        let mut keys = Vec::with_capacity(cols.len());
        for i in 0..cols.len() {
            keys.push(r.text(i)?);
        }
        let m = measures(&mut r, cols.len())?;
        if m.count > 0 {
            out.push((keys, m));
        }
    }
    Ok(out)
}

/// The months and days of the rollups that add up to a query's records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    /// Months `[from, to)` (starts; `None`: unbounded), if any.
    months: Option<(Option<i64>, Option<i64>)>,
    /// Ranges of days `[from, to)`.
    days: Vec<(Option<i64>, Option<i64>)>,
}

impl Plan {
    /// Whether the rollups answer `cond` grouped by `dims`, and how: the
    /// range must be whole days, the conditions only units, a level-1
    /// category, 乡镇 and 有效 (the rollups' keys). Whole months come
    /// from the months; the days at either end, or every day when a day
    /// or week is a dimension, from the days.
    fn of(cond: &Conditions, dims: &[Dim]) -> Option<Plan> {
        // Every field named, so a new condition cannot slip past.
        let Conditions {
            from,
            to,
            units: _,
            category_exact,
            category_prefix,
            township: _,
            method,
            level,
            result,
            statuses,
            valid: _,
            injured,
            dead,
            loss_min,
            loss_max,
            terms,
        } = cond;
        let whole_day = |t: &Option<i64>| t.is_none_or(|t| day_at(t) == t);
        let level1 = category_prefix
            .as_deref()
            .is_none_or(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
        let answerable = whole_day(from)
            && whole_day(to)
            && level1
            && category_exact.is_none()
            && method.is_none()
            && level.is_none()
            && result.is_none()
            && statuses.is_none()
            && injured.is_none()
            && dead.is_none()
            && loss_min.is_none()
            && loss_max.is_none()
            && terms.is_empty();
        if !answerable {
            return None;
        }
        let (from, to) = (*from, *to);
        let by_day = dims.iter().any(|d| {
            matches!(
                d,
                Dim::Period(PeriodKind::Day) | Dim::Period(PeriodKind::Week)
            )
        });
        let all_days = Plan {
            months: None,
            days: vec![(from, to)],
        };
        if by_day {
            return Some(all_days);
        }
        // The first month starting at or after `from`, the last at or
        // before `to`.
        let m1 = from.map(|a| {
            let m = month_at(a);
            if m == a {
                a
            } else {
                month_at(m + 32 * 86_400)
            }
        });
        let m2 = to.map(month_at);
        if let (Some(a), Some(b)) = (m1, m2) {
            if a >= b {
                return Some(all_days);
            }
        }
        let mut days = Vec::new();
        if let (Some(a), Some(m)) = (from, m1) {
            if a < m {
                days.push((Some(a), Some(m)));
            }
        }
        if let (Some(m), Some(b)) = (m2, to) {
            if m < b {
                days.push((Some(m), Some(b)));
            }
        }
        Some(Plan {
            months: Some((m1, m2)),
            days,
        })
    }
}

/// [`stats`] from the rollups, by `plan`.
fn rollup_stats(
    c: &mut dyn Conn,
    cond: &Conditions,
    dims: &[Dim],
    plan: &Plan,
) -> DbResult<Vec<(Vec<String>, Measures)>> {
    let cols: Vec<&str> = dims
        .iter()
        .map(|d| match d {
            Dim::Period(k) => k.name(),
            Dim::Unit => "unit",
            Dim::Category => "category1",
            Dim::Township => "township",
        })
        .collect();
    let mut inner = cols.clone();
    inner.extend(["valid", "n", "loss_fen", "injured", "dead"]);
    let inner = inner.join(", ");
    let mut w = Where::new();
    // The conditions on a rollup's keys, for one of the parts.
    let keys = |w: &mut Where| -> Vec<String> {
        let mut v = Vec::new();
        if let Some(units) = &cond.units {
            if units.is_empty() {
                v.push("1 = 0".into());
            } else {
                let marks: Vec<String> = units
                    .iter()
                    .map(|u| w.mark(ParamOwned::Text(u.clone())))
                    .collect();
                v.push(format!("unit IN ({})", marks.join(", ")));
            }
        }
        if let Some(p) = &cond.category_prefix {
            // As `where_of`: a level-1 code starts with its two digits.
            let lo = w.mark(ParamOwned::Text(p.clone()));
            let hi = w.mark(ParamOwned::Text(format!("{p}\u{7f}")));
            v.push(format!("category1 >= {lo} AND category1 < {hi}"));
        }
        if let Some(t) = &cond.township {
            let m = w.mark(ParamOwned::Text(t.clone()));
            v.push(format!("township = {m}"));
        }
        if let Some(x) = cond.valid {
            v.push(format!("valid = {}", i64::from(x)));
        }
        v
    };
    let range = |w: &mut Where, col: &str, (a, b): (Option<i64>, Option<i64>)| -> Vec<String> {
        let mut v = Vec::new();
        if let Some(a) = a {
            let m = w.mark(ParamOwned::I64(a));
            v.push(format!("{col} >= {m}"));
        }
        if let Some(b) = b {
            let m = w.mark(ParamOwned::I64(b));
            v.push(format!("{col} < {m}"));
        }
        v
    };
    let clause = |v: Vec<String>| {
        if v.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", v.join(" AND "))
        }
    };
    let mut parts = Vec::new();
    if let Some(m) = plan.months {
        let mut v = range(&mut w, "month_at", m);
        v.extend(keys(&mut w));
        parts.push(format!("SELECT {inner} FROM incident_months{}", clause(v)));
    }
    if !plan.days.is_empty() {
        let mut any = Vec::new();
        for d in &plan.days {
            let r = range(&mut w, "day_at", *d);
            if r.is_empty() {
                any.clear();
                break;
            }
            any.push(format!("({})", r.join(" AND ")));
        }
        let mut v = Vec::new();
        if !any.is_empty() {
            v.push(format!("({})", any.join(" OR ")));
        }
        v.extend(keys(&mut w));
        parts.push(format!("SELECT {inner} FROM incident_days{}", clause(v)));
    }
    let sums = "CAST(COALESCE(SUM(r.n), 0) AS BIGINT),
        CAST(COALESCE(SUM(r.valid * r.n), 0) AS BIGINT),
        CAST(COALESCE(SUM(r.loss_fen), 0) AS BIGINT),
        CAST(COALESCE(SUM(r.injured), 0) AS BIGINT),
        CAST(COALESCE(SUM(r.dead), 0) AS BIGINT)";
    let from = parts.join(" UNION ALL ");
    let sql = if cols.is_empty() {
        format!("SELECT {sums} FROM ({from}) r")
    } else {
        let g: Vec<String> = cols.iter().map(|c| format!("r.{c}")).collect();
        let g = g.join(", ");
        format!("SELECT {g}, {sums} FROM ({from}) r GROUP BY {g} ORDER BY {g}")
    };
    let rows = c.query(&sql, &w.params())?;
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        let mut keys = Vec::with_capacity(cols.len());
        for i in 0..cols.len() {
            keys.push(r.text(i)?);
        }
        let m = measures(&mut r, cols.len())?;
        if m.count > 0 {
            out.push((keys, m));
        }
    }
    Ok(out)
}

/// Response speed of `kind` of the dispatches of the records meeting `c`:
/// (dispatch unit, bucket, count, Σ seconds), by unit and bucket.
pub fn speed(c: &mut dyn Conn, cond: &Conditions, kind: SpeedKind) -> DbResult<SpeedRows> {
    let mut w = where_of(cond);
    // A dispatch row carries its record's 报警时间 (written with it): the
    // same range on it lets the store start from the dispatches' own
    // index instead of joining every dispatch (PostgreSQL did).
    w.time_range("d.report_at", cond);
    let col = match kind {
        SpeedKind::Ack => "d.ack_secs",
        SpeedKind::Depart => "d.depart_secs",
        SpeedKind::Feedback => "d.feedback_secs",
    };
    let b = kind.bounds();
    let bucket = format!(
        "CASE WHEN {col} >= {} THEN 4 WHEN {col} >= {} THEN 3 WHEN {col} >= {} THEN 2
              WHEN {col} >= {} THEN 1 ELSE 0 END",
        b[4], b[3], b[2], b[1]
    );
    let mut clause = w.clause();
    clause.push_str(if clause.is_empty() {
        " WHERE "
    } else {
        " AND "
    });
    clause.push_str(&format!("{col} IS NOT NULL"));
    let sql = format!(
        "SELECT d.unit, {bucket} AS b, COUNT(*), CAST(SUM({col}) AS BIGINT)
         FROM incident_dispatches d JOIN incidents i ON i.case_id = d.case_id{clause}
         GROUP BY d.unit, b ORDER BY d.unit, b"
    );
    let rows = c.query(&sql, &w.params())?;
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        let b = usize::try_from(r.i64(1)?).map_err(|_| DbError::Corrupt("速度分档".into()))?;
        out.push((r.text(0)?, b, r.i64(2)?, r.i64(3)?));
    }
    Ok(out)
}

/// Records meeting `c` by status.
pub fn statuses(c: &mut dyn Conn, cond: &Conditions) -> DbResult<BTreeMap<String, i64>> {
    let w = where_of(cond);
    let sql = format!(
        "SELECT i.status, COUNT(*) FROM incidents i{} GROUP BY i.status",
        w.clause()
    );
    let mut out = BTreeMap::new();
    for mut r in c.query(&sql, &w.params())? {
        out.insert(r.text(0)?, r.i64(1)?);
    }
    Ok(out)
}

/// One page of the records meeting `c` and how many there are in all.
pub fn rows(
    c: &mut dyn Conn,
    cond: &Conditions,
    sort: SortBy,
    desc: bool,
    limit: i64,
    offset: i64,
) -> DbResult<(i64, Vec<IncidentRow>)> {
    let w = where_of(cond);
    let key = match sort {
        SortBy::ReportTime => "i.report_at",
        SortBy::Loss => "i.loss_fen",
        SortBy::CaseNo => "i.case_no",
        SortBy::Unit => "i.unit",
        SortBy::Category => "i.category",
    };
    let dir = if desc { "DESC" } else { "ASC" };
    let mut params = w.params();
    let n = params.len();
    params.push(Param::I64(limit));
    params.push(Param::I64(offset));
    let select = format!(
        "SELECT i.case_id, i.case_no, i.report_at, i.unit, i.category, i.township, i.method,
           i.level, i.result, i.status, i.valid, i.injured, i.dead, i.loss_fen, i.summary,
           i.location, i.imported, COUNT(*) OVER ()
         FROM incidents i{}",
        w.clause()
    );
    // PostgreSQL costs `LIMIT` over the window as if the first rows in
    // order came cheap, and walks the time index through every record of
    // the period (the window needs them all anyway) instead of finding the
    // few that match from the other indexes — for the free text, the
    // trigram indexes of step 11: 100 ms instead of 12 ms over a million
    // records (`bench/README.md`). `OFFSET 0` keeps the matching rows a
    // query of their own, planned for all of them; the page is sorted
    // from those.
    let matching = match c.dialect() {
        Dialect::Postgres => format!("SELECT * FROM ({select} OFFSET 0) i"),
        Dialect::Sqlite => select,
    };
    let sql = format!(
        "{matching} ORDER BY {key} {dir}, i.case_no {dir} LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    // The total comes with the page (one pass over the matching rows, which
    // the sort reads all of anyway); a page past the end has no row to
    // carry it. Planned with the values (see `Conn::query_planned`): how
    // many records a period, a unit and a word leave decides the plan.
    let mut total = None;
    let mut out = Vec::new();
    for mut r in c.query_planned(&sql, &params)? {
        total = Some(r.i64(17)?);
        out.push(IncidentRow {
            case_id: r.text(0)?,
            case_no: r.text(1)?,
            report_at: r.i64(2)?,
            unit: r.text(3)?,
            category: r.text(4)?,
            township: r.text(5)?,
            method: r.text(6)?,
            level: r.text(7)?,
            result: r.text(8)?,
            status: r.text(9)?,
            valid: r.i64(10)? != 0,
            injured: r.i64(11)?,
            dead: r.i64(12)?,
            loss_fen: r.i64(13)?,
            summary: r.text(14)?,
            location: r.text(15)?,
            imported: r.i64(16)? != 0,
        });
    }
    let total = match total {
        Some(t) => t,
        None if offset == 0 => 0,
        None => match c
            .query_planned(
                &format!("SELECT COUNT(*) FROM incidents i{}", w.clause()),
                &w.params(),
            )?
            .into_iter()
            .next()
        {
            Some(mut r) => r.i64(0)?,
            None => 0,
        },
    };
    Ok((total, out))
}

/// Which of `case_nos` are already taken by a case.
pub fn taken_case_nos(c: &mut dyn Conn, case_nos: &[String]) -> DbResult<Vec<String>> {
    let mut out = Vec::new();
    for chunk in case_nos.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let p: Vec<Param<'_>> = chunk.iter().map(|s| Param::Text(s)).collect();
        for mut r in c.query(
            &format!(
                "SELECT case_no FROM cases WHERE case_no IN ({})",
                marks.join(", ")
            ),
            &p,
        )? {
            out.push(r.text(0)?);
        }
    }
    Ok(out)
}

/// A person's saved queries: (name, filter JSON), by name.
pub fn saved_queries(c: &mut dyn Conn, person: &str) -> DbResult<Vec<(String, String)>> {
    c.query(
        "SELECT name, filter FROM saved_queries WHERE person=$1 ORDER BY name",
        super::sql::args![person],
    )?
    .into_iter()
    .map(|mut r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}

/// Saves (or replaces) a person's query.
pub fn save_query(
    c: &mut dyn Conn,
    person: &str,
    name: &str,
    filter: &str,
    at: &str,
) -> DbResult<()> {
    c.execute(
        "INSERT INTO saved_queries(person, name, filter, created_at) VALUES($1, $2, $3, $4)
         ON CONFLICT(person, name) DO UPDATE SET filter=excluded.filter, created_at=excluded.created_at",
        super::sql::args![person, name, filter, at],
    )?;
    Ok(())
}

/// Deletes a person's query; whether there was one.
pub fn delete_query(c: &mut dyn Conn, person: &str, name: &str) -> DbResult<bool> {
    Ok(c.execute(
        "DELETE FROM saved_queries WHERE person=$1 AND name=$2",
        super::sql::args![person, name],
    )? > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jingwu_core::stats::{day_start, parse_date};

    fn day(s: &str) -> i64 {
        day_start(parse_date(s, "day").unwrap())
    }

    #[test]
    fn day_and_month_starts_are_shanghai_ones() {
        // 2026-03-05 00:30 in Shanghai is 2026-03-04 16:30 UTC.
        let t = day("2026-03-05") + 1800;
        assert_eq!(day_at(t), day("2026-03-05"));
        assert_eq!(day_at(day("2026-03-05")), day("2026-03-05"));
        assert_eq!(day_at(day("2026-03-05") - 1), day("2026-03-04"));
        assert_eq!(month_at(t), day("2026-03-01"));
        assert_eq!(month_at(day("2026-03-01") - 1), day("2026-02-01"));
        assert_eq!(month_at(day("2024-02-29") + 86_399), day("2024-02-01"));
    }

    /// PostgreSQL can answer the free text (`LIKE … ESCAPE`, a Chinese
    /// word) from the trigram indexes. The table is empty, so sequential
    /// scans are turned off to see whether the indexes apply at all.
    #[test]
    fn the_free_text_condition_can_use_the_trigram_indexes_on_postgresql() {
        let s = crate::db::tests::PgScratch::new();
        drop(s.open());
        let mut client = s.client();
        let mut stmts = HashMap::new();
        let mut c = super::super::postgres::Pg::client(&mut client, &mut stmts, &s.schema);
        c.batch("SET enable_seqscan = off").unwrap();
        let cond = Conditions {
            terms: vec!["电动车".into()],
            ..Conditions::default()
        };
        let w = where_of(&cond);
        let plan: Vec<String> = c
            .query(
                &format!("EXPLAIN SELECT i.case_id FROM incidents i{}", w.clause()),
                &w.params(),
            )
            .unwrap()
            .into_iter()
            .map(|mut r| r.text(0).unwrap())
            .collect();
        let plan = plan.join("\n");
        for index in TRIGRAM_INDEXES {
            assert!(plan.contains(index), "{plan}");
        }
    }

    #[test]
    fn the_rollups_answer_whole_days_and_their_own_keys_only() {
        let month = [Dim::Period(PeriodKind::Month), Dim::Unit, Dim::Category];
        let week = [Dim::Period(PeriodKind::Week)];
        let between = |a: &str, b: &str| Conditions {
            from: Some(day(a)),
            to: Some(day(b)),
            ..Conditions::default()
        };
        // Whole months: months only.
        assert_eq!(
            Plan::of(&between("2023-12-01", "2026-12-01"), &month),
            Some(Plan {
                months: Some((Some(day("2023-12-01")), Some(day("2026-12-01")))),
                days: vec![],
            })
        );
        // Days at both ends.
        assert_eq!(
            Plan::of(&between("2026-01-15", "2026-04-03"), &month),
            Some(Plan {
                months: Some((Some(day("2026-02-01")), Some(day("2026-04-01")))),
                days: vec![
                    (Some(day("2026-01-15")), Some(day("2026-02-01"))),
                    (Some(day("2026-04-01")), Some(day("2026-04-03")))
                ],
            })
        );
        // Within one month, or by week: days.
        let w = between("2026-11-23", "2026-11-30");
        assert_eq!(
            Plan::of(&w, &[]),
            Some(Plan {
                months: None,
                days: vec![(w.from, w.to)],
            })
        );
        let all = Conditions::default();
        assert_eq!(
            Plan::of(&all, &week),
            Some(Plan {
                months: None,
                days: vec![(None, None)],
            })
        );
        assert_eq!(
            Plan::of(&all, &month),
            Some(Plan {
                months: Some((None, None)),
                days: vec![],
            })
        );
        // Units, a level-1 class, 乡镇 and 有效 are keys.
        let keyed = Conditions {
            units: Some(vec!["522634510000".into()]),
            category_prefix: Some("01".into()),
            township: Some("522634100".into()),
            valid: Some(true),
            ..w.clone()
        };
        assert!(Plan::of(&keyed, &month).is_some());
        // Anything else goes to the records.
        for c in [
            Conditions {
                from: Some(day("2026-11-23") + 60),
                ..w.clone()
            },
            Conditions {
                category_prefix: Some("0101".into()),
                ..w.clone()
            },
            Conditions {
                category_exact: Some("010101".into()),
                ..w.clone()
            },
            Conditions {
                statuses: Some(vec!["archived".into()]),
                ..w.clone()
            },
            Conditions {
                loss_min: Some(1),
                ..w.clone()
            },
            Conditions {
                terms: vec!["电动车".into()],
                ..w.clone()
            },
            Conditions {
                method: Some("1".into()),
                ..w.clone()
            },
            Conditions {
                injured: Some(true),
                ..w.clone()
            },
        ] {
            assert_eq!(Plan::of(&c, &month), None, "{c:?}");
        }
    }
}
