//! Form templates as versioned data, and their validation.
//!
//! A template lists typed fields, which are required, and per-step field
//! permissions. Values travel as JSON (`FormValues`); validation turns them
//! into field-level messages in Chinese. Money is a decimal string, never a
//! JSON number; dates are `YYYY-MM-DD`; date-times RFC 3339.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};

use crate::dict::Dictionaries;
use crate::idnum::{IdNumber, Sex};
use crate::money::Money;
use crate::org::Org;

/// Field values of a form, by field key.
pub type FormValues = BTreeMap<String, Value>;

/// Identifies one version of a template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TemplateRef {
    pub id: String,
    pub version: u32,
}

/// What kind of case a template starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseType {
    /// 户口变更 — an approval workflow.
    HukouChange,
    /// 110 接处警 — the incident lifecycle.
    Incident,
}

/// The type of a field and its type-specific rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    Text {
        #[serde(default = "default_text_len")]
        max_len: usize,
    },
    LongText {
        #[serde(default = "default_long_len")]
        max_len: usize,
    },
    Integer {
        #[serde(default)]
        min: Option<i64>,
        #[serde(default)]
        max: Option<i64>,
    },
    /// CNY, fixed point with 2 decimals, ≥ 0.
    Money,
    Date {
        /// Refuse dates after the validation day.
        #[serde(default)]
        not_future: bool,
    },
    DateTime {
        #[serde(default)]
        not_future: bool,
    },
    /// A code of the named dictionary.
    Dict { dict: String },
    /// A person id of the org.
    Person,
    /// A unit code of the org.
    Unit,
    /// A 公民身份号码; optionally checked against the form's sex and birth
    /// date fields.
    IdNumber {
        #[serde(default)]
        sex_field: Option<String>,
        #[serde(default)]
        birth_field: Option<String>,
    },
    /// A mainland mobile or fixed-line number.
    Phone,
    /// A list of attachment references.
    Attachments {
        #[serde(default)]
        min: usize,
        #[serde(default = "default_max_attachments")]
        max: usize,
    },
    /// Rows of sub-fields.
    Table {
        columns: Vec<FieldDef>,
        #[serde(default)]
        min_rows: usize,
        #[serde(default = "default_max_rows")]
        max_rows: usize,
    },
}

fn default_text_len() -> usize {
    100
}
fn default_long_len() -> usize {
    2000
}
fn default_max_attachments() -> usize {
    50
}
fn default_max_rows() -> usize {
    100
}

/// One field of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Stable key (ASCII snake case) used in values and permissions.
    pub key: String,
    /// Chinese label shown to users and used in messages.
    pub label: String,
    #[serde(flatten)]
    pub ty: FieldType,
    /// Required when the initiator submits (the [`DRAFT_STEP`]).
    #[serde(default)]
    pub required: bool,
    /// Further steps at which the field must be filled before the step
    /// completes (e.g. the 110 feedback).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_at: Vec<String>,
    /// Section heading the UI groups the field under.
    #[serde(default)]
    pub section: Option<String>,
    /// Help text shown under the field.
    #[serde(default)]
    pub help: Option<String>,
}

/// What a user at a given step may do with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Editable,
    ReadOnly,
    Hidden,
}

/// The permissions of one step: a default and per-field overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPermissions {
    pub default: Permission,
    #[serde(default)]
    pub fields: BTreeMap<String, Permission>,
}

/// The step key of the initiator while drafting or correcting.
pub const DRAFT_STEP: &str = "draft";

/// A form template, versioned. A case keeps the version it was created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    pub version: u32,
    pub name: String,
    pub case_type: CaseType,
    pub fields: Vec<FieldDef>,
    /// Per-step permissions by step key ([`DRAFT_STEP`] or a workflow step
    /// id). A step not listed sees every field read-only.
    #[serde(default)]
    pub permissions: BTreeMap<String, StepPermissions>,
}

/// A problem with one field, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Field key; for table cells `key[row].column`.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

/// How strictly to validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Saving a draft: only check the values present.
    Draft,
    /// Submitting: required fields must be present too.
    Submit,
}

/// What validation needs from outside the form.
pub struct Context<'a> {
    /// The day "not in the future" is judged against (Asia/Shanghai).
    pub today: Date,
    pub dictionaries: &'a Dictionaries,
    pub org: Option<&'a Org>,
}

/// An attachment reference stored in a form value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// SM3 of the content, lower-case hex.
    pub sm3: String,
    pub name: String,
    pub mime: String,
    pub size: u64,
    #[serde(default)]
    pub pages: Option<u32>,
}

impl Template {
    pub fn reference(&self) -> TemplateRef {
        TemplateRef {
            id: self.id.clone(),
            version: self.version,
        }
    }

    pub fn field(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The permission of `field` at `step`.
    pub fn permission(&self, step: &str, field: &str) -> Permission {
        match self.permissions.get(step) {
            Some(p) => p.fields.get(field).copied().unwrap_or(p.default),
            None => Permission::ReadOnly,
        }
    }

    /// Checks that the template itself is coherent: unique keys, known
    /// dictionaries, cross-field references pointing at fields of the
    /// right type.
    pub fn check(&self, dicts: &Dictionaries) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.fields {
            if !seen.insert(f.key.as_str()) {
                return Err(format!("模板 {} 字段重复：{}", self.id, f.key));
            }
            check_field_def(self, f, dicts)?;
        }
        for (step, p) in &self.permissions {
            for k in p.fields.keys() {
                if self.field(k).is_none() {
                    return Err(format!(
                        "模板 {} 步骤 {} 的权限引用了不存在的字段 {}",
                        self.id, step, k
                    ));
                }
            }
        }
        Ok(())
    }

    /// Validates `values`. Unknown keys are refused too, so nothing the
    /// template does not define is ever stored.
    pub fn validate(
        &self,
        values: &FormValues,
        mode: Mode,
        step: &str,
        ctx: &Context<'_>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for key in values.keys() {
            if self.field(key).is_none() {
                errors.push(FieldError {
                    field: key.clone(),
                    message: format!("表单中没有“{key}”这一项"),
                });
            }
        }
        for f in &self.fields {
            let v = values.get(&f.key).filter(|v| !is_empty(v));
            match v {
                None => {
                    let required = (step == DRAFT_STEP && f.required)
                        || f.required_at.iter().any(|s| s == step);
                    if mode == Mode::Submit && required {
                        errors.push(FieldError {
                            field: f.key.clone(),
                            message: format!("请填写{}", f.label),
                        });
                    }
                }
                Some(v) => validate_value(f, &f.key, v, values, mode, ctx, &mut errors),
            }
        }
        errors
    }

    /// `values` with every ID number in the canonical form the core
    /// accepts: trimmed, check character `X` upper-case, a legacy 15-digit
    /// number as its 18-digit form. Values that do not parse stay as they
    /// are (validation names them). Apply it wherever a form enters, before
    /// anything is signed.
    pub fn canonicalise(&self, values: &mut FormValues) {
        for f in &self.fields {
            if !matches!(f.ty, FieldType::IdNumber { .. }) {
                continue;
            }
            if let Some(Value::String(v)) = values.get_mut(&f.key) {
                if let Ok(id) = IdNumber::parse_structure(v) {
                    if id.as_str() != v {
                        *v = id.as_str().to_string();
                    }
                }
            }
        }
    }

    /// Validates a change made at `step`: every changed field must be
    /// editable there. Returns the fields that may not be changed.
    pub fn check_edit(&self, step: &str, changes: &FormValues) -> Vec<FieldError> {
        changes
            .keys()
            .filter(|k| self.permission(step, k) != Permission::Editable)
            .map(|k| FieldError {
                field: k.clone(),
                message: format!(
                    "当前环节不能修改“{}”",
                    self.field(k).map(|f| f.label.as_str()).unwrap_or(k)
                ),
            })
            .collect()
    }

    /// The values as the person at `step` may see them (hidden fields
    /// removed).
    pub fn visible(&self, step: &str, values: &FormValues) -> FormValues {
        values
            .iter()
            .filter(|(k, _)| self.permission(step, k) != Permission::Hidden)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn check_field_def(t: &Template, f: &FieldDef, dicts: &Dictionaries) -> Result<(), String> {
    match &f.ty {
        FieldType::Dict { dict } if dicts.get(dict).is_none() => Err(format!(
            "模板 {} 字段 {} 引用了不存在的字典 {}",
            t.id, f.key, dict
        )),
        FieldType::IdNumber {
            sex_field,
            birth_field,
        } => {
            if let Some(s) = sex_field {
                match t.field(s).map(|x| &x.ty) {
                    Some(FieldType::Dict { dict }) if dict == "sex" => {}
                    _ => return Err(format!("字段 {} 的 sex_field 应指向性别字典字段", f.key)),
                }
            }
            if let Some(b) = birth_field {
                if !matches!(t.field(b).map(|x| &x.ty), Some(FieldType::Date { .. })) {
                    return Err(format!("字段 {} 的 birth_field 应指向日期字段", f.key));
                }
            }
            Ok(())
        }
        FieldType::Table { columns, .. } => {
            for c in columns {
                if matches!(c.ty, FieldType::Table { .. } | FieldType::IdNumber { .. }) {
                    return Err(format!("表格字段 {} 的列不支持该类型", f.key));
                }
                check_field_def(t, c, dicts)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn push(errors: &mut Vec<FieldError>, key: &str, message: String) {
    errors.push(FieldError {
        field: key.to_string(),
        message,
    });
}

fn validate_value(
    f: &FieldDef,
    key: &str,
    v: &Value,
    all: &FormValues,
    mode: Mode,
    ctx: &Context<'_>,
    errors: &mut Vec<FieldError>,
) {
    let label = &f.label;
    match &f.ty {
        FieldType::Text { max_len } | FieldType::LongText { max_len } => match v.as_str() {
            None => push(errors, key, format!("{label}应为文字")),
            Some(s) => {
                let n = s.chars().count();
                if n > *max_len {
                    push(
                        errors,
                        key,
                        format!("{label}不能超过 {max_len} 个字（现有 {n} 个）"),
                    );
                }
                if matches!(f.ty, FieldType::Text { .. }) && s.contains(['\n', '\r']) {
                    push(errors, key, format!("{label}不能换行"));
                }
                if s.chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
                {
                    push(errors, key, format!("{label}含有不可见的控制字符"));
                }
            }
        },
        FieldType::Integer { min, max } => match v.as_i64() {
            None => push(errors, key, format!("{label}应为整数")),
            Some(n) => {
                if let Some(m) = min.filter(|m| n < *m) {
                    push(errors, key, format!("{label}不能小于 {m}"));
                }
                if let Some(m) = max.filter(|m| n > *m) {
                    push(errors, key, format!("{label}不能大于 {m}"));
                }
            }
        },
        FieldType::Money => match v.as_str().map(Money::parse) {
            None => push(errors, key, format!("{label}应填写金额，如 1234.50")),
            Some(Err(e)) => push(errors, key, format!("{label}：{e}")),
            Some(Ok(_)) => {}
        },
        FieldType::Date { not_future } => match v.as_str().and_then(parse_date) {
            None => push(errors, key, format!("{label}应为日期，格式 2024-01-31")),
            Some(d) => {
                if *not_future && d > ctx.today {
                    push(errors, key, format!("{label}不能晚于今天"));
                }
                if d.year() < 1800 {
                    push(errors, key, format!("{label}不能早于 1800 年"));
                }
            }
        },
        FieldType::DateTime { not_future } => match v.as_str().and_then(parse_datetime) {
            None => push(
                errors,
                key,
                format!("{label}应为日期时间，格式 2024-01-31T08:30:00+08:00"),
            ),
            Some(t) => {
                if *not_future && t.to_offset(crate::SHANGHAI).date() > ctx.today {
                    push(errors, key, format!("{label}不能晚于今天"));
                }
            }
        },
        FieldType::Dict { dict } => match (v.as_str(), ctx.dictionaries.get(dict)) {
            (Some(code), Some(d)) if d.entry(code).is_some() => {}
            (Some(code), Some(d)) => push(
                errors,
                key,
                format!("{label}的代码“{code}”不在《{}》中", d.name),
            ),
            (None, _) => push(errors, key, format!("{label}应为代码")),
            (Some(_), None) => push(errors, key, format!("{label}引用的字典 {dict} 未加载")),
        },
        FieldType::Person => match (v.as_str(), ctx.org) {
            (None, _) => push(errors, key, format!("{label}应为人员编号")),
            (Some(id), Some(org)) if org.person(id).is_none() => {
                push(errors, key, format!("{label}：人员 {id} 不存在"))
            }
            _ => {}
        },
        FieldType::Unit => match (v.as_str(), ctx.org) {
            (None, _) => push(errors, key, format!("{label}应为单位编码")),
            (Some(code), Some(org)) if org.unit(code).is_none() => {
                push(errors, key, format!("{label}：单位 {code} 不存在"))
            }
            _ => {}
        },
        FieldType::IdNumber {
            sex_field,
            birth_field,
        } => match v.as_str() {
            None => push(errors, key, format!("{label}应为文字")),
            Some(s) => match IdNumber::parse(s, ctx.today) {
                Err(e) => push(errors, key, format!("{label}：{e}")),
                // What is signed is the canonical form only, so one person
                // has one spelling in every record (the adapters store it
                // through `Template::canonicalise`).
                Ok(id) if id.as_str() != s => push(
                    errors,
                    key,
                    format!("{label}应写成 18 位标准形式（校验位 X 大写，不含空格）"),
                ),
                Ok(id) => {
                    let recorded_sex = sex_field
                        .as_ref()
                        .and_then(|k| all.get(k))
                        .and_then(Value::as_str)
                        .and_then(sex_from_code);
                    if let Some(sex) = recorded_sex {
                        if id.sex() != sex {
                            push(
                                errors,
                                key,
                                format!(
                                    "{label}与性别不符：号码第 17 位表示{}",
                                    match id.sex() {
                                        Sex::Male => "男性",
                                        Sex::Female => "女性",
                                    }
                                ),
                            );
                        }
                    }
                    let birth = birth_field
                        .as_ref()
                        .and_then(|k| all.get(k))
                        .and_then(Value::as_str)
                        .and_then(parse_date);
                    if let Some(b) = birth {
                        if id.birth_date() != b {
                            push(
                                errors,
                                key,
                                format!("{label}中的出生日期与所填出生日期不符"),
                            );
                        }
                    }
                }
            },
        },
        FieldType::Phone => match v.as_str() {
            None => push(errors, key, format!("{label}应为文字")),
            Some(s) => {
                if let Err(m) = check_phone(s) {
                    push(errors, key, format!("{label}{m}"));
                }
            }
        },
        FieldType::Attachments { min, max } => match v.as_array() {
            None => push(errors, key, format!("{label}格式错误")),
            Some(items) => {
                if items.len() > *max {
                    push(errors, key, format!("{label}最多 {max} 个文件"));
                }
                if mode == Mode::Submit && items.len() < *min {
                    push(errors, key, format!("{label}至少需要 {min} 个文件"));
                }
                for (i, it) in items.iter().enumerate() {
                    match serde_json::from_value::<AttachmentRef>(it.clone()) {
                        Ok(a) if is_sm3_hex(&a.sm3) && !a.name.trim().is_empty() => {}
                        _ => push(
                            errors,
                            key,
                            format!("{label}第 {} 个文件的信息不完整", i + 1),
                        ),
                    }
                }
            }
        },
        FieldType::Table {
            columns,
            min_rows,
            max_rows,
        } => match v.as_array() {
            None => push(errors, key, format!("{label}格式错误")),
            Some(rows) => {
                if rows.len() > *max_rows {
                    push(errors, key, format!("{label}最多 {max_rows} 行"));
                }
                if mode == Mode::Submit && rows.len() < *min_rows {
                    push(errors, key, format!("{label}至少需要 {min_rows} 行"));
                }
                for (i, row) in rows.iter().enumerate() {
                    let Some(obj) = row.as_object() else {
                        push(errors, key, format!("{label}第 {} 行格式错误", i + 1));
                        continue;
                    };
                    let row_values: FormValues =
                        obj.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    for k in obj.keys() {
                        if !columns.iter().any(|c| &c.key == k) {
                            push(
                                errors,
                                &format!("{key}[{i}].{k}"),
                                format!("{label}第 {} 行没有“{k}”这一列", i + 1),
                            );
                        }
                    }
                    for c in columns {
                        let cell_key = format!("{key}[{i}].{}", c.key);
                        match row_values.get(&c.key).filter(|v| !is_empty(v)) {
                            None if mode == Mode::Submit && c.required => push(
                                errors,
                                &cell_key,
                                format!("{label}第 {} 行请填写{}", i + 1, c.label),
                            ),
                            None => {}
                            Some(cv) => {
                                validate_value(c, &cell_key, cv, &row_values, mode, ctx, errors)
                            }
                        }
                    }
                }
            }
        },
    }
}

fn sex_from_code(code: &str) -> Option<Sex> {
    // GB/T 2261.1: 1 男, 2 女.
    match code {
        "1" => Some(Sex::Male),
        "2" => Some(Sex::Female),
        _ => None,
    }
}

fn is_sm3_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt).ok()
}

/// What a phone field holds when there is no number.
pub const NO_PHONE: &str = "无";

/// Parses an RFC 3339 date-time with offset.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
}

/// Checks a mainland phone number: an 11-digit mobile starting with 1[3-9],
/// or a fixed line with area code (`0855-1234567`, `08551234567`), or a
/// short service number (110, 12345 …). Spaces and dashes are allowed.
/// `无` says there is none (a caller who came in person, say).
pub fn check_phone(s: &str) -> Result<(), &'static str> {
    if s.trim() == NO_PHONE {
        return Ok(());
    }
    let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.is_empty() {
        return Err("不能为空");
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("只能包含数字、空格和短横线");
    }
    let b = digits.as_bytes();
    let ok = match b.first() {
        Some(b'1') if b.len() == 11 => matches!(b.get(1), Some(b'3'..=b'9')),
        Some(b'1') => (3..=5).contains(&b.len()),
        Some(b'0') => (10..=12).contains(&b.len()) && b.get(1) != Some(&b'0'),
        Some(_) => (7..=8).contains(&b.len()),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err("格式不正确：手机号应为 11 位，固定电话应带区号，如 0855-3331234")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    fn ctx(reg: &Registry) -> Context<'_> {
        Context {
            today: time::macros::date!(2026 - 11 - 27),
            dictionaries: &reg.dicts,
            org: Some(&reg.org),
        }
    }

    fn errors(t: &Template, v: serde_json::Value, mode: Mode, step: &str) -> Vec<FieldError> {
        let reg = Registry::builtin_demo().unwrap();
        let values: FormValues = serde_json::from_value(v).unwrap();
        t.validate(&values, mode, step, &ctx(&reg))
    }

    fn hukou() -> Template {
        Registry::builtin_demo()
            .unwrap()
            .template_latest("hukou_change")
            .unwrap()
            .clone()
    }

    fn incident() -> Template {
        Registry::builtin_demo()
            .unwrap()
            .template_latest("incident")
            .unwrap()
            .clone()
    }

    #[test]
    fn phones() {
        for ok in [
            "13985500123",
            "139 8550 0123",
            "0855-3331234",
            "08553331234",
            "110",
            "12345",
        ] {
            assert!(check_phone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1398550012",
            "23985500123",
            "139855001234",
            "12",
            "phone",
            "0055-3331234",
        ] {
            assert!(check_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn drafts_only_check_what_is_there_and_submits_check_everything() {
        let t = hukou();
        assert!(errors(&t, json!({}), Mode::Draft, DRAFT_STEP).is_empty());
        let e = errors(&t, json!({}), Mode::Submit, DRAFT_STEP);
        assert!(e
            .iter()
            .any(|x| x.field == "applicant_name" && x.message == "请填写申报人姓名"));
        assert!(e.iter().any(|x| x.field == "scans"));
        // Approver steps do not re-require the initiator's fields.
        assert!(errors(&t, json!({}), Mode::Submit, "station_chief").is_empty());
    }

    #[test]
    fn field_level_messages() {
        let t = hukou();
        let e = errors(
            &t,
            json!({
                "applicant_name": "张\n三",
                "applicant_id": "110105194912310021",
                "applicant_phone": "12345678",
                "applicant_relation": "77",
                "subject_birth": "2027-01-01",
                "evidence": [{"name": "证明", "copies": 0, "original": "1", "extra": 1}, "x"],
                "scans": [{"sm3": "abc", "name": "a.jpg", "mime": "image/jpeg", "size": 1}]
            }),
            Mode::Submit,
            DRAFT_STEP,
        );
        let of = |k: &str| -> Vec<&str> {
            e.iter()
                .filter(|x| x.field == k)
                .map(|x| x.message.as_str())
                .collect()
        };
        assert!(of("applicant_name")[0].contains("换行"));
        assert!(of("applicant_id")[0].contains("校验位"));
        assert!(of("applicant_phone")[0].contains("格式不正确"));
        assert!(of("applicant_relation")[0].contains("不在"));
        assert!(of("subject_birth")[0].contains("晚于今天"));
        assert!(of("evidence[0].copies")[0].contains("不能小于 1"));
        assert!(of("evidence[0].extra")[0].contains("没有"));
        assert!(of("evidence")[0].contains("第 2 行格式错误"));
        assert!(of("scans")[0].contains("不完整"));
    }

    #[test]
    fn money_and_times_in_the_incident_form() {
        let t = incident();
        let e = errors(
            &t,
            json!({"loss_amount": 12.5, "report_time": "2026-11-27 08:00", "injured": -1}),
            Mode::Draft,
            DRAFT_STEP,
        );
        assert!(e
            .iter()
            .any(|x| x.field == "loss_amount" && x.message.contains("金额")));
        assert!(e
            .iter()
            .any(|x| x.field == "report_time" && x.message.contains("格式")));
        assert!(e
            .iter()
            .any(|x| x.field == "injured" && x.message.contains("不能小于 0")));
        let e = errors(
            &t,
            json!({"loss_amount": "12.345"}),
            Mode::Draft,
            DRAFT_STEP,
        );
        assert_eq!(e.len(), 1);
        assert!(errors(
            &t,
            json!({"loss_amount": "1,234.50"}),
            Mode::Draft,
            DRAFT_STEP
        )
        .is_empty());
        // Feedback requires its own fields only at the feedback step.
        let e = errors(&t, json!({}), Mode::Submit, "feedback");
        let keys: Vec<_> = e.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            keys,
            ["verified_category", "handling", "result", "loss_amount"]
        );
    }

    #[test]
    fn permissions_per_step() {
        let t = incident();
        assert_eq!(t.permission(DRAFT_STEP, "summary"), Permission::Editable);
        assert_eq!(
            t.permission(DRAFT_STEP, "loss_amount"),
            Permission::ReadOnly
        );
        assert_eq!(
            t.permission("feedback", "loss_amount"),
            Permission::Editable
        );
        assert_eq!(
            t.permission("unknown_step", "summary"),
            Permission::ReadOnly
        );
        let changes: FormValues = [("summary".to_string(), json!("x"))].into();
        assert_eq!(t.check_edit("feedback", &changes).len(), 1);
        let mut t2 = t.clone();
        t2.permissions.insert(
            "viewer".into(),
            StepPermissions {
                default: Permission::ReadOnly,
                fields: [("caller_id".to_string(), Permission::Hidden)].into(),
            },
        );
        let v: FormValues = [
            ("caller_id".to_string(), json!("522634198503120116")),
            ("summary".to_string(), json!("x")),
        ]
        .into();
        assert_eq!(t2.visible("viewer", &v).len(), 1);
    }

    #[test]
    fn template_check_catches_bad_definitions() {
        let reg = Registry::builtin_demo().unwrap();
        let mut t = hukou();
        t.fields.push(t.fields[0].clone());
        assert!(t.check(&reg.dicts).unwrap_err().contains("重复"));
        let mut t = hukou();
        t.fields[2].ty = FieldType::Dict {
            dict: "nope".into(),
        };
        assert!(t.check(&reg.dicts).unwrap_err().contains("nope"));
        let mut t = hukou();
        t.permissions
            .get_mut(DRAFT_STEP)
            .unwrap()
            .fields
            .insert("ghost".into(), Permission::Hidden);
        assert!(t.check(&reg.dicts).unwrap_err().contains("ghost"));
    }
}
