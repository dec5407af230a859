//! The rules this station runs: the registry the hub published
//! (`jingwu_core::published`), fetched at enrolment and on every sync
//! (by its digest, like the seals), verified, kept in the store as the
//! exact signed documents and verified again every time the station
//! opens. Version 1's digest, taken at enrolment over the hub's pinned
//! connection, is the anchor every later check starts from.
//!
//! A station whose store holds no published registry (never enrolled, or
//! enrolled with a hub that has published none) runs with the registry it
//! was opened with: the built-in demo in the demo and the tests, an empty
//! org otherwise ([`unpublished`]), under which nobody can act.

use jingwu_core::org::{Org, OrgData};
use jingwu_core::published::{verified_registry, SignedRegistry};
use jingwu_core::registry::Registry;
use jingwu_store::Store;

use crate::client::{ClientError, HubClient};
use crate::station::{Result, Station, StationError};

const VERSION: &str = "registry_version";
/// Set by the local demo (`jingwu-station demo`) in the store it fills.
const DEMO: &str = "demo_data";
const ANCHOR: &str = "registry_anchor";

fn doc_key(version: u32) -> String {
    format!("registry_v{version}")
}

fn refused(e: impl std::fmt::Display) -> StationError {
    StationError::Usage(format!(
        "本机保存的规则数据未通过校验，已停止使用：{e}。请联系县局系统管理员，或删除本机数据后重新登记"
    ))
}

/// The rules of a station that has not received any from its hub: the
/// built-in templates, workflows and dictionaries over an empty org, so
/// that nobody can act until the hub's registry arrives.
pub fn unpublished() -> Result<Registry> {
    let org = Org::new(OrgData {
        name: "（尚未取得县局发布的规则数据）".into(),
        version: 0,
        posts: Vec::new(),
        units: Vec::new(),
        people: Vec::new(),
        in_charge: Vec::new(),
        incident: Default::default(),
    })
    .map_err(|e| StationError::Usage(e.to_string()))?;
    Registry::builtin_with_org(org).map_err(|e| StationError::Usage(e.to_string()))
}

fn stored_chain(store: &Store) -> Result<Vec<SignedRegistry>> {
    let n: u32 = match store.meta(VERSION)? {
        Some(v) => v.parse().map_err(|_| refused(format!("版本号 {v} 有误")))?,
        None => return Ok(Vec::new()),
    };
    let mut chain = Vec::with_capacity(n as usize);
    for v in 1..=n {
        let Some(json) = store.meta(&doc_key(v))? else {
            return Err(refused(format!("缺少第 {v} 版")));
        };
        chain.push(serde_json::from_str(&json).map_err(|e| refused(format!("第 {v} 版：{e}")))?);
    }
    Ok(chain)
}

/// Marks `store` as holding the local demo's data (the built-in demo
/// org's), which it is then opened with while it holds no published
/// registry.
pub fn mark_demo(store: &mut Store) -> Result<()> {
    store.set_meta(DEMO, Some("1"))?;
    Ok(())
}

/// The rules `store` runs with: its published registry ([`load`]); else
/// the built-in demo for the local demo's data ([`mark_demo`]); else
/// `fallback`.
pub fn load_or(store: &Store, fallback: Registry) -> Result<Registry> {
    if let Some(r) = load(store)? {
        return Ok(r);
    }
    if store.meta(DEMO)?.is_some() {
        return Registry::builtin_demo().map_err(|e| StationError::Usage(e.to_string()));
    }
    Ok(fallback)
}

/// The published registry kept in `store`, verified from its anchor;
/// `None` when it holds none. A stored version that does not verify
/// (changed in the store) is refused with an error.
pub fn load(store: &Store) -> Result<Option<Registry>> {
    let chain = stored_chain(store)?;
    if chain.is_empty() {
        return Ok(None);
    }
    let Some(anchor) = store.meta(ANCHOR)? else {
        return Err(refused("缺少登记时记录的第 1 版摘要"));
    };
    verified_registry(&chain, Some(&anchor))
        .map(Some)
        .map_err(refused)
}

/// The newest version kept in `store`: (version, the fingerprint of the
/// key that signed version 1 — the one to compare with the hub's
/// administrator —, the org's name).
pub fn summary(store: &Store) -> Result<Option<(u32, String, String)>> {
    let chain = stored_chain(store)?;
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return Ok(None);
    };
    let fp = first.signer_fingerprint().map_err(refused)?;
    let name = match load(store)? {
        Some(r) => r.org.data().name.clone(),
        None => String::new(),
    };
    Ok(Some((last.version, fp, name)))
}

/// What [`Station::sync_registry`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrySync {
    /// The hub has published nothing (the station keeps what it has).
    Unpublished,
    /// Nothing new.
    Current(u32),
    /// Took versions up to this one.
    Updated(u32),
}

impl Station {
    /// Takes the registry versions the hub published since this station's
    /// newest, when the hub's digest differs: checks the whole chain from
    /// the anchor (taken now at the first time), keeps the documents, and
    /// runs with them from here on. A version that does not verify, a hub
    /// whose history differs from what this station holds, or a hub behind
    /// it is refused and nothing is kept.
    pub async fn sync_registry(&mut self, client: &HubClient) -> Result<RegistrySync> {
        let digest = match client.registry_digest().await {
            Ok(d) => d,
            Err(ClientError::Hub { status: 404, .. }) => return Ok(RegistrySync::Unpublished),
            Err(e) => return Err(e.into()),
        };
        let mut chain = stored_chain(&self.store)?;
        let have = chain.len() as u32;
        // Another instance over the same store (the desktop's background
        // link, a second window) may have taken versions since this one
        // opened: run with what the store holds.
        if have > 0 && self.reg.published_version() != Some(have) {
            if let Some(reg) = load(&self.store)? {
                self.reg = reg;
            }
        }
        if digest.version < have {
            return Err(StationError::Usage(format!(
                "县局的规则数据（第 {} 版）比本机的（第 {have} 版）旧，已拒收：请联系县局系统管理员",
                digest.version
            )));
        }
        if digest.version == have {
            if chain.last().map(SignedRegistry::digest).as_deref() == Some(digest.digest.as_str()) {
                return Ok(RegistrySync::Current(have));
            }
            return Err(StationError::Usage(format!(
                "县局的规则数据第 {have} 版与本机保存的不同，已拒收：请联系县局系统管理员核实"
            )));
        }
        let fetched: Vec<SignedRegistry> = client
            .registry_versions(have)
            .await?
            .into_iter()
            .filter(|s| s.version > have)
            .collect();
        chain.extend(fetched.iter().cloned());
        let anchor = match self.store.meta(ANCHOR)? {
            Some(a) => a,
            None => match chain.first() {
                Some(first) => first.digest(),
                None => return Ok(RegistrySync::Unpublished),
            },
        };
        let reg = verified_registry(&chain, Some(&anchor)).map_err(|e| {
            StationError::Usage(format!("县局发来的规则数据未通过校验，已拒收：{e}"))
        })?;
        let newest = chain.len() as u32;
        let mut writes: Vec<(String, String)> = Vec::new();
        for s in &fetched {
            let json = serde_json::to_string(s)
                .map_err(|e| StationError::Usage(format!("规则数据无法保存：{e}")))?;
            writes.push((doc_key(s.version), json));
        }
        writes.push((ANCHOR.to_string(), anchor));
        writes.push((VERSION.to_string(), newest.to_string()));
        self.store.set_metas(&writes)?;
        self.reg = reg;
        Ok(RegistrySync::Updated(newest))
    }
}
