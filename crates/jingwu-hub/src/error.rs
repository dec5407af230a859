//! The one error type of the HTTP API: a status, a stable machine code and
//! a plain Chinese message, plus details where the client can act on them
//! (a stale event gets the case's current head).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::db::DbError;

pub use jingwu_proto::{ErrorBody, ErrorCode};

/// The HTTP status of each error code: the one mapping (total: a new code
/// does not compile until it has a status here).
pub fn status(code: &ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::BadArguments
        | C::BadDecision
        | C::BadDevice
        | C::BadDigest
        | C::BadId
        | C::BadKey
        | C::BadPerson
        | C::BadSealId
        | C::BadSignature
        | C::EmptyChunk
        | C::EmptyUpload
        | C::MalformedEvent
        | C::MalformedJson
        | C::BadOpinion
        | C::SealExpired
        | C::SealHolderUnknown
        | C::SealInvalid
        | C::SealNameMismatch
        | C::SealPicture
        | C::UploadOverflow
        | C::WeakPassword
        | C::WeakPin
        | C::WrongCase => StatusCode::BAD_REQUEST,
        C::Unauthorized => StatusCode::UNAUTHORIZED,
        C::DesktopOnly
        | C::DeviceNotEnrolled
        | C::Disabled
        | C::KeyNotEnrolled
        | C::MissingUiHeader
        | C::NoHostedKey
        | C::NotAdmin
        | C::NotAllowed
        | C::NotAuthor
        | C::NotInOrg
        | C::NotSealAdmin
        | C::OutOfScope
        | C::SealHolderKey
        | C::SealMakerKey
        | C::SealMakerMismatch
        | C::WrongPin => StatusCode::FORBIDDEN,
        C::NotFound => StatusCode::NOT_FOUND,
        C::AlreadyCreated
        | C::CaseNoTaken
        | C::EnrolmentState
        | C::IdReused
        | C::KeyExists
        | C::KeyIssuerTaken
        | C::OffsetMismatch
        | C::SealExists
        | C::SealRevoked
        | C::StaleHead
        | C::UnknownCase
        | C::UpdateNotNewer
        | C::UserExists => StatusCode::CONFLICT,
        C::BatchTooLarge | C::Body | C::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::NotJson | C::TypeMismatch | C::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::AttachmentMissing | C::ClockFuture | C::ClockPast | C::DigestMismatch | C::Invalid => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        C::Busy | C::LockedOut | C::PinLocked => StatusCode::TOO_MANY_REQUESTS,
        C::Internal | C::Storage | C::Unknown(_) => StatusCode::INTERNAL_SERVER_ERROR,
        C::InsufficientStorage | C::UploadQuota => StatusCode::INSUFFICIENT_STORAGE,
    }
}

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The code's [`status`], except where the HTTP layer reports axum's
    /// own (a body that could not be read: 413 or 400).
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
    /// An error with its code's status.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> ApiError {
        ApiError {
            status: status(&code),
            body: Box::new(ErrorBody::new(code, msg)),
            retry_after: None,
            detail: None,
        }
    }
    /// The same error with another status: only for the HTTP layer,
    /// where axum says how a request body failed to read.
    pub(crate) fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }
    /// The error's code.
    pub fn code(&self) -> &ErrorCode {
        &self.body.code
    }
    /// Asks the client to wait `secs` before trying again.
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs.max(1));
        self
    }
    /// 507: the hub's disk is (nearly) full.
    pub fn insufficient_storage() -> ApiError {
        Self::new(
            ErrorCode::InsufficientStorage,
            "县局服务器存储空间不足，暂不接收新的附件，请稍后再试并通知系统管理员",
        )
    }
    pub fn unauthorized(msg: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Unauthorized, msg)
    }
    pub fn not_found(msg: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::NotFound, msg)
    }
    pub fn internal(msg: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Internal, msg)
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
            ErrorCode::Storage,
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
