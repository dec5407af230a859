//! `jingwu-station`: the station core without a window.
//!
//! `demo` carries one 户口变更 case through the whole approval chain and
//! one 110 incident through its lifecycle in a local store. With a county
//! hub: `enrol`, `login`, `new`, `attach`, `submit`, `inbox`, `decide`,
//! `sync` (also `--follow`, the live channel) and `export-case` do what an
//! officer or approver does in the desktop app, for scripts and tests;
//! `incident …` does the 110 work of a desk or a handling unit.
//! Passwords come from `JINGWU_PASSWORD` and signing PINs from `JINGWU_PIN`
//! (or a line of stdin), never from the command line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use jingwu_core::case::CaseState;
use jingwu_core::crypto::{KdfParams, Signer as _, SoftwareKey};
use jingwu_core::event::{Action, Decision};
use jingwu_core::form::{CaseType, FormValues};
use jingwu_core::registry::Registry;
use jingwu_core::SHANGHAI;
use jingwu_station::slips::PageCheck;
use jingwu_station::station::Station;
use jingwu_store::Store;
use serde_json::json;
use time::OffsetDateTime;

#[derive(Parser)]
#[command(
    name = "jingwu-station",
    version,
    about = "警务协同 · 派出所端（无界面）"
)]
struct Cli {
    /// Data directory (holds station.db). Default: `jingwu-data` in the
    /// current directory; on Windows `%APPDATA%\Jingwu\station`.
    #[arg(long, env = "JINGWU_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

/// The data directory when neither `--data-dir` nor `JINGWU_DATA_DIR`
/// names one: `jingwu-data` in the current directory, except on Windows,
/// where a program's working directory is often its install folder or
/// `System32`: there the user's roaming application data,
/// `%APPDATA%\Jingwu\station`.
fn default_data_dir() -> PathBuf {
    #[cfg(windows)]
    if let Some(app_data) = std::env::var_os("APPDATA").filter(|v| !v.is_empty()) {
        return PathBuf::from(app_data).join("Jingwu").join("station");
    }
    PathBuf::from("jingwu-data")
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the demo: one 户口变更 case through 所长 → 户政股股长 → 分管局长,
    /// one 110 incident from 受理 to 归档, all signed and verified.
    Demo,
    /// Verify every case in the store: signatures, hash chains, rules.
    Verify,
    /// List the cases in the store.
    List,
    /// Write the result slip (审批结果通知单) of a decided case as PDF.
    Slip {
        /// Case id or 受理编号.
        case: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a slip offline: a PDF, or a photo or scan of the printed page.
    VerifySlip { file: PathBuf },
    /// Print a PDF on the default or a named printer (CUPS on Linux, the
    /// Windows print system on Windows).
    Print {
        file: PathBuf,
        #[arg(long)]
        printer: Option<String>,
    },
    /// Connect this station to the county hub: log in, create the user's
    /// signing key (sealed under the PIN) and register device and key for
    /// an administrator's approval.
    Enrol {
        /// Hub address, e.g. https://10.52.0.10:8443.
        #[arg(long)]
        hub: String,
        /// The hub certificate's SHA-256 fingerprint (from the hub
        /// administrator); required for https.
        #[arg(long)]
        fingerprint: Option<String>,
        /// Your account (警号).
        #[arg(long)]
        person: String,
        #[arg(long, default_value = "无界面工作站")]
        device_name: String,
        /// Use an existing sealed key file (e.g. a demo key) instead of
        /// making a new key.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Log in again (sessions end after idle and absolute timeouts).
    Login,
    /// Create a 户口变更 application from a JSON file of form values.
    New {
        #[arg(long)]
        form: PathBuf,
    },
    /// Attach a scan (JPEG, PNG, TIFF or PDF) to a case.
    Attach {
        case: String,
        file: PathBuf,
        #[arg(long, default_value = "scans")]
        field: String,
    },
    /// Send a case into its approval chain.
    Submit { case: String },
    /// Cases waiting for your decision (as of the last sync).
    Inbox,
    /// Time-limit reminders due now (the working day before a step's due
    /// date, and once overdue; a copy for the leader above), each printed
    /// once, ever. `JINGWU_CLOCK_OFFSET_SECS` moves the clock they are
    /// judged by.
    Remind,
    /// Decide at the current step: agree, disagree or return (退回补正).
    Decide {
        case: String,
        decision: String,
        #[arg(long)]
        opinion: String,
    },
    /// Sign again the 110 steps a sync set aside because another unit
    /// acted on the same record first (asks for the PIN; each step keeps
    /// the time it happened). Then run `sync`.
    Redo,
    /// Upload attachments, push queued events, pull what the hub has.
    Sync {
        /// Then follow the live channel.
        #[arg(long)]
        follow: bool,
        /// With --follow: stop when this case reaches --status.
        #[arg(long)]
        case: Option<String>,
        /// With --follow and --case: a status such as approved, rejected,
        /// in_review, returned.
        #[arg(long)]
        status: Option<String>,
        /// With --follow: give up after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Show a case: status, current step, trail (a 110 record as
    /// `incident show` shows it).
    Show { case: String },
    /// 110 接处警: `new`, `dispatch`, `ack`, `depart`, `arrive`,
    /// `feedback`, `return`, `close`, `list`, `show`; with `--json`, one
    /// JSON object on standard output.
    Incident {
        /// Print JSON (ids, 接警单编号, status, dispatches) instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        cmd: incident_cmd::IncidentCmd,
    },
    /// Write a case's evidence bundle (JSON) from the local store.
    ExportCase {
        case: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Electronic seals: `list` (this station's registered seals); for a
    /// seal administrator `issue` and `revoke` (at the hub).
    Seal {
        #[command(subcommand)]
        cmd: SealCmd,
    },
    /// Write a blank 户口变更登记表 with a QR-coded form id: `--form-id`,
    /// or `--case` for the form id of a local draft (its scan is then
    /// attached to the draft automatically).
    BlankForm {
        /// Station unit code.
        #[arg(long)]
        station: String,
        #[arg(long, required_unless_present = "case", conflicts_with = "case")]
        form_id: Option<String>,
        /// Case id or 受理编号 of a local draft.
        #[arg(long)]
        case: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the scan pipeline without a window (no store needed): write
    /// each page's JPEG into --out and print one JSON object per page; a
    /// refused file prints a JSON line with the reason and the command
    /// exits non-zero after the rest.
    Scan {
        /// Files (JPEG, PNG, TIFF, PDF); none with --sane.
        files: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Acquire from this SANE scanner (see `scanners`) instead.
        #[arg(long, conflicts_with = "files")]
        sane: Option<String>,
        /// With --sane: dots per inch.
        #[arg(long, default_value_t = 300)]
        resolution: u32,
        /// With --sane: scan every sheet of the document feeder.
        #[arg(long)]
        batch: bool,
    },
    /// List the scanners SANE sees (JSON, one per line).
    Scanners,
    /// Watch a folder where scanners save files: import each complete
    /// file, move it to 已导入/ or 未能导入/ (with the reason), print one
    /// JSON line per file. With an enrolled user and JINGWU_PIN, scans
    /// whose QR names a local draft are attached to it.
    Watch {
        dir: PathBuf,
        /// Stop after this many files.
        #[arg(long)]
        max_files: Option<usize>,
        /// Polling interval in milliseconds.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
    },
    /// Import scans into a case: the pipeline's pages attached in order,
    /// the originals kept on this station only.
    ImportScan {
        case: String,
        files: Vec<PathBuf>,
        #[arg(long, default_value = "scans")]
        field: String,
    },
}

#[derive(Subcommand)]
enum SealCmd {
    /// Make, sign (with your key; PIN from JINGWU_PIN) and register a seal.
    Issue {
        /// Person id (personal seal) or unit code (unit seal).
        #[arg(long)]
        holder: String,
        /// An uploaded picture (PNG or JPEG, red ink); drawn from the name
        /// when absent.
        #[arg(long)]
        image: Option<PathBuf>,
        #[arg(long, default_value_t = 1825)]
        valid_days: u32,
        /// Unit seals: the person whose approved key holds the seal
        /// (default: the unit's head).
        #[arg(long)]
        keeper: Option<String>,
        /// Fingerprint of the key to bind, when there are several.
        #[arg(long)]
        key: Option<String>,
        /// Unit seals drawn from the name: text under the star.
        #[arg(long)]
        bottom_text: Option<String>,
    },
    /// Revoke a seal: it stamps nothing decided after now.
    Revoke { id: String },
    /// The registered seals this station holds (from the last sync).
    List,
}

/// `println!` that answers an error instead of panicking when standard
/// output is gone (`jingwu-station show … | head -1`); `main` then ends
/// quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod incident_cmd;

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        if closed_pipe(&e) {
            // The reader has all it wanted.
            return;
        }
        eprintln!("错误：{}", error_text(&e));
        std::process::exit(1);
    }
}

/// Whether `e` is standard output closed by its reader.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, joined with `：`. Our error types show their
/// cause in their own text (`操作未被允许：<the rejection>`) and also
/// report it as their source, so a cause the text already shows is not
/// repeated.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push('：');
            text.push_str(&c);
        }
    }
    text
}

fn run(cli: Cli) -> Result<()> {
    if is_hub_command(&cli.cmd) {
        return hub_command(cli);
    }
    match cli.cmd {
        Cmd::Scan {
            files,
            out,
            sane,
            resolution,
            batch,
        } => return scan_command(files, &out, sane, resolution, batch),
        Cmd::Scanners => {
            for d in jingwu_station::sane::list_devices(std::time::Duration::from_secs(60))? {
                say!("{}", serde_json::to_string(&d)?)?;
            }
            return Ok(());
        }
        Cmd::Watch {
            dir,
            max_files,
            poll_ms,
        } => return watch_command(&cli.data_dir, &dir, max_files, poll_ms),
        _ => {}
    }
    jingwu_store::private_fs::create_dir(&cli.data_dir)
        .with_context(|| format!("无法创建数据目录 {}", cli.data_dir.display()))?;
    let db = cli.data_dir.join("station.db");
    let mut store = Store::open(&db).with_context(|| format!("无法打开 {}", db.display()))?;
    // The rules the hub published, once this store holds them; the
    // built-in demo for the local demo's data.
    let reg = match jingwu_station::registry::load(&store)? {
        Some(r) => r,
        None => Registry::builtin_demo().context("加载雷山县演示组织机构失败")?,
    };
    if matches!(cli.cmd, Cmd::Demo) {
        jingwu_station::registry::mark_demo(&mut store)?;
    }
    match cli.cmd {
        Cmd::Demo => demo(&mut store, &reg),
        Cmd::Verify => {
            let n = verify_all(&store, &reg)?;
            say!("已校验 {n} 个案件，全部通过。")?;
            Ok(())
        }
        Cmd::List => {
            for c in store.list_cases(1000)? {
                say!(
                    "{}  {}  {:<10}  {}",
                    c.id,
                    c.case_no,
                    c.status.label(),
                    c.updated_at
                )?;
            }
            Ok(())
        }
        Cmd::Slip { case, out } => {
            let st = Station::open(&cli.data_dir, reg)?;
            let id = st.find_case(&case)?;
            let (_, pdf) = st.slip_pdf(&id)?;
            write_atomically(&out, &pdf)?;
            say!("已生成结果通知单 {}（{} 字节）", out.display(), pdf.len())?;
            Ok(())
        }
        Cmd::VerifySlip { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("无法读取 {}", file.display()))?;
            let st = Station::open(&cli.data_dir, reg)?;
            let c = st.verify_slip(&bytes)?;
            match c.page_check {
                PageCheck::Matched => {
                    say!("有效：受理编号 {}（页面文字与签名内容一致）", c.case_no)?
                }
                PageCheck::CompareByEye => say!(
                    "签名有效：受理编号 {}\n\
                     ！！请逐字核对：纸面上的受理编号、变更内容和审批记录必须与下列签名内容完全一致，\n\
                     ！！否则通知单已被改动（照片或扫描件无法自动核对页面文字）。",
                    c.case_no
                )?,
            }
            say!("  受理编号：{}", c.case_no)?;
            say!("  审批事项：{}", c.summary)?;
            say!("  审批结果：{}", c.result)?;
            for d in &c.decisions {
                say!(
                    "  {}：{} {}　意见：{}　{}（SM2 签名有效）",
                    d.step,
                    d.name,
                    d.decision,
                    d.opinion,
                    d.time
                )?;
            }
            Ok(())
        }
        Cmd::Seal { cmd: SealCmd::List } => {
            let book = jingwu_station::seals::seal_book(&store)?;
            if book.seals().is_empty() {
                say!("本机没有已登记的印章（同步后从县局取得）。")?;
            }
            for r in book.seals() {
                let i = &r.seal.info;
                let kind = match i.kind {
                    jingwu_slip::seal::SealKind::Unit => "单位印章",
                    jingwu_slip::seal::SealKind::Personal => "个人名章",
                };
                let state = match &r.revoked_at {
                    Some(t) => format!("已注销（{t}）"),
                    None => "有效".to_string(),
                };
                say!(
                    "{}  {kind}  {}  持有 {}  密钥 {}  有效期 {} 至 {}  制章人 {}  {state}",
                    i.id,
                    i.name,
                    i.holder,
                    &i.holder_key.fingerprint()[..16],
                    i.valid_from,
                    i.valid_to,
                    i.maker
                )?;
            }
            Ok(())
        }
        Cmd::Print { file, printer } => {
            let job = jingwu_slip::print::system().print_pdf(&file, printer.as_deref())?;
            say!("已送打印，任务号 {job}")?;
            Ok(())
        }
        Cmd::BlankForm {
            station,
            form_id,
            case,
            out,
        } => {
            let form_id = match (form_id, case) {
                (Some(f), _) => f,
                (None, Some(c)) => {
                    let id = store
                        .list_cases(u32::MAX)?
                        .into_iter()
                        .find(|x| x.id.to_string() == c || x.case_no == c)
                        .map(|x| x.id)
                        .with_context(|| format!("本地库中没有案件 {c}"))?;
                    Station::form_id(&id)
                }
                (None, None) => bail!("请用 --form-id 或 --case 指定空白表编号"),
            };
            let font = jingwu_slip::font::CjkFont::locate()?;
            let fonts = jingwu_slip::pdf::FontSet::new(&font)?;
            let doc = jingwu_slip::slip::blank_form(&reg, &station, &form_id)?;
            let pdf = jingwu_slip::pdf::render(&doc, &fonts)?;
            write_atomically(&out, &pdf)?;
            say!("已生成空白登记表 {}", out.display())?;
            Ok(())
        }
        _ => bail!("内部错误：县局命令未分派"),
    }
}

/// Says so when the session could only be kept for this run (no OS key
/// store answered): later commands will have to log in again.
fn warn_if_session_not_kept(st: &Station) {
    if st.session_kept() == Some(jingwu_station::session::Kept::ThisRun) {
        eprintln!("注意：本机没有可用的系统密钥库，登录状态不会保存，之后的命令需重新登录");
    }
}

/// Writes a file completely or not at all, readable by its owner only
/// (slips, bundles and scans carry personal information).
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    jingwu_store::private_fs::write_atomically(path, bytes)
        .with_context(|| format!("无法写入 {}", path.display()))
}

/// The PIN the demo users' keys are sealed under. Demo data only.
const DEMO_PIN: &str = "246810";

/// Loads (or, on first run, makes and stores) each demo user's key.
fn demo_keys(store: &mut Store, reg: &Registry) -> Result<BTreeMap<String, SoftwareKey>> {
    let mut keys = BTreeMap::new();
    for p in reg.org.people() {
        let key = match store.key(&p.id)? {
            Some(sealed) => sealed.unlock(DEMO_PIN)?,
            None => {
                let k = SoftwareKey::generate(&mut getrandom::SysRng)?;
                store.save_key(
                    &p.id,
                    &k.seal(DEMO_PIN, KdfParams::TEST_ONLY, &mut getrandom::SysRng)?,
                )?;
                k
            }
        };
        keys.insert(p.id.clone(), key);
    }
    Ok(keys)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(SHANGHAI)
}

fn demo(store: &mut Store, reg: &Registry) -> Result<()> {
    say!("警务协同 演示：雷山县公安局（演示数据，人员均为虚构）")?;
    let keys = demo_keys(store, reg)?;
    let org = &reg.org;
    let unit_of = |name: &str| -> Result<String> {
        org.units()
            .find(|u| u.name == name)
            .map(|u| u.code.clone())
            .with_context(|| format!("演示组织中没有 {name}"))
    };
    let holder = |unit: &str, post: &str| -> Result<String> {
        let code = unit_of(unit)?;
        org.holders(&code, post)
            .first()
            .map(|p| p.id.clone())
            .with_context(|| format!("{unit} 没有 {post}"))
    };
    let name = |id: &str| org.person(id).map(|p| p.name.clone()).unwrap_or_default();
    let station = unit_of("方祥派出所")?;
    let officer = holder("方祥派出所", "户籍民警")?;
    let key = |id: &str| keys.get(id).with_context(|| format!("没有 {id} 的密钥"));

    // 1. 户口变更.
    let scan = store.put_attachment(
        &demo_scan(),
        "户口变更登记表（村委会盖章）.svg",
        "image/svg+xml",
    )?;
    let case_no = store.next_case_no(
        &station,
        &key(&officer)?.public_key().fingerprint(),
        now().date(),
    )?;
    let mut form = jingwu_core::demo::name_change_form();
    form.insert("scans".into(), json!([scan]));
    let s = store.record(
        reg,
        key(&officer)?,
        &officer,
        None,
        Action::Create {
            case_type: CaseType::HukouChange,
            template: reg
                .template_latest("hukou_change")
                .context("缺少户口变更模板")?
                .reference(),
            workflow: Some(
                reg.workflow_latest("hukou_change")
                    .context("缺少户口变更流程")?
                    .reference(),
            ),
            case_no,
            unit: station.clone(),
            form,
            registry: reg.published_version(),
        },
        now(),
    )?;
    let id = s.case_id;
    say!(
        "\n[户口变更] 受理编号 {}，承办民警 {}",
        s.case_no,
        name(&officer)
    )?;
    let s = store.record(
        reg,
        key(&officer)?,
        &officer,
        Some(id),
        Action::Submit {},
        now(),
    )?;
    say!(
        "  提交 → 待“{}”",
        s.current_step(reg).map(|x| x.name.as_str()).unwrap_or("")
    )?;
    let mut s = s;
    while s.status == jingwu_core::case::Status::InReview {
        let step = s.current_step(reg).context("找不到当前环节")?.clone();
        let who = s
            .assignees(reg)
            .into_iter()
            .next()
            .with_context(|| format!("{} 无人任职", step.name))?;
        let decision = s.decision_action(reg, Decision::Agree, "同意")?;
        s = store.record(reg, key(&who)?, &who, Some(id), decision, now())?;
        say!(
            "  {}（{}）同意 → {}",
            step.role,
            name(&who),
            s.status.label()
        )?;
    }
    store.record(
        reg,
        key(&officer)?,
        &officer,
        Some(id),
        Action::Implement {
            note: "已办理姓名变更".into(),
        },
        now(),
    )?;
    s = store.record(
        reg,
        key(&officer)?,
        &officer,
        Some(id),
        Action::InformApplicant {
            at: now(),
            channel: "phone".into(),
            note: "已电话告知申报人".into(),
        },
        now(),
    )?;
    say!("  已落实，已告知申请人。审批结果：{}", s.status.label())?;

    // 2. 110 接处警.
    let desk_unit = unit_of("110巡警大队")?;
    let desk = holder("110巡警大队", "接警员")?;
    let chief = holder("方祥派出所", "所长")?;
    let commander = holder("110巡警大队", "值班长")?;
    let t = now() - time::Duration::minutes(3);
    let stamp = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let intake: FormValues = serde_json::from_value(json!({
        "report_time": stamp(t), "receive_time": stamp(t),
        "alarm_method": "1", "alarm_phone": "13985501234", "caller_name": "李春生",
        "location": "方祥乡平祥村二组", "township": "522634204",
        "summary": "报警人称其家中耕牛被盗", "alarm_category": "010000", "level": "1"
    }))?;
    let case_no = store.next_case_no(
        &desk_unit,
        &key(&desk)?.public_key().fingerprint(),
        now().date(),
    )?;
    let s = store.record(
        reg,
        key(&desk)?,
        &desk,
        None,
        Action::Create {
            case_type: CaseType::Incident,
            template: reg
                .template_latest("incident")
                .context("缺少接处警模板")?
                .reference(),
            workflow: None,
            case_no,
            unit: desk_unit,
            form: intake,
            registry: reg.published_version(),
        },
        now(),
    )?;
    let iid = s.case_id;
    say!(
        "\n[110 接处警] 接警单 {}，接警员 {}",
        s.case_no,
        name(&desk)
    )?;
    let steps: Vec<(&String, Action)> = vec![
        (
            &desk,
            Action::Dispatch {
                at: None,
                unit: station.clone(),
                opinion: "请方祥派出所出警".into(),
            },
        ),
        (
            &chief,
            Action::Acknowledge {
                at: None,
                unit: None,
            },
        ),
        (
            &chief,
            Action::Depart {
                officers: vec![chief.clone()],
                vehicles: vec!["贵H·0123警".into()],
                unit: None,
                at: None,
            },
        ),
        (
            &chief,
            Action::Arrive {
                unit: None,
                at: None,
            },
        ),
        (
            &chief,
            Action::Feedback {
                at: None,
                changes: serde_json::from_value(json!({
                    "verified_category": "010000", "handling": "到场勘查，已受案侦查",
                    "result": "04", "loss_amount": "12800.00",
                    "loss_items": [{"item": "耕牛一头", "amount": "12800.00"}]
                }))?,
                unit: None,
            },
        ),
        (&commander, Action::Conclude {}),
    ];
    for (who, action) in steps {
        let s = store.record(reg, key(who)?, who, Some(iid), action, now())?;
        say!("  {} → {}", name(who), s.status.label())?;
    }
    if let Some(s) = store.case(&iid)? {
        say!(
            "  终结即归档于{}",
            s.archive_unit
                .as_deref()
                .and_then(|u| reg.org.unit(u))
                .map(|u| u.name.as_str())
                .unwrap_or_default()
        )?;
    }

    let n = verify_all(store, reg)?;
    say!(
        "\n本地库中共 {n} 个案件，签名、哈希链与业务规则全部校验通过；待同步到县局的事件 {} 个。",
        store.outbox_len()?
    )?;
    Ok(())
}

/// Verifies every case: signatures against stored keys, hash chains, and a
/// full replay through the rules matching the stored state.
fn verify_all(store: &Store, reg: &Registry) -> Result<usize> {
    let cases = store.list_cases(u32::MAX)?;
    for c in &cases {
        let events = store
            .verified_events(&c.id)
            .with_context(|| format!("案件 {} 校验失败", c.case_no))?;
        let hashes: Vec<String> = events.iter().map(|e| e.hash_hex()).collect();
        let replayed = CaseState::replay(
            events
                .iter()
                .zip(&hashes)
                .map(|(e, h)| (&e.event, h.as_str())),
            reg,
        )
        .map_err(|(seq, e)| anyhow::anyhow!("案件 {} 第 {seq} 个事件违反规则：{e}", c.case_no))?;
        if Some(&replayed) != store.case(&c.id)?.as_ref() {
            bail!("案件 {} 的本地状态与事件重放结果不一致", c.case_no);
        }
    }
    Ok(cases.len())
}

/// A stand-in scan for the demo (the scan pipeline arrives later): an SVG
/// of the stamped paper form.
fn demo_scan() -> Vec<u8> {
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="595" height="842"><rect width="595" height="842" fill="#fff"/><text x="297" y="80" font-size="24" text-anchor="middle">户口变更登记表</text><circle cx="450" cy="700" r="60" fill="none" stroke="#d00" stroke-width="4"/><text x="450" y="705" font-size="14" fill="#d00" text-anchor="middle">方祥村村民委员会</text></svg>"##;
    svg.as_bytes().to_vec()
}

fn is_hub_command(cmd: &Cmd) -> bool {
    matches!(
        cmd,
        Cmd::Enrol { .. }
            | Cmd::Login
            | Cmd::New { .. }
            | Cmd::Attach { .. }
            | Cmd::Submit { .. }
            | Cmd::Inbox
            | Cmd::Remind
            | Cmd::Decide { .. }
            | Cmd::Sync { .. }
            | Cmd::Redo
            | Cmd::Show { .. }
            | Cmd::Incident { .. }
            | Cmd::ExportCase { .. }
            | Cmd::ImportScan { .. }
            | Cmd::Seal {
                cmd: SealCmd::Issue { .. } | SealCmd::Revoke { .. }
            }
    )
}

/// A secret from the environment, or a line of stdin.
fn secret(var: &str, what: &str) -> Result<String> {
    if let Ok(v) = std::env::var(var) {
        return Ok(v);
    }
    eprintln!("请输入{what}（也可通过环境变量 {var} 提供）：");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let v = line.trim_end_matches(['\r', '\n']).to_string();
    if v.is_empty() {
        bail!("未提供{what}");
    }
    Ok(v)
}

fn print_case(st: &Station, s: &CaseState) -> Result<()> {
    let step = s
        .current_step(&st.reg)
        .map(|x| {
            format!(
                "，当前环节：{}（{}）",
                x.name,
                s.assignees(&st.reg).join("、")
            )
        })
        .unwrap_or_default();
    say!("{}  {}  {}{}", s.case_id, s.case_no, s.status.label(), step)?;
    Ok(())
}

fn hub_command(cli: Cli) -> Result<()> {
    let mut st = Station::open(&cli.data_dir, jingwu_station::registry::unpublished()?)?;
    let rt = tokio::runtime::Runtime::new()?;
    match cli.cmd {
        Cmd::Enrol {
            hub,
            fingerprint,
            person,
            device_name,
            key_file,
        } => {
            let password = secret("JINGWU_PASSWORD", "登录密码")?;
            if let Some(f) = key_file {
                let fp = st.import_key(&person, &f)?;
                say!("已导入 {person} 的签名密钥（公钥指纹 {fp}）")?;
            }
            let pin = if st.store.key(&person)?.is_some() {
                String::new()
            } else {
                let pin = secret("JINGWU_PIN", "签名 PIN（至少 6 位）")?;
                jingwu_core::crypto::check_pin_strength(&pin)?;
                pin
            };
            let e = rt.block_on(st.enrol(
                &hub,
                fingerprint.as_deref(),
                &person,
                &password,
                &pin,
                &device_name,
                KdfParams::DEFAULT,
            ))?;
            let state = match e.status.as_str() {
                "approved" => "已批准，可以使用",
                "pending" => "待县局系统管理员批准",
                other => other,
            };
            say!(
                "已登记本机：设备 {}，公钥指纹 {}，{state}",
                e.device,
                e.fingerprint
            )?;
            match jingwu_station::registry::summary(&st.store)? {
                Some((v, fp, name)) => say!(
                    "已取得县局发布的规则数据第 {v} 版（{name}），签名密钥指纹 {fp}：请与县局系统管理员核对"
                )?,
                None => say!("县局尚未发布规则数据：请县局系统管理员发布后再同步，否则无法办理业务")?,
            }
            warn_if_session_not_kept(&st);
        }
        Cmd::Seal {
            cmd:
                SealCmd::Issue {
                    holder,
                    image,
                    valid_days,
                    keeper,
                    key,
                    bottom_text,
                },
        } => {
            let image = image
                .map(|p| jingwu_station::seals::read_picture(&p))
                .transpose()?;
            let font = if image.is_none() {
                Some(jingwu_slip::font::CjkFont::locate()?)
            } else {
                None
            };
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let req = jingwu_station::seals::IssueRequest {
                holder,
                image,
                valid_days,
                keeper,
                key,
                bottom_text,
            };
            let r = rt.block_on(st.issue_seal(&pin, req, font.as_ref()))?;
            let i = &r.seal.info;
            say!(
                "已登记印章 {}（{}），绑定公钥 {}，有效期至 {}",
                i.id,
                i.name,
                i.holder_key.fingerprint(),
                i.valid_to
            )?;
        }
        Cmd::Seal {
            cmd: SealCmd::Revoke { id },
        } => {
            let r = rt.block_on(st.revoke_seal(&id))?;
            say!(
                "已注销印章 {}（{}），注销时间 {}",
                r.seal.info.id,
                r.seal.info.name,
                r.revoked_at.unwrap_or_default()
            )?;
        }
        Cmd::Login => {
            let password = secret("JINGWU_PASSWORD", "登录密码")?;
            rt.block_on(st.login(&password))?;
            say!("已登录")?;
            warn_if_session_not_kept(&st);
        }
        Cmd::New { form } => {
            let json = std::fs::read_to_string(&form)
                .with_context(|| format!("无法读取 {}", form.display()))?;
            let values: FormValues = serde_json::from_str(&json).with_context(|| {
                format!(
                    "{} 不是有效的表单 JSON（应为字段名到值的对象）",
                    form.display()
                )
            })?;
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let s = st.create_hukou(&pin, values)?;
            print_case(&st, &s)?;
        }
        Cmd::Attach { case, file, field } => {
            let id = st.find_case(&case)?;
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let s = st.attach(&pin, id, &field, &file)?;
            print_case(&st, &s)?;
        }
        Cmd::Submit { case } => {
            let id = st.find_case(&case)?;
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let s = st.submit(&pin, id)?;
            print_case(&st, &s)?;
        }
        Cmd::Inbox => {
            for s in st.inbox()? {
                print_case(&st, &s)?;
                say!("    {}", s.display_summary())?;
            }
        }
        Cmd::Remind => {
            let now = jingwu_station::station::reminder_clock();
            for a in st.take_due_alerts(now)? {
                say!("{}：{}", a.title, a.body)?;
            }
        }
        Cmd::Decide {
            case,
            decision,
            opinion,
        } => {
            let d: Decision = decision.parse()?;
            let id = st.find_case(&case)?;
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let s = st.decide(&pin, id, d, &opinion)?;
            print_case(&st, &s)?;
        }
        Cmd::Redo => {
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let done = st.redo(&pin)?;
            for s in &done.signed {
                say!("已重新签名：{s}")?;
            }
            for s in &done.refused {
                say!("不再适用，已另存：{s}")?;
            }
            if done.signed.is_empty() && done.refused.is_empty() {
                say!("没有需要重新签名的操作。")?;
            }
        }
        Cmd::Sync {
            follow,
            case,
            status,
            timeout,
        } => {
            let report = rt.block_on(st.sync(|name, done, total| {
                eprintln!("上传 {name}：{done}/{total} 字节");
            }))?;
            say!("{}", serde_json::to_string(&report)?)?;
            if report.redo > 0 {
                eprintln!(
                    "注意：有 {} 个接处警操作因其他单位同时处理同一警情而未被县局接受，它们仍然有效，\
                     请运行 jingwu-station redo 输入 PIN 重新签名后再同步（处理时间保持不变）。",
                    report.redo
                );
            }
            if follow {
                let want_case = case.map(|c| st.find_case(&c)).transpose()?;
                let want_status = status;
                let mut gone = false;
                let fut = st.follow(None, |s| {
                    if let Err(e) = print_case_line(s) {
                        // Standard output closed: stop following.
                        gone = closed_pipe(&e);
                        return false;
                    }
                    !(Some(s.case_id) == want_case
                        && want_status.as_deref().is_some_and(|w| {
                            serde_json::to_value(s.status).ok()
                                == Some(serde_json::Value::String(w.to_string()))
                        }))
                });
                match timeout {
                    Some(t) => rt
                        .block_on(async {
                            tokio::time::timeout(std::time::Duration::from_secs(t), fut).await
                        })
                        .map_err(|_| anyhow::anyhow!("等待超时（{t} 秒）"))??,
                    None => rt.block_on(fut)?,
                }
                if gone {
                    return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
                }
            }
        }
        Cmd::Show { case } => {
            let id = st.find_case(&case)?;
            let s = st.store.case(&id)?.context("本地库中没有该案件")?;
            if s.case_type == CaseType::Incident {
                return incident_cmd::show(&st, &s, false);
            }
            print_case(&st, &s)?;
            say!("    {}", s.display_summary())?;
            for t in &s.trail {
                say!("    {}", serde_json::to_string(t)?)?;
            }
        }
        Cmd::Incident { json, cmd } => incident_cmd::run(&mut st, cmd, json)?,
        Cmd::ExportCase { case, out } => {
            let id = st.find_case(&case)?;
            let b = st.bundle(&id)?;
            write_atomically(&out, b.to_json_pretty()?.as_bytes())?;
            say!("已导出 {} 个事件到 {}", b.events.len(), out.display())?;
        }
        Cmd::ImportScan { case, files, field } => {
            let id = st.find_case(&case)?;
            if files.is_empty() {
                bail!("请指定要导入的扫描文件");
            }
            let pin = secret("JINGWU_PIN", "签名 PIN")?;
            let mut failed = false;
            for f in &files {
                match st.import_scan(&pin, id, &field, f) {
                    Ok(imp) => say!("{}", serde_json::to_string(&imp)?)?,
                    Err(e) => {
                        failed = true;
                        say!(
                            "{}",
                            json!({"source": f.display().to_string(), "error": e.to_string()})
                        )?;
                    }
                }
            }
            if failed {
                bail!("部分文件未能导入");
            }
        }
        _ => bail!("内部错误：不是县局命令"),
    }
    Ok(())
}

fn print_case_line(s: &CaseState) -> Result<()> {
    say!("{}  {}  {}", s.case_id, s.case_no, s.status.label())?;
    Ok(())
}

/// `scan FILE… --out DIR` / `scan --sane DEVICE --out DIR`.
fn scan_command(
    files: Vec<PathBuf>,
    out: &std::path::Path,
    sane: Option<String>,
    resolution: u32,
    batch: bool,
) -> Result<()> {
    jingwu_store::private_fs::create_dir(out)
        .with_context(|| format!("无法创建输出目录 {}", out.display()))?;
    let files = match sane {
        Some(device) => {
            let stamp = OffsetDateTime::now_utc().unix_timestamp();
            let dir = out.join(format!("sane-{stamp}"));
            let acq = jingwu_station::sane::Acquire {
                resolution,
                batch,
                max_pages: if batch { 200 } else { 1 },
                ..jingwu_station::sane::Acquire::page(&device)
            };
            jingwu_station::sane::acquire(&acq, &dir)?
        }
        None => files,
    };
    if files.is_empty() {
        bail!("请指定要处理的扫描文件（或用 --sane 指定扫描仪）");
    }
    let opts = jingwu_scan::Options::default();
    let mut used = std::collections::HashSet::new();
    let mut failed = 0usize;
    for file in &files {
        let source = file.display().to_string();
        match jingwu_scan::process_file(file, &opts) {
            Ok(pages) => {
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "scan".into());
                for p in pages {
                    let mut name = format!("{stem}-p{}.jpg", p.page);
                    let mut n = 1;
                    while !used.insert(name.clone()) {
                        name = format!("{stem}-{n}-p{}.jpg", p.page);
                        n += 1;
                    }
                    let path = out.join(&name);
                    write_atomically(&path, &p.jpeg)?;
                    let mut v = serde_json::to_value(&p)?;
                    if let Some(o) = v.as_object_mut() {
                        o.insert("output".into(), json!(path.display().to_string()));
                    }
                    say!("{}", serde_json::to_string(&v)?)?;
                }
            }
            Err(e) => {
                failed += 1;
                say!("{}", json!({"source": source, "error": e.to_string()}))?;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} 个文件未能处理");
    }
    Ok(())
}

/// `watch DIR`: the hot folder, one JSON line per file.
fn watch_command(
    data_dir: &std::path::Path,
    dir: &std::path::Path,
    max_files: Option<usize>,
    poll_ms: u64,
) -> Result<()> {
    use jingwu_station::hotfolder::{Attach, Config, HotFolder};
    // Attach matched forms only for an enrolled user with a PIN given.
    let attach = match std::env::var("JINGWU_PIN") {
        Ok(pin) if data_dir.join("station.db").is_file() => {
            let st = Station::open(data_dir, jingwu_station::registry::unpublished()?)?;
            st.person().ok().map(|_| Attach {
                data_dir: data_dir.to_path_buf(),
                reg: st.reg.clone(),
                pin,
            })
        }
        _ => None,
    };
    let attaching = attach.is_some();
    let config = Config {
        poll: std::time::Duration::from_millis(poll_ms.max(10)),
        attach,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let _watcher = HotFolder::start(dir, config, move |o| {
        let _ = tx.send(o);
    })?;
    eprintln!(
        "正在监视 {}{}",
        dir.display(),
        if attaching {
            "（扫描件二维码对应的草稿将自动附加）"
        } else {
            ""
        }
    );
    for (n, o) in rx.into_iter().enumerate() {
        say!("{}", serde_json::to_string(&o)?)?;
        if max_files.is_some_and(|m| n + 1 >= m) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// A refusal reads once, not `表单有 1 处…: 表单有 1 处…`.
    #[test]
    fn a_refusal_is_not_repeated() {
        let rejection =
            jingwu_core::case::Rejection::Invalid(vec![jingwu_core::form::FieldError {
                field: "applicant_phone".into(),
                message: "申报人联系电话应为 11 位手机号码".into(),
            }]);
        let e: anyhow::Error =
            jingwu_station::station::StationError::from(jingwu_store::StoreError::from(rejection))
                .into();
        assert_eq!(
            error_text(&e),
            "操作未被允许：表单有 1 处需要修改：申报人联系电话应为 11 位手机号码"
        );
        // What `{:#}` printed before.
        assert_eq!(format!("{e:#}").matches("表单有 1 处").count(), 2);
        // A cause the message does not show is still told.
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "没有这个文件");
        let e = anyhow::Error::from(io).context("无法读取 slip.pdf");
        assert_eq!(error_text(&e), "无法读取 slip.pdf：没有这个文件");
    }
}
