//! Exporters: where a batch goes once the pipeline has built it.
//!
//! Every exporter implements [`Exporter`]; the client never knows which one it drives.
//! The unit of export is one OTLP request ([`SignalRequest`]): traces, metrics or logs.
//!
//! Contract:
//! - `export` is called from the pipeline's single background thread, never
//!   concurrently, and must return by the `deadline` it is given (give up and return
//!   a retryable error rather than block past it).
//! - The exporter does not retry: it classifies each failure as retryable or not
//!   ([`ExportError::is_retryable`]) and the pipeline retries with backoff and jitter,
//!   then spools or drops.
//! - `flush` and `shutdown` have defaults that do nothing.
//!
//! [`OtlpHttpExporter`] and [`JsonLinesExporter`] are always built; `ClickHouseExporter`
//! needs the SDK's `clickhouse` feature and `KafkaExporter` its `kafka` feature.

#[cfg(feature = "clickhouse")]
mod clickhouse;
mod json_lines;
#[cfg(feature = "kafka")]
mod kafka;
mod otlp_http;
pub mod retry;

#[cfg(feature = "clickhouse")]
#[cfg_attr(docsrs, doc(cfg(feature = "clickhouse")))]
pub use clickhouse::ClickHouseExporter;
pub use json_lines::JsonLinesExporter;
#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub use kafka::KafkaExporter;
pub use otlp_http::{OtlpEncoding, OtlpHttpExporter, compress};
pub use retry::RetryClass;

use automagik_telemetry_core::SignalRequest;
use std::time::{Duration, Instant};

/// The `User-Agent` of every request the exporters send.
const USER_AGENT: &str = concat!("automagik-telemetry-rust/", env!("CARGO_PKG_VERSION"));

/// The HTTP client of the HTTP exporters: every status is an answer to classify (not an
/// error), each request bounded by `timeout` as a whole.
fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(USER_AGENT)
        .build()
        .into()
}

/// What a successful export reports back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportOutcome {
    /// Items the receiver rejected (OTLP partial success); never retried.
    pub rejected: u64,
    /// The receiver's explanation, if it gave one.
    pub message: Option<String>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The connection failed or broke (refused, reset, DNS): retryable.
    #[error("transport error: {0}")]
    Transport(String),
    /// The request did not complete in time: retryable.
    #[error("request timed out")]
    Timeout,
    /// The receiver answered with a non-success status.
    #[error("receiver answered HTTP {status}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// HTTP status code.
        status: u16,
        /// How the status is treated.
        class: RetryClass,
        /// A short excerpt of the receiver's message, if any.
        message: Option<String>,
    },
    /// Writing to a local file or stream failed: retryable.
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ExportError {
    /// Whether the pipeline should try again.
    pub fn is_retryable(&self) -> bool {
        match self {
            ExportError::Transport(_) | ExportError::Timeout | ExportError::Io(_) => true,
            ExportError::Status { class, .. } => class.is_retryable(),
        }
    }

    /// How long the receiver asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ExportError::Status {
                class: RetryClass::Retryable { retry_after },
                ..
            } => *retry_after,
            _ => None,
        }
    }
}

/// The time one request may take: until `deadline`, at most `timeout`; an error when
/// none is left.
fn time_left(deadline: Instant, timeout: Duration) -> Result<Duration, ExportError> {
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .min(timeout);
    if remaining.is_zero() {
        Err(ExportError::Timeout)
    } else {
        Ok(remaining)
    }
}

/// Sends `body` with `remaining` as the request's whole time budget; a timeout or a
/// transport failure becomes the matching (retryable) error.
fn send(
    req: ureq::RequestBuilder<ureq::typestate::WithBody>,
    body: &[u8],
    remaining: Duration,
) -> Result<ureq::http::Response<ureq::Body>, ExportError> {
    match req
        .config()
        .timeout_global(Some(remaining))
        .build()
        .send(body)
    {
        Ok(r) => Ok(r),
        Err(ureq::Error::Timeout(_)) => Err(ExportError::Timeout),
        Err(e) => Err(ExportError::Transport(e.to_string())),
    }
}

/// Sends OTLP requests somewhere. See the module docs for the contract.
pub trait Exporter: Send + 'static {
    /// A short name for diagnostics, such as `otlp-http`.
    fn name(&self) -> &'static str;

    /// Sends one request, returning by `deadline`.
    fn export(
        &mut self,
        request: &SignalRequest,
        deadline: Instant,
    ) -> Result<ExportOutcome, ExportError>;

    /// Pushes out anything the exporter buffers itself.
    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases resources; called once, after the last export.
    fn shutdown(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
}

impl<E: Exporter + ?Sized> Exporter for Box<E> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn export(
        &mut self,
        request: &SignalRequest,
        deadline: Instant,
    ) -> Result<ExportOutcome, ExportError> {
        (**self).export(request, deadline)
    }
    fn flush(&mut self) -> Result<(), ExportError> {
        (**self).flush()
    }
    fn shutdown(&mut self) -> Result<(), ExportError> {
        (**self).shutdown()
    }
}
