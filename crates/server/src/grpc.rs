//! OTLP/gRPC on its own port (4317): the three collector services of
//! `opentelemetry-proto`, served by tonic, storing through the same path as OTLP/HTTP
//! ([`crate::ingest`], whose errors map to gRPC codes here).
//! gzip and zstd request compression are accepted; messages over the decompressed size
//! limit are refused by tonic before decoding; an overloaded store answers
//! `RESOURCE_EXHAUSTED` with `RetryInfo`, which OTLP exporters retry.

use crate::auth::{Denied, Scope};
use crate::http::AppState;
use crate::ingest::{self, IngestError, OtlpRequest};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The three OTLP services over one state.
#[derive(Clone)]
pub struct Otlp {
    state: AppState,
}

impl From<IngestError> for Status {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Malformed(m) => Status::invalid_argument(m),
            IngestError::TooLarge(m) => Status::resource_exhausted(m),
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

impl Otlp {
    async fn export<T: OtlpRequest>(
        &self,
        request: Request<T>,
    ) -> Result<Response<T::Response>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if let Err(refused) = self.state.auth.check(header, Scope::Ingest) {
            self.state
                .metrics
                .rejected_request(T::SIGNAL, "unauthorized");
            return Err(denied(refused));
        }
        Ok(Response::new(
            ingest::store_request(&self.state.store, &self.state.metrics, request.into_inner())
                .await?,
        ))
    }
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        Otlp::export(self, request).await
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        Otlp::export(self, request).await
    }
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        Otlp::export(self, request).await
    }
}

/// The gRPC router with the three services, ready to serve.
pub fn router(state: AppState) -> tonic::service::Routes {
    let limit = state.limits.max_decompressed_bytes;
    let otlp = Otlp { state };
    let mut routes = tonic::service::Routes::default();
    macro_rules! add {
        ($server:ident) => {
            routes = routes.add_service(
                $server::new(otlp.clone())
                    .accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd)
                    .send_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size(limit),
            );
        };
    }
    add!(TraceServiceServer);
    add!(MetricsServiceServer);
    add!(LogsServiceServer);
    routes
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
}
