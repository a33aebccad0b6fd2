//! What a Python program sets in code, read from the `dict` the Python package builds
//! (only the settings given, in the Rust SDK's units: durations arrive as seconds and
//! become `Duration`s here). The Rust SDK's builder does the rest: defaults <
//! environment < code, the consent order, the redactor, the pipeline.
//!
//! [`Settings::effective`] asks the builder for the configuration and the consent
//! decision it would use, without starting anything: for a client that is disabled
//! (which keeps no configuration) and for `automagik_telemetry.effective_config()`.

use automagik_telemetry::{
    Backend, Compression, Config, ConfigError, Effective, RedactorBuilder, Telemetry,
    TelemetryBuilder,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Extra redaction rules and allow-lists, for the builder's redactor.
#[derive(Clone, Debug, Default)]
pub struct Redaction {
    allow_keys: Vec<String>,
    deny_keys: Vec<String>,
    allow_values: Vec<String>,
    allow_patterns: Vec<String>,
    rules: Vec<(String, String)>,
    disable_rules: Vec<String>,
}

impl Redaction {
    fn is_empty(&self) -> bool {
        self.allow_keys.is_empty()
            && self.deny_keys.is_empty()
            && self.allow_values.is_empty()
            && self.allow_patterns.is_empty()
            && self.rules.is_empty()
            && self.disable_rules.is_empty()
    }

    /// Applies the rules to a redactor builder.
    pub fn apply(self, mut b: RedactorBuilder) -> RedactorBuilder {
        for k in self.allow_keys {
            b = b.allow_key(k);
        }
        for k in self.deny_keys {
            b = b.deny_key(k);
        }
        for v in self.allow_values {
            b = b.allow_value(v);
        }
        for p in self.allow_patterns {
            b = b.allow_pattern(p);
        }
        for (name, pattern) in self.rules {
            b = b.add_rule(name, pattern);
        }
        for name in self.disable_rules {
            b = b.disable_rule(name);
        }
        b
    }
}

/// The settings given in code; `None` (or empty) leaves the environment's value or the
/// default. (No `Debug`: it holds the ClickHouse password and header values.)
#[derive(Clone, Default)]
pub struct Settings {
    project_name: Option<String>,
    version: Option<String>,
    endpoint: Option<String>,
    backend: Option<Backend>,
    batch_size: Option<usize>,
    flush_interval: Option<Duration>,
    queue_size: Option<usize>,
    compression: Option<Compression>,
    compression_enabled: Option<bool>,
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
    drop_timeout: Option<Duration>,
    clickhouse_endpoint: Option<String>,
    clickhouse_database: Option<String>,
    clickhouse_user: Option<String>,
    clickhouse_password: Option<String>,
    clickhouse_create_schema: Option<bool>,
    headers: Vec<(String, String)>,
    resource_attributes: Vec<(String, String)>,
    consent: Option<bool>,
    default_enabled: Option<bool>,
    home_dir: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    environ: Option<Arc<HashMap<String, String>>>,
    redaction: Redaction,
    histogram_boundaries: Option<Vec<f64>>,
}

fn invalid(key: &str, problem: &str) -> PyErr {
    PyValueError::new_err(format!("{key}: {problem}"))
}

fn string(v: &Bound<'_, PyAny>) -> PyResult<String> {
    v.extract::<String>()
}

fn strings(v: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    v.extract::<Vec<String>>()
}

fn boolean(key: &str, v: &Bound<'_, PyAny>) -> PyResult<bool> {
    v.extract::<bool>()
        .map_err(|_| invalid(key, "expected True or False"))
}

fn count(key: &str, v: &Bound<'_, PyAny>) -> PyResult<u64> {
    v.extract::<u64>()
        .map_err(|_| invalid(key, "expected a non-negative integer"))
}

fn size(key: &str, v: &Bound<'_, PyAny>) -> PyResult<usize> {
    usize::try_from(count(key, v)?).map_err(|_| invalid(key, "too large"))
}

/// A duration given in seconds (a float, as the 0.1.x Python SDK took them).
fn seconds(key: &str, v: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let s = v
        .extract::<f64>()
        .map_err(|_| invalid(key, "expected a number of seconds"))?;
    Duration::try_from_secs_f64(s)
        .map_err(|_| invalid(key, "expected a non-negative number of seconds"))
}

fn path(v: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    v.extract::<PathBuf>()
}

/// Name/value pairs from a `dict` or a list of pairs, in order; values as their `str()`.
fn pairs(key: &str, v: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    if let Ok(d) = v.cast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, val) in d.iter() {
            out.push((
                k.extract::<String>()
                    .map_err(|_| invalid(key, "names must be strings"))?,
                val.str()?.to_string_lossy().into_owned(),
            ));
        }
        return Ok(out);
    }
    v.extract::<Vec<(String, String)>>()
        .map_err(|_| invalid(key, "expected a dict of strings"))
}

/// A backend by the names `AUTOMAGIK_TELEMETRY_BACKEND` takes.
pub fn backend(name: &str) -> PyResult<Backend> {
    match name.trim().to_ascii_lowercase().as_str() {
        "otlp" | "otlp-proto" | "http/protobuf" => Ok(Backend::Otlp),
        "otlp-json" | "http/json" => Ok(Backend::OtlpJson),
        "clickhouse" => Ok(Backend::ClickHouse),
        "kafka" => Ok(Backend::Kafka),
        "file" => Ok(Backend::File),
        "stdout" => Ok(Backend::Stdout),
        other => Err(invalid(
            "backend",
            &format!(
                "expected one of otlp, otlp-json, clickhouse, kafka, file, stdout; got {other:?}"
            ),
        )),
    }
}

/// A compression by the names `AUTOMAGIK_TELEMETRY_COMPRESSION` takes.
fn compression(name: &str) -> PyResult<Compression> {
    match name.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        "none" | "" => Ok(Compression::None),
        other => Err(invalid(
            "compression",
            &format!("expected gzip, zstd or none; got {other:?}"),
        )),
    }
}

/// An `http://` or `https://` URL with a host, without its trailing slashes (the check
/// the SDK makes of `AUTOMAGIK_TELEMETRY_ENDPOINT`).
fn url(key: &str, v: &Bound<'_, PyAny>) -> PyResult<String> {
    let text = string(v)?;
    let text = text.trim();
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| invalid(key, "expected an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid(key, "the URL has no host"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(invalid(key, "not a valid URL"));
    }
    Ok(text.trim_end_matches('/').to_string())
}

impl Settings {
    /// Reads the settings the Python package passes; an unknown name is a `TypeError`
    /// (a typo never silently does nothing), `None` values are left out.
    pub fn from_py(dict: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut s = Settings::default();
        let Some(dict) = dict else {
            return Ok(s);
        };
        for (k, v) in dict.iter() {
            let key: String = k.extract()?;
            if v.is_none() {
                continue;
            }
            let key = key.as_str();
            match key {
                "project_name" => s.project_name = Some(string(&v)?),
                "version" => s.version = Some(string(&v)?),
                "endpoint" => s.endpoint = Some(url(key, &v)?),
                "backend" => s.backend = Some(backend(&string(&v)?)?),
                "batch_size" => s.batch_size = Some(size(key, &v)?),
                "flush_interval" => s.flush_interval = Some(seconds(key, &v)?),
                "queue_size" => s.queue_size = Some(size(key, &v)?),
                "compression" => s.compression = Some(compression(&string(&v)?)?),
                "compression_enabled" => s.compression_enabled = Some(boolean(key, &v)?),
                "compression_threshold" => s.compression_threshold = Some(size(key, &v)?),
                "max_retries" => {
                    s.max_retries = Some(
                        u32::try_from(count(key, &v)?).map_err(|_| invalid(key, "too large"))?,
                    )
                }
                "retry_backoff" => s.retry_backoff = Some(seconds(key, &v)?),
                "max_backoff" => s.max_backoff = Some(seconds(key, &v)?),
                "retry_budget" => s.retry_budget = Some(seconds(key, &v)?),
                "timeout" => s.timeout = Some(seconds(key, &v)?),
                "spool_dir" => s.spool_dir = Some(path(&v)?),
                "spool_max_bytes" => s.spool_max_bytes = Some(count(key, &v)?),
                "verbose" => s.verbose = Some(boolean(key, &v)?),
                "file_path" => s.file_path = Some(path(&v)?),
                "drop_timeout" => s.drop_timeout = Some(seconds(key, &v)?),
                "clickhouse_endpoint" => s.clickhouse_endpoint = Some(url(key, &v)?),
                "clickhouse_database" => s.clickhouse_database = Some(string(&v)?),
                "clickhouse_user" => s.clickhouse_user = Some(string(&v)?),
                "clickhouse_password" => s.clickhouse_password = Some(string(&v)?),
                "clickhouse_create_schema" => s.clickhouse_create_schema = Some(boolean(key, &v)?),
                "headers" => s.headers = pairs(key, &v)?,
                "resource_attributes" => s.resource_attributes = pairs(key, &v)?,
                "consent" => s.consent = Some(boolean(key, &v)?),
                "default_enabled" => s.default_enabled = Some(boolean(key, &v)?),
                "home_dir" => s.home_dir = Some(path(&v)?),
                "state_dir" => s.state_dir = Some(path(&v)?),
                "environ" => {
                    s.environ = Some(Arc::new(
                        v.extract::<HashMap<String, String>>()
                            .map_err(|_| invalid(key, "expected a dict of strings"))?,
                    ))
                }
                "redaction_allow_keys" => s.redaction.allow_keys = strings(&v)?,
                "redaction_deny_keys" => s.redaction.deny_keys = strings(&v)?,
                "redaction_allow_values" => s.redaction.allow_values = strings(&v)?,
                "redaction_allow_patterns" => s.redaction.allow_patterns = strings(&v)?,
                "redaction_rules" => s.redaction.rules = pairs(key, &v)?,
                "redaction_disable_rules" => s.redaction.disable_rules = strings(&v)?,
                "histogram_boundaries" => {
                    s.histogram_boundaries = Some(
                        v.extract::<Vec<f64>>()
                            .map_err(|_| invalid(key, "expected a list of numbers"))?,
                    )
                }
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "unknown telemetry setting {other:?}"
                    )));
                }
            }
        }
        Ok(s)
    }

    /// A variable of the environment the client reads: the `environ` given in code, else
    /// the process's.
    pub fn var(&self, name: &str) -> Option<String> {
        match &self.environ {
            Some(env) => env.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }

    /// The compression code asks for, given what the environment and defaults chose:
    /// `compression` if given; `compression_enabled=False` turns it off and `True` turns
    /// on gzip where nothing else would compress.
    fn compression_for(&self, configured: Compression) -> Option<Compression> {
        if self.compression.is_some() {
            return self.compression;
        }
        match self.compression_enabled {
            Some(false) => Some(Compression::None),
            Some(true) if configured == Compression::None => Some(Compression::Gzip),
            _ => None,
        }
    }

    /// Builds the client with the Rust SDK's builder.
    pub fn build(&self) -> Result<Telemetry, ConfigError> {
        self.builder()?.build()
    }

    /// What [`Settings::build`] would resolve, without starting anything: the SDK
    /// builder's own resolution (defaults < environment < code, consent first).
    pub fn effective(&self) -> Result<Effective, ConfigError> {
        self.builder()?.effective()
    }

    /// The Rust SDK's builder with these settings in code.
    fn builder(&self) -> Result<TelemetryBuilder, ConfigError> {
        let mut b = Telemetry::builder();
        if let Some(env) = &self.environ {
            let env = Arc::clone(env);
            b = b.env_lookup(move |k| env.get(k).cloned());
        }
        if self.compression_enabled.is_some() && self.compression.is_none() {
            let configured = Config::from_lookup(|k| self.var(k))?.compression;
            if let Some(c) = self.compression_for(configured) {
                b = b.compression(c);
            }
        } else if let Some(c) = self.compression {
            b = b.compression(c);
        }
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
        if let Some(v) = self.drop_timeout {
            b = b.drop_timeout(v);
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
        if let Some(v) = self.clickhouse_create_schema {
            b = b.clickhouse_create_schema(v);
        }
        for (name, value) in &self.headers {
            b = b.header(name.clone(), value.clone());
        }
        for (key, value) in &self.resource_attributes {
            b = b.resource_attribute(key.clone(), value.clone());
        }
        if let Some(v) = self.consent {
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
        if !self.redaction.is_empty() {
            let redaction = self.redaction.clone();
            b = b.redaction(move |r| redaction.apply(r));
        }
        if let Some(v) = &self.histogram_boundaries {
            b = b.histogram_boundaries(v.clone());
        }
        Ok(b)
    }
}
