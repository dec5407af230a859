//! The HTTP API of 110 queries, statistics, reports and imports
//! ([`crate::stats`]): every handler takes the caller's scope first.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use jingwu_core::stats::Report;
use jingwu_proto::{
    ErrorBody, ImportOutcome, ImportRequest, QueryPage, QueryRequest, SavedQuery, SpeedRequest,
    SpeedRow, StatsAccess, StatsRequest, StatsRow,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::http::{blocking, AppState, Auth, JsonBody};

/// `?format=` of an export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FormatQuery {
    /// json (default), csv or xlsx (a report also pdf).
    #[serde(default)]
    pub format: Option<String>,
}

/// `?period=&format=` of a report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportQuery {
    /// 2026-W48, 2026-11, 2026-Q4 or 2026.
    pub period: String,
    /// json (default), pdf or xlsx.
    #[serde(default)]
    pub format: Option<String>,
}

fn unknown_format(f: &str, known: &str) -> ApiError {
    ApiError::new(
        crate::error::ErrorCode::BadArguments,
        format!("未知的格式“{f}”，应为 {known}"),
    )
}

fn file(f: crate::stats::FileOut) -> Response {
    (
        [
            (header::CONTENT_TYPE, f.mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", f.name),
            ),
        ],
        f.bytes,
    )
        .into_response()
}

/// A page of the 110 records meeting the conditions, in the caller's
/// scope.
#[utoipa::path(post, path = "/api/incidents/query", request_body = QueryRequest,
    responses((status = 200, body = QueryPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn query(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(q): JsonBody<QueryRequest>,
) -> Result<Json<QueryPage>, ApiError> {
    blocking(move || {
        let scope = hub.stats_scope(&c)?;
        hub.incident_query(&scope, &q).map(Json)
    })
    .await
}

/// Every record meeting the conditions as a file (csv or xlsx).
#[utoipa::path(post, path = "/api/incidents/export", request_body = QueryRequest, params(FormatQuery),
    responses((status = 200, description = "CSV (UTF-8 with BOM) or xlsx"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Query(f): Query<FormatQuery>,
    JsonBody(q): JsonBody<QueryRequest>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let scope = hub.stats_scope(&c)?;
        let format = f.format.as_deref().unwrap_or("csv");
        hub.export_file(&scope, &q, format, &c.person).map(file)
    })
    .await
}

/// Statistics grouped by the request's dimensions: JSON rows (the
/// dimension keys and count, valid, loss_fen, injured, dead), or the
/// same as csv / xlsx.
#[utoipa::path(post, path = "/api/incidents/stats", request_body = StatsRequest, params(FormatQuery),
    responses((status = 200, body = Vec<StatsRow>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stats(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Query(f): Query<FormatQuery>,
    JsonBody(q): JsonBody<StatsRequest>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let scope = hub.stats_scope(&c)?;
        match f.format.as_deref().unwrap_or("json") {
            "json" => Ok(Json(hub.incident_stats(&scope, &q.filter, &q.by)?).into_response()),
            format @ ("csv" | "xlsx") => hub.stats_file(&scope, &q.filter, &q.by, format).map(file),
            o => Err(unknown_format(o, "json、csv 或 xlsx")),
        }
    })
    .await
}

/// Response speed per unit: `{unit, bucket, count}` for every bucket of
/// every unit measured.
#[utoipa::path(post, path = "/api/incidents/speed", request_body = SpeedRequest,
    responses((status = 200, body = Vec<SpeedRow>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn speed(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(q): JsonBody<SpeedRequest>,
) -> Result<Json<Vec<SpeedRow>>, ApiError> {
    blocking(move || {
        let scope = hub.stats_scope(&c)?;
        hub.incident_speed(&scope, &q.filter, &q.kind).map(Json)
    })
    .await
}

/// The 警情通报 of a period: JSON, or a printable PDF, or an xlsx
/// workbook.
#[utoipa::path(get, path = "/api/incidents/report", params(ReportQuery),
    responses((status = 200, description = "the report (JSON, PDF or xlsx)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let scope = hub.stats_scope(&c)?;
        match q.format.as_deref().unwrap_or("json") {
            "json" => {
                let r: Report = hub.incident_report(&scope, &q.period)?;
                Ok(Json(r).into_response())
            }
            format @ ("pdf" | "xlsx") => hub.report_file(&scope, &q.period, format).map(file),
            o => Err(unknown_format(o, "json、pdf 或 xlsx")),
        }
    })
    .await
}

/// Whether the caller may query and count 110 records (and in what
/// scope), and whether they may import: for the screens, which show
/// 查询统计 only to those who may (the gate itself stays on every call).
#[utoipa::path(get, path = "/api/incidents/access",
    responses((status = 200, body = StatsAccess)), security(("bearer" = [])))]
pub async fn access(
    State(hub): State<AppState>,
    Auth(c): Auth,
) -> Result<Json<StatsAccess>, ApiError> {
    blocking(move || Ok(Json(hub.stats_access(&c)))).await
}

/// Imports historical 110 records (xlsx or CSV, base64), each signed
/// with the caller's hosted key: nothing when any row has errors unless
/// `only_valid`; rows imported before are skipped.
#[utoipa::path(post, path = "/api/incidents/import", request_body = ImportRequest,
    responses((status = 200, body = ImportOutcome), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(r): JsonBody<ImportRequest>,
) -> Result<Json<ImportOutcome>, ApiError> {
    blocking(move || {
        let bytes = crate::stats::decode_upload(&r.data)?;
        hub.import_incidents(
            &c,
            &crate::stats::ImportRun {
                name: &r.name,
                bytes: &bytes,
                only_valid: r.only_valid,
                dry_run: r.dry_run,
                signer: crate::stats::ImportSigner::Hosted { pin: &r.pin },
                progress: &|_, _| {},
            },
        )
        .map(Json)
    })
    .await
}

/// The caller's saved queries.
#[utoipa::path(get, path = "/api/queries",
    responses((status = 200, body = Vec<SavedQuery>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn saved(
    State(hub): State<AppState>,
    Auth(c): Auth,
) -> Result<Json<Vec<SavedQuery>>, ApiError> {
    blocking(move || hub.saved_queries(&c).map(Json)).await
}

/// Saves (or replaces) a query by its name.
#[utoipa::path(post, path = "/api/queries", request_body = SavedQuery,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn save(
    State(hub): State<AppState>,
    Auth(c): Auth,
    JsonBody(q): JsonBody<SavedQuery>,
) -> Result<axum::http::StatusCode, ApiError> {
    blocking(move || hub.save_query(&c, &q)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Deletes a saved query.
#[utoipa::path(delete, path = "/api/queries/{name}", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn forget(
    State(hub): State<AppState>,
    Auth(c): Auth,
    Path(name): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    blocking(move || hub.delete_query(&c, &name)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The routes above (the import takes larger bodies).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/incidents/query", post(query))
        .route("/api/incidents/export", post(export))
        .route("/api/incidents/stats", post(stats))
        .route("/api/incidents/speed", post(speed))
        .route("/api/incidents/report", get(report))
        .route("/api/incidents/access", get(access))
        .route(
            "/api/incidents/import",
            post(import).layer(axum::extract::DefaultBodyLimit::max(
                crate::stats::MAX_IMPORT_BYTES / 3 * 4 + 64 * 1024,
            )),
        )
        .route("/api/queries", get(saved).post(save))
        .route("/api/queries/{name}", delete(forget))
}
