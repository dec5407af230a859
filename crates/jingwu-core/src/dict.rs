//! Code tables (字典): 业务类别, 变更更正类别, 报警类别, 民族 … as data.
//!
//! The built-in tables ship in `data/dictionaries.json`; deployments may
//! import more (e.g. levels 2–3 of 报警类别, which differ by province).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One code of a dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub code: String,
    pub label: String,
    /// Free-form tags workflows can route on (e.g. `main` for 主项).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A named, versioned code table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dictionary {
    pub id: String,
    pub name: String,
    pub version: u32,
    /// Where the table comes from and how sure it is ([C]/[D]/[U]).
    #[serde(default)]
    pub source: Option<String>,
    pub entries: Vec<Entry>,
}

impl Dictionary {
    pub fn entry(&self, code: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.code == code)
    }

    pub fn label(&self, code: &str) -> Option<&str> {
        self.entry(code).map(|e| e.label.as_str())
    }
}

/// Why a dictionary file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DictError {
    #[error("字典文件格式错误：{0}")]
    Json(String),
    #[error("字典 {0} 重复")]
    Duplicate(String),
    #[error("字典 {dict} 中代码 {code} 重复")]
    DuplicateCode { dict: String, code: String },
    #[error("字典 {0} 没有任何代码")]
    Empty(String),
}

/// A set of dictionaries by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dictionaries {
    by_id: BTreeMap<String, Dictionary>,
}

/// The built-in dictionaries shipped with the code.
pub const BUILTIN_DICTIONARIES_JSON: &str = include_str!("../data/dictionaries.json");

impl Dictionaries {
    /// Parses a JSON array of dictionaries.
    pub fn from_json(json: &str) -> Result<Self, DictError> {
        let list: Vec<Dictionary> =
            serde_json::from_str(json).map_err(|e| DictError::Json(e.to_string()))?;
        let mut d = Dictionaries::default();
        for x in list {
            d.insert(x)?;
        }
        Ok(d)
    }

    /// The built-in tables.
    pub fn builtin() -> Result<Self, DictError> {
        Self::from_json(BUILTIN_DICTIONARIES_JSON)
    }

    /// Adds a dictionary; refuses duplicates.
    pub fn insert(&mut self, d: Dictionary) -> Result<(), DictError> {
        if d.entries.is_empty() {
            return Err(DictError::Empty(d.id));
        }
        let mut seen = std::collections::BTreeSet::new();
        for e in &d.entries {
            if !seen.insert(e.code.as_str()) {
                return Err(DictError::DuplicateCode {
                    dict: d.id.clone(),
                    code: e.code.clone(),
                });
            }
        }
        if self.by_id.contains_key(&d.id) {
            return Err(DictError::Duplicate(d.id));
        }
        self.by_id.insert(d.id.clone(), d);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Dictionary> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Dictionary> {
        self.by_id.values()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn builtin_tables_load() {
        let d = Dictionaries::builtin().unwrap();
        assert_eq!(
            d.get("hukou_business").unwrap().label("107"),
            Some("变更更正")
        );
        assert_eq!(
            d.get("alarm_category").unwrap().label("040000"),
            Some("火灾")
        );
        assert_eq!(d.get("ethnicity").unwrap().entries.len(), 58);
        assert_eq!(d.get("ethnicity").unwrap().label("06"), Some("苗族"));
        assert_eq!(d.get("ethnicity").unwrap().label("25"), Some("水族"));
        let cc = d.get("change_category").unwrap();
        assert!(cc.entry("21").unwrap().tags.contains(&"main".to_string()));
        assert!(!cc.entry("92").unwrap().tags.contains(&"main".to_string()));
        for id in [
            "alarm_method",
            "handling_result",
            "sex",
            "relation",
            "inform_channel",
        ] {
            assert!(d.get(id).is_some(), "{id}");
        }
    }

    #[test]
    fn duplicates_refused() {
        let j = r#"[{"id":"a","name":"A","version":1,"entries":[{"code":"1","label":"x"},{"code":"1","label":"y"}]}]"#;
        assert!(matches!(
            Dictionaries::from_json(j),
            Err(DictError::DuplicateCode { .. })
        ));
        let j = r#"[{"id":"a","name":"A","version":1,"entries":[]}]"#;
        assert!(matches!(
            Dictionaries::from_json(j),
            Err(DictError::Empty(_))
        ));
    }
}
