//! The ClickHouse store: rows go into the tables of the shared schema
//! ([`automagik_telemetry_core::clickhouse`]) over the ClickHouse HTTP interface; the
//! rollups are kept by the schema's materialized views, not by this code.
//!
//! - `--storage clickhouse://[user[:password]@]host[:port][/database][?cluster=NAME]`
//!   (plain HTTP, port 8123 by default), `clickhouses://...` (HTTPS, 8443), or the HTTP
//!   interface's own address `http(s)://[user[:password]@]host:port[/database]` with
//!   `?database=`, `?user=`, `?password=`, `?cluster=` accepted too; `?async_insert=1`
//!   lets ClickHouse gather the inserts of many requests into larger parts (each request
//!   still answered only once its rows are written). The schema is created on open
//!   (`IF NOT EXISTS`), with TTLs from the retention settings.
//! - A batch is one `INSERT ... FORMAT JSONEachRow` per table, each carrying a
//!   deduplication token derived from its rows, so a request retried after a partial
//!   failure stores nothing twice; spans, agent actions and runs live in
//!   `ReplacingMergeTree` tables whose keys end with their identity, and readers keep
//!   one row per identity (`LIMIT 1 BY` and `uniqExact` on the few rows a lookup
//!   finds; `FINAL` for runs, whose last delivery wins, and for the counts of `stats`),
//!   so a span delivered again is kept once.
//! - Attribute maps hold strings, as the OpenTelemetry Collector writes them; the
//!   `...AttributeTypes` column beside each says which were numbers, booleans or JSON,
//!   so span, log, metric and agent attributes come back with their types. Resource and
//!   span event attributes come back as strings.
//! - Trace by id reads the trace's time range from `otel_traces_trace_id_ts` first, so
//!   only the partitions of that range are read (the bloom filter on `TraceId` skips the
//!   rest); listings filter on the partition column.
//! - Log records and runs have no row id here: their cursors carry a 64-bit hash of the
//!   row (of the correlation id for runs) as tie-break.

use super::{
    ChainAppend, ChainTx, Link, LogQuery, MetricInfo, Page, Purged, Retention, RollupQuery,
    RunQuery, SnapshotChain, Stats, StoreError, StoreRead, StoreWrite, StoredLog, StoredRun,
    TraceQuery, TraceSummary, rfc3339,
};
use crate::rollup::{AgentAgg, AgentKey, MetricAgg, MetricKey, SpanAgg, SpanKey};
use crate::rows::write_json_str;
use crate::rows::{AgentActionRow, AgentRunRow, Batch, LogRow, MetricPointRow, SpanRow};
use automagik_telemetry_core::clickhouse::{
    Insert, RETRYABLE_ERROR_CODES, Schema, ident, literal, span_kind_code, span_kind_name,
    status_code_of, status_name,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json, json};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
use std::time::Duration;

const USER_AGENT: &str = concat!("automagik-telemetry-server/", env!("CARGO_PKG_VERSION"));

/// The store. Blocking; safe to use from many threads (the HTTP agent pools
/// connections).
pub struct ClickHouseStore {
    http: Http,
    schema: Schema,
    async_insert: bool,
    /// Held while a snapshot is appended: the next link needs the last one. (One
    /// server per database appends; two servers sharing one would fork the chain,
    /// which `audit verify` reports.)
    chain: std::sync::Mutex<()>,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("endpoint", &self.http.endpoint)
            .field("database", &self.schema.database)
            .finish_non_exhaustive()
    }
}

/// Where the store is, read from its URL.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    endpoint: String,
    user: String,
    password: String,
    database: String,
    cluster: Option<String>,
    async_insert: bool,
}

fn parse_url(raw: &str) -> Result<Target, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    let (scheme, default_port) = match url.scheme() {
        "clickhouse" => ("http", 8123),
        "clickhouses" => ("https", 8443),
        "http" => ("http", 8123),
        "https" => ("https", 8443),
        other => return Err(format!("unknown scheme {other}")),
    };
    let host = url.host_str().ok_or("no host")?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let decode = |s: &str| {
        automagik_telemetry_core::parse::percent_decode(s)
            .ok_or_else(|| "bad percent-encoding in the credentials".to_string())
    };
    let mut target = Target {
        endpoint: format!("{scheme}://{host}:{}/", url.port().unwrap_or(default_port)),
        user: match url.username() {
            "" => "default".to_string(),
            u => decode(u)?,
        },
        password: decode(url.password().unwrap_or(""))?,
        database: url
            .path_segments()
            .and_then(|mut s| s.next())
            .filter(|s| !s.is_empty())
            .map(decode)
            .transpose()?
            .unwrap_or_else(|| "automagik".to_string()),
        cluster: None,
        async_insert: false,
    };
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "database" => target.database = v.into_owned(),
            "user" => target.user = v.into_owned(),
            "password" => target.password = v.into_owned(),
            "cluster" => target.cluster = Some(v.into_owned()).filter(|c| !c.is_empty()),
            "async_insert" => target.async_insert = matches!(v.as_ref(), "1" | "true"),
            other => return Err(format!("unknown parameter {other}")),
        }
    }
    Ok(target)
}

/// A DateTime64(9) literal for `ns` (clamped to what the type holds).
fn at(ns: u64) -> String {
    format!(
        "fromUnixTimestamp64Nano(toInt64({}))",
        ns.min(i64::MAX as u64)
    )
}

/// A DateTime literal for the second that starts at or after `ns`.
fn at_second_ceil(ns: u64) -> String {
    format!(
        "toDateTime({})",
        ns.div_ceil(1_000_000_000).min(u64::from(u32::MAX))
    )
}

/// A DateTime literal for the second that holds `ns`.
fn at_second(ns: u64) -> String {
    format!(
        "toDateTime({})",
        (ns / 1_000_000_000).min(u64::from(u32::MAX))
    )
}

/// A time as `DateTime64(9)` input text: seconds, a dot and nine digits.
fn time_text(ns: u64) -> String {
    TimeText(ns).to_string()
}

/// [`time_text`] without the allocation, for the rows written field by field.
struct TimeText(u64);

impl std::fmt::Display for TimeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ten digits of seconds: fewer would read as a date.
        write!(
            f,
            "{:010}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// An object key, borrowed from the text unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The entries of a JSON object, values left as their JSON text.
struct Entries<'a>(Vec<(Key<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Writes a JSON object of typed attributes as the string map and the type map, straight
/// from its text: string values are copied as they are, other values become their JSON
/// text (a repeated key keeps its last value; text that is not an object, nothing).
fn write_attributes(text: &str, values: &mut String, types: &mut String) {
    let entries = serde_json::from_str::<Entries<'_>>(text)
        .map(|e| e.0)
        .unwrap_or_default();
    values.push('{');
    types.push('{');
    let (mut first_value, mut first_type) = (true, true);
    for (i, (key, raw)) in entries.iter().enumerate() {
        if entries[i + 1..].iter().any(|(k, _)| k.0 == key.0) {
            continue;
        }
        if !std::mem::take(&mut first_value) {
            values.push(',');
        }
        write_json_str(&key.0, values);
        values.push(':');
        let raw = raw.get();
        let kind = match raw.as_bytes().first() {
            Some(b'"') => {
                values.push_str(raw);
                continue;
            }
            Some(b't' | b'f') => "bool",
            Some(b'[' | b'{' | b'n') | None => "json",
            Some(_) if raw.contains(['.', 'e', 'E']) => "double",
            Some(_) => "int",
        };
        write_json_str(raw, values);
        if !std::mem::take(&mut first_type) {
            types.push(',');
        }
        write_json_str(&key.0, types);
        types.push(':');
        write_json_str(kind, types);
    }
    values.push('}');
    types.push('}');
}

/// [`write_attributes`] as JSON values, for the tables written with `json!`.
fn split_attributes(text: &str) -> (Json, Json) {
    let (mut values, mut types) = (String::new(), String::new());
    write_attributes(text, &mut values, &mut types);
    (
        serde_json::from_str(&values).unwrap_or_default(),
        serde_json::from_str(&types).unwrap_or_default(),
    )
}

/// One `JSONEachRow` object written field by field.
struct Row<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Row<'a> {
    fn start(out: &'a mut String) -> Self {
        out.push('{');
        Row { out, first: true }
    }

    fn name(&mut self, name: &str) -> &mut String {
        if !std::mem::take(&mut self.first) {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    fn text(&mut self, name: &str, value: &str) {
        write_json_str(value, self.name(name));
    }

    fn number(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.name(name), "{value}");
    }

    fn time(&mut self, name: &str, ns: u64) {
        let _ = write!(self.name(name), "\"{}\"", TimeText(ns));
    }

    fn end(self) {
        self.out.push_str("}\n");
    }
}

/// The inverse of [`split_attributes`]: typed JSON object text.
fn join_attributes(values: Map<String, Json>, types: &Map<String, Json>) -> String {
    let mut out = Map::with_capacity(values.len());
    for (k, v) in values {
        let text = match v {
            Json::String(s) => s,
            other => other.to_string(),
        };
        let typed = match types.get(&k).and_then(Json::as_str) {
            Some("int") => text.parse::<i64>().map(Json::from).ok(),
            Some("double") => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number),
            Some("bool") => text.parse::<bool>().map(Json::Bool).ok(),
            Some("json") => serde_json::from_str(&text).ok(),
            _ => None,
        };
        out.insert(k, typed.unwrap_or(Json::String(text)));
    }
    Json::Object(out).to_string()
}

fn strings(attrs: Map<String, Json>) -> String {
    join_attributes(attrs, &Map::new())
}

/// Keeps the error's code and name, never its text, which may quote row values.
fn error_name(message: &str) -> &str {
    message
        .rfind('(')
        .and_then(|start| {
            let rest = &message[start + 1..];
            let name = &rest[..rest.find(')')?];
            (!name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
                .then_some(name)
        })
        .unwrap_or("error")
}

/// Reads a JSON value that ClickHouse may quote (64-bit integers) as a `u64`.
fn de_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u64),
        S(String),
    }
    match N::deserialize(d)? {
        N::N(n) => Ok(n),
        N::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Deserialize)]
struct SpanOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(rename = "TraceId")]
    trace_id: String,
    #[serde(rename = "SpanId")]
    span_id: String,
    #[serde(rename = "ParentSpanId")]
    parent_span_id: String,
    #[serde(rename = "SpanName")]
    name: String,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "SpanKind")]
    kind: String,
    #[serde(deserialize_with = "de_u64", rename = "Duration")]
    duration: u64,
    #[serde(rename = "StatusCode")]
    status_code: String,
    #[serde(rename = "StatusMessage")]
    status_message: String,
    #[serde(rename = "SpanAttributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "SpanAttributeTypes")]
    types: Map<String, Json>,
    #[serde(rename = "ResourceAttributes")]
    resource: Map<String, Json>,
    event_times: Vec<Json>,
    #[serde(rename = "Events.Name")]
    event_names: Vec<String>,
    #[serde(rename = "Events.Attributes")]
    event_attributes: Vec<Map<String, Json>>,
}

const SPAN_COLUMNS: &str = "toUnixTimestamp64Nano(Timestamp) AS t, TraceId, SpanId, ParentSpanId, \
     SpanName, ServiceName, SpanKind, Duration, StatusCode, StatusMessage, SpanAttributes, \
     SpanAttributeTypes, ResourceAttributes, \
     arrayMap(x -> toString(toUnixTimestamp64Nano(x)), `Events.Timestamp`) AS event_times, \
     `Events.Name`, `Events.Attributes`";

impl SpanOut {
    fn row(self) -> SpanRow {
        let events: Vec<Json> = self
            .event_names
            .into_iter()
            .zip(self.event_times)
            .zip(self.event_attributes)
            .map(|((name, time), attributes)| {
                let attributes: Json =
                    serde_json::from_str(&strings(attributes)).unwrap_or_default();
                json!({"name": name, "time_unix_nano": time, "attributes": attributes})
            })
            .collect();
        SpanRow {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name: self.name,
            service_name: self.service_name,
            kind: span_kind_code(&self.kind),
            start_time_unix_nano: self.t,
            end_time_unix_nano: self.t + self.duration,
            status_code: status_code_of(&self.status_code),
            status_message: self.status_message,
            attributes: join_attributes(self.attributes, &self.types),
            events: Json::Array(events).to_string(),
            resource: strings(self.resource),
        }
    }
}

#[derive(Deserialize)]
struct LogOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(deserialize_with = "de_u64")]
    id: u64,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "SeverityNumber")]
    severity_number: i32,
    #[serde(rename = "SeverityText")]
    severity_text: String,
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "EventName")]
    event_name: String,
    #[serde(rename = "TraceId")]
    trace_id: String,
    #[serde(rename = "SpanId")]
    span_id: String,
    #[serde(rename = "LogAttributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "LogAttributeTypes")]
    types: Map<String, Json>,
    #[serde(rename = "ResourceAttributes")]
    resource: Map<String, Json>,
}

/// The hash that orders log records of the same nanosecond.
const LOG_ID: &str = "cityHash64(ServiceName, SeverityNumber, SeverityText, Body, TraceId, SpanId, \
     EventName, toString(LogAttributes))";

#[derive(Deserialize)]
struct RunOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(deserialize_with = "de_u64")]
    end: u64,
    #[serde(deserialize_with = "de_u64")]
    id: u64,
    #[serde(rename = "CorrelationId")]
    correlation_id: String,
    #[serde(rename = "AgentName")]
    agent_name: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "TraceId")]
    trace_id: String,
    #[serde(rename = "QualityScore")]
    quality_score: Option<f64>,
    #[serde(rename = "Error")]
    error: Option<String>,
    #[serde(rename = "Attributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "AttributeTypes")]
    types: Map<String, Json>,
}

const RUN_COLUMNS: &str = "toUnixTimestamp64Nano(Timestamp) AS t, \
     toUnixTimestamp64Nano(EndTimestamp) AS end, cityHash64(CorrelationId) AS id, CorrelationId, \
     AgentName, Status, ServiceName, TraceId, QualityScore, Error, Attributes, AttributeTypes";

#[derive(Deserialize)]
struct ActionOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(rename = "ActionId")]
    action_id: String,
    #[serde(rename = "CorrelationId")]
    correlation_id: String,
    #[serde(rename = "AgentName")]
    agent_name: String,
    #[serde(rename = "ActionType")]
    action_type: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "IsError")]
    is_error: bool,
    #[serde(deserialize_with = "de_u64", rename = "DurationNs")]
    duration_ns: u64,
    #[serde(rename = "Attributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "AttributeTypes")]
    types: Map<String, Json>,
}

#[derive(Deserialize)]
struct PointOut {
    kind: String,
    #[serde(rename = "MetricName")]
    name: String,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(deserialize_with = "de_u64")]
    start: u64,
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    value: Option<f64>,
    #[serde(deserialize_with = "de_u64")]
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    bucket_counts: Vec<Json>,
    explicit_bounds: Vec<Option<f64>>,
    #[serde(rename = "Attributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "AttributeTypes")]
    types: Map<String, Json>,
}

/// Raw tables and the time column retention reads, with whether what they hold is
/// counted as raw rows (the events table and the trace-id lookup are derived).
const RAW_TABLES: &[(&str, &str, bool)] = &[
    (Schema::TRACES, "Timestamp", true),
    (Schema::LOGS, "Timestamp", true),
    (Schema::GAUGES, "TimeUnix", true),
    (Schema::SUMS, "TimeUnix", true),
    (Schema::HISTOGRAMS, "TimeUnix", true),
    (Schema::AGENT_ACTIONS, "Timestamp", true),
    (Schema::AGENT_RUNS, "Timestamp", true),
    ("automagik_events", "Timestamp", false),
    ("otel_traces_trace_id_ts", "End", false),
];

const ROLLUP_STEMS: &[&str] = &[
    "otel_traces_rollup",
    "otel_metrics_rollup",
    "automagik_agent_rollup",
];

/// Tables whose rows have an identity and are read with `FINAL`.
fn final_of(table: &str) -> &'static str {
    if [Schema::TRACES, Schema::AGENT_ACTIONS, Schema::AGENT_RUNS].contains(&table) {
        " FINAL"
    } else {
        ""
    }
}

/// Checks that the ClickHouse server at `url` (a store URL) answers `SELECT 1` with its
/// credentials within `timeout`; the error names ClickHouse's code and error, never the
/// password.
pub fn ping(url: &str, timeout: Duration) -> Result<(), String> {
    let answer = Http::new(parse_url(url)?, timeout)
        .call("SELECT 1", None, 64 * 1024)
        .map_err(|e| match e {
            CallError::Transport(e) | CallError::Body(e) => e,
        })?;
    match (answer.status, answer.code) {
        (200, _) if answer.body.trim() == "1" => Ok(()),
        (200, _) => Err("SELECT 1 did not answer 1: not a ClickHouse server?".into()),
        (_, Some(code)) => Err(format!(
            "ClickHouse error {code} ({})",
            error_name(&answer.body)
        )),
        (status, None) => Err(format!("HTTP {status}: not a ClickHouse server?")),
    }
}

/// The HTTP interface of one ClickHouse server, with the credentials to use.
struct Http {
    agent: ureq::Agent,
    endpoint: String,
    user: String,
    password: String,
}

/// What the server answered: HTTP status, `X-ClickHouse-Exception-Code`, body.
struct Answer {
    status: u16,
    code: Option<u32>,
    body: String,
}

/// Why there is no [`Answer`].
enum CallError {
    /// No connection, or it broke before the answer.
    Transport(String),
    /// The answer's body could not be read.
    Body(String),
}

impl Http {
    fn new(target: Target, timeout: Duration) -> Http {
        Http {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(timeout))
                .user_agent(USER_AGENT)
                .max_idle_connections_per_host(16)
                .build()
                .into(),
            endpoint: target.endpoint,
            user: target.user,
            password: target.password,
        }
    }

    /// Sends `query` (with `data` as the rows of an INSERT), reading at most `limit`
    /// bytes of the answer.
    fn call(&self, query: &str, data: Option<&str>, limit: u64) -> Result<Answer, CallError> {
        let req = self
            .agent
            .post(&self.endpoint)
            .header("X-ClickHouse-User", &self.user)
            .header("X-ClickHouse-Key", &self.password);
        let mut response = match data {
            Some(rows) => req.query("query", query).send(rows.as_bytes()),
            None => req.send(query.as_bytes()),
        }
        .map_err(|e| CallError::Transport(e.to_string()))?;
        let code = response
            .headers()
            .get("x-clickhouse-exception-code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_string()
            .map_err(|e| CallError::Body(e.to_string()))?;
        Ok(Answer {
            status: response.status().as_u16(),
            code,
            body,
        })
    }
}

impl ClickHouseStore {
    /// Connects to `url`, checks the server answers and creates the schema (raw rows
    /// kept `raw_ttl_days`, rollups `rollup_ttl_days`). The error never shows the
    /// password.
    pub fn open(url: &str, raw_ttl_days: u32, rollup_ttl_days: u32) -> Result<Self, StoreError> {
        let target =
            parse_url(url).map_err(|e| StoreError::Database(format!("ClickHouse URL: {e}")))?;
        let store = ClickHouseStore {
            async_insert: target.async_insert,
            chain: std::sync::Mutex::new(()),
            schema: Schema {
                database: target.database.clone(),
                cluster: target.cluster.clone(),
                raw_ttl_days: raw_ttl_days.max(1),
                rollup_ttl_days: rollup_ttl_days.max(1),
            },
            http: Http::new(target, Duration::from_secs(60)),
        };
        for statement in store.schema.statements() {
            store.execute(&statement)?;
        }
        Ok(store)
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{}", ident(&self.schema.database), ident(name))
    }

    /// Sends one statement (with `data` as the rows of an INSERT) and returns the body.
    fn send(&self, query: &str, data: Option<&str>) -> Result<String, StoreError> {
        let answer = self.http.call(query, data, 1 << 30).map_err(|e| match e {
            CallError::Transport(e) => {
                tracing::warn!(error = %e, "ClickHouse is unreachable");
                StoreError::Unavailable
            }
            CallError::Body(e) => StoreError::Database(format!("reading ClickHouse's answer: {e}")),
        })?;
        let Answer { status, code, body } = answer;
        if status == 200 {
            return Ok(body);
        }
        match code {
            Some(code) if RETRYABLE_ERROR_CODES.contains(&code) => {
                tracing::warn!(code, name = error_name(&body), "ClickHouse is busy");
                Err(StoreError::Overloaded)
            }
            Some(code) => Err(StoreError::Database(format!(
                "ClickHouse error {code} ({})",
                error_name(&body)
            ))),
            None if status == 503 || status == 502 || status == 504 => Err(StoreError::Overloaded),
            None => Err(StoreError::Database(format!(
                "ClickHouse answered HTTP {status}"
            ))),
        }
    }

    fn execute(&self, statement: &str) -> Result<(), StoreError> {
        self.send(statement, None).map(|_| ())
    }

    fn select<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let body = self.send(
            &format!(
                "{sql} SETTINGS output_format_json_quote_64bit_integers = 0, \
                 output_format_json_quote_denormals = 0 FORMAT JSONEachRow"
            ),
            None,
        )?;
        body.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| {
                    StoreError::Database(format!("unexpected row from ClickHouse: {e}"))
                })
            })
            .collect()
    }

    fn count(&self, sql: &str) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct N {
            #[serde(deserialize_with = "de_u64")]
            n: u64,
        }
        Ok(self.select::<N>(sql)?.first().map_or(0, |r| r.n))
    }

    fn insert_rows(&self, insert: &Insert) -> Result<(), StoreError> {
        if insert.count == 0 {
            return Ok(());
        }
        let mut h = DefaultHasher::new();
        h.write(insert.rows.as_bytes());
        let query = format!(
            "INSERT INTO {} SETTINGS insert_deduplication_token = '{}:{}:{:016x}'{} \
             FORMAT JSONEachRow",
            self.table(insert.table),
            insert.table,
            insert.count,
            h.finish(),
            if self.async_insert {
                ", async_insert = 1, wait_for_async_insert = 1"
            } else {
                ""
            }
        );
        self.send(&query, Some(&insert.rows)).map(|_| ())
    }

    /// The `JSONEachRow` bodies `batch` is inserted as, one per table (empty ones
    /// included).
    pub fn inserts(batch: &Batch) -> Vec<Insert> {
        // Spans are the volume: written field by field, the resource map once per
        // resource.
        let mut spans = Insert::new(Schema::TRACES);
        let (mut values, mut types) = (String::new(), String::new());
        let mut resource: (&str, String) = ("", String::new());
        for s in &batch.spans {
            if resource.1.is_empty() || resource.0 != s.resource {
                resource.1.clear();
                write_attributes(&s.resource, &mut resource.1, &mut types);
                resource.0 = &s.resource;
            }
            values.clear();
            types.clear();
            write_attributes(&s.attributes, &mut values, &mut types);
            let mut row = Row::start(&mut spans.rows);
            row.time("Timestamp", s.start_time_unix_nano);
            row.text("TraceId", &s.trace_id);
            row.text("SpanId", &s.span_id);
            row.text("ParentSpanId", &s.parent_span_id);
            row.text("SpanName", &s.name);
            row.text("SpanKind", span_kind_name(s.kind));
            row.text("ServiceName", &s.service_name);
            row.name("ResourceAttributes").push_str(&resource.1);
            row.name("SpanAttributes").push_str(&values);
            row.name("SpanAttributeTypes").push_str(&types);
            row.number(
                "Duration",
                s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
            );
            row.text("StatusCode", status_name(s.status_code));
            row.text("StatusMessage", &s.status_message);
            if s.events != "[]" {
                let events: Vec<Json> = serde_json::from_str(&s.events).unwrap_or_default();
                let field = |e: &Json, k: &str| e.get(k).cloned().unwrap_or(Json::Null);
                let times: Vec<String> = events
                    .iter()
                    .map(|e| {
                        let ns = field(e, "time_unix_nano");
                        time_text(
                            ns.as_str()
                                .and_then(|t| t.parse().ok())
                                .or(ns.as_u64())
                                .unwrap_or(0),
                        )
                    })
                    .collect();
                let names: Vec<Json> = events.iter().map(|e| field(e, "name")).collect();
                let attributes: Vec<Json> = events
                    .iter()
                    .map(|e| split_attributes(&field(e, "attributes").to_string()).0)
                    .collect();
                row.number("Events.Timestamp", Json::from(times));
                row.number("Events.Name", Json::from(names));
                row.number("Events.Attributes", Json::from(attributes));
            }
            row.end();
            spans.count += 1;
        }
        let mut logs = Insert::new(Schema::LOGS);
        for l in &batch.logs {
            let (attributes, types) = split_attributes(&l.attributes);
            logs.push(&json!({
                "Timestamp": time_text(l.time_unix_nano),
                "TraceId": l.trace_id.as_deref().unwrap_or(""),
                "SpanId": l.span_id.as_deref().unwrap_or(""),
                "SeverityText": l.severity_text,
                "SeverityNumber": l.severity_number.clamp(0, 255),
                "ServiceName": l.service_name,
                "Body": l.body.as_deref().unwrap_or(""),
                "ResourceAttributes": split_attributes(&l.resource).0,
                "LogAttributes": attributes,
                "LogAttributeTypes": types,
                "EventName": l.event_name.as_deref().unwrap_or(""),
            }));
        }
        let (mut gauges, mut sums, mut histograms) = (
            Insert::new(Schema::GAUGES),
            Insert::new(Schema::SUMS),
            Insert::new(Schema::HISTOGRAMS),
        );
        for m in &batch.metric_points {
            let (attributes, types) = split_attributes(&m.attributes);
            let float = |f: Option<f64>| match f {
                Some(f) if f.is_finite() => json!(f),
                Some(f) if f.is_infinite() => json!(if f > 0.0 { "inf" } else { "-inf" }),
                _ => json!("nan"),
            };
            let mut row = json!({
                "ServiceName": m.service_name,
                "MetricName": m.name,
                "Attributes": attributes,
                "AttributeTypes": types,
                "StartTimeUnix": time_text(m.start_time_unix_nano),
                "TimeUnix": time_text(m.time_unix_nano),
            });
            let table = match m.kind {
                "histogram" => {
                    row["Count"] = json!(m.count.unwrap_or(0));
                    row["Sum"] = float(m.sum.or(Some(0.0)));
                    row["Min"] = float(m.min);
                    row["Max"] = float(m.max);
                    row["BucketCounts"] = json!(m.bucket_counts.clone().unwrap_or_default());
                    row["ExplicitBounds"] = Json::Array(
                        m.explicit_bounds
                            .iter()
                            .flatten()
                            .map(|b| float(Some(*b)))
                            .collect(),
                    );
                    &mut histograms
                }
                kind => {
                    row["Value"] = float(m.value);
                    if kind == "sum" {
                        &mut sums
                    } else {
                        &mut gauges
                    }
                }
            };
            table.push(&row);
        }
        let mut runs = Insert::new(Schema::AGENT_RUNS);
        for r in &batch.agent_runs {
            let (attributes, types) = split_attributes(&r.attributes);
            runs.push(&json!({
                "Timestamp": time_text(r.start_time_unix_nano),
                "EndTimestamp": time_text(r.end_time_unix_nano),
                "CorrelationId": r.correlation_id,
                "AgentName": r.agent_name,
                "Status": r.status,
                "ServiceName": r.service_name,
                "TraceId": r.trace_id,
                "QualityScore": r.quality_score.filter(|q| q.is_finite()),
                "Error": r.error,
                "Attributes": attributes,
                "AttributeTypes": types,
            }));
        }
        let mut actions = Insert::new(Schema::AGENT_ACTIONS);
        for a in &batch.agent_actions {
            let (attributes, types) = split_attributes(&a.attributes);
            actions.push(&json!({
                "Timestamp": time_text(a.time_unix_nano),
                "ActionId": a.action_id,
                "CorrelationId": a.correlation_id,
                "AgentName": a.agent_name,
                "ActionType": a.action_type,
                "Name": a.name,
                "IsError": a.is_error,
                "DurationNs": a.duration_ns,
                "Attributes": attributes,
                "AttributeTypes": types,
            }));
        }
        vec![spans, logs, gauges, sums, histograms, runs, actions]
    }

    fn run_counts(&self, runs: Vec<RunOut>) -> Result<Vec<StoredRun>, StoreError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(Deserialize)]
        struct C {
            #[serde(rename = "CorrelationId")]
            id: String,
            #[serde(deserialize_with = "de_u64")]
            n: u64,
        }
        let ids: Vec<String> = runs.iter().map(|r| literal(&r.correlation_id)).collect();
        let counts: std::collections::HashMap<String, u64> = self
            .select::<C>(&format!(
                "SELECT CorrelationId, uniqExact(ActionId) AS n FROM {} WHERE CorrelationId IN ({}) \
                 GROUP BY CorrelationId",
                self.table(Schema::AGENT_ACTIONS),
                ids.join(", ")
            ))?
            .into_iter()
            .map(|c| (c.id, c.n))
            .collect();
        Ok(runs
            .into_iter()
            .map(|r| StoredRun {
                id: r.id as i64,
                action_count: counts.get(&r.correlation_id).copied().unwrap_or(0),
                row: AgentRunRow {
                    correlation_id: r.correlation_id,
                    agent_name: r.agent_name,
                    status: r.status,
                    service_name: r.service_name,
                    trace_id: r.trace_id,
                    start_time_unix_nano: r.t,
                    end_time_unix_nano: r.end,
                    quality_score: r.quality_score,
                    error: r.error,
                    attributes: join_attributes(r.attributes, &r.types),
                },
            })
            .collect())
    }

    /// `WHERE` conditions of a rollup read.
    fn rollup_filter(q: &RollupQuery, service_col: &str, name_col: &str) -> String {
        let mut w = format!(
            "Bucket >= {} AND Bucket <= {}",
            at_second_ceil(q.from),
            at_second(q.to)
        );
        if let Some(s) = &q.service {
            let _ = write!(w, " AND {service_col} = {}", literal(s));
        }
        if let Some(n) = &q.name {
            let _ = write!(w, " AND {name_col} = {}", literal(n));
        }
        w
    }

    /// Links of the snapshot chain, selected by `rest` (`WHERE`, `ORDER BY`, `LIMIT`).
    fn links(&self, rest: &str) -> Result<Vec<Link>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct LinkOut {
            #[serde(deserialize_with = "de_u64")]
            seq: u64,
            snapshot_id: String,
            body: String,
            prev_hash: String,
            hash: String,
        }
        let rows: Vec<LinkOut> = self.select(&format!(
            "SELECT Seq, SnapshotId, Body, PrevHash, Hash FROM {} {rest}",
            self.table(Schema::FLEET_SNAPSHOTS)
        ))?;
        Ok(rows
            .into_iter()
            .map(|r| Link {
                seq: r.seq,
                snapshot_id: r.snapshot_id,
                body: r.body,
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect())
    }

    fn rollup_table(&self, stem: &str, resolution: u32) -> String {
        self.table(&format!(
            "{stem}_{}",
            if resolution >= 3600 { "1h" } else { "1m" }
        ))
    }
}

/// `(Timestamp, key) < (cursor)` for newest-first keyset pages.
fn before(time_col: &str, key_col: &str, time: u64, key: &str) -> String {
    format!(" AND ({time_col}, {key_col}) < ({}, {key})", at(time))
}

impl StoreWrite for ClickHouseStore {
    fn insert(&self, batch: Batch) -> Result<(), StoreError> {
        for insert in Self::inserts(&batch) {
            self.insert_rows(&insert)?;
        }
        Ok(())
    }
}

impl StoreRead for ClickHouseStore {
    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRow>, StoreError> {
        let id = literal(trace_id);
        let rows: Vec<SpanOut> = self.select(&format!(
            "WITH (SELECT (min(Start), max(End)) FROM {lookup} WHERE TraceId = {id}) AS range \
             SELECT {SPAN_COLUMNS} FROM {spans} WHERE TraceId = {id} \
             AND Timestamp >= toDateTime64(range.1, 9) \
             AND Timestamp < toDateTime64(range.2, 9) + toIntervalSecond(1) \
             ORDER BY Timestamp, SpanId LIMIT 1 BY SpanId",
            lookup = self.table("otel_traces_trace_id_ts"),
            spans = self.table(Schema::TRACES),
        ))?;
        Ok(rows.into_iter().map(SpanOut::row).collect())
    }

    fn traces(&self, q: &TraceQuery) -> Result<Page<TraceSummary>, StoreError> {
        let spans = self.table(Schema::TRACES);
        let mut filter = String::new();
        if let Some(s) = &q.service {
            let _ = write!(filter, " AND ServiceName = {}", literal(s));
        }
        if let Some(n) = &q.name {
            let _ = write!(filter, " AND SpanName = {}", literal(n));
        }
        if let Some(c) = q.status_code {
            let _ = write!(filter, " AND StatusCode = {}", literal(status_name(c)));
        }
        if let Some(d) = q.min_duration_ns {
            let _ = write!(filter, " AND Duration >= {d}");
        }
        if let Some(from) = q.from {
            let _ = write!(filter, " AND Timestamp >= {}", at(from));
        }
        if let Some(to) = q.to {
            let _ = write!(filter, " AND Timestamp <= {}", at(to));
        }
        if let Some(c) = &q.cursor {
            filter.push_str(&before(
                "Timestamp",
                "concat(TraceId, SpanId)",
                c.time,
                &literal(&c.key),
            ));
        }
        // A root is a span whose parent is not stored in its trace: the parents looked
        // for are only those of the candidates' traces.
        let roots: Vec<SpanOut> = self.select(&format!(
            "SELECT {SPAN_COLUMNS} FROM {spans} WHERE 1 = 1{filter} \
             AND (ParentSpanId = '' OR (TraceId, ParentSpanId) NOT IN ( \
                SELECT TraceId, SpanId FROM {spans} WHERE TraceId IN ( \
                    SELECT TraceId FROM {spans} WHERE ParentSpanId != ''{filter}))) \
             ORDER BY Timestamp DESC, concat(TraceId, SpanId) DESC \
             LIMIT 1 BY TraceId, SpanId LIMIT {}",
            q.limit + 1
        ))?;
        let mut page = Page::cut(
            roots.into_iter().map(SpanOut::row).collect::<Vec<_>>(),
            q.limit,
            crate::store::sql::trace_cursor,
        );
        #[derive(Deserialize)]
        struct C {
            #[serde(rename = "TraceId")]
            id: String,
            #[serde(deserialize_with = "de_u64")]
            n: u64,
        }
        let counts: std::collections::HashMap<String, u64> = if page.items.is_empty() {
            Default::default()
        } else {
            let ids: Vec<String> = page.items.iter().map(|s| literal(&s.trace_id)).collect();
            self.select::<C>(&format!(
                "SELECT TraceId, uniqExact(SpanId) AS n FROM {spans} WHERE TraceId IN ({}) \
                 GROUP BY TraceId",
                ids.join(", ")
            ))?
            .into_iter()
            .map(|c| (c.id, c.n))
            .collect()
        };
        let items = std::mem::take(&mut page.items)
            .into_iter()
            .map(|root| TraceSummary {
                span_count: counts.get(&root.trace_id).copied().unwrap_or(1),
                root,
            })
            .collect();
        Ok(Page {
            items,
            next: page.next,
        })
    }

    fn logs(&self, q: &LogQuery) -> Result<Page<StoredLog>, StoreError> {
        let mut w = String::from("1 = 1");
        if let Some(s) = &q.service {
            let _ = write!(w, " AND ServiceName = {}", literal(s));
        }
        if let Some(min) = q.severity_min {
            let _ = write!(w, " AND SeverityNumber >= {}", min.clamp(0, 255));
        }
        if let Some(t) = &q.text {
            let _ = write!(w, " AND position(Body, {}) > 0", literal(t));
        }
        if let Some(t) = &q.trace_id {
            let _ = write!(w, " AND TraceId = {}", literal(t));
        }
        if let Some(e) = &q.event_name {
            let _ = write!(w, " AND EventName = {}", literal(e));
        }
        if q.events_only {
            w.push_str(" AND EventName != ''");
        }
        if let Some(from) = q.from {
            let _ = write!(
                w,
                " AND TimestampTime >= {} AND Timestamp >= {}",
                at_second(from),
                at(from)
            );
        }
        if let Some(to) = q.to {
            let _ = write!(
                w,
                " AND TimestampTime <= {} AND Timestamp <= {}",
                at_second(to),
                at(to)
            );
        }
        if let Some(c) = &q.cursor {
            let id = c.id().map_or(u64::MAX, |i| i as u64);
            let _ = write!(
                w,
                " AND TimestampTime <= {}{}",
                at_second(c.time),
                before("Timestamp", "id", c.time, &format!("toUInt64({id})"))
            );
        }
        let rows: Vec<LogOut> = self.select(&format!(
            "SELECT toUnixTimestamp64Nano(Timestamp) AS t, {LOG_ID} AS id, ServiceName, \
             SeverityNumber, SeverityText, Body, EventName, TraceId, SpanId, LogAttributes, \
             LogAttributeTypes, ResourceAttributes FROM {} WHERE {w} \
             ORDER BY Timestamp DESC, id DESC LIMIT {}",
            self.table(Schema::LOGS),
            q.limit + 1
        ))?;
        let items = rows
            .into_iter()
            .map(|l| StoredLog {
                id: l.id as i64,
                row: LogRow {
                    time_unix_nano: l.t,
                    service_name: l.service_name,
                    severity_number: l.severity_number,
                    severity_text: l.severity_text,
                    body: Some(l.body).filter(|b| !b.is_empty()),
                    event_name: Some(l.event_name).filter(|e| !e.is_empty()),
                    trace_id: Some(l.trace_id).filter(|t| !t.is_empty()),
                    span_id: Some(l.span_id).filter(|s| !s.is_empty()),
                    attributes: join_attributes(l.attributes, &l.types),
                    resource: strings(l.resource),
                },
            })
            .collect();
        Ok(Page::cut(items, q.limit, StoredLog::cursor))
    }

    fn services(&self) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct S {
            s: String,
        }
        let parts: Vec<String> = [
            Schema::TRACES,
            Schema::LOGS,
            Schema::GAUGES,
            Schema::SUMS,
            Schema::HISTOGRAMS,
        ]
        .iter()
        .map(|t| format!("SELECT DISTINCT ServiceName AS s FROM {}", self.table(t)))
        .collect();
        Ok(self
            .select::<S>(&format!(
                "SELECT DISTINCT s FROM ({}) ORDER BY s",
                parts.join(" UNION ALL ")
            ))?
            .into_iter()
            .map(|s| s.s)
            .collect())
    }

    /// `SELECT 1`: `stats` counts whole tables, too much for a readiness probe.
    fn ready(&self) -> Result<(), StoreError> {
        self.execute("SELECT 1")
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        #[derive(Deserialize)]
        struct Bounds {
            #[serde(deserialize_with = "de_u64")]
            n: u64,
            #[serde(deserialize_with = "de_u64")]
            lo: u64,
            #[serde(deserialize_with = "de_u64")]
            hi: u64,
        }
        let bounds = |table: &str, col: &str, extra: &str| -> Result<Bounds, StoreError> {
            let rows: Vec<Bounds> = self.select(&format!(
                "SELECT count() AS n, if(n = 0, 0, toUnixTimestamp64Nano(min({col}))) AS lo, \
                 if(n = 0, 0, toUnixTimestamp64Nano(max({col}))) AS hi FROM {}{} {extra}",
                self.table(table),
                final_of(table)
            ))?;
            Ok(rows
                .into_iter()
                .next()
                .unwrap_or(Bounds { n: 0, lo: 0, hi: 0 }))
        };
        let spans = bounds(Schema::TRACES, "Timestamp", "")?;
        let logs = bounds(Schema::LOGS, "Timestamp", "")?;
        let metrics = [
            bounds(Schema::GAUGES, "TimeUnix", "")?,
            bounds(Schema::SUMS, "TimeUnix", "")?,
            bounds(Schema::HISTOGRAMS, "TimeUnix", "")?,
        ];
        let all: Vec<&Bounds> = [&spans, &logs].into_iter().chain(&metrics).collect();
        let seen = || all.iter().filter(|b| b.n > 0);
        Ok(Stats {
            spans: spans.n,
            logs: logs.n,
            metric_points: metrics.iter().map(|m| m.n).sum(),
            events: self.count(&format!(
                "SELECT count() AS n FROM {} WHERE EventName != ''",
                self.table(Schema::LOGS)
            ))?,
            agent_actions: self.count(&format!(
                "SELECT count() AS n FROM {} FINAL",
                self.table(Schema::AGENT_ACTIONS)
            ))?,
            bytes_on_disk: self.count(&format!(
                "SELECT sum(bytes_on_disk) AS n FROM system.parts WHERE active AND database = {}",
                literal(&self.schema.database)
            ))?,
            oldest: seen().map(|b| b.lo).min().map(rfc3339),
            newest: seen().map(|b| b.hi).max().map(rfc3339),
        })
    }

    fn metric_names(&self) -> Result<Vec<MetricInfo>, StoreError> {
        #[derive(Deserialize)]
        struct M {
            name: String,
            kind: String,
            #[serde(deserialize_with = "de_u64")]
            points: u64,
            #[serde(deserialize_with = "de_u64")]
            last: u64,
        }
        let parts: Vec<String> = [("gauge", Schema::GAUGES), ("sum", Schema::SUMS)]
            .into_iter()
            .chain([("histogram", Schema::HISTOGRAMS)])
            .map(|(kind, t)| {
                format!(
                    "SELECT MetricName AS name, '{kind}' AS kind, count() AS points, \
                     toUnixTimestamp64Nano(max(TimeUnix)) AS last FROM {} GROUP BY MetricName",
                    self.table(t)
                )
            })
            .collect();
        Ok(self
            .select::<M>(&format!(
                "SELECT * FROM ({}) ORDER BY name, kind",
                parts.join(" UNION ALL ")
            ))?
            .into_iter()
            .map(|m| MetricInfo {
                name: m.name,
                kind: m.kind,
                points: m.points,
                last_time_unix_nano: m.last,
            })
            .collect())
    }

    fn metric_points(
        &self,
        name: &str,
        from: u64,
        to: u64,
        max: usize,
    ) -> Result<Vec<MetricPointRow>, StoreError> {
        let filter = format!(
            "MetricName = {} AND TimeUnix >= {} AND TimeUnix <= {}",
            literal(name),
            at(from),
            at(to)
        );
        let common = "MetricName, ServiceName, toUnixTimestamp64Nano(StartTimeUnix) AS start, \
             toUnixTimestamp64Nano(TimeUnix) AS t, Attributes, AttributeTypes";
        let number = |kind: &str, table: &str| {
            format!(
                "SELECT '{kind}' AS kind, {common}, Value AS value, toUInt64(0) AS count, \
                 CAST(NULL, 'Nullable(Float64)') AS sum, CAST(NULL, 'Nullable(Float64)') AS min, \
                 CAST(NULL, 'Nullable(Float64)') AS max, CAST([], 'Array(UInt64)') AS bucket_counts, \
                 CAST([], 'Array(Float64)') AS explicit_bounds FROM {} WHERE {filter}",
                self.table(table)
            )
        };
        let histogram = format!(
            "SELECT 'histogram' AS kind, {common}, CAST(NULL, 'Nullable(Float64)') AS value, \
             Count AS count, toNullable(Sum) AS sum, toNullable(Min) AS min, toNullable(Max) AS max, \
             BucketCounts AS bucket_counts, ExplicitBounds AS explicit_bounds FROM {} WHERE {filter}",
            self.table(Schema::HISTOGRAMS)
        );
        let rows: Vec<PointOut> = self.select(&format!(
            "SELECT * FROM ({} UNION ALL {} UNION ALL {histogram}) \
             ORDER BY t, ServiceName, toString(Attributes) LIMIT {}",
            number("gauge", Schema::GAUGES),
            number("sum", Schema::SUMS),
            max.saturating_add(1)
        ))?;
        Ok(rows
            .into_iter()
            .map(|p| {
                let histogram = p.kind == "histogram";
                MetricPointRow {
                    kind: match p.kind.as_str() {
                        "sum" => "sum",
                        "histogram" => "histogram",
                        _ => "gauge",
                    },
                    name: p.name,
                    service_name: p.service_name,
                    start_time_unix_nano: p.start,
                    time_unix_nano: p.t,
                    value: p.value,
                    count: histogram.then_some(p.count),
                    sum: p.sum,
                    min: p.min,
                    max: p.max,
                    bucket_counts: histogram.then(|| {
                        p.bucket_counts
                            .iter()
                            .map(|b| b.as_u64().or_else(|| b.as_str()?.parse().ok()).unwrap_or(0))
                            .collect()
                    }),
                    explicit_bounds: histogram.then(|| {
                        p.explicit_bounds
                            .iter()
                            .map(|b| b.unwrap_or(f64::NAN))
                            .collect()
                    }),
                    attributes: join_attributes(p.attributes, &p.types),
                }
            })
            .collect())
    }

    fn span_rollups(&self, q: &RollupQuery) -> Result<Vec<(SpanKey, SpanAgg)>, StoreError> {
        #[derive(Deserialize)]
        struct R {
            #[serde(deserialize_with = "de_u64")]
            b: u64,
            #[serde(rename = "ServiceName")]
            service: String,
            #[serde(rename = "SpanName")]
            name: String,
            #[serde(deserialize_with = "de_u64")]
            spans: u64,
            #[serde(deserialize_with = "de_u64")]
            errors: u64,
            #[serde(deserialize_with = "de_u64")]
            dsum: u64,
            hist: (Vec<usize>, Vec<Json>),
        }
        let rows: Vec<R> = self.select(&format!(
            "SELECT toUnixTimestamp(Bucket) AS b, ServiceName, SpanName, sum(Spans) AS spans, \
             sum(Errors) AS errors, sum(DurationSum) AS dsum, sumMap(DurationHistogram) AS hist \
             FROM {} WHERE {} GROUP BY b, ServiceName, SpanName ORDER BY b, ServiceName, SpanName",
            self.rollup_table("otel_traces_rollup", q.resolution),
            Self::rollup_filter(q, "ServiceName", "SpanName")
        ))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut hist = Vec::new();
                for (bucket, n) in r.hist.0.iter().zip(&r.hist.1) {
                    let n = n.as_u64().or_else(|| n.as_str()?.parse().ok()).unwrap_or(0);
                    let bucket = (*bucket).min(crate::rollup::HIST_BUCKETS - 1);
                    if hist.len() <= bucket {
                        hist.resize(bucket + 1, 0);
                    }
                    hist[bucket] += n;
                }
                (
                    SpanKey {
                        resolution: q.resolution,
                        bucket: r.b * 1_000_000_000,
                        service_name: r.service,
                        operation: r.name,
                    },
                    SpanAgg {
                        count: r.spans,
                        errors: r.errors,
                        duration_sum_ns: r.dsum,
                        hist,
                    },
                )
            })
            .collect())
    }

    fn metric_rollups(&self, q: &RollupQuery) -> Result<Vec<(MetricKey, MetricAgg)>, StoreError> {
        #[derive(Deserialize)]
        struct R {
            #[serde(deserialize_with = "de_u64")]
            b: u64,
            #[serde(rename = "ServiceName")]
            service: String,
            #[serde(rename = "MetricName")]
            name: String,
            #[serde(deserialize_with = "de_u64")]
            count: u64,
            sum: f64,
            min: f64,
            max: f64,
        }
        let rows: Vec<R> = self.select(&format!(
            "SELECT toUnixTimestamp(Bucket) AS b, ServiceName, MetricName, sum(Count) AS count, \
             sum(Sum) AS sum, min(Min) AS min, max(Max) AS max FROM {} WHERE {} \
             GROUP BY b, ServiceName, MetricName ORDER BY b, ServiceName, MetricName",
            self.rollup_table("otel_metrics_rollup", q.resolution),
            Self::rollup_filter(q, "ServiceName", "MetricName")
        ))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    MetricKey {
                        resolution: q.resolution,
                        bucket: r.b * 1_000_000_000,
                        name: r.name,
                        service_name: r.service,
                    },
                    MetricAgg {
                        count: r.count,
                        sum: r.sum,
                        min: r.min,
                        max: r.max,
                    },
                )
            })
            .collect())
    }

    fn agent_rollups(&self, q: &RollupQuery) -> Result<Vec<(AgentKey, AgentAgg)>, StoreError> {
        #[derive(Deserialize)]
        struct R {
            #[serde(deserialize_with = "de_u64")]
            b: u64,
            #[serde(rename = "AgentName")]
            agent: String,
            #[serde(rename = "ActionType")]
            action_type: String,
            #[serde(deserialize_with = "de_u64")]
            count: u64,
            #[serde(deserialize_with = "de_u64")]
            errors: u64,
        }
        let rows: Vec<R> = self.select(&format!(
            "SELECT toUnixTimestamp(Bucket) AS b, AgentName, ActionType, sum(Actions) AS count, \
             sum(Errors) AS errors FROM {} WHERE {} GROUP BY b, AgentName, ActionType \
             ORDER BY b, AgentName, ActionType",
            self.rollup_table("automagik_agent_rollup", q.resolution),
            Self::rollup_filter(q, "AgentName", "ActionType")
        ))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    AgentKey {
                        resolution: q.resolution,
                        bucket: r.b * 1_000_000_000,
                        agent_name: r.agent,
                        action_type: r.action_type,
                    },
                    AgentAgg {
                        count: r.count,
                        errors: r.errors,
                    },
                )
            })
            .collect())
    }

    fn runs(&self, q: &RunQuery) -> Result<Page<StoredRun>, StoreError> {
        let mut w = String::from("1 = 1");
        if let Some(a) = &q.agent {
            let _ = write!(w, " AND AgentName = {}", literal(a));
        }
        if let Some(s) = &q.status {
            let _ = write!(w, " AND Status = {}", literal(s));
        }
        if let Some(from) = q.from {
            let _ = write!(w, " AND Timestamp >= {}", at(from));
        }
        if let Some(to) = q.to {
            let _ = write!(w, " AND Timestamp <= {}", at(to));
        }
        if let Some(c) = &q.cursor {
            let id = c.id().map_or(u64::MAX, |i| i as u64);
            w.push_str(&before(
                "Timestamp",
                "id",
                c.time,
                &format!("toUInt64({id})"),
            ));
        }
        let runs: Vec<RunOut> = self.select(&format!(
            "SELECT {RUN_COLUMNS} FROM {} FINAL WHERE {w} ORDER BY Timestamp DESC, id DESC LIMIT {}",
            self.table(Schema::AGENT_RUNS),
            q.limit + 1
        ))?;
        Ok(Page::cut(
            self.run_counts(runs)?,
            q.limit,
            StoredRun::cursor,
        ))
    }

    fn run(&self, correlation_id: &str) -> Result<Option<StoredRun>, StoreError> {
        let runs: Vec<RunOut> = self.select(&format!(
            "SELECT {RUN_COLUMNS} FROM {} FINAL WHERE CorrelationId = {} LIMIT 1",
            self.table(Schema::AGENT_RUNS),
            literal(correlation_id)
        ))?;
        Ok(self.run_counts(runs)?.into_iter().next())
    }

    fn actions(&self, correlation_id: &str) -> Result<Vec<AgentActionRow>, StoreError> {
        let rows: Vec<ActionOut> = self.select(&format!(
            "SELECT toUnixTimestamp64Nano(Timestamp) AS t, ActionId, CorrelationId, AgentName, \
             ActionType, Name, IsError, DurationNs, Attributes, AttributeTypes FROM {} \
             WHERE CorrelationId = {} ORDER BY Timestamp, ActionId LIMIT 1 BY ActionId",
            self.table(Schema::AGENT_ACTIONS),
            literal(correlation_id)
        ))?;
        Ok(rows
            .into_iter()
            .map(|a| AgentActionRow {
                action_id: a.action_id,
                correlation_id: a.correlation_id,
                agent_name: a.agent_name,
                action_type: a.action_type,
                name: a.name,
                is_error: a.is_error,
                time_unix_nano: a.t,
                duration_ns: a.duration_ns,
                attributes: join_attributes(a.attributes, &a.types),
            })
            .collect())
    }
}

impl Retention for ClickHouseStore {
    fn purge(&self, raw_before: u64, rollups_before: u64) -> Result<Purged, StoreError> {
        let mut purged = Purged::default();
        let on_cluster = self
            .schema
            .cluster
            .as_deref()
            .map(|c| format!(" ON CLUSTER {}", ident(c)))
            .unwrap_or_default();
        let local = |t: &str| match self.schema.cluster {
            Some(_) => self.table(&format!("{t}_local")),
            None => self.table(t),
        };
        let delete = |table: &str, condition: String, counted: bool| {
            let n = self.count(&format!(
                "SELECT count() AS n FROM {}{} WHERE {condition}",
                self.table(table),
                final_of(table)
            ))?;
            if n > 0 {
                self.execute(&format!(
                    "DELETE FROM {}{on_cluster} WHERE {condition}",
                    local(table)
                ))?;
            }
            Ok::<u64, StoreError>(if counted { n } else { 0 })
        };
        for (table, col, counted) in RAW_TABLES {
            let condition = if *col == "End" {
                format!("End < {}", at_second(raw_before))
            } else {
                format!("{col} < {}", at(raw_before))
            };
            purged.raw += delete(table, condition, *counted)?;
        }
        for stem in ROLLUP_STEMS {
            for suffix in ["1m", "1h"] {
                purged.rollups += delete(
                    &format!("{stem}_{suffix}"),
                    format!("Bucket < {}", at_second_ceil(rollups_before)),
                    true,
                )?;
            }
        }
        Ok(purged)
    }
}

impl SnapshotChain for ClickHouseStore {
    fn with_chain_locked(&self, append: ChainAppend) -> Result<Link, StoreError> {
        let _held = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        append(&mut Chain(self))
    }

    fn snapshot_links(&self, after: u64, limit: usize) -> Result<Vec<Link>, StoreError> {
        self.links(&format!("WHERE Seq > {after} ORDER BY Seq LIMIT {limit}"))
    }

    fn last_snapshot(&self) -> Result<Option<Link>, StoreError> {
        Ok(self.links("ORDER BY Seq DESC LIMIT 1")?.pop())
    }
}

/// The chain as an append holding the store's chain mutex sees it.
struct Chain<'a>(&'a ClickHouseStore);

impl ChainTx for Chain<'_> {
    fn last_link(&mut self) -> Result<Option<Link>, StoreError> {
        self.0.last_snapshot()
    }

    fn insert_link(&mut self, link: &Link, collected_at_unix_nano: u64) -> Result<(), StoreError> {
        let mut insert = Insert::new(Schema::FLEET_SNAPSHOTS);
        insert.push(&serde_json::json!({
            "Seq": link.seq,
            "SnapshotId": link.snapshot_id,
            "CollectedAt": time_text(collected_at_unix_nano),
            "Body": link.body,
            "PrevHash": link.prev_hash,
            "Hash": link.hash,
        }));
        self.0.insert_rows(&insert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_endpoint_credentials_database_and_cluster() {
        let t = parse_url("clickhouse://ingest:s%40cret@ch.internal/telemetry?cluster=prod")
            .expect("url");
        assert_eq!(
            t,
            Target {
                endpoint: "http://ch.internal:8123/".into(),
                user: "ingest".into(),
                password: "s@cret".into(),
                database: "telemetry".into(),
                cluster: Some("prod".into()),
                async_insert: false,
            }
        );
        assert!(
            parse_url("clickhouse://h/?async_insert=1")
                .expect("url")
                .async_insert
        );
        let t = parse_url("https://ch.example:9443/?database=d&user=u&password=p").expect("url");
        assert_eq!(t.endpoint, "https://ch.example:9443/");
        assert_eq!(
            (t.database.as_str(), t.user.as_str(), t.password.as_str()),
            ("d", "u", "p")
        );
        let t = parse_url("clickhouses://[::1]").expect("url");
        assert_eq!(t.endpoint, "https://[::1]:8443/");
        assert_eq!(
            (t.database.as_str(), t.user.as_str()),
            ("automagik", "default")
        );
        assert!(parse_url("clickhouse://h/?verbose=1").is_err());
        assert!(parse_url("ftp://h").is_err());
    }

    #[test]
    fn attributes_keep_their_types_through_the_string_map() {
        let text = r#"{"s":"x","i":-42,"big":9007199254740993,"f":0.25,"whole":2.0,"b":true,"a":[1,"y"],"m":{"k":null},"n":"NaN"}"#;
        let (values, types) = split_attributes(text);
        assert_eq!(values["i"], "-42");
        assert_eq!(values["a"], r#"[1,"y"]"#);
        assert_eq!(types.get("s"), None, "strings take no type entry");
        let Json::Object(values) = values else {
            panic!("object")
        };
        let Json::Object(types) = types else {
            panic!("object")
        };
        let back: Json = serde_json::from_str(&join_attributes(values, &types)).expect("json");
        let want: Json = serde_json::from_str(text).expect("json");
        assert_eq!(back, want);
        // Escaped keys, and a repeated key keeps its last value.
        let (values, types) = split_attributes(r#"{"a\"b":1,"k":"x","k":"y\n"}"#);
        assert_eq!(values, json!({"a\"b": "1", "k": "y\n"}));
        assert_eq!(types, json!({"a\"b": "int"}));
        // Not an object: nothing, rather than an error that loses the row.
        assert_eq!(split_attributes("[1]"), (json!({}), json!({})));
    }

    #[test]
    fn error_texts_keep_only_the_error_name() {
        assert_eq!(
            error_name(
                "Code: 27. DB::Exception: Cannot parse input: secret@example.com: (at row 1) (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"
            ),
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED"
        );
        assert_eq!(error_name("no name here (row 1: x@y.z"), "error");
    }

    #[test]
    fn times_are_exact_and_clamped() {
        assert_eq!(time_text(1_699_999_200_000_000_001), "1699999200.000000001");
        assert_eq!(time_text(86_400_000_000_001), "0000086400.000000001");
        assert_eq!(
            at(u64::MAX),
            format!("fromUnixTimestamp64Nano(toInt64({}))", i64::MAX)
        );
        assert_eq!(at_second_ceil(1_000_000_001), "toDateTime(2)");
        assert_eq!(at_second(1_999_999_999), "toDateTime(1)");
    }
}
