//! The registry the hub publishes: every version a signed document
//! (`jingwu_core::published`), kept in the database as its exact bytes,
//! served to stations (`GET /api/registry…`) and the hub's own rules.
//!
//! A system administrator signs with a registry key of their own, made
//! with `jingwu-hub admin registry-key` (or at `init` / `demo`) and kept
//! sealed under their PIN; the hub never holds it unsealed beyond one
//! publication. Every version lists the keys of every administrator who
//! has one, so any of them may sign the next.

use jingwu_core::crypto::{check_pin_strength, EncryptedKey, KdfParams, Signer, SoftwareKey};
use jingwu_core::dict::Dictionary;
use jingwu_core::form::Template;
use jingwu_core::org::{Org, OrgData};
use jingwu_core::published::{verified_registry, RegistryDoc, SignedRegistry};
use jingwu_core::registry::Registry;
use jingwu_core::workdays::YearCalendar;
use jingwu_core::workflow::WorkflowDef;

use crate::db::HubDb;

/// The newest published version (absent: never published).
const VERSION_META: &str = "registry_version";
/// The accounts with a registry key (JSON array).
const KEYS_META: &str = "registry_admin_keys";

fn doc_meta(version: u32) -> String {
    format!("registry_v{version}")
}

fn key_meta(account: &str) -> String {
    format!("registry_admin_key:{account}")
}

/// The newest published version, 0 when none was.
pub fn latest_version(db: &dyn HubDb) -> anyhow::Result<u32> {
    Ok(match db.meta_get(VERSION_META)? {
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("数据库中的规则数据版本号有误：{v}"))?,
        None => 0,
    })
}

/// Every published version, oldest first.
pub fn chain(db: &dyn HubDb) -> anyhow::Result<Vec<SignedRegistry>> {
    chain_after(db, 0)
}

/// The published versions after `after`, oldest first (a station's sync
/// reads only what it lacks).
pub fn chain_after(db: &dyn HubDb, after: u32) -> anyhow::Result<Vec<SignedRegistry>> {
    let n = latest_version(db)?;
    (after + 1..=n).map(|v| version(db, v)).collect()
}

/// Published version `v`.
fn version(db: &dyn HubDb, v: u32) -> anyhow::Result<SignedRegistry> {
    let Some(json) = db.meta_get(&doc_meta(v))? else {
        anyhow::bail!("数据库缺少规则数据第 {v} 版");
    };
    serde_json::from_str(&json)
        .map_err(|e| anyhow::anyhow!("数据库中的规则数据第 {v} 版格式有误：{e}"))
}

/// The newest published version, if any.
pub fn latest(db: &dyn HubDb) -> anyhow::Result<Option<SignedRegistry>> {
    match latest_version(db)? {
        0 => Ok(None),
        v => version(db, v).map(Some),
    }
}

/// The hub's rules: the published chain, checked like a station checks
/// it; or, before anything was published, the org loaded at `init` over
/// the built-in templates, workflows and dictionaries.
pub fn load(db: &dyn HubDb) -> anyhow::Result<Registry> {
    let chain = chain(db)?;
    if !chain.is_empty() {
        return verified_registry(&chain, None)
            .map_err(|e| anyhow::anyhow!("已发布的规则数据无法通过校验：{e}"));
    }
    let Some(json) = db.meta_get("org_json")? else {
        anyhow::bail!("县局服务器尚未初始化：请先运行 `jingwu-hub init` 或 `jingwu-hub demo`");
    };
    let org = Org::from_json(&json).map_err(|e| anyhow::anyhow!("组织机构数据有误：{e}"))?;
    Registry::builtin_with_org(org).map_err(|e| anyhow::anyhow!("规则数据有误：{e}"))
}

fn key_accounts(db: &dyn HubDb) -> anyhow::Result<Vec<String>> {
    Ok(match db.meta_get(KEYS_META)? {
        Some(j) => serde_json::from_str(&j)?,
        None => Vec::new(),
    })
}

fn sealed_key(db: &dyn HubDb, account: &str) -> anyhow::Result<Option<EncryptedKey>> {
    match db.meta_get(&key_meta(account))? {
        Some(j) => Ok(Some(serde_json::from_str(&j)?)),
        None => Ok(None),
    }
}

/// Makes `account`'s registry key, sealed under `pin`. The account must be
/// an administrator without one. Returns the key's fingerprint.
pub fn create_admin_key(
    db: &dyn HubDb,
    account: &str,
    pin: &str,
    kdf: KdfParams,
) -> anyhow::Result<String> {
    match db.user(account)? {
        Some(u) if u.is_admin && !u.disabled => {}
        Some(_) => anyhow::bail!("账号 {account} 不是有效的系统管理员，不能持有规则数据签名密钥"),
        None => anyhow::bail!("没有账号 {account}"),
    }
    if sealed_key(db, account)?.is_some() {
        anyhow::bail!("管理员 {account} 已有规则数据签名密钥（密钥只增不换）");
    }
    check_pin_strength(pin).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut rng = getrandom::SysRng;
    let key = SoftwareKey::generate(&mut rng)?;
    let sealed = key.seal(pin, kdf, &mut rng)?;
    // Keys are only ever added: a second key made at the same time loses.
    let json = serde_json::to_string(&sealed)?;
    if db.meta_init(&key_meta(account), &json)? != json {
        anyhow::bail!("管理员 {account} 已有规则数据签名密钥（密钥只增不换）");
    }
    let mut accounts = key_accounts(db)?;
    accounts.push(account.to_string());
    db.meta_set(KEYS_META, &serde_json::to_string(&accounts)?)?;
    Ok(key.public_key().fingerprint())
}

/// What a new version changes; everything not named stays as it is.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub org: Option<OrgData>,
    pub dictionaries: Option<Vec<Dictionary>>,
    /// New template versions (earlier versions stay, immutable).
    pub templates: Vec<Template>,
    /// New workflow versions.
    pub workflows: Vec<WorkflowDef>,
    pub calendar: Vec<YearCalendar>,
    pub note: String,
}

/// Publishes the next version: the current rules with `changes`, listing
/// every administrator's registry key, signed by `account`'s (unsealed
/// with `pin`), which the current version must list. Checked exactly as a
/// station checks it before it is kept.
pub fn publish(
    db: &dyn HubDb,
    account: &str,
    pin: &str,
    changes: Changes,
    now: &str,
) -> anyhow::Result<SignedRegistry> {
    let Some(sealed) = sealed_key(db, account)? else {
        anyhow::bail!(
            "管理员 {account} 还没有规则数据签名密钥：请先运行 `jingwu-hub admin registry-key --as {account}`"
        );
    };
    let key = sealed
        .unlock(pin)
        .map_err(|e| anyhow::anyhow!("无法解开管理员 {account} 的签名密钥：{e}"))?;
    let public = key.public_key().clone();
    let mut chain = chain(db)?;
    let current = crate::server::registry(db)?;
    let version = chain.len() as u32 + 1;
    if let Some(prev) = chain.last() {
        let prev: RegistryDoc = serde_json::from_str(&prev.doc)?;
        let pem = public.to_pem();
        if !prev.admins.iter().any(|a| a == &pem) {
            anyhow::bail!(
                "管理员 {account} 的密钥（指纹 {}）未列入第 {} 版规则数据的签名人：请由已列入的管理员先发布一次",
                public.fingerprint(),
                prev.version
            );
        }
    }
    let mut admins = Vec::new();
    for a in key_accounts(db)? {
        if let Some(k) = sealed_key(db, &a)? {
            admins.push(k.public_key.to_pem());
        }
    }
    let mut doc = RegistryDoc::of(&current, version, now, account, &changes.note, admins);
    if let Some(org) = changes.org {
        Org::new(org.clone()).map_err(|e| anyhow::anyhow!("组织机构有误：{e}"))?;
        doc.org = org;
    }
    if let Some(d) = changes.dictionaries {
        doc.dictionaries = d;
    }
    doc.templates.extend(changes.templates);
    doc.workflows.extend(changes.workflows);
    for y in changes.calendar {
        if !doc.calendar.iter().any(|c| c.year() == y.year()) {
            doc.calendar.push(y);
        }
    }
    let signed = doc.sign(&key)?;
    chain.push(signed.clone());
    verified_registry(&chain, None).map_err(|e| anyhow::anyhow!("未发布：{e}"))?;
    // The version number is taken by storing its document only where none
    // is: of two publications at once, the second is refused whole.
    let json = serde_json::to_string(&signed)?;
    if db.meta_init(&doc_meta(version), &json)? != json {
        anyhow::bail!(
            "未发布：另一次发布刚刚占用了第 {version} 版规则数据，请查看最新版本后重新发布"
        );
    }
    db.meta_set(VERSION_META, &version.to_string())?;
    Ok(signed)
}

/// A first hub's set-up: `account`'s registry key (unless it has one)
/// and version 1 of the rules loaded at `init`, when nothing was
/// published yet.
pub fn publish_first(
    db: &dyn HubDb,
    account: &str,
    pin: &str,
    kdf: KdfParams,
    now: &str,
) -> anyhow::Result<Option<SignedRegistry>> {
    if sealed_key(db, account)?.is_none() {
        create_admin_key(db, account, pin, kdf)?;
    }
    if latest_version(db)? > 0 {
        return Ok(None);
    }
    publish(db, account, pin, Changes::default(), now).map(Some)
}
