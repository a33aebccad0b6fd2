//! OTLP/HTTP ingest (ingest token): `POST /v1/traces`, `/v1/metrics` and `/v1/logs`,
//! protobuf or JSON, uncompressed, gzip or zstd. The body goes through the
//! transport-neutral path of [`crate::ingest`]; this file reads the request into it,
//! maps its errors to status codes (through [`ApiError`]) and replies in the request's
//! encoding.
//!
//! Nothing of the body is read before the token is checked (the scope is a route layer
//! that runs before the handler), nor when its `Content-Length` is over the limit (413);
//! a body without one is cut at the limit as it is read. The limits on what it may cost
//! once decompressed and decoded are [`Limits`].

use super::error::ApiError;
use super::scope::{client_address, scoped};
use super::state::{AppState, Limits};
use crate::auth::Scope;
use crate::ingest::{self, Encoding, IngestError, OtlpRequest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// The three OTLP/HTTP paths, their bodies capped at the limit as sent, behind the
/// ingest scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let otlp = Router::new()
        .route("/v1/traces", post(export::<ExportTraceServiceRequest>))
        .route("/v1/metrics", post(export::<ExportMetricsServiceRequest>))
        .route("/v1/logs", post(export::<ExportLogsServiceRequest>))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes));
    scoped(state, Scope::Ingest, otlp)
}

fn body_too_large(limit: usize) -> IngestError {
    IngestError::TooLarge(format!(
        "the request body is larger than the server accepts ({limit} bytes)"
    ))
}

/// The body, or the reason it could not be read (too large: 413).
fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, IngestError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            body_too_large(limit)
        } else {
            IngestError::Malformed("the request body could not be read".into())
        }
    })
}

/// Refuses a body announced larger than `limit` before any of it is read.
fn check_length(headers: &HeaderMap, limit: usize) -> Result<(), IngestError> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(length) if length > limit as u64 => Err(body_too_large(limit)),
        _ => Ok(()),
    }
}

/// The request's encoding (its `Content-Type`) and the request, read within the body
/// limit, decompressed as its `Content-Encoding` says and decoded within `limits`.
async fn decode<T: OtlpRequest>(
    limits: Limits,
    request: Request,
) -> Result<(Encoding, T), IngestError> {
    let (enc, compression) = {
        let headers = request.headers();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let enc = Encoding::from_media_type(content_type)?;
        check_length(headers, limits.max_body_bytes)?;
        let compression = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_string();
        (enc, compression)
    };
    let body = body_bytes(
        Bytes::from_request(request, &()).await,
        limits.max_body_bytes,
    )?;
    let req = ingest::decode_body::<T>(enc, &compression, body, &limits)?;
    Ok((enc, req))
}

fn reply<T: Message + serde::Serialize>(enc: Encoding, message: &T) -> Response {
    match enc {
        Encoding::Protobuf => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            )],
            message.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => {
            // Absent fields are omitted, as OTLP JSON writers do, rather than sent as null.
            let mut v = serde_json::to_value(message).unwrap_or_default();
            if let serde_json::Value::Object(map) = &mut v {
                map.retain(|_, field| !field.is_null());
            }
            axum::Json(v).into_response()
        }
    }
}

/// One handler for the three OTLP/HTTP paths: decode, store, reply in the request's
/// encoding.
async fn export<T: OtlpRequest>(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let client = client_address(&request);
    let (enc, req) = decode::<T>(state.limits, request).await.inspect_err(|e| {
        state
            .metrics
            .rejected_request_from(T::SIGNAL, e.reason(), client)
    })?;
    let response = ingest::store_request(
        &state.store,
        &state.metrics,
        &state.redactor,
        &state.temporality,
        &state.genai,
        req,
    )
    .await?;
    Ok(reply(enc, &response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_length_over_the_limit_is_refused_before_the_body_is_read() {
        let mut headers = HeaderMap::new();
        assert!(
            check_length(&headers, 1024).is_ok(),
            "no length: cut while read"
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1024"));
        assert!(check_length(&headers, 1024).is_ok());
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from_static("10000000000"),
        );
        match check_length(&headers, 1024) {
            Err(IngestError::TooLarge(m)) => assert!(m.contains("1024 bytes"), "{m}"),
            other => panic!("413, got {other:?}"),
        }
    }
}
