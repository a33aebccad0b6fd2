//! OTLP/gRPC on its own port (4317): the three collector services of
//! `opentelemetry-proto` (`TraceService`, `MetricsService`, `LogsService`, each with its
//! one method `Export`), storing through the same path as OTLP/HTTP ([`crate::ingest`],
//! whose errors map to gRPC codes here).
//!
//! The services are served over tonic's unary handler with a codec of their own rather
//! than by the generated servers, so that nothing of a request is decoded before it is
//! known to be allowed and bounded:
//!
//! 1. the bearer token (`authorization` metadata) must have the ingest scope, checked
//!    before the message is read (`UNAUTHENTICATED`, `PERMISSION_DENIED`);
//! 2. tonic reads the message, decompressing gzip or zstd, up to the decompressed size
//!    limit;
//! 3. the codec measures the message on its bytes (items, and a bound of the memory it
//!    takes decoded: [`ingest::decode_within`], [`crate::http::Limits`]) and only then
//!    decodes it.
//!
//! Codes follow the OTLP specification: a malformed message and one over a limit get
//! `INVALID_ARGUMENT`, which exporters do not retry (tonic's own codes for those,
//! `OUT_OF_RANGE`, `RESOURCE_EXHAUSTED` without `RetryInfo` and `INTERNAL`, are
//! rewritten: exporters would retry them); an unsupported compression `UNIMPLEMENTED`;
//! an overloaded store `RESOURCE_EXHAUSTED` with `RetryInfo`, which exporters retry; a
//! failed store `INTERNAL`.

use crate::auth::{Denied, Scope};
use crate::http::{AppState, Limits};
use crate::ingest::{self, Encoding, IngestError, OtlpRequest};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, logs_service_server,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, metrics_service_server,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, trace_service_server,
};
use prost::Message;
use prost::bytes::Buf;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

impl From<IngestError> for Status {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Malformed(m) => Status::invalid_argument(m),
            IngestError::TooLarge(m) => Status::invalid_argument(m),
            IngestError::UnsupportedMediaType => Status::invalid_argument("unsupported encoding"),
            IngestError::Overloaded => Status::with_error_details(
                Code::ResourceExhausted,
                "the server is busy; retry later",
                ErrorDetails::with_retry_info(Some(Duration::from_secs(1))),
            ),
            IngestError::Internal(detail) => {
                tracing::error!(%detail, "gRPC request failed");
                Status::internal("internal error")
            }
        }
    }
}

/// The status of a request refused by the token check.
fn denied(denied: Denied) -> Status {
    match denied {
        Denied::Unauthenticated => Status::unauthenticated("a valid bearer token is required"),
        Denied::Forbidden => Status::permission_denied("this token lacks the ingest scope"),
    }
}

/// An export request served over gRPC, and the service it belongs to.
trait GrpcExport: OtlpRequest {
    /// `opentelemetry.proto.collector.<signal>.v1.<Signal>Service`.
    const SERVICE: &'static str;
}

impl GrpcExport for ExportTraceServiceRequest {
    const SERVICE: &'static str = trace_service_server::SERVICE_NAME;
}

impl GrpcExport for ExportMetricsServiceRequest {
    const SERVICE: &'static str = metrics_service_server::SERVICE_NAME;
}

impl GrpcExport for ExportLogsServiceRequest {
    const SERVICE: &'static str = logs_service_server::SERVICE_NAME;
}

/// How far a request got past tonic's reading of its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The codec refused the message; the `reason` label of the refusal.
    Refused(&'static str),
    /// The message was decoded and the method answered.
    Handled,
}

/// One OTLP service (its method `Export`) over the shared state.
struct ExportService<T> {
    state: AppState,
    _request: PhantomData<fn() -> T>,
}

impl<T> ExportService<T> {
    fn new(state: AppState) -> Self {
        ExportService {
            state,
            _request: PhantomData,
        }
    }
}

impl<T> Clone for ExportService<T> {
    fn clone(&self) -> Self {
        ExportService::new(self.state.clone())
    }
}

impl<T: GrpcExport> NamedService for ExportService<T> {
    const NAME: &'static str = T::SERVICE;
}

impl<T: GrpcExport> Service<http::Request<Body>> for ExportService<T> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move { Ok(export::<T>(state, request).await) })
    }
}

/// Serves one request: the token first, then tonic's unary handler with the measuring
/// codec, then the code OTLP asks for on a message tonic refused.
async fn export<T: GrpcExport>(
    state: AppState,
    request: http::Request<Body>,
) -> http::Response<Body> {
    let known = request
        .uri()
        .path()
        .strip_prefix('/')
        .and_then(|path| path.strip_prefix(T::SERVICE))
        == Some("/Export");
    if !known {
        return Status::unimplemented("").into_http();
    }
    let client = request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr());
    let checked = state.auth.check(
        request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Scope::Ingest,
    );
    if let Err(refused) = checked {
        state
            .metrics
            .rejected_request_from(T::SIGNAL, "unauthorized", client);
        return denied(refused).into_http();
    }
    let stage = Arc::new(OnceLock::new());
    let codec = ExportCodec::<T> {
        limits: state.limits,
        stage: stage.clone(),
        _request: PhantomData,
    };
    let mut grpc = Grpc::new(codec)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(state.limits.max_decompressed_bytes);
    let method = ExportMethod::<T> {
        state: state.clone(),
        stage: stage.clone(),
        _request: PhantomData,
    };
    let response = grpc.unary(method, request).await;
    let (refused, response) = settle(stage.get().copied(), response);
    if let Some(reason) = refused {
        state
            .metrics
            .rejected_request_from(T::SIGNAL, reason, client);
    }
    response
}

/// The response to send, and the `reason` label of a request refused before the method
/// (the method counts its own outcomes): as tonic and the method made it, except that a
/// message tonic refused while reading it (over the size limit, compressed wrong,
/// truncated) gets `INVALID_ARGUMENT`, as OTLP asks, instead of tonic's `OUT_OF_RANGE`,
/// `RESOURCE_EXHAUSTED` or `INTERNAL`, which exporters retry.
fn settle(
    stage: Option<Stage>,
    response: http::Response<Body>,
) -> (Option<&'static str>, http::Response<Body>) {
    match stage {
        Some(Stage::Handled) => (None, response),
        Some(Stage::Refused(reason)) => (Some(reason), response),
        None => {
            let refused = response.extensions().get::<Status>().and_then(|status| {
                let reason = match status.code() {
                    Code::OutOfRange | Code::ResourceExhausted => "too_large",
                    Code::Internal => "malformed",
                    _ => return None,
                };
                Some((reason, status.message().to_string()))
            });
            match refused {
                Some((reason, message)) => {
                    (Some(reason), Status::invalid_argument(message).into_http())
                }
                None => (None, response),
            }
        }
    }
}

/// Protobuf for one signal: the decoder measures a message before decoding it.
struct ExportCodec<T> {
    limits: Limits,
    stage: Arc<OnceLock<Stage>>,
    _request: PhantomData<fn() -> T>,
}

impl<T: OtlpRequest> Codec for ExportCodec<T> {
    type Encode = T::Response;
    type Decode = T;
    type Encoder = ResponseEncoder<T::Response>;
    type Decoder = RequestDecoder<T>;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder {
            limits: self.limits,
            stage: self.stage.clone(),
            _request: PhantomData,
        }
    }
}

/// Encodes the export response.
struct ResponseEncoder<R>(PhantomData<fn(R)>);

impl<R: Message> Encoder for ResponseEncoder<R> {
    type Item = R;
    type Error = Status;

    fn encode(&mut self, item: R, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("the response could not be encoded: {e}")))
    }
}

/// Decodes an export request once its cost is known to be within the limits.
struct RequestDecoder<T> {
    limits: Limits,
    stage: Arc<OnceLock<Stage>>,
    _request: PhantomData<fn() -> T>,
}

impl<T: OtlpRequest> Decoder for RequestDecoder<T> {
    type Item = T;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<T>, Status> {
        let message = src.copy_to_bytes(src.remaining());
        match ingest::decode_within::<T>(Encoding::Protobuf, &message, &self.limits) {
            Ok(request) => Ok(Some(request)),
            Err(e) => {
                let _ = self.stage.set(Stage::Refused(e.reason()));
                Err(Status::from(e))
            }
        }
    }
}

/// The method: stores the decoded request.
struct ExportMethod<T> {
    state: AppState,
    stage: Arc<OnceLock<Stage>>,
    _request: PhantomData<fn() -> T>,
}

impl<T: OtlpRequest> UnaryService<T> for ExportMethod<T> {
    type Response = T::Response;
    type Future = BoxFuture<tonic::Response<T::Response>, Status>;

    fn call(&mut self, request: tonic::Request<T>) -> Self::Future {
        let _ = self.stage.set(Stage::Handled);
        let state = self.state.clone();
        Box::pin(async move {
            let response = ingest::store_request(
                &state.store,
                &state.metrics,
                &state.redactor,
                &state.temporality,
                &state.genai,
                request.into_inner(),
            )
            .await?;
            Ok(tonic::Response::new(response))
        })
    }
}

/// The gRPC router with the three services, ready to serve.
pub fn router(state: AppState) -> tonic::service::Routes {
    tonic::service::Routes::default()
        .add_service(ExportService::<ExportTraceServiceRequest>::new(
            state.clone(),
        ))
        .add_service(ExportService::<ExportMetricsServiceRequest>::new(
            state.clone(),
        ))
        .add_service(ExportService::<ExportLogsServiceRequest>::new(state))
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes.
///
/// Slow and silent clients are bounded: a request, its message read included, has 30 s
/// (then `CANCELLED`, which exporters retry); a connection is pinged every 30 s over
/// HTTP/2 and closed when a ping goes 10 s unanswered (TCP keepalive after 60 s idle
/// finds dead peers below that); at most 64 requests run at once on one connection;
/// and every connection is recycled after an hour (`GOAWAY`, exporters reconnect) and
/// cut 30 s later if still open, which also ends one that never finished its HTTP/2
/// handshake.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .timeout(Duration::from_secs(30))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .concurrency_limit_per_connection(64)
        .max_concurrent_streams(Some(64_u32))
        .max_connection_age(Duration::from_secs(3600))
        .max_connection_age_grace(Duration::from_secs(30))
        .add_routes(router(state))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(Duration::from_secs(60))),
            shutdown,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_is_resource_exhausted_with_retry_info() {
        let status = Status::from(IngestError::Overloaded);
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = status.get_error_details();
        let retry = details.retry_info().expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
        assert_eq!(
            Status::from(IngestError::Malformed("invalid protobuf".into())).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            denied(Denied::Unauthenticated).code(),
            Code::Unauthenticated
        );
        let internal = Status::from(IngestError::Internal("disk I/O error at row 7".into()));
        assert_eq!(internal.code(), Code::Internal);
        assert!(
            !internal.message().contains("row 7"),
            "details stay in the log"
        );
    }

    #[test]
    fn a_request_over_a_limit_is_invalid_argument_which_exporters_do_not_retry() {
        let status = Status::from(IngestError::TooLarge("more than 100000 items".into()));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.get_error_details().retry_info().is_none());
    }

    fn code(response: &http::Response<Body>) -> Option<Code> {
        Status::from_header_map(response.headers()).map(|s| s.code())
    }

    #[test]
    fn tonic_refusals_while_reading_a_message_become_invalid_argument() {
        let cases = [
            (
                Status::out_of_range("decoded message length too large"),
                "too_large",
            ),
            (
                Status::resource_exhausted("size limit exceeded while decompressing message"),
                "too_large",
            ),
            (
                Status::internal("Error decompressing: corrupt deflate stream"),
                "malformed",
            ),
            (
                Status::internal("Unexpected EOF decoding stream."),
                "malformed",
            ),
        ];
        for (status, want) in cases {
            let message = status.message().to_string();
            let (reason, response) = settle(None, status.into_http());
            assert_eq!(reason, Some(want), "{message}");
            assert_eq!(code(&response), Some(Code::InvalidArgument), "{message}");
            let sent = Status::from_header_map(response.headers()).expect("status");
            assert_eq!(sent.message(), message);
        }
        // An unsupported compression stays UNIMPLEMENTED.
        let (reason, response) = settle(None, Status::unimplemented("br").into_http());
        assert_eq!((reason, code(&response)), (None, Some(Code::Unimplemented)));
    }

    #[test]
    fn answers_of_the_codec_and_the_method_are_kept() {
        // The codec's own refusal is already INVALID_ARGUMENT; it is counted here.
        let refused = Status::from(IngestError::TooLarge("over".into())).into_http();
        let (reason, response) = settle(Some(Stage::Refused("too_large")), refused);
        assert_eq!(
            (reason, code(&response)),
            (Some("too_large"), Some(Code::InvalidArgument))
        );
        // An overloaded store keeps RESOURCE_EXHAUSTED and its RetryInfo; the store's own
        // failure keeps INTERNAL.
        for status in [
            Status::from(IngestError::Overloaded),
            Status::from(IngestError::Internal("disk".into())),
        ] {
            let want = status.code();
            let (reason, response) = settle(Some(Stage::Handled), status.into_http());
            assert_eq!((reason, code(&response)), (None, Some(want)));
        }
        let overloaded = Status::from(IngestError::Overloaded).into_http();
        let (_, response) = settle(Some(Stage::Handled), overloaded);
        let sent = Status::from_header_map(response.headers()).expect("status");
        assert!(sent.get_error_details().retry_info().is_some());
    }
}
