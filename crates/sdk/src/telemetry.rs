//! The [`Telemetry`] handle and its builder. The handle's span constructors
//! (`span`, `span_builder`) are defined beside the spans in `span.rs`, and
//! `tracing_layer` beside the layer in `layer.rs`: both build on this module, which
//! depends on neither.

use crate::active::{Active, exception_attributes, now_nanos};
use crate::config::{Backend, Compression, Config, ConfigError};
use crate::context::{current_context, current_trace};
#[cfg(feature = "clickhouse")]
use crate::export::ClickHouseExporter;
#[cfg(feature = "kafka")]
use crate::export::KafkaExporter;
use crate::export::{Exporter, JsonLinesExporter, OtlpEncoding, OtlpHttpExporter};
use crate::install::InstallState;
use crate::pipeline::{
    DeliveryStats, DropReason, FlushError, Pipeline, PipelineSettings, RetryPolicy,
};
use automagik_telemetry_core::consent::{self, ConsentDecision, ConsentInputs, OPT_OUT_FILE};
use automagik_telemetry_core::otlp::DEFAULT_HISTOGRAM_BOUNDS;
use automagik_telemetry_core::redact::RedactorBuilder;
use automagik_telemetry_core::{
    KeyValue, MetricKind, MetricRecord, Origin, Record, Redactor, Severity, SpanContext,
    TraceparentError,
};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The SDK's name, sent as `telemetry.sdk.name`.
pub const SDK_NAME: &str = "automagik-telemetry";

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send>;
type Edit = Box<dyn FnOnce(&mut Config) + Send>;
type RedactionEdit = Box<dyn FnOnce(RedactorBuilder) -> RedactorBuilder + Send>;

/// What a [`TelemetryBuilder`] resolves before it starts anything: the configuration and
/// the consent decision. [`Effective::to_json`] describes them the same way in every
/// language that embeds the SDK.
#[derive(Clone, Debug)]
pub struct Effective {
    /// Defaults < environment < code.
    pub config: Config,
    /// Whether anything would be sent, and which rule said so.
    pub decision: ConsentDecision,
}

impl Effective {
    /// The configuration and the decision as one JSON object (see [`crate::describe`]).
    pub fn to_json(&self) -> serde_json::Value {
        crate::describe::describe(&self.config, &self.decision)
    }
}

/// Builds a [`Telemetry`] client: defaults < environment < what is set here.
#[must_use = "call .build() to get a Telemetry handle"]
pub struct TelemetryBuilder {
    lookup: Option<Lookup>,
    edits: Vec<Edit>,
    consent: Option<bool>,
    default_enabled: Option<bool>,
    home_dir: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    redaction: Vec<RedactionEdit>,
    exporter: Option<Box<dyn Exporter>>,
    histogram_bounds: Vec<f64>,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("consent", &self.consent)
            .field("default_enabled", &self.default_enabled)
            .finish_non_exhaustive()
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => |$c:ident, $v:ident| $apply:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(self, value: impl Into<$ty>) -> Self {
            let $v: $ty = value.into();
            self.edit(move |$c: &mut Config| $apply)
        }
    )*};
}

impl TelemetryBuilder {
    fn new() -> Self {
        TelemetryBuilder {
            lookup: None,
            edits: Vec::new(),
            consent: None,
            default_enabled: None,
            home_dir: None,
            state_dir: None,
            redaction: Vec::new(),
            exporter: None,
            histogram_bounds: DEFAULT_HISTOGRAM_BOUNDS.to_vec(),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.edits.push(Box::new(f));
        self
    }

    setters! {
        /// `service.name` of everything sent.
        project_name: String => |c, v| c.project_name = v;
        /// ClickHouse HTTP interface URL (backend `clickhouse`).
        clickhouse_endpoint: String => |c, v| c.clickhouse.endpoint = v.trim_end_matches('/').to_string();
        /// ClickHouse database (backend `clickhouse`).
        clickhouse_database: String => |c, v| c.clickhouse.database = v;
        /// ClickHouse user (backend `clickhouse`).
        clickhouse_user: String => |c, v| c.clickhouse.user = v;
        /// ClickHouse password (backend `clickhouse`); never printed.
        clickhouse_password: String => |c, v| c.clickhouse.password = v;
        /// Whether the `clickhouse` backend creates its database and tables on first use.
        clickhouse_create_schema: bool => |c, v| c.clickhouse.create_schema = v;
        /// `service.version` of everything sent.
        version: String => |c, v| c.version = v;
        /// OTLP base URL (`/v1/traces` and so on are appended).
        endpoint: String => |c, v| c.endpoint = v.trim_end_matches('/').to_string();
        /// Where records go.
        backend: Backend => |c, v| c.backend = v;
        /// Records per export.
        batch_size: usize => |c, v| c.batch_size = v.max(1);
        /// Longest wait before a partial batch is sent.
        flush_interval: Duration => |c, v| c.flush_interval = v.max(Duration::from_millis(1));
        /// Records held in memory before new ones are dropped.
        queue_size: usize => |c, v| c.queue_size = v.max(1);
        /// Body compression.
        compression: Compression => |c, v| c.compression = v;
        /// Bodies smaller than this many bytes are sent plain.
        compression_threshold: usize => |c, v| c.compression_threshold = v;
        /// Retries after the first attempt.
        max_retries: u32 => |c, v| c.max_retries = v;
        /// Base delay of the exponential backoff.
        retry_backoff: Duration => |c, v| c.retry_backoff = v;
        /// Longest single backoff delay.
        max_backoff: Duration => |c, v| c.max_backoff = v;
        /// Total time a batch may spend in retries (separate from the per-request timeout).
        retry_budget: Duration => |c, v| c.retry_budget = v;
        /// Per-request timeout.
        timeout: Duration => |c, v| c.timeout = v.max(Duration::from_millis(1));
        /// Where undeliverable batches wait on disk until the endpoint is back.
        spool_dir: PathBuf => |c, v| c.spool_dir = Some(v);
        /// Most bytes the spool may hold.
        spool_max_bytes: u64 => |c, v| c.spool_max_bytes = v;
        /// Print each request sent to stderr.
        verbose: bool => |c, v| c.verbose = v;
        /// Output file of the `file` backend.
        file_path: PathBuf => |c, v| c.file_path = v;
        /// How long dropping the last handle waits for the final flush.
        drop_timeout: Duration => |c, v| c.drop_timeout = v;
    }

    /// Adds a request header (for example an API key for a hosted endpoint).
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (n, v) = (name.into(), value.into());
        self.edit(move |c| c.headers.push((n, v)))
    }

    /// Adds a resource attribute.
    pub fn resource_attribute(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (k, v) = (key.into(), value.into());
        self.edit(move |c| c.resource_attributes.push((k, v)))
    }

    /// Consent given (`true`) or revoked (`false`) by the program, for example after
    /// asking the user. Opt-outs and development environments still win.
    pub fn consent(mut self, granted: bool) -> Self {
        self.consent = Some(granted);
        self
    }

    /// What to do when nobody has said anything (the library's own default is disabled).
    pub fn default_enabled(mut self, enabled: bool) -> Self {
        self.default_enabled = Some(enabled);
        self
    }

    /// Reads configuration variables through `lookup` instead of the process environment.
    pub fn env_lookup(mut self, lookup: impl Fn(&str) -> Option<String> + Send + 'static) -> Self {
        self.lookup = Some(Box::new(lookup));
        self
    }

    /// The home directory in which the opt-out file is looked for (default: the user's).
    pub fn home_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home_dir = Some(dir.into());
        self
    }

    /// Where the install id and salt are kept (default: the user's config directory).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Extends or allow-lists the redaction rules.
    ///
    /// ```
    /// # use automagik_telemetry::Telemetry;
    /// let t = Telemetry::builder()
    ///     .redaction(|r| r.add_rule("order_id", r"ORD-\d{6}").allow_key("server.address"))
    ///     .build();
    /// ```
    pub fn redaction(
        mut self,
        f: impl FnOnce(RedactorBuilder) -> RedactorBuilder + Send + 'static,
    ) -> Self {
        self.redaction.push(Box::new(f));
        self
    }

    /// Sends through this exporter instead of the configured backend.
    pub fn exporter(mut self, exporter: impl Exporter) -> Self {
        self.exporter = Some(Box::new(exporter));
        self
    }

    /// Histogram bucket boundaries (default: OpenTelemetry's).
    pub fn histogram_boundaries(mut self, bounds: Vec<f64>) -> Self {
        let mut bounds: Vec<f64> = bounds.into_iter().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        self.histogram_bounds = bounds;
        self
    }

    /// The configuration and the consent decision [`build`](Self::build) would use, without
    /// starting anything (no thread, no install id, no exporter): what a program, or a
    /// package in another language, prints as its effective configuration.
    pub fn effective(mut self) -> Result<Effective, ConfigError> {
        let (config, decision) = self.resolve()?;
        Ok(Effective { config, decision })
    }

    /// Consent first (a refused consent needs no valid configuration to be read out),
    /// then defaults < environment < the edits made in code.
    fn resolve(&mut self) -> Result<(Config, ConsentDecision), ConfigError> {
        let lookup: Lookup = self
            .lookup
            .take()
            .unwrap_or_else(|| Box::new(|k| std::env::var(k).ok()));
        let mut inputs = ConsentInputs::from_lookup(&lookup);
        inputs.in_code = self.consent;
        inputs.program_default = self.default_enabled;
        let home = self
            .home_dir
            .take()
            .or_else(|| lookup("HOME").filter(|h| !h.is_empty()).map(PathBuf::from))
            .or_else(dirs::home_dir);
        inputs.opt_out_file = home.map(|h| h.join(OPT_OUT_FILE)).filter(|p| p.exists());
        let decision = consent::decide(&inputs)?;
        let mut config = Config::from_lookup(&lookup)?;
        for edit in std::mem::take(&mut self.edits) {
            edit(&mut config);
        }
        Ok((config, decision))
    }

    /// Decides consent, reads the configuration and, when enabled, starts the one
    /// background thread. A disabled client starts nothing and opens nothing.
    pub fn build(mut self) -> Result<Telemetry, ConfigError> {
        let (config, decision) = self.resolve()?;
        if !decision.enabled {
            return Ok(Telemetry {
                inner: None,
                consent: Arc::new(decision),
            });
        }

        let install = InstallState::load_or_create(self.state_dir.as_deref());
        let mut redaction = Redactor::builder().salt(install.salt.clone());
        for f in self.redaction {
            redaction = f(redaction);
        }
        let redactor = redaction.build()?;
        let exporter = match self.exporter {
            Some(e) => e,
            None => exporter_for(&config)?,
        };
        let origin = Origin::new(
            &resource_attributes(&config, &install.install_id),
            SDK_NAME,
            env!("CARGO_PKG_VERSION"),
        );
        let settings = PipelineSettings {
            queue_size: config.queue_size,
            batch_size: config.batch_size,
            flush_interval: config.flush_interval,
            retry: RetryPolicy {
                max_retries: config.max_retries,
                base: config.retry_backoff,
                max_backoff: config.max_backoff,
                budget: config.retry_budget,
                timeout: config.timeout,
            },
            spool_dir: config.spool_dir.clone(),
            spool_max_bytes: config.spool_max_bytes,
            verbose: config.verbose,
            histogram_bounds: self.histogram_bounds,
        };
        let pipeline = Pipeline::start(settings, exporter, origin).map_err(ConfigError::Thread)?;
        Ok(Telemetry {
            inner: Some(Arc::new(Active {
                pipeline,
                redactor,
                install_id: install.install_id,
                config,
            })),
            consent: Arc::new(decision),
        })
    }
}

fn exporter_for(config: &Config) -> Result<Box<dyn Exporter>, ConfigError> {
    Ok(match config.backend {
        Backend::Otlp => Box::new(OtlpHttpExporter::new(config, OtlpEncoding::Protobuf)),
        Backend::OtlpJson => Box::new(OtlpHttpExporter::new(config, OtlpEncoding::Json)),
        Backend::File => Box::new(JsonLinesExporter::file(&config.file_path).map_err(
            |source| ConfigError::Output {
                path: config.file_path.clone(),
                source,
            },
        )?),
        Backend::Stdout => Box::new(JsonLinesExporter::stdout()),
        #[cfg(feature = "clickhouse")]
        Backend::ClickHouse => Box::new(ClickHouseExporter::new(config)),
        #[cfg(not(feature = "clickhouse"))]
        Backend::ClickHouse => return Err(ConfigError::UnsupportedBackend(Backend::ClickHouse)),
        #[cfg(feature = "kafka")]
        Backend::Kafka => Box::new(
            KafkaExporter::new(&config.kafka_brokers, &[], config.timeout)
                .map_err(ConfigError::Kafka)?,
        ),
        #[cfg(not(feature = "kafka"))]
        Backend::Kafka => return Err(ConfigError::UnsupportedBackend(Backend::Kafka)),
    })
}

fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// Resource attributes: `OTEL_RESOURCE_ATTRIBUTES` first, then ours on top. Host name
/// and user name are never added.
fn resource_attributes(config: &Config, install_id: &str) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = Vec::new();
    let mut set = |k: &str, v: String| {
        out.retain(|kv| kv.key.as_str() != k);
        out.push(KeyValue::new(k.to_string(), v));
    };
    let mut service_name_from_env = None;
    for (k, v) in &config.resource_attributes {
        if k == "service.name" {
            service_name_from_env = Some(v.clone());
        }
        set(k, v.clone());
    }
    let name = match service_name_from_env {
        Some(n) if config.project_name == "unknown_service" => n,
        _ => config.project_name.clone(),
    };
    set("service.name", name);
    if !config.version.is_empty() {
        set("service.version", config.version.clone());
    }
    set("service.instance.id", install_id.to_string());
    set("telemetry.sdk.name", SDK_NAME.to_string());
    set("telemetry.sdk.language", "rust".to_string());
    set(
        "telemetry.sdk.version",
        env!("CARGO_PKG_VERSION").to_string(),
    );
    set("os.type", os_type().to_string());
    out
}

/// The telemetry client: cheap to clone, `Send + Sync`, usable from any thread, needs
/// no async runtime. Dropping the last clone flushes what is queued.
///
/// ```no_run
/// use automagik_telemetry::{MetricKind, Telemetry};
///
/// let telemetry = Telemetry::builder().project_name("app").version("1.2.3").consent(true).build()?;
/// telemetry.track_event("signup", [("plan", "pro")]);
/// telemetry.track_metric("queue.depth", 17.0, MetricKind::Gauge, [("queue", "emails")]);
/// {
///     let _span = telemetry.span("checkout");
///     // ... work; nested spans and logs here are children of "checkout"
/// }
/// telemetry.shutdown(std::time::Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Telemetry {
    pub(crate) inner: Option<Arc<Active>>,
    consent: Arc<ConsentDecision>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("enabled", &self.inner.is_some())
            .field("consent", &self.consent)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// A builder: defaults < environment < code.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::new()
    }

    /// A client that sends nothing (and costs nothing).
    pub fn disabled() -> Self {
        Telemetry {
            inner: None,
            consent: Arc::new(ConsentDecision {
                enabled: false,
                rule: consent::ConsentRule::RevokedInCode,
            }),
        }
    }

    /// Whether anything is sent.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Why the client is enabled or disabled.
    pub fn consent_decision(&self) -> &ConsentDecision {
        &self.consent
    }

    /// The resolved configuration, when enabled.
    pub fn config(&self) -> Option<&Config> {
        self.inner.as_ref().map(|a| &a.config)
    }

    /// The anonymous install id sent as `service.instance.id`, when enabled.
    pub fn install_id(&self) -> Option<&str> {
        self.inner.as_ref().map(|a| a.install_id.as_str())
    }

    /// The redactor in force, when enabled (to preview what it does).
    pub fn redactor(&self) -> Option<&Redactor> {
        self.inner.as_ref().map(|a| &a.redactor)
    }

    /// A user id hashed with this install's salt, when enabled. Attributes named like
    /// `user.id` are hashed this way automatically.
    pub fn hash_user_id(&self, id: &str) -> Option<String> {
        self.inner.as_ref().map(|a| a.redactor.hash_user_id(id))
    }

    /// Delivery counters: queued, exported, spooled, and dropped by reason.
    pub fn stats(&self) -> DeliveryStats {
        self.inner
            .as_ref()
            .map(|a| a.pipeline.stats())
            .unwrap_or_default()
    }

    /// Items dropped for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.stats().dropped(reason)
    }

    /// Counts a record that never reached the SDK as dropped for `reason`: for a layer
    /// in another language whose record could not be converted (an attribute object
    /// whose getter throws, say), so that [`Telemetry::stats`] still accounts for every
    /// call. Nothing when disabled.
    pub fn count_dropped(&self, reason: DropReason) {
        if let Some(active) = &self.inner {
            active.pipeline.counters.record_drop(reason, 1);
        }
    }

    /// A product event: a log record with `event.name`.
    #[inline]
    pub fn track_event<A>(&self, name: impl Into<Cow<'static, str>>, attributes: A)
    where
        A: IntoIterator,
        A::Item: Into<KeyValue>,
    {
        let Some(active) = &self.inner else { return };
        let attributes = attributes.into_iter().map(Into::into);
        active.emit_log(
            Severity::Info,
            None,
            Some(name.into()),
            attributes,
            current_trace(),
        );
    }

    /// An error: a log record of severity ERROR with `exception.type`,
    /// `exception.message` and `exception.stacktrace` (the `source()` chain, and a
    /// backtrace when `RUST_BACKTRACE` enables one).
    pub fn track_error<E, A>(&self, error: &E, attributes: A)
    where
        E: std::error::Error + ?Sized,
        A: IntoIterator,
        A::Item: Into<KeyValue>,
    {
        let Some(active) = &self.inner else { return };
        let mut attrs = exception_attributes(error);
        attrs.extend(attributes.into_iter().map(Into::into));
        let message = error.to_string();
        active.emit_log(
            Severity::Error,
            Some(Cow::Owned(message)),
            None,
            attrs,
            current_trace(),
        );
    }

    /// A metric measurement, aggregated per batch with others of the same name, kind
    /// and attributes. NaN, infinities and negative counter increments are dropped
    /// and counted as [`DropReason::InvalidValue`].
    #[inline]
    pub fn track_metric<A>(
        &self,
        name: impl Into<Cow<'static, str>>,
        value: f64,
        kind: MetricKind,
        attributes: A,
    ) where
        A: IntoIterator,
        A::Item: Into<KeyValue>,
    {
        let Some(active) = &self.inner else { return };
        if !value.is_finite() || (kind == MetricKind::Counter && value < 0.0) {
            active
                .pipeline
                .counters
                .record_drop(DropReason::InvalidValue, 1);
            return;
        }
        let mut attributes: Vec<KeyValue> = attributes.into_iter().map(Into::into).collect();
        active.redactor.redact_attributes(&mut attributes);
        active
            .pipeline
            .enqueue(Record::Metric(Box::new(MetricRecord {
                name: name.into(),
                kind,
                value,
                time_unix_nano: now_nanos(),
                attributes,
            })));
    }

    /// A log record.
    #[inline]
    pub fn track_log<A>(
        &self,
        severity: Severity,
        body: impl Into<Cow<'static, str>>,
        attributes: A,
    ) where
        A: IntoIterator,
        A::Item: Into<KeyValue>,
    {
        let Some(active) = &self.inner else { return };
        let attributes = attributes.into_iter().map(Into::into);
        active.emit_log(
            severity,
            Some(body.into()),
            None,
            attributes,
            current_trace(),
        );
    }

    /// The W3C `traceparent` of this thread's current span, to send with an outgoing request.
    pub fn inject_traceparent(&self) -> Option<String> {
        current_context().map(|c| c.to_traceparent())
    }

    /// Parses an incoming W3C `traceparent`, to use as a parent with
    /// [`SpanBuilder::parent`](crate::SpanBuilder::parent).
    pub fn extract_traceparent(header: &str) -> Result<SpanContext, TraceparentError> {
        SpanContext::from_traceparent(header)
    }

    /// Exports everything queued so far, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        match &self.inner {
            Some(a) => a.pipeline.flush(timeout),
            None => Ok(()),
        }
    }

    /// Flushes and stops the background thread, returning within `timeout` whatever
    /// the endpoint does. Records tracked afterwards are dropped and counted.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        match &self.inner {
            Some(a) => a.pipeline.shutdown(timeout),
            None => Ok(()),
        }
    }
}
