//! `jingwu-hub admin …`: accounts, devices, importing people, the
//! registry's signing keys and publications, updates of the desktop app. Every action names the
//! administrator account it is taken as (`--as`), checked by the one gate
//! of `jingwu_hub::admin`.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use jingwu_core::crypto::KdfParams;
use jingwu_core::published::RegistryDoc;
use jingwu_hub::admin::Admin;
use jingwu_hub::publish::{self, Changes};
use jingwu_hub::server::{self, Config};

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Makes an administrator's registry signing key, sealed under a PIN
    /// (JINGWU_PIN or the first line of stdin). It signs the next version
    /// only once a version lists it: publish once with a listed key.
    RegistryKey {
        #[arg(long = "as")]
        account: String,
        /// Argon2 parameters: `default` or `test` (fast, test suites only).
        #[arg(long, default_value = "default")]
        kdf: String,
    },
    /// Publishes the next version of the registry (org, dictionaries,
    /// templates, workflows), signed by the administrator's key (PIN from
    /// JINGWU_PIN or stdin). Stations take it at their next sync; running
    /// cases keep their version, new cases take the new one.
    PublishRegistry {
        #[arg(long = "as")]
        account: String,
        /// The new org (JSON, the format of `init --org`).
        #[arg(long)]
        org: Option<PathBuf>,
        /// The dictionaries (JSON array); codes may be added, never removed.
        #[arg(long)]
        dictionaries: Option<PathBuf>,
        /// New template versions (JSON array).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// New workflow versions (JSON array).
        #[arg(long)]
        workflows: Option<PathBuf>,
        /// What changed (kept in the version).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lists the published registry versions and who signed them.
    Registry,
    /// Accounts: list, create, disable, enable, reset a password, end
    /// sessions.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
        /// The administrator account acting.
        #[arg(long = "as", global = true, default_value = "admin")]
        account: String,
    },
    /// Devices (enrolments): list with key fingerprints, approve,
    /// reject, revoke.
    Device {
        #[command(subcommand)]
        cmd: DeviceCmd,
        /// The administrator account acting.
        #[arg(long = "as", global = true, default_value = "admin")]
        account: String,
    },
    /// Updates of the desktop app: upload a signed package, list.
    Update {
        #[command(subcommand)]
        cmd: UpdateCmd,
        /// The administrator account acting.
        #[arg(long = "as", global = true, default_value = "admin")]
        account: String,
    },
    /// Imports people from an xlsx sheet (columns 警号, 姓名, 单位代码,
    /// 职务, optional 分管单位代码; one row per post held). Any row error:
    /// the errors are printed and nothing is imported. Otherwise a new
    /// registry version is published, signed by the administrator (PIN
    /// from JINGWU_PIN or stdin), and people without an account get one
    /// with the initial password (JINGWU_PASSWORD or the next stdin line).
    ImportPeople {
        file: PathBuf,
        #[arg(long = "as")]
        account: String,
        /// Only check the file.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Every account.
    List,
    /// Creates an account (password from JINGWU_PASSWORD or stdin).
    Create {
        person: String,
        /// A system administrator's account.
        #[arg(long)]
        admin: bool,
    },
    /// Disables an account and ends its sessions.
    Disable { person: String },
    /// Enables a disabled account.
    Enable { person: String },
    /// Sets a new password (JINGWU_PASSWORD or stdin) and ends the
    /// account's sessions.
    ResetPassword { person: String },
    /// Ends every session of an account.
    EndSessions { person: String },
}

#[derive(Subcommand)]
pub enum DeviceCmd {
    /// Enrolments, newest first (`--status pending` etc.).
    List {
        #[arg(long)]
        status: Option<String>,
    },
    /// Approves a pending enrolment.
    Approve { id: String },
    /// Rejects a pending enrolment.
    Reject { id: String },
    /// Revokes an approved enrolment: its key signs nothing new (events
    /// it signed still verify).
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum UpdateCmd {
    /// Uploads a package (e.g. `Jingwu_1.2.0_amd64.deb`,
    /// `Jingwu_1.2.0_x64-setup.exe`) with its signature from `tauri
    /// signer sign` (the `.sig` beside it). Refused unless the version is
    /// above every one the platform has.
    Upload {
        package: PathBuf,
        /// The `.sig` file (default: the package's name + `.sig`).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// SemVer, e.g. 1.2.0.
        #[arg(long)]
        version: String,
        /// The updater's platform: linux-x86_64-deb, windows-x86_64-nsis,
        /// linux-aarch64-deb ….
        #[arg(long)]
        platform: String,
        /// What changed, shown to users before they consent.
        #[arg(long, conflicts_with = "notes_file")]
        notes: Option<String>,
        /// The notes from a UTF-8 text file.
        #[arg(long)]
        notes_file: Option<PathBuf>,
    },
    /// Every uploaded update.
    List,
}

fn update_cmd(admin: &Admin<'_>, cmd: UpdateCmd) -> Result<()> {
    match cmd {
        UpdateCmd::List => {
            let all = admin.updates()?;
            if all.is_empty() {
                println!("尚未上传软件更新");
            }
            for u in all {
                println!(
                    "{}\t{}\t{}\t{}（{} 字节）\t{}\t{}",
                    u.platform, u.version, u.pub_date, u.file_name, u.size, u.uploaded_by, u.id
                );
            }
            Ok(())
        }
        UpdateCmd::Upload {
            package,
            signature,
            version,
            platform,
            notes,
            notes_file,
        } => {
            let notes = match (notes, notes_file) {
                (Some(n), _) => n,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("无法读取更新说明文件 {}", f.display()))?,
                (None, None) => anyhow::bail!("请用 --notes 或 --notes-file 给出更新说明"),
            };
            let sig_path = signature.unwrap_or_else(|| {
                let mut p = package.clone().into_os_string();
                p.push(".sig");
                PathBuf::from(p)
            });
            let sig = std::fs::read_to_string(&sig_path)
                .with_context(|| format!("无法读取签名文件 {}", sig_path.display()))?;
            let data = std::fs::read(&package)
                .with_context(|| format!("无法读取安装包 {}", package.display()))?;
            let row = admin.upload_update(&jingwu_hub::updates::UpdateUpload {
                platform,
                version,
                notes,
                signature: sig,
                file_name: package
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                package: data,
            })?;
            println!(
                "已上传 {} 的更新 {}（{}，{} 字节，编号 {}）；已登记的设备下次检查更新时即可看到",
                row.platform, row.version, row.file_name, row.size, row.id
            );
            Ok(())
        }
    }
}

pub fn kdf(name: &str) -> Result<KdfParams> {
    match name {
        "default" => Ok(KdfParams::DEFAULT),
        "test" => Ok(KdfParams::TEST_ONLY),
        other => anyhow::bail!("未知的 --kdf {other}（应为 default 或 test）"),
    }
}

/// The PIN from JINGWU_PIN, or the first line of stdin.
pub fn pin(who: &str) -> Result<String> {
    match std::env::var("JINGWU_PIN") {
        Ok(p) => Ok(p),
        Err(_) => {
            eprintln!("请输入 {who} 的签名 PIN：");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Ok(line.trim_end_matches(['\r', '\n']).to_string())
        }
    }
}

/// A password from JINGWU_PASSWORD, or the next line of stdin.
fn password(what: &str) -> Result<String> {
    match std::env::var("JINGWU_PASSWORD") {
        Ok(p) => Ok(p),
        Err(_) => {
            eprintln!("请输入{what}：");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Ok(line.trim_end_matches(['\r', '\n']).to_string())
        }
    }
}

fn user_cmd(admin: &Admin<'_>, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::List => {
            for u in admin.users()? {
                println!(
                    "{}\t{}\t{}{}\t{}",
                    u.person,
                    u.name.as_deref().unwrap_or("-"),
                    if u.is_admin {
                        "系统管理员"
                    } else {
                        "用户"
                    },
                    if u.disabled { "（已停用）" } else { "" },
                    u.created_at
                );
            }
        }
        UserCmd::Create { person, admin: a } => {
            let pw = password(&format!("账号 {person} 的密码"))?;
            admin.create_user(&person, &pw, a)?;
            println!("已创建账号 {}", person.trim());
        }
        UserCmd::Disable { person } => {
            let n = admin.set_disabled(&person, true)?;
            println!("已停用账号 {person}，结束登录 {n} 个");
        }
        UserCmd::Enable { person } => {
            admin.set_disabled(&person, false)?;
            println!("已启用账号 {person}");
        }
        UserCmd::ResetPassword { person } => {
            let pw = password(&format!("账号 {person} 的新密码"))?;
            let n = admin.reset_password(&person, &pw)?;
            println!("已重设账号 {person} 的密码，结束登录 {n} 个");
        }
        UserCmd::EndSessions { person } => {
            let n = admin.end_sessions(&person)?;
            println!("已结束账号 {person} 的登录 {n} 个");
        }
    }
    Ok(())
}

fn device_cmd(admin: &Admin<'_>, cmd: DeviceCmd) -> Result<()> {
    let (id, decision, done) = match cmd {
        DeviceCmd::List { status } => {
            for e in admin.devices(status.as_deref())? {
                println!(
                    "{}\t{}\t{}（{}）\t指纹 {}\t{}\t{}",
                    e.id, e.person, e.device_name, e.device, e.fingerprint, e.status, e.created_at
                );
            }
            return Ok(());
        }
        DeviceCmd::Approve { id } => (id, "approve", "已批准"),
        DeviceCmd::Reject { id } => (id, "reject", "已拒绝"),
        DeviceCmd::Revoke { id } => (id, "revoke", "已吊销"),
    };
    let e = admin.decide_device(&id, decision)?;
    println!(
        "{done} {} 的设备 {}（指纹 {}）",
        e.person, e.device_name, e.fingerprint
    );
    Ok(())
}

fn import_people(admin: &Admin<'_>, file: &Path, dry_run: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("无法读取文件 {}", file.display()))?;
    // Checked first: no PIN is asked for a file with errors.
    let check = admin.import_people(&bytes, "", "", true)?;
    for e in &check.errors {
        let at = if e.row == 0 {
            "文件".to_string()
        } else {
            format!("第 {} 行", e.row)
        };
        if e.column.is_empty() {
            println!("{at}：{}", e.message);
        } else {
            println!("{at} {}“{}”：{}", e.column, e.value, e.message);
        }
    }
    if !check.errors.is_empty() {
        anyhow::bail!(
            "文件有 {} 处错误，未导入任何人员：请改正后重新导入",
            check.errors.len()
        );
    }
    println!(
        "检查通过：{} 行，{} 人（新增 {}，更新 {}）",
        check.rows,
        check.people,
        check.added.len(),
        check.updated.len()
    );
    if dry_run {
        return Ok(());
    }
    let pin = pin(&admin.account)?;
    let pw = password("新账号的初始密码")?;
    let r = admin.import_people(&bytes, &pin, &pw, false)?;
    if !r.errors.is_empty() {
        anyhow::bail!("文件有错误，未导入：请先用 --dry-run 检查");
    }
    println!(
        "已导入并发布规则数据第 {} 版；新建账号 {} 个；各派出所下次同步时取得",
        r.version.unwrap_or_default(),
        r.accounts_created.len()
    );
    Ok(())
}

fn json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("无法读取{what}文件 {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{what}文件 {} 格式有误", path.display()))
}

pub fn run(cfg: &Config, cmd: AdminCmd) -> Result<()> {
    let db = server::open_db(cfg)?;
    match cmd {
        AdminCmd::User { cmd, account } => {
            user_cmd(&Admin::by_account(db.as_ref(), &account)?, cmd)
        }
        AdminCmd::Device { cmd, account } => {
            device_cmd(&Admin::by_account(db.as_ref(), &account)?, cmd)
        }
        AdminCmd::Update { cmd, account } => {
            update_cmd(&Admin::by_account(db.as_ref(), &account)?, cmd)
        }
        AdminCmd::ImportPeople {
            file,
            account,
            dry_run,
        } => import_people(&Admin::by_account(db.as_ref(), &account)?, &file, dry_run),
        AdminCmd::RegistryKey { account, kdf: k } => {
            let pin = pin(&account)?;
            let fp = publish::create_admin_key(db.as_ref(), &account, &pin, kdf(&k)?)?;
            println!("已为管理员 {account} 生成规则数据签名密钥，指纹 {fp}");
            Ok(())
        }
        AdminCmd::PublishRegistry {
            account,
            org,
            dictionaries,
            templates,
            workflows,
            note,
        } => {
            let changes = Changes {
                org: org.as_deref().map(|p| json(p, "组织机构")).transpose()?,
                dictionaries: dictionaries
                    .as_deref()
                    .map(|p| json(p, "代码表"))
                    .transpose()?,
                templates: templates
                    .as_deref()
                    .map(|p| json(p, "表单模板"))
                    .transpose()?
                    .unwrap_or_default(),
                workflows: workflows
                    .as_deref()
                    .map(|p| json(p, "审批流程"))
                    .transpose()?
                    .unwrap_or_default(),
                calendar: Vec::new(),
                note,
            };
            let pin = pin(&account)?;
            let s = publish::publish(
                db.as_ref(),
                &account,
                &pin,
                changes,
                &jingwu_hub::now_rfc3339(),
            )?;
            println!(
                "已发布规则数据第 {} 版（摘要 {}，签名密钥指纹 {}）；各派出所下次同步时取得",
                s.version,
                s.digest(),
                s.signer_fingerprint()?
            );
            Ok(())
        }
        AdminCmd::Registry => {
            let chain = publish::chain(db.as_ref())?;
            if chain.is_empty() {
                println!("尚未发布规则数据");
            }
            for s in &chain {
                let doc: RegistryDoc = serde_json::from_str(&s.doc)?;
                println!(
                    "第 {} 版  {}  {}  签名密钥指纹 {}  摘要 {}  {}",
                    s.version,
                    doc.published_at,
                    doc.publisher,
                    s.signer_fingerprint()?,
                    s.digest(),
                    doc.note
                );
            }
            Ok(())
        }
    }
}
