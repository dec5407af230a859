//! `jingwu-hub admin …`: the registry's signing keys and publications.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use jingwu_core::crypto::KdfParams;
use jingwu_core::published::RegistryDoc;
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

fn json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("无法读取{what}文件 {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{what}文件 {} 格式有误", path.display()))
}

pub fn run(cfg: &Config, cmd: AdminCmd) -> Result<()> {
    let db = server::open_db(cfg)?;
    match cmd {
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
