//! County approvers in a real browser: the real hub binary over TLS serves
//! the UI; station clients take a case to the 户政股股长 step; then headless
//! Chromium (playwright-core, `tests/browser/approve.mjs`) signs in as
//! 户政股股长, creates the hosted signing key (approved here by the
//! administrator through the API), opens the case and agrees with the
//! signing PIN — after bad input that must change nothing — and 分管局长
//! does the same. The case must end 已同意 with the browser-made events
//! verifying on the officer's station and, in the evidence bundle, with
//! OpenSSL alone. Screenshots go to `test-artifacts/browser/` (or
//! `$JINGWU_ARTIFACTS/browser`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jingwu_core::case::Status;
use jingwu_core::crypto::KdfParams;
use jingwu_core::event::Decision;
use jingwu_core::registry::Registry;
use jingwu_station::client::HubClient;
use jingwu_station::station::Station;
use uuid::Uuid;

use crate::common::*;
use crate::durability::HubProcess;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `test-artifacts/<name>/` (or `$JINGWU_ARTIFACTS/<name>`): each browser
/// test has its own, so tests running at once keep each other's shots.
fn shots(name: &str) -> PathBuf {
    std::env::var_os("JINGWU_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("test-artifacts"))
        .join(name)
}

async fn station(url: &str, fp: &str, person: &str) -> (Station, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut st = Station::open(dir.path(), Registry::builtin_demo().unwrap()).unwrap();
    st.enrol(
        url,
        Some(fp),
        person,
        PASSWORD,
        PIN,
        "派出所工作站",
        KdfParams::TEST_ONLY,
    )
    .await
    .unwrap();
    (st, dir)
}

async fn approve_pending(admin: &HubClient, person: &str) -> usize {
    let mut n = 0;
    for e in admin.enrolments(Some("pending")).await.unwrap() {
        assert_eq!(e.person, person, "only {person}'s hosted key is pending");
        admin.decide_enrolment(&e.id, "approve").await.unwrap();
        n += 1;
    }
    n
}

/// The base64 SHA-256 of the hub certificate's public key (SPKI), which
/// Chromium is told to trust (`--ignore-certificate-errors-spki-list`):
/// the browser pins the hub's key as a station pins its certificate.
fn spki_pin(place: &HubPlace) -> String {
    let cert = place.dir.path().join(jingwu_hub::tls::CERT_FILE);
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "openssl x509 -pubkey -noout -in \"$1\" | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64",
        )
        .arg("spki")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(pin.len(), 44, "{pin}");
    pin
}

/// A browser script (`tests/browser/<script>`) running under node: its
/// stdin, and its stdout's lines as they come.
struct Script {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Script {
    /// Starts `script` with the hub's URL, the SPKI pin, the password, the
    /// PIN and `env`.
    fn start(script: &str, hub_url: &str, place: &HubPlace, env: &[(&str, String)]) -> Script {
        let dir = root().join("tests/browser");
        assert!(
            dir.join("node_modules/playwright-core").exists(),
            "tests/browser/node_modules is missing: run scripts/setup.sh (npm ci there)"
        );
        assert!(
            Path::new("/usr/bin/chromium").exists(),
            "Chromium is missing: run scripts/setup.sh"
        );
        let mut cmd = Command::new("node");
        cmd.arg(dir.join(script))
            .current_dir(&dir)
            .env("HUB_URL", hub_url)
            .env("SPKI", spki_pin(place))
            .env("PASSWORD", PASSWORD)
            .env("PIN", PIN);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Script {
            child,
            stdin,
            lines,
        }
    }

    fn say(&mut self, word: &str) {
        writeln!(self.stdin, "{word}").unwrap();
        self.stdin.flush().unwrap();
    }
}

/// Runs the browser script for `person`, answering its requests.
async fn browser(
    hub_url: &str,
    admin: &HubClient,
    place: &HubPlace,
    person: &str,
    case: Uuid,
    check_bad: bool,
) {
    let Script {
        mut child,
        mut stdin,
        lines: mut rx,
    } = Script::start(
        "approve.mjs",
        hub_url,
        place,
        &[
            ("PERSON", person.to_string()),
            ("CASE_ID", case.to_string()),
            ("SHOTS", shots("browser").display().to_string()),
            ("CHECK_BAD", if check_bad { "1" } else { "0" }.to_string()),
            // Whether the core lets this person see the 督办 list.
            (
                "SUPERVISE",
                match jingwu_core::stats::supervision_scope(
                    &jingwu_core::registry::Registry::builtin_demo().unwrap().org,
                    person,
                ) {
                    Ok(_) => "1",
                    Err(_) => "0",
                }
                .to_string(),
            ),
        ],
    );
    let events_before = |p: &HubPlace| p.open_db().case_events(&case).unwrap().len();
    let mut done = false;
    let mut before_wrong_pin = None;
    while let Some(line) = rx.recv().await {
        eprintln!("[{person} browser] {line}");
        match line.trim() {
            "KEY_PENDING" => {
                assert_eq!(approve_pending(admin, person).await, 1);
                before_wrong_pin = Some(events_before(place));
                writeln!(stdin, "APPROVED").unwrap();
            }
            "WRONG_PIN_DONE" => {
                // Bad input (no opinion, wrong PIN) committed nothing.
                assert_eq!(Some(events_before(place)), before_wrong_pin);
                writeln!(stdin, "CHECKED").unwrap();
            }
            "DONE" => done = true,
            _ => {}
        }
        stdin.flush().unwrap();
    }
    let status = child.wait().unwrap();
    assert!(
        status.success() && done,
        "the browser run for {person} failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn county_approvers_decide_in_a_browser() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER, CHIEF, SECTION, DEPUTY]);
    let hub = HubProcess::start(&place, true);
    let fp = hub.fingerprint.clone().unwrap();
    let mut admin = HubClient::new(&hub.url, Some(&fp)).unwrap();
    admin.login("admin", PASSWORD, "console").await.unwrap();

    // The page, its scripts and their headers, without a browser.
    let http = jingwu_station::pin::http_client(Some(&fp)).unwrap();
    let page = http.get(format!("{}/", hub.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("main.js"));
    let js = http
        .get(format!("{}/api.js", hub.url))
        .send()
        .await
        .unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let login = http
        .post(format!("{}/api/ui/login", hub.url))
        .header("X-Jingwu-UI", "1")
        .json(&serde_json::json!({"person": SECTION, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    for want in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(want), "{cookie}");
    }
    let token = cookie.split(';').next().unwrap().to_string();
    // Out of scope is "not found"; desktop-only commands are refused.
    let r = http
        .post(format!("{}/api/ui/case_detail", hub.url))
        .header("X-Jingwu-UI", "1")
        .header("Cookie", &token)
        .json(&serde_json::json!({"caseId": Uuid::now_v7()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{}/api/ui/create", hub.url))
        .header("X-Jingwu-UI", "1")
        .header("Cookie", &token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let doc = http
        .get(format!("{}/api/openapi.json", hub.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(doc.contains("/api/ui/{command}"), "the OpenAPI document");

    // 户籍民警 applies, 所长 agrees, on their stations.
    let (mut officer, _d1) = station(&hub.url, &fp, OFFICER).await;
    let (mut chief, _d2) = station(&hub.url, &fp, CHIEF).await;
    for e in admin.enrolments(Some("pending")).await.unwrap() {
        admin.decide_enrolment(&e.id, "approve").await.unwrap();
    }
    let s = officer
        .create_hukou(PIN, jingwu_core::demo::name_change_form())
        .unwrap();
    let case = s.case_id;
    officer
        .attach(PIN, case, "scans", &scan_file(officer.data_dir()))
        .unwrap();
    officer.submit(PIN, case).unwrap();
    officer.sync(|_, _, _| {}).await.unwrap();
    chief.sync(|_, _, _| {}).await.unwrap();
    chief.decide(PIN, case, Decision::Agree, "同意。").unwrap();
    let r = chief.sync(|_, _, _| {}).await.unwrap();
    assert_eq!(r.pushed, 1, "{r:?}");

    // 户政股股长, then 分管局长, in the browser.
    let _ = std::fs::remove_dir_all(shots("browser"));
    browser(&hub.url, &admin, &place, SECTION, case, true).await;
    browser(&hub.url, &admin, &place, DEPUTY, case, false).await;

    // The officer's station gets the result and checks every signature,
    // the browser-made ones included.
    officer.sync(|_, _, _| {}).await.unwrap();
    let state = officer.store.case(&case).unwrap().unwrap();
    assert_eq!(state.status, Status::Approved);
    let events = officer.store.verified_events(&case).unwrap();
    assert_eq!(events.len(), 6);
    for (e, who) in events[4..].iter().zip([SECTION, DEPUTY]) {
        assert_eq!(e.event.author, who);
        assert_eq!(e.event.device, jingwu_hub::hosted::HOSTED_DEVICE);
        assert_eq!(e.event.action.kind(), "decide");
    }

    // The evidence bundle, checked by the hub and by OpenSSL alone.
    let bundle = place.dir.path().join("bundle.json");
    let out = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"))
        .arg("--data-dir")
        .arg(place.dir.path())
        .args(["export-case", &case.to_string(), "--out"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = Command::new("bash")
        .arg(root().join("scripts/verify-bundle-openssl.sh"))
        .arg(&bundle)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("证据包校验通过"), "{text}");
    drop(hub);
}

/// 110巡警大队: 接警员, 值班长; 丹江派出所 值班民警; 消防大队 值班民警.
const DESK: &str = "052608";
const DESK_CHIEF: &str = "052645";
const DJ_DUTY: &str = "052648";
const FIRE_DUTY: &str = "052659";
const DANJIANG: &str = "522634510000";
const FIRE: &str = "522634100000";
const BRIGADE: &str = "522634080000";

/// 丹江's 反馈单.
fn burglary_report() -> jingwu_core::form::FormValues {
    match serde_json::json!({
        "verified_category": "010101",
        "handling": "到场勘查，保险柜被撬，已提取现场痕迹，立为刑事案件侦查",
        "result": "01",
        "loss_items": [{"item": "现金", "amount": "2000.00"}],
        "loss_amount": "2000.00"
    }) {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        _ => unreachable!(),
    }
}

/// The 110 desk in a browser (`tests/browser/desk110.mjs`): the real hub
/// binary over TLS; the 接警员 registers two calls (a bad phone refused
/// first, with nothing saved), links the repeat, dispatches 丹江派出所 and
/// 消防大队; those units act on their stations (签收 … 反馈; 退单); the
/// 值班长 concludes in his own browser; the record is found in 已归档 and
/// every step verifies — in the browser and on 丹江's station. Screenshots
/// go to `test-artifacts/browser-110/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn desk_110_in_a_browser() {
    use jingwu_core::case::IncidentStep;
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[DESK, DESK_CHIEF, DJ_DUTY, FIRE_DUTY]);
    let hub = HubProcess::start(&place, true);
    let fp = hub.fingerprint.clone().unwrap();
    let mut admin = HubClient::new(&hub.url, Some(&fp)).unwrap();
    admin.login("admin", PASSWORD, "console").await.unwrap();
    let (mut dj, _d1) = station(&hub.url, &fp, DJ_DUTY).await;
    let (mut fire, _d2) = station(&hub.url, &fp, FIRE_DUTY).await;
    for e in admin.enrolments(Some("pending")).await.unwrap() {
        admin.decide_enrolment(&e.id, "approve").await.unwrap();
    }

    let dir = shots("browser-110");
    let _ = std::fs::remove_dir_all(&dir);
    let mut script = Script::start(
        "desk110.mjs",
        &hub.url,
        &place,
        &[
            ("DESK", DESK.to_string()),
            ("CHIEF", DESK_CHIEF.to_string()),
            ("DANJIANG", DANJIANG.to_string()),
            ("FIRE", FIRE.to_string()),
            ("SHOTS", dir.display().to_string()),
        ],
    );
    let mut record = None;
    let mut done = false;
    while let Some(line) = script.lines.recv().await {
        eprintln!("[110 browser] {line}");
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("KEY_PENDING"), Some(person)) => {
                assert_eq!(approve_pending(&admin, person).await, 1);
                script.say("APPROVED");
            }
            (Some("NOTHING_SAVED?"), _) => {
                // A refused intake committed nothing: no case, no event.
                assert_eq!(place.open_db().counts().unwrap(), (0, 0));
                script.say("CHECKED");
            }
            (Some("DISPATCHED"), Some(id)) => {
                let case: Uuid = id.parse().unwrap();
                record = Some(case);
                // 丹江: 签收, 出警, 到达现场, 反馈.
                dj.sync(|_, _, _| {}).await.unwrap();
                for step in [
                    IncidentStep::Ack { unit: None },
                    IncidentStep::Depart {
                        unit: None,
                        officers: vec![DJ_DUTY.into()],
                        vehicles: vec!["贵H·0110警".into()],
                        at: None,
                    },
                    IncidentStep::Arrive {
                        unit: None,
                        at: None,
                    },
                    IncidentStep::Feedback {
                        unit: None,
                        changes: burglary_report(),
                    },
                ] {
                    dj.incident_step(PIN, case, step).unwrap();
                }
                let r = dj.sync(|_, _, _| {}).await.unwrap();
                assert_eq!(r.pushed, 4, "{r:?}");
                // 消防: 退单 with a reason.
                fire.sync(|_, _, _| {}).await.unwrap();
                fire.incident_step(
                    PIN,
                    case,
                    IncidentStep::Return {
                        unit: None,
                        reason: "经核实无火情，无需消防出动".into(),
                    },
                )
                .unwrap();
                let r = fire.sync(|_, _, _| {}).await.unwrap();
                assert_eq!(r.pushed, 1, "{r:?}");
                script.say("UNITS_DONE");
            }
            (Some("DONE"), _) => done = true,
            _ => {}
        }
    }
    let status = script.child.wait().unwrap();
    assert!(
        status.success() && done,
        "the 110 desk's browser run failed"
    );

    // Filed at the 110 brigade; 丹江's station verifies every event, the
    // browser-made (hosted-key) ones included.
    let case = record.unwrap();
    let st = place.open_db().case_state(&case).unwrap().unwrap();
    assert_eq!(st.status, Status::Archived);
    assert_eq!(st.archive_unit.as_deref(), Some(BRIGADE));
    dj.sync(|_, _, _| {}).await.unwrap();
    let events = dj.store.verified_events(&case).unwrap();
    assert_eq!(events.len(), 9);
    let hosted: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.event.device == jingwu_hub::hosted::HOSTED_DEVICE)
        .map(|e| (e.event.author.as_str(), e.event.action.kind()))
        .collect();
    assert_eq!(
        hosted,
        [
            (DESK, "create"),
            (DESK, "dispatch"),
            (DESK, "dispatch"),
            (DESK_CHIEF, "conclude")
        ]
    );
    drop(hub);
}

/// Hosted keys on the hub itself, on both backends: creation under a PIN,
/// nothing signed before an administrator approves, refusals that change
/// nothing, the wrong-PIN lock, and a decision committed through the push
/// path.
async fn hosted_keys(backend: Backend) {
    use jingwu_hub::hosted::MAX_PIN_FAILURES;
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF, SECTION, DEPUTY]);
    let hub = RunningHub::start(&place).await;
    let mut officer = Client::enrol(&hub.url, OFFICER).await;
    let mut chief = Client::enrol(&hub.url, CHIEF).await;
    hub.approve_all().await;
    let case = officer.apply();
    officer.sync().await;
    chief.sync().await;
    chief.agree(case);
    chief.sync().await;

    let h = hub.hub.clone();
    let login = |p: &str| {
        let t = h.login(p, PASSWORD, Some("browser")).unwrap().token;
        h.authenticate(&t).unwrap()
    };
    let section = login(SECTION);
    assert_eq!(h.hosted_key_status(&section).unwrap().status, "none");
    let e = h.create_hosted_key(&section, "1111").unwrap_err();
    assert!(e.body.error.contains("至少 6 位"), "{e}");
    let k = h.create_hosted_key(&section, PIN).unwrap();
    assert_eq!(k.status, "pending");
    let e = h.create_hosted_key(&section, PIN).unwrap_err();
    assert_eq!(e.body.code, ErrorCode::KeyExists);
    let events = |h: &jingwu_hub::hub::Hub| h.db.case_events(&case).unwrap().len();
    let n = events(&h);
    // Not approved yet: nothing is signed.
    let e = h
        .hosted_decide(&section, &case, Decision::Agree, "同意。", PIN)
        .unwrap_err();
    assert_eq!(e.body.code, ErrorCode::KeyNotEnrolled, "{e}");
    hub.approve_all().await;
    // Someone who sees the case but whose turn it is not: refused before
    // the PIN is tried.
    let initiator = login(OFFICER);
    let k = h.create_hosted_key(&initiator, PIN).unwrap();
    assert_eq!(k.status, "pending");
    hub.approve_all().await;
    let e = h
        .hosted_decide(&initiator, &case, Decision::Agree, "同意。", "wrong-pin")
        .unwrap_err();
    assert_eq!(e.body.code, ErrorCode::NotAllowed, "{e}");
    // The 分管局长 reads the case while it waits for the 户政股 (the
    // leader above that step, copied on its reminders), but it is not his
    // turn: refused before the PIN is tried.
    let deputy = login(DEPUTY);
    let e = h
        .hosted_decide(&deputy, &case, Decision::Agree, "同意。", "wrong-pin")
        .unwrap_err();
    assert_eq!(e.body.code, ErrorCode::NotAllowed, "{e}");
    // A case out of scope (unknown) is not found.
    let e = h
        .hosted_decide(
            &section,
            &uuid::Uuid::now_v7(),
            Decision::Agree,
            "同意。",
            PIN,
        )
        .unwrap_err();
    assert_eq!(e.status, 404);
    // Guesses in parallel cannot outrun the lock: each attempt is counted
    // before its PIN is tried.
    let codes: Vec<ErrorCode> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..MAX_PIN_FAILURES + 2)
            .map(|_| {
                sc.spawn(|| {
                    h.hosted_decide(&section, &case, Decision::Agree, "同意。", "246801")
                        .unwrap_err()
                        .body
                        .code
                })
            })
            .collect();
        hs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let wrong = codes.iter().filter(|c| **c == ErrorCode::WrongPin).count() as i64;
    let locked = codes.iter().filter(|c| **c == ErrorCode::PinLocked).count() as i64;
    assert_eq!((wrong, locked), (MAX_PIN_FAILURES - 1, 3), "{codes:?}");
    h.db.set_hosted_key_failures(SECTION, 0, 0).unwrap();
    // Wrong PINs count down, then lock, and the lock holds the right PIN too.
    for i in 1..MAX_PIN_FAILURES {
        let e = h
            .hosted_decide(&section, &case, Decision::Agree, "同意。", "246801")
            .unwrap_err();
        assert_eq!(e.body.code, ErrorCode::WrongPin, "{e}");
        assert!(
            e.body
                .error
                .contains(&format!("再输错 {} 次", MAX_PIN_FAILURES - i)),
            "{e}"
        );
    }
    let e = h
        .hosted_decide(&section, &case, Decision::Agree, "同意。", "246801")
        .unwrap_err();
    assert_eq!(e.body.code, ErrorCode::PinLocked, "{e}");
    let e = h
        .hosted_decide(&section, &case, Decision::Agree, "同意。", PIN)
        .unwrap_err();
    assert_eq!(e.body.code, ErrorCode::PinLocked, "{e}");
    assert!(e.body.error.contains("分钟后再试"), "{e}");
    assert_eq!(events(&h), n, "refusals committed nothing");
    assert!(h
        .hosted_key_status(&section)
        .unwrap()
        .locked_until
        .is_some());
    // The lock ends (here: as if its time had passed).
    h.db.set_hosted_key_failures(SECTION, 0, 0).unwrap();
    let s = h
        .hosted_decide(&section, &case, Decision::Agree, "同意。", PIN)
        .unwrap();
    assert_eq!(events(&h), n + 1);
    assert_eq!(s.trail.last().unwrap().person, SECTION);
    // The officer's station verifies the hosted key's signature.
    officer.sync().await;
    assert_eq!(
        officer.st.store.verified_events(&case).unwrap().len(),
        n + 1
    );
    hub.stop().await;
}

crate::both_backends!(hosted_keys_on_the_hub, hosted_keys);

/// A browser's background refresh does not keep its session alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refreshes_do_not_count_as_activity() {
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[SECTION]);
    let hub = RunningHub::start(&place).await;
    let h = hub.hub.clone();
    // A session last used two minutes ago.
    let token = "browser-session-under-test".to_string();
    let th = jingwu_core::crypto::sm3_hex(token.as_bytes());
    let earlier = time::OffsetDateTime::now_utc().unix_timestamp() - 120;
    let session = |last_seen: i64| jingwu_hub::db::SessionRow {
        token_hash: th.clone(),
        person: SECTION.into(),
        device: Some("browser".into()),
        created_at: last_seen,
        last_seen,
        revoked: false,
    };
    h.db.insert_session(&session(earlier)).unwrap();
    let seen = || h.db.session(&th).unwrap().unwrap().last_seen;
    h.authenticate_as(&token, false).unwrap();
    assert_eq!(seen(), earlier, "a background call moved the idle clock");
    h.authenticate_as(&token, true).unwrap();
    assert!(seen() > earlier);
    // Over HTTP: the idle header is honoured, its absence counts as use.
    let http = jingwu_station::pin::http_client(None).unwrap();
    let call = |token: &str, idle: bool| {
        let mut r = http
            .post(format!("{}/api/ui/status", hub.url))
            .header("X-Jingwu-UI", "1")
            .header("Cookie", format!("{}={token}", jingwu_hub::webui::COOKIE));
        if idle {
            r = r.header("X-Jingwu-Idle", "1");
        }
        r.json(&serde_json::json!({})).send()
    };
    h.db.revoke_session(&th).unwrap();
    let token = "browser-session-under-test-2".to_string();
    let th = jingwu_core::crypto::sm3_hex(token.as_bytes());
    h.db.insert_session(&jingwu_hub::db::SessionRow {
        token_hash: th.clone(),
        ..session(earlier)
    })
    .unwrap();
    let seen = || h.db.session(&th).unwrap().unwrap().last_seen;
    assert_eq!(call(&token, true).await.unwrap().status(), 200);
    assert_eq!(seen(), earlier);
    assert_eq!(call(&token, false).await.unwrap().status(), 200);
    assert!(seen() > earlier);
    hub.stop().await;
}

/// 局长, 丹江派出所 所长 and 民警, 110 接警员 (the Leishan demo).
const BUREAU_CHIEF: &str = "052601";
const DJ_LEADER: &str = "052616";
const DJ_OFFICER: &str = "052618";

/// Runs `jingwu-hub` on `place` with `args` (and `env`), which must succeed.
fn hub_cli(place: &HubPlace, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"));
    cmd.arg("--data-dir").arg(place.dir.path()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "jingwu-hub {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `scripts/gen-incidents.py` with `args`, written to `out`.
fn gen_incidents(out: &Path, args: &[&str]) {
    let st = Command::new("python3")
        .arg(root().join("scripts/gen-incidents.py"))
        .args(args)
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success(), "gen-incidents.py {args:?}");
}

/// The leaders' 110 查询统计 in a browser (`tests/browser/stats110.mjs`):
/// the real hub binary over TLS with the Leishan demo and 1,500 historical
/// records imported by the command line (signed with the desk's demo
/// key); the 局长 queries, sorts, saves, exports, counts, charts and
/// downloads the monthly 警情通报 as a PDF; 丹江's 所长 sees only 丹江; a
/// 民警 is refused; the 110 desk imports a file with 3 bad rows (nothing,
/// then the 17 good ones). Screenshots and downloads go to
/// `test-artifacts/browser-stats/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stats_110_in_a_browser() {
    let place = HubPlace::new(Backend::Sqlite);
    let dir = place.dir.path().to_path_buf();
    hub_cli(
        &place,
        &["demo", "--kdf", "test"],
        &[("JINGWU_DEMO_PASSWORD", PASSWORD), ("JINGWU_DEMO_PIN", PIN)],
    );
    let history = dir.join("history.csv");
    gen_incidents(&history, &["--count", "1500", "--seed", "3"]);
    let key = dir.join("demo-keys").join(format!("{DESK}.json"));
    hub_cli(
        &place,
        &[
            "import-incidents",
            history.to_str().unwrap(),
            "--as",
            DESK,
            "--key",
            key.to_str().unwrap(),
        ],
        &[("JINGWU_PIN", PIN)],
    );
    let records = || place.open_db().counts().unwrap().1;
    assert_eq!(records(), 1500);
    // 20 rows, 3 of them bad; numbered apart from the 1,500.
    let small = dir.join("small.csv");
    gen_incidents(
        &small,
        &[
            "--count",
            "20",
            "--seed",
            "9",
            "--bad",
            "3",
            "--end",
            "2026-11-30",
        ],
    );
    let text = std::fs::read_to_string(&small).unwrap();
    std::fs::write(&small, text.replace("\nLS", "\nUI")).unwrap();

    let hub = HubProcess::start(&place, true);
    let fp = hub.fingerprint.clone().unwrap();
    let mut admin = HubClient::new(&hub.url, Some(&fp)).unwrap();
    admin.login("admin", PASSWORD, "console").await.unwrap();

    let shots_dir = shots("browser-stats");
    let _ = std::fs::remove_dir_all(&shots_dir);
    let mut script = Script::start(
        "stats110.mjs",
        &hub.url,
        &place,
        &[
            ("SHOTS", shots_dir.display().to_string()),
            ("HISTORY", history.display().to_string()),
            ("SMALL", small.display().to_string()),
            ("CHIEF", BUREAU_CHIEF.to_string()),
            ("DJ_LEADER", DJ_LEADER.to_string()),
            ("DJ_OFFICER", DJ_OFFICER.to_string()),
            ("DESK", DESK.to_string()),
            ("DANJIANG", DANJIANG.to_string()),
            ("PERIOD", "2026-10".to_string()),
        ],
    );
    let mut done = false;
    while let Some(line) = script.lines.recv().await {
        eprintln!("[stats browser] {line}");
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("KEY_PENDING"), Some(person)) => {
                assert_eq!(approve_pending(&admin, person).await, 1);
                script.say("APPROVED");
            }
            (Some("IMPORT_NONE"), _) => {
                assert_eq!(records(), 1500, "a file with bad rows imported something");
                script.say("CHECKED");
            }
            (Some("IMPORT_DONE"), Some(n)) => {
                assert_eq!(records(), 1500 + n.parse::<i64>().unwrap());
                script.say("CHECKED");
            }
            (Some("DONE"), _) => done = true,
            _ => {}
        }
    }
    let status = script.child.wait().unwrap();
    assert!(
        status.success() && done,
        "the 110 statistics browser run failed"
    );
    drop(hub);
}

/// The administration console in a browser (`tests/browser/admin.mjs`):
/// the real hub binary over TLS with the Leishan demo; the administrator
/// creates an account, approves a station's pending device (the
/// fingerprint the station shows), uploads 30 people in xlsx with 2 bad
/// rows (2 errors, nothing imported), then the fixed file (registry
/// version 2, 30 accounts), and publishes a new workflow version from its
/// JSON file (version 3). Screenshots go to `test-artifacts/browser-admin/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_console_in_a_browser() {
    use crate::admin::{people_xlsx, FIRST_NEW, INITIAL_PASSWORD, NEW_PEOPLE};
    let place = HubPlace::new(Backend::Sqlite);
    let dir = place.dir.path().to_path_buf();
    hub_cli(
        &place,
        &["demo", "--kdf", "test"],
        &[("JINGWU_DEMO_PASSWORD", PASSWORD), ("JINGWU_DEMO_PIN", PIN)],
    );
    let bad = dir.join("people-bad.xlsx");
    let good = dir.join("people.xlsx");
    std::fs::write(&bad, people_xlsx(true)).unwrap();
    std::fs::write(&good, people_xlsx(false)).unwrap();
    // A new version of the first workflow, as a JSON file.
    let workflow = dir.join("workflow.json");
    let (wf_id, wf_version) = {
        let reg = jingwu_hub::server::registry(place.open_db().as_ref()).unwrap();
        let mut wf = reg.workflows().next().unwrap().clone();
        wf.version = reg.workflow_latest(&wf.id).unwrap().version + 1;
        std::fs::write(&workflow, serde_json::to_string(&vec![wf.clone()]).unwrap()).unwrap();
        (wf.id, wf.version)
    };

    let hub = HubProcess::start(&place, true);
    let fp = hub.fingerprint.clone().unwrap();
    // A station enrolling: its device waits for the administrator.
    let (st, _st_dir) = station(&hub.url, &fp, OFFICER).await;
    let device_fp = st
        .store
        .key(OFFICER)
        .unwrap()
        .unwrap()
        .public_key
        .fingerprint();
    let db = || place.open_db();
    let new_person = "052699";

    let shots_dir = shots("browser-admin");
    let _ = std::fs::remove_dir_all(&shots_dir);
    let mut script = Script::start(
        "admin.mjs",
        &hub.url,
        &place,
        &[
            ("SHOTS", shots_dir.display().to_string()),
            ("ADMIN", "admin".to_string()),
            ("ADMIN_PIN", PIN.to_string()),
            ("NEW_PERSON", new_person.to_string()),
            ("DEVICE_PERSON", OFFICER.to_string()),
            ("DEVICE_FP", device_fp.clone()),
            ("BAD_XLSX", bad.display().to_string()),
            ("GOOD_XLSX", good.display().to_string()),
            ("INITIAL_PASSWORD", INITIAL_PASSWORD.to_string()),
            ("WORKFLOW_JSON", workflow.display().to_string()),
        ],
    );
    let new_ids: Vec<String> = (0..NEW_PEOPLE)
        .map(|n| format!("0{}", FIRST_NEW + n))
        .collect();
    let mut done = false;
    while let Some(line) = script.lines.recv().await {
        eprintln!("[admin browser] {line}");
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("ACCOUNT_CREATED"), Some(p)) => {
                assert_eq!(p, new_person);
                assert!(db()
                    .user(p)
                    .unwrap()
                    .is_some_and(|u| !u.disabled && !u.is_admin));
                script.say("CHECKED");
            }
            (Some("DEVICE_APPROVED"), Some(id)) => {
                let e = db().enrolment(id).unwrap().unwrap();
                assert_eq!(
                    (e.person.as_str(), e.status.as_str(), e.fingerprint.as_str()),
                    (OFFICER, "approved", device_fp.as_str())
                );
                assert_eq!(e.decided_by.as_deref(), Some("admin"));
                script.say("CHECKED");
            }
            (Some("IMPORT_NONE"), _) => {
                let d = db();
                assert_eq!(jingwu_hub::publish::latest_version(d.as_ref()).unwrap(), 1);
                assert!(new_ids.iter().all(|id| d.user(id).unwrap().is_none()));
                script.say("CHECKED");
            }
            (Some("IMPORT_DONE"), _) => {
                let d = db();
                assert_eq!(jingwu_hub::publish::latest_version(d.as_ref()).unwrap(), 2);
                let reg = jingwu_hub::server::registry(d.as_ref()).unwrap();
                for id in &new_ids {
                    assert!(reg.org.person(id).is_some(), "{id} published");
                    assert!(d.user(id).unwrap().is_some(), "{id} account");
                }
                script.say("CHECKED");
            }
            (Some("PUBLISHED"), _) => {
                let d = db();
                assert_eq!(jingwu_hub::publish::latest_version(d.as_ref()).unwrap(), 3);
                let reg = jingwu_hub::server::registry(d.as_ref()).unwrap();
                assert_eq!(reg.workflow_latest(&wf_id).unwrap().version, wf_version);
                script.say("CHECKED");
            }
            (Some("DONE"), _) => done = true,
            _ => {}
        }
    }
    let status = script.child.wait().unwrap();
    assert!(
        status.success() && done,
        "the admin console browser run failed"
    );
    drop(hub);
}
