//! Redaction on ingest: the server applies core's redactor to every decoded OTLP
//! request, from any client, before it becomes rows, so that no store (SQLite,
//! PostgreSQL, ClickHouse, which encodes the request itself) ever sees what it
//! replaced.
//!
//! What is redacted, in place: resource and scope attributes; span names, attributes,
//! event names and attributes (so exception messages, `exception.message`), link
//! attributes and status messages; log bodies (strings anywhere inside arrays and
//! maps too), attributes and event names; metric metadata, data point attributes and
//! exemplar attributes. Attribute keys follow core's classification
//! ([`Redactor::classify_key`]): a denied key (`password`, `token`, ...) has its whole
//! value replaced by `[REDACTED:secret]`, a user-id key (`user.id`, `enduser.id`) is
//! hashed with the configured salt (without one, replaced by `[REDACTED:user_id]`; a
//! value that already is a 64-digit hex hash, as the SDK sends, is kept), an
//! allow-listed key is kept; every other string is scanned by the rules, which put the
//! SDK's typed markers (`[REDACTED:email]`, `[REDACTED:token]`, ...) in place of what
//! they find. Each replacement is counted by rule on `/metrics`
//! (`automagik_telemetry_redactions_total{rule}`).
//!
//! Modes ([`RedactMode`]): `standard` (the default) runs the built-in rules and keeps the
//! resource identity keys ([`IDENTITY_KEYS`]) readable; `strict` also redacts whole the
//! values of keys naming personal data ([`STRICT_DENIED_KEY_WORDS`]) and keeps no
//! identity key unscanned; `off` changes nothing. In every mode but `off`, the
//! configuration adds allow-listed keys and rules ([`RedactionConfig`]). No length,
//! depth or count cap is applied here: the server's request limits bound those.

use crate::server_metrics::ServerMetrics;
use automagik_telemetry_core::redact::{self, KeyClass, PiiKind, Redactor, RedactorError};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, metric::Data};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Deserialize;
use std::borrow::Cow;

/// Resource identity keys kept readable in `standard` mode: what services, versions
/// and environments are listed and filtered by.
pub const IDENTITY_KEYS: &[&str] = &[
    "service.name",
    "service.version",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.distro.name",
    "telemetry.distro.version",
];

/// Key words whose values `strict` mode also redacts whole, wherever they appear as a
/// segment of the key (`user.email`, `customerPhone`, `credit_card`).
pub const STRICT_DENIED_KEY_WORDS: &[&str] = &["email", "phone", "ssn", "iban", "credit_card"];

/// What a denied key's value becomes (core's marker for it).
const SECRET_MARKER: &str = "[REDACTED:secret]";
/// How every marker starts.
const MARKER_PREFIX: &str = "[REDACTED:";
/// The marker names of the key rules, counted beside the rules' own.
const SECRET_RULE: &str = "secret";
const USER_ID_RULE: &str = "user_id";

/// How much the server redacts on ingest (`--redact`, `AUTOMAGIK_TELEMETRY_REDACT`,
/// `redact = "..."` in the config file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RedactMode {
    /// The built-in rules and key classification; resource identity keys kept.
    #[default]
    Standard,
    /// `standard`, plus keys naming personal data redacted whole, and no identity key
    /// kept unscanned.
    Strict,
    /// No redaction: data is stored as sent.
    Off,
}

impl RedactMode {
    /// `standard`, `strict` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactMode::Standard => "standard",
            RedactMode::Strict => "strict",
            RedactMode::Off => "off",
        }
    }
}

/// The `[redaction]` table of the config file. Every key is optional; an unknown key is
/// an error.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionConfig {
    /// Attribute keys whose values are never redacted, in every mode but `off`
    /// [default: none beyond [`IDENTITY_KEYS`] in `standard` mode].
    #[serde(default)]
    pub allow_keys: Vec<String>,
    /// Extra rules: whatever `pattern` (a regular expression) matches becomes
    /// `[REDACTED:<name>]` [default: none].
    #[serde(default)]
    pub rules: Vec<ExtraRule>,
    /// Salt of the SHA-256 hash that replaces user ids (`user.id`, `enduser.id`); keep it
    /// secret and stable, so a user's hash stays the same [default: none, so user ids
    /// are replaced by `[REDACTED:user_id]`].
    pub salt: Option<String>,
}

/// A `rules = [{ name = "...", pattern = "..." }]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraRule {
    /// The marker's name: 1 to 64 letters, digits, `_`, `-` or `.`.
    pub name: String,
    /// The regular expression (Rust `regex` syntax).
    pub pattern: String,
}

/// Why the redaction settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactionError {
    /// A rule's name cannot be a marker's.
    #[error("redaction rule name {0:?}: use 1 to 64 letters, digits, '_', '-' or '.'")]
    RuleName(String),
    /// A rule's pattern is not a valid regular expression.
    #[error(transparent)]
    Rules(#[from] RedactorError),
}

fn valid_rule_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The server's redactor: core's [`Redactor`] with the mode's settings, applied to
/// decoded requests in place. Shared behind an `Arc`; `Send + Sync`.
pub struct IngestRedactor {
    mode: RedactMode,
    /// `None` when off.
    redactor: Option<Redactor>,
    /// The names counted on `/metrics`: the built-in rules', the key rules', then the
    /// extra rules'. A marker of any other name is not counted (label values stay few).
    rules: Vec<String>,
}

impl std::fmt::Debug for IngestRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestRedactor")
            .field("mode", &self.mode)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Default for IngestRedactor {
    /// [`IngestRedactor::standard`].
    fn default() -> Self {
        Self::standard()
    }
}

impl IngestRedactor {
    /// The redactor of `mode` with the allow-listed keys, rules and salt of `config`
    /// (ignored when `mode` is `off`).
    pub fn new(mode: RedactMode, config: &RedactionConfig) -> Result<Self, RedactionError> {
        let mut rules: Vec<String> = PiiKind::ALL
            .iter()
            .map(|k| k.marker_name().to_string())
            .collect();
        rules.push(SECRET_RULE.to_string());
        rules.push(USER_ID_RULE.to_string());
        if mode == RedactMode::Off {
            return Ok(IngestRedactor {
                mode,
                redactor: None,
                rules,
            });
        }
        // The request limits bound sizes; the redactor only replaces.
        let mut builder = Redactor::builder().limits(redact::Limits {
            max_value_bytes: usize::MAX,
            max_depth: usize::MAX,
            max_attributes: usize::MAX,
        });
        match mode {
            RedactMode::Standard => {
                for key in IDENTITY_KEYS {
                    builder = builder.allow_key(*key);
                }
            }
            RedactMode::Strict => {
                for word in STRICT_DENIED_KEY_WORDS {
                    builder = builder.deny_key(*word);
                }
            }
            RedactMode::Off => {}
        }
        for key in &config.allow_keys {
            builder = builder.allow_key(key.clone());
        }
        for rule in &config.rules {
            if !valid_rule_name(&rule.name) {
                return Err(RedactionError::RuleName(rule.name.clone()));
            }
            builder = builder.add_rule(rule.name.clone(), rule.pattern.clone());
            if !rules.iter().any(|r| r.as_str() == rule.name.as_str()) {
                rules.push(rule.name.clone());
            }
        }
        if let Some(salt) = &config.salt {
            builder = builder.salt(salt.as_bytes().to_vec());
        }
        Ok(IngestRedactor {
            mode,
            redactor: Some(builder.build()?),
            rules,
        })
    }

    /// The default: `standard` mode without extra keys or rules.
    pub fn standard() -> Self {
        Self::new(RedactMode::Standard, &RedactionConfig::default())
            .expect("the built-in rules compile")
    }

    /// No redaction.
    pub fn off() -> Self {
        Self::new(RedactMode::Off, &RedactionConfig::default()).expect("off builds nothing")
    }

    /// The mode in force.
    pub fn mode(&self) -> RedactMode {
        self.mode
    }

    /// Redacts a trace export request in place and counts the replacements.
    pub fn traces(&self, req: &mut ExportTraceServiceRequest, metrics: &ServerMetrics) {
        let Some(r) = &self.redactor else { return };
        let mut t = Tally::new(&self.rules);
        for rs in &mut req.resource_spans {
            resource(r, &mut rs.resource, &mut t);
            for ss in &mut rs.scope_spans {
                scope(r, &mut ss.scope, &mut t);
                for span in &mut ss.spans {
                    string(r, &mut span.name, &mut t);
                    pairs(r, &mut span.attributes, &mut t);
                    for event in &mut span.events {
                        string(r, &mut event.name, &mut t);
                        pairs(r, &mut event.attributes, &mut t);
                    }
                    for link in &mut span.links {
                        pairs(r, &mut link.attributes, &mut t);
                    }
                    if let Some(status) = &mut span.status {
                        string(r, &mut status.message, &mut t);
                    }
                }
            }
        }
        t.publish(metrics);
    }

    /// Redacts a logs export request in place and counts the replacements.
    pub fn logs(&self, req: &mut ExportLogsServiceRequest, metrics: &ServerMetrics) {
        let Some(r) = &self.redactor else { return };
        let mut t = Tally::new(&self.rules);
        for rl in &mut req.resource_logs {
            resource(r, &mut rl.resource, &mut t);
            for sl in &mut rl.scope_logs {
                scope(r, &mut sl.scope, &mut t);
                for log in &mut sl.log_records {
                    if let Some(body) = &mut log.body {
                        any(r, body, &mut t);
                    }
                    pairs(r, &mut log.attributes, &mut t);
                    string(r, &mut log.event_name, &mut t);
                }
            }
        }
        t.publish(metrics);
    }

    /// Redacts a metrics export request in place and counts the replacements.
    pub fn metrics(&self, req: &mut ExportMetricsServiceRequest, metrics: &ServerMetrics) {
        let Some(r) = &self.redactor else { return };
        let mut t = Tally::new(&self.rules);
        for rm in &mut req.resource_metrics {
            resource(r, &mut rm.resource, &mut t);
            for sm in &mut rm.scope_metrics {
                scope(r, &mut sm.scope, &mut t);
                for metric in &mut sm.metrics {
                    pairs(r, &mut metric.metadata, &mut t);
                    match &mut metric.data {
                        Some(Data::Gauge(g)) => {
                            for p in &mut g.data_points {
                                pairs(r, &mut p.attributes, &mut t);
                                exemplars(r, &mut p.exemplars, &mut t);
                            }
                        }
                        Some(Data::Sum(s)) => {
                            for p in &mut s.data_points {
                                pairs(r, &mut p.attributes, &mut t);
                                exemplars(r, &mut p.exemplars, &mut t);
                            }
                        }
                        Some(Data::Histogram(h)) => {
                            for p in &mut h.data_points {
                                pairs(r, &mut p.attributes, &mut t);
                                exemplars(r, &mut p.exemplars, &mut t);
                            }
                        }
                        Some(Data::ExponentialHistogram(h)) => {
                            for p in &mut h.data_points {
                                pairs(r, &mut p.attributes, &mut t);
                                exemplars(r, &mut p.exemplars, &mut t);
                            }
                        }
                        Some(Data::Summary(s)) => {
                            for p in &mut s.data_points {
                                pairs(r, &mut p.attributes, &mut t);
                            }
                        }
                        None => {}
                    }
                }
            }
        }
        t.publish(metrics);
    }
}

/// Replacements of one request by rule, published once at its end.
struct Tally<'a> {
    names: &'a [String],
    counts: Vec<i64>,
}

impl<'a> Tally<'a> {
    fn new(names: &'a [String]) -> Self {
        Tally {
            names,
            counts: vec![0; names.len()],
        }
    }

    fn add(&mut self, name: &str, n: i64) {
        if let Some(i) = self.names.iter().position(|k| k.as_str() == name) {
            self.counts[i] += n;
        }
    }

    /// Counts (`sign` 1) or uncounts (`sign` -1) every marker in `text`.
    fn markers(&mut self, text: &str, sign: i64) {
        for (i, _) in text.match_indices(MARKER_PREFIX) {
            let rest = &text[i + MARKER_PREFIX.len()..];
            if let Some(end) = rest.find(']') {
                self.add(&rest[..end], sign);
            }
        }
    }

    fn publish(&self, metrics: &ServerMetrics) {
        for (name, &n) in self.names.iter().zip(&self.counts) {
            if n > 0 {
                metrics.redacted(name, n as u64);
            }
        }
    }
}

fn resource(r: &Redactor, resource: &mut Option<Resource>, t: &mut Tally<'_>) {
    if let Some(res) = resource {
        pairs(r, &mut res.attributes, t);
    }
}

fn scope(r: &Redactor, scope: &mut Option<InstrumentationScope>, t: &mut Tally<'_>) {
    if let Some(s) = scope {
        pairs(r, &mut s.attributes, t);
    }
}

fn exemplars(r: &Redactor, exemplars: &mut [Exemplar], t: &mut Tally<'_>) {
    for e in exemplars {
        pairs(r, &mut e.filtered_attributes, t);
    }
}

fn pairs(r: &Redactor, attributes: &mut [KeyValue], t: &mut Tally<'_>) {
    for kv in attributes {
        pair(r, kv, t);
    }
}

/// Whether `s` already is a SHA-256 in hex (a user id the SDK hashed).
fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One attribute: its key decides (see the module's documentation), else its value is
/// scanned.
fn pair(r: &Redactor, kv: &mut KeyValue, t: &mut Tally<'_>) {
    let Some(value) = kv.value.as_mut() else {
        return;
    };
    match r.classify_key(&kv.key) {
        KeyClass::Allowed => {}
        KeyClass::Secret => {
            let whole = matches!(
                value.value,
                Some(
                    any_value::Value::StringValue(_)
                        | any_value::Value::BytesValue(_)
                        | any_value::Value::ArrayValue(_)
                        | any_value::Value::KvlistValue(_)
                )
            );
            let done = matches!(
                &value.value,
                Some(any_value::Value::StringValue(s)) if s.as_str() == SECRET_MARKER
            );
            if whole && !done {
                value.value = Some(any_value::Value::StringValue(SECRET_MARKER.to_string()));
                t.add(SECRET_RULE, 1);
            }
        }
        KeyClass::UserId => {
            let id = match &value.value {
                Some(any_value::Value::StringValue(s))
                    if s.starts_with(MARKER_PREFIX) || is_hash(s) =>
                {
                    None
                }
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                Some(any_value::Value::IntValue(i)) => Some(i.to_string()),
                Some(any_value::Value::BytesValue(b)) => Some(hex::encode(b)),
                _ => None,
            };
            match id {
                Some(id) => {
                    value.value = Some(any_value::Value::StringValue(r.hash_user_id(&id)));
                    t.add(USER_ID_RULE, 1);
                }
                None => any(r, value, t),
            }
        }
        KeyClass::Scan => any(r, value, t),
    }
}

/// A value: strings scanned, arrays and maps walked.
fn any(r: &Redactor, value: &mut AnyValue, t: &mut Tally<'_>) {
    match value.value.as_mut() {
        Some(any_value::Value::StringValue(s)) => string(r, s, t),
        Some(any_value::Value::ArrayValue(a)) => {
            for v in &mut a.values {
                any(r, v, t);
            }
        }
        Some(any_value::Value::KvlistValue(l)) => pairs(r, &mut l.values, t),
        _ => {}
    }
}

/// A string scanned by the rules; the markers it gained are counted.
fn string(r: &Redactor, s: &mut String, t: &mut Tally<'_>) {
    let new = match r.redact_str(s.as_str()) {
        Cow::Borrowed(_) => return,
        Cow::Owned(new) => new,
    };
    t.markers(&new, 1);
    if s.contains(MARKER_PREFIX) {
        t.markers(s.as_str(), -1);
    }
    *s = new;
}

#[cfg(test)]
mod tests;
