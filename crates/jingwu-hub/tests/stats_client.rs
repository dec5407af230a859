//! The station's client of the 110 查询统计 API (what the desktop's
//! 查询统计 screens call): every method against a real hub on loopback —
//! access and scope, a query page, exports (CSV, xlsx), statistics,
//! speed, the 警情通报 as JSON and PDF, saved queries (names with spaces
//! and slashes), the refusal of someone who may not query, and an
//! unreachable hub. The screens' layout (`jingwu_report::screens`) of the
//! answers is checked on the same data.

use std::sync::Arc;

use jingwu_core::stats::Scope;
use jingwu_hub::hub::{Caller, Hub};
use jingwu_hub::server;
use jingwu_hub::stats::{ImportRun, ImportSigner};
use jingwu_proto::{QueryRequest, SavedQuery, SortBy, SpeedRequest, StatsRequest};
use jingwu_station::client::{ClientError, HubClient};

use crate::common::*;

const DESK: &str = "052608";
const DIRECTOR: &str = "052601";
const DJ_CHIEF: &str = "052616";
const DJ_OFFICER: &str = "052618";
const DANJIANG: &str = "522634510000";

fn caller(person: &str, admin: bool) -> Caller {
    Caller {
        person: person.into(),
        is_admin: admin,
        device: None,
        token_hash: String::new(),
    }
}

/// The hub with `n` generated records imported by the desk (its hosted key).
fn seeded(place: &HubPlace, n: usize) {
    place.init(&[DESK, DIRECTOR, DJ_CHIEF, DJ_OFFICER]);
    let db = place.open_db();
    let reg = server::registry(db.as_ref()).unwrap();
    let hub = Hub::new(db, Arc::new(reg), Default::default()).unwrap();
    hub.create_hosted_key(&caller(DESK, false), PIN).unwrap();
    for e in hub.db.enrolments(Some("pending")).unwrap() {
        hub.decide_enrolment(&caller("admin", true), &e.id, "approve")
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("h.csv");
    let st = std::process::Command::new("python3")
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/gen-incidents.py"),
        )
        .args(["--count", &n.to_string(), "--seed", "5", "--out"])
        .arg(&csv)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&csv).unwrap();
    let o = hub
        .import_incidents(
            &caller(DESK, false),
            &ImportRun {
                name: "h.csv",
                bytes: &bytes,
                only_valid: false,
                dry_run: false,
                signer: ImportSigner::Hosted { pin: PIN },
                progress: &|_, _| {},
            },
        )
        .unwrap();
    assert_eq!(o.imported, n, "{o:?}");
}

async fn client(url: &str, person: &str) -> HubClient {
    let mut c = HubClient::new(url, None).unwrap();
    c.login(person, PASSWORD, "test").await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_station_client_reads_the_statistics_api() {
    let place = HubPlace::new(Backend::Sqlite);
    seeded(&place, 300);
    let hub = RunningHub::start(&place).await;
    let reg = hub.hub.reg().clone();
    let director = client(&hub.url, DIRECTOR).await;

    // Access: the whole bureau; no import (not a desk member).
    let a = director.stats_access().await.unwrap();
    assert!(a.allowed && a.reason.is_none() && !a.can_import, "{a:?}");
    let scope = a.scope.unwrap();
    assert!(matches!(scope, Scope::Bureau { .. }), "{scope:?}");
    let options = jingwu_report::stats_options(&reg, &scope);
    let units: Vec<&str> = options["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(units[0], "522634000000", "the bureau first: {units:?}");
    assert!(units.contains(&DANJIANG) && units.len() > 10, "{units:?}");
    assert!(options["categories"].as_array().unwrap().len() > 30);
    let desk = client(&hub.url, DESK).await;
    assert!(desk.stats_access().await.unwrap().can_import);

    // A page, sorted by loss, and its screen layout.
    let q = QueryRequest {
        sort: SortBy::Loss,
        desc: true,
        per_page: 20,
        page: 2,
        ..Default::default()
    };
    let page = director.incident_query(&q).await.unwrap();
    assert_eq!((page.total, page.page, page.rows.len()), (300, 2, 20));
    assert!(page.rows.windows(2).all(|w| w[0].loss_fen >= w[1].loss_fen));
    let view = jingwu_report::query_page_view(&reg, &page);
    assert_eq!(view["pages"], 15);
    let r0 = &view["rows"][0];
    assert_eq!(
        r0["loss"],
        jingwu_report::fen_text(page.rows[0].loss_fen),
        "{r0}"
    );
    assert!(!r0["unit_name"].as_str().unwrap().is_empty(), "{r0}");

    // Exports.
    let csv = director.incident_export(&q, "csv").await.unwrap();
    assert_eq!(csv.name, "incidents.csv");
    assert!(csv.mime.starts_with("text/csv"), "{}", csv.mime);
    assert!(csv.bytes.starts_with("\u{feff}接警单编号".as_bytes()));
    assert_eq!(
        String::from_utf8_lossy(&csv.bytes).lines().count(),
        301,
        "every record, not one page"
    );
    let xlsx = director.incident_export(&q, "xlsx").await.unwrap();
    assert!(xlsx.bytes.starts_with(b"PK") && xlsx.name == "incidents.xlsx");
    let e = director.incident_export(&q, "doc").await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");

    // Statistics and speed.
    let sq = StatsRequest {
        filter: Default::default(),
        by: "year,unit".into(),
    };
    let rows = director.incident_stats(&sq).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.measures.count).sum::<i64>(), 300);
    let v = jingwu_report::stats_view(&reg, &sq.by, &rows);
    assert!(
        v["rows"][0]["names"]["unit"]
            .as_str()
            .unwrap()
            .ends_with("大队")
            || v["rows"][0]["names"]["unit"]
                .as_str()
                .unwrap()
                .ends_with("所")
    );
    let file = director.incident_stats_file(&sq, "xlsx").await.unwrap();
    assert!(file.bytes.starts_with(b"PK") && file.name == "stats.xlsx");
    let speed = director
        .incident_speed(&SpeedRequest {
            filter: Default::default(),
            kind: "depart".into(),
        })
        .await
        .unwrap();
    assert!(!speed.is_empty() && speed.len() % 5 == 0);
    let v = jingwu_report::speed_view(&reg, "depart", &speed);
    assert_eq!(v["units"].as_array().unwrap().len(), speed.len() / 5);

    // The 警情通报 of the generator's last month, as JSON and as a PDF.
    let report = director.incident_report("2026-11").await.unwrap();
    assert_eq!(report.period, "2026-11");
    assert!(report.totals.current.count > 0);
    let v = jingwu_report::report_view(&report);
    assert_eq!(v["tables"][0]["rows"][0][0]["text"], "警情数");
    let pdf = director
        .incident_report_file("2026-11", "pdf")
        .await
        .unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF"));
    assert_eq!(pdf.name, "jingqing-2026-11.pdf");
    let e = director.incident_report("2026-13").await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");

    // Saved queries, by names a URL must escape.
    let name = "丹江 纠纷/夜间";
    let filter: jingwu_core::stats::Filter =
        serde_json::from_value(serde_json::json!({"unit": DANJIANG, "text": "纠纷"})).unwrap();
    director
        .save_query(&SavedQuery {
            name: name.into(),
            filter: filter.clone(),
        })
        .await
        .unwrap();
    let saved = director.saved_queries().await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].name.as_str(), &saved[0].filter), (name, &filter));
    director.delete_query(name).await.unwrap();
    assert!(director.saved_queries().await.unwrap().is_empty());
    let e = director.delete_query(name).await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");

    // A station chief: his station.
    let chief = client(&hub.url, DJ_CHIEF).await;
    let a = chief.stats_access().await.unwrap();
    match a.scope {
        Some(Scope::Units { ref units, .. }) => assert!(units.contains(&DANJIANG.to_string())),
        ref o => panic!("{o:?}"),
    }
    let page = chief
        .incident_query(&QueryRequest {
            per_page: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.total > 0 && page.rows.iter().all(|r| r.unit == DANJIANG));

    // An officer: no access, and refused by the hub all the same.
    let officer = client(&hub.url, DJ_OFFICER).await;
    let a = officer.stats_access().await.unwrap();
    assert!(!a.allowed && a.scope.is_none(), "{a:?}");
    assert!(a.reason.unwrap().contains("没有查询"));
    let e = officer
        .incident_query(&QueryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(e.to_string().contains("没有查询警情和统计的权限"), "{e}");
    let e = officer
        .incident_report_file("2026-11", "pdf")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    hub.stop().await;

    // The hub gone: the client says it cannot connect.
    let e = director.incident_query(&q).await.unwrap_err();
    assert!(matches!(e, ClientError::Offline(_)), "{e}");
    assert!(e.to_string().starts_with("无法连接县局服务器"), "{e}");
}
