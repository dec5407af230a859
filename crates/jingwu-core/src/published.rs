//! The registry as the hub publishes it: each version a complete
//! document (org, dictionaries, templates, workflows, holiday calendar)
//! signed by a system administrator's SM2 key, chained so that a station
//! trusts a new version only when the version before it names the key
//! that signed it.
//!
//! Trust: version 1 is signed by one of the keys it lists itself; a
//! station takes it at enrolment over the hub's pinned connection and
//! keeps its SM3 digest as its anchor (the administrator's fingerprint is
//! shown on both sides, like a device's). Version `n + 1` must be signed
//! by a key listed in version `n`'s `admins`. A document is kept and
//! checked as its exact signed bytes (RFC 8785 canonical JSON); anything
//! else (a changed byte, an unknown field, a gap in the versions) is
//! refused. What a publication may change is decided here as well
//! ([`check_successor`]): template and workflow versions are immutable and
//! a dictionary code, once published, is never withdrawn, so a running
//! case stays valid under every later version; it keeps the org of its
//! own version ([`Registry::for_case`]).

use serde::{Deserialize, Serialize};

use crate::crypto::{sm3_hex, CryptoError, PublicKey, Signer};
use crate::dict::{Dictionaries, Dictionary};
use crate::form::Template;
use crate::org::{Org, OrgData};
use crate::registry::{Registry, RegistryError};
use crate::workdays::YearCalendar;
use crate::workflow::WorkflowDef;

/// The format of [`RegistryDoc`].
pub const REGISTRY_FORMAT: u32 = 1;

/// One published version of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryDoc {
    pub format: u32,
    /// 1, 2, … without gaps.
    pub version: u32,
    /// RFC 3339, the hub's time.
    pub published_at: String,
    /// The administrator's account that published it.
    pub publisher: String,
    /// What changed, in the administrator's words.
    #[serde(default)]
    pub note: String,
    /// The keys (PEM) that may sign the next version.
    pub admins: Vec<String>,
    pub org: OrgData,
    pub dictionaries: Vec<Dictionary>,
    pub templates: Vec<Template>,
    pub workflows: Vec<WorkflowDef>,
    pub calendar: Vec<YearCalendar>,
}

/// A [`RegistryDoc`] as its signed bytes and signature: what the hub
/// serves, the station stores and both check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRegistry {
    pub version: u32,
    /// The document's exact signed bytes (canonical JSON).
    pub doc: String,
    /// The signer's public key (PEM).
    pub key: String,
    /// SM2 signature over `doc` (DER, hex).
    pub signature: String,
}

/// Why a published registry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("规则数据第 {version} 版格式有误：{why}")]
    Malformed { version: u32, why: String },
    #[error("规则数据第 {version} 版的签名无效（内容已被改动或不是管理员所签）")]
    BadSignature { version: u32 },
    #[error(
        "规则数据第 {version} 版不是由上一版指定的系统管理员密钥签名（签名密钥指纹 {fingerprint}）"
    )]
    UntrustedKey { version: u32, fingerprint: String },
    #[error("规则数据第 1 版与本机登记时取得的不一致（本机记录摘要 {expected}，收到 {found}）；请联系县局系统管理员核实")]
    AnchorMismatch { expected: String, found: String },
    #[error("规则数据版本不连续：应为第 {expected} 版，收到第 {found} 版")]
    Gap { expected: u32, found: u32 },
    #[error("规则数据第 {version} 版不可用：{why}")]
    Rules { version: u32, why: String },
}

impl RegistryDoc {
    /// The document of `reg`'s current rules as version `version`.
    pub fn of(
        reg: &Registry,
        version: u32,
        published_at: &str,
        publisher: &str,
        note: &str,
        admins: Vec<String>,
    ) -> RegistryDoc {
        RegistryDoc {
            format: REGISTRY_FORMAT,
            version,
            published_at: published_at.to_string(),
            publisher: publisher.to_string(),
            note: note.to_string(),
            admins,
            org: reg.org.data().clone(),
            dictionaries: reg.dicts.iter().cloned().collect(),
            templates: reg.templates().cloned().collect(),
            workflows: reg.workflows().cloned().collect(),
            calendar: reg.calendar_years().cloned().collect(),
        }
    }

    /// Signs the document with `signer`.
    pub fn sign(&self, signer: &dyn Signer) -> Result<SignedRegistry, PublishError> {
        let bad = |why: String| PublishError::Malformed {
            version: self.version,
            why,
        };
        let bytes = serde_json_canonicalizer::to_vec(self).map_err(|e| bad(e.to_string()))?;
        let signature = signer
            .sign(&bytes)
            .map_err(|e: CryptoError| bad(e.to_string()))?;
        Ok(SignedRegistry {
            version: self.version,
            doc: String::from_utf8(bytes).map_err(|e| bad(e.to_string()))?,
            key: signer.public_key().to_pem(),
            signature: hex::encode(signature),
        })
    }

    fn keys(&self) -> Result<Vec<PublicKey>, PublishError> {
        self.admins
            .iter()
            .map(|pem| {
                PublicKey::from_pem(pem).map_err(|e| PublishError::Malformed {
                    version: self.version,
                    why: format!("管理员公钥无效：{e}"),
                })
            })
            .collect()
    }
}

impl SignedRegistry {
    /// SM3 (hex) of the signed bytes: names a version; the sync digest.
    pub fn digest(&self) -> String {
        sm3_hex(self.doc.as_bytes())
    }

    /// The signer's key fingerprint (as [`PublicKey::fingerprint`]).
    pub fn signer_fingerprint(&self) -> Result<String, PublishError> {
        Ok(self.signer()?.fingerprint())
    }

    fn signer(&self) -> Result<PublicKey, PublishError> {
        PublicKey::from_pem(&self.key).map_err(|e| PublishError::Malformed {
            version: self.version,
            why: format!("签名公钥无效：{e}"),
        })
    }

    /// Checks the signature against one of `trusted` and the document's
    /// exact form; returns the document.
    pub fn open(&self, trusted: &[PublicKey]) -> Result<RegistryDoc, PublishError> {
        let version = self.version;
        let key = self.signer()?;
        let fingerprint = key.fingerprint();
        if !trusted.iter().any(|k| k.fingerprint() == fingerprint) {
            return Err(PublishError::UntrustedKey {
                version,
                fingerprint,
            });
        }
        let sig =
            hex::decode(&self.signature).map_err(|_| PublishError::BadSignature { version })?;
        key.verify(self.doc.as_bytes(), &sig)
            .map_err(|_| PublishError::BadSignature { version })?;
        let doc: RegistryDoc =
            serde_json::from_str(&self.doc).map_err(|e| PublishError::Malformed {
                version,
                why: e.to_string(),
            })?;
        let again =
            serde_json_canonicalizer::to_vec(&doc).map_err(|e| PublishError::Malformed {
                version,
                why: e.to_string(),
            })?;
        if again != self.doc.as_bytes() {
            return Err(PublishError::Malformed {
                version,
                why: "不是规范形式（含未知字段或字段被改写）".into(),
            });
        }
        if doc.version != version || doc.format != REGISTRY_FORMAT {
            return Err(PublishError::Malformed {
                version,
                why: format!("文档版本 {}、格式 {}", doc.version, doc.format),
            });
        }
        Ok(doc)
    }
}

/// Checks a chain of published versions, oldest first (1, 2, …), and
/// returns their documents. `anchor`, when given, is the SM3 digest of
/// version 1 that the station kept at enrolment.
pub fn verify_chain(
    chain: &[SignedRegistry],
    anchor: Option<&str>,
) -> Result<Vec<RegistryDoc>, PublishError> {
    let mut docs: Vec<RegistryDoc> = Vec::with_capacity(chain.len());
    for (i, s) in chain.iter().enumerate() {
        let expected = i as u32 + 1;
        if s.version != expected {
            return Err(PublishError::Gap {
                expected,
                found: s.version,
            });
        }
        let doc = match docs.last() {
            None => {
                if let Some(a) = anchor {
                    let found = s.digest();
                    if found != a {
                        return Err(PublishError::AnchorMismatch {
                            expected: a.to_string(),
                            found,
                        });
                    }
                }
                // Version 1 is signed by a key it lists itself.
                let unchecked: RegistryDoc =
                    serde_json::from_str(&s.doc).map_err(|e| PublishError::Malformed {
                        version: 1,
                        why: e.to_string(),
                    })?;
                s.open(&unchecked.keys()?)?
            }
            Some(prev) => {
                let doc = s.open(&prev.keys()?)?;
                check_successor(prev, &doc)?;
                doc
            }
        };
        docs.push(doc);
    }
    Ok(docs)
}

/// What a new version may change: its number follows, it names at least
/// one administrator, and no dictionary code published before is
/// withdrawn (running cases hold them). Template and workflow versions are
/// immutable (checked when the registry is built).
pub fn check_successor(prev: &RegistryDoc, next: &RegistryDoc) -> Result<(), PublishError> {
    let version = next.version;
    if version != prev.version + 1 {
        return Err(PublishError::Gap {
            expected: prev.version + 1,
            found: version,
        });
    }
    if next.admins.is_empty() {
        return Err(PublishError::Rules {
            version,
            why: "没有指定任何系统管理员密钥，以后的版本将无人能签".into(),
        });
    }
    for d in &prev.dictionaries {
        let Some(nd) = next.dictionaries.iter().find(|x| x.id == d.id) else {
            return Err(PublishError::Rules {
                version,
                why: format!("删除了代码表 {}（已发布的代码表只能增补）", d.id),
            });
        };
        for e in &d.entries {
            if nd.entry(&e.code).is_none() {
                return Err(PublishError::Rules {
                    version,
                    why: format!(
                        "代码表 {} 删除了代码 {}（{}）；已发布的代码只能停用不能删除",
                        d.id, e.code, e.label
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The registry of a verified chain (oldest first): the newest version's
/// org, dictionaries and calendar, every template and workflow version of
/// every document, and each version's org for the cases created with it.
pub fn registry_of(docs: &[RegistryDoc]) -> Result<Registry, PublishError> {
    let Some(last) = docs.last() else {
        return Err(PublishError::Gap {
            expected: 1,
            found: 0,
        });
    };
    let rules = |version: u32| {
        move |e: RegistryError| PublishError::Rules {
            version,
            why: e.to_string(),
        }
    };
    let dicts = |d: &RegistryDoc| -> Result<Dictionaries, PublishError> {
        let mut x = Dictionaries::default();
        for dict in &d.dictionaries {
            x.insert(dict.clone())
                .map_err(|e| rules(d.version)(RegistryError::Dict(e)))?;
        }
        Ok(x)
    };
    let org_of = |d: &RegistryDoc| -> Result<Org, PublishError> {
        Org::new(d.org.clone()).map_err(|e| rules(d.version)(RegistryError::Org(e)))
    };
    let mut reg = Registry::new(org_of(last)?, dicts(last)?);
    for d in docs {
        reg.push_version(d.version, org_of(d)?);
    }
    reg.set_dicts(dicts(last)?);
    for d in docs {
        for t in &d.templates {
            reg.add_template(t.clone()).map_err(rules(d.version))?;
        }
    }
    for d in docs {
        for w in &d.workflows {
            reg.add_workflow(w.clone()).map_err(rules(d.version))?;
        }
        for y in &d.calendar {
            reg.add_calendar_year(y.clone()).map_err(rules(d.version))?;
        }
    }
    Ok(reg)
}

/// [`verify_chain`] then [`registry_of`].
pub fn verified_registry(
    chain: &[SignedRegistry],
    anchor: Option<&str>,
) -> Result<Registry, PublishError> {
    registry_of(&verify_chain(chain, anchor)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::crypto::SoftwareKey;

    fn key() -> SoftwareKey {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEED: AtomicU64 = AtomicU64::new(11);
        let mut rng = crate::tests::TestRng(SEED.fetch_add(1, Ordering::Relaxed));
        SoftwareKey::generate(&mut rng).unwrap()
    }

    fn doc(reg: &Registry, v: u32, admins: &[&SoftwareKey]) -> RegistryDoc {
        RegistryDoc::of(
            reg,
            v,
            "2026-12-04T10:00:00+08:00",
            "admin",
            "测试",
            admins.iter().map(|k| k.public_key().to_pem()).collect(),
        )
    }

    fn chain2() -> (Vec<SignedRegistry>, SoftwareKey) {
        let k = key();
        let reg = Registry::builtin_demo().unwrap();
        let v1 = doc(&reg, 1, &[&k]).sign(&k).unwrap();
        let mut d2 = doc(&reg, 2, &[&k]);
        // A new 户政股股长: the org changes, the rest stays.
        d2.org.name = format!("{}（调整）", d2.org.name);
        let v2 = d2.sign(&k).unwrap();
        (vec![v1, v2], k)
    }

    #[test]
    fn a_chain_verifies_and_keeps_each_versions_org() {
        let (chain, _) = chain2();
        let anchor = chain[0].digest();
        let reg = verified_registry(&chain, Some(&anchor)).unwrap();
        assert_eq!(reg.published_version(), Some(2));
        assert!(reg.org.data().name.ends_with("（调整）"));
        let v1 = reg.at(Some(1)).unwrap();
        assert!(!v1.org.data().name.ends_with("（调整）"));
        assert!(reg.at(Some(3)).is_none());
        assert_eq!(reg.versions().collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn a_changed_byte_a_foreign_key_or_a_gap_is_refused() {
        let (chain, _) = chain2();
        let mut bad = chain.clone();
        bad[1].doc = bad[1].doc.replace("（调整）", "（篡改）");
        assert!(matches!(
            verify_chain(&bad, None),
            Err(PublishError::BadSignature { version: 2 })
        ));
        // Version 2 signed by a key version 1 does not name.
        let other = key();
        let reg = Registry::builtin_demo().unwrap();
        let mut forged = chain.clone();
        forged[1] = doc(&reg, 2, &[&other]).sign(&other).unwrap();
        assert!(matches!(
            verify_chain(&forged, None),
            Err(PublishError::UntrustedKey { version: 2, .. })
        ));
        // A whole forged chain does not match the station's anchor.
        let k = key();
        let alien = vec![doc(&reg, 1, &[&k]).sign(&k).unwrap()];
        assert!(matches!(
            verify_chain(&alien, Some(&chain[0].digest())),
            Err(PublishError::AnchorMismatch { .. })
        ));
        assert!(matches!(
            verify_chain(&chain[1..], None),
            Err(PublishError::Gap {
                expected: 1,
                found: 2
            })
        ));
    }

    #[test]
    fn an_unknown_field_is_refused_even_when_signed() {
        let k = key();
        let reg = Registry::builtin_demo().unwrap();
        let d = doc(&reg, 1, &[&k]);
        let mut v: serde_json::Value = serde_json::to_value(&d).unwrap();
        v["extra"] = serde_json::json!(1);
        let bytes = serde_json_canonicalizer::to_vec(&v).unwrap();
        let s = SignedRegistry {
            version: 1,
            doc: String::from_utf8(bytes.clone()).unwrap(),
            key: k.public_key().to_pem(),
            signature: hex::encode(k.sign(&bytes).unwrap()),
        };
        assert!(matches!(
            verify_chain(&[s], None),
            Err(PublishError::Malformed { .. })
        ));
    }

    #[test]
    fn a_withdrawn_code_or_a_rewritten_template_version_is_refused() {
        let k = key();
        let reg = Registry::builtin_demo().unwrap();
        let d1 = doc(&reg, 1, &[&k]);
        let mut d2 = doc(&reg, 2, &[&k]);
        let dict = d2
            .dictionaries
            .iter_mut()
            .find(|d| d.entries.len() > 1)
            .unwrap();
        dict.entries.pop();
        assert!(matches!(
            check_successor(&d1, &d2),
            Err(PublishError::Rules { version: 2, .. })
        ));
        let mut d2 = doc(&reg, 2, &[&k]);
        d2.templates[0].name = format!("{}（改）", d2.templates[0].name);
        assert!(matches!(
            registry_of(&[d1, d2]),
            Err(PublishError::Rules { version: 2, .. })
        ));
    }

    #[test]
    fn the_signature_verifies_as_plain_sm2_over_the_document() {
        let (chain, k) = chain2();
        let sig = hex::decode(&chain[0].signature).unwrap();
        k.public_key()
            .verify(chain[0].doc.as_bytes(), &sig)
            .unwrap();
    }
}
