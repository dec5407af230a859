//! 110 接处警 by the headless station against a real hub: the hub's own
//! server (`jingwu_hub::server::serve`) on loopback in this process, each
//! person a `jingwu-station` binary with its own data directory, enrolled
//! with `enrol` and approved by the admin; every step a real signed event
//! pushed and pulled by `sync`.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use jingwu_core::crypto::{KdfParams, SoftwareKey};
use jingwu_core::org::Org;
use jingwu_hub::hub::{Hub, Limits};
use jingwu_hub::server::{self, Config};
use serde_json::Value;
use tempfile::TempDir;

const PASSWORD: &str = "Test-Passw0rd!";
const PIN: &str = "135790";

/// 110巡警大队 接警员, 值班长.
const DESK: &str = "052608";
const COMMANDER: &str = "052645";
/// 丹江派出所 值班民警, 所长.
const DANJIANG_DUTY: &str = "052648";
const DANJIANG_CHIEF: &str = "052616";
const DANJIANG: &str = "522634510000";
/// 消防大队 (outside the bureau) 值班民警.
const FIRE_DUTY: &str = "052659";
const FIRE: &str = "522634100000";

/// A hub serving on loopback (plain HTTP) until stopped; it can be
/// stopped and started again on the same address (the link goes down and
/// comes back).
struct TestHub {
    rt: tokio::runtime::Runtime,
    dir: TempDir,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestHub {
    /// A hub with the Leishan demo org and accounts for `people`.
    fn start(people: &[&str]) -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut hub = TestHub {
            rt,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stop: None,
            task: None,
        };
        let db = server::open_db(&hub.config()).unwrap();
        db.meta_set(
            "org_json",
            &serde_json::to_string(Org::leishan_demo().unwrap().data()).unwrap(),
        )
        .unwrap();
        let h = Hub::new(
            db.clone(),
            Arc::new(server::registry(db.as_ref()).unwrap()),
            Limits::default(),
        )
        .unwrap();
        h.create_user("admin", PASSWORD, true).unwrap();
        // Version 1 of the registry, signed by the admin's key, as `init` does.
        jingwu_hub::publish::publish_first(
            db.as_ref(),
            "admin",
            "Admin-PIN-2468",
            jingwu_core::crypto::KdfParams::TEST_ONLY,
            &jingwu_hub::now_rfc3339(),
        )
        .unwrap();
        for p in people {
            h.create_user(p, PASSWORD, false).unwrap();
        }
        drop(h);
        hub.serve();
        hub
    }

    fn config(&self) -> Config {
        Config {
            data_dir: self.dir.path().to_path_buf(),
            listen: self.addr,
            insecure_http: true,
            ..Config::default()
        }
    }

    /// Serves on `self.addr` (a fresh port the first time, the same one
    /// after a stop).
    fn serve(&mut self) {
        let cfg = self.config();
        let db = server::open_db(&cfg).unwrap();
        let reg = server::registry(db.as_ref()).unwrap();
        let hub = Hub::new(db, Arc::new(reg), Limits::default()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        self.task = Some(self.rt.spawn(async move {
            server::serve(&cfg, hub, move |b| bound_tx.send(b.addr).unwrap(), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        }));
        self.addr = bound_rx.recv().unwrap();
        self.stop = Some(stop);
    }

    /// Stops serving: the port is closed until `serve` again. Whether
    /// the server ended cleanly (`false`: still draining connections
    /// after 30 s, then cut off).
    fn down(&mut self) -> bool {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let Some(t) = self.task.take() else {
            return true;
        };
        let abort = t.abort_handle();
        let ended = self
            .rt
            .block_on(async { tokio::time::timeout(std::time::Duration::from_secs(30), t).await });
        if ended.is_err() {
            abort.abort();
        }
        matches!(ended, Ok(Ok(())))
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The admin approves every pending device enrolment.
    fn approve_all(&self) {
        let url = self.url();
        self.rt.block_on(async move {
            let mut admin = jingwu_station::client::HubClient::new(&url, None).unwrap();
            admin
                .login("admin", PASSWORD, "admin-console")
                .await
                .unwrap();
            for e in admin.enrolments(Some("pending")).await.unwrap() {
                admin.decide_enrolment(&e.id, "approve").await.unwrap();
            }
        });
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        let clean = self.down();
        assert!(clean || std::thread::panicking(), "the hub did not stop");
    }
}

/// One person's station: the binary with its own data directory.
struct Desk {
    dir: TempDir,
    person: &'static str,
}

impl Desk {
    /// Enrols `person` at the hub with a key sealed (cheap KDF, test
    /// only) in a key file.
    fn enrol(hub: &TestHub, person: &'static str) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let key = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
        let sealed = key
            .seal(PIN, KdfParams::TEST_ONLY, &mut getrandom::SysRng)
            .unwrap();
        let key_file = dir.path().join("key.json");
        std::fs::write(&key_file, serde_json::to_string(&sealed).unwrap()).unwrap();
        let d = Desk { dir, person };
        let out = d.run(&[
            "enrol",
            "--hub",
            &hub.url(),
            "--person",
            person,
            "--device-name",
            "110 测试",
            "--key-file",
            key_file.to_str().unwrap(),
        ]);
        ok(&out);
        d
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_jingwu-station"));
        c.arg("--data-dir")
            .arg(self.data())
            .args(args)
            .env("JINGWU_PASSWORD", PASSWORD)
            .env("JINGWU_PIN", PIN)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs an `incident` command with `--json`: it succeeds and prints
    /// one JSON object.
    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["incident"];
        a.extend_from_slice(args);
        a.push("--json");
        let out = self.run(&a);
        let text = ok(&out);
        serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("{} {args:?}: not JSON ({e}): {text}", self.person))
    }

    /// Runs an `incident` command that must be refused: non-zero exit,
    /// `needles` in the message, nothing saved.
    fn refused(&self, args: &[&str], needles: &[&str]) -> String {
        let before = self.events();
        let mut a = vec!["incident"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "{args:?} was accepted: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(err.starts_with("错误："), "{err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: missing {n} in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(self.events(), before, "{args:?} saved something");
        err
    }

    fn sync(&self) -> Value {
        let out = self.run(&["sync"]);
        let text = ok(&out);
        let report: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(report["failed"], serde_json::json!([]), "{report}");
        assert_eq!(report["rebased"], serde_json::json!([]), "{report}");
        report
    }

    /// Events in the local store.
    fn events(&self) -> i64 {
        let conn = rusqlite::Connection::open(self.data().join("station.db")).unwrap();
        conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap()
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn intake(phone: &str, location: &str) -> Vec<String> {
    [
        "alarm_method=1".to_string(),
        format!("alarm_phone={phone}"),
        "caller_name=杨光荣".into(),
        format!("location={location}"),
        "township=522634100".into(),
        "alarm_category=010100".into(),
        "level=1".into(),
        "summary=报警人称其停放在家门口的电动车被盗".into(),
    ]
    .into_iter()
    .flat_map(|f| ["--field".to_string(), f])
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The dispatch of `unit` in a `--json` answer.
fn dispatch<'a>(v: &'a Value, unit: &str) -> &'a Value {
    v["dispatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["unit"] == unit)
        .unwrap_or_else(|| panic!("no dispatch to {unit} in {v}"))
}

/// The ids in one of `incident list --json`'s tabs.
fn tab(lists: &Value, k: &str) -> Vec<String> {
    lists[k]
        .as_array()
        .unwrap_or_else(|| panic!("no tab {k} in {lists}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// A time `minutes` before now, as people type it.
fn minutes_ago(minutes: i64) -> String {
    let t = time::OffsetDateTime::now_utc().to_offset(jingwu_core::SHANGHAI)
        - time::Duration::minutes(minutes);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]"
    ))
    .unwrap()
}

/// The whole 110 flow by CLI: the desk takes the call and dispatches to
/// 丹江派出所 and 消防大队; 丹江's station gets the dispatch on the live
/// channel, acks, departs, arrives and reports losses 1,234.56 + 300.00;
/// 消防 returns its dispatch with a reason; the 值班长 closes and the
/// record is filed at the 110 brigade with every signature verified.
/// Bad input on the way gets a message naming the field and saves nothing.
#[test]
fn a_110_call_from_the_desk_to_the_archive() {
    let hub = TestHub::start(&[DESK, COMMANDER, DANJIANG_DUTY, FIRE_DUTY]);
    let desk = Desk::enrol(&hub, DESK);
    let commander = Desk::enrol(&hub, COMMANDER);
    let dj = Desk::enrol(&hub, DANJIANG_DUTY);
    let fire = Desk::enrol(&hub, FIRE_DUTY);
    hub.approve_all();

    // 接警: a bad phone is named and nothing is saved.
    let bad = intake("1398550", "丹江镇营上村");
    let mut a = vec!["new"];
    a.extend(args(&bad));
    desk.refused(&a, &["接警信息有", "报警电话", "alarm_phone"]);
    let good = intake("13985501234", "丹江镇营上村");
    let mut a = vec!["new"];
    a.extend(args(&good));
    let rec = desk.json(&a);
    let id = rec["id"].as_str().unwrap().to_string();
    let case_no = rec["case_no"].as_str().unwrap().to_string();
    assert_eq!(rec["status"], "受理", "{rec}");
    assert_eq!(rec["repeats"], serde_json::json!([]));
    assert_eq!(rec["unit_name"], "110巡警大队");
    // The same phone again within 30 minutes: a repeat-call warning.
    let out = desk.run(
        &["incident", "new"]
            .into_iter()
            .chain(args(&good))
            .collect::<Vec<_>>(),
    );
    let said = ok(&out);
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(
        warn.contains("重复报警") && warn.contains(&case_no) && warn.contains("同一电话"),
        "{warn}"
    );
    let second = said.split_whitespace().next().unwrap().to_string();

    // 派警 to two units in one step, by 接警单编号; 丹江's station follows
    // the live channel and sees the dispatch arrive.
    let mut follow = dj
        .command(&[
            "sync",
            "--follow",
            "--case",
            &id,
            "--status",
            "dispatched",
            "--timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut live = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut first = String::new();
    live.read_line(&mut first).unwrap();
    assert!(first.contains("\"pulled\""), "{first}");
    let rec = desk.json(&[
        "dispatch",
        &case_no,
        "--unit",
        DANJIANG,
        "--unit",
        "消防大队",
        "--opinion",
        "请丹江派出所、消防大队出警",
    ]);
    assert_eq!(rec["status"], "已下达", "{rec}");
    assert_eq!(rec["dispatches"].as_array().unwrap().len(), 2, "{rec}");
    assert_eq!(dispatch(&rec, FIRE)["unit_name"], "消防大队");
    desk.sync();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut live, &mut rest).unwrap();
    let status = follow.wait().unwrap();
    assert!(status.success(), "follow: {rest}");
    assert!(rest.contains(&case_no) && rest.contains("已下达"), "{rest}");
    // The follow stopped at the first dispatch event; the rest of the
    // step (the dispatch to 消防) comes with the next sync. (A step taken
    // on a stale copy is set aside and signed again with `redo`: see
    // `two_units_acting_at_once_lose_nothing`.)
    dj.sync();

    // 丹江: 待签收, then its steps.
    let lists = dj.json(&["list"]);
    assert_eq!(tab(&lists, "to_ack"), vec![id.clone()], "{lists}");
    assert_eq!(lists["counts"]["to_ack"], 1);
    assert_eq!(lists["desk"], false);
    let rec = dj.json(&["ack", &id]);
    assert_eq!(dispatch(&rec, DANJIANG)["status"], "已签收", "{rec}");
    let rec = dj.json(&[
        "depart",
        &id,
        "--officer",
        DANJIANG_DUTY,
        "--vehicle",
        "贵H·1234警",
    ]);
    assert!(!dispatch(&rec, DANJIANG)["departed_at"].is_null(), "{rec}");
    // Arrival before the dispatch (and the departure) is refused.
    dj.refused(
        &["arrive", &id, "--at", &minutes_ago(120)],
        &["到达现场时间", "不能早于"],
    );
    dj.json(&["arrive", &id]);
    // 反馈 without a result code, with a loss of 3 decimals or negative.
    dj.refused(
        &[
            "feedback",
            &id,
            "--handling",
            "已到场",
            "--loss",
            "电动车=100.00",
        ],
        &["反馈单有", "处警结果", "result"],
    );
    dj.refused(
        &[
            "feedback",
            &id,
            "--result",
            "04",
            "--handling",
            "已到场",
            "--loss",
            "电动车=12.345",
        ],
        &["损失明细", "电动车", "两位小数"],
    );
    dj.refused(
        &[
            "feedback",
            &id,
            "--result",
            "04",
            "--handling",
            "已到场",
            "--loss",
            "电动车=-5",
        ],
        &["损失明细", "不能为负数"],
    );
    let rec = dj.json(&[
        "feedback",
        &id,
        "--result",
        "04",
        "--handling",
        "到场勘查，已受案侦查",
        "--loss",
        "电动车一辆=1,234.56",
        "--loss",
        "头盔及随车物品=300.00",
        "--injured",
        "0",
        "--dead",
        "0",
        "--arrested",
        "1",
    ]);
    let d = dispatch(&rec, DANJIANG);
    assert_eq!(d["status"], "已反馈", "{rec}");
    assert_eq!(d["loss"], "1534.56");
    assert_eq!(d["loss_upper"], "壹仟伍佰叁拾肆元伍角陆分");
    assert_eq!(d["feedback"]["loss_amount"], "1534.56");
    assert_eq!(d["feedback"]["verified_category"], "010100");
    assert_eq!(d["feedback"]["arrested"], 1);
    assert!(rec["pending"].as_u64().unwrap() > 0);
    assert_eq!(dj.sync()["pending"], 0);
    let lists = dj.json(&["list"]);
    assert_eq!(tab(&lists, "fed_back"), vec![id.clone()], "{lists}");

    // 消防: the dispatch reached it (an external unit); it returns it.
    fire.sync();
    let lists = fire.json(&["list"]);
    assert_eq!(tab(&lists, "to_ack"), vec![id.clone()], "{lists}");
    fire.refused(&["return", &id], &["退单"]);
    let rec = fire.json(&["return", &id, "--reason", "经核实无火情，无需消防出警"]);
    assert_eq!(
        dispatch(&rec, FIRE)["return_reason"],
        "经核实无火情，无需消防出警"
    );
    fire.sync();

    // The desk: 待终结; the 接警员 may not close; the 值班长 does.
    desk.sync();
    let lists = desk.json(&["list"]);
    assert_eq!(lists["desk"], true);
    assert_eq!(tab(&lists, "to_close"), vec![id.clone()], "{lists}");
    assert_eq!(tab(&lists, "to_dispatch"), vec![second.clone()], "{lists}");
    desk.refused(&["close", &id], &["终结"]);
    commander.sync();
    let rec = commander.json(&["close", &id]);
    assert_eq!(rec["status"], "已归档", "{rec}");
    assert_eq!(rec["archive_unit"], "110巡警大队");
    commander.sync();

    // The archive, as the desk reads it after sync: every step, every
    // signature verified.
    desk.sync();
    let page = desk.json(&["show", &case_no]);
    assert_eq!(page["status"], "已归档", "{page}");
    assert_eq!(page["archive_unit"], "110巡警大队");
    assert_eq!(page["loss"], "1534.56");
    assert_eq!(page["loss_upper"], "壹仟伍佰叁拾肆元伍角陆分");
    assert_eq!(page["chain_ok"], true);
    assert_eq!(page["labels"]["township"], "丹江镇");
    let trail = page["trail"].as_array().unwrap();
    let steps: Vec<&str> = trail.iter().map(|t| t["step"].as_str().unwrap()).collect();
    for s in ["接警", "派警", "签收", "出警", "到达现场", "退单", "终结"] {
        assert!(steps.contains(&s), "{s} missing from {steps:?}");
    }
    assert!(trail.iter().all(|t| t["verified"] == true), "{page}");
    let lists = desk.json(&["list", "--q", "营上村"]);
    assert_eq!(tab(&lists, "archived"), vec![id.clone()], "{lists}");

    // The text page, and `show` on a 110 record.
    let text = ok(&desk.run(&["incident", "show", &id]));
    for want in [
        case_no.as_str(),
        "已归档",
        "报警电话：13985501234",
        "乡镇（街道）：丹江镇",
        "丹江派出所",
        "消防大队",
        "经核实无火情",
        "电动车一辆 1,234.56 元",
        "1534.56 元（大写：壹仟伍佰叁拾肆元伍角陆分）",
        "归档单位：110巡警大队",
        "签名已验证",
    ] {
        assert!(text.contains(want), "missing {want} in:\n{text}");
    }
    assert!(!text.contains("签名未验证"), "{text}");
    let old = ok(&desk.run(&["show", &case_no]));
    assert!(!old.contains("（）： →"), "{old}");
    assert!(
        old.contains("签名已验证") && old.contains("已归档"),
        "{old}"
    );
}

/// 自接警 at 丹江派出所 while the hub is down, and a dispatch it already
/// had handled offline; when the link returns `sync` carries both, the
/// 所长 and the 值班长 close them and the desk reads them archived.
#[test]
fn a_station_without_its_link_keeps_working() {
    let mut hub = TestHub::start(&[DESK, COMMANDER, DANJIANG_DUTY, DANJIANG_CHIEF]);
    let desk = Desk::enrol(&hub, DESK);
    let commander = Desk::enrol(&hub, COMMANDER);
    let dj = Desk::enrol(&hub, DANJIANG_DUTY);
    let chief = Desk::enrol(&hub, DANJIANG_CHIEF);
    hub.approve_all();

    let call = intake("13985507788", "丹江镇乌东村");
    let mut a = vec!["new"];
    a.extend(args(&call));
    let b = desk.json(&a);
    let b_id = b["id"].as_str().unwrap().to_string();
    desk.json(&["dispatch", &b_id, "--unit", "丹江派出所"]);
    desk.sync();
    dj.sync();

    // The link goes down.
    assert!(hub.down());
    let out = dj.run(&["sync"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("错误："),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The dispatch it has.
    dj.json(&["ack", &b_id]);
    dj.json(&["depart", &b_id, "--officer", "欧阳明"]);
    dj.json(&["arrive", &b_id]);
    dj.json(&[
        "feedback",
        &b_id,
        "--result",
        "01",
        "--handling",
        "当场处理完毕",
    ]);
    // 自接警: a person walks in (来人报警).
    let mut walk_in: Vec<String> = intake("无", "丹江镇营上村二组");
    walk_in.extend(["--field".into(), "alarm_method=2".into()]);
    let mut a = vec!["new"];
    a.extend(args(&walk_in));
    let c = dj.json(&a);
    let c_id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["unit_name"], "丹江派出所", "{c}");
    let own = dispatch(&c, DANJIANG);
    assert_eq!(own["own"], true, "{c}");
    assert_eq!(own["status"], "已签收", "{c}");
    dj.json(&["depart", &c_id, "--officer", DANJIANG_DUTY]);
    dj.json(&["arrive", &c_id]);
    let rec = dj.json(&[
        "feedback",
        &c_id,
        "--result",
        "02",
        "--handling",
        "双方已调解",
        "--loss",
        "门锁=80.50",
    ]);
    assert_eq!(rec["status"], "已反馈", "{rec}");
    assert_eq!(rec["loss_upper"], "捌拾元伍角");
    // Only the 所长 closes a 自接警.
    dj.refused(&["close", &c_id], &["终结"]);
    let lists = dj.json(&["list"]);
    let fed: Vec<String> = tab(&lists, "fed_back");
    assert!(fed.contains(&b_id) && fed.contains(&c_id), "{lists}");
    // 4 steps on the dispatch it had, 4 on its own record (签收 is part
    // of 自接警).
    assert_eq!(rec["pending"], 8, "{rec}");

    // The link returns.
    hub.serve();
    let report = dj.sync();
    assert_eq!(report["pending"], 0, "{report}");
    chief.sync();
    let rec = chief.json(&["close", &c_id]);
    assert_eq!(rec["status"], "已归档", "{rec}");
    assert_eq!(rec["archive_unit"], "110巡警大队");
    chief.sync();
    commander.sync();
    commander.json(&["close", &b_id]);
    commander.sync();

    desk.sync();
    for id in [&b_id, &c_id] {
        let page = desk.json(&["show", id]);
        assert_eq!(page["status"], "已归档", "{page}");
        assert_eq!(page["archive_unit"], "110巡警大队");
        assert_eq!(page["chain_ok"], true);
        assert!(
            page["trail"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["verified"] == true),
            "{page}"
        );
    }
    let page = desk.json(&["show", &c_id]);
    assert_eq!(page["trail"][0]["step"], "自接警", "{page}");
    let lists = desk.json(&["list", "--q", "丹江镇"]);
    let archived = tab(&lists, "archived");
    assert!(
        archived.contains(&b_id) && archived.contains(&c_id),
        "{lists}"
    );
}

/// Two units act on one record at once: 丹江's 签收 reaches the hub first,
/// so 消防's, signed on the older head, is refused as stale. Nothing is
/// lost: the sync sets it aside as still applying, says so, and `redo`
/// signs it again on the hub's head with the time it happened; the desk
/// then sees both units acknowledged.
#[test]
fn two_units_acting_at_once_lose_nothing() {
    let hub = TestHub::start(&[DESK, DANJIANG_DUTY, FIRE_DUTY]);
    let desk = Desk::enrol(&hub, DESK);
    let dj = Desk::enrol(&hub, DANJIANG_DUTY);
    let fire = Desk::enrol(&hub, FIRE_DUTY);
    hub.approve_all();
    let mut a = vec!["new"];
    let form = intake("13985507777", "丹江镇猫鼻岭");
    a.extend(args(&form));
    let id = desk.json(&a)["id"].as_str().unwrap().to_string();
    desk.json(&["dispatch", &id, "--unit", DANJIANG, "--unit", FIRE]);
    desk.sync();
    dj.sync();
    fire.sync();
    // Both acknowledge on the same head.
    dj.json(&["ack", &id]);
    let mine = fire.json(&["ack", &id]);
    let acked_at = dispatch(&mine, FIRE)["acknowledged_at"].clone();
    assert!(acked_at.is_string(), "{mine}");
    dj.sync();
    let out = fire.run(&["sync"]);
    let text = ok(&out);
    let report: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        report["rebased"],
        serde_json::json!([id.clone()]),
        "{report}"
    );
    assert_eq!(report["redo"], 1, "{report}");
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(warn.contains("jingwu-station redo"), "{warn}");
    // Signed again with the PIN, then accepted.
    let out = fire.run(&["redo"]);
    assert!(ok(&out).contains("已重新签名"), "{}", ok(&out));
    let report = fire.sync();
    assert_eq!(report["redo"], 0, "{report}");
    // Nothing is left to redo the second time.
    assert!(ok(&fire.run(&["redo"])).contains("没有需要重新签名的操作"));
    desk.sync();
    let rec = desk.json(&["show", &id]);
    assert_eq!(dispatch(&rec, FIRE)["status"], "已签收", "{rec}");
    assert_eq!(dispatch(&rec, DANJIANG)["status"], "已签收", "{rec}");
    // The time it happened is kept.
    assert_eq!(dispatch(&rec, FIRE)["acknowledged_at"], acked_at, "{rec}");
}
