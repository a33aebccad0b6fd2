//! OTLP/HTTP ingest (ingest token): `POST /v1/traces`, `/v1/metrics` and `/v1/logs`,
//! protobuf or JSON, uncompressed, gzip or zstd. The body goes through the
//! transport-neutral path of [`crate::ingest`]; this file reads the request into it,
//! maps its errors to status codes (through [`ApiError`]) and replies in the request's
//! encoding.

use super::error::ApiError;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::ingest::{self, Encoding, IngestError, OtlpRequest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
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

/// The body, or the reason it could not be read (too large: 413).
type Body = Result<Bytes, BytesRejection>;

fn body_bytes(body: Body) -> Result<Bytes, IngestError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            IngestError::TooLarge("the request body is larger than the server accepts")
        } else {
            IngestError::Malformed("the request body could not be read".into())
        }
    })
}

/// The request's encoding (its `Content-Type`) and the request, decompressed as its
/// `Content-Encoding` says and decoded.
fn decode<T: OtlpRequest>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Encoding, T), IngestError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let enc = Encoding::from_media_type(content_type)?;
    let body = body_bytes(body)?;
    let compression = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    let req =
        ingest::decode_body::<T>(enc, compression, &body, state.limits.max_decompressed_bytes)?;
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
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (enc, req) = decode::<T>(&state, &headers, body)
        .inspect_err(|e| state.metrics.rejected_request(T::SIGNAL, e.reason()))?;
    let response = ingest::store_request(&state.store, &state.metrics, req).await?;
    Ok(reply(enc, &response))
}
