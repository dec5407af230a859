//! The station binary, run as the README runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

mod incident;
mod reminders;
mod scan;

/// The README's main job: the station demo runs end to end on a fresh data
/// directory, twice (the second run reuses the stored keys), and `verify`
/// re-checks the store.
#[test]
fn station_demo_runs_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = station(dir.path(), &["demo"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("分管局长"), "{text}");
        assert!(text.contains("已归档"), "{text}");
        assert!(text.contains("全部校验通过"), "{text}");
    }
    let out = station(dir.path(), &["verify"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("已校验 4 个案件"));
    let out = station(dir.path(), &["list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
}

/// A store whose bytes were changed behind the app's back fails `verify`
/// with the case named.
#[test]
fn verify_names_a_tampered_case() {
    let dir = tempfile::tempdir().unwrap();
    let out = station(dir.path(), &["demo"]);
    assert!(out.status.success());
    // Change one opinion inside a stored signed event.
    let conn = tamper_first_decision(&dir.path().join("station.db"));
    assert!(conn, "could not tamper");
    let out = station(dir.path(), &["verify"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("校验失败") || err.contains("事件无效"),
        "{err}"
    );
}

/// Bad input: an unusable data dir gives a plain Chinese error, not a panic.
#[test]
fn unusable_data_dir_is_explained() {
    let out = station(std::path::Path::new("/proc/jingwu"), &["demo"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("错误：无法创建数据目录"), "{err}");
}

/// Replaces "同意" by "不同" in the first stored decision event.
fn tamper_first_decision(db: &std::path::Path) -> bool {
    let conn = rusqlite::Connection::open(db).unwrap();
    let (id, bytes): (String, Vec<u8>) = conn
        .query_row(
            "SELECT id, bytes FROM events WHERE kind='decide' ORDER BY rowid LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let changed = text.replacen("\"opinion\":\"同意\"", "\"opinion\":\"不同\"", 1);
    if changed == text {
        return false;
    }
    conn.execute(
        "UPDATE events SET bytes=?1 WHERE id=?2",
        rusqlite::params![changed.into_bytes(), id],
    )
    .unwrap()
        == 1
}

/// The data directory (and the parents the station makes) is 0700, the
/// store 0600, a slip written 0600; an older, world-readable data
/// directory and store are tightened on the next command.
#[cfg(unix)]
#[test]
fn data_files_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        format!(
            "{:o}",
            std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
        )
    };
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("county/station");
    let out = station(&d, &["demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&root.path().join("county")), "700");
    assert_eq!(mode(&d), "700");
    assert_eq!(mode(&d.join("station.db")), "600");
    let case = hukou_case(&d);
    let pdf = d.join("slip.pdf");
    assert!(
        station(&d, &["slip", &case, "--out", pdf.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(mode(&pdf), "600");

    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(d.join("station.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(station(&d, &["list"]).status.success());
    assert_eq!(mode(&d), "700");
    assert_eq!(mode(&d.join("station.db")), "600");
}

fn station(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jingwu-station"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn run_tool(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} must be installed (scripts/setup.sh): {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The id of the first 户口变更 case (its 受理编号 has the station's code).
fn hukou_case(dir: &std::path::Path) -> String {
    let out = station(dir, &["list"]);
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    list.lines()
        .find(|l| l.contains("522634580000-"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string()
}

/// The slip PDF of an approved case: Chinese text extractable, the CJK
/// font embedded as a subset, structurally valid, small; its QR verifies
/// from the PDF and from a 150-dpi, slightly rotated raster of the page.
#[test]
fn slip_pdf_prints_verifies_and_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(station(d, &["demo"]).status.success());
    let case = hukou_case(d);
    let pdf = d.join("slip.pdf");
    let out = station(d, &["slip", &case, "--out", pdf.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&pdf).unwrap().len();
    assert!(size < 300 * 1024, "slip is {size} bytes");

    let text = run_tool("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
    for needle in [
        "户口变更审批结果通知单",
        "受理编号",
        "变更前内容",
        "王德永",
        "王德勇",
        "派出所所长",
        "分管局长",
        "审批结果：同意",
        "5226**********0116",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    // No seal is registered in this offline demo: the seals are drawn
    // from the names and the slip says so (docs/seals.md).
    assert!(text.contains("单位印章：未登记印章"), "{text}");
    assert!(text.contains("名章：未登记印章"), "{text}");
    let out = station(d, &["seal", "list"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("没有已登记的印章"));
    // Full ID numbers never appear on the slip.
    assert!(!text.contains("522634198503120116"));
    let fonts = run_tool("pdffonts", &[pdf.to_str().unwrap()]);
    let cjk = fonts
        .lines()
        .find(|l| l.contains("NotoSansCJK"))
        .unwrap_or_else(|| panic!("{fonts}"));
    assert!(cjk.contains("yes yes"), "not an embedded subset: {fonts}");
    run_tool("qpdf", &["--check", pdf.to_str().unwrap()]);

    // The QR in the PDF verifies offline.
    let out = station(d, &["verify-slip", pdf.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.starts_with("有效"), "{said}");
    assert!(said.contains("王德永 → 王德勇"), "{said}");

    // Print it, scan it back at 150 dpi, slightly rotated: still verifies.
    let prefix = d.join("page");
    run_tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-gray",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let page = d.join("page.png");
    let rotated = d.join("rotated.png");
    run_tool(
        "convert",
        &[
            page.to_str().unwrap(),
            "-background",
            "white",
            "-rotate",
            "2.5",
            rotated.to_str().unwrap(),
        ],
    );
    let out = station(d, &["verify-slip", rotated.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A picture has no text to compare: the signed content is printed for
    // a person to compare with the paper.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("请逐字核对"), "{said}");
    assert!(said.contains("王德永 → 王德勇"), "{said}");
    assert!(said.contains("意见："), "{said}");
    // zbar, a third party, reads the same code.
    let z = run_tool("zbarimg", &["--raw", "-q", rotated.to_str().unwrap()]);
    assert!(z.trim().starts_with("JW1:"), "{z}");
    let artefacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    let _ = std::fs::create_dir_all(&artefacts);
    let _ = std::fs::copy(&pdf, artefacts.join("slip.pdf"));
    let _ = std::fs::copy(&page, artefacts.join("slip-page.png"));

    // A forged QR (one character changed) is refused with a reason.
    let mut forged = z.trim().to_string().into_bytes();
    let i = forged.len() / 2;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let fq = d.join("forged.png");
    run_tool(
        "qrencode",
        &["-o", fq.to_str().unwrap(), "-s", "6", &forged],
    );
    let out = station(d, &["verify-slip", fq.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("无效"));

    // The case record tampered with after printing: the same slip now fails.
    let conn = rusqlite::Connection::open(d.join("station.db")).unwrap();
    let (id, bytes): (String, Vec<u8>) = conn
        .query_row(
            "SELECT id, bytes FROM events WHERE kind='update_form' OR kind='attach' OR kind='create' ORDER BY rowid LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let changed = String::from_utf8(bytes)
        .unwrap()
        .replacen("张秀英", "张秀华", 1);
    conn.execute(
        "UPDATE events SET bytes=?1 WHERE id=?2",
        rusqlite::params![changed.into_bytes(), id],
    )
    .unwrap();
    drop(conn);
    let out = station(d, &["verify-slip", pdf.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("无效") && err.contains("改动"), "{err}");
}

/// A slip PDF whose visible text was edited (the 变动人's name, one glyph,
/// in both places it shows) while its QR code stayed as it was is 无效,
/// and says what differs; the genuine PDF stays 有效.
#[test]
fn a_slip_pdf_with_forged_visible_text_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(station(d, &["demo"]).status.success());
    let case = hukou_case(d);
    let pdf = d.join("slip.pdf");
    assert!(station(d, &["slip", &case, "--out", pdf.to_str().unwrap()])
        .status
        .success());
    // Uncompressed, as a PDF editor would see it.
    let qdf = d.join("slip-qdf.pdf");
    run_tool(
        "qpdf",
        &[
            "--qdf",
            "--object-streams=disable",
            pdf.to_str().unwrap(),
            qdf.to_str().unwrap(),
        ],
    );
    let bytes = std::fs::read(&qdf).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // The glyph codes of 勇 and 永 from the font's ToUnicode map.
    let code_of = |unicode: &str| {
        text.lines()
            .find_map(|l| {
                let l = l.trim();
                l.strip_suffix(&format!("> <{unicode}>"))
                    .and_then(|c| c.strip_prefix('<'))
                    .map(str::to_lowercase)
            })
            .unwrap_or_else(|| panic!("no ToUnicode entry for {unicode}"))
    };
    let (yong, yong2) = (code_of("52C7"), code_of("6C38"));
    // Byte lines: fonts and images in between are binary.
    let mut replaced = 0;
    let mut forged: Vec<u8> = Vec::with_capacity(bytes.len());
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            forged.push(b'\n');
        }
        let hex = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.strip_suffix("> Tj"));
        let Some(hex) = hex else {
            forged.extend_from_slice(line);
            continue;
        };
        let mut glyphs = String::new();
        for c in hex.as_bytes().chunks(4) {
            let c = std::str::from_utf8(c).unwrap();
            if c == yong {
                replaced += 1;
                glyphs.push_str(&yong2);
            } else {
                glyphs.push_str(c);
            }
        }
        forged.extend_from_slice(format!("<{glyphs}> Tj").as_bytes());
    }
    assert_eq!(replaced, 2, "王德勇 shows twice (变动人, 变更后内容)");
    let forged_pdf = d.join("forged.pdf");
    std::fs::write(&forged_pdf, forged).unwrap();
    run_tool("qpdf", &["--check", forged_pdf.to_str().unwrap()]);
    // What a reader of the PDF now sees.
    let seen = run_tool("pdftotext", &["-layout", forged_pdf.to_str().unwrap(), "-"]);
    assert!(!seen.contains("王德勇"), "{seen}");

    let out = station(d, &["verify-slip", forged_pdf.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains("无效：页面文字与审批人签名的内容不符")
            && err.contains("王德永 → 王德永")
            && err.contains("王德永 → 王德勇"),
        "{err}"
    );
    // The qdf form of the genuine slip is still the genuine slip.
    let out = station(d, &["verify-slip", qdf.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with("有效") && said.contains("页面文字与签名内容一致"),
        "{said}"
    );
}

/// `jingwu-station show … | head -1`: the reader closes the pipe before
/// the station writes; the station ends quietly (no panic, no message, exit
/// 0) instead of panicking on the broken pipe.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(station(d, &["demo"]).status.success());
    let case = hukou_case(d);
    for args in [vec!["show", case.as_str()], vec!["list"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jingwu-station"))
            .arg("--data-dir")
            .arg(d)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the only reading end before the child has printed.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
    // With a reader, `show` prints the case, its ID numbers masked.
    let out = station(d, &["show", &case]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("5226**********0116"), "{said}");
}

/// A case still under review has no slip; the message says why.
#[test]
fn undecided_or_unknown_cases_have_no_slip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = station(d, &["slip", "nonexistent", "--out", "x.pdf"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("没有案件"));
    // Not a slip at all.
    let junk = d.join("junk.png");
    std::fs::write(&junk, b"not an image").unwrap();
    let out = station(d, &["verify-slip", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("错误"));
}

/// A blank form carries its form id in a QR code that zbar reads.
#[test]
fn blank_form_carries_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pdf = d.join("blank.pdf");
    let out = station(
        d,
        &[
            "blank-form",
            "--station",
            "522634580000",
            "--form-id",
            "FX-20261127-0007",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = run_tool("pdftotext", &[pdf.to_str().unwrap(), "-"]);
    assert!(
        text.contains("户口变更登记表") && text.contains("申报人公民身份号码"),
        "{text}"
    );
    let prefix = d.join("blank");
    run_tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let z = run_tool(
        "zbarimg",
        &["--raw", "-q", d.join("blank.png").to_str().unwrap()],
    );
    assert_eq!(z.trim(), "JWF1:FX-20261127-0007");
    let out = station(
        d,
        &[
            "blank-form",
            "--station",
            "522634580000",
            "--form-id",
            "bad id!",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
}

/// Printing to the CUPS `cups-pdf` queue set up by scripts/test.sh puts the
/// PDF in the queue's output folder.
#[test]
fn printing_to_cups_pdf_produces_the_pdf() {
    let queue = std::env::var("JINGWU_TEST_PRINTER").unwrap_or_else(|_| "JingwuPDF".into());
    let outdir = std::path::PathBuf::from(
        std::env::var("JINGWU_TEST_PRINTER_OUT")
            .unwrap_or_else(|_| "/var/spool/cups-pdf/jingwu".into()),
    );
    let status = Command::new("lpstat")
        .args(["-p", &queue])
        .output()
        .unwrap_or_else(|e| panic!("lpstat: {e}"));
    assert!(
        status.status.success(),
        "CUPS queue {queue} is not set up (scripts/test.sh starts cupsd and creates it): {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pdf = d.join("blank.pdf");
    let form_id = format!("PRINT-{}", std::process::id());
    assert!(station(
        d,
        &[
            "blank-form",
            "--station",
            "522634580000",
            "--form-id",
            &form_id,
            "--out",
            pdf.to_str().unwrap()
        ]
    )
    .status
    .success());
    // Files from earlier runs may carry the same job number: only one
    // written from now on counts.
    let since = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
    let out = station(d, &["print", pdf.to_str().unwrap(), "--printer", &queue]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&queue), "{said}");
    // Other tests print to the same queue at the same time: this job's file
    // is the one cups-pdf names after CUPS's job number (`Label 1`, set by
    // scripts/cups-queue.sh), "<title>-job_N.pdf".
    let job: String = said
        .split(&format!("{queue}-"))
        .nth(1)
        .unwrap_or_else(|| panic!("no job number in `{said}`"))
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    assert!(!job.is_empty(), "no job number in `{said}`");
    let (head, tail) = (format!("job_{job}-"), format!("-job_{job}.pdf"));
    // Wait (bounded) for cups-pdf to write the file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let new_pdf = loop {
        let now: Vec<_> = std::fs::read_dir(&outdir)
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if let Some(p) = now.into_iter().find(|p| {
            p.extension().is_some_and(|e| e == "pdf")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&head) || n.ends_with(&tail))
                && std::fs::metadata(p)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t >= since)
        }) {
            // Done once cups-pdf has written the whole file.
            let done = std::fs::read(&p)
                .map(|b| b.trim_ascii_end().ends_with(b"%%EOF"))
                .unwrap_or(false);
            if done {
                break p;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no PDF appeared in {}",
            outdir.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // cups-pdf re-renders the job through Ghostscript, so compare what is
    // on the page: a sound PDF whose QR code carries our form id.
    run_tool("qpdf", &["--check", new_pdf.to_str().unwrap()]);
    let prefix = d.join("printed");
    run_tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-png",
            "-singlefile",
            new_pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let z = run_tool(
        "zbarimg",
        &["--raw", "-q", d.join("printed.png").to_str().unwrap()],
    );
    assert_eq!(z.trim(), format!("JWF1:{form_id}"));
}
