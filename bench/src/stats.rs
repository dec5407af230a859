//! `jingwu-bench-stats`: 110 statistics over a million records. The
//! hub's store (SQLite and PostgreSQL, through `HubDb` with the hub's own
//! schema and indexes) beside DuckDB (the `duckdb` Python package) and
//! the plain `sqlite3` shell, on the same rows, in the same run.
//!
//! The records are `scripts/gen-incidents.py`'s (three years, every unit
//! and category, unfinished and invalid ones, Chinese summaries), read by
//! the import's own parser (`jingwu_core::import::Importer`) and folded
//! into `IncidentFacts` as the hub folds an imported record. DuckDB and
//! `sqlite3` get the same rows as a flat table (the hub's columns) and
//! plain SQL. Three questions, each timed warm over several runs: a
//! month × unit × category aggregate of the three years; the 警情通报 of
//! one week (what `jingwu-hub report --period` computes; for the peers
//! the set of queries it needs); one filtered free-text query with its
//! total. Every engine's figures are checked against the hub's first.

use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use jingwu_core::case::CaseState;
use jingwu_core::event::Event;
use jingwu_core::import::{header_map, Importer};
use jingwu_core::org::Org;
use jingwu_core::registry::Registry;
use jingwu_core::stats::{
    day_start, parse_date, status_name, Conditions, Filter, IncidentFacts, Measures, Period,
    ReportData, Scope, SpeedKind, UNFINISHED,
};
use jingwu_hub::db::HubDb;
use jingwu_hub::hub::{Hub, Limits};
use jingwu_proto::{QueryRequest, SortBy};
use rayon::prelude::*;

const PG: &str = "postgres://root@127.0.0.1:5432/test";
/// The importing desk and one of its members.
const DESK: &str = "522634080000";
const DESK_PERSON: &str = "052608";
/// The three years the generator covers (its default end).
const FROM: &str = "2023-12-01";
const TO: &str = "2026-11-30";
const WEEK: &str = "2026-W48";
/// The filtered query: one year, one 派出所 (with the units under it),
/// a word, the newest 50 and the total.
const Q_FROM: &str = "2025-01-01";
const Q_TO: &str = "2025-12-31";
const Q_UNIT: &str = "522634510000";
const Q_TEXT: &str = "电动车";
const PAGE: u32 = 50;
/// Records per `put_incident_facts` call (one transaction each).
const LOAD_BATCH: usize = 5000;

/// Targets (ms, median on 2 cores) and the largest ratio to DuckDB.
const TARGETS: [f64; 3] = [50.0, 300.0, 500.0];
const MAX_RATIO: f64 = 2.0;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The 1-, 5- and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

// ----- the records -------------------------------------------------------

/// `gen-incidents.py --count n` into `dir`.
fn generate(dir: &Path, count: usize) -> Result<PathBuf> {
    let out = dir.join("incidents.csv");
    let st = Command::new("python3")
        .arg(repo().join("scripts/gen-incidents.py"))
        .args(["--count", &count.to_string(), "--out"])
        .arg(&out)
        .status()
        .context("python3 scripts/gen-incidents.py")?;
    ensure!(st.success(), "gen-incidents.py failed: {st}");
    Ok(out)
}

/// Every row of the CSV read as `jingwu-hub import-incidents` reads it,
/// folded into the facts the hub would store.
fn facts_of_csv(csv: &Path, reg: &Registry) -> Result<Vec<(String, IncidentFacts)>> {
    let table = {
        let bytes = std::fs::read(csv)?;
        jingwu_hub::stats::read_table("incidents.csv", &bytes).map_err(anyhow::Error::msg)?
    };
    let map = header_map(&table.headers).map_err(|e| anyhow::anyhow!("表头有误：{e:?}"))?;
    let now = time::OffsetDateTime::now_utc().to_offset(jingwu_core::SHANGHAI);
    let importer = Importer {
        reg,
        unit: DESK,
        author: DESK_PERSON,
        template: reg
            .template_latest("incident")
            .context("接处警模板")?
            .reference(),
        now,
        source: "bench".into(),
    };
    table
        .rows
        .par_iter()
        .enumerate()
        .map(|(i, cells)| {
            let row = importer.row(i + 1, &map, cells).map_err(|e| {
                anyhow::anyhow!(
                    "第 {} 行：{}",
                    i + 1,
                    e.iter()
                        .map(|x| format!("{} {}", x.column, x.message))
                        .collect::<Vec<_>>()
                        .join("；")
                )
            })?;
            let ev = Event::new(
                row.case_id,
                0,
                None,
                DESK_PERSON,
                "bench",
                "bench",
                now,
                [0; 10],
                row.action,
            );
            let st = CaseState::create(&ev, "bench", reg).map_err(|e| anyhow::anyhow!("{e}"))?;
            let f = IncidentFacts::of(&st).context("not a 110 record")?;
            Ok((st.case_id.to_string(), f))
        })
        .collect()
}

const INCIDENT_COLS: [&str; 24] = [
    "case_id",
    "case_no",
    "report_at",
    "day",
    "week",
    "month",
    "quarter",
    "year",
    "unit",
    "registered_by",
    "category",
    "category1",
    "township",
    "method",
    "level",
    "result",
    "status",
    "valid",
    "injured",
    "dead",
    "loss_fen",
    "summary",
    "location",
    "imported",
];
const DISPATCH_COLS: [&str; 8] = [
    "case_id",
    "no",
    "unit",
    "report_at",
    "dispatched_at",
    "ack_secs",
    "depart_secs",
    "feedback_secs",
];

fn is_int(col: &str) -> bool {
    matches!(
        col,
        "report_at"
            | "valid"
            | "injured"
            | "dead"
            | "loss_fen"
            | "imported"
            | "dispatched_at"
            | "ack_secs"
            | "depart_secs"
            | "feedback_secs"
    )
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The facts as two flat CSV files (the hub's columns; text quoted, an
/// absent time empty and unquoted).
fn write_flat(dir: &Path, facts: &[(String, IncidentFacts)]) -> Result<(PathBuf, PathBuf)> {
    let inc = dir.join("flat-incidents.csv");
    let disp = dir.join("flat-dispatches.csv");
    let mut w = BufWriter::new(std::fs::File::create(&inc)?);
    let mut d = BufWriter::new(std::fs::File::create(&disp)?);
    writeln!(w, "{}", INCIDENT_COLS.join(","))?;
    writeln!(d, "{}", DISPATCH_COLS.join(","))?;
    let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    for (id, f) in facts {
        let text = [
            id.as_str(),
            &f.case_no,
            &f.day,
            &f.week,
            &f.month,
            &f.quarter,
            &f.year,
            &f.unit,
            &f.registered_by,
            &f.category,
            &f.category1,
            &f.township,
            &f.method,
            &f.level,
            &f.result,
            &f.status,
        ]
        .map(quoted);
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            text[0],
            text[1],
            f.report_at,
            text[2],
            text[3],
            text[4],
            text[5],
            text[6],
            text[7],
            text[8],
            text[9],
            text[10],
            text[11],
            text[12],
            text[13],
            text[14],
            text[15],
            i64::from(f.valid),
            f.injured,
            f.dead,
            f.loss_fen,
            quoted(&f.summary),
            quoted(&f.location),
            i64::from(f.imported)
        )?;
        for x in &f.dispatches {
            writeln!(
                d,
                "{},{},{},{},{},{},{},{}",
                quoted(id),
                quoted(&x.no),
                quoted(&x.unit),
                f.report_at,
                x.dispatched_at,
                opt(x.ack_secs),
                opt(x.depart_secs),
                opt(x.feedback_secs)
            )?;
        }
    }
    w.flush()?;
    d.flush()?;
    Ok((inc, disp))
}

// ----- the questions -------------------------------------------------------

fn range(from: &str, to: &str) -> Result<(i64, i64)> {
    let a = parse_date(from, "起始日期").map_err(anyhow::Error::msg)?;
    let b = parse_date(to, "截止日期").map_err(anyhow::Error::msg)?;
    Ok((day_start(a), day_start(b + time::Duration::days(1))))
}

fn agg_filter() -> Filter {
    Filter {
        from: Some(FROM.into()),
        to: Some(TO.into()),
        ..Filter::default()
    }
}

fn query_request() -> QueryRequest {
    QueryRequest {
        filter: Filter {
            from: Some(Q_FROM.into()),
            to: Some(Q_TO.into()),
            unit: Some(Q_UNIT.into()),
            text: Some(Q_TEXT.into()),
            ..Filter::default()
        },
        sort: SortBy::ReportTime,
        desc: true,
        page: 1,
        per_page: PAGE,
    }
}

/// The peers' SQL (the same for DuckDB and sqlite3): the aggregate; the
/// report's queries (what `report_data` asks the store: totals and the
/// category × unit × 乡镇 sums of the week, the week before and the same
/// week a year earlier; the three speed tables; the unfinished by
/// status); the query's total and page.
struct PeerSql {
    agg: Vec<String>,
    report: Vec<String>,
    query: Vec<String>,
}

const SUMS: &str = "COUNT(*), COALESCE(SUM(valid), 0), COALESCE(SUM(loss_fen), 0), \
                    COALESCE(SUM(injured), 0), COALESCE(SUM(dead), 0)";

fn peer_sql(units: &[String]) -> Result<PeerSql> {
    let (a, b) = range(FROM, TO)?;
    let agg = vec![format!(
        "SELECT month, unit, category1, {SUMS} FROM incidents \
         WHERE report_at >= {a} AND report_at < {b} \
         GROUP BY month, unit, category1 ORDER BY month, unit, category1"
    )];
    let p = Period::parse(WEEK)?;
    let mut report = Vec::new();
    for q in [p, p.previous(), p.year_earlier()] {
        let (a, b) = (
            day_start(q.first),
            day_start(q.last + time::Duration::days(1)),
        );
        report.push(format!(
            "SELECT {SUMS} FROM incidents WHERE report_at >= {a} AND report_at < {b}"
        ));
        report.push(format!(
            "SELECT category1, unit, township, {SUMS} FROM incidents \
             WHERE report_at >= {a} AND report_at < {b} \
             GROUP BY category1, unit, township ORDER BY category1, unit, township"
        ));
    }
    let (a, b) = (
        day_start(p.first),
        day_start(p.last + time::Duration::days(1)),
    );
    for k in SpeedKind::ALL {
        let col = format!("d.{}_secs", k.name());
        let bo = k.bounds();
        report.push(format!(
            "SELECT d.unit, CASE WHEN {col} >= {} THEN 4 WHEN {col} >= {} THEN 3 \
             WHEN {col} >= {} THEN 2 WHEN {col} >= {} THEN 1 ELSE 0 END AS b, \
             COUNT(*), SUM({col}) \
             FROM incident_dispatches d JOIN incidents i ON i.case_id = d.case_id \
             WHERE i.report_at >= {a} AND i.report_at < {b} AND {col} IS NOT NULL \
             GROUP BY d.unit, b ORDER BY d.unit, b",
            bo[4], bo[3], bo[2], bo[1]
        ));
    }
    let unfinished: Vec<String> = UNFINISHED
        .iter()
        .map(|s| format!("'{}'", status_name(*s)))
        .collect();
    report.push(format!(
        "SELECT status, COUNT(*) FROM incidents \
         WHERE report_at >= {a} AND report_at < {b} AND status IN ({}) \
         GROUP BY status ORDER BY status",
        unfinished.join(", ")
    ));
    let (a, b) = range(Q_FROM, Q_TO)?;
    let in_units: Vec<String> = units.iter().map(|u| format!("'{u}'")).collect();
    let cond = format!(
        "report_at >= {a} AND report_at < {b} AND unit IN ({}) \
         AND (summary LIKE '%{Q_TEXT}%' OR location LIKE '%{Q_TEXT}%')",
        in_units.join(", ")
    );
    let query = vec![
        format!("SELECT COUNT(*) FROM incidents WHERE {cond}"),
        format!(
            "SELECT case_id, case_no, report_at, unit, category, township, method, level, \
             result, status, valid, injured, dead, loss_fen, summary, location, imported \
             FROM incidents WHERE {cond} ORDER BY report_at DESC, case_no DESC LIMIT {PAGE}"
        ),
    ];
    Ok(PeerSql { agg, report, query })
}

// ----- figures, to check every engine against the hub ---------------------

/// Each question's figures as text lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Figures {
    agg: Vec<String>,
    report: Vec<String>,
    query: Vec<String>,
}

fn m_line(m: &Measures) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        m.count, m.valid, m.loss_fen, m.injured, m.dead
    )
}

fn report_lines(d: &ReportData) -> Vec<String> {
    let mut out = vec![
        format!("total 0 {}", m_line(&d.current)),
        format!("total 1 {}", m_line(&d.previous)),
        format!("total 2 {}", m_line(&d.year_earlier)),
    ];
    for (what, maps) in [
        ("category", &d.by_category),
        ("unit", &d.by_unit),
        ("township", &d.by_township),
    ] {
        for (i, m) in maps.iter().enumerate() {
            for (k, v) in m {
                out.push(format!("{what} {i} {k} {}", m_line(v)));
            }
        }
    }
    for (k, rows) in SpeedKind::ALL.iter().zip(&d.speed) {
        for (unit, b, n, sum) in rows {
            out.push(format!("speed {} {unit} {b} {n} {sum}", k.name()));
        }
    }
    for (s, n) in &d.unfinished {
        out.push(format!("unfinished {s} {n}"));
    }
    out
}

fn int(s: &str) -> Result<i64> {
    if s.is_empty() {
        return Ok(0);
    }
    s.parse()
        .or_else(|_| s.parse::<f64>().map(|f| f as i64))
        .with_context(|| format!("not a number: {s:?}"))
}

fn measures(cells: &[String]) -> Result<Measures> {
    ensure!(cells.len() == 5, "expected 5 measures, got {cells:?}");
    Ok(Measures {
        count: int(&cells[0])?,
        valid: int(&cells[1])?,
        loss_fen: int(&cells[2])?,
        injured: int(&cells[3])?,
        dead: int(&cells[4])?,
    })
}

type Rows = Vec<Vec<String>>;

/// A peer's answers to the report's queries, as the hub's `ReportData`.
fn peer_report(res: &[Rows]) -> Result<ReportData> {
    ensure!(res.len() == 10, "the report has 10 queries");
    let mut d = ReportData::default();
    for i in 0..3 {
        let total = match res[2 * i].first() {
            Some(r) => measures(r)?,
            None => Measures::default(),
        };
        match i {
            0 => d.current = total,
            1 => d.previous = total,
            _ => d.year_earlier = total,
        }
        for r in &res[2 * i + 1] {
            ensure!(r.len() == 8, "group row {r:?}");
            let m = measures(&r[3..])?;
            if m.count == 0 {
                continue;
            }
            d.by_category[i].entry(r[0].clone()).or_default().add(&m);
            d.by_unit[i].entry(r[1].clone()).or_default().add(&m);
            d.by_township[i].entry(r[2].clone()).or_default().add(&m);
        }
    }
    for k in 0..3 {
        for r in &res[6 + k] {
            ensure!(r.len() == 4, "speed row {r:?}");
            d.speed[k].push((
                r[0].clone(),
                usize::try_from(int(&r[1])?)?,
                int(&r[2])?,
                int(&r[3])?,
            ));
        }
    }
    for r in &res[9] {
        ensure!(r.len() == 2, "status row {r:?}");
        d.unfinished.insert(r[0].clone(), int(&r[1])?);
    }
    Ok(d)
}

fn peer_figures(agg: &[Rows], report: &[Rows], query: &[Rows]) -> Result<Figures> {
    let mut f = Figures::default();
    for r in &agg[0] {
        ensure!(r.len() == 8, "aggregate row {r:?}");
        f.agg.push(format!(
            "{} {} {} {}",
            r[0],
            r[1],
            r[2],
            m_line(&measures(&r[3..])?)
        ));
    }
    f.report = report_lines(&peer_report(report)?);
    let total = query[0]
        .first()
        .and_then(|r| r.first())
        .context("the query's total")?;
    f.query.push(format!("total {}", int(total)?));
    for r in &query[1] {
        f.query.push(r.first().cloned().unwrap_or_default());
    }
    Ok(f)
}

/// Where two engines' figures first differ.
fn compare(name: &str, want: &Figures, got: &Figures) -> Result<()> {
    for (what, a, b) in [
        ("aggregate", &want.agg, &got.agg),
        ("report", &want.report, &got.report),
        ("query", &want.query, &got.query),
    ] {
        if a != b {
            let i = a.iter().zip(b.iter()).position(|(x, y)| x != y);
            bail!(
                "{name}: the {what} differs from the hub's ({} lines against {}; first difference {:?} / {:?})",
                b.len(),
                a.len(),
                i.and_then(|i| a.get(i)),
                i.and_then(|i| b.get(i)),
            );
        }
    }
    Ok(())
}

// ----- engines ------------------------------------------------------------

struct Measured {
    engine: String,
    load_secs: f64,
    /// ms per run: aggregate, report, query.
    ms: [Vec<f64>; 3],
    figures: Figures,
}

fn timed<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<Vec<f64>> {
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f()?);
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(v)
}

/// The hub on `database` (opened as the hub opens it), loaded through
/// `put_incident_facts`, asked through the hub's own functions.
fn hub_engine(
    engine: &str,
    database: &str,
    org: &Org,
    facts: &[(String, IncidentFacts)],
    runs: usize,
) -> Result<Measured> {
    let db: Arc<dyn HubDb> = jingwu_hub::db::open(database)?;
    db.meta_set("org_json", &serde_json::to_string(org.data())?)?;
    let reg = jingwu_hub::server::registry(db.as_ref())?;
    let hub = Hub::new(db.clone(), Arc::new(reg), Limits::default())?;
    eprintln!("{engine}: loading {} records…", facts.len());
    let t0 = Instant::now();
    for chunk in facts.chunks(LOAD_BATCH) {
        db.put_incident_facts(chunk)?;
    }
    // As `import-incidents` does after a bulk load.
    db.refresh_statistics()?;
    let load_secs = t0.elapsed().as_secs_f64();
    eprintln!("{engine}: loaded in {load_secs:.0} s; asking…");

    let scope = Scope::All {
        name: "雷山县公安局".into(),
    };
    let filter = agg_filter();
    let q = query_request();
    let mut figures = Figures::default();
    for r in hub.incident_stats(&scope, &filter, "month,unit,category")? {
        let k = |n: &str| r.keys.get(n).cloned().unwrap_or_default();
        figures.agg.push(format!(
            "{} {} {} {}",
            k("month"),
            k("unit"),
            k("category"),
            m_line(&r.measures)
        ));
    }
    let period = Period::parse(WEEK)?;
    let data = jingwu_hub::stats::report_data(db.as_ref(), &Conditions::default(), &period)?;
    figures.report = report_lines(&data);
    let page = hub.incident_query(&scope, &q)?;
    figures.query.push(format!("total {}", page.total));
    figures
        .query
        .extend(page.rows.iter().map(|r| r.case_id.clone()));

    let agg = timed(runs, || {
        Ok(hub.incident_stats(&scope, &filter, "month,unit,category")?)
    })?;
    let report = timed(runs, || Ok(hub.incident_report(&scope, WEEK)?))?;
    let query = timed(runs, || Ok(hub.incident_query(&scope, &q)?))?;
    Ok(Measured {
        engine: engine.into(),
        load_secs,
        ms: [agg, report, query],
        figures,
    })
}

/// DuckDB through its Python package: loads the flat CSVs into a
/// database file, runs each question once for its figures and then
/// `runs` times, timing each run in the process (`perf_counter`).
const DUCKDB_PY: &str = r#"
import json, sys, time
import duckdb

spec = json.load(open(sys.argv[1], encoding="utf-8"))
con = duckdb.connect(spec["db"])
t0 = time.perf_counter()
for table, path, cols in (("incidents", spec["incidents"], spec["incident_cols"]),
                          ("incident_dispatches", spec["dispatches"], spec["dispatch_cols"])):
    types = ", ".join(f"'{c}': '{t}'" for c, t in cols)
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', header = true, "
                f"columns = {{{types}}}, allow_quoted_nulls = false)")
load = time.perf_counter() - t0
out = {"version": duckdb.__version__, "load_secs": load, "threads": con.execute(
    "SELECT current_setting('threads')").fetchone()[0], "questions": {}}
for name, stmts in spec["questions"]:
    rows = [[["" if v is None else str(v) for v in r] for r in con.execute(s).fetchall()]
            for s in stmts]
    ms = []
    for _ in range(spec["runs"]):
        t = time.perf_counter()
        for s in stmts:
            con.execute(s).fetchall()
        ms.append((time.perf_counter() - t) * 1000)
    out["questions"][name] = {"rows": rows, "ms": ms}
con.close()
json.dump(out, sys.stdout, ensure_ascii=False)
"#;

fn duckdb_engine(
    python: &str,
    dir: &Path,
    flat: &(PathBuf, PathBuf),
    sql: &PeerSql,
    runs: usize,
) -> Result<(Measured, String)> {
    let script = dir.join("duckdb_bench.py");
    std::fs::write(&script, DUCKDB_PY)?;
    let cols = |c: &[&str]| -> Vec<(String, String)> {
        c.iter()
            .map(|c| {
                (
                    c.to_string(),
                    if is_int(c) { "BIGINT" } else { "VARCHAR" }.to_string(),
                )
            })
            .collect()
    };
    let spec = serde_json::json!({
        "db": dir.join("duck.db"),
        "incidents": flat.0,
        "dispatches": flat.1,
        "incident_cols": cols(&INCIDENT_COLS),
        "dispatch_cols": cols(&DISPATCH_COLS),
        "runs": runs,
        "questions": [["agg", sql.agg], ["report", sql.report], ["query", sql.query]],
    });
    let spec_path = dir.join("duckdb_spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    eprintln!("DuckDB: loading and asking…");
    let out = Command::new(python)
        .arg(&script)
        .arg(&spec_path)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("{python} (DuckDB)"))?;
    ensure!(out.status.success(), "the DuckDB script failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let q = &v["questions"];
    let rows =
        |name: &str| -> Result<Vec<Rows>> { Ok(serde_json::from_value(q[name]["rows"].clone())?) };
    let ms =
        |name: &str| -> Result<Vec<f64>> { Ok(serde_json::from_value(q[name]["ms"].clone())?) };
    let figures = peer_figures(&rows("agg")?, &rows("report")?, &rows("query")?)?;
    let version = format!(
        "DuckDB {} ({} threads)",
        v["version"].as_str().unwrap_or("?"),
        v["threads"]
    );
    Ok((
        Measured {
            engine: "DuckDB (Python package), database file".into(),
            load_secs: v["load_secs"].as_f64().unwrap_or(f64::NAN),
            ms: [ms("agg")?, ms("report")?, ms("query")?],
            figures,
        },
        version,
    ))
}

/// A `sqlite3` shell kept open: statements in, rows (`|`-separated) out,
/// each batch ended by a marker row.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

const END: &str = "JINGWU-BENCH-END";

impl Shell {
    fn open(sqlite3: &str, db: &Path) -> Result<Shell> {
        let mut child = Command::new(sqlite3)
            .args(["-batch", "-list", "-noheader"])
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("{sqlite3} (the sqlite3 shell)"))?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("stdout")?);
        Ok(Shell {
            child,
            stdin,
            stdout,
        })
    }

    /// Runs `stmts`; each one's rows.
    fn run(&mut self, stmts: &[String]) -> Result<Vec<Rows>> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            writeln!(self.stdin, "{s};\nSELECT '{END}';")?;
        }
        self.stdin.flush()?;
        for _ in stmts {
            let mut rows = Vec::new();
            loop {
                let mut line = String::new();
                ensure!(
                    self.stdout.read_line(&mut line)? > 0,
                    "sqlite3 stopped answering"
                );
                let line = line.trim_end_matches(['\n', '\r']);
                if line == END {
                    break;
                }
                rows.push(line.split('|').map(str::to_string).collect());
            }
            out.push(rows);
        }
        Ok(out)
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, ".quit");
        let _ = self.child.wait();
    }
}

fn sqlite3_engine(
    sqlite3: &str,
    dir: &Path,
    flat: &(PathBuf, PathBuf),
    sql: &PeerSql,
    runs: usize,
) -> Result<(Measured, String)> {
    let db = dir.join("plain.db");
    let decl = |cols: &[&str], key: &str| {
        let c: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} {}", if is_int(c) { "INTEGER" } else { "TEXT" }))
            .collect();
        format!("{}, PRIMARY KEY ({key})", c.join(", "))
    };
    let script = format!(
        "CREATE TABLE incidents({});\n\
         CREATE TABLE incident_dispatches({});\n\
         .import --csv --skip 1 {} incidents\n\
         .import --csv --skip 1 {} incident_dispatches\n\
         UPDATE incident_dispatches SET ack_secs = NULLIF(ack_secs, ''), \
           depart_secs = NULLIF(depart_secs, ''), feedback_secs = NULLIF(feedback_secs, '');\n\
         CREATE INDEX incidents_time ON incidents(report_at);\n",
        decl(&INCIDENT_COLS, "case_id"),
        decl(&DISPATCH_COLS, "case_id, no"),
        flat.0.display(),
        flat.1.display(),
    );
    eprintln!("sqlite3: loading…");
    let t0 = Instant::now();
    let mut child = Command::new(sqlite3)
        .args(["-batch", "-bail"])
        .arg(&db)
        .stdin(Stdio::piped())
        .spawn()
        .with_context(|| format!("{sqlite3} (the sqlite3 shell)"))?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(script.as_bytes())?;
    ensure!(child.wait()?.success(), "sqlite3 could not load the rows");
    let load_secs = t0.elapsed().as_secs_f64();
    eprintln!("sqlite3: loaded in {load_secs:.0} s; asking…");
    let version = String::from_utf8_lossy(&Command::new(sqlite3).arg("--version").output()?.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string();

    let mut sh = Shell::open(sqlite3, &db)?;
    let agg = sh.run(&sql.agg)?;
    let report = sh.run(&sql.report)?;
    let query = sh.run(&sql.query)?;
    let figures = peer_figures(&agg, &report, &query)?;
    let mut ms: [Vec<f64>; 3] = Default::default();
    for (i, stmts) in [&sql.agg, &sql.report, &sql.query].into_iter().enumerate() {
        ms[i] = timed(runs, || sh.run(stmts))?;
    }
    Ok((
        Measured {
            engine: "sqlite3 shell, plain table".into(),
            load_secs,
            ms,
            figures,
        },
        format!("sqlite3 {version}"),
    ))
}

// ----- the table ------------------------------------------------------------

fn pg_available() -> bool {
    postgres::Client::connect(PG, postgres::NoTls).is_ok()
}

/// A fresh PostgreSQL schema, dropped at the end unless
/// `JINGWU_BENCH_PG_KEEP=1` (then kept for `EXPLAIN ANALYZE` by hand).
struct PgSchema(String, bool);

impl PgSchema {
    fn new() -> PgSchema {
        let mut b = [0u8; 6];
        let _ = getrandom::fill(&mut b);
        let keep = std::env::var("JINGWU_BENCH_PG_KEEP").as_deref() == Ok("1");
        PgSchema(format!("bench_{}", hex::encode(b)), keep)
    }

    fn url(&self) -> String {
        format!("{PG}?schema={}", self.0)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if self.1 {
            eprintln!("PostgreSQL schema {} kept (JINGWU_BENCH_PG_KEEP=1)", self.0);
            return;
        }
        if let Ok(mut c) = postgres::Client::connect(PG, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
        }
    }
}

fn cell(v: &[f64]) -> String {
    format!("{:.1} / {:.1} ms", pct(v, 0.5), pct(v, 0.95))
}

fn main() -> Result<()> {
    let count = env_num("JINGWU_BENCH_STATS_COUNT", 1_000_000);
    let runs = env_num("JINGWU_BENCH_RUNS", 20).max(1);
    let python = std::env::var("JINGWU_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let sqlite3 = std::env::var("JINGWU_BENCH_SQLITE3").unwrap_or_else(|_| "sqlite3".into());
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "Machine: {cores} cores; load average at start {}.",
        loadavg()
    );

    let dir = tempfile::Builder::new()
        .prefix("jingwu-bench-stats-")
        .tempdir()?;
    let org = Org::leishan_demo().map_err(|e| anyhow::anyhow!("{e}"))?;
    let reg = Registry::builtin_with_org(org.clone())?;
    eprintln!("generating {count} records (scripts/gen-incidents.py)…");
    let t0 = Instant::now();
    let csv = generate(dir.path(), count)?;
    eprintln!(
        "generated in {:.0} s; reading them as the import does…",
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let facts = facts_of_csv(&csv, &reg)?;
    std::fs::remove_file(&csv)?;
    eprintln!("read in {:.0} s", t0.elapsed().as_secs_f64());
    let flat = write_flat(dir.path(), &facts)?;
    let unfinished = facts.iter().filter(|(_, f)| f.status != "archived").count();
    let invalid = facts.iter().filter(|(_, f)| !f.valid).count();
    let dispatches: usize = facts.iter().map(|(_, f)| f.dispatches.len()).sum();
    let units = Filter {
        unit: Some(Q_UNIT.into()),
        ..Filter::default()
    }
    .check(&reg)
    .map_err(|e| anyhow::anyhow!("{e:?}"))?
    .units
    .unwrap_or_default();
    let sql = peer_sql(&units)?;

    let mut measured = Vec::new();
    {
        let db = dir.path().join("hub.db").display().to_string();
        measured.push(hub_engine(
            "hub store, SQLite (WAL)",
            &db,
            &org,
            &facts,
            runs,
        )?);
    }
    if std::env::var("JINGWU_BENCH_PG").as_deref() != Ok("0") && pg_available() {
        let schema = PgSchema::new();
        measured.push(hub_engine(
            "hub store, PostgreSQL 15",
            &schema.url(),
            &org,
            &facts,
            runs,
        )?);
    } else {
        eprintln!("PostgreSQL not run (JINGWU_BENCH_PG=0 or no server on 127.0.0.1:5432)");
    }
    drop(facts);
    let mut versions = Vec::new();
    let duck = duckdb_engine(&python, dir.path(), &flat, &sql, runs);
    let duck_ms = match duck {
        Ok((m, v)) => {
            versions.push(v);
            let ms = m.ms.clone();
            measured.push(m);
            Some(ms)
        }
        Err(e) => {
            eprintln!("DuckDB not run: {e:#} (JINGWU_BENCH_PYTHON names a Python with the duckdb package)");
            None
        }
    };
    match sqlite3_engine(&sqlite3, dir.path(), &flat, &sql, runs) {
        Ok((m, v)) => {
            versions.push(v);
            measured.push(m);
        }
        Err(e) => eprintln!("sqlite3 not run: {e:#}"),
    }
    for m in &measured[1..] {
        compare(&m.engine, &measured[0].figures, &m.figures)?;
    }

    println!();
    println!(
        "{count} records of scripts/gen-incidents.py ({FROM} to {TO}; {unfinished} unfinished, {invalid} invalid, {dispatches} measured dispatches), read by the import's parser; the same rows in every engine, and every engine's figures equal the hub's. Warm, {runs} runs each: median / p95. {}.",
        versions.join(", ")
    );
    println!();
    println!("| engine | load | aggregate: month × unit × category, 3 years | weekly report {WEEK} (警情通报) | query: {Q_FROM}…{Q_TO}, 丹江派出所 and units under it, “{Q_TEXT}”, newest {PAGE} + total | ratio to DuckDB (median: aggregate / report / query) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for m in &measured {
        let ratio = match &duck_ms {
            Some(d) => (0..3)
                .map(|i| format!("{:.2}", pct(&m.ms[i], 0.5) / pct(&d[i], 0.5)))
                .collect::<Vec<_>>()
                .join(" / "),
            None => "—".into(),
        };
        println!(
            "| {} | {:.0} s ({:.0} records/s) | {} | {} | {} | {ratio} |",
            m.engine,
            m.load_secs,
            count as f64 / m.load_secs,
            cell(&m.ms[0]),
            cell(&m.ms[1]),
            cell(&m.ms[2]),
        );
    }
    println!(
        "| target (hub, median, 2 cores) | — | < {:.0} ms | < {:.0} ms | < {:.0} ms | ≤ {MAX_RATIO:.0} on each |",
        TARGETS[0], TARGETS[1], TARGETS[2]
    );
    for m in measured.iter().filter(|m| m.engine.starts_with("hub")) {
        let mut misses = Vec::new();
        for (i, what) in ["aggregate", "report", "query"].iter().enumerate() {
            let med = pct(&m.ms[i], 0.5);
            if med >= TARGETS[i] {
                misses.push(format!("{what} {med:.1} ms ≥ {:.0} ms", TARGETS[i]));
            }
            if let Some(d) = &duck_ms {
                let r = med / pct(&d[i], 0.5);
                if r > MAX_RATIO {
                    misses.push(format!("{what} {r:.2} × DuckDB"));
                }
            }
        }
        println!();
        if misses.is_empty() {
            println!("{}: every target met.", m.engine);
        } else {
            println!("{}: **not met**: {}.", m.engine, misses.join("; "));
        }
    }
    println!();
    println!("Load average at the end {}.", loadavg());
    Ok(())
}
