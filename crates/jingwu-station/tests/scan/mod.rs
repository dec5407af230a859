//! Scan import: the station API on a real store, the `scan`, `watch`,
//! `scanners` and `import-scan` commands, the hot folder with bad input,
//! and SANE's `test` backend through `scanimage`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use jingwu_core::crypto::{KdfParams, SoftwareKey};
use jingwu_core::event::Action;
use jingwu_core::registry::Registry;
use jingwu_scan::corpus::{self, FileKind, FileSpec, PageSpec};
use jingwu_station::hotfolder::{self, HotFolder};
use jingwu_station::sane::{self, SaneError};
use jingwu_station::scan::{attachments, SCANS_FIELD};
use jingwu_station::station::Station;
use serde_json::Value;
use uuid::Uuid;

const PIN: &str = "246810";
/// Pages are rendered at 120 dpi to keep the debug-build suite quick.
const DPI: u32 = 120;
/// Upper bound for waiting on the watcher's channel (never a sleep).
const WAIT: Duration = Duration::from_secs(120);

/// A station in `dir` with the 方祥派出所 户籍民警 enrolled locally (key
/// under PIN) and one 户口变更 draft.
fn station_with_draft(dir: &Path) -> (Station, Uuid) {
    let reg = Registry::builtin_demo().unwrap();
    let code = reg
        .org
        .units()
        .find(|u| u.name == "方祥派出所")
        .unwrap()
        .code
        .clone();
    let officer = reg.org.holders(&code, "户籍民警")[0].id.clone();
    let mut st = Station::open(dir, reg).unwrap();
    let k = SoftwareKey::generate(&mut getrandom::SysRng).unwrap();
    let sealed = k
        .seal(PIN, KdfParams::TEST_ONLY, &mut getrandom::SysRng)
        .unwrap();
    st.store.save_key(&officer, &sealed).unwrap();
    st.store.set_meta("person", Some(&officer)).unwrap();
    // Demo data, without a hub: opened with the built-in demo org.
    jingwu_station::registry::mark_demo(&mut st.store).unwrap();
    let form = jingwu_core::demo::name_change_form();
    let case = st.create_hukou(PIN, form).unwrap().case_id;
    (st, case)
}

fn write(dir: &Path, files: Vec<FileSpec>) {
    corpus::write_corpus(dir, &files, DPI);
}

fn spec(name: &str, kind: FileKind, pages: Vec<PageSpec>) -> FileSpec {
    FileSpec {
        name: name.into(),
        kind,
        pages,
    }
}

fn unstamped(skew: f32) -> PageSpec {
    PageSpec {
        stamp: false,
        ..PageSpec::form(skew)
    }
}

/// SM3s of the Attach events waiting in the outbox.
fn outbox_attached(st: &Station) -> Vec<String> {
    st.store
        .outbox(u32::MAX)
        .unwrap()
        .into_iter()
        .filter_map(|p| match p.event.event.action {
            Action::Attach { attachment, .. } => Some(attachment.sm3),
            _ => None,
        })
        .collect()
}

/// Every SM3 any pending event names (what sync could upload).
fn outbox_text(st: &Station) -> String {
    st.store
        .outbox(u32::MAX)
        .unwrap()
        .into_iter()
        .map(|p| serde_json::to_string(&p.event.event.action).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A multi-page TIFF becomes one attachment per page, in order, one
/// signed Attach each; the original stays on the station (linked, never
/// named by an event); a missing seal is a warning; a bad file or a
/// wrong PIN records nothing.
#[test]
fn import_scan_attaches_pages_and_keeps_the_original_locally() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, case) = station_with_draft(&dir.path().join("data"));
    let scans = dir.path().join("scans");
    write(
        &scans,
        vec![spec(
            "表格.tif",
            FileKind::Tiff,
            vec![PageSpec::form(3.0), unstamped(-2.0)],
        )],
    );
    let file = scans.join("表格.tif");
    let before = attachments(&st.store.case(&case).unwrap().unwrap(), SCANS_FIELD);

    // A wrong PIN: refused before any work, nothing recorded.
    let outbox = st.store.outbox_len().unwrap();
    assert!(st
        .import_scan("000000", case, SCANS_FIELD, &file)
        .unwrap_err()
        .to_string()
        .contains("PIN"));
    assert_eq!(st.store.outbox_len().unwrap(), outbox);

    let imp = st.import_scan(PIN, case, SCANS_FIELD, &file).unwrap();
    assert_eq!(imp.pages.len(), 2);
    assert_eq!(imp.pages[0].page, 1);
    assert!((imp.pages[0].skew_degrees - 3.0).abs() < 0.5, "{imp:?}");
    assert!((imp.pages[1].skew_degrees + 2.0).abs() < 0.5, "{imp:?}");
    assert!(imp.pages[0].stamp_present && imp.pages[0].stamp_bbox.is_some());
    assert!(imp.pages[0].warnings.is_empty(), "{imp:?}");
    assert!(!imp.pages[1].stamp_present);
    assert!(imp.pages[1]
        .warnings
        .iter()
        .any(|w| w.contains("未检测到村（居）委会印章")));

    // The case lists the pages after what it had, in page order.
    let state = st.store.case(&case).unwrap().unwrap();
    let list = attachments(&state, SCANS_FIELD);
    assert_eq!(list.len(), before.len() + 2);
    let tail: Vec<_> = list[before.len()..].iter().map(|a| a.sm3.clone()).collect();
    assert_eq!(
        tail,
        vec![imp.pages[0].sm3.clone(), imp.pages[1].sm3.clone()]
    );
    assert_eq!(outbox_attached(&st), tail);
    for (p, a) in imp.pages.iter().zip(&list[before.len()..]) {
        let bytes = st.store.attachment(&p.sm3).unwrap().unwrap();
        assert!(bytes.starts_with(b"\xFF\xD8\xFF"));
        assert_eq!(bytes.len() as u64, p.bytes);
        assert_eq!(a.mime, "image/jpeg");
        assert!(
            a.name.contains("第") && a.name.ends_with(".jpg"),
            "{}",
            a.name
        );
        let origin = st.store.page_origin(&p.sm3).unwrap().unwrap();
        assert_eq!(origin.original_sm3, imp.original_sm3);
        assert_eq!(origin.page, p.page);
    }
    // The original is kept, byte for byte, and nothing that travels
    // names it.
    let original = st.store.original(&imp.original_sm3).unwrap().unwrap();
    assert_eq!(original, std::fs::read(&file).unwrap());
    assert!(st.store.attachment(&imp.original_sm3).unwrap().is_none());
    assert!(!outbox_text(&st).contains(&imp.original_sm3));

    // Importing the same file again is refused whole (pages already
    // there): nothing more recorded.
    let n = st.store.outbox_len().unwrap();
    let e = st.import_scan(PIN, case, SCANS_FIELD, &file).unwrap_err();
    assert!(e.to_string().contains("已添加过"), "{e}");
    assert_eq!(st.store.outbox_len().unwrap(), n);

    // A truncated JPEG: the pipeline's Chinese reason, nothing recorded.
    let good = std::fs::read(&file).unwrap();
    let bad = scans.join("坏.jpg");
    let jpeg = corpus::jpeg_bytes(
        &image::RgbImage::from_pixel(64, 64, image::Rgb([250; 3])),
        80,
    );
    std::fs::write(&bad, &jpeg[..jpeg.len() / 2]).unwrap();
    let e = st.import_scan(PIN, case, SCANS_FIELD, &bad).unwrap_err();
    assert!(e.to_string().contains("不完整"), "{e}");
    assert_eq!(st.store.outbox_len().unwrap(), n);
    assert!(st
        .store
        .original(&jingwu_core::crypto::sm3_hex(&jpeg[..jpeg.len() / 2]))
        .unwrap()
        .is_none());
    assert!(!good.is_empty());
}

/// Pages are turned in place and put in a new order by hand; both are
/// signed events and survive a replay of the store.
#[test]
fn pages_are_rotated_and_rearranged() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, case) = station_with_draft(&dir.path().join("data"));
    let scans = dir.path().join("scans");
    write(
        &scans,
        vec![
            spec("a.jpg", FileKind::Jpeg, vec![PageSpec::form(0.0)]),
            spec("b.png", FileKind::Png, vec![unstamped(1.0)]),
        ],
    );
    let a = st
        .import_scan(PIN, case, SCANS_FIELD, &scans.join("a.jpg"))
        .unwrap();
    st.import_scan(PIN, case, SCANS_FIELD, &scans.join("b.png"))
        .unwrap();
    let list = |st: &Station| attachments(&st.store.case(&case).unwrap().unwrap(), SCANS_FIELD);
    let before = list(&st);
    let pos = before.iter().position(|x| x.sm3 == a.pages[0].sm3).unwrap();

    let turned = st
        .rotate_page(PIN, case, SCANS_FIELD, &a.pages[0].sm3, 1)
        .unwrap();
    let after = list(&st);
    assert_eq!(after.len(), before.len());
    assert_eq!(after[pos].sm3, turned.sm3);
    assert!(!after.iter().any(|x| x.sm3 == a.pages[0].sm3));
    let img = image::load_from_memory(&st.store.attachment(&turned.sm3).unwrap().unwrap()).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (a.pages[0].height, a.pages[0].width)
    );
    // The turned page still leads back to the original file.
    assert_eq!(
        st.store
            .page_origin(&turned.sm3)
            .unwrap()
            .unwrap()
            .original_sm3,
        a.original_sm3
    );
    // Not a quarter turn: refused, nothing recorded.
    let n = st.store.outbox_len().unwrap();
    assert!(st
        .rotate_page(PIN, case, SCANS_FIELD, &turned.sm3, 4)
        .is_err());
    assert_eq!(st.store.outbox_len().unwrap(), n);

    let mut order: Vec<String> = after.iter().map(|x| x.sm3.clone()).collect();
    order.reverse();
    st.arrange_pages(PIN, case, SCANS_FIELD, order.clone())
        .unwrap();
    assert_eq!(
        list(&st).iter().map(|x| x.sm3.clone()).collect::<Vec<_>>(),
        order
    );
    let mut dup = order.clone();
    dup[1] = dup[0].clone();
    assert!(st.arrange_pages(PIN, case, SCANS_FIELD, dup).is_err());
    // The store re-verifies the whole chain.
    assert_eq!(
        st.store.verified_events(&case).unwrap().len(),
        st.store.events(&case).unwrap().len()
    );
}

/// A blank form printed for a draft carries the draft's form id; its scan
/// is matched back to the draft; unknown form ids are left alone.
#[test]
fn qr_matched_scans_attach_to_their_draft() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, case) = station_with_draft(&dir.path().join("data"));
    let id = Station::form_id(&case);
    assert_eq!(st.case_for_form(&id).unwrap(), Some(case));
    assert_eq!(st.case_for_form(&id.to_lowercase()).unwrap(), Some(case));
    assert_eq!(st.case_for_form("FX-20261127-0007").unwrap(), None);
    assert_eq!(
        st.case_for_form(&Station::form_id(&Uuid::now_v7()))
            .unwrap(),
        None
    );
    let scans = dir.path().join("scans");
    let qr = |payload: &str| PageSpec {
        qr: Some(format!("JWF1:{payload}")),
        ..PageSpec::form(1.5)
    };
    write(
        &scans,
        vec![
            spec("ours.pdf", FileKind::Pdf, vec![qr(&id), unstamped(0.0)]),
            spec("theirs.jpg", FileKind::Jpeg, vec![qr("FX-20261127-0007")]),
        ],
    );
    let got = st.import_matched(PIN, &scans.join("ours.pdf")).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, Some(case), "{id}: {got:?}");
    // The page after the QR page belongs to the same form.
    assert_eq!(got[0].1.pages.len(), 2);
    assert_eq!(got[0].1.pages[0].form_id.as_deref(), Some(id.as_str()));
    let list = attachments(&st.store.case(&case).unwrap().unwrap(), SCANS_FIELD);
    assert!(list.iter().any(|a| a.sm3 == got[0].1.pages[1].sm3));

    let n = st.store.outbox_len().unwrap();
    let got = st.import_matched(PIN, &scans.join("theirs.jpg")).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, None);
    assert_eq!(st.store.outbox_len().unwrap(), n);
}

fn station_cmd(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jingwu-station"));
    c.arg("--data-dir").arg(data).env_remove("JINGWU_PIN");
    c
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// `scan FILE… --out DIR` without a store: one JSON object per page, the
/// JPEGs written, a bad file reported as a JSON error line, exit non-zero
/// after the rest.
#[test]
fn scan_command_prints_one_json_object_per_page() {
    let dir = tempfile::tempdir().unwrap();
    let scans = dir.path().join("in");
    write(
        &scans,
        vec![
            spec(
                "two.tif",
                FileKind::Tiff,
                vec![PageSpec::form(2.0), unstamped(0.0)],
            ),
            spec("one.jpg", FileKind::Jpeg, vec![unstamped(-1.0)]),
        ],
    );
    std::fs::write(scans.join("empty.jpg"), b"").unwrap();
    let out_dir = dir.path().join("out");
    let data = dir.path().join("no-store");
    let out = station_cmd(&data)
        .args(["scan", "--out"])
        .arg(&out_dir)
        .arg(scans.join("two.tif"))
        .arg(scans.join("empty.jpg"))
        .arg(scans.join("one.jpg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!data.exists(), "scan must not need a store");
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["page"], 1);
    assert_eq!(lines[1]["page"], 2);
    assert!((lines[0]["skew_degrees"].as_f64().unwrap() - 2.0).abs() < 0.5);
    assert_eq!(lines[0]["stamp"]["present"], true);
    assert!(lines[0]["stamp"]["bbox"].is_object());
    assert_eq!(lines[1]["stamp"]["present"], false);
    assert!(lines[2]["source"].as_str().unwrap().ends_with("empty.jpg"));
    assert!(lines[2]["error"].as_str().unwrap().contains("文件为空"));
    assert!(lines[3]["source"].as_str().unwrap().ends_with("one.jpg"));
    for l in [&lines[0], &lines[1], &lines[3]] {
        let f = PathBuf::from(l["output"].as_str().unwrap());
        let len = std::fs::metadata(&f).unwrap().len();
        assert_eq!(len, l["output_bytes"].as_u64().unwrap());
        assert!(l["millis"].is_u64() && l.get("qr").is_some());
    }
}

/// A 200 MB file (sparse: no disk used).
fn huge(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(200 * 1024 * 1024).unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A tiny PNG declaring 50,000 × 50,000 pixels.
fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
    chunk(b"IEND", &[]);
    out
}

/// Writes the bad-input set into `dir`; returns their names.
fn bad_inputs(dir: &Path, good_jpeg: &[u8]) -> Vec<&'static str> {
    std::fs::write(
        dir.join("truncated.jpg"),
        &good_jpeg[..good_jpeg.len() * 6 / 10],
    )
    .unwrap();
    std::fs::write(dir.join("bomb.png"), png_bomb()).unwrap();
    let exe = std::fs::read(env!("CARGO_BIN_EXE_jingwu-station")).unwrap();
    std::fs::write(dir.join("program.jpg"), &exe[..64 * 1024]).unwrap();
    std::fs::write(dir.join("empty.jpg"), b"").unwrap();
    huge(&dir.join("huge.tif"));
    vec![
        "truncated.jpg",
        "bomb.png",
        "program.jpg",
        "empty.jpg",
        "huge.tif",
    ]
}

/// Peak resident memory of this process (each test runs in its own
/// process under nextest).
fn peak_rss_mb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// The hot folder takes every bad input (moved to 未能导入/ with the
/// reason beside it) and keeps importing good files, with bounded
/// memory; QR-matched scans go to their draft.
#[test]
fn hot_folder_survives_bad_input_and_attaches_matched_forms() {
    let dir = tempfile::tempdir().unwrap();
    let (st, case) = station_with_draft(&dir.path().join("data"));
    let reg = st.reg.clone();
    drop(st);
    let hot = dir.path().join("hot");
    let src = dir.path().join("src");
    let form = PageSpec {
        qr: Some(format!("JWF1:{}", Station::form_id(&case))),
        ..PageSpec::form(-1.0)
    };
    write(
        &src,
        vec![
            spec("plain.jpg", FileKind::Jpeg, vec![unstamped(0.5)]),
            spec("form.png", FileKind::Png, vec![form]),
        ],
    );
    std::fs::create_dir_all(&hot).unwrap();
    let bad = bad_inputs(&hot, &std::fs::read(src.join("plain.jpg")).unwrap());

    // A wrong PIN is refused when the watcher starts, not file by file.
    let wrong = hotfolder::Config {
        poll: Duration::from_millis(50),
        attach: Some(hotfolder::Attach {
            data_dir: dir.path().join("data"),
            reg: reg.clone(),
            pin: "000000".into(),
        }),
    };
    assert!(HotFolder::start(&hot, wrong, |_| {}).is_err());

    let (tx, rx) = mpsc::channel();
    let config = hotfolder::Config {
        poll: Duration::from_millis(50),
        attach: Some(hotfolder::Attach {
            data_dir: dir.path().join("data"),
            reg: reg.clone(),
            pin: PIN.into(),
        }),
    };
    let watcher = HotFolder::start(&hot, config, move |o| tx.send(o).unwrap()).unwrap();
    let mut outcomes = Vec::new();
    for _ in &bad {
        outcomes.push(rx.recv_timeout(WAIT).unwrap());
    }
    // Good files arriving after the bad ones are still taken (copied in
    // under a temporary name, then renamed, as scanners do).
    for name in ["plain.jpg", "form.png"] {
        let part = hot.join(format!("{name}.part"));
        std::fs::copy(src.join(name), &part).unwrap();
        std::fs::rename(&part, hot.join(name)).unwrap();
    }
    for _ in 0..2 {
        outcomes.push(rx.recv_timeout(WAIT).unwrap());
    }
    drop(watcher);
    // The watcher stopped: its sender is gone.
    assert!(rx.recv_timeout(WAIT).is_err());

    let by_name = |n: &str| {
        outcomes
            .iter()
            .find(|o| o.file.file_name().unwrap() == n)
            .unwrap_or_else(|| panic!("{n} not taken: {outcomes:?}"))
    };
    let reasons = [
        ("truncated.jpg", "不完整"),
        ("bomb.png", "50000×50000"),
        ("program.jpg", "不是图片"),
        ("empty.jpg", "文件为空"),
        ("huge.tif", "文件过大"),
    ];
    for (name, why) in reasons {
        let o = by_name(name);
        assert!(!o.imported);
        assert!(o.error.as_deref().unwrap().contains(why), "{name}: {o:?}");
        let moved = o.moved_to.clone().unwrap();
        assert_eq!(moved, hot.join(hotfolder::FAILED_DIR).join(name));
        assert!(moved.exists());
        let txt =
            std::fs::read_to_string(hot.join(hotfolder::FAILED_DIR).join(format!("{name}.txt")))
                .unwrap();
        assert!(txt.contains(why), "{txt}");
    }
    let plain = by_name("plain.jpg");
    assert!(plain.imported, "{plain:?}");
    assert_eq!(plain.pages.len(), 1);
    assert_eq!(plain.pages[0].case, None);
    assert!(hot.join(hotfolder::DONE_DIR).join("plain.jpg").exists());
    let form = by_name("form.png");
    assert!(form.imported, "{form:?}");
    assert_eq!(form.pages[0].case, Some(case));
    assert!(!hot.join("form.png").exists());

    let st = Station::open(&dir.path().join("data"), reg).unwrap();
    let list = attachments(&st.store.case(&case).unwrap().unwrap(), SCANS_FIELD);
    assert!(list.iter().any(|a| a.sm3 == form.pages[0].page.sm3));
    // Bounded memory: the bomb and the 200 MB file were refused before
    // anything large was allocated.
    let peak = peak_rss_mb();
    assert!(peak < 600, "peak RSS {peak} MB");
}

/// `watch DIR` prints one JSON line per file and, for an enrolled user
/// with JINGWU_PIN, attaches a matched form to its draft.
#[test]
fn watch_command_reports_each_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (st, case) = station_with_draft(&data);
    drop(st);
    let hot = dir.path().join("hot");
    let form = PageSpec {
        qr: Some(format!("JWF1:{}", Station::form_id(&case))),
        ..PageSpec::form(0.0)
    };
    write(&hot, vec![spec("form.jpg", FileKind::Jpeg, vec![form])]);
    std::fs::remove_file(hot.join("manifest.json")).unwrap();
    std::fs::write(hot.join("empty.png"), b"").unwrap();
    let child = station_cmd(&data)
        .env("JINGWU_PIN", PIN)
        .args(["watch", "--max-files", "2", "--poll-ms", "50"])
        .arg(&hot)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let empty = lines
        .iter()
        .find(|l| l["file"].as_str().unwrap().ends_with("empty.png"))
        .unwrap();
    assert_eq!(empty["imported"], false);
    assert!(empty["error"].as_str().unwrap().contains("文件为空"));
    let form = lines
        .iter()
        .find(|l| l["file"].as_str().unwrap().ends_with("form.jpg"))
        .unwrap();
    assert_eq!(form["imported"], true, "{form}");
    assert_eq!(form["pages"][0]["case"], case.to_string());
    let st = Station::open(&data, Registry::builtin_demo().unwrap()).unwrap();
    let list = attachments(&st.store.case(&case).unwrap().unwrap(), SCANS_FIELD);
    assert!(list
        .iter()
        .any(|a| a.sm3 == form["pages"][0]["sm3"].as_str().unwrap()));
}

/// A SANE configuration folder that enables the `test` backend only.
fn sane_test_config() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("dll.conf"), "test\n").unwrap();
    d
}

/// Points this process's SANE_CONFIG_DIR at the test backend.
fn with_sane_test_backend() -> tempfile::TempDir {
    let d = sane_test_config();
    // Set before this test starts threads (nextest runs one test per
    // process).
    std::env::set_var("SANE_CONFIG_DIR", d.path());
    d
}

/// Through SANE's `test` backend: devices listed, one page and a feeder
/// batch acquired, failures turned into Chinese messages.
#[test]
fn sane_test_backend_acquires_and_explains_failures() {
    let _cfg = with_sane_test_backend();
    let devices = sane::list_devices(Duration::from_secs(30)).unwrap();
    assert!(devices.iter().any(|d| d.name == "test:0"), "{devices:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut a = sane::Acquire::page("test");
    a.extra = vec!["--test-picture".into(), "Grid".into()];
    let files = sane::acquire(&a, &dir.path().join("one")).unwrap();
    assert_eq!(files.len(), 1);
    let img = image::open(&files[0]).unwrap();
    assert!(img.width() > 500 && img.color().has_color());

    // A feeder of ten sheets, capped at four.
    let mut b = sane::Acquire::page("test");
    b.batch = true;
    b.max_pages = 4;
    b.resolution = 75;
    b.extra = vec!["--source".into(), "Automatic Document Feeder".into()];
    let files = sane::acquire(&b, &dir.path().join("feeder")).unwrap();
    assert_eq!(files.len(), 4);

    // The test backend now and then deadlocks after an error status (its
    // reader thread and sane_cancel wait on each other); the timeout ends
    // such a run, and the case is tried again.
    let status = |v: &str| {
        let mut c = sane::Acquire::page("test");
        c.resolution = 75;
        c.timeout = Duration::from_secs(15);
        c.extra = vec!["--read-return-value".into(), v.into()];
        let mut e = sane::acquire(&c, &dir.path().join(v)).unwrap_err();
        for _ in 0..3 {
            if e != SaneError::Timeout(15) {
                break;
            }
            e = sane::acquire(&c, &dir.path().join(v)).unwrap_err();
        }
        e
    };
    assert_eq!(status("SANE_STATUS_DEVICE_BUSY"), SaneError::Busy);
    assert_eq!(status("SANE_STATUS_CANCELLED"), SaneError::Cancelled);
    assert_eq!(status("SANE_STATUS_JAMMED"), SaneError::Jammed);
    assert_eq!(status("SANE_STATUS_NO_DOCS"), SaneError::NoDocuments);
    assert!(SaneError::Busy.to_string().contains("正忙"));
    // Nothing half-written is left behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("SANE_STATUS_JAMMED"))
            .unwrap()
            .count(),
        0
    );
    let e = sane::acquire(&sane::Acquire::page("nosuch:0"), &dir.path().join("x")).unwrap_err();
    assert!(matches!(e, SaneError::NoDevice(_)), "{e:?}");
    assert!(e.to_string().contains("找不到扫描仪"));

    // A slow scanner meets the timeout.
    let mut slow = sane::Acquire::page("test");
    slow.extra = vec![
        "--read-delay=yes".into(),
        "--read-delay-duration".into(),
        "200000".into(),
    ];
    slow.timeout = Duration::from_secs(1);
    assert_eq!(
        sane::acquire(&slow, &dir.path().join("slow")).unwrap_err(),
        SaneError::Timeout(1)
    );
}

/// `scan --sane test --out DIR` and `scanners` through the binary.
#[test]
fn scan_command_acquires_from_sane() {
    let cfg = sane_test_config();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = station_cmd(&data)
        .env("SANE_CONFIG_DIR", cfg.path())
        .arg("scanners")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(json_lines(&out.stdout)
        .iter()
        .any(|d| d["name"] == "test:0"));

    let out = station_cmd(&data)
        .env("SANE_CONFIG_DIR", cfg.path())
        .args(["scan", "--sane", "test", "--resolution", "150", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(PathBuf::from(lines[0]["output"].as_str().unwrap()).exists());

    let out = station_cmd(&data)
        .env("SANE_CONFIG_DIR", cfg.path())
        .args(["scan", "--sane", "nosuch:0", "--out"])
        .arg(dir.path().join("out2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("找不到扫描仪"));
}
