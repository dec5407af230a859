//! `jingwu-hub`: the county hub.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use jingwu_core::bundle::Bundle;
use jingwu_core::crypto::{EncryptedKey, KdfParams, Signer, SoftwareKey};
use jingwu_core::org::Org;
use jingwu_hub::db::{EnrolmentRow, HubDb};
use jingwu_hub::hub::Hub;
use jingwu_hub::server::{self, Config};

mod cli_admin;
mod cli_stats;

#[derive(Parser)]
#[command(name = "jingwu-hub", version, about = "景武协同警务 县局服务器")]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "JINGWU_HUB_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, TLS certificate).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// `postgres://user@host/db[?schema=NAME]` to use PostgreSQL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serves the hub.
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8443.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Plain HTTP (loopback addresses only; tests and demo).
        #[arg(long)]
        insecure_http: bool,
        /// Address of the public status page (办理进度查询), e.g.
        /// 0.0.0.0:8444; off unless given here or in the configuration.
        #[arg(long)]
        status_listen: Option<std::net::SocketAddr>,
    },
    /// Initialises a new hub: the org and the first administrator
    /// (password from JINGWU_ADMIN_PASSWORD or the first line of stdin),
    /// their registry signing key (PIN from JINGWU_ADMIN_PIN or the next
    /// line of stdin) and version 1 of the registry, signed with it.
    Init {
        /// The org (JSON, same format as the built-in Leishan demo).
        #[arg(long)]
        org: PathBuf,
        /// The administrator's account name.
        #[arg(long)]
        admin: String,
    },
    /// Administration: registry signing keys and publications.
    Admin {
        #[command(subcommand)]
        cmd: cli_admin::AdminCmd,
    },
    /// Loads the Leishan demo: org, one account per person, their keys.
    Demo {
        /// Password of every demo account.
        #[arg(long, env = "JINGWU_DEMO_PASSWORD", default_value = "Jingwu-Demo-2026")]
        password: String,
        /// PIN sealing the demo signing keys written to DATA_DIR/demo-keys.
        #[arg(long, env = "JINGWU_DEMO_PIN", default_value = "Demo-PIN-2468")]
        pin: String,
        /// Argon2 parameters for the demo keys: `default` or `test` (fast,
        /// for test suites only).
        #[arg(long, default_value = "default")]
        kdf: String,
    },
    /// Writes a case's evidence bundle (JSON).
    ExportCase {
        case_id: uuid::Uuid,
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks an evidence bundle completely; names the first bad event.
    VerifyCase { bundle: PathBuf },
    /// Imports historical 110 records (xlsx or CSV, one row per record),
    /// each signed by the importing officer's hosted key (PIN from
    /// JINGWU_PIN or the first line of stdin). With any bad row nothing
    /// is imported (unless --only-valid); rows already imported are
    /// skipped.
    ImportIncidents {
        file: PathBuf,
        /// The importing officer (a member of the 110 brigade or 指挥中心).
        #[arg(long = "as")]
        person: String,
        /// Import the valid rows even if some rows have errors.
        #[arg(long)]
        only_valid: bool,
        /// Check the file only.
        #[arg(long)]
        dry_run: bool,
        /// Also write the row errors to this file (CSV).
        #[arg(long)]
        errors: Option<PathBuf>,
        /// Sign with this key file (the officer's sealed key) instead of
        /// their hosted key.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Imports the State Council's holiday arrangement of a year (JSON:
    /// {"year", "source", "holidays", "extra_workdays"}, or an array of
    /// them); working-day time limits count with it after a restart.
    ImportCalendar { file: PathBuf },
    /// 110 statistics: measures grouped by --by, or response speed with
    /// --speed.
    Stats {
        /// First day of 报警时间 (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last day of 报警时间 (YYYY-MM-DD, inclusive).
        #[arg(long)]
        to: Option<String>,
        /// Dimensions: day|week|month|quarter|year, unit, category,
        /// township (comma-separated).
        #[arg(long, default_value = "")]
        by: String,
        /// ack|depart|feedback: response speed per unit instead.
        #[arg(long)]
        speed: Option<String>,
        /// More conditions as JSON (the API's filter), e.g.
        /// '{"category":"010000","valid":true}'.
        #[arg(long)]
        filter: Option<String>,
        /// json, csv or xlsx.
        #[arg(long, default_value = "json")]
        format: String,
        /// Output file (json and csv: standard output if absent).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Count only what this person may see (default: every record).
        #[arg(long = "as")]
        person: Option<String>,
    },
    /// The 警情通报 of a week, month, quarter or year.
    Report {
        /// 2026-W48, 2026-11, 2026-Q4 or 2026.
        #[arg(long)]
        period: String,
        /// r.pdf, r.xlsx or r.json (by extension).
        #[arg(long)]
        out: PathBuf,
        /// Report what this person may see (default: every record).
        #[arg(long = "as")]
        person: Option<String>,
    },
    /// Online, consistent backup of the live database.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Restores a backup (the hub must be stopped).
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("错误：{e:#}");
        std::process::exit(1);
    }
}

fn config(cli: &Cli) -> Result<Config> {
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(u) = &cli.database_url {
        cfg.database_url = Some(u.clone());
    }
    Ok(cfg)
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JINGWU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A log line that cannot be written (a full disk under a redirected
    // stderr) is dropped: the default reports it with `eprintln!`, which
    // panics when stderr fails, and a panic in a request that holds a
    // lock would poison it.
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        // Colours only on a terminal, not in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut cfg = config(&cli)?;
    match cli.cmd {
        Cmd::Serve {
            listen,
            insecure_http,
            status_listen,
        } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(l) = status_listen {
                cfg.status.listen = Some(l);
            }
            cfg.insecure_http |= insecure_http;
            init_logs(&cfg.log_format);
            let db = server::open_db(&cfg)?;
            let reg = server::registry(db.as_ref())?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let hub = Hub::new(db, Arc::new(reg), cfg.limits.clone())?;
                server::serve(
                    &cfg,
                    hub,
                    |b| {
                        // One line on stdout that scripts and tests read.
                        println!(
                            "JINGWU_HUB_READY addr={} scheme={} fingerprint={}{}",
                            b.addr,
                            if b.fingerprint.is_some() { "https" } else { "http" },
                            b.fingerprint.as_deref().unwrap_or("-"),
                            b.status_addr
                                .map(|a| format!(" status={a}"))
                                .unwrap_or_default()
                        );
                        tracing::info!(addr = %b.addr, fingerprint = ?b.fingerprint, "hub listening");
                    },
                    async {
                        let _ = tokio::signal::ctrl_c().await;
                    },
                )
                .await
            })
        }
        Cmd::Init { org, admin } => {
            let json = std::fs::read_to_string(&org)
                .with_context(|| format!("无法读取组织机构文件 {}", org.display()))?;
            Org::from_json(&json).map_err(|e| anyhow::anyhow!("组织机构文件有误：{e}"))?;
            let db = server::open_db(&cfg)?;
            if !db.users()?.is_empty() {
                bail!("县局服务器已初始化（已有账号），不会重复初始化");
            }
            let line = |var: &str, prompt: String| -> Result<String> {
                match std::env::var(var) {
                    Ok(p) => Ok(p),
                    Err(_) => {
                        eprintln!("{prompt}");
                        let mut line = String::new();
                        std::io::stdin().lock().read_line(&mut line)?;
                        Ok(line.trim_end_matches(['\r', '\n']).to_string())
                    }
                }
            };
            let password = line(
                "JINGWU_ADMIN_PASSWORD",
                format!("请输入管理员 {admin} 的密码："),
            )?;
            jingwu_hub::hub::check_password_strength(&password)?;
            let pin = line(
                "JINGWU_ADMIN_PIN",
                format!("请输入管理员 {admin} 的规则数据签名 PIN："),
            )?;
            jingwu_core::crypto::check_pin_strength(&pin).map_err(|e| anyhow::anyhow!("{e}"))?;
            db.meta_set("org_json", &json)?;
            let reg = server::registry(db.as_ref())?;
            let hub = Hub::new(db.clone(), Arc::new(reg), cfg.limits.clone())?;
            hub.create_user(&admin, &password, true)?;
            let s = jingwu_hub::publish::publish_first(
                db.as_ref(),
                &admin,
                &pin,
                KdfParams::DEFAULT,
                &jingwu_hub::now_rfc3339(),
            )?;
            println!("已初始化：管理员账号 {admin}");
            if let Some(s) = s {
                println!(
                    "已发布规则数据第 1 版，签名密钥指纹 {}（各派出所登记时会显示，请核对）",
                    s.signer_fingerprint()?
                );
            }
            Ok(())
        }
        Cmd::Demo { password, pin, kdf } => demo(&cfg, &password, &pin, &kdf),
        Cmd::Admin { cmd } => cli_admin::run(&cfg, cmd),
        Cmd::ExportCase { case_id, out } => {
            let db = server::open_db(&cfg)?;
            let reg = server::registry(db.as_ref())?;
            let hub = Hub::new(db, Arc::new(reg), cfg.limits.clone())?;
            let b = jingwu_hub::evidence::bundle_of(&hub, &case_id)?;
            let json = b.to_json_pretty()?;
            jingwu_store::private_fs::write_atomically(&out, json.as_bytes())
                .with_context(|| format!("无法写入 {}", out.display()))?;
            println!("已导出 {} 个事件到 {}", b.events.len(), out.display());
            Ok(())
        }
        Cmd::VerifyCase { bundle } => {
            let json = std::fs::read_to_string(&bundle)
                .with_context(|| format!("无法读取 {}", bundle.display()))?;
            let b = Bundle::from_json(&json)?;
            // The rules are checked with this hub's registry when its
            // database is here; else the signatures and chain only.
            let here =
                cfg.database_url.is_some() || std::path::Path::new(&cfg.database()).is_file();
            let reg = if here {
                Some(server::registry(server::open_db(&cfg)?.as_ref())?)
            } else {
                eprintln!("未找到县局数据库：只校验签名与哈希链，不校验业务规则");
                None
            };
            let r = b.verify(reg.as_ref())?;
            println!(
                "证据包有效：案件 {}（{}），{} 个事件，末事件摘要 {}{}",
                r.case_no,
                r.case_id,
                r.events,
                r.head,
                r.final_status
                    .map(|s| format!("，状态 {s}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Cmd::ImportCalendar { file } => {
            let json = std::fs::read_to_string(&file)
                .with_context(|| format!("无法读取 {}", file.display()))?;
            let db = server::open_db(&cfg)?;
            let years = server::import_calendar(db.as_ref(), &json)?;
            let years: Vec<String> = years.iter().map(i32::to_string).collect();
            println!(
                "已导入 {} 年的放假安排；重启县局服务器后生效",
                years.join("、")
            );
            if jingwu_hub::publish::latest_version(db.as_ref())? > 0 {
                println!(
                    "各派出所在下一版规则数据中取得：请运行 `jingwu-hub admin publish-registry --as 管理员账号 --note \"导入放假安排\"`"
                );
            }
            Ok(())
        }
        Cmd::ImportIncidents {
            file,
            person,
            only_valid,
            dry_run,
            errors,
            key,
        } => cli_stats::import(
            &cfg,
            &file,
            &person,
            only_valid,
            dry_run,
            errors.as_deref(),
            key.as_deref(),
        ),
        Cmd::Stats {
            from,
            to,
            by,
            speed,
            filter,
            format,
            out,
            person,
        } => cli_stats::stats(
            &cfg,
            cli_stats::StatsArgs {
                from,
                to,
                by,
                speed,
                filter,
                format,
                out,
                person,
            },
        ),
        Cmd::Report {
            period,
            out,
            person,
        } => cli_stats::report(&cfg, &period, &out, person.as_deref()),
        Cmd::Backup { out } => {
            let db = server::open_db(&cfg)?;
            db.backup(&out)?;
            println!("已备份到 {}", out.display());
            Ok(())
        }
        Cmd::Restore { from, force } => {
            match &cfg.database_url {
                Some(url) => jingwu_hub::db::postgres::PgDb::restore(url, &from)?,
                None => {
                    let target = cfg.data_dir.join("hub.db");
                    if target.exists() && !force {
                        bail!(
                            "{} 已存在；确认要覆盖请加 --force（县局服务器须已停止）",
                            target.display()
                        );
                    }
                    jingwu_store::private_fs::create_dir(&cfg.data_dir)?;
                    jingwu_hub::db::sqlite::SqliteDb::restore(&from, &target)?;
                }
            }
            println!("已从 {} 恢复", from.display());
            Ok(())
        }
    }
}

fn demo(cfg: &Config, password: &str, pin: &str, kdf: &str) -> Result<()> {
    let params = match kdf {
        "default" => KdfParams::DEFAULT,
        "test" => KdfParams::TEST_ONLY,
        other => bail!("未知的 --kdf {other}（应为 default 或 test）"),
    };
    let db: Arc<dyn HubDb> = server::open_db(cfg)?;
    if !db.users()?.is_empty() {
        bail!("数据库中已有账号，演示数据只能载入空的县局服务器");
    }
    let org = Org::leishan_demo().map_err(|e| anyhow::anyhow!("{e}"))?;
    db.meta_set("org_json", &serde_json::to_string(org.data())?)?;
    let reg = server::registry(db.as_ref())?;
    let hub = Hub::new(db.clone(), Arc::new(reg), cfg.limits.clone())?;
    hub.create_user("admin", password, true)?;
    jingwu_hub::publish::publish_first(
        db.as_ref(),
        "admin",
        pin,
        params,
        &jingwu_hub::now_rfc3339(),
    )?;
    let keys_dir = cfg.data_dir.join("demo-keys");
    jingwu_store::private_fs::create_dir(&keys_dir)?;
    let mut rng = getrandom::SysRng;
    let people: Vec<_> = org.people().cloned().collect();
    for p in &people {
        hub.create_user(&p.id, password, false)?;
        let key = SoftwareKey::generate(&mut rng)?;
        let sealed: EncryptedKey = key.seal(pin, params, &mut rng)?;
        jingwu_store::private_fs::write(
            &keys_dir.join(format!("{}.json", p.id)),
            serde_json::to_string_pretty(&sealed)?.as_bytes(),
        )?;
        let pk = key.public_key();
        db.insert_enrolment(&EnrolmentRow {
            id: uuid::Uuid::now_v7().to_string(),
            device: "demo".into(),
            device_name: "演示数据".into(),
            person: p.id.clone(),
            fingerprint: pk.fingerprint(),
            pem: pk.to_pem(),
            status: "approved".into(),
            created_at: jingwu_hub::now_rfc3339(),
            decided_by: Some("admin".into()),
            decided_at: Some(jingwu_hub::now_rfc3339()),
        })?;
    }
    println!(
        "已载入雷山县演示数据：{} 个账号（另有管理员 admin），密码均为演示密码；签名密钥在 {}（PIN 为演示 PIN）",
        people.len(),
        keys_dir.display()
    );
    Ok(())
}
