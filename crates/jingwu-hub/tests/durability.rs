//! The real hub binary, SIGKILLed at random moments during a stream of
//! pushes: every acknowledged push survives and every chain verifies.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

    let mut kills = 0;
    let mut acked_before_kill: BTreeSet<String> = BTreeSet::new();
    while kills < 5 {
        // Kill the hub at a random moment from now.
        let pid = hub.child.id();
        let delay = random_ms(30, 400);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(delay));
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        });
        // Push a stream of new cases until the hub dies.
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
        hub.kill();
        kills += 1;
        // Everything the hub acknowledged so far: stored events no longer
        // in the outbox.
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
        hub = HubProcess::start(&place, false);
        officer
            .st
            .store
            .set_meta("hub_url", Some(&hub.url))
            .unwrap();
        // Before anything is pushed again, every acknowledged event is
        // there.
        let db = place.open_db();
        let (events, _) = db.counts().unwrap();
        assert!(events as usize >= acked_before_kill.len());
        for c in officer.st.store.list_cases(u32::MAX).unwrap() {
            let on_hub: BTreeSet<String> = db
                .case_events(&c.id)
                .unwrap()
                .iter()
                .map(|e| e.id.to_string())
                .collect();
            for e in officer.st.store.events(&c.id).unwrap() {
                let id = e.event.id.to_string();
                if acked_before_kill.contains(&id) {
                    assert!(
                        on_hub.contains(&id),
                        "acknowledged event {id} lost after SIGKILL {kills}"
                    );
                }
            }
        }
    }
    // Converge, then every chain verifies on the hub.
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
    let (events, n) = db.counts().unwrap();
    assert_eq!((events as usize, n as usize), (cases.len(), cases.len()));
}

crate::both_backends!(sigkill_loses_no_acknowledged_push, sigkill_during_pushes);
