//! The client: a [`Telemetry`] handle built from the JavaScript options, its track calls,
//! and flush and shutdown as tasks on the libuv thread pool, so that JavaScript's event
//! loop never waits for the network.

use crate::agent::NativeAgentRun;
use crate::convert::{self, JsAttributes};
use crate::span::{NativeSpan, exception_attributes, span_kind};
use automagik_telemetry::{
    Backend, Compression, Config, ConfigError, ConsentRule, DropReason, Effective, FlushError,
    MetricKind, Severity, SpanContext, Telemetry, TelemetryBuilder,
};
use automagik_telemetry_core::consent::OPT_OUT_FILE;
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Error, Result, Task};
use napi_derive::napi;
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The default deadline of `flush()`, `shutdown()` and of the flush at process exit:
/// the SDK's own drop timeout.
const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the JavaScript constructor passes (durations in milliseconds). Every field is
/// optional: what is not given comes from the environment, then the SDK's defaults.
#[napi(object)]
#[derive(Clone, Default)]
pub struct Options {
    /// `service.name`.
    pub project_name: Option<String>,
    /// `service.version`.
    pub version: Option<String>,
    /// OTLP base URL.
    pub endpoint: Option<String>,
    /// `otlp`, `otlp-json`, `clickhouse`, `kafka`, `file` or `stdout`.
    pub backend: Option<String>,
    /// Records per export.
    pub batch_size: Option<f64>,
    /// Longest wait before a partial batch is sent, in milliseconds.
    pub flush_interval_ms: Option<f64>,
    /// Records held in memory before new ones are dropped.
    pub queue_size: Option<f64>,
    /// `gzip`, `zstd` or `none`.
    pub compression: Option<String>,
    /// Bodies smaller than this many bytes are sent plain.
    pub compression_threshold: Option<f64>,
    /// Retries after the first attempt.
    pub max_retries: Option<f64>,
    /// Base delay of the exponential backoff, in milliseconds.
    pub retry_backoff_ms: Option<f64>,
    /// Longest single backoff delay, in milliseconds.
    pub max_backoff_ms: Option<f64>,
    /// Total time a batch may spend in retries, in milliseconds.
    pub retry_budget_ms: Option<f64>,
    /// Per-request timeout, in milliseconds.
    pub timeout_ms: Option<f64>,
    /// Where undeliverable batches wait on disk.
    pub spool_dir: Option<String>,
    /// Most bytes the spool may hold.
    pub spool_max_bytes: Option<f64>,
    /// Print each request sent to stderr.
    pub verbose: Option<bool>,
    /// Output file of the `file` backend.
    pub file_path: Option<String>,
    /// Default deadline of flush, shutdown and the flush at exit, in milliseconds.
    pub flush_timeout_ms: Option<f64>,
    /// Extra request headers.
    pub headers: Option<HashMap<String, String>>,
    /// Extra resource attributes.
    pub resource_attributes: Option<HashMap<String, String>>,
    /// ClickHouse HTTP interface URL.
    pub clickhouse_endpoint: Option<String>,
    /// ClickHouse database.
    pub clickhouse_database: Option<String>,
    /// ClickHouse user.
    pub clickhouse_user: Option<String>,
    /// ClickHouse password.
    pub clickhouse_password: Option<String>,
    /// Consent given (`true`) or revoked (`false`) by the program.
    pub consent: Option<bool>,
    /// What to do when nobody has said anything.
    pub default_enabled: Option<bool>,
    /// The home directory where the opt-out file is looked for.
    pub home_dir: Option<String>,
    /// Where the install id and salt are kept.
    pub state_dir: Option<String>,
    /// The environment to read instead of the process's (JavaScript passes
    /// `process.env`).
    pub env: Option<HashMap<String, String>>,
}

/// The options, checked and in the SDK's types.
#[derive(Clone, Default)]
struct Settings {
    project_name: Option<String>,
    version: Option<String>,
    endpoint: Option<String>,
    backend: Option<Backend>,
    batch_size: Option<usize>,
    flush_interval: Option<Duration>,
    queue_size: Option<usize>,
    compression: Option<Compression>,
    compression_threshold: Option<usize>,
    max_retries: Option<u32>,
    retry_backoff: Option<Duration>,
    max_backoff: Option<Duration>,
    retry_budget: Option<Duration>,
    timeout: Option<Duration>,
    spool_dir: Option<PathBuf>,
    spool_max_bytes: Option<u64>,
    verbose: Option<bool>,
    file_path: Option<PathBuf>,
    flush_timeout: Duration,
    headers: Vec<(String, String)>,
    resource_attributes: Vec<(String, String)>,
    clickhouse_endpoint: Option<String>,
    clickhouse_database: Option<String>,
    clickhouse_user: Option<String>,
    clickhouse_password: Option<String>,
    default_enabled: Option<bool>,
    home_dir: Option<PathBuf>,
    state_dir: Option<PathBuf>,
}

fn invalid(option: &str, why: impl std::fmt::Display) -> Error {
    Error::from_reason(format!("{option}: {why}"))
}

fn config_error(e: ConfigError) -> Error {
    Error::from_reason(e.to_string())
}

fn millis(option: &str, v: Option<f64>) -> Result<Option<Duration>> {
    v.map(|ms| {
        if ms.is_finite() && ms >= 0.0 {
            Duration::try_from_secs_f64(ms / 1000.0)
                .map_err(|_| invalid(option, format!("{ms} ms is too long")))
        } else {
            Err(invalid(
                option,
                format!("expected milliseconds (a number >= 0), got {ms}"),
            ))
        }
    })
    .transpose()
}

fn whole(option: &str, v: Option<f64>) -> Result<Option<u64>> {
    v.map(|n| {
        if n.is_finite() && n >= 0.0 && n.fract() == 0.0 {
            Ok(convert::count(n))
        } else {
            Err(invalid(
                option,
                format!("expected a whole number >= 0, got {n}"),
            ))
        }
    })
    .transpose()
}

fn to_usize(v: Option<u64>) -> Option<usize> {
    v.map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

fn parse_backend(v: &str) -> Result<Backend> {
    match v.trim().to_ascii_lowercase().as_str() {
        "otlp" | "otlp-proto" | "http/protobuf" => Ok(Backend::Otlp),
        "otlp-json" | "http/json" => Ok(Backend::OtlpJson),
        "clickhouse" => Ok(Backend::ClickHouse),
        "kafka" => Ok(Backend::Kafka),
        "file" => Ok(Backend::File),
        "stdout" => Ok(Backend::Stdout),
        other => Err(invalid(
            "backend",
            format!(
                "expected one of otlp, otlp-json, clickhouse, kafka, file, stdout; got {other:?}"
            ),
        )),
    }
}

fn parse_compression(v: &str) -> Result<Compression> {
    match v.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        "none" | "" => Ok(Compression::None),
        other => Err(invalid(
            "compression",
            format!("expected gzip, zstd or none; got {other:?}"),
        )),
    }
}

fn sorted(map: Option<HashMap<String, String>>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = map.unwrap_or_default().into_iter().collect();
    pairs.sort();
    pairs
}

impl Settings {
    fn parse(o: Options) -> Result<Self> {
        Ok(Settings {
            backend: o.backend.as_deref().map(parse_backend).transpose()?,
            batch_size: to_usize(whole("batchSize", o.batch_size)?),
            flush_interval: millis("flushInterval", o.flush_interval_ms)?,
            queue_size: to_usize(whole("queueSize", o.queue_size)?),
            compression: o
                .compression
                .as_deref()
                .map(parse_compression)
                .transpose()?,
            compression_threshold: to_usize(whole(
                "compressionThreshold",
                o.compression_threshold,
            )?),
            max_retries: whole("maxRetries", o.max_retries)?
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            retry_backoff: millis("retryBackoffBase", o.retry_backoff_ms)?,
            max_backoff: millis("maxBackoff", o.max_backoff_ms)?,
            retry_budget: millis("retryBudget", o.retry_budget_ms)?,
            timeout: millis("timeout", o.timeout_ms)?,
            spool_dir: o.spool_dir.map(PathBuf::from),
            spool_max_bytes: whole("spoolMaxBytes", o.spool_max_bytes)?,
            verbose: o.verbose,
            file_path: o.file_path.map(PathBuf::from),
            flush_timeout: millis("flushTimeout", o.flush_timeout_ms)?
                .unwrap_or(DEFAULT_FLUSH_TIMEOUT),
            headers: sorted(o.headers),
            resource_attributes: sorted(o.resource_attributes),
            project_name: o.project_name,
            version: o.version,
            endpoint: o.endpoint,
            clickhouse_endpoint: o.clickhouse_endpoint,
            clickhouse_database: o.clickhouse_database,
            clickhouse_user: o.clickhouse_user,
            clickhouse_password: o.clickhouse_password,
            default_enabled: o.default_enabled,
            home_dir: o.home_dir.map(PathBuf::from),
            state_dir: o.state_dir.map(PathBuf::from),
        })
    }

    /// The SDK's builder with these settings in code (over the environment `env`).
    fn builder(
        &self,
        env: &Arc<HashMap<String, String>>,
        consent: Option<bool>,
    ) -> TelemetryBuilder {
        let lookup = env.clone();
        let mut b = Telemetry::builder()
            .env_lookup(move |k| lookup.get(k).cloned())
            .drop_timeout(self.flush_timeout);
        if let Some(v) = &self.project_name {
            b = b.project_name(v.clone());
        }
        if let Some(v) = &self.version {
            b = b.version(v.clone());
        }
        if let Some(v) = &self.endpoint {
            b = b.endpoint(v.clone());
        }
        if let Some(v) = self.backend {
            b = b.backend(v);
        }
        if let Some(v) = self.batch_size {
            b = b.batch_size(v);
        }
        if let Some(v) = self.flush_interval {
            b = b.flush_interval(v);
        }
        if let Some(v) = self.queue_size {
            b = b.queue_size(v);
        }
        if let Some(v) = self.compression {
            b = b.compression(v);
        }
        if let Some(v) = self.compression_threshold {
            b = b.compression_threshold(v);
        }
        if let Some(v) = self.max_retries {
            b = b.max_retries(v);
        }
        if let Some(v) = self.retry_backoff {
            b = b.retry_backoff(v);
        }
        if let Some(v) = self.max_backoff {
            b = b.max_backoff(v);
        }
        if let Some(v) = self.retry_budget {
            b = b.retry_budget(v);
        }
        if let Some(v) = self.timeout {
            b = b.timeout(v);
        }
        if let Some(v) = &self.spool_dir {
            b = b.spool_dir(v.clone());
        }
        if let Some(v) = self.spool_max_bytes {
            b = b.spool_max_bytes(v);
        }
        if let Some(v) = self.verbose {
            b = b.verbose(v);
        }
        if let Some(v) = &self.file_path {
            b = b.file_path(v.clone());
        }
        for (k, v) in &self.headers {
            b = b.header(k.clone(), v.clone());
        }
        for (k, v) in &self.resource_attributes {
            b = b.resource_attribute(k.clone(), v.clone());
        }
        if let Some(v) = &self.clickhouse_endpoint {
            b = b.clickhouse_endpoint(v.clone());
        }
        if let Some(v) = &self.clickhouse_database {
            b = b.clickhouse_database(v.clone());
        }
        if let Some(v) = &self.clickhouse_user {
            b = b.clickhouse_user(v.clone());
        }
        if let Some(v) = &self.clickhouse_password {
            b = b.clickhouse_password(v.clone());
        }
        if let Some(v) = consent {
            b = b.consent(v);
        }
        if let Some(v) = self.default_enabled {
            b = b.default_enabled(v);
        }
        if let Some(v) = &self.home_dir {
            b = b.home_dir(v.clone());
        }
        if let Some(v) = &self.state_dir {
            b = b.state_dir(v.clone());
        }
        b
    }
}

/// How a flush or shutdown ended: `ok`, `timeout` (the deadline passed first; delivery
/// goes on in the background) or `shutdown` (the client was already shut down).
fn outcome(result: std::result::Result<(), FlushError>) -> String {
    match result {
        Ok(()) => "ok",
        Err(FlushError::Timeout) => "timeout",
        Err(FlushError::ShutDown) => "shutdown",
        Err(_) => "error",
    }
    .to_string()
}

/// A flush or a shutdown, run on the libuv thread pool; it ends by its deadline.
pub struct DeliveryTask {
    telemetry: Telemetry,
    timeout: Duration,
    shutdown: bool,
}

#[napi]
impl Task for DeliveryTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(outcome(if self.shutdown {
            self.telemetry.shutdown(self.timeout)
        } else {
            self.telemetry.flush(self.timeout)
        }))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

/// The telemetry client behind `AutomagikTelemetry`.
#[napi]
pub struct NativeClient {
    telemetry: Telemetry,
    settings: Settings,
    env: Arc<HashMap<String, String>>,
    /// Consent given or revoked in code: the option, then `enable()` and `disable()`.
    consent: Option<bool>,
    /// The configuration a disabled client would have had (an enabled one has its own).
    resolved: Config,
    closed: bool,
}

impl NativeClient {
    fn build(&self, consent: Option<bool>) -> Result<Telemetry> {
        self.settings
            .builder(&self.env, consent)
            .build()
            .map_err(config_error)
    }

    /// The opt-out file's path: in the home directory given, else `HOME`, else the
    /// user's (as the SDK looks for it).
    fn opt_out_path(&self) -> Option<PathBuf> {
        self.settings
            .home_dir
            .clone()
            .or_else(|| {
                self.env
                    .get("HOME")
                    .filter(|h| !h.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(dirs::home_dir)
            .map(|h| h.join(OPT_OUT_FILE))
    }

    fn config(&self) -> &Config {
        self.telemetry.config().unwrap_or(&self.resolved)
    }

    fn task(&self, timeout_ms: Option<f64>, shutdown: bool) -> Result<AsyncTask<DeliveryTask>> {
        Ok(AsyncTask::new(DeliveryTask {
            telemetry: self.telemetry.clone(),
            timeout: millis("timeout", timeout_ms)?.unwrap_or(self.settings.flush_timeout),
            shutdown,
        }))
    }
}

impl Drop for NativeClient {
    /// A client collected while still sending (one created with `flushOnExit: false` and
    /// never shut down) is shut down on a thread of its own, within its flush timeout:
    /// never on the JavaScript thread, which must not wait for the network.
    fn drop(&mut self) {
        if self.closed || !self.telemetry.is_enabled() {
            return;
        }
        let telemetry = std::mem::replace(&mut self.telemetry, Telemetry::disabled());
        let timeout = self.settings.flush_timeout;
        let _ = std::thread::Builder::new()
            .name("automagik-telemetry-drop".into())
            .spawn(move || {
                let _ = telemetry.shutdown(timeout);
            });
    }
}

/// A log severity from its OTLP number (or the nearest level below it).
fn severity(number: f64) -> Severity {
    match number {
        n if n.is_nan() => Severity::Info,
        n if n < 5.0 => Severity::Trace,
        n if n < 9.0 => Severity::Debug,
        n if n < 13.0 => Severity::Info,
        n if n < 17.0 => Severity::Warn,
        n if n < 21.0 => Severity::Error,
        _ => Severity::Fatal,
    }
}

#[napi]
impl NativeClient {
    /// Decides consent, reads the configuration (defaults < environment < options) and,
    /// when enabled, starts the SDK's one background thread. A malformed option or
    /// environment variable is an error naming it.
    #[napi(constructor)]
    pub fn new(options: Options) -> Result<Self> {
        let env = Arc::new(options.env.clone().unwrap_or_default());
        let consent = options.consent;
        let settings = Settings::parse(options)?;
        let resolved = settings
            .builder(&env, consent)
            .effective()
            .map_err(config_error)?
            .config;
        let telemetry = settings
            .builder(&env, consent)
            .build()
            .map_err(config_error)?;
        Ok(NativeClient {
            telemetry,
            settings,
            env,
            consent,
            resolved,
            closed: false,
        })
    }

    /// Whether anything is sent (consent given and not shut down).
    #[napi]
    pub fn is_enabled(&self) -> bool {
        self.telemetry.is_enabled() && !self.closed
    }

    /// Why the client is enabled or disabled: `{enabled, rule, variable?, path?, reason}`.
    #[napi]
    pub fn consent_decision(&self) -> Json {
        let d = self.telemetry.consent_decision();
        let mut out = json!({ "enabled": d.enabled, "reason": d.to_string() });
        let (rule, extra) = match &d.rule {
            ConsentRule::OptOutVariable(v) => ("opt_out_variable", Some(("variable", json!(v)))),
            ConsentRule::OptOutFile(p) => (
                "opt_out_file",
                Some(("path", json!(p.display().to_string()))),
            ),
            ConsentRule::RevokedInCode => ("revoked_in_code", None),
            ConsentRule::Development(v) => ("development", Some(("variable", json!(v)))),
            ConsentRule::OptInVariable => ("opt_in_variable", None),
            ConsentRule::GrantedInCode => ("granted_in_code", None),
            ConsentRule::ProgramDefault => ("program_default", None),
            ConsentRule::LibraryDefault => ("library_default", None),
            _ => ("other", None),
        };
        out["rule"] = json!(rule);
        if let Some((k, v)) = extra {
            out[k] = v;
        }
        out
    }

    /// The effective configuration and consent, as the SDK describes them in every
    /// language (`automagik_telemetry::describe`): snake_case keys, durations in
    /// milliseconds, header names only and no password.
    #[napi]
    pub fn config_json(&self) -> Json {
        Effective {
            config: self.config().clone(),
            decision: self.telemetry.consent_decision().clone(),
        }
        .to_json()
    }

    /// Delivery counters: `{queued, exported, spooled, queueDepth, dropped: {reason: n},
    /// droppedTotal}`.
    #[napi]
    pub fn stats(&self) -> Json {
        let s = self.telemetry.stats();
        let dropped: Map<String, Json> = DropReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), json!(s.dropped(*r))))
            .collect();
        json!({
            "queued": s.queued,
            "exported": s.exported,
            "spooled": s.spooled,
            "queueDepth": s.queue_depth,
            "dropped": dropped,
            "droppedTotal": s.dropped_total(),
        })
    }

    /// The anonymous install id sent as `service.instance.id`, when enabled.
    #[napi]
    pub fn install_id(&self) -> Option<String> {
        self.telemetry.install_id().map(str::to_string)
    }

    /// A user id hashed with this install's salt, when enabled.
    #[napi]
    pub fn hash_user_id(&self, id: String) -> Option<String> {
        self.telemetry.hash_user_id(&id)
    }

    /// `text` as this client's redactor sends it; `null` when disabled.
    #[napi]
    pub fn redact(&self, text: String) -> Option<String> {
        self.telemetry
            .redactor()
            .map(|r| r.redact_str(&text).into_owned())
    }

    /// The opt-out file's path.
    #[napi]
    pub fn opt_out_file(&self) -> Option<String> {
        self.opt_out_path().map(|p| p.display().to_string())
    }

    /// Counts a call whose record the JavaScript layer could not convert (an attribute
    /// getter that throws, say) as dropped (`invalid_value`), so that `stats()` accounts
    /// for every call.
    #[napi]
    pub fn count_unconvertible(&self) {
        self.telemetry.count_dropped(DropReason::InvalidValue);
    }

    /// A product event.
    #[napi]
    pub fn track_event(&self, name: String, attributes: JsAttributes) {
        self.telemetry
            .track_event(name, convert::optional_attributes(attributes));
    }

    /// An error, as the SDK's `track_error` records one: a log of severity ERROR whose
    /// body is the message, with `exception.type`, `exception.message` and
    /// `exception.stacktrace`.
    #[napi]
    pub fn track_error(
        &self,
        kind: String,
        message: String,
        stack: Option<String>,
        attributes: JsAttributes,
    ) {
        if !self.telemetry.is_enabled() {
            return;
        }
        let mut attrs = exception_attributes(kind, message.clone(), stack);
        attrs.extend(convert::optional_attributes(attributes));
        self.telemetry.track_log(Severity::Error, message, attrs);
    }

    /// A metric measurement: `counter`, `gauge` or `histogram`.
    #[napi]
    pub fn track_metric(
        &self,
        name: String,
        value: f64,
        kind: String,
        attributes: JsAttributes,
    ) -> Result<()> {
        let kind = match kind.to_ascii_lowercase().as_str() {
            "counter" | "sum" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            other => {
                return Err(invalid(
                    "metricType",
                    format!("expected counter, gauge or histogram; got {other:?}"),
                ));
            }
        };
        self.telemetry
            .track_metric(name, value, kind, convert::optional_attributes(attributes));
        Ok(())
    }

    /// A log record; `severity` is the OTLP number (9 is INFO).
    #[napi]
    pub fn track_log(&self, severity_number: f64, body: String, attributes: JsAttributes) {
        self.telemetry.track_log(
            severity(severity_number),
            body,
            convert::optional_attributes(attributes),
        );
    }

    /// Starts a span: a child of `parent` (a `traceparent`) when given and valid, a new
    /// trace when `root` or when `parent` is not a valid `traceparent`, else a child of
    /// this thread's current span.
    #[napi]
    pub fn start_span(
        &self,
        name: String,
        kind: Option<String>,
        parent: Option<String>,
        root: Option<bool>,
        attributes: JsAttributes,
    ) -> NativeSpan {
        let mut builder = self
            .telemetry
            .span_builder(name)
            .kind(span_kind(kind.as_deref()));
        match parent.map(|p| SpanContext::from_traceparent(&p)) {
            Some(Ok(ctx)) => builder = builder.parent(ctx),
            Some(Err(_)) => builder = builder.root(),
            None if root == Some(true) => builder = builder.root(),
            None => {}
        }
        for kv in convert::optional_attributes(attributes) {
            builder = builder.attribute(kv.key, kv.value);
        }
        NativeSpan::new(builder.start())
    }

    /// The `traceparent` of this thread's current span (the latest started and not
    /// ended), if any.
    #[napi]
    pub fn current_traceparent(&self) -> Option<String> {
        self.telemetry.inject_traceparent()
    }

    /// Starts a run of `agent` for `prompt`, with a new correlation id unless one is
    /// given.
    #[napi]
    pub fn agent_run(
        &self,
        agent: String,
        prompt: String,
        correlation_id: Option<String>,
    ) -> NativeAgentRun {
        NativeAgentRun::new(match correlation_id.filter(|c| !c.is_empty()) {
            Some(id) => self.telemetry.agent_run_with_id(agent, prompt, id),
            None => self.telemetry.agent_run(agent, prompt),
        })
    }

    /// Exports everything queued so far, on the libuv thread pool; resolves with `ok`,
    /// `timeout` or `shutdown` by the deadline (default: the flush timeout).
    #[napi]
    pub fn flush(&self, timeout_ms: Option<f64>) -> Result<AsyncTask<DeliveryTask>> {
        self.task(timeout_ms, false)
    }

    /// Flushes and stops the background thread, on the libuv thread pool; resolves by
    /// the deadline whatever the endpoint does. Later records are dropped and counted.
    #[napi]
    pub fn shutdown(&mut self, timeout_ms: Option<f64>) -> Result<AsyncTask<DeliveryTask>> {
        let task = self.task(timeout_ms, true)?;
        self.closed = true;
        Ok(task)
    }

    /// [`NativeClient::shutdown`] on the calling thread, for the process's `exit` event,
    /// when the event loop has stopped and nothing else can run.
    #[napi]
    pub fn shutdown_now(&mut self, timeout_ms: Option<f64>) -> Result<String> {
        let timeout = millis("timeout", timeout_ms)?.unwrap_or(self.settings.flush_timeout);
        self.closed = true;
        Ok(outcome(self.telemetry.shutdown(timeout)))
    }

    /// Removes the opt-out file and grants consent in code; then rebuilds the client if
    /// it was not sending. Opt-out variables and development environments still win:
    /// returns whether the client now sends.
    #[napi]
    pub fn enable(&mut self) -> Result<bool> {
        if let Some(path) = self.opt_out_path()
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::from_reason(format!(
                "cannot remove the opt-out file {}: {e}",
                path.display()
            )));
        }
        self.consent = Some(true);
        if !self.is_enabled() {
            self.telemetry = self.build(self.consent)?;
            self.closed = false;
        }
        Ok(self.is_enabled())
    }

    /// Writes the opt-out file and revokes consent in code; the client stops sending at
    /// once, and what it had queued is flushed and its thread stopped on the libuv
    /// thread pool by the deadline.
    #[napi]
    pub fn disable(&mut self, timeout_ms: Option<f64>) -> Result<AsyncTask<DeliveryTask>> {
        let task = self.task(timeout_ms, true)?;
        if let Some(path) = self.opt_out_path() {
            // Consent is revoked in code either way; the file makes it last.
            let _ = std::fs::write(&path, b"");
        }
        self.consent = Some(false);
        self.telemetry = self
            .build(self.consent)
            .unwrap_or_else(|_| Telemetry::disabled());
        self.closed = false;
        Ok(task)
    }
}
