//! # automagik-telemetry
//!
//! Privacy-first telemetry for applications and AI agents. Events, errors, metrics,
//! logs and spans are checked against the user's consent, stripped of personal data,
//! queued without ever blocking the caller, batched on one background thread and sent
//! as OpenTelemetry (OTLP) to any OTLP endpoint — the Automagik Telemetry server by
//! default. No async runtime is needed.
//!
//! ```no_run
//! use automagik_telemetry::{MetricKind, Severity, Telemetry};
//! use std::time::Duration;
//!
//! let telemetry = Telemetry::builder()
//!     .project_name("my-app")
//!     .version("1.2.3")
//!     .consent(true) // or AUTOMAGIK_TELEMETRY_ENABLED=true
//!     .build()?;
//! println!("{}", telemetry.consent_decision());
//! telemetry.track_event("signup", [("plan", "pro")]);
//! telemetry.track_metric("jobs.done", 1.0, MetricKind::Counter, [("queue", "default")]);
//! telemetry.track_log(Severity::Info, "started", automagik_telemetry::attrs! { "port" => 8080 });
//! telemetry.shutdown(Duration::from_secs(5))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pipeline: call -> consent gate -> redact -> record -> bounded queue -> batcher
//! thread -> exporter (encode -> compress -> send, retry) -> spool on failure.
//!
//! # Cargo features
//!
//! The default build sends OTLP/HTTP (protobuf and JSON bodies), writes files and
//! standard output, and has the `tracing` layer ([`Telemetry::tracing_layer`]). The
//! heavier backends are opt-in:
//!
//! | Feature | Adds |
//! |---|---|
//! | `kafka` | the `kafka` backend ([`Backend::Kafka`], `export::KafkaExporter`) and the `kafka` module (publisher with dead-letter topics, request/reply); builds librdkafka from source, which needs a C toolchain |
//! | `clickhouse` | the `clickhouse` backend ([`Backend::ClickHouse`], `export::ClickHouseExporter`): direct inserts over ClickHouse's HTTP interface |
//!
//! ```toml
//! [dependencies]
//! automagik-telemetry = { version = "0.1", features = ["kafka"] }
//! ```
//!
//! The configuration knows every backend whatever the build: choosing one whose feature
//! is not compiled in (in code or with `AUTOMAGIK_TELEMETRY_BACKEND`) makes
//! [`TelemetryBuilder::build`] return [`ConfigError::UnsupportedBackend`], whose
//! message names the feature to enable.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod active;
pub mod agent;
pub mod config;
mod context;
pub mod describe;
pub mod export;
mod install;
#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub mod kafka;
pub mod layer;
pub mod pipeline;
pub mod span;
mod telemetry;

pub use agent::{AgentRun, LlmCall, ToolCall};
pub use automagik_telemetry_core::{
    ConsentDecision, ConsentRule, Key, KeyValue, MetricKind, PiiKind, Redactor, RedactorBuilder,
    Severity, SpanContext, SpanKind, SpanStatus, TraceparentError, Value, attrs,
};
pub use config::{Backend, Compression, Config, ConfigError};
pub use export::{ExportError, ExportOutcome, Exporter};
pub use install::default_state_dir;
pub use layer::TelemetryLayer;
pub use pipeline::{DeliveryStats, DropReason, FlushError};
pub use span::{Span, SpanBuilder};
pub use telemetry::{Effective, SDK_NAME, Telemetry, TelemetryBuilder};
