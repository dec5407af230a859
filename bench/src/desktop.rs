//! `jingwu-bench-desktop APP`: the station desktop app's cold start to its
//! first interactive screen, and its idle memory (resident set of the app
//! and its WebKit processes), under Xvfb, over repeated runs with a fresh
//! data directory each time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// (RSS, PSS) in KiB of `pid` and all its descendants. RSS counts shared
/// library pages (WebKit) once per process; PSS shares them out.
fn tree_rss_kib(pid: u32) -> (u64, u64) {
    let mut total = 0;
    let mut pss = 0;
    let mut todo = vec![pid];
    let procs: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|p| {
                    let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                    let after = stat.rsplit_once(')')?.1;
                    let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
                    Some((p, ppid))
                })
                .collect()
        })
        .unwrap_or_default();
    while let Some(p) = todo.pop() {
        total += own_rss_kib(p);
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
            {
                pss += kb;
            }
        }
        todo.extend(procs.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
    }
    (total, pss)
}

/// RSS in KiB of `pid` alone.
fn own_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// What [`measure`] found over its runs, each sorted: start-up times (ms),
/// RSS and PSS of the process tree, RSS of the program's own process (MB).
type Runs = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// A benchmark subject: its name, program and added environment.
type Subject<'a> = (&'a str, &'a Path, &'a [(&'a str, &'a str)]);

/// `runs` starts of `program` with a fresh data directory each, `env`
/// added to the environment.
fn measure(program: &Path, env: &[(&str, &str)], display: &str, runs: usize) -> Result<Runs> {
    let mut starts = Vec::new();
    let mut rss = Vec::new();
    let mut pss = Vec::new();
    let mut own = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let t = Instant::now();
        let mut child = Command::new(program)
            .env("DISPLAY", display)
            .env("JINGWU_DATA_DIR", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("xdg"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("无法启动 {}", program.display()))?;
        let err = child.stderr.take().context("stderr")?;
        let mut ready = None;
        for line in BufReader::new(err).lines() {
            let line = line?;
            if line.starts_with("JINGWU_UI_READY") {
                ready = Some(t.elapsed());
                break;
            }
        }
        let Some(ready) = ready else {
            let _ = child.kill();
            bail!("{} 没有报告界面就绪", program.display());
        };
        // Idle: the first screen is shown, nothing happens.
        std::thread::sleep(Duration::from_secs(5));
        let (r, p) = tree_rss_kib(child.id());
        rss.push(r as f64 / 1024.0);
        pss.push(p as f64 / 1024.0);
        own.push(own_rss_kib(child.id()) as f64 / 1024.0);
        starts.push(ready.as_secs_f64() * 1000.0);
        let _ = child.kill();
        let _ = child.wait();
    }
    for v in [&mut starts, &mut rss, &mut pss, &mut own] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    Ok((starts, rss, pss, own))
}

fn main() -> Result<()> {
    let app = std::env::args()
        .nth(1)
        .context("用法：jingwu-bench-desktop <jingwu 可执行文件>")?;
    let app = Path::new(&app);
    let peer = std::env::current_exe()?.with_file_name("jingwu-bench-webkit");
    let runs: usize = std::env::var("JINGWU_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let n = 200 + std::process::id() % 200;
    let display = format!(":{n}");
    let mut xvfb = Command::new("Xvfb")
        .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("Xvfb")?;
    let sock = format!("/tmp/.X11-unix/X{n}");
    let t0 = Instant::now();
    while !Path::new(&sock).exists() {
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("Xvfb did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The app as shipped (WebKitGTK non-composited, src-tauri/src/main.rs),
    // the app with compositing (JINGWU_GPU=1), and the peer: a bare
    // WebKitGTK window in the app's (non-composited) mode.
    let subjects: [Subject; 3] = [
        ("jingwu (as shipped: non-composited)", app, &[]),
        (
            "jingwu with JINGWU_GPU=1 (composited)",
            app,
            &[("JINGWU_GPU", "1")],
        ),
        (
            "bare WebKitGTK window (peer)",
            &peer,
            &[("WEBKIT_DISABLE_COMPOSITING_MODE", "1")],
        ),
    ];
    let mut results = Vec::new();
    for (name, program, env) in subjects {
        match measure(program, env, &display, runs) {
            Ok(r) => results.push((name, r)),
            Err(e) => {
                let _ = xvfb.kill();
                return Err(e);
            }
        }
    }
    let _ = xvfb.kill();
    let med = |v: &[f64]| v[v.len() / 2];
    let peer_rss = med(&results[2].1 .1);
    let peer_pss = med(&results[2].1 .2);
    println!("Desktop, {runs} runs each, medians (min–max); idle = 5 s after the first interactive screen.");
    println!();
    println!("| subject | start to interactive | idle RSS, all processes | idle PSS, all processes | RSS of its own process | RSS / peer | PSS / peer |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, (starts, rss, pss, own)) in &results {
        println!(
            "| {name} | {:.0} ms ({:.0}–{:.0}) | {:.0} MB ({:.0}–{:.0}) | {:.0} MB ({:.0}–{:.0}) | {:.0} MB | {:.2} | {:.2} |",
            med(starts),
            starts[0],
            starts[starts.len() - 1],
            med(rss),
            rss[0],
            rss[rss.len() - 1],
            med(pss),
            pss[0],
            pss[pss.len() - 1],
            med(own),
            med(rss) / peer_rss,
            med(pss) / peer_pss,
        );
    }
    println!();
    println!("Targets: start < 1,500 ms; idle < 200 MB RSS. \"All processes\": the program, WebKit's web process and network process; RSS counts the shared libraries once in each, PSS divides them.");
    Ok(())
}
