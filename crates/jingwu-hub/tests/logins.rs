//! Logins under attack: one lockout per account and per source for every
//! credential endpoint (API and browser), a bound on password hashes
//! running at once (the excess gets 429 with `Retry-After`), and every
//! failure in the log.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jingwu_hub::hub::Limits;

use crate::common::*;
use crate::durability::HubProcess;

/// POSTs a login to the API (`ui: false`) or the browser UI (`ui: true`);
/// (status, Retry-After, body).
async fn login(
    url: &str,
    ui: bool,
    person: &str,
    password: &str,
) -> (u16, Option<u64>, serde_json::Value) {
    let http = jingwu_station::pin::http_client(None).unwrap();
    let req = if ui {
        http.post(format!("{url}/api/ui/login"))
            .header("X-Jingwu-UI", "1")
            .json(&serde_json::json!({"person": person, "password": password}))
    } else {
        http.post(format!("{url}/api/login"))
            .json(&serde_json::json!({"person": person, "password": password, "device": "d"}))
    };
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, r.json().await.unwrap_or_default())
}

async fn lockout(backend: Backend) {
    let place = HubPlace::new(backend);
    place.init(&[OFFICER, CHIEF]);
    let limits = Limits {
        login_max_failures: 5,
        login_source_max_failures: 16,
        login_lock_secs: 2,
        ..Limits::default()
    };
    let hub = RunningHub::start_with(&place, limits).await;
    let u = hub.url.as_str();
    const WRONG: &str = "Wrong-Passw0rd!";

    // Five wrong passwords, through both endpoints: one counter.
    for i in 0..5 {
        let (s, _, b) = login(u, i % 2 == 1, OFFICER, WRONG).await;
        assert_eq!(s, 401, "{b}");
    }
    // Now even the right password is refused, on either endpoint, with a
    // Retry-After and a message saying how long.
    let mut retry = 0;
    for ui in [false, true] {
        let (s, r, b) = login(u, ui, OFFICER, PASSWORD).await;
        assert_eq!(s, 429, "{b}");
        assert_eq!(b["code"], "locked_out", "{b}");
        retry = r.expect("Retry-After");
        assert!((1..=2).contains(&retry), "{retry}");
        assert!(b["error"].as_str().unwrap().contains("秒"), "{b}");
    }
    // Another account from the same address is not locked.
    let (s, _, b) = login(u, false, CHIEF, PASSWORD).await;
    assert_eq!(s, 200, "{b}");

    // After the lock, five more wrong ones lock it again, longer (4 s).
    tokio::time::sleep(Duration::from_secs(retry)).await;
    for _ in 0..5 {
        assert_eq!(login(u, false, OFFICER, WRONG).await.0, 401);
    }
    let (s, r, b) = login(u, true, OFFICER, PASSWORD).await;
    assert_eq!(s, 429, "{b}");
    assert!((3..=4).contains(&r.unwrap()), "{r:?}");

    // The right password waits out the lockout.
    let locked_at = Instant::now();
    loop {
        let (s, r, b) = login(u, false, OFFICER, PASSWORD).await;
        if s == 200 {
            break;
        }
        assert_eq!(s, 429, "{b}");
        tokio::time::sleep(Duration::from_secs(r.unwrap())).await;
    }
    let waited = locked_at.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    // A success reset the account counter: four wrong ones do not lock.
    for _ in 0..4 {
        assert_eq!(login(u, false, OFFICER, WRONG).await.0, 401);
    }
    assert_eq!(login(u, true, OFFICER, PASSWORD).await.0, 200);

    // Per source: 14 failures from this address so far; two more on
    // accounts that do not exist reach its limit of 16, and then every
    // account is refused from here.
    for who in ["nobody-1", "nobody-2"] {
        assert_eq!(login(u, false, who, WRONG).await.0, 401);
    }
    let (s, r, b) = login(u, false, CHIEF, PASSWORD).await;
    assert_eq!(s, 429, "{b}");
    assert_eq!(b["code"], "locked_out", "{b}");
    assert!(r.unwrap() >= 1);
    hub.stop().await;
}
crate::both_backends!(lockout_per_account_and_source, lockout);

/// VmHWM (peak resident set) and VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// 512 parallel logins at the real hub: its peak RSS stays under 500 MB,
/// the excess is answered 429 with Retry-After, and every failure is in
/// the log with the person and the source address.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_logins_keep_memory_bounded_and_are_logged() {
    const N: usize = 512;
    let place = HubPlace::new(Backend::Sqlite);
    place.init(&[OFFICER]);
    let log = place.dir.path().join("hub.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jingwu-hub"));
    cmd.arg("--data-dir")
        .arg(place.dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--insecure-http"])
        // Distinct unknown accounts and a high per-source limit: the
        // bound on hashes is what is tested here, not the lockout.
        .env("JINGWU_HUB_LIMITS__LOGIN_SOURCE_MAX_FAILURES", "100000")
        .env("JINGWU_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let hub = HubProcess::spawn(cmd);
    let pid = hub.child.id();
    let before = rss_kib(pid);

    let mut tasks = Vec::new();
    for i in 0..N {
        let url = hub.url.clone();
        tasks.push(tokio::spawn(async move {
            let person = format!("nobody-{i}");
            login(&url, i % 2 == 1, &person, "Wrong-Passw0rd!").await
        }));
    }
    let (mut unauthorized, mut busy) = (0, 0);
    for t in tasks {
        let (s, retry, b) = t.await.unwrap();
        match s {
            401 => unauthorized += 1,
            429 => {
                busy += 1;
                assert_eq!(b["code"], "busy", "{b}");
                assert!(retry.unwrap() >= 1);
            }
            other => panic!("{other}: {b}"),
        }
    }
    let (peak, now) = rss_kib(pid);
    eprintln!(
        "{N} parallel logins: {unauthorized} × 401, {busy} × 429; hub RSS before {} KiB, peak {peak} KiB, after {now} KiB",
        before.1
    );
    assert!(peak < 500 * 1024, "peak RSS {peak} KiB");
    assert!(unauthorized > 0);

    // The right password still works afterwards.
    assert_eq!(login(&hub.url, false, OFFICER, PASSWORD).await.0, 200);
    drop(hub);
    let mut text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    for i in 0..N {
        let who = format!("nobody-{i}");
        assert!(
            text.lines().any(|l| l.contains("登录失败")
                && l.contains(&format!("person=\"{who}\""))
                && l.contains("127.0.0.1")),
            "no log line for {who}:\n{}",
            text.lines().take(5).collect::<Vec<_>>().join("\n")
        );
    }
    assert!(!text.contains("Wrong-Passw0rd!"), "a password was logged");
}
