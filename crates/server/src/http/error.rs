//! [`ApiError`], the one error type of the HTTP surface, and the response of each.

use crate::auth::Scope;
use crate::ingest::IngestError;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Every error a client can get. Internal details go to the log, never to the client,
/// and the client's payload is never echoed back.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with a readable reason.
    BadRequest(String),
    /// 404.
    NotFound(&'static str),
    /// 413 with a readable reason naming the limit.
    TooLarge(String),
    /// 415.
    UnsupportedMediaType,
    /// 401: no token or an unknown one.
    Unauthorized,
    /// 403: the token lacks this scope.
    Forbidden(Scope),
    /// 503 with `Retry-After`.
    Overloaded,
    /// 429 with `Retry-After` in seconds.
    RateLimited(u64),
    /// 500; the detail is logged.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overloaded | StoreError::Unavailable => ApiError::Overloaded,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Malformed(m) => ApiError::BadRequest(m),
            IngestError::TooLarge(what) => ApiError::TooLarge(what),
            IngestError::UnsupportedMediaType => ApiError::UnsupportedMediaType,
            IngestError::Overloaded => ApiError::Overloaded,
            IngestError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
            ApiError::TooLarge(what) => (StatusCode::PAYLOAD_TOO_LARGE, what),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/x-protobuf or application/json".to_string(),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required".to_string(),
            ),
            ApiError::Forbidden(scope) => (
                StatusCode::FORBIDDEN,
                format!("this token lacks the {scope:?} scope").to_ascii_lowercase(),
            ),
            ApiError::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy; retry later".to_string(),
            ),
            ApiError::RateLimited(seconds) => {
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({ "error": "too many requests; retry later" })),
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
                return resp;
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                )
            }
        };
        let mut resp = (status, axum::Json(json!({ "error": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}
