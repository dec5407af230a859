//! The one error type of the HTTP API: a status, a stable machine code and
//! a plain Chinese message, plus details where the client can act on them
//! (a stale event gets the case's current head).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::db::DbError;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code for programs, e.g. `stale_head`.
    pub code: String,
    /// What went wrong, in plain Chinese, for people.
    pub error: String,
    /// Index of the offending event in a pushed batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// The case's current head (SM3 hex of its last event), on 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// The seq the next event of the case must carry, on 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_seq: Option<u64>,
    /// For uploads: the bytes received so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<i64>,
}

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed: keeps `Result<_, ApiError>` small.
    pub body: Box<ErrorBody>,
    /// Seconds the client should wait before trying again (sent as
    /// `Retry-After`, with 429 and 503).
    pub retry_after: Option<u64>,
    /// What went wrong inside, for the operator's log only (never sent).
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, msg: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                code: code.to_string(),
                error: msg.into(),
                index: None,
                event_id: None,
                case_id: None,
                head: None,
                next_seq: None,
                received: None,
            }),
            retry_after: None,
            detail: None,
        }
    }
    /// Asks the client to wait `secs` before trying again.
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs.max(1));
        self
    }
    /// 507: the hub's disk is (nearly) full.
    pub fn insufficient_storage() -> ApiError {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            "县局服务器存储空间不足，暂不接收新的附件，请稍后再试并通知系统管理员",
        )
    }
    pub fn bad_request(code: &str, msg: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, code, msg)
    }
    pub fn unauthorized(msg: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", msg)
    }
    pub fn forbidden(code: &str, msg: impl Into<String>) -> ApiError {
        Self::new(StatusCode::FORBIDDEN, code, msg)
    }
    pub fn not_found(msg: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, "not_found", msg)
    }
    pub fn conflict(code: &str, msg: impl Into<String>) -> ApiError {
        Self::new(StatusCode::CONFLICT, code, msg)
    }
    pub fn internal(msg: impl Into<String>) -> ApiError {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", msg)
    }
    /// Names the event of a batch the error is about.
    pub fn at(mut self, index: usize, event_id: Option<String>) -> ApiError {
        self.body.index = Some(index);
        if event_id.is_some() {
            self.body.event_id = event_id;
        }
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}（{}）", self.body.error, self.status.as_u16())
    }
}

impl std::error::Error for ApiError {}

impl From<DbError> for ApiError {
    /// The details (database text, constraint names) never go into the
    /// response. Not logged here: this conversion runs inside write
    /// transactions (under the writer's lock), and a log write must never
    /// happen there. Server errors are logged when the response is made,
    /// with their details (see `IntoResponse`).
    fn from(e: DbError) -> ApiError {
        let mut a = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage",
            "县局服务器存储出错，请稍后重试；如持续出现，请联系县局系统管理员查看服务器日志",
        );
        a.detail = Some(e.to_string());
        a
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                code = %self.body.code,
                error = %self.body.error,
                detail = self.detail.as_deref().unwrap_or(""),
                "request failed"
            );
        }
        let retry = self.retry_after;
        let mut r = (self.status, Json(*self.body)).into_response();
        if let Some(secs) = retry {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Database text (constraint names, SQL) goes to the log, not to the
    /// client.
    #[test]
    fn storage_errors_do_not_leak_database_text() {
        for e in [
            DbError::Backend("UNIQUE constraint failed: cases.case_no".into()),
            DbError::Backend(
                "duplicate key value violates unique constraint \"cases_case_no_key\"".into(),
            ),
            DbError::Corrupt("案件状态无法解析：expected value at line 1".into()),
        ] {
            let a = ApiError::from(e);
            assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
            let body = serde_json::to_string(&*a.body).unwrap();
            for leak in ["UNIQUE", "constraint", "case_no", "line 1", "数据库错误"] {
                assert!(!body.contains(leak), "{body}");
            }
            assert!(body.contains("县局服务器存储出错"), "{body}");
        }
    }
}
