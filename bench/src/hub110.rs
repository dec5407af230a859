//! 110 benchmarks: dispatch → the dispatched unit's live channel (the SSE
//! channel the desktop listens on) with 100 units connected on loopback,
//! and the desk's intake throughput (接警 + 派警 per second through the
//! real push path: HTTP, decoding, SM2 verification, the rules, the
//! durable group commit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::StreamExt as _;
use jingwu_core::case::CaseState;
use jingwu_core::caseno::{issuer_of, CaseNo};
use jingwu_core::crypto::Signer as _;
use jingwu_core::event::{Action, SignedEvent};
use jingwu_core::form::{CaseType, FormValues};
use jingwu_core::org::{Org, Person, PostHolding, Unit, UnitKind};
use jingwu_core::registry::Registry;
use jingwu_hub::hub::Hub;
use jingwu_hub::server::{self, Config};
use jingwu_station::client::{HubClient, LiveMsg};
use uuid::Uuid;

use super::{apply, caller, fresh_hub_org, wire_of, Author, PASSWORD};

/// The desks of the demo county: (person, unit).
const DESKS: [(&str, &str); 4] = [
    ("052608", "522634080000"),
    ("052609", "522634080000"),
    ("052645", "522634080000"),
    ("052647", "522634060000"),
];
const BUREAU: &str = "522634000000";

fn today() -> time::Date {
    time::OffsetDateTime::now_utc()
        .to_offset(jingwu_core::SHANGHAI)
        .date()
}

/// A complete 接警单 reported a minute ago.
fn intake(n: usize) -> FormValues {
    let t = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .to_offset(jingwu_core::SHANGHAI)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let v = serde_json::json!({
        "report_time": t, "receive_time": t,
        "alarm_method": "1", "alarm_phone": format!("139{:08}", n % 100_000_000),
        "caller_name": "李春生", "location": "丹江镇营上村三组", "township": "522634100",
        "summary": "报警人称邻居家起火", "alarm_category": "040000", "level": "1"
    });
    match v {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        _ => FormValues::new(),
    }
}

/// 接警 by `desk` at `unit`, the `n`-th number of its issuer today.
fn create(reg: &Registry, desk: &Author, unit: &str, n: usize) -> Result<Action> {
    Ok(Action::Create {
        case_type: CaseType::Incident,
        template: reg
            .template_latest("incident")
            .context("接处警模板")?
            .reference(),
        workflow: None,
        case_no: CaseNo::format(
            unit,
            today(),
            &issuer_of(&desk.key.public_key().fingerprint(), "bench"),
            n as u32 + 1,
        ),
        unit: unit.into(),
        form: intake(n),
        registry: None,
    })
}

/// The demo county with `n` more stations, each with one 值班民警
/// (`09xxxx`); returns the org and the (unit, person) pairs.
fn county_with_units(n: usize) -> Result<(Org, Vec<(String, String)>)> {
    let mut data = Org::leishan_demo()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .data()
        .clone();
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        let code = format!("522634{:03}000", 600 + i);
        let person = format!("09{i:04}");
        data.units.push(Unit {
            code: code.clone(),
            name: format!("测试{i}派出所"),
            kind: UnitKind::Station,
            parent: Some(BUREAU.into()),
            functions: vec!["station".into()],
            township: None,
        });
        data.people.push(Person {
            id: person.clone(),
            name: format!("值班{i}"),
            posts: vec![PostHolding {
                unit: code.clone(),
                post: "值班民警".into(),
            }],
        });
        pairs.push((code, person));
    }
    let org = Org::new(data).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((org, pairs))
}

/// Serves `hub` on loopback; its URL.
async fn serve(hub: &Arc<Hub>, dir: &std::path::Path) -> Result<String> {
    let cfg = Config {
        data_dir: dir.to_path_buf(),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        insecure_http: true,
        ..Config::default()
    };
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let h = hub.clone();
    tokio::spawn(async move {
        let _ = server::serve(
            &cfg,
            h,
            move |b| {
                let _ = addr_tx.send(b.addr);
            },
            std::future::pending(),
        )
        .await;
    });
    Ok(format!("http://{}", addr_rx.await?))
}

/// Dispatch → arrival at the unit's live channel: `units` units each
/// follow the live channel with one member's session; the desk pushes
/// `dispatches` 派警 one after another, to a rotating unit; each sample
/// runs from just before the desk's push to the unit client's receipt of
/// the event. Also returns how many events reached a unit the dispatch
/// was not for (must be none).
pub async fn dispatch_latency(units: usize, dispatches: usize) -> Result<(Vec<f64>, usize)> {
    let dir = tempfile::tempdir()?;
    let (org, pairs) = county_with_units(units)?;
    let (desk_id, desk_unit) = DESKS[0];
    let desk = Author::new(desk_id)?;
    let db_path = dir.path().join("hub.db").display().to_string();
    let (hub, _db) = tokio::task::block_in_place(|| -> Result<_> {
        let (hub, db) = fresh_hub_org(&db_path, &[&desk], &org)?;
        for (_, p) in &pairs {
            hub.create_user(p, PASSWORD, false)?;
        }
        Ok((hub, db))
    })?;
    let reg = hub.reg().clone();

    // The calls, registered beforehand; their dispatches signed ahead.
    let mut states: Vec<CaseState> = Vec::with_capacity(dispatches);
    let mut creates = Vec::with_capacity(dispatches);
    for i in 0..dispatches {
        let e = desk.event(None, Uuid::now_v7(), create(&reg, &desk, desk_unit, i)?)?;
        states.push(apply(&reg, None, &e)?);
        creates.push(wire_of(&e));
    }
    tokio::task::block_in_place(|| -> Result<()> {
        let c = caller(&hub, desk_id)?;
        for chunk in creates.chunks(200) {
            hub.push(&c, chunk)?;
        }
        Ok(())
    })?;
    let orders: Vec<(usize, SignedEvent)> = states
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let u = i % units;
            let a = Action::Dispatch {
                at: None,
                unit: pairs[u].0.clone(),
                opinion: "请出警".into(),
            };
            desk.event(Some(s), s.case_id, a).map(|e| (u, e))
        })
        .collect::<Result<_>>()?;

    let url = serve(&hub, dir.path()).await?;
    let after = hub.db.max_gseq()?;
    // Every unit on the live channel: (unit index, case, arrival).
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Uuid, Instant)>();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(units);
    for (u, (_, person)) in pairs.iter().enumerate() {
        let mut c = HubClient::new(&url, None)?;
        c.login(person, PASSWORD, "bench").await?;
        let got = got_tx.clone();
        let ready = ready_tx.clone();
        tokio::spawn(async move {
            let Ok(stream) = c.live(after).await else {
                return;
            };
            futures_util::pin_mut!(stream);
            while let Some(Ok(m)) = stream.next().await {
                match m {
                    LiveMsg::Ready(_) => {
                        let _ = ready.send(()).await;
                    }
                    LiveMsg::Event(e) => {
                        let _ = got.send((u, e.case_id, Instant::now()));
                    }
                }
            }
        });
    }
    for _ in 0..units {
        ready_rx
            .recv()
            .await
            .context("a unit's live client failed to connect")?;
    }
    let mut desk_client = HubClient::new(&url, None)?;
    desk_client.login(desk_id, PASSWORD, "bench").await?;

    let mut samples = Vec::with_capacity(dispatches);
    let mut strays = 0;
    for (u, e) in &orders {
        let case = e.event.case_id;
        let t0 = Instant::now();
        desk_client.push(std::slice::from_ref(e)).await?;
        loop {
            let (who, c, at) = tokio::time::timeout(Duration::from_secs(10), got_rx.recv())
                .await
                .context("a dispatch did not reach its unit within 10 s")?
                .context("live clients ended")?;
            if who == *u && c == case {
                samples.push(at.duration_since(t0).as_secs_f64() * 1000.0);
                break;
            }
            strays += 1;
        }
    }
    // Anything else that arrives meanwhile went to a unit it was not for.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), got_rx.recv()).await {
        strays += 1;
    }
    Ok((samples, strays))
}

/// The desk's intake: `calls` calls split over `desks` desks pushing at
/// once, each call one push of its 接警 and 派警 (as a desk station syncs
/// each call at once) over HTTP on loopback; calls per second.
pub async fn intake_throughput(database: &str, calls: usize, desks: usize) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let org = Org::leishan_demo().map_err(|e| anyhow::anyhow!("{e}"))?;
    let authors: Vec<Author> = DESKS[..desks]
        .iter()
        .map(|(p, _)| Author::new(p))
        .collect::<Result<_>>()?;
    let refs: Vec<&Author> = authors.iter().collect();
    let (hub, _db) = tokio::task::block_in_place(|| fresh_hub_org(database, &refs, &org))?;
    let reg = hub.reg().clone();
    let targets: Vec<String> = org
        .dispatch_targets(BUREAU)
        .map(|u| u.code.clone())
        .collect();
    anyhow::ensure!(!targets.is_empty(), "no dispatch targets");
    // Signed ahead (the stations' work, not the hub's).
    let per = calls.div_ceil(desks);
    let mut work: Vec<Vec<[SignedEvent; 2]>> = Vec::new();
    for (d, a) in authors.iter().enumerate() {
        let unit = DESKS[d].1;
        let mut mine = Vec::with_capacity(per);
        for i in 0..per {
            let c = a.event(None, Uuid::now_v7(), create(&reg, a, unit, i)?)?;
            let s = apply(&reg, None, &c)?;
            let dispatch = a.event(
                Some(&s),
                s.case_id,
                Action::Dispatch {
                    at: None,
                    unit: targets[(d * per + i) % targets.len()].clone(),
                    opinion: "请出警".into(),
                },
            )?;
            mine.push([c, dispatch]);
        }
        work.push(mine);
    }
    let url = serve(&hub, dir.path()).await?;
    let mut clients = Vec::new();
    for a in &authors {
        let mut c = HubClient::new(&url, None)?;
        c.login(&a.id, PASSWORD, "bench").await?;
        clients.push(c);
    }
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (c, mine) in clients.into_iter().zip(work) {
        tasks.push(tokio::spawn(async move {
            for pair in mine {
                c.push(&pair).await?;
            }
            Ok::<(), jingwu_station::client::ClientError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = (per * desks) as f64 / t0.elapsed().as_secs_f64();
    let (events, cases) = hub.db.counts()?;
    anyhow::ensure!(
        cases as usize == per * desks && events as usize == 2 * per * desks,
        "{cases} calls and {events} events stored of {}",
        per * desks
    );
    Ok(rate)
}
