//! The UI served to browsers: the files of `ui/` embedded at compile time
//! (at `/`, with a strict Content-Security-Policy), and `POST
//! /api/ui/<command>`: the desktop's commands (same names, arguments and
//! result shapes as `src-tauri/src/app/`) answered from the hub's data,
//! for county approvers who sign in with a password in a browser and sign
//! with a hosted key ([`crate::hosted`]).
//!
//! Sessions are the hub's own (Argon2id accounts, idle and absolute
//! timeouts) carried in an HttpOnly, SameSite=Strict cookie (Secure over
//! TLS); every call must also carry `X-Jingwu-UI: 1`, which a cross-site
//! form cannot send. A case outside the caller's scope is "not found".

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use jingwu_core::case::{CaseState, Status};
use jingwu_core::crypto::PublicKey;
use jingwu_core::event::Decision;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};
use crate::http::AppState;
use crate::hub::{Caller, Hub};

include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));

/// The session cookie of the browser UI.
pub const COOKIE: &str = "jingwu_ui";
/// The header every UI call must carry (against cross-site requests).
pub const UI_HEADER: &str = "x-jingwu-ui";
/// Set to 1 by the UI on calls made while no one has used the page for a
/// minute: they do not count as activity for the idle timeout.
pub const IDLE_HEADER: &str = "x-jingwu-idle";

/// Scripts, styles, pictures and calls from the hub itself only; no
/// inline script or style, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Commands of the desktop that a browser cannot run.
/// The UI's command table (`ui/commands.json`, embedded with the UI):
/// (the desktop's commands, the browser's).
fn command_table() -> &'static (Vec<String>, Vec<String>) {
    static TABLE: std::sync::OnceLock<(Vec<String>, Vec<String>)> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let table: Value = UI_FILES
            .iter()
            .find(|(p, _)| *p == "commands.json")
            .and_then(|(_, b)| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let list = |k: &str| -> Vec<String> {
            table[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        (list("desktop"), list("browser"))
    })
}

/// How the browser API treats `command`: answered, desktop only, or
/// unknown.
fn command_kind(command: &str) -> CommandKind {
    let (desktop, browser) = command_table();
    if browser.iter().any(|c| c == command) {
        CommandKind::Browser
    } else if desktop.iter().any(|c| c == command) {
        CommandKind::DesktopOnly
    } else {
        CommandKind::Unknown
    }
}

#[derive(Debug, PartialEq, Eq)]
enum CommandKind {
    Browser,
    DesktopOnly,
    Unknown,
}

/// The largest body of a UI command: 64 KB, except an import's, which
/// carries its file as base64.
fn body_limit(command: &str) -> usize {
    if ["incident_import", "admin_import_people", "admin_publish"].contains(&command) {
        IMPORT_BODY
    } else {
        64 * 1024
    }
}

/// An import's body: the largest file as base64, and its other arguments.
const IMPORT_BODY: usize = crate::stats::MAX_IMPORT_BYTES / 3 * 4 + 64 * 1024;

#[derive(Clone)]
struct UiState {
    hub: AppState,
    secure: bool,
}

/// The browser UI's routes. `secure`: the hub is served over TLS (the
/// cookie is then marked Secure).
/// The commands that carry a file (as base64): each on a route of its own
/// for a larger body limit.
const FILE_COMMANDS: [&str; 3] = ["incident_import", "admin_import_people", "admin_publish"];

pub fn routes(hub: AppState, secure: bool) -> Router {
    let mut r = Router::new()
        .route("/", get(index))
        .route("/{file}", get(file))
        .route("/vendor/{file}", get(vendor_file))
        .route("/api/ui/{command}", post(command));
    for name in FILE_COMMANDS {
        r = r.route(
            &format!("/api/ui/{name}"),
            post(
                move |State(st): State<UiState>,
                      crate::http::Peer(source): crate::http::Peer,
                      headers: HeaderMap,
                      body: Bytes| async move {
                    match run(st, name.into(), source, headers, body).await {
                        Ok(r) => r,
                        Err(e) => e.into_response(),
                    }
                },
            )
            .layer(axum::extract::DefaultBodyLimit::max(IMPORT_BODY)),
        );
    }
    r.with_state(UiState { hub, secure })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn static_file(path: &str) -> Response {
    match UI_FILES.iter().find(|(p, _)| *p == path) {
        Some((p, data)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type(p)),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *data,
        )
            .into_response(),
        None => ApiError::not_found("没有这个页面").into_response(),
    }
}

async fn index() -> Response {
    static_file("index.html")
}

async fn file(Path(file): Path<String>) -> Response {
    static_file(&file)
}

/// A library shipped with the UI (`ui/vendor/`).
async fn vendor_file(Path(file): Path<String>) -> Response {
    static_file(&format!("vendor/{file}"))
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|t| !t.is_empty() && t.len() < 200)
}

fn set_cookie(secure: bool, token: &str, max_age: i64) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/api/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("jingwu_ui=; Path=/api/ui; Max-Age=0"))
}

#[derive(Deserialize)]
struct LoginArgs {
    person: String,
    password: String,
}

#[derive(Deserialize)]
struct CaseArgs {
    #[serde(rename = "caseId", alias = "case_id")]
    case_id: String,
}

#[derive(Deserialize)]
struct AttachmentArgs {
    sm3: String,
}

#[derive(Deserialize)]
struct PinArgs {
    pin: String,
}

#[derive(Deserialize)]
struct OpinionArgs {
    decision: String,
    opinion: String,
}

fn parse_decision(text: &str) -> Result<Decision, ApiError> {
    text.parse()
        .map_err(|e: jingwu_core::event::UnknownDecision| {
            ApiError::new(ErrorCode::BadDecision, e.to_string())
        })
}

#[derive(Deserialize)]
struct DecideArgs {
    #[serde(rename = "caseId", alias = "case_id")]
    case_id: String,
    decision: String,
    opinion: String,
    pin: String,
}

fn args<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    serde_json::from_value(body.clone())
        .map_err(|e| ApiError::new(ErrorCode::BadArguments, format!("参数不符合要求：{e}")))
}

fn parse_case(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.trim()).map_err(|_| ApiError::new(ErrorCode::BadId, "案件编号格式错误"))
}

/// One UI command: `POST /api/ui/<command>` with the command's arguments
/// as a JSON object; answers the command's JSON result, or an error body
/// (`{code, error}`, `error` in Chinese).
#[utoipa::path(post, path = "/api/ui/{command}",
    params(("command" = String, Path, description = "login, logout, status, enrol_hosted_key, lists, template, case_detail, attachment_data, check_opinion, decide; \
110 接处警: incident_template, incident_lists (UiIncidentListsArgs), incident_detail (UiCaseArgs), incident_repeats (UiIncidentFormArgs → [UiRepeatCall]), \
incident_validate (UiIncidentValidateArgs → [UiFieldError], empty when fine), money_total (UiMoneyTotalArgs → UiMoneyTotal), \
incident_create (UiIncidentCreateArgs → UiIncidentCreated), incident_update (UiIncidentUpdateArgs → UiIncidentDone), \
incident_dispatch (UiIncidentDispatchArgs → UiIncidentDone; every dispatch of the call in one push: all or none), \
incident_step (UiIncidentStepArgs → UiIncidentDone). The 110 commands that sign use the caller's hosted key and its PIN. \
110 查询统计 (the caller's scope; see /api/incidents/*): stats_access, incident_query {filter, sort, desc, page, perPage}, \
incident_export {…, format: csv|xlsx} → {name, mime, dataB64}, incident_stats {filter, by}, incident_stats_export {filter, by, format}, \
incident_speed {filter, kind}, incident_report {period}, incident_report_file {period, format: pdf|xlsx} → {name, mime, dataB64}, \
saved_queries, save_query {name, filter}, delete_query {name}, incident_import {name, dataB64, dryRun, onlyValid, pin} (desk members; \
the only command whose body may exceed 64 KB)."),
        ("X-Jingwu-UI" = String, Header, description = "must be 1")),
    request_body(content = Object, description = "the command's arguments (as the desktop's Tauri command; camelCase, snake_case also accepted); the 110 commands' bodies are the Ui* schemas"),
    responses((status = 200, description = "the command's result; login sets the session cookie"),
        (status = 400, description = "an argument missing or of the wrong kind (bad_arguments)", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, description = "not allowed by the rules (not_allowed, with the core's text), out of scope, wrong PIN, desktop only", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "the case moved on meanwhile (stale_head)", body = crate::error::ErrorBody),
        (status = 422, description = "a form with field errors, or a bad amount (invalid)", body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
async fn command(
    State(st): State<UiState>,
    Path(command): Path<String>,
    crate::http::Peer(source): crate::http::Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match run(st, command, source, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(
    st: UiState,
    command: String,
    source: Option<std::net::IpAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if headers.get(UI_HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
        return Err(ApiError::new(
            ErrorCode::MissingUiHeader,
            "请求缺少界面标记（X-Jingwu-UI），已拒绝",
        ));
    }
    if body.len() > body_limit(&command) {
        return Err(if command == "incident_import" {
            ApiError::new(
                ErrorCode::TooLarge,
                format!(
                    "文件超过 {} MB，请分成几个文件，或在县局服务器上用 jingwu-hub import-incidents 导入",
                    crate::stats::MAX_IMPORT_BYTES / 1024 / 1024
                ),
            )
        } else {
            ApiError::new(ErrorCode::Body, "请求内容过大")
        });
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("JSON 格式错误：{e}")))?
    };
    if !body.is_object() {
        return Err(ApiError::new(ErrorCode::BadArguments, "参数应为 JSON 对象"));
    }
    match command_kind(&command) {
        CommandKind::Browser => {}
        CommandKind::DesktopOnly => {
            return Err(ApiError::new(
                ErrorCode::DesktopOnly,
                "该操作只能在派出所工作站（桌面应用）中进行",
            ))
        }
        CommandKind::Unknown => return Err(ApiError::not_found("没有这个操作")),
    }
    let hub = st.hub.clone();
    if command == "login" {
        let a: LoginArgs = args(&body)?;
        let r = crate::http::blocking(move || {
            hub.login_from(a.person.trim(), &a.password, Some("browser"), source)
        })
        .await?;
        let mut resp = Json(json!({
            "person": r.person, "name": r.name, "is_admin": r.is_admin,
            "expires_at": r.expires_at, "idle_timeout_secs": r.idle_timeout_secs,
        }))
        .into_response();
        resp.headers_mut().insert(
            header::SET_COOKIE,
            set_cookie(st.secure, &r.token, st.hub.limits.session_absolute_secs),
        );
        return Ok(resp);
    }
    let token = cookie_token(&headers)
        .ok_or_else(|| ApiError::unauthorized("未登录或登录已失效，请重新登录"))?;
    let h = hub.clone();
    // Background refreshes (no keyboard or mouse input lately) do not
    // keep the session from idling out.
    let active = headers.get(IDLE_HEADER).and_then(|v| v.to_str().ok()) != Some("1");
    let caller = crate::http::blocking(move || h.authenticate_as(&token, active)).await?;
    if command == "logout" {
        crate::http::blocking(move || hub.logout(&caller)).await?;
        let mut resp = Json(json!({"ok": true})).into_response();
        resp.headers_mut()
            .insert(header::SET_COOKIE, set_cookie(st.secure, "", 0));
        return Ok(resp);
    }
    let v = crate::http::blocking(move || answer(&hub, &caller, &command, &body)).await?;
    Ok(Json(v).into_response())
}

const ALL_STATUSES: &[Status] = &[
    Status::Draft,
    Status::InReview,
    Status::Returned,
    Status::Withdrawn,
    Status::Approved,
    Status::Rejected,
    Status::Cancelled,
    Status::Received,
    Status::Dispatched,
    Status::Acknowledged,
    Status::Departed,
    Status::Arrived,
    Status::FeedbackFiled,
    Status::Concluded,
    Status::Archived,
];

/// Every case the caller may see (newest first per status).
fn visible(hub: &Hub, caller: &Caller) -> Result<Vec<CaseState>, ApiError> {
    let mut out = Vec::new();
    for s in ALL_STATUSES {
        let text = crate::db::enum_text(s)?;
        out.extend(hub.db.visible_cases(&caller.person, &text, 2000)?);
    }
    Ok(out)
}

fn answer(hub: &Hub, caller: &Caller, command: &str, body: &Value) -> Result<Value, ApiError> {
    let reg = &hub.reg();
    match command {
        "status" => {
            let key = hub.hosted_key_status(caller)?;
            Ok(json!({
                "web": true,
                "enrolled": true,
                "person": caller.person,
                "name": reg.org.person(&caller.person).map(|p| p.name.clone()),
                "unit": reg.org.units_of(&caller.person).first().map(|u| u.name.clone()),
                "in_org": reg.org.person(&caller.person).is_some(),
                "is_admin": caller.is_admin,
                "can_supervise": jingwu_core::stats::supervision_scope(&reg.org, &caller.person).is_ok(),
                "hub_url": Value::Null,
                "online": true,
                "pending": 0,
                "uploading": Value::Null,
                "last_sync": Value::Null,
                "last_error": Value::Null,
                "hosted_key": key,
            }))
        }
        "enrol_hosted_key" => {
            let a: PinArgs = args(body)?;
            let k = hub.create_hosted_key(caller, &a.pin)?;
            let message = match k.status.as_str() {
                "approved" => "签名密钥已创建并已批准，可以审批",
                _ => "签名密钥已创建，等待县局系统管理员批准",
            };
            Ok(json!({"status": k.status, "fingerprint": k.fingerprint, "message": message}))
        }
        "lists" => {
            let cases = visible(hub, caller)?;
            Ok(jingwu_core::view::lists(
                reg,
                &caller.person,
                &cases,
                time::OffsetDateTime::now_utc(),
            ))
        }
        "template" => jingwu_core::view::hukou_template(reg)
            .ok_or_else(|| ApiError::internal("缺少户口变更登记表模板")),
        "case_detail" => {
            let a: CaseArgs = args(body)?;
            let id = parse_case(&a.case_id)?;
            let s = hub.visible_case(caller, &id)?;
            if s.case_type == jingwu_core::form::CaseType::Incident {
                return incident_detail(hub, caller, &s, time::OffsetDateTime::now_utc());
            }
            case_detail(hub, caller, &s)
        }
        "attachment_data" => {
            let a: AttachmentArgs = args(body)?;
            let (mime, data) = hub.attachment_for(caller, &a.sm3)?;
            Ok(json!({"mime": mime, "dataB64": B64.encode(&data)}))
        }
        "decide" => {
            let a: DecideArgs = args(body)?;
            let id = parse_case(&a.case_id)?;
            let d = parse_decision(&a.decision)?;
            hub.hosted_decide(caller, &id, d, &a.opinion, &a.pin)?;
            Ok(json!({"case_id": id, "queued": false}))
        }
        "check_opinion" => {
            let a: OpinionArgs = args(body)?;
            let d = parse_decision(&a.decision)?;
            let opinion = jingwu_core::case::check_opinion(d, &a.opinion)
                .map_err(|e| ApiError::new(ErrorCode::BadOpinion, e.to_string()))?;
            Ok(json!({ "opinion": opinion }))
        }
        "ui_ready" => Ok(Value::Null),
        // 督办清单: the caller's scope is checked by `Hub::overdue`.
        "overdue" => hub.overdue(caller, time::OffsetDateTime::now_utc()),
        // 110 接处警.
        "incident_template" => incident_command(hub, caller, command, body),
        "incident_lists" => incident_command(hub, caller, command, body),
        "incident_detail" => incident_command(hub, caller, command, body),
        "incident_repeats" => incident_command(hub, caller, command, body),
        "incident_validate" => incident_command(hub, caller, command, body),
        "money_total" => incident_command(hub, caller, command, body),
        "incident_create" => incident_command(hub, caller, command, body),
        "incident_update" => incident_command(hub, caller, command, body),
        "incident_dispatch" => incident_command(hub, caller, command, body),
        "incident_step" => incident_command(hub, caller, command, body),
        // 110 查询统计 (crate::stats; each takes the caller's scope first).
        "stats_access" => stats_command(hub, caller, command, body),
        "incident_query" => stats_command(hub, caller, command, body),
        "incident_export" => stats_command(hub, caller, command, body),
        "incident_stats" => stats_command(hub, caller, command, body),
        "incident_stats_export" => stats_command(hub, caller, command, body),
        "incident_speed" => stats_command(hub, caller, command, body),
        "incident_report" => stats_command(hub, caller, command, body),
        "incident_report_file" => stats_command(hub, caller, command, body),
        "saved_queries" => stats_command(hub, caller, command, body),
        "save_query" => stats_command(hub, caller, command, body),
        "delete_query" => stats_command(hub, caller, command, body),
        "incident_import" => stats_command(hub, caller, command, body),
        // 系统管理 (crate::admin; each passes its one gate first).
        "admin_users" => admin_command(hub, caller, command, body),
        "admin_user_create" => admin_command(hub, caller, command, body),
        "admin_user_disable" => admin_command(hub, caller, command, body),
        "admin_user_enable" => admin_command(hub, caller, command, body),
        "admin_reset_password" => admin_command(hub, caller, command, body),
        "admin_end_sessions" => admin_command(hub, caller, command, body),
        "admin_devices" => admin_command(hub, caller, command, body),
        "admin_device_decide" => admin_command(hub, caller, command, body),
        "admin_registry" => admin_command(hub, caller, command, body),
        "admin_import_people" => admin_command(hub, caller, command, body),
        "admin_publish" => admin_command(hub, caller, command, body),
        _ => Err(ApiError::not_found("没有这个操作")),
    }
}

// ----- 系统管理 ---------------------------------------------------------

fn admin_command(
    hub: &Hub,
    caller: &Caller,
    command: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let admin = crate::admin::Admin::of(hub, caller)?;
    let person = || str_arg(body, "person", "账号（person）");
    match command {
        "admin_users" => to_json(&admin.users()?),
        "admin_user_create" => {
            let p = person()?;
            let password = str_arg(body, "password", "密码（password）")?;
            let is_admin = bool_arg(body, "isAdmin", "系统管理员（isAdmin）")?;
            admin.create_user(&p, &password, is_admin)?;
            Ok(json!({"person": p.trim()}))
        }
        "admin_user_disable" => Ok(json!({"ended": admin.set_disabled(&person()?, true)?})),
        "admin_user_enable" => Ok(json!({"ended": admin.set_disabled(&person()?, false)?})),
        "admin_reset_password" => {
            let p = person()?;
            let password = str_arg(body, "password", "新密码（password）")?;
            Ok(json!({"ended": admin.reset_password(&p, &password)?}))
        }
        "admin_end_sessions" => Ok(json!({"ended": admin.end_sessions(&person()?)?})),
        "admin_devices" => {
            let status = opt_str_arg(body, "status", "状态（status）")?;
            to_json(&admin.devices(status.as_deref())?)
        }
        "admin_device_decide" => {
            let id = str_arg(body, "id", "登记编号（id）")?;
            let decision = str_arg(body, "decision", "操作（decision）")?;
            to_json(&admin.decide_device(&id, &decision)?)
        }
        "admin_registry" => to_json(&admin.registry_versions()?),
        "admin_publish" => {
            let kind = str_arg(body, "kind", "发布内容（kind）")?;
            let text = str_arg(body, "json", "文件内容（json）")?;
            let note = opt_str_arg(body, "note", "说明（note）")?.unwrap_or_default();
            let pin = pin_arg(body)?;
            to_json(&admin.publish(&kind, &text, &note, &pin)?)
        }
        "admin_import_people" => {
            let data = str_arg(body, "dataB64", "文件内容（dataB64）")?;
            let dry_run = bool_arg(body, "dryRun", "只检查（dryRun）")?;
            let (pin, password) = if dry_run {
                (String::new(), String::new())
            } else {
                (
                    pin_arg(body)?,
                    opt_str_arg(body, "password", "初始密码（password）")?.unwrap_or_default(),
                )
            };
            let bytes = crate::stats::decode_upload(&data)?;
            to_json(&admin.import_people(&bytes, &pin, &password, dry_run)?)
        }
        _ => Err(ApiError::not_found("没有这个操作")),
    }
}

// ----- 110 接处警 -------------------------------------------------------

/// The bodies of the 110 commands, for `/api/openapi.json`. The handler
/// reads the arguments one by one (each refusal names the argument in
/// Chinese); these types only describe them.
#[allow(dead_code)]
pub mod doc {
    use serde::Deserialize;
    use utoipa::ToSchema;

    /// `incident_lists`.
    #[derive(Deserialize, ToSchema)]
    pub struct UiIncidentListsArgs {
        /// Search text for 已归档 (编号, 地点, 内容, 报警人, 电话).
        q: Option<String>,
    }

    /// `incident_detail`, `case_detail`.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct UiCaseArgs {
        case_id: String,
    }

    /// `incident_repeats`.
    #[derive(Deserialize, ToSchema)]
    pub struct UiIncidentFormArgs {
        /// The intake form as typed (field key → value).
        #[schema(value_type = Object)]
        form: serde_json::Value,
    }

    /// `incident_validate`.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct UiIncidentValidateArgs {
        /// `intake` (接警单) or `feedback` (反馈单).
        step: String,
        #[schema(value_type = Object)]
        form: serde_json::Value,
        /// For `feedback`: the record.
        case_id: Option<String>,
        /// For `feedback`: the dispatch's unit when the caller belongs
        /// to several dispatched units.
        unit: Option<String>,
    }

    /// A field's problem, in Chinese.
    #[derive(Deserialize, ToSchema)]
    pub struct UiFieldError {
        field: String,
        message: String,
    }

    /// An earlier record a new report may repeat.
    #[derive(Deserialize, ToSchema)]
    pub struct UiRepeatCall {
        case_id: String,
        case_no: String,
        /// 同一电话 or 同一乡镇同类警情.
        reason: String,
        report_time: String,
        summary: String,
    }

    /// `money_total`.
    #[derive(Deserialize, ToSchema)]
    pub struct UiMoneyTotalArgs {
        /// Amounts in yuan, at most two decimals, e.g. `"1234.56"`.
        amounts: Vec<String>,
    }

    /// The total and its 大写.
    #[derive(Deserialize, ToSchema)]
    pub struct UiMoneyTotal {
        total: String,
        upper: String,
    }

    /// `incident_create`.
    #[derive(Deserialize, ToSchema)]
    pub struct UiIncidentCreateArgs {
        #[schema(value_type = Object)]
        form: serde_json::Value,
        /// The registering unit, when the caller belongs to several.
        unit: Option<String>,
        pin: String,
    }

    /// The new record.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct UiIncidentCreated {
        case_id: String,
        /// 接警单编号, issued by the caller's hosted key.
        case_no: String,
        /// Always false in a browser: committed on the hub.
        queued: bool,
    }

    /// `incident_update`.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct UiIncidentUpdateArgs {
        case_id: String,
        #[schema(value_type = Object)]
        changes: serde_json::Value,
        pin: String,
    }

    /// `incident_dispatch`.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct UiIncidentDispatchArgs {
        case_id: String,
        /// Unit codes, one dispatch each (一警多处), at most 20.
        units: Vec<String>,
        /// 派警意见.
        opinion: String,
        pin: String,
    }

    /// `incident_step`.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct UiIncidentStepArgs {
        case_id: String,
        /// `{"step": "ack"|"depart"|"arrive"|"return"|"feedback"|"conclude",
        /// unit?, officers?, vehicles?, at?, reason?, changes?}`.
        #[schema(value_type = Object)]
        step: serde_json::Value,
        pin: String,
    }

    /// A signing command's answer.
    #[derive(Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct UiIncidentDone {
        case_id: String,
        queued: bool,
    }
}
//
// Arguments are read here, each with a Chinese message naming the
// argument when it is missing or of the wrong kind; what they may say is
// the core's to judge.

/// An argument by its camelCase name (the snake_case one also works).
fn arg<'a>(body: &'a Value, camel: &str) -> Option<&'a Value> {
    let snake: String = camel
        .chars()
        .flat_map(|c| {
            if c.is_ascii_uppercase() {
                vec!['_', c.to_ascii_lowercase()]
            } else {
                vec![c]
            }
        })
        .collect();
    body.get(camel)
        .or_else(|| body.get(&snake))
        .filter(|v| !v.is_null())
}

fn bad_arg(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadArguments, msg)
}

fn str_arg(body: &Value, key: &str, label: &str) -> Result<String, ApiError> {
    opt_str_arg(body, key, label)?.ok_or_else(|| bad_arg(format!("缺少{label}")))
}

fn opt_str_arg(body: &Value, key: &str, label: &str) -> Result<Option<String>, ApiError> {
    match arg(body, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_arg(format!("{label}应为文字"))),
    }
}

fn form_arg(
    body: &Value,
    key: &str,
    label: &str,
) -> Result<jingwu_core::form::FormValues, ApiError> {
    match arg(body, key) {
        None => Err(bad_arg(format!("缺少{label}"))),
        Some(Value::Object(m)) => Ok(m.clone().into_iter().collect()),
        Some(_) => Err(bad_arg(format!("{label}应为字段名到取值的对象"))),
    }
}

fn case_arg(body: &Value) -> Result<Uuid, ApiError> {
    parse_case(&str_arg(body, "caseId", "案件编号（caseId）")?)
}

fn pin_arg(body: &Value) -> Result<String, ApiError> {
    let pin = str_arg(body, "pin", "签名 PIN")?;
    if pin.is_empty() {
        return Err(ApiError::new(ErrorCode::WrongPin, "请输入签名 PIN"));
    }
    Ok(pin)
}

/// Most units one 派警 may name.
const MAX_DISPATCH_UNITS: usize = 20;

fn units_arg(body: &Value) -> Result<Vec<String>, ApiError> {
    let Some(Value::Array(a)) = arg(body, "units") else {
        return Err(bad_arg("处警单位（units）应为单位编码的列表"));
    };
    let mut units: Vec<String> = Vec::with_capacity(a.len());
    for v in a {
        let Some(code) = v.as_str().map(str::trim) else {
            return Err(bad_arg("处警单位（units）应为单位编码的列表"));
        };
        if units.iter().any(|u| u == code) {
            return Err(bad_arg(format!("处警单位 {code} 重复，每个单位只派一次")));
        }
        units.push(code.to_string());
    }
    if units.is_empty() {
        return Err(bad_arg("请选择至少一个处警单位"));
    }
    if units.len() > MAX_DISPATCH_UNITS {
        return Err(bad_arg(format!(
            "一次最多向 {MAX_DISPATCH_UNITS} 个单位派警"
        )));
    }
    Ok(units)
}

fn step_arg(body: &Value) -> Result<jingwu_core::case::IncidentStep, ApiError> {
    let Some(v) = arg(body, "step") else {
        return Err(bad_arg("缺少处置步骤（step）"));
    };
    if !v.get("step").is_some_and(Value::is_string) {
        return Err(bad_arg(
            "处置步骤（step）应为对象，其 step 为 ack、depart、arrive、return、feedback 或 conclude",
        ));
    }
    serde_json::from_value(v.clone()).map_err(|e| {
        let e = e.to_string();
        let why = if e.starts_with("unknown variant") {
            "步骤应为 ack、depart、arrive、return、feedback 或 conclude".to_string()
        } else if let Some(f) = e
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            format!("缺少 {f}")
        } else {
            "内容不符合要求".to_string()
        };
        bad_arg(format!("处置步骤（step）{why}"))
    })
}

/// Every 110 record the caller may see.
fn visible_incidents(hub: &Hub, caller: &Caller) -> Result<Vec<CaseState>, ApiError> {
    Ok(visible(hub, caller)?
        .into_iter()
        .filter(|s| s.case_type == jingwu_core::form::CaseType::Incident)
        .collect())
}

/// The caller's unit among the standing dispatches of `s` (or `wanted`).
fn feedback_unit(
    hub: &Hub,
    caller: &Caller,
    s: &CaseState,
    wanted: Option<String>,
) -> Result<String, ApiError> {
    if let Some(u) = wanted {
        return Ok(u);
    }
    s.standing_dispatches()
        .find(|d| hub.reg().org.is_member(&caller.person, &d.unit))
        .map(|d| d.unit.clone())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotAllowed,
                "该警情没有派给您所在单位的派警单，不能填写反馈",
            )
        })
}

fn incident_command(
    hub: &Hub,
    caller: &Caller,
    command: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let reg = &hub.reg();
    let now = time::OffsetDateTime::now_utc();
    let done = |s: &CaseState| json!({"caseId": s.case_id, "queued": false});
    match command {
        "incident_template" => {
            let unit = crate::incidents::incident_unit(&reg.org, &caller.person, None).ok();
            jingwu_core::view::incident_template(reg, unit.as_deref())
                .ok_or_else(|| ApiError::internal("缺少接处警登记表模板"))
        }
        "incident_lists" => {
            let q = opt_str_arg(body, "q", "搜索内容（q）")?.unwrap_or_default();
            let cases = visible_incidents(hub, caller)?;
            Ok(jingwu_core::view::incident_lists(
                reg,
                &caller.person,
                &cases,
                now,
                q.trim(),
            ))
        }
        "incident_detail" => {
            let s = hub.visible_incident(caller, &case_arg(body)?)?;
            incident_detail(hub, caller, &s, now)
        }
        "incident_repeats" => {
            let form = form_arg(body, "form", "接警信息（form）")?;
            let cases = visible_incidents(hub, caller)?;
            Ok(json!(jingwu_core::case::repeat_calls(&form, &cases)))
        }
        "incident_validate" => {
            let step = str_arg(body, "step", "检查的表（step）")?;
            let form = form_arg(body, "form", "表单内容（form）")?;
            let errors = match step.as_str() {
                "intake" => jingwu_core::case::check_intake(reg, &form, now),
                "feedback" => {
                    let s = hub.visible_incident(caller, &case_arg(body)?)?;
                    let unit = feedback_unit(
                        hub,
                        caller,
                        &s,
                        opt_str_arg(body, "unit", "处警单位（unit）")?,
                    )?;
                    s.check_feedback(reg, &unit, &form, now)
                }
                _ => {
                    return Err(bad_arg(
                        "检查的表（step）应为 intake（接警单）或 feedback（反馈单）",
                    ))
                }
            };
            Ok(json!(errors))
        }
        "money_total" => {
            let Some(Value::Array(a)) = arg(body, "amounts") else {
                return Err(bad_arg("金额（amounts）应为文字的列表"));
            };
            let amounts = a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad_arg("金额（amounts）应为文字的列表，如 \"1234.56\""))?;
            jingwu_core::view::money_total(&amounts)
                .map_err(|e| ApiError::new(ErrorCode::Invalid, e))
        }
        "incident_create" => {
            let form = form_arg(body, "form", "接警信息（form）")?;
            let unit = opt_str_arg(body, "unit", "接警单位（unit）")?;
            let pin = pin_arg(body)?;
            let s = hub.hosted_incident_create(caller, form, unit.as_deref(), &pin)?;
            Ok(json!({"caseId": s.case_id, "caseNo": s.case_no, "queued": false}))
        }
        "incident_update" => {
            let id = case_arg(body)?;
            let changes = form_arg(body, "changes", "修改内容（changes）")?;
            let pin = pin_arg(body)?;
            let s = hub.hosted_incident_act(
                caller,
                &id,
                vec![jingwu_core::event::Action::UpdateForm { changes }],
                &pin,
            )?;
            Ok(done(&s))
        }
        "incident_dispatch" => {
            let id = case_arg(body)?;
            let units = units_arg(body)?;
            let opinion = opt_str_arg(body, "opinion", "派警意见（opinion）")?.unwrap_or_default();
            let pin = pin_arg(body)?;
            let actions = units
                .into_iter()
                .map(|unit| jingwu_core::event::Action::Dispatch {
                    at: None,
                    unit,
                    opinion: opinion.clone(),
                })
                .collect();
            let s = hub.hosted_incident_act(caller, &id, actions, &pin)?;
            Ok(done(&s))
        }
        "incident_step" => {
            let id = case_arg(body)?;
            let step = step_arg(body)?;
            let pin = pin_arg(body)?;
            let action = step
                .into_action()
                .map_err(|e| crate::hub::rejection(e, None))?;
            let s = hub.hosted_incident_act(caller, &id, vec![action], &pin)?;
            Ok(done(&s))
        }
        _ => Err(ApiError::not_found("没有这个操作")),
    }
}

// ----- 110 查询统计 -----------------------------------------------------

/// The query's conditions (`filter`, `jingwu_core::stats::Filter`);
/// absent: none.
fn filter_arg(body: &Value) -> Result<jingwu_core::stats::Filter, ApiError> {
    match arg(body, "filter") {
        None => Ok(Default::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            let e = e.to_string();
            let why = match e
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
            {
                Some(f) => format!("没有名为 {f} 的条件"),
                None => "内容不符合要求".into(),
            };
            bad_arg(format!("查询条件（filter）{why}"))
        }),
    }
}

fn bool_arg(body: &Value, key: &str, label: &str) -> Result<bool, ApiError> {
    match arg(body, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad_arg(format!("{label}应为 true 或 false"))),
    }
}

fn u32_arg(body: &Value, key: &str, label: &str) -> Result<u32, ApiError> {
    match arg(body, key) {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad_arg(format!("{label}应为正整数"))),
    }
}

/// A query: conditions, order, page.
fn query_arg(body: &Value) -> Result<jingwu_proto::QueryRequest, ApiError> {
    let sort = match opt_str_arg(body, "sort", "排序（sort）")? {
        None => Default::default(),
        Some(s) => serde_json::from_value(Value::String(s.clone())).map_err(|_| {
            bad_arg(format!(
                "排序（sort）“{s}”无效，应为 report_time、loss、case_no、unit 或 category"
            ))
        })?,
    };
    Ok(jingwu_proto::QueryRequest {
        filter: filter_arg(body)?,
        sort,
        desc: bool_arg(body, "desc", "倒序（desc）")?,
        page: u32_arg(body, "page", "页码（page）")?,
        per_page: u32_arg(body, "perPage", "每页条数（perPage）")?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(e.to_string()))
}

/// A file for the browser to save: `{name, mime, dataB64}`.
fn file_answer(f: crate::stats::FileOut) -> Value {
    json!({"name": f.name, "mime": f.mime, "dataB64": B64.encode(&f.bytes)})
}

/// The query, statistics, 警情通报 and import commands: thin arms over
/// `crate::stats`, each asking the one gate (`Hub::stats_scope`) first.
fn stats_command(
    hub: &Hub,
    caller: &Caller,
    command: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let reg = &hub.reg();
    match command {
        "stats_access" => {
            let a = hub.stats_access(caller);
            let options = a
                .scope
                .as_ref()
                .map(|s| jingwu_report::stats_options(reg, s));
            Ok(json!({
                "allowed": a.allowed,
                "reason": a.reason,
                "scope": a.scope.as_ref().map(|s| s.name().to_string()),
                "can_import": a.can_import,
                "options": options,
            }))
        }
        "incident_query" => {
            let scope = hub.stats_scope(caller)?;
            let page = hub.incident_query(&scope, &query_arg(body)?)?;
            Ok(jingwu_report::query_page_view(reg, &page))
        }
        "incident_export" => {
            let scope = hub.stats_scope(caller)?;
            let format = str_arg(body, "format", "文件格式（format）")?;
            hub.export_file(&scope, &query_arg(body)?, &format, &caller.person)
                .map(file_answer)
        }
        "incident_stats" => {
            let scope = hub.stats_scope(caller)?;
            let by = opt_str_arg(body, "by", "分组维度（by）")?.unwrap_or_default();
            let rows = hub.incident_stats(&scope, &filter_arg(body)?, &by)?;
            Ok(jingwu_report::stats_view(reg, &by, &rows))
        }
        "incident_stats_export" => {
            let scope = hub.stats_scope(caller)?;
            let by = opt_str_arg(body, "by", "分组维度（by）")?.unwrap_or_default();
            let format = str_arg(body, "format", "文件格式（format）")?;
            hub.stats_file(&scope, &filter_arg(body)?, &by, &format)
                .map(file_answer)
        }
        "incident_speed" => {
            let scope = hub.stats_scope(caller)?;
            let kind = str_arg(body, "kind", "速度类型（kind）")?;
            let rows = hub.incident_speed(&scope, &filter_arg(body)?, &kind)?;
            Ok(jingwu_report::speed_view(reg, &kind, &rows))
        }
        "incident_report" => {
            let scope = hub.stats_scope(caller)?;
            let period = str_arg(body, "period", "统计期（period）")?;
            Ok(jingwu_report::report_view(
                &hub.incident_report(&scope, &period)?,
            ))
        }
        "incident_report_file" => {
            let scope = hub.stats_scope(caller)?;
            let period = str_arg(body, "period", "统计期（period）")?;
            let format = str_arg(body, "format", "文件格式（format）")?;
            hub.report_file(&scope, &period, &format).map(file_answer)
        }
        "saved_queries" => to_json(&hub.saved_queries(caller)?),
        "save_query" => {
            let q = jingwu_proto::SavedQuery {
                name: str_arg(body, "name", "查询名称（name）")?,
                filter: filter_arg(body)?,
            };
            hub.save_query(caller, &q)?;
            Ok(json!({"ok": true, "name": q.name.trim()}))
        }
        "delete_query" => {
            hub.delete_query(caller, &str_arg(body, "name", "查询名称（name）")?)?;
            Ok(json!({"ok": true}))
        }
        "incident_import" => {
            let name = str_arg(body, "name", "文件名（name）")?;
            let data = str_arg(body, "dataB64", "文件内容（dataB64）")?;
            let dry_run = bool_arg(body, "dryRun", "只检查（dryRun）")?;
            let only_valid = bool_arg(body, "onlyValid", "只导入正确的行（onlyValid）")?;
            // Only a desk's members import; asked before the file is read.
            hub.import_unit(caller)?;
            let pin = if dry_run {
                String::new()
            } else {
                pin_arg(body)?
            };
            let bytes = crate::stats::decode_upload(&data)?;
            let outcome = hub.import_incidents(
                caller,
                &crate::stats::ImportRun {
                    name: &name,
                    bytes: &bytes,
                    only_valid,
                    dry_run,
                    signer: crate::stats::ImportSigner::Hosted { pin: &pin },
                    progress: &|_, _| {},
                },
            )?;
            to_json(&outcome)
        }
        _ => Err(ApiError::not_found("没有这个操作")),
    }
}

/// Which events of a case verify against their authors' enrolled keys
/// (approved, or revoked since: valid when they signed), and whether the
/// chain holds from the first event.
fn verified_events(hub: &Hub, s: &CaseState) -> Result<(HashSet<Uuid>, bool), ApiError> {
    let events = hub.signed_events(&s.case_id)?;
    let mut keys: std::collections::HashMap<(String, String), PublicKey> =
        std::collections::HashMap::new();
    for e in hub.db.enrolments(None)? {
        if e.status == "approved" || e.status == "revoked" {
            if let Ok(k) = PublicKey::from_pem(&e.pem) {
                keys.insert((e.person, e.fingerprint), k);
            }
        }
    }
    let key_of = |a: &str, f: &str| keys.get(&(a.to_string(), f.to_string()));
    let verified: HashSet<Uuid> = events
        .iter()
        .filter(|e| key_of(&e.event.author, &e.event.key).is_some_and(|k| e.verify(k).is_ok()))
        .map(|e| e.event.id)
        .collect();
    let chain_ok = jingwu_core::event::verify_chain(&events, key_of).is_ok();
    Ok((verified, chain_ok))
}

/// The 110 record page, with what the caller may do now by the rules
/// (the hub's clock); a browser has no attachments to add.
fn incident_detail(
    hub: &Hub,
    caller: &Caller,
    s: &CaseState,
    now: time::OffsetDateTime,
) -> Result<Value, ApiError> {
    let (verified, chain_ok) = verified_events(hub, s)?;
    let mut actions = s.allowed_actions(&caller.person, &hub.reg(), now);
    actions.can_attach = false;
    Ok(jingwu_core::view::incident_detail(
        &hub.reg(),
        s,
        &actions,
        &verified,
        chain_ok,
        now,
    ))
}

/// The case page: each event's signature checked here against the key
/// its author enrolled (approved, or revoked since: it was valid when it
/// signed), the chain checked from the first event. Browser users decide
/// only; the initiator's actions stay on the desktop.
fn case_detail(hub: &Hub, caller: &Caller, s: &CaseState) -> Result<Value, ApiError> {
    let (verified, chain_ok) = verified_events(hub, s)?;
    // What the caller may do now by the rules (the hub's clock), of which
    // a browser offers the decision only.
    let now = time::OffsetDateTime::now_utc();
    let actions = s
        .allowed_actions(&caller.person, &hub.reg(), now)
        .decide_only();
    Ok(jingwu_core::view::case_detail(
        &hub.reg(),
        s,
        &actions,
        &verified,
        chain_ok,
        now,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// The embedded command table parses, and sorts commands the way the
    /// browser API answers them.
    #[test]
    fn the_command_table_is_embedded() {
        let (desktop, browser) = command_table();
        assert!(desktop.len() > 20 && browser.len() > 5);
        assert_eq!(command_kind("decide"), CommandKind::Browser);
        assert_eq!(command_kind("login"), CommandKind::Browser);
        assert_eq!(command_kind("create"), CommandKind::DesktopOnly);
        assert_eq!(command_kind("sync_now"), CommandKind::DesktopOnly);
        assert_eq!(command_kind("drop_tables"), CommandKind::Unknown);
    }
}
