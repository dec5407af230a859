//! The real hub binary, SIGKILLed at random moments (20 times) during
//! concurrent pushes — a station's sync and raw pushers, committed in
//! groups — while a puller follows the log: every acknowledged event
//! survives under the gseq it was acknowledged with, nothing becomes
//! visible below a cursor already passed (gseq in commit order), and
//! every chain and receipt verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jingwu_core::caseno::CaseNo;
use jingwu_core::crypto::{Signer as _, SoftwareKey};
use jingwu_core::event::{Action, Event, SignedEvent};
use jingwu_core::receipt::SignedReceipt;
use jingwu_station::client::HubClient;
use uuid::Uuid;

use crate::common::*;

/// The hub binary serving `place`, plain HTTP on a free loopback port.
pub struct HubProcess {
    pub child: Child,
    pub url: String,
    pub fingerprint: Option<String>,
}

impl HubProcess {
    pub fn start(place: &HubPlace, tls: bool) -> HubProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"));
        cmd.arg("--data-dir").arg(place.dir.path());
        if let Some(u) = &place.database_url {
            cmd.arg("--database-url").arg(u);
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        if !tls {
            cmd.arg("--insecure-http");
        }
        cmd.env("JINGWU_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        Self::spawn(cmd)
    }

    /// Starts a prepared `jingwu-hub serve` command (stdout piped) and
    /// waits for its ready line.
    pub fn spawn(mut cmd: Command) -> HubProcess {
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        assert!(line.starts_with("JINGWU_HUB_READY"), "hub said: {line}");
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .unwrap()
                .to_string()
        };
        let addr = field("addr");
        let scheme = field("scheme");
        let fp = field("fingerprint");
        HubProcess {
            child,
            url: format!("{scheme}://{addr}"),
            fingerprint: (fp != "-").then_some(fp),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn random_ms(lo: u64, hi: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    lo + u64::from_le_bytes(b) % (hi - lo)
}

/// SIGKILLs of the hub during pushes.
const KILLS: usize = 20;
/// Raw pushers beside the station's own sync, so that pushes are
/// committed in groups (several in one transaction).
const PUSHERS: usize = 3;
/// Events per raw push.
const BATCH: usize = 25;

/// `n` creates of new cases signed by hand as the officer's station,
/// numbered from `first` (far above the station's own numbers).
fn creates(
    officer: &Client,
    key: &SoftwareKey,
    device: &str,
    first: u32,
    n: usize,
) -> Vec<SignedEvent> {
    let reg = &officer.st.reg;
    let unit = "522634580000";
    let issuer = jingwu_core::caseno::issuer_of(&key.public_key().fingerprint(), device);
    let now = time::OffsetDateTime::now_utc();
    (0..n)
        .map(|i| {
            let mut random = [0u8; 10];
            getrandom::fill(&mut random).unwrap();
            let ev = Event::new(
                Uuid::now_v7(),
                0,
                None,
                &officer.person,
                device,
                &key.public_key().fingerprint(),
                now,
                random,
                Action::Create {
                    case_type: jingwu_core::form::CaseType::HukouChange,
                    template: reg.template_latest("hukou_change").unwrap().reference(),
                    workflow: Some(reg.workflow_latest("hukou_change").unwrap().reference()),
                    case_no: CaseNo::format(unit, now.date(), &issuer, first + i as u32),
                    unit: unit.into(),
                    form: jingwu_core::demo::name_change_form(),
                    registry: None,
                },
            );
            SignedEvent::sign(ev, key).unwrap()
        })
        .collect()
}

/// What one round of pushing saw before the hub died.
#[derive(Default)]
struct Seen {
    /// Acknowledged events and the gseq the hub gave them.
    acked: BTreeMap<Uuid, i64>,
    /// gseqs seen by an incremental puller, and its cursor.
    pulled: BTreeSet<i64>,
    cursor: i64,
}

async fn sigkill_during_pushes(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER]);
    let mut hub = HubProcess::start(&place, false);
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    {
        let admin = {
            let mut c = jingwu_station::client::HubClient::new(&hub.url, None).unwrap();
            c.login("admin", PASSWORD, "admin").await.unwrap();
            c
        };
        for e in admin.enrolments(Some("pending")).await.unwrap() {
            admin.decide_enrolment(&e.id, "approve").await.unwrap();
        }
    }
    let key = Arc::new(officer.signing_key());
    let device = officer.st.store.meta("device_id").unwrap().unwrap();
    let token = {
        let mut c = HubClient::new(&hub.url, None).unwrap();
        c.login(OFFICER, PASSWORD, "durability").await.unwrap();
        c.token().unwrap().to_string()
    };
    // Pre-signed batches for the raw pushers (numbers 100000 and up).
    let mut batches: Vec<Vec<SignedEvent>> = (0..KILLS * PUSHERS * 12)
        .map(|b| creates(&officer, &key, &device, 100_000 + (b * BATCH) as u32, BATCH))
        .collect();
    batches.reverse();
    // Which raw push each event is in.
    let push_of: BTreeMap<Uuid, usize> = batches
        .iter()
        .enumerate()
        .flat_map(|(i, b)| b.iter().map(move |e| (e.event.id, i)))
        .collect();

    let mut kills = 0;
    let mut acked_before_kill: BTreeSet<String> = BTreeSet::new();
    let mut raw_acked: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut grouped = 0usize;
    while kills < KILLS {
        // Kill the hub at a random moment from now.
        let pid = hub.child.id();
        let delay = random_ms(150, 1500);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(delay));
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        });
        let seen = Arc::new(Mutex::new(Seen::default()));
        let client = HubClient::new(&hub.url, None)
            .unwrap()
            .with_token(Some(token.clone()));
        // Raw pushers: batches until the hub dies.
        let mut tasks = Vec::new();
        for _ in 0..PUSHERS {
            let mine: Vec<Vec<SignedEvent>> = (0..12).filter_map(|_| batches.pop()).collect();
            let (c, seen) = (client.clone(), seen.clone());
            tasks.push(tokio::spawn(async move {
                for b in mine {
                    let r = match c.push(&b).await {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("raw push ended: {e}");
                            return;
                        }
                    };
                    let mut s = seen.lock().unwrap();
                    for (e, res) in b.iter().zip(&r.results) {
                        assert_eq!(e.event.id, res.id);
                        s.acked
                            .insert(res.id, res.gseq.expect("new events get a gseq"));
                    }
                }
            }));
        }
        // A puller following the log: what it has seen below its cursor
        // must be everything ever committed below it (gseq in commit order).
        {
            let (c, seen) = (client.clone(), seen.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let after = seen.lock().unwrap().cursor;
                    let Ok(r) = c.pull(after, 1000).await else {
                        return;
                    };
                    {
                        let mut s = seen.lock().unwrap();
                        for e in &r.events {
                            assert!(e.gseq > s.cursor, "pull went backwards");
                            s.pulled.insert(e.gseq);
                            s.cursor = e.gseq;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }));
        }
        // The station's own sync: a stream of new cases until the hub dies.
        loop {
            for _ in 0..10 {
                officer
                    .st
                    .create_hukou(PIN, jingwu_core::demo::name_change_form())
                    .unwrap();
            }
            if officer.st.sync(|_, _, _| {}).await.is_err() {
                break;
            }
        }
        killer.join().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        hub.kill();
        kills += 1;
        // Everything the hub acknowledged so far: stored events no longer
        // in the outbox, and the raw pushers' answers.
        let pending: BTreeSet<String> = officer
            .st
            .store
            .outbox(u32::MAX)
            .unwrap()
            .iter()
            .map(|p| p.event.event.id.to_string())
            .collect();
        for c in officer.st.store.list_cases(u32::MAX).unwrap() {
            for e in officer.st.store.events(&c.id).unwrap() {
                let id = e.event.id.to_string();
                if !pending.contains(&id) {
                    acked_before_kill.insert(id);
                }
            }
        }
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        raw_acked.extend(seen.acked.iter().map(|(k, v)| (*k, *v)));
        // Before anything is pushed again, every acknowledged event is
        // there, under the gseq it was acknowledged with.
        let db = place.open_db();
        let (events, _) = db.counts().unwrap();
        let all_acked: BTreeSet<String> = acked_before_kill
            .iter()
            .cloned()
            .chain(raw_acked.keys().map(|id| id.to_string()))
            .collect();
        assert!(events as usize >= all_acked.len());
        let stored: BTreeMap<Uuid, i64> = db
            .events_after(OFFICER, 0, i64::MAX)
            .unwrap()
            .iter()
            .map(|e| (e.id, e.gseq))
            .collect();
        for (id, gseq) in &raw_acked {
            assert_eq!(
                stored.get(id),
                Some(gseq),
                "acknowledged event {id} lost or moved after SIGKILL {kills}"
            );
        }
        for c in officer.st.store.list_cases(u32::MAX).unwrap() {
            for e in officer.st.store.events(&c.id).unwrap() {
                let id = e.event.id.to_string();
                if acked_before_kill.contains(&id) {
                    assert!(
                        stored.contains_key(&e.event.id),
                        "acknowledged event {id} lost after SIGKILL {kills}"
                    );
                }
            }
        }
        // Every event at or below the puller's cursor was seen by it.
        for gseq in stored.values().filter(|g| **g <= seen.cursor) {
            assert!(
                seen.pulled.contains(gseq),
                "event {gseq} became visible after {} (round {kills})",
                seen.cursor
            );
        }
        // Receipts: one signature per commit; count the commits that
        // held more than one push (two raw pushes, or one and the
        // station's).
        let rows = db.events_after(OFFICER, 0, i64::MAX).unwrap();
        let mut commits: BTreeMap<Vec<u8>, BTreeSet<Option<usize>>> = BTreeMap::new();
        for r in &rows {
            if let Some((_, sig)) = &r.receipt {
                commits
                    .entry(sig.clone())
                    .or_default()
                    .insert(push_of.get(&r.id).copied());
            }
        }
        grouped = commits.values().filter(|p| p.len() > 1).count();
        eprintln!(
            "round {kills}: {} raw events acknowledged, {} commits, {grouped} holding several pushes",
            raw_acked.len(),
            commits.len()
        );
        drop(db);
        hub = HubProcess::start(&place, false);
        officer
            .st
            .store
            .set_meta("hub_url", Some(&hub.url))
            .unwrap();
    }
    assert!(
        grouped > 0,
        "no commit held more than one push: group commit was not exercised"
    );
    // Converge, then every chain and receipt verifies on the hub.
    let r = officer.sync().await;
    assert_eq!(r.pending, 0);
    let db = place.open_db();
    let cases = officer.st.store.list_cases(u32::MAX).unwrap();
    assert!(cases.len() >= 10);
    let hub_inproc = jingwu_hub::hub::Hub::new(
        db.clone(),
        std::sync::Arc::new(jingwu_hub::server::registry(db.as_ref()).unwrap()),
        jingwu_hub::hub::Limits::default(),
    )
    .unwrap();
    for c in &cases {
        let b = jingwu_hub::evidence::bundle_of(&hub_inproc, &c.id).unwrap();
        b.verify(Some(&officer.st.reg)).unwrap();
    }
    let hub_key = hub_inproc.hub_key.public_key();
    let rows = db.events_after(OFFICER, 0, i64::MAX).unwrap();
    for r in &rows {
        let (bytes, sig) = r.receipt.clone().expect("every event has a receipt");
        let receipt = SignedReceipt::from_parts(bytes, sig).unwrap();
        let ev = SignedEvent::from_parts(r.bytes.clone(), r.signature.clone()).unwrap();
        receipt.verify(hub_key, &ev).unwrap();
        assert_eq!(receipt.body.gseq, r.gseq);
    }
    // One event per case; the station pulled every case (its own and
    // the raw pushers', which are the same officer's).
    let (events, n) = db.counts().unwrap();
    assert_eq!((events as usize, n as usize), (cases.len(), cases.len()));
    assert!(cases.len() >= raw_acked.len());
}

crate::both_backends!(sigkill_loses_no_acknowledged_push, sigkill_during_pushes);
