//! 110 statistics through the real `jingwu-hub` binary and the API:
//! the generator's file imported (signed by the importing officer), then
//! every figure of `stats` and of a weekly and a yearly 警情通报 against
//! an independent computation in Python (`tests/stats/reference.py`,
//! sqlite3 over the same CSV); imports refused whole for bad rows and
//! idempotent; the report's PDF read by poppler and its xlsx by
//! openpyxl; the scope of each role over the HTTP API.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use jingwu_hub::hub::{Caller, Hub};
use jingwu_hub::server;
use jingwu_hub::stats::{ImportRun, ImportSigner};
use serde_json::{json, Value};

use crate::common::*;

/// 110巡警大队 接警员 (imports).
const DESK: &str = "052608";
/// 局长.
const DIRECTOR: &str = "052601";
/// 丹江派出所 所长 and 民警.
const DJ_CHIEF: &str = "052616";
const DJ_OFFICER: &str = "052618";
/// 户政股 股长 (may not query).
const SECTION_CHIEF: &str = "052605";
const DANJIANG: &str = "522634510000";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn python(args: &[&str]) -> String {
    run(Command::new("python3").current_dir(repo()).args(args))
}

fn generate(out: &Path, count: usize, extra: &[&str]) {
    let count = count.to_string();
    let mut args = vec![
        "scripts/gen-incidents.py",
        "--count",
        &count,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    python(&args);
}

fn hub_cmd(place: &HubPlace) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"));
    c.arg("--data-dir").arg(place.dir.path());
    if let Some(u) = &place.database_url {
        c.arg("--database-url").arg(u);
    }
    c.env("JINGWU_PIN", PIN);
    c
}

fn caller(person: &str, admin: bool) -> Caller {
    Caller {
        person: person.into(),
        is_admin: admin,
        device: None,
        token_hash: String::new(),
    }
}

/// A hub with the desk officer's hosted key approved.
fn hub_with_desk_key(place: &HubPlace) -> Arc<Hub> {
    place.init(&[DESK, DIRECTOR, DJ_CHIEF, DJ_OFFICER, SECTION_CHIEF]);
    let db = place.open_db();
    let reg = server::registry(db.as_ref()).unwrap();
    let hub = Hub::new(db, Arc::new(reg), Default::default()).unwrap();
    hub.create_hosted_key(&caller(DESK, false), PIN).unwrap();
    for e in hub.db.enrolments(Some("pending")).unwrap() {
        hub.decide_enrolment(&caller("admin", true), &e.id, "approve")
            .unwrap();
    }
    hub
}

fn import(place: &HubPlace, file: &Path, extra: &[&str]) -> (bool, Value, String) {
    let out = hub_cmd(place)
        .arg("import-incidents")
        .arg(file)
        .args(["--as", DESK])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let summary = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or(Value::Null);
    (out.status.success(), summary, stderr)
}

/// Runs `jingwu-hub stats` and the reference with the same arguments,
/// and compares the two.
fn same_stats(place: &HubPlace, csv: &Path, dir: &Path, args: &[&str], tag: &str) {
    let hub_out = dir.join(format!("hub-{tag}.json"));
    let ref_out = dir.join(format!("ref-{tag}.json"));
    run(hub_cmd(place)
        .arg("stats")
        .args(args)
        .args(["--format", "json", "--out"])
        .arg(&hub_out));
    let (kind, rest): (&str, Vec<&str>) = match args.iter().position(|a| *a == "--speed") {
        Some(i) => (
            "speed",
            args.iter()
                .enumerate()
                .filter(|(j, _)| *j != i && *j != i + 1)
                .map(|(_, a)| *a)
                .chain(["--kind", args[i + 1]])
                .collect(),
        ),
        None => ("stats", args.to_vec()),
    };
    let mut ref_args = vec![
        "tests/stats/reference.py",
        kind,
        "--csv",
        csv.to_str().unwrap(),
    ];
    ref_args.extend(rest);
    let reference = python(&ref_args);
    std::fs::write(&ref_out, reference).unwrap();
    python(&[
        "tests/stats/reference.py",
        "compare",
        hub_out.to_str().unwrap(),
        ref_out.to_str().unwrap(),
    ]);
}

fn same_report(place: &HubPlace, csv: &Path, dir: &Path, period: &str) -> Value {
    let hub_out = dir.join(format!("report-{period}.json"));
    let ref_out = dir.join(format!("ref-report-{period}.json"));
    run(hub_cmd(place)
        .args(["report", "--period", period, "--out"])
        .arg(&hub_out));
    let reference = python(&[
        "tests/stats/reference.py",
        "report",
        "--csv",
        csv.to_str().unwrap(),
        "--period",
        period,
    ]);
    std::fs::write(&ref_out, reference).unwrap();
    python(&[
        "tests/stats/reference.py",
        "compare-report",
        hub_out.to_str().unwrap(),
        ref_out.to_str().unwrap(),
    ]);
    serde_json::from_slice(&std::fs::read(&hub_out).unwrap()).unwrap()
}

/// The generator's records, imported and counted every way, equal the
/// reference's figures exact to the fen and the second.
async fn figures(backend: Backend) {
    let place = HubPlace::new(backend);
    let _hub = hub_with_desk_key(&place);
    let dir = tempfile::tempdir().unwrap();
    // 100,000 records over three years on SQLite; the same code on
    // PostgreSQL with fewer (its run is the same SQL, so fewer suffice).
    let count = match backend {
        Backend::Sqlite => 100_000,
        Backend::Postgres => 6_000,
    };
    let csv = dir.path().join("incidents.csv");
    generate(&csv, count, &[]);
    let (ok, summary, stderr) = import(&place, &csv, &[]);
    assert!(ok, "{summary} {stderr}");
    assert_eq!(summary["imported"], count, "{summary}");
    assert_eq!(summary["refused"], 0, "{summary}");

    let all = ["--from", "2023-12-01", "--to", "2026-11-30"];
    let by = |b: &'static str| -> Vec<&'static str> {
        let mut v = all.to_vec();
        v.extend(["--by", b]);
        v
    };
    same_stats(
        &place,
        &csv,
        dir.path(),
        &by("month,unit,category,township"),
        "m-u-c-t",
    );
    same_stats(&place, &csv, dir.path(), &by("year,category"), "y-c");
    same_stats(&place, &csv, dir.path(), &by("quarter,unit"), "q-u");
    same_stats(&place, &csv, dir.path(), &by("week"), "w");
    same_stats(&place, &csv, dir.path(), &by(""), "total");
    same_stats(
        &place,
        &csv,
        dir.path(),
        &[
            "--from",
            "2025-12-29",
            "--to",
            "2026-01-11",
            "--by",
            "day,township",
        ],
        "d-t",
    );
    for kind in ["ack", "depart", "feedback"] {
        let mut v = all.to_vec();
        v.extend(["--speed", kind, "--by", "unit"]);
        same_stats(&place, &csv, dir.path(), &v, kind);
    }
    let week = same_report(&place, &csv, dir.path(), "2026-W48");
    assert_eq!(week["from"], "2026-11-23");
    let year = same_report(&place, &csv, dir.path(), "2025");
    assert!(year["totals"]["current"]["count"].as_i64().unwrap() > 0);
    same_report(&place, &csv, dir.path(), "2026-Q3");
    same_report(&place, &csv, dir.path(), "2026-02");

    // Importing the same file again adds nothing.
    let (ok, again, stderr) = import(&place, &csv, &[]);
    assert!(ok, "{again} {stderr}");
    assert_eq!(
        (again["imported"].as_u64(), again["already"].as_u64()),
        (Some(0), Some(count as u64))
    );
    same_stats(&place, &csv, dir.path(), &by("year"), "y-again");
}

crate::both_backends!(generated_figures_equal_an_independent_count, figures);

/// A file with three bad rows: exactly three row errors, nothing
/// imported; then only the valid rows on request.
async fn bad_rows(backend: Backend) {
    let place = HubPlace::new(backend);
    let hub = hub_with_desk_key(&place);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    generate(&csv, 200, &["--bad", "3", "--seed", "7"]);
    let errors = dir.path().join("errors.csv");
    let (ok, summary, stderr) = import(&place, &csv, &["--errors", errors.to_str().unwrap()]);
    assert!(!ok, "a file with bad rows is refused");
    assert!(stderr.contains("未导入任何记录"), "{stderr}");
    assert_eq!(summary["refused"], 3, "{summary}");
    assert_eq!(summary["errors"], 3, "{summary}");
    assert_eq!(summary["imported"], 0, "{summary}");
    assert_eq!(hub.db.counts().unwrap().0, 0, "nothing imported");
    let report = std::fs::read_to_string(&errors).unwrap();
    assert_eq!(
        report.lines().count(),
        4,
        "header and three errors: {report}"
    );
    assert!(report.starts_with("\u{feff}行,列,值,错误"), "{report}");
    // The same through the API, as a dry run: the same three errors.
    let data = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        std::fs::read(&csv).unwrap(),
    );
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap();
    let o = hub
        .import_incidents(&caller(DESK, false), &dry("bad.csv", &bytes))
        .unwrap();
    assert_eq!((o.refused, o.errors.len(), o.imported), (3, 3, 0));
    assert!(o.errors.iter().all(|e| !e.message.is_empty() && e.row > 0));
    // Only the valid rows, explicitly.
    let (ok, summary, stderr) = import(&place, &csv, &["--only-valid"]);
    assert!(ok, "{summary} {stderr}");
    assert_eq!(summary["imported"], 197, "{summary}");
    // Someone outside the desks may not import.
    let e = hub
        .import_incidents(&caller(DJ_OFFICER, false), &dry("bad.csv", b"x"))
        .unwrap_err();
    assert!(
        e.body.error.contains("只有 110 巡警大队或指挥中心"),
        "{}",
        e.body.error
    );
    // A file that is not one.
    let e = hub
        .import_incidents(&caller(DESK, false), &dry("a.doc", b"x"))
        .unwrap_err();
    assert!(e.body.error.contains(".xlsx 或 .csv"), "{}", e.body.error);
}

crate::both_backends!(bad_rows_import_nothing, bad_rows);

/// A dry run of `bytes` as the file `name`.
fn dry<'a>(name: &'a str, bytes: &'a [u8]) -> ImportRun<'a> {
    ImportRun {
        name,
        bytes,
        only_valid: false,
        dry_run: true,
        signer: ImportSigner::Hosted { pin: "" },
        progress: &|_, _| {},
    }
}

async fn login(url: &str, person: &str) -> (reqwest::Client, String) {
    let http = jingwu_station::pin::http_client(None).unwrap();
    let r: Value = http
        .post(format!("{url}/api/login"))
        .json(&json!({"person": person, "password": PASSWORD, "device": "test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (http, r["token"].as_str().unwrap_or_default().to_string())
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let r = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Over the API: a station chief counts his station only, a bureau
/// leader and the desk every record, an officer nothing; the desk sees no
/// 户口变更 case; saved queries; exports and the report in every format.
async fn scope(backend: Backend) {
    let place = HubPlace::new(backend);
    let _ = hub_with_desk_key(&place);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("some.csv");
    generate(&csv, 1_500, &["--seed", "3"]);
    let (ok, summary, stderr) = import(&place, &csv, &[]);
    assert!(ok, "{summary} {stderr}");
    let running = RunningHub::start(&place).await;
    let url = &running.url;
    let q = |filter: Value| json!({"filter": filter, "per_page": 500});
    let mut totals = Vec::new();
    for p in [DIRECTOR, DESK, DJ_CHIEF] {
        let (http, token) = login(url, p).await;
        let (status, page) = post(
            &http,
            &format!("{url}/api/incidents/query"),
            &token,
            q(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{p}: {page}");
        totals.push(page["total"].as_i64().unwrap());
        if p == DJ_CHIEF {
            let rows = page["rows"].as_array().unwrap();
            assert!(!rows.is_empty());
            assert!(rows.iter().all(|r| r["unit"] == DANJIANG), "{page}");
            // Another unit asked for by name: nothing of it.
            let (_, other) = post(
                &http,
                &format!("{url}/api/incidents/query"),
                &token,
                q(json!({"unit": "522634520000"})),
            )
            .await;
            assert_eq!(other["total"], 0, "{other}");
            let (_, st) = post(
                &http,
                &format!("{url}/api/incidents/stats"),
                &token,
                json!({"filter": {}, "by": "unit"}),
            )
            .await;
            let units: Vec<&str> = st
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["unit"].as_str().unwrap())
                .collect();
            assert_eq!(units, [DANJIANG], "{st}");
        }
    }
    assert_eq!(totals[0], 1_500);
    assert_eq!(totals[1], 1_500);
    assert!(totals[2] > 0 && totals[2] < 1_500, "{totals:?}");
    for p in [DJ_OFFICER, SECTION_CHIEF] {
        let (http, token) = login(url, p).await;
        let (status, body) = post(
            &http,
            &format!("{url}/api/incidents/query"),
            &token,
            q(json!({})),
        )
        .await;
        assert_eq!(status, 403, "{p}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("没有查询"),
            "{body}"
        );
    }
    // The bureau leader reads the records themselves too (pull).
    let (http, token) = login(url, DIRECTOR).await;
    let (mut after, mut pulled) = (0, 0);
    loop {
        let page: Value = http
            .get(format!("{url}/api/events?after={after}&limit=1000"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pulled += page["events"].as_array().map(Vec::len).unwrap_or(0);
        after = page["next"].as_i64().unwrap();
        if page["more"] != true {
            break;
        }
    }
    assert_eq!(pulled, 1_500, "局长 pulls every incident");
    // Conditions: free text, a class, a loss range, paging and sorting.
    let (_, page) = post(
        &http,
        &format!("{url}/api/incidents/query"),
        &token,
        json!({"filter": {"text": "纠纷", "loss_min": "0.01"}, "sort": "loss", "desc": true, "page": 1, "per_page": 5}),
    )
    .await;
    let rows = page["rows"].as_array().unwrap();
    assert!(rows.len() <= 5);
    assert!(rows
        .windows(2)
        .all(|w| w[0]["loss_fen"].as_i64() >= w[1]["loss_fen"].as_i64()));
    assert!(rows.iter().all(|r| r["loss_fen"].as_i64().unwrap() > 0
        && (r["summary"].as_str().unwrap().contains("纠纷")
            || r["location"].as_str().unwrap().contains("纠纷"))));
    let (status, body) = post(
        &http,
        &format!("{url}/api/incidents/query"),
        &token,
        q(json!({"from": "2026-02-30"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("起始日期"),
        "{body}"
    );
    // An imported record's evidence bundle verifies: its first event is
    // the signed import.
    let some_case = page["rows"][0]["case_id"].as_str().unwrap().to_string();
    let bundle = dir.path().join("bundle.json");
    run(hub_cmd(&place)
        .args(["export-case", &some_case, "--out"])
        .arg(&bundle));
    let verified = run(Command::new(env!("CARGO_BIN_EXE_jingwu-hub"))
        .arg("verify-case")
        .arg(&bundle));
    assert!(verified.contains("证据包有效"), "{verified}");
    // Saved queries.
    let (status, _) = post(
        &http,
        &format!("{url}/api/queries"),
        &token,
        json!({"name": "丹江纠纷", "filter": {"unit": DANJIANG, "text": "纠纷"}}),
    )
    .await;
    assert_eq!(status, 204);
    let saved: Value = http
        .get(format!("{url}/api/queries"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved[0]["name"], "丹江纠纷", "{saved}");
    // Exports and the report in every format.
    for (path, fmt, magic) in [
        (
            "/api/incidents/export?format=csv",
            "csv",
            "\u{feff}".as_bytes(),
        ),
        (
            "/api/incidents/export?format=xlsx",
            "xlsx",
            b"PK".as_slice(),
        ),
    ] {
        let r = http
            .post(format!("{url}{path}"))
            .bearer_auth(&token)
            .json(&q(json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{fmt}");
        let b = r.bytes().await.unwrap();
        assert!(b.starts_with(magic), "{fmt}");
    }
    let pdf = http
        .get(format!(
            "{url}/api/incidents/report?period=2026-11&format=pdf"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    // The report's PDF and xlsx hold the JSON's figures.
    let r: Value = http
        .get(format!("{url}/api/incidents/report?period=2026-11"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pdf_path = dir.path().join("r.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let fonts = run(Command::new("pdffonts").arg(&pdf_path));
    assert!(
        fonts.lines().skip(2).all(|l| l.contains(" yes ")),
        "fonts embedded: {fonts}"
    );
    let text = run(Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf_path)
        .arg("-"));
    assert!(text.contains("警情通报"), "{text}");
    let count = r["totals"]["current"]["count"]
        .as_i64()
        .unwrap()
        .to_string();
    assert!(text.contains(&count), "{count} in the PDF");
    let xlsx = http
        .get(format!(
            "{url}/api/incidents/report?period=2026-11&format=xlsx"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let xlsx_path = dir.path().join("r.xlsx");
    std::fs::write(&xlsx_path, &xlsx).unwrap();
    // Debian's python3 (where python3-openpyxl is installed), whatever
    // python3 comes first on PATH.
    let cells = run(Command::new("/usr/bin/python3").current_dir(repo()).args([
        "-c",
        "import openpyxl,sys,json\nwb=openpyxl.load_workbook(sys.argv[1])\nprint(json.dumps([[c for c in r] for ws in wb.worksheets for r in ws.iter_rows(values_only=True)], ensure_ascii=False, default=str))",
        xlsx_path.to_str().unwrap(),
    ]));
    let cells: Value = serde_json::from_str(&cells).unwrap();
    let flat: Vec<String> = cells
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.to_string()))
        .collect();
    assert!(
        flat.iter().any(|c| c.trim_matches('"') == count),
        "{count} in the workbook"
    );
    let loss = r["totals"]["current"]["loss_fen"].as_i64().unwrap();
    let yuan = format!("{}.{:02}", loss / 100, loss % 100);
    assert!(
        flat.iter()
            .any(|c| c.parse::<f64>().ok().map(|v| format!("{v:.2}")) == Some(yuan.clone())),
        "{yuan} in the workbook"
    );
    running.stop().await;
}

crate::both_backends!(scope_formats_and_saved_queries, scope);
