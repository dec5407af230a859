//! The typed 110 table that statistics read, written once for both
//! backends: one `incidents` row per record and one `incident_dispatches`
//! row per measured dispatch, both [`IncidentFacts`] of the record's
//! latest state, written by the push transaction that writes the state
//! (so figures are never behind the events), and the queries over them.
//!
//! What a figure means is the core's (`jingwu_core::stats`); this file
//! only turns [`Conditions`] into `WHERE` clauses and adds up.

use std::collections::BTreeMap;

use jingwu_core::case::CaseState;
use jingwu_core::stats::{Conditions, Dim, IncidentFacts, Measures, SpeedKind, SpeedRows};
use jingwu_proto::{IncidentRow, SortBy};

use super::sql::{Conn, Param, Row};
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
    write(c, &facts)
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

/// Writes (inserts or replaces) the rows of `facts`.
pub fn write(c: &mut dyn Conn, facts: &[(String, IncidentFacts)]) -> DbResult<()> {
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
        );
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
        c.execute(&sql, &p)?;
        // Dispatches: replaced whole (one may have been returned).
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        c.execute(
            &format!(
                "DELETE FROM incident_dispatches WHERE case_id IN ({})",
                marks.join(", ")
            ),
            &ids.iter().map(|s| Param::Text(s)).collect::<Vec<_>>(),
        )?;
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
    if let Some(a) = c.from {
        let m = w.mark(ParamOwned::I64(a));
        w.push(format!("i.report_at >= {m}"));
    }
    if let Some(b) = c.to {
        let m = w.mark(ParamOwned::I64(b));
        w.push(format!("i.report_at < {m}"));
    }
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
/// order, ascending); empty groups are absent.
pub fn stats(
    c: &mut dyn Conn,
    cond: &Conditions,
    dims: &[Dim],
) -> DbResult<Vec<(Vec<String>, Measures)>> {
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

/// Response speed of `kind` of the dispatches of the records meeting `c`:
/// (dispatch unit, bucket, count, Σ seconds), by unit and bucket.
pub fn speed(c: &mut dyn Conn, cond: &Conditions, kind: SpeedKind) -> DbResult<SpeedRows> {
    let w = where_of(cond);
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
    let total = c
        .query_one(
            &format!("SELECT COUNT(*) FROM incidents i{}", w.clause()),
            &w.params(),
        )?
        .i64(0)?;
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
    let sql = format!(
        "SELECT i.case_id, i.case_no, i.report_at, i.unit, i.category, i.township, i.method,
           i.level, i.result, i.status, i.valid, i.injured, i.dead, i.loss_fen, i.summary,
           i.location, i.imported
         FROM incidents i{} ORDER BY {key} {dir}, i.case_no {dir} LIMIT ${} OFFSET ${}",
        w.clause(),
        n + 1,
        n + 2
    );
    let mut out = Vec::new();
    for mut r in c.query(&sql, &params)? {
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
