//! The HTTP API (axum). Handlers are thin: they authenticate, parse, call
//! [`Hub`] on the blocking pool and map errors. The OpenAPI document at
//! `/api/openapi.json` is generated from these handlers' annotations.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::hub::{Caller, Hub};
use jingwu_proto::{
    live, ChunkQuery, CreateUserRequest, EnrolRequest, Enrolment, EnrolmentQuery, Health,
    HubKeyInfo, InboxItem, KeyInfo, LiveQuery, LoginRequest, LoginResult, MeResponse, PullQuery,
    PullResponse, PushRequest, PushResult, RevokeRequest, RevokeResponse, StoredEvent,
    UploadRequest, UploadStatus,
};

/// Shared state of the handlers.
pub type AppState = Arc<Hub>;

/// Runs blocking hub work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("内部任务失败：{e}")))?
}

/// A JSON body whose parse errors come back as our JSON errors.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

fn json_rejection(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::NotJson,
            "请求内容须为 JSON（Content-Type: application/json）",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            ErrorCode::MalformedJson,
            format!("JSON 格式错误：{}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            ErrorCode::MalformedJson,
            format!("JSON 内容不符合要求：{}", e.body_text()),
        ),
        JsonRejection::BytesRejection(e) => ApiError::new(
            ErrorCode::Body,
            format!("请求内容无法读取（可能超过大小上限）：{}", e.body_text()),
        )
        .with_status(e.status()),
        other => ApiError::new(ErrorCode::MalformedJson, other.body_text()),
    }
}

/// The authenticated caller of a request (`Authorization: Bearer …`).
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() < 200)
            .ok_or_else(|| ApiError::unauthorized("未登录：请求缺少登录凭据"))?
            .to_string();
        let hub = hub.clone();
        Ok(Auth(blocking(move || hub.authenticate(&token)).await?))
    }
}

/// The address of the connection's peer (the socket's, never a
/// forwarded header); `None` when the server did not record it.
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

// The request and response bodies are jingwu_proto's.

// ----- handlers -----------------------------------------------------------

/// Liveness, the database it serves and the state of its disk; 503 when
/// the data directory's free space is below the floor. Counts only for
/// an administrator's bearer token.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn healthz(State(hub): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    blocking(move || {
        let admin = token
            .and_then(|t| hub.authenticate_as(&t, false).ok())
            .is_some_and(|c| c.is_admin);
        let counts = if admin { Some(hub.db.counts()?) } else { None };
        let disk = match hub.free_bytes() {
            None => "unknown",
            Some(f) if f < hub.limits.min_free_bytes => "low",
            Some(_) => "ok",
        };
        let status = if disk == "low" {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        Ok((
            status,
            Json(Health {
                status: if disk == "low" { "low_disk" } else { "ok" }.into(),
                backend: hub.db.backend().into(),
                disk: disk.into(),
                events: counts.map(|c| c.0),
                cases: counts.map(|c| c.1),
            }),
        )
            .into_response())
    })
    .await
}

/// Logs in; returns a bearer token.
#[utoipa::path(post, path = "/api/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResult), (status = 401, body = ErrorBody),
        (status = 429, description = "too many failures (locked for a while) or too many logins at once; see Retry-After", body = ErrorBody)))]
async fn login(
    State(hub): State<AppState>,
    Peer(source): Peer,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<LoginResult>, ApiError> {
    blocking(move || {
        hub.login_from(&req.person, &req.password, req.device.as_deref(), source)
            .map(Json)
    })
    .await
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/api/logout", responses((status = 204)), security(("bearer" = [])))]
async fn logout(State(hub): State<AppState>, Auth(c): Auth) -> Result<StatusCode, ApiError> {
    blocking(move || hub.logout(&c)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/me", responses((status = 200, body = MeResponse)), security(("bearer" = [])))]
async fn me(State(hub): State<AppState>, Auth(c): Auth) -> Json<MeResponse> {
    let org = &hub.reg().org;
    Json(MeResponse {
        name: org.person(&c.person).map(|p| p.name.clone()),
        units: org
            .units_of(&c.person)
            .iter()
            .map(|u| u.code.clone())
            .collect(),
        person: c.person,
        is_admin: c.is_admin,
        device: c.device,
    })
}

/// Registers this device and the caller's public key (pending approval).
#[utoipa::path(post, path = "/api/enrolments", request_body = EnrolRequest,
    responses((status = 200, body = Enrolment), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn enrol(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(req): JsonBody<EnrolRequest>,
) -> Result<Json<Enrolment>, ApiError> {
    blocking(move || {
        hub.enrol(&c, &req.device, &req.device_name, &req.public_key_pem)
            .map(Json)
    })
    .await
}

/// Enrolments: all for administrators, one's own otherwise.
#[utoipa::path(get, path = "/api/enrolments", params(EnrolmentQuery),
    responses((status = 200, body = Vec<Enrolment>)), security(("bearer" = [])))]
async fn enrolments(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Query(q): Query<EnrolmentQuery>,
) -> Result<Json<Vec<Enrolment>>, ApiError> {
    blocking(move || {
        let all = hub.db.enrolments(q.status.as_deref())?;
        Ok(Json(
            all.into_iter()
                .filter(|e| c.is_admin || e.person == c.person)
                .map(Enrolment::from)
                .collect(),
        ))
    })
    .await
}

/// An administrator approves, rejects or revokes an enrolment.
#[utoipa::path(post, path = "/api/admin/enrolments/{id}/{decision}",
    params(("id" = String, Path), ("decision" = String, Path, description = "approve, reject or revoke")),
    responses((status = 200, body = Enrolment), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn decide_enrolment(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path((id, decision)): Path<(String, String)>,
) -> Result<Json<Enrolment>, ApiError> {
    blocking(move || hub.decide_enrolment(&c, &id, &decision).map(Json)).await
}

/// An administrator creates an account.
#[utoipa::path(post, path = "/api/admin/users", request_body = CreateUserRequest,
    responses((status = 201), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn create_user(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(req): JsonBody<CreateUserRequest>,
) -> Result<StatusCode, ApiError> {
    blocking(move || {
        crate::admin::Admin::of(&hub, &c)?.create_user(&req.person, &req.password, req.is_admin)
    })
    .await?;
    Ok(StatusCode::CREATED)
}

/// An administrator ends every session of a person.
#[utoipa::path(post, path = "/api/admin/sessions/revoke", request_body = RevokeRequest,
    responses((status = 200, body = RevokeResponse)), security(("bearer" = [])))]
async fn revoke_sessions(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<Json<RevokeResponse>, ApiError> {
    blocking(move || {
        Ok(Json(RevokeResponse {
            revoked: crate::admin::Admin::of(&hub, &c)?.end_sessions(&req.person)?,
        }))
    })
    .await
}

/// Every approved signing key (for verifying events offline).
#[utoipa::path(get, path = "/api/keys", responses((status = 200, body = Vec<KeyInfo>)), security(("bearer" = [])))]
async fn keys(State(hub): State<AppState>, Auth(_c): Auth) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    blocking(move || {
        Ok(Json(
            hub.db
                .approved_keys()?
                .into_iter()
                .map(|(person, fingerprint, pem)| KeyInfo {
                    person,
                    fingerprint,
                    pem,
                })
                .collect(),
        ))
    })
    .await
}

/// The public key that verifies the hub's receipts (the hub's time of
/// acceptance of each event, see docs/sync-protocol.md).
#[utoipa::path(get, path = "/api/hub-key", responses((status = 200, body = HubKeyInfo)), security(("bearer" = [])))]
async fn hub_key(State(hub): State<AppState>, Auth(_c): Auth) -> Json<HubKeyInfo> {
    let k = hub.hub_key.public_key();
    Json(HubKeyInfo {
        fingerprint: k.fingerprint(),
        pem: k.to_pem(),
    })
}

/// Pushes a batch of signed events, all or nothing.
#[utoipa::path(post, path = "/api/events", request_body = PushRequest,
    responses((status = 200, body = PushResult),
        (status = 400, description = "malformed event or bad signature", body = ErrorBody),
        (status = 403, description = "not the author's enrolled key, out of scope, or not allowed at this step", body = ErrorBody),
        (status = 409, description = "stale: the case moved on; carries the current head", body = ErrorBody),
        (status = 422, description = "invalid form, missing attachment, or a device time ahead of the hub's clock (`clock_future`) or before the case's previous event (`clock_past`)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn push(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(req): JsonBody<PushRequest>,
) -> Result<Json<PushResult>, ApiError> {
    blocking(move || hub.push(&c, &req.events).map(Json)).await
}

/// The newest published registry version and its digest.
#[utoipa::path(get, path = "/api/registry/digest",
    responses((status = 200, body = jingwu_proto::RegistryDigest), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn registry_digest(
    State(hub): State<AppState>,
    Auth(_c): Auth,
) -> Result<Json<jingwu_proto::RegistryDigest>, ApiError> {
    blocking(move || {
        let last = hub.registry_latest()?;
        Ok(Json(jingwu_proto::RegistryDigest {
            version: last.version,
            digest: last.digest(),
        }))
    })
    .await
}

/// `after` of `GET /api/registry`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct RegistryQuery {
    /// The newest version the station holds (0: none).
    #[serde(default)]
    after: u32,
}

/// The published registry versions after `after`, oldest first: each the
/// exact signed document and the administrator's signature.
#[utoipa::path(get, path = "/api/registry", params(RegistryQuery),
    responses((status = 200, body = jingwu_proto::RegistryVersions), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn registry_versions(
    State(hub): State<AppState>,
    Auth(_c): Auth,
    Query(q): Query<RegistryQuery>,
) -> Result<Json<jingwu_proto::RegistryVersions>, ApiError> {
    blocking(move || {
        Ok(Json(jingwu_proto::RegistryVersions {
            versions: hub
                .registry_versions(q.after)?
                .into_iter()
                .map(Into::into)
                .collect(),
        }))
    })
    .await
}

/// Events after a cursor that the caller may see.
#[utoipa::path(get, path = "/api/events", params(PullQuery),
    responses((status = 200, body = PullResponse)), security(("bearer" = [])))]
async fn pull(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Query(q): Query<PullQuery>,
) -> Result<Json<PullResponse>, ApiError> {
    blocking(move || {
        let limit = q
            .limit
            .unwrap_or(hub.limits.max_pull)
            .clamp(1, hub.limits.max_pull);
        let events = hub.pull(&c, q.after, limit)?;
        let next = events.last().map(|e| e.gseq).unwrap_or(q.after);
        let more = events.len() as i64 == limit;
        Ok(Json(PullResponse { events, next, more }))
    })
    .await
}

/// A case's whole log.
#[utoipa::path(get, path = "/api/cases/{id}/events", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<StoredEvent>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn case_events(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<StoredEvent>>, ApiError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::new(ErrorCode::BadId, "案件编号格式错误"))?;
    blocking(move || hub.case_events(&c, &id).map(Json)).await
}

/// Cases waiting for the caller's decision.
#[utoipa::path(get, path = "/api/inbox", responses((status = 200, body = Vec<InboxItem>)), security(("bearer" = [])))]
async fn inbox(
    State(hub): State<AppState>,
    Auth(c): Auth,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    blocking(move || {
        let cases = hub.inbox(&c)?;
        Ok(Json(
            cases
                .iter()
                .map(|s| InboxItem {
                    case_id: s.case_id,
                    case_no: s.case_no.clone(),
                    unit: s.unit.clone(),
                    status: s.status.label().to_string(),
                    step: s.current_step(&hub.reg()).map(|st| st.name.clone()),
                    summary: s.display_summary(),
                    updated_at: crate::rfc3339(s.updated_at),
                })
                .collect(),
        ))
    })
    .await
}

/// The live channel (Server-Sent Events): every event the caller may see,
/// as `event: event`, `id: gseq`, data = [`StoredEvent`] JSON.
#[utoipa::path(get, path = "/api/live", params(LiveQuery),
    responses((status = 200, description = "text/event-stream of StoredEvent")), security(("bearer" = [])))]
async fn live(
    State(hub): State<AppState>,
    Auth(c): Auth,
    headers: HeaderMap,
    Query(q): Query<LiveQuery>,
) -> Result<Response, ApiError> {
    let after = q.after.or_else(|| {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(256);
    let mut sub = hub.subscribe();
    let mut ended = hub.session_ends();
    let person = c.person.clone();
    tokio::spawn(async move {
        // The stream lives as long as its session: it ends at logout or an
        // administrator's revocation (signalled in this process), and at
        // the session's idle or absolute limit. The session is checked
        // again at the earliest time it could end, and at least every
        // `SESSION_RECHECK` (a revocation made by another hub process).
        let check = |hub: AppState, th: String| async move {
            blocking(move || hub.session_check(&th, false).map(|(_, ends)| ends)).await
        };
        let mut next_check = match check(hub.clone(), c.token_hash.clone()).await {
            Ok(ends) => recheck_at(ends),
            Err(_) => return,
        };
        let send = |e: &StoredEvent| {
            SseEvent::default()
                .event(live::EVENT)
                .id(e.gseq.to_string())
                .json_data(e)
                .unwrap_or_else(|_| SseEvent::default().comment("encode error"))
        };
        let mut seen = match after {
            Some(a) => a,
            None => {
                let h = hub.clone();
                match blocking(move || Ok(h.db.max_gseq()?)).await {
                    Ok(m) => m,
                    Err(_) => return,
                }
            }
        };
        let mut catch_up = true;
        let mut catch_up_first = true;
        loop {
            if catch_up {
                loop {
                    let h = hub.clone();
                    let caller = c.clone();
                    let batch = match blocking(move || h.pull(&caller, seen, 500)).await {
                        Ok(b) => b,
                        Err(_) => return,
                    };
                    if batch.is_empty() {
                        break;
                    }
                    for e in &batch {
                        seen = seen.max(e.gseq);
                        if tx.send(Ok(send(e))).await.is_err() {
                            return;
                        }
                    }
                }
                if catch_up_first {
                    // Tells the client it is now live: everything after
                    // `seen` will be pushed as it happens.
                    catch_up_first = false;
                    let ready = SseEvent::default()
                        .event(live::READY)
                        .data(seen.to_string());
                    if tx.send(Ok(ready)).await.is_err() {
                        return;
                    }
                }
                catch_up = false;
            }
            let msg = tokio::select! {
                m = sub.recv() => m,
                _ = tokio::time::sleep_until(next_check) => {
                    match check(hub.clone(), c.token_hash.clone()).await {
                        Ok(ends) => next_check = recheck_at(ends),
                        Err(e) => return end_stream(&tx, &e).await,
                    }
                    continue;
                }
                e = ended.recv() => {
                    let mine = match &e {
                        Ok(e) => e.person == person
                            && e.token_hash.as_ref().is_none_or(|t| *t == c.token_hash),
                        // Missed signals: check to be sure.
                        Err(_) => true,
                    };
                    if mine {
                        if let Err(e) = check(hub.clone(), c.token_hash.clone()).await {
                            return end_stream(&tx, &e).await;
                        }
                    }
                    continue;
                }
            };
            match msg {
                Ok(ev) => {
                    if ev.event.gseq <= seen || !ev.viewers.contains(&person) {
                        continue;
                    }
                    seen = ev.event.gseq;
                    let frame = SseEvent::default()
                        .event("event")
                        .id(ev.event.gseq.to_string())
                        .data(&*ev.json);
                    if tx.send(Ok(frame)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => catch_up = true,
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// Longest a live stream goes without checking its session.
const SESSION_RECHECK: Duration = Duration::from_secs(15);

/// When a stream whose session ends at Unix time `ends` checks it again.
fn recheck_at(ends: i64) -> tokio::time::Instant {
    let left = ends - time::OffsetDateTime::now_utc().unix_timestamp() + 1;
    let wait = Duration::from_secs(u64::try_from(left).unwrap_or(0)).min(SESSION_RECHECK);
    tokio::time::Instant::now() + wait
}

/// Tells the client why its live stream ends (`event: end`), then ends it.
async fn end_stream(tx: &tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>, e: &ApiError) {
    let end = SseEvent::default()
        .event(live::END)
        .json_data(e.body.as_ref())
        .unwrap_or_else(|_| SseEvent::default().event(live::END));
    let _ = tx.send(Ok(end)).await;
}

/// Starts or resumes a content-addressed upload.
#[utoipa::path(post, path = "/api/uploads", request_body = UploadRequest,
    responses((status = 200, body = UploadStatus), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 507, description = "the account's unfinished uploads would exceed its quota (`upload_quota`)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn upload_begin(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(req): JsonBody<UploadRequest>,
) -> Result<Json<UploadStatus>, ApiError> {
    blocking(move || {
        let (received, complete) = hub.upload_begin(&c, &req.sm3, req.size, &req.mime)?;
        Ok(Json(UploadStatus {
            sm3: req.sm3,
            received,
            complete,
        }))
    })
    .await
}

/// Where an upload stands.
#[utoipa::path(get, path = "/api/uploads/{sm3}", params(("sm3" = String, Path)),
    responses((status = 200, body = UploadStatus), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn upload_status(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(sm3): Path<String>,
) -> Result<Json<UploadStatus>, ApiError> {
    blocking(move || {
        let (received, complete) = hub.upload_status(&c, &sm3)?;
        Ok(Json(UploadStatus {
            sm3,
            received,
            complete,
        }))
    })
    .await
}

/// Sends the next chunk (raw bytes) of an upload.
#[utoipa::path(put, path = "/api/uploads/{sm3}", params(("sm3" = String, Path), ChunkQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = UploadStatus), (status = 409, description = "wrong offset; carries `received`", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, description = "digest mismatch", body = ErrorBody)), security(("bearer" = [])))]
async fn upload_chunk(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(sm3): Path<String>,
    Query(q): Query<ChunkQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<UploadStatus>, ApiError> {
    let body = body.map_err(|e| {
        ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "分块过大或无法读取（每块上限 {} 字节）",
                hub.limits.max_chunk_bytes
            ),
        )
        .with_status(e.status())
    })?;
    blocking(move || {
        let (received, complete) = hub.upload_chunk(&c, &sm3, q.offset, &body)?;
        Ok(Json(UploadStatus {
            sm3,
            received,
            complete,
        }))
    })
    .await
}

/// Downloads an attachment; `Range: bytes=N-` resumes.
#[utoipa::path(get, path = "/api/attachments/{sm3}", params(("sm3" = String, Path)),
    responses((status = 200, description = "the file"), (status = 206, description = "a range"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn attachment(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(sm3): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (mime, data) = blocking(move || hub.attachment_for(&c, &sm3)).await?;
    let len = data.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| {
            let (a, b) = v.split_once('-')?;
            let start: usize = a.parse().ok()?;
            let end: usize = if b.is_empty() {
                len.checked_sub(1)?
            } else {
                b.parse().ok()?
            };
            (start <= end && end < len).then_some((start, end))
        });
    Ok(match range {
        Some((s, e)) => (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, mime),
                (header::CONTENT_RANGE, format!("bytes {s}-{e}/{len}")),
                (header::ACCEPT_RANGES, "bytes".to_string()),
            ],
            data[s..=e].to_vec(),
        )
            .into_response(),
        None => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, mime),
                (header::ACCEPT_RANGES, "bytes".to_string()),
            ],
            data,
        )
            .into_response(),
    })
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Jingwu county hub API", description = "Sync protocol of Jingwu: see docs/sync-protocol.md"),
    paths(healthz, login, logout, me, enrol, enrolments, decide_enrolment, create_user, revoke_sessions,
        keys, hub_key, push, pull, case_events, inbox, live, upload_begin, upload_status, upload_chunk, attachment,
        bundle, crate::webui::command, crate::seals::register, crate::seals::list,
        crate::seals::digest, crate::seals::revoke, registry_digest, registry_versions, crate::stats_http::query, crate::stats_http::export,
        crate::stats_http::stats, crate::stats_http::speed, crate::stats_http::report,
        crate::stats_http::import, crate::stats_http::saved, crate::stats_http::save,
        crate::stats_http::forget, crate::stats_http::access, crate::updates::manifest, crate::updates::file),
    components(schemas(crate::webui::doc::UiIncidentListsArgs, crate::webui::doc::UiCaseArgs,
        crate::webui::doc::UiIncidentFormArgs, crate::webui::doc::UiIncidentValidateArgs,
        crate::webui::doc::UiFieldError, crate::webui::doc::UiRepeatCall,
        crate::webui::doc::UiMoneyTotalArgs, crate::webui::doc::UiMoneyTotal,
        crate::webui::doc::UiIncidentCreateArgs, crate::webui::doc::UiIncidentCreated,
        crate::webui::doc::UiIncidentUpdateArgs, crate::webui::doc::UiIncidentDispatchArgs,
        crate::webui::doc::UiIncidentStepArgs, crate::webui::doc::UiIncidentDone)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The evidence bundle of a case.
#[utoipa::path(get, path = "/api/cases/{id}/bundle", params(("id" = Uuid, Path)),
    responses((status = 200, description = "evidence bundle JSON"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn bundle(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::new(ErrorCode::BadId, "案件编号格式错误"))?;
    let b = blocking(move || {
        if !hub.db.can_see(&c.person, &id)? {
            return Err(ApiError::not_found("没有该案件，或无权查看"));
        }
        crate::evidence::bundle_of(&hub, &id)
    })
    .await?;
    Ok(Json(b).into_response())
}

/// The router.
pub fn router(hub: AppState) -> Router {
    let chunk_limit = hub.limits.max_chunk_bytes + 64 * 1024;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/enrolments", post(enrol).get(enrolments))
        .route(
            "/api/admin/enrolments/{id}/{decision}",
            post(decide_enrolment),
        )
        .route("/api/admin/users", post(create_user))
        .route("/api/admin/sessions/revoke", post(revoke_sessions))
        .route("/api/keys", get(keys))
        .route("/api/hub-key", get(hub_key))
        .route("/api/events", post(push).get(pull))
        .route("/api/cases/{id}/events", get(case_events))
        .route("/api/cases/{id}/bundle", get(bundle))
        .route("/api/inbox", get(inbox))
        .route("/api/live", get(live))
        .route("/api/uploads", post(upload_begin))
        .route(
            "/api/uploads/{sm3}",
            put(upload_chunk)
                .get(upload_status)
                .layer(DefaultBodyLimit::max(chunk_limit)),
        )
        .route("/api/attachments/{sm3}", get(attachment))
        .route(
            "/api/seals",
            post(crate::seals::register).get(crate::seals::list),
        )
        .route("/api/seals/digest", get(crate::seals::digest))
        .route("/api/registry/digest", get(registry_digest))
        .route("/api/registry", get(registry_versions))
        .route("/api/seals/{id}/revoke", post(crate::seals::revoke))
        .merge(crate::stats_http::routes())
        .merge(crate::updates::routes())
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .fallback(|| async { ApiError::not_found("没有这个接口") })
        .with_state(hub)
}
