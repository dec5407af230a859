//! `jingwu-bench-hub`: the hub's push throughput (SQLite and PostgreSQL,
//! each beside the raw commit rate of the same database in the same run)
//! and live-push latency with 500 connected station clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::StreamExt as _;
use jingwu_core::case::CaseState;
use jingwu_core::crypto::{sm3_hex, Signer, SoftwareKey};
use jingwu_core::event::{Action, Decision, Event, SignedEvent};
use jingwu_core::form::CaseType;
use jingwu_core::org::Org;
use jingwu_core::registry::Registry;
use jingwu_hub::db::{EnrolmentRow, HubDb, NewEvent};
use jingwu_hub::hub::{viewers_after, Caller, Hub, Limits, WireEvent};
use jingwu_hub::server::{self, Config};
use jingwu_station::client::{HubClient, LiveMsg};
use uuid::Uuid;

mod hub110;

const OFFICER: &str = "052638";
const CHIEF: &str = "052637";
const UNIT: &str = "522634580000";
const PASSWORD: &str = "Bench-Passw0rd!";
const PG: &str = "postgres://root@127.0.0.1:5432/test";

/// Builds signed events of cases, tracking each case's state.
struct Author {
    id: String,
    key: SoftwareKey,
}

impl Author {
    fn new(id: &str) -> Result<Author> {
        Ok(Author {
            id: id.into(),
            key: SoftwareKey::generate(&mut getrandom::SysRng)?,
        })
    }

    fn event(
        &self,
        state: Option<&CaseState>,
        case_id: Uuid,
        action: Action,
    ) -> Result<SignedEvent> {
        let mut random = [0u8; 10];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (seq, prev) = match state {
            None => (0, None),
            Some(s) => (s.next_seq, Some(s.head.clone())),
        };
        let ev = Event::new(
            case_id,
            seq,
            prev,
            &self.id,
            "bench",
            &self.key.public_key().fingerprint(),
            time::OffsetDateTime::now_utc(),
            random,
            action,
        );
        Ok(SignedEvent::sign(ev, &self.key)?)
    }
}

fn apply(reg: &Registry, state: Option<&CaseState>, e: &SignedEvent) -> Result<CaseState> {
    let h = e.hash_hex();
    Ok(match state {
        None => CaseState::create(&e.event, &h, reg)?,
        Some(s) => s.apply(&e.event, &h, reg)?,
    })
}

fn create_action(reg: &Registry, author: &Author, n: u32) -> Result<Action> {
    let t = reg
        .template_latest("hukou_change")
        .context("模板")?
        .reference();
    let w = reg
        .workflow_latest("hukou_change")
        .context("流程")?
        .reference();
    Ok(Action::Create {
        case_type: CaseType::HukouChange,
        template: t,
        workflow: Some(w),
        case_no: jingwu_core::caseno::CaseNo::format(
            UNIT,
            time::macros::date!(2026 - 11 - 27),
            &jingwu_core::caseno::issuer_of(&author.key.public_key().fingerprint(), "bench"),
            n,
        ),
        unit: UNIT.into(),
        form: jingwu_core::demo::name_change_form(),
        registry: None,
    })
}

/// A hub on a fresh database with the demo org and approved keys.
fn fresh_hub(database: &str, authors: &[&Author]) -> Result<(Arc<Hub>, Arc<dyn HubDb>)> {
    let org = Org::leishan_demo().map_err(|e| anyhow::anyhow!("{e}"))?;
    fresh_hub_org(database, authors, &org)
}

/// A hub on a fresh database with `org` and approved keys.
fn fresh_hub_org(
    database: &str,
    authors: &[&Author],
    org: &Org,
) -> Result<(Arc<Hub>, Arc<dyn HubDb>)> {
    let db = jingwu_hub::db::open(database)?;
    db.meta_set("org_json", &serde_json::to_string(org.data())?)?;
    let reg = server::registry(db.as_ref())?;
    let hub = Hub::new(db.clone(), Arc::new(reg), Limits::default())?;
    for a in authors {
        hub.create_user(&a.id, PASSWORD, false)?;
        let pk = a.key.public_key();
        db.insert_enrolment(&EnrolmentRow {
            id: Uuid::now_v7().to_string(),
            device: "bench".into(),
            device_name: "bench".into(),
            person: a.id.clone(),
            fingerprint: pk.fingerprint(),
            pem: pk.to_pem(),
            status: "approved".into(),
            created_at: jingwu_hub::now_rfc3339(),
            decided_by: None,
            decided_at: None,
        })?;
    }
    Ok((hub, db))
}

fn caller(hub: &Hub, person: &str) -> Result<Caller> {
    let t = hub.login(person, PASSWORD, Some("bench"))?;
    Ok(hub.authenticate(&t.token)?)
}

struct Throughput {
    streams: usize,
    accepted: f64,
    raw: f64,
    /// SM2 verification of the same events on all cores.
    verify: f64,
    events: usize,
}

/// Events/s whose SM2 signatures verify on all cores (rayon, as the hub
/// verifies): the ceiling the push path works under.
fn verify_rate(events: &[SignedEvent], key: &jingwu_core::crypto::PublicKey) -> Result<f64> {
    use rayon::prelude::*;
    let t0 = Instant::now();
    let bad = events.par_iter().filter(|e| e.verify(key).is_err()).count();
    let rate = events.len() as f64 / t0.elapsed().as_secs_f64();
    anyhow::ensure!(bad == 0, "{bad} signatures do not verify");
    Ok(rate)
}

/// SM2 signatures/s on all cores (what one receipt signature per event
/// would cost the hub).
fn sign_rate(n: usize) -> Result<f64> {
    use rayon::prelude::*;
    let key = SoftwareKey::generate(&mut getrandom::SysRng)?;
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("{{\"event\":{i},\"hash\":\"{:064}\"}}", i).into_bytes())
        .collect();
    let t0 = Instant::now();
    let ok = msgs.par_iter().filter(|m| key.sign(m).is_ok()).count();
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    anyhow::ensure!(ok == n, "signing failed");
    Ok(rate)
}

/// The 1-, 5- and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Events/s accepted by `Hub::push` (decode, SM2 verification, rules,
/// durable commit) against the raw commit rate of the same rows.
fn throughput(
    backend: &str,
    database: impl Fn() -> String,
    n: usize,
    batch: usize,
    streams: usize,
) -> Result<Throughput> {
    let officer = Author::new(OFFICER)?;
    let reg = Registry::builtin_demo()?;
    let mut events = Vec::with_capacity(n);
    let mut states = Vec::with_capacity(n);
    for i in 0..n {
        let e = officer.event(
            None,
            Uuid::now_v7(),
            create_action(&reg, &officer, i as u32 + 1)?,
        )?;
        states.push(apply(&reg, None, &e)?);
        events.push(e);
    }
    let wire: Vec<WireEvent> = events
        .iter()
        .map(|e| {
            use base64::Engine as _;
            let b = base64::engine::general_purpose::STANDARD;
            WireEvent {
                bytes: b.encode(e.bytes()),
                signature: b.encode(e.signature()),
            }
        })
        .collect();

    let (hub, _db) = fresh_hub(&database(), &[&officer])?;
    let c = caller(&hub, OFFICER)?;
    // `streams` stations push at once, each its own share in batches.
    let per = n.div_ceil(streams);
    let t0 = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = wire
            .chunks(per)
            .map(|share| {
                let hub = &hub;
                let c = &c;
                s.spawn(move || -> Result<()> {
                    for chunk in share.chunks(batch) {
                        hub.push(c, chunk)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("push thread panicked"))??;
        }
        Ok(())
    })?;
    let accepted = n as f64 / t0.elapsed().as_secs_f64();
    let (stored, _) = hub.db.counts()?;
    anyhow::ensure!(stored as usize == n, "{backend}: {stored} of {n} stored");

    let (_hub2, db2) = fresh_hub(&database(), &[&officer])?;
    let viewers: Vec<Vec<String>> = states
        .iter()
        .zip(&events)
        .map(|(s, e)| viewers_after(&reg, true, s, &e.event.author))
        .collect();
    let received = jingwu_hub::now_rfc3339();
    let t0 = Instant::now();
    for (i, chunk) in events.chunks(batch).enumerate() {
        db2.push::<jingwu_hub::db::DbError>(&mut |tx| {
            for (j, e) in chunk.iter().enumerate() {
                let k = i * batch + j;
                let h = e.hash_hex();
                tx.insert_event(&NewEvent {
                    id: &e.event.id,
                    case_id: &e.event.case_id,
                    seq: e.event.seq as i64,
                    bytes: e.bytes(),
                    signature: e.signature(),
                    hash: &h,
                    author: &e.event.author,
                    kind: e.event.action.kind(),
                    received_at: &received,
                })?;
                tx.put_case(&states[k])?;
                tx.grant(&e.event.case_id, &viewers[k])?;
            }
            Ok(())
        })?;
    }
    let raw = n as f64 / t0.elapsed().as_secs_f64();
    let verify = verify_rate(&events, officer.key.public_key())?;
    Ok(Throughput {
        accepted,
        raw,
        verify,
        events: n,
        streams,
    })
}

fn pg_available() -> bool {
    postgres::Client::connect(PG, postgres::NoTls).is_ok()
}

fn fresh_schema() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    format!("bench_{}", hex::encode(b))
}

fn drop_schema(url: &str) {
    if let Some(s) = url.split("schema=").nth(1) {
        if let Ok(mut c) = postgres::Client::connect(PG, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"));
        }
    }
}

struct Latency {
    clients: usize,
    decisions: usize,
    samples: Vec<f64>,
}

/// Live-push latency: `clients` station sessions follow the live channel;
/// the 所长 decides `decisions` cases one after another; each delivery's
/// time from the start of the push to its arrival is a sample.
async fn live_latency(clients: usize, decisions: usize) -> Result<Latency> {
    let dir = tempfile::tempdir()?;
    let officer = Author::new(OFFICER)?;
    let chief = Author::new(CHIEF)?;
    let reg = Registry::builtin_demo()?;
    let db_path = dir.path().join("hub.db").display().to_string();
    let (hub, _db) = tokio::task::block_in_place(|| fresh_hub(&db_path, &[&officer, &chief]))?;

    // Cases waiting at the 所长 step, with a real scan uploaded.
    let scan = b"\x89PNG\r\n\x1a\nbench-scan".to_vec();
    let sm3 = sm3_hex(&scan);
    let oc = caller(&hub, OFFICER)?;
    hub.upload_begin(&oc, &sm3, scan.len() as i64, "image/png")?;
    hub.upload_chunk(&oc, &sm3, 0, &scan)?;
    let mut states = Vec::new();
    for i in 0..decisions {
        let id = Uuid::now_v7();
        let mut s: Option<CaseState> = None;
        let mut batch = Vec::new();
        for action in [
            create_action(&reg, &officer, i as u32 + 1)?,
            Action::Attach {
                field: "scans".into(),
                attachment: jingwu_core::form::AttachmentRef {
                    sm3: sm3.clone(),
                    name: "scan.png".into(),
                    mime: "image/png".into(),
                    size: scan.len() as u64,
                    pages: None,
                },
            },
            Action::Submit {},
        ] {
            let e = officer.event(s.as_ref(), id, action)?;
            s = Some(apply(&reg, s.as_ref(), &e)?);
            batch.push(e);
        }
        let wire: Vec<WireEvent> = batch.iter().map(wire_of).collect();
        hub.push(&oc, &wire)?;
        states.push(s.context("state")?);
    }
    let decide: Vec<SignedEvent> = states
        .iter()
        .map(|s| {
            let a = s.decision_action(&reg, Decision::Agree, "同意。")?;
            chief.event(Some(s), s.case_id, a)
        })
        .collect::<Result<_>>()?;

    // Serve on loopback.
    let cfg = Config {
        data_dir: dir.path().to_path_buf(),
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
    let url = format!("http://{}", addr_rx.await?);

    // `clients` officer sessions on the live channel.
    let mut login = HubClient::new(&url, None)?;
    login.login(OFFICER, PASSWORD, "bench").await?;
    let token = login.token().context("token")?.to_string();
    let sent: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let samples: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(clients);
    let after = hub.db.max_gseq()?;
    for _ in 0..clients {
        let c = HubClient::new(&url, None)?.with_token(Some(token.clone()));
        let sent = sent.clone();
        let samples = samples.clone();
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
                        let now = Instant::now();
                        let t = sent.lock().ok().and_then(|m| m.get(&e.case_id).copied());
                        if let (Some(t), Ok(mut s)) = (t, samples.lock()) {
                            s.push(now.duration_since(t).as_secs_f64() * 1000.0);
                        }
                    }
                }
            }
        });
    }
    for _ in 0..clients {
        ready_rx
            .recv()
            .await
            .context("a live client failed to connect")?;
    }
    let chief_client = {
        let mut c = HubClient::new(&url, None)?;
        c.login(CHIEF, PASSWORD, "bench").await?;
        c
    };
    for e in &decide {
        if let Ok(mut m) = sent.lock() {
            m.insert(e.event.case_id, Instant::now());
        }
        chief_client.push(std::slice::from_ref(e)).await?;
        // Wait until every client has it before the next decision.
        let want = {
            let n = sent.lock().map(|m| m.len()).unwrap_or(0);
            n * clients
        };
        let t0 = Instant::now();
        while samples.lock().map(|s| s.len()).unwrap_or(0) < want {
            if t0.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("deliveries stalled");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(Latency {
        clients,
        decisions,
        samples,
    })
}

fn wire_of(e: &SignedEvent) -> WireEvent {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD;
    WireEvent {
        bytes: b.encode(e.bytes()),
        signature: b.encode(e.signature()),
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn main() -> Result<()> {
    let n: usize = std::env::var("JINGWU_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6000);
    let batch = 200;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "Machine: {cores} cores; load average at start {}.",
        loadavg()
    );
    if only("push") || only("live") {
        println!();
        println!("| benchmark | backend | result | raw commit of the same rows (same run) | SM2 verification of the same events, all cores (same run) | ratio to raw commit | ratio to verification | target |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    }
    if only("push") {
        push_table(n, batch)?;
    }
    if only("live") {
        live_row()?;
    }
    if only("dispatch") || only("intake") {
        table_110()?;
    }
    println!();
    println!("Load average at the end {}.", loadavg());
    Ok(())
}

/// Whether `JINGWU_BENCH_ONLY` (a comma-separated list of `push`, `live`,
/// `dispatch`, `intake`; unset: all) selects `name`.
fn only(name: &str) -> bool {
    match std::env::var("JINGWU_BENCH_ONLY") {
        Ok(v) if !v.trim().is_empty() => v.split(',').any(|x| x.trim() == name),
        _ => true,
    }
}

/// The 110 benchmarks: dispatch → unit latency with 100 units on the
/// live channel, and the desk's intake throughput.
fn table_110() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!();
    println!("| 110 benchmark | backend | result | target |");
    println!("| --- | --- | --- | --- |");
    if only("dispatch") {
        let (units, dispatches) = (100, 300);
        let (mut s, strays) = rt.block_on(hub110::dispatch_latency(units, dispatches))?;
        anyhow::ensure!(
            strays == 0,
            "{strays} live events reached a unit they were not for"
        );
        let n = s.len();
        let (p50, p95, p99) = (pct(&mut s, 0.50), pct(&mut s, 0.95), pct(&mut s, 0.99));
        let max = s.last().copied().unwrap_or(f64::NAN);
        println!(
            "| dispatch → the unit's live channel (desk's push over HTTP to the unit client's receipt of the SSE event) | SQLite, loopback, {units} units connected (one member each) | p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({n} dispatches to a rotating unit; no event reached another unit) | p99 < 200 ms — {} |",
            if p99 < 200.0 { "met" } else { "**not met**" }
        );
    }
    if only("intake") {
        let calls: usize = std::env::var("JINGWU_BENCH_CALLS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        let dir = tempfile::tempdir()?;
        for desks in [1, 4] {
            let db = dir
                .path()
                .join(format!("intake{desks}.db"))
                .display()
                .to_string();
            let r = rt.block_on(hub110::intake_throughput(&db, calls, desks))?;
            intake_row("SQLite (WAL, FULL), loopback", calls, desks, r);
        }
        if pg_available() && std::env::var("JINGWU_BENCH_PG").as_deref() != Ok("0") {
            for desks in [1, 4] {
                let url = format!("{PG}?schema={}", fresh_schema());
                let r = rt.block_on(hub110::intake_throughput(&url, calls, desks));
                drop_schema(&url);
                intake_row("PostgreSQL 15, 127.0.0.1", calls, desks, r?);
            }
        }
    }
    Ok(())
}

fn intake_row(backend: &str, calls: usize, desks: usize, rate: f64) {
    println!(
        "| desk intake: 接警 + 派警 per second through the push path (one push of both events per call, over HTTP) | {backend}, {desks} desk{} | {rate:.0} calls/s ({:.0} events/s; {calls} calls) | — |",
        if desks == 1 { "" } else { "s at once" },
        rate * 2.0
    );
}

fn live_row() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut lat = rt.block_on(live_latency(500, 100))?;
    let n = lat.samples.len();
    let (p50, p95, p99) = (
        pct(&mut lat.samples, 0.50),
        pct(&mut lat.samples, 0.95),
        pct(&mut lat.samples, 0.99),
    );
    let max = lat.samples.last().copied().unwrap_or(f64::NAN);
    println!(
        "| live push: decision → station client | SQLite, loopback, {} clients | p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({n} deliveries of {} decisions) | — | — | — | — | p99 < 20 ms |",
        lat.clients, lat.decisions
    );
    Ok(())
}

fn push_table(n: usize, batch: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let sqlite_db = || {
        let i = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        dir.path().join(format!("hub{i}.db")).display().to_string()
    };
    let what = "push: events accepted/s (decode + SM2 verify + rules + durable commit + receipts)";
    for (streams, target) in [(1, "≥ 4,000/s"), (4, "≥ 6,000/s")] {
        let t = throughput("sqlite", sqlite_db, n, batch, streams)?;
        row(what, "SQLite (WAL, FULL)", &t, target);
    }
    if pg_available() && std::env::var("JINGWU_BENCH_PG").as_deref() != Ok("0") {
        for (streams, target) in [(1, "—"), (4, "≥ 4,000/s")] {
            let urls = Mutex::new(Vec::new());
            let pg = throughput(
                "postgresql",
                || {
                    let u = format!("{PG}?schema={}", fresh_schema());
                    if let Ok(mut v) = urls.lock() {
                        v.push(u.clone());
                    }
                    u
                },
                n,
                batch,
                streams,
            );
            for u in urls.lock().map(|v| v.clone()).unwrap_or_default() {
                drop_schema(&u);
            }
            row(what, "PostgreSQL 15, 127.0.0.1", &pg?, target);
        }
    } else {
        println!("| push | PostgreSQL | not run: no server on 127.0.0.1:5432 | | | | | |");
    }
    let signs = sign_rate(n.min(4000))?;
    println!(
        "| SM2 signing, all cores (one hub receipt signature per event would cost this) | — | {signs:.0} signatures/s | — | — | — | — | — |"
    );

    Ok(())
}

fn row(what: &str, backend: &str, t: &Throughput, target: &str) {
    println!(
        "| {what} | {backend} | {:.0}/s ({} events, batches of 200, {} pushing station{}) | {:.0}/s | {:.0}/s | {:.2} | {:.2} | {target} |",
        t.accepted,
        t.events,
        t.streams,
        if t.streams == 1 { "" } else { "s at once" },
        t.raw,
        t.verify,
        t.accepted / t.raw,
        t.accepted / t.verify,
    );
}
