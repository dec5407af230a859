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

/// The pinyin initials of a label, for typing a code's name quickly
/// (`入室盗窃` → `rsdq`): each Han character by its first letter, ASCII
/// letters and digits as they are (lower-cased), anything else dropped.
pub fn initials(label: &str) -> String {
    use pinyin::ToPinyin;
    label
        .chars()
        .filter_map(|c| match c.to_pinyin() {
            Some(p) => p.first_letter().chars().next(),
            None if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            None => None,
        })
        .collect()
}

/// The parent of a code in a levelled 6-digit table (报警类别: `XX0000`
/// level 1, `XXYY00` level 2, `XXYYZZ` level 3), if it has one.
pub fn parent_code(code: &str) -> Option<String> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !code.ends_with("00") {
        Some(format!("{}00", &code[..4]))
    } else if !code.ends_with("0000") {
        Some(format!("{}0000", &code[..2]))
    } else {
        None
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

    #[test]
    fn initials_and_levels() {
        assert_eq!(initials("入室盗窃"), "rsdq");
        assert_eq!(initials("行政（治安）"), "xzza");
        assert_eq!(initials("110巡逻发现"), "110xlfx");
        assert_eq!(parent_code("010101").as_deref(), Some("010100"));
        assert_eq!(parent_code("010100").as_deref(), Some("010000"));
        assert_eq!(parent_code("010000"), None);
        assert_eq!(parent_code("01"), None);
        let d = Dictionaries::builtin().unwrap();
        let cat = d.get("alarm_category").unwrap();
        // Every lower-level code hangs under a code of the table.
        for e in &cat.entries {
            if let Some(p) = parent_code(&e.code) {
                assert!(cat.entry(&p).is_some(), "{}", e.code);
            }
        }
    }
}
