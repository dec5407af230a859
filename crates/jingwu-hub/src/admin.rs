//! The system administrator's work: accounts, devices, importing people
//! from xlsx into a new published registry version, the registry's
//! versions. One gate: every action goes through an [`Admin`], which only
//! an administrator's session ([`Admin::of`], the browser console) or an
//! enabled administrator account named on the hub's own command line
//! ([`Admin::by_account`], `jingwu-hub admin …`) can make.

use std::collections::{BTreeMap, BTreeSet};

use jingwu_core::org::{InCharge, Org, OrgData, Person, PostHolding};
use jingwu_core::published::RegistryDoc;
use jingwu_core::registry::Registry;
use serde::Serialize;

use crate::db::{EnrolmentRow, HubDb, UpdateRow, UserRow};
use crate::error::{ApiError, ErrorCode};
use crate::hub::{check_password_strength, hash_password, Caller, Hub};
use crate::updates::UpdateUpload;

/// The most rows an import file may have.
pub const MAX_IMPORT_ROWS: usize = 5000;

/// The columns of a people import (the first row of the sheet).
pub const COL_ID: &str = "警号";
pub const COL_NAME: &str = "姓名";
pub const COL_UNIT: &str = "单位代码";
pub const COL_POST: &str = "职务";
/// Optional: the units the person is 分管 of, separated by `;` or `；`.
pub const COL_IN_CHARGE: &str = "分管单位代码";

/// An administrator, checked: the only way to the actions below.
pub struct Admin<'a> {
    db: &'a dyn HubDb,
    /// The hub process, when the action comes through it: it then also
    /// closes live streams of ended sessions, forgets revoked keys and
    /// takes a newly published registry at once.
    hub: Option<&'a Hub>,
    pub account: String,
}

/// An account as the console lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub person: String,
    /// The name in the current org (none for an IT administrator).
    pub name: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: String,
}

/// A published registry version as the console lists it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: u32,
    pub published_at: String,
    pub publisher: String,
    pub fingerprint: String,
    pub digest: String,
    pub note: String,
    pub people: usize,
}

/// One problem in an import file. `row` is the sheet's row number (the
/// header is row 1); 0 for a problem of the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub value: String,
    pub message: String,
}

/// What a people import found and did. Nothing is imported unless
/// `errors` is empty.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeopleImport {
    /// Data rows read (blank rows skipped).
    pub rows: usize,
    /// People in the file.
    pub people: usize,
    /// 警号 new to the org.
    pub added: Vec<String>,
    /// 警号 already in the org (their posts replaced by the file's).
    pub updated: Vec<String>,
    pub errors: Vec<RowError>,
    /// Accounts made for people in the file who had none.
    pub accounts_created: Vec<String>,
    /// The registry version published, when imported.
    pub version: Option<u32>,
    pub dry_run: bool,
}

fn not_admin() -> ApiError {
    ApiError::new(
        ErrorCode::NotAdmin,
        "只有系统管理员可以进行此操作，请用系统管理员账号登录",
    )
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

impl<'a> Admin<'a> {
    /// The gate for a session: its account must be an administrator's.
    pub fn of(hub: &'a Hub, caller: &Caller) -> Result<Admin<'a>, ApiError> {
        if !caller.is_admin {
            return Err(not_admin());
        }
        Ok(Admin {
            db: hub.db.as_ref(),
            hub: Some(hub),
            account: caller.person.clone(),
        })
    }

    /// The gate for the hub's command line: `account` must be an enabled
    /// administrator account.
    pub fn by_account(db: &'a dyn HubDb, account: &str) -> Result<Admin<'a>, ApiError> {
        match db.user(account)? {
            Some(u) if u.is_admin && !u.disabled => Ok(Admin {
                db,
                hub: None,
                account: account.to_string(),
            }),
            Some(_) => Err(ApiError::new(
                ErrorCode::NotAdmin,
                format!("账号 {account} 不是有效的系统管理员：请用 --as 指定系统管理员账号"),
            )),
            None => Err(ApiError::not_found(format!(
                "没有账号 {account}：请用 --as 指定系统管理员账号"
            ))),
        }
    }

    fn reg(&self) -> Result<std::sync::Arc<Registry>, ApiError> {
        match self.hub {
            Some(h) => Ok(h.reg()),
            None => crate::server::registry(self.db)
                .map(std::sync::Arc::new)
                .map_err(internal),
        }
    }

    fn org(&self) -> Result<std::sync::Arc<Org>, ApiError> {
        Ok(self.reg()?.org.clone())
    }

    fn user(&self, person: &str) -> Result<UserRow, ApiError> {
        self.db
            .user(person)?
            .ok_or_else(|| ApiError::not_found(format!("没有账号 {person}")))
    }

    // ----- updates of the desktop app ---------------------------------

    /// Uploads an update (see `crate::updates`): checked, and refused
    /// unless its version is above every one its platform has.
    pub fn upload_update(&self, u: &UpdateUpload) -> Result<UpdateRow, ApiError> {
        let row = crate::updates::check_upload(u, &self.account, &crate::now_rfc3339())?;
        crate::updates::store_upload(self.db, &row, &u.package)?;
        Ok(row)
    }

    /// Every uploaded update, oldest first.
    pub fn updates(&self) -> Result<Vec<UpdateRow>, ApiError> {
        Ok(self.db.updates(None)?)
    }

    // ----- accounts ---------------------------------------------------

    /// Every account, with its name in the current org.
    pub fn users(&self) -> Result<Vec<Account>, ApiError> {
        let org = self.org()?;
        Ok(self
            .db
            .users()?
            .into_iter()
            .map(|u| Account {
                name: org.person(&u.person).map(|p| p.name.clone()),
                person: u.person,
                is_admin: u.is_admin,
                disabled: u.disabled,
                created_at: u.created_at,
            })
            .collect())
    }

    /// Creates an account.
    pub fn create_user(
        &self,
        person: &str,
        password: &str,
        is_admin: bool,
    ) -> Result<(), ApiError> {
        create_account(self.db, person, password, is_admin)
    }

    /// Disables (and ends every session of) or enables an account.
    /// Returns the sessions ended.
    pub fn set_disabled(&self, person: &str, disabled: bool) -> Result<u64, ApiError> {
        if disabled && person == self.account {
            return Err(ApiError::new(
                ErrorCode::BadPerson,
                "不能停用自己正在使用的账号：请由另一位系统管理员操作",
            ));
        }
        self.user(person)?;
        self.db.set_user_disabled(person, disabled)?;
        if disabled {
            self.end_sessions(person)
        } else {
            Ok(0)
        }
    }

    /// Sets a new password and ends the account's sessions (whoever knew
    /// the old one is signed out). Returns the sessions ended.
    pub fn reset_password(&self, person: &str, password: &str) -> Result<u64, ApiError> {
        self.user(person)?;
        check_password_strength(password)?;
        self.db
            .set_password_hash(person, &hash_password(password)?)?;
        self.end_sessions(person)
    }

    /// Ends every session of an account; returns how many.
    pub fn end_sessions(&self, person: &str) -> Result<u64, ApiError> {
        match self.hub {
            Some(h) => h.revoke_sessions_of(person),
            None => Ok(self.db.revoke_sessions_of(person)?),
        }
    }

    // ----- devices ----------------------------------------------------

    /// Enrolments (newest first), all or of one status.
    pub fn devices(&self, status: Option<&str>) -> Result<Vec<EnrolmentRow>, ApiError> {
        if let Some(s) = status {
            if !["pending", "approved", "rejected", "revoked"].contains(&s) {
                return Err(ApiError::new(
                    ErrorCode::BadArguments,
                    "状态应为 pending、approved、rejected 或 revoked",
                ));
            }
        }
        Ok(self.db.enrolments(status)?)
    }

    /// Approves or rejects a pending enrolment, or revokes an approved
    /// one (its key stays on record: events it signed still verify; it
    /// signs nothing new).
    pub fn decide_device(&self, id: &str, decision: &str) -> Result<EnrolmentRow, ApiError> {
        let e = self
            .db
            .enrolment(id)?
            .ok_or_else(|| ApiError::not_found("没有该设备登记"))?;
        let (from, to) = match decision {
            "approve" => ("pending", "approved"),
            "reject" => ("pending", "rejected"),
            "revoke" => ("approved", "revoked"),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::BadDecision,
                    "操作应为 approve（批准）、reject（拒绝）或 revoke（吊销）",
                ))
            }
        };
        if !self
            .db
            .decide_enrolment(id, from, to, &self.account, &crate::now_rfc3339())?
        {
            return Err(ApiError::new(
                ErrorCode::EnrolmentState,
                format!("该登记当前状态为 {}，不能执行此操作", e.status),
            ));
        }
        if to == "revoked" {
            if let Some(h) = self.hub {
                h.forget_key(&e.person, &e.fingerprint);
            }
        }
        self.db
            .enrolment(id)?
            .ok_or_else(|| ApiError::not_found("没有该设备登记"))
    }

    // ----- the registry -----------------------------------------------

    /// Every published version, newest first.
    pub fn registry_versions(&self) -> Result<Vec<VersionInfo>, ApiError> {
        let chain = crate::publish::chain(self.db).map_err(internal)?;
        let mut out = Vec::with_capacity(chain.len());
        for s in chain.iter().rev() {
            let doc: RegistryDoc = serde_json::from_str(&s.doc).map_err(internal)?;
            out.push(VersionInfo {
                version: s.version,
                published_at: doc.published_at,
                publisher: doc.publisher,
                fingerprint: s.signer_fingerprint().map_err(internal)?,
                digest: s.digest(),
                note: doc.note,
                people: doc.org.people.len(),
            });
        }
        Ok(out)
    }

    /// Publishes the next registry version with one document replaced or
    /// added, given as JSON text: `org` (the whole org, the format of
    /// `init --org`), `dictionaries` (every code table; codes are only
    /// added), `templates` or `workflows` (new versions, an array). Signed
    /// by this administrator's registry key (unsealed with `pin`) and
    /// checked as a station checks it. Returns the new version.
    pub fn publish(
        &self,
        kind: &str,
        json: &str,
        note: &str,
        pin: &str,
    ) -> Result<VersionInfo, ApiError> {
        fn parse<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T, ApiError> {
            serde_json::from_str(json).map_err(|e| {
                ApiError::new(
                    ErrorCode::BadArguments,
                    format!("{what}文件格式有误：{e}；请选择 JSON 文件"),
                )
            })
        }
        let mut changes = crate::publish::Changes {
            note: note.trim().to_string(),
            ..Default::default()
        };
        let taken = |what: &str, id: &str, version: u32| {
            ApiError::new(
                ErrorCode::BadArguments,
                format!("{what} {id} 第 {version} 版已发布，不能更改：新版本请用更大的版本号"),
            )
        };
        match kind {
            "org" => changes.org = Some(parse(json, "组织机构")?),
            "dictionaries" => changes.dictionaries = Some(parse(json, "代码表")?),
            "templates" => changes.templates = parse(json, "表单模板")?,
            "workflows" => changes.workflows = parse(json, "审批流程")?,
            _ => {
                return Err(ApiError::new(
                    ErrorCode::BadArguments,
                    "发布内容应为 org（组织机构）、dictionaries（代码表）、templates（表单模板）或 workflows（审批流程）",
                ))
            }
        }
        let reg = self.reg()?;
        if let Some(t) = changes
            .templates
            .iter()
            .find(|t| reg.template(&t.reference()).is_some())
        {
            return Err(taken("表单模板", &t.id, t.version));
        }
        if let Some(w) = changes
            .workflows
            .iter()
            .find(|w| reg.workflow(&w.reference()).is_some())
        {
            return Err(taken("审批流程", &w.id, w.version));
        }
        let signed =
            crate::publish::publish(self.db, &self.account, pin, changes, &crate::now_rfc3339())
                .map_err(|e| ApiError::new(ErrorCode::Invalid, format!("未发布：{e}")))?;
        if let Some(h) = self.hub {
            h.refresh_registry()?;
        }
        self.registry_versions()?
            .into_iter()
            .find(|v| v.version == signed.version)
            .ok_or_else(|| ApiError::internal("刚发布的规则数据版本未找到"))
    }

    /// Imports people from an xlsx sheet (see [`plan_people`]): when every
    /// row is right, publishes the next registry version with them,
    /// signed by this administrator's registry key (unsealed with `pin`),
    /// and makes an account with `initial_password` for each person in
    /// the file who has none. With `dry_run`, or any row error, nothing
    /// changes.
    pub fn import_people(
        &self,
        xlsx: &[u8],
        pin: &str,
        initial_password: &str,
        dry_run: bool,
    ) -> Result<PeopleImport, ApiError> {
        let rows = crate::stats::read_xlsx(xlsx).map_err(|m| {
            ApiError::new(
                ErrorCode::BadArguments,
                format!("{m}：请上传 Excel（.xlsx）文件"),
            )
        })?;
        let org = self.org()?;
        let mut report = match plan_people(org.data(), &rows) {
            (report, Some(data)) => {
                if dry_run {
                    PeopleImport {
                        dry_run: true,
                        ..report
                    }
                } else {
                    self.publish_people(data, report, pin, initial_password)?
                }
            }
            (report, None) => report,
        };
        report.dry_run = dry_run;
        Ok(report)
    }

    fn publish_people(
        &self,
        data: OrgData,
        mut report: PeopleImport,
        pin: &str,
        initial_password: &str,
    ) -> Result<PeopleImport, ApiError> {
        let mut need_account = Vec::new();
        for p in report.added.iter().chain(report.updated.iter()) {
            if self.db.user(p)?.is_none() {
                need_account.push(p.clone());
            }
        }
        if !need_account.is_empty() {
            check_password_strength(initial_password).map_err(|e| {
                ApiError::new(
                    e.code().clone(),
                    format!("初始密码不符合要求：{}", e.body.error),
                )
            })?;
        }
        let note = format!(
            "导入人员 {} 人（新增 {}，更新 {}）",
            report.people,
            report.added.len(),
            report.updated.len()
        );
        let changes = crate::publish::Changes {
            org: Some(data),
            note,
            ..Default::default()
        };
        let signed =
            crate::publish::publish(self.db, &self.account, pin, changes, &crate::now_rfc3339())
                .map_err(|e| ApiError::new(ErrorCode::Invalid, format!("未导入：{e}")))?;
        report.version = Some(signed.version);
        if let Some(h) = self.hub {
            h.refresh_registry()?;
        }
        for p in need_account {
            match create_account(self.db, &p, initial_password, false) {
                Ok(()) => report.accounts_created.push(p),
                Err(e) if *e.code() == ErrorCode::UserExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

/// Creates an account (the one path: the console, the CLI, the API).
pub fn create_account(
    db: &dyn HubDb,
    person: &str,
    password: &str,
    is_admin: bool,
) -> Result<(), ApiError> {
    let person = person.trim();
    if person.is_empty()
        || person.len() > 64
        || person.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::new(
            ErrorCode::BadPerson,
            "账号须为 1–64 个非空白字符",
        ));
    }
    check_password_strength(password)?;
    let row = UserRow {
        person: person.to_string(),
        password_hash: hash_password(password)?,
        is_admin,
        disabled: false,
        created_at: crate::now_rfc3339(),
    };
    if !db.insert_user(&row)? {
        return Err(ApiError::new(
            ErrorCode::UserExists,
            format!("账号 {person} 已存在"),
        ));
    }
    Ok(())
}

fn valid_id(id: &str) -> bool {
    (6..=8).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// Checks the rows of a people sheet (first row: the headers 警号, 姓名,
/// 单位代码, 职务 and optionally 分管单位代码; then one row per post held)
/// against `org`, and gives `org` with the file's people added or their
/// posts (and, with the 分管 column, their 分管) replaced; or, with every
/// row error found in the report, none.
pub fn plan_people(org: &OrgData, rows: &[Vec<String>]) -> (PeopleImport, Option<OrgData>) {
    let mut report = PeopleImport::default();
    let err = |row: usize, column: &str, value: &str, message: String| RowError {
        row,
        column: column.to_string(),
        value: value.to_string(),
        message,
    };
    let header: Vec<String> = rows
        .first()
        .map(|r| r.iter().map(|c| c.trim().to_string()).collect())
        .unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut cols = Vec::new();
    for name in [COL_ID, COL_NAME, COL_UNIT, COL_POST] {
        match col(name) {
            Some(i) => cols.push(i),
            None => report.errors.push(err(
                1,
                name,
                "",
                format!(
                    "缺少“{name}”列：第一行应为表头 警号、姓名、单位代码、职务（可加 分管单位代码）"
                ),
            )),
        }
    }
    if !report.errors.is_empty() {
        return (report, None);
    }
    let (c_id, c_name, c_unit, c_post) = (cols[0], cols[1], cols[2], cols[3]);
    let c_charge = col(COL_IN_CHARGE);
    if rows.len() > MAX_IMPORT_ROWS + 1 {
        report.errors.push(err(
            0,
            "",
            "",
            format!("文件超过 {MAX_IMPORT_ROWS} 行：请分成几个文件导入"),
        ));
        return (report, None);
    }
    let units: BTreeSet<&str> = org.units.iter().map(|u| u.code.as_str()).collect();
    let posts: BTreeSet<&str> = org.posts.iter().map(String::as_str).collect();
    let known: BTreeMap<&str, &Person> = org.people.iter().map(|p| (p.id.as_str(), p)).collect();
    // 警号 → (姓名, first row, holdings, 分管), in the file's order.
    struct Seen {
        name: String,
        row: usize,
        posts: Vec<(PostHolding, usize)>,
        in_charge: BTreeSet<String>,
    }
    let mut order: Vec<String> = Vec::new();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        let row = i + 1;
        let cell = |c: usize| r.get(c).map(|s| s.trim()).unwrap_or_default();
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        report.rows += 1;
        let before = report.errors.len();
        let (id, name, unit, post) = (cell(c_id), cell(c_name), cell(c_unit), cell(c_post));
        if !valid_id(id) {
            report.errors.push(err(
                row,
                COL_ID,
                id,
                if id.is_empty() {
                    "警号不能为空".into()
                } else {
                    "警号应为 6 至 8 位数字".into()
                },
            ));
        }
        if name.is_empty() || name.chars().count() > 20 || name.chars().any(char::is_whitespace) {
            report.errors.push(err(
                row,
                COL_NAME,
                name,
                "姓名应为 1 至 20 个字，不含空格".into(),
            ));
        }
        if !units.contains(unit) {
            report.errors.push(err(
                row,
                COL_UNIT,
                unit,
                "单位代码不在组织机构中：请填写组织机构中已有单位的 12 位代码".into(),
            ));
        }
        if !posts.contains(post) {
            report.errors.push(err(
                row,
                COL_POST,
                post,
                format!("职务不在职务表中：应为 {} 之一", org.posts.join("、")),
            ));
        }
        let mut charge = BTreeSet::new();
        if let Some(c) = c_charge {
            for code in cell(c).split([';', '；']).map(str::trim) {
                if code.is_empty() {
                    continue;
                }
                if units.contains(code) {
                    charge.insert(code.to_string());
                } else {
                    report.errors.push(err(
                        row,
                        COL_IN_CHARGE,
                        code,
                        "分管单位代码不在组织机构中：多个单位用分号隔开".into(),
                    ));
                }
            }
        }
        if valid_id(id) && !name.is_empty() {
            if let Some(p) = known.get(id) {
                if p.name != name {
                    report.errors.push(err(
                        row,
                        COL_NAME,
                        name,
                        format!(
                            "警号 {id} 在组织机构中是 {}，与本行姓名不同：请核对警号",
                            p.name
                        ),
                    ));
                }
            }
            if let Some(s) = seen.get(id) {
                if s.name != name {
                    report.errors.push(err(
                        row,
                        COL_NAME,
                        name,
                        format!(
                            "警号 {id} 在第 {} 行的姓名是 {}，与本行不同：同一警号只能对应一人",
                            s.row, s.name
                        ),
                    ));
                }
                if let Some((_, r0)) = s
                    .posts
                    .iter()
                    .find(|(h, _)| h.unit == unit && h.post == post)
                {
                    report.errors.push(err(
                        row,
                        COL_POST,
                        post,
                        format!("与第 {r0} 行重复（同一人、同一单位、同一职务）：请删去一行"),
                    ));
                }
            }
        }
        if report.errors.len() > before {
            continue;
        }
        let s = seen.entry(id.to_string()).or_insert_with(|| {
            order.push(id.to_string());
            Seen {
                name: name.to_string(),
                row,
                posts: Vec::new(),
                in_charge: BTreeSet::new(),
            }
        });
        s.posts.push((
            PostHolding {
                unit: unit.to_string(),
                post: post.to_string(),
            },
            row,
        ));
        s.in_charge.extend(charge);
    }
    if report.rows == 0 && report.errors.is_empty() {
        report.errors.push(err(
            0,
            "",
            "",
            "文件中没有人员：表头下每行填一个任职".into(),
        ));
    }
    if !report.errors.is_empty() {
        return (report, None);
    }
    let mut data = org.clone();
    for id in &order {
        let Some(s) = seen.remove(id) else { continue };
        let posts: Vec<PostHolding> = s.posts.into_iter().map(|(h, _)| h).collect();
        match data.people.iter_mut().find(|p| &p.id == id) {
            Some(p) => {
                p.posts = posts;
                report.updated.push(id.clone());
            }
            None => {
                data.people.push(Person {
                    id: id.clone(),
                    name: s.name,
                    posts,
                });
                report.added.push(id.clone());
            }
        }
        if c_charge.is_some() {
            data.in_charge.retain(|c| &c.person != id);
            data.in_charge
                .extend(s.in_charge.into_iter().map(|unit| InCharge {
                    person: id.clone(),
                    unit,
                }));
        }
    }
    report.people = order.len();
    data.version = data.version.saturating_add(1);
    if let Err(e) = Org::new(data.clone()) {
        report
            .errors
            .push(err(0, "", "", format!("导入后的组织机构有误：{e}")));
        return (report, None);
    }
    (report, Some(data))
}
