//! [`ClickHouseStore`]: the store's traits over the client, the encoder and the decoder.

use super::client::{Answer, CallError, Http, error_name, parse_url};
use super::decode::{
    ActionOut, ExponentialOut, GENAI_ROLLUP_COLUMNS, GenAiRollupOut, LLM_CALL_COLUMNS, LOG_COLUMNS,
    LOG_ID, LlmCallOut, LogOut, PointOut, RUN_COLUMNS, RunOut, SCORE_COLUMNS, SPAN_COLUMNS,
    ScoreOut, SpanOut, de_u64, histogram,
};
use super::encode;
use crate::rollup::{
    AgentAgg, AgentKey, GenAiAgg, GenAiKey, MetricAgg, MetricKey, SpanAgg, SpanKey,
};
use crate::rows::{AgentActionRow, Batch, LlmCallRow, MetricPointRow, ScoreRow, SpanRow};
use crate::store::{
    ChainAppend, ChainTx, GenAiRollupQuery, Link, LlmCallQuery, LogQuery, MetricInfo, Page, Purged,
    Retention, RollupQuery, RunQuery, ScoreQuery, SnapshotChain, Stats, StoreError, StoreRead,
    StoreWrite, StoredLog, StoredRun, TraceQuery, TraceSummary, rfc3339,
};
use automagik_telemetry_core::clickhouse::{
    Insert, RETRYABLE_ERROR_CODES, Schema, ident, literal, snapshot_row, status_name,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
use std::time::Duration;

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
            .field("endpoint", &self.http.endpoint())
            .field("database", &self.schema.database)
            .finish_non_exhaustive()
    }
}

/// A DateTime64(9) literal for `ns` (clamped to what the type holds).
pub(super) fn at(ns: u64) -> String {
    format!(
        "fromUnixTimestamp64Nano(toInt64({}))",
        ns.min(i64::MAX as u64)
    )
}

/// A DateTime literal for the second that starts at or after `ns`.
pub(super) fn at_second_ceil(ns: u64) -> String {
    format!(
        "toDateTime({})",
        ns.div_ceil(1_000_000_000).min(u64::from(u32::MAX))
    )
}

/// A DateTime literal for the second that holds `ns`.
pub(super) fn at_second(ns: u64) -> String {
    format!(
        "toDateTime({})",
        (ns / 1_000_000_000).min(u64::from(u32::MAX))
    )
}

/// Raw tables and the time column retention reads, with whether what they hold is
/// counted as raw rows (the events table and the trace-id lookup are derived).
const RAW_TABLES: &[(&str, &str, bool)] = &[
    (Schema::TRACES, "Timestamp", true),
    (Schema::LOGS, "Timestamp", true),
    (Schema::GAUGES, "TimeUnix", true),
    (Schema::SUMS, "TimeUnix", true),
    (Schema::HISTOGRAMS, "TimeUnix", true),
    (Schema::EXPONENTIAL_HISTOGRAMS, "TimeUnix", true),
    (Schema::SUMMARIES, "TimeUnix", true),
    (Schema::AGENT_ACTIONS, "Timestamp", true),
    (Schema::AGENT_RUNS, "Timestamp", true),
    (Schema::LLM_CALLS, "Timestamp", true),
    ("automagik_events", "Timestamp", false),
    ("otel_traces_trace_id_ts", "End", false),
];

/// Tables written directly but kept as long as the rollups (their rows are counted as
/// raw ones when purged), with their time column.
const KEPT_AS_ROLLUPS: &[(&str, &str)] = &[(Schema::SCORES, "Timestamp")];

/// Values one `IN (...)` list holds (trace ids of [`StoreRead::llm_calls`], targets of
/// [`StoreRead::scores`]), so a query stays far below ClickHouse's `max_query_size`
/// (256 KiB); more are read in several queries, whose results are merged.
pub(super) const IN_LIST_MAX: usize = 1_000;

const ROLLUP_STEMS: &[&str] = &[
    "otel_traces_rollup",
    "otel_metrics_rollup",
    "automagik_agent_rollup",
    "automagik_genai_rollup",
];

/// Tables whose rows have an identity and are read with `FINAL`.
fn final_of(table: &str) -> &'static str {
    if [
        Schema::TRACES,
        Schema::AGENT_ACTIONS,
        Schema::AGENT_RUNS,
        Schema::LLM_CALLS,
        Schema::SCORES,
    ]
    .contains(&table)
    {
        " FINAL"
    } else {
        ""
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
            http: Http::to(&target, Duration::from_secs(60)),
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
        // Times are RFC 3339 with a `Z`, as the shared encoder writes them. A retried
        // insert is dropped by the table, and by the rollup tables its views fill when
        // they check its token: since ClickHouse 24.7 a dropped block still goes on to
        // the views, whose tables check only when asked (the default since 26.2).
        // Asking fails with asynchronous inserts before 26.1, and ClickHouse does not
        // deduplicate those unless told to anyway.
        let query = format!(
            "INSERT INTO {} SETTINGS date_time_input_format = 'best_effort', \
             insert_deduplication_token = '{}:{}:{:016x}'{} FORMAT JSONEachRow",
            self.table(insert.table),
            insert.table,
            insert.count,
            h.finish(),
            if self.async_insert {
                ", async_insert = 1, wait_for_async_insert = 1"
            } else {
                ", deduplicate_blocks_in_dependent_materialized_views = 1"
            }
        );
        self.send(&query, Some(&insert.rows)).map(|_| ())
    }

    /// The `JSONEachRow` bodies `batch` is inserted as, one per table (tables without
    /// rows may be left out, or come empty), written by the shared encoder
    /// ([`automagik_telemetry_core::clickhouse`]): straight from the accepted request
    /// when the batch was read from one ([`Batch::request`]).
    pub fn inserts(batch: &Batch) -> Vec<Insert> {
        encode::inserts(batch)
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
        let ids: Vec<String> = runs.iter().map(|r| literal(r.correlation_id())).collect();
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
            .map(|r| {
                let actions = counts.get(r.correlation_id()).copied().unwrap_or(0);
                r.stored(actions)
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

    /// Raw points of `name` in `[from, to]` matching `filter`, in `order`, at most
    /// `limit`. A filter on exemplars leaves summaries out (they have none, nor the
    /// columns).
    fn points(
        &self,
        name: &str,
        from: u64,
        to: u64,
        filter: &str,
        order: &str,
        limit: usize,
    ) -> Result<Vec<MetricPointRow>, StoreError> {
        let filter = format!(
            "MetricName = {} AND TimeUnix >= {} AND TimeUnix <= {}{filter}",
            literal(name),
            at(from),
            at(to)
        );
        let point = "MetricName, ServiceName, toUnixTimestamp64Nano(StartTimeUnix) AS start, \
             toUnixTimestamp64Nano(TimeUnix) AS t, Attributes, AttributeTypes";
        let common = format!(
            "{point}, \
             arrayMap(x -> toString(toUnixTimestamp64Nano(x)), `Exemplars.TimeUnix`) AS ex_time, \
             `Exemplars.Value` AS ex_value, `Exemplars.TraceId` AS ex_trace, \
             `Exemplars.SpanId` AS ex_span, `Exemplars.FilteredAttributes` AS ex_attributes"
        );
        // Only summaries have quantiles.
        let no_quantiles =
            "CAST([], 'Array(Float64)') AS q_levels, CAST([], 'Array(Float64)') AS q_values";
        let number = |kind: &str, table: &str| {
            format!(
                "SELECT {kind} AS kind, {common}, Value AS value, toUInt64(0) AS count, \
                 CAST(NULL, 'Nullable(Float64)') AS sum, CAST(NULL, 'Nullable(Float64)') AS min, \
                 CAST(NULL, 'Nullable(Float64)') AS max, CAST([], 'Array(UInt64)') AS bucket_counts, \
                 CAST([], 'Array(Float64)') AS explicit_bounds, {no_quantiles} FROM {} WHERE {filter}",
                self.table(table)
            )
        };
        let histogram = format!(
            "SELECT 'histogram' AS kind, {common}, CAST(NULL, 'Nullable(Float64)') AS value, \
             Count AS count, toNullable(Sum) AS sum, toNullable(Min) AS min, toNullable(Max) AS max, \
             BucketCounts AS bucket_counts, ExplicitBounds AS explicit_bounds, {no_quantiles} \
             FROM {} WHERE {filter}",
            self.table(Schema::HISTOGRAMS)
        );
        // Summaries carry no exemplars.
        let summary = format!(
            "SELECT 'summary' AS kind, {point}, CAST([], 'Array(String)') AS ex_time, \
             CAST([], 'Array(Nullable(Float64))') AS ex_value, CAST([], 'Array(String)') AS ex_trace, \
             CAST([], 'Array(String)') AS ex_span, \
             CAST([], 'Array(Map(LowCardinality(String), String))') AS ex_attributes, \
             CAST(NULL, 'Nullable(Float64)') AS value, Count AS count, toNullable(Sum) AS sum, \
             CAST(NULL, 'Nullable(Float64)') AS min, CAST(NULL, 'Nullable(Float64)') AS max, \
             CAST([], 'Array(UInt64)') AS bucket_counts, CAST([], 'Array(Float64)') AS explicit_bounds, \
             `ValueAtQuantiles.Quantile` AS q_levels, `ValueAtQuantiles.Value` AS q_values \
             FROM {} WHERE {filter}",
            self.table(Schema::SUMMARIES)
        );
        let rows: Vec<PointOut> = self.select(&format!(
            "SELECT * FROM ({} UNION ALL {} UNION ALL {histogram}{}) \
             ORDER BY {order}, ServiceName, toString(Attributes) LIMIT {limit}",
            number("'gauge'", Schema::GAUGES),
            number("if(IsMonotonic, 'sum', 'updown_sum')", Schema::SUMS),
            if filter.contains("Exemplars") {
                String::new()
            } else {
                format!(" UNION ALL {summary}")
            },
        ))?;
        // Exponential histograms, read in the explicit layout (as the relational stores
        // keep them), then merged in time order.
        let exponential: Vec<ExponentialOut> = self.select(&format!(
            "SELECT {common}, Count AS count, toNullable(Sum) AS sum, toNullable(Min) AS min, \
             toNullable(Max) AS max, Scale AS scale, ZeroCount AS zero_count, \
             toNullable(ZeroThreshold) AS zero_threshold, PositiveOffset AS positive_offset, \
             PositiveBucketCounts AS positive, NegativeOffset AS negative_offset, \
             NegativeBucketCounts AS negative FROM {} WHERE {filter} \
             ORDER BY {order}, ServiceName, toString(Attributes) LIMIT {limit}",
            self.table(Schema::EXPONENTIAL_HISTOGRAMS)
        ))?;
        let mut points: Vec<MetricPointRow> = rows.into_iter().map(PointOut::row).collect();
        points.extend(exponential.into_iter().filter_map(ExponentialOut::row));
        if order.ends_with("DESC") {
            points.sort_by_key(|p| std::cmp::Reverse(p.time_unix_nano));
        } else {
            points.sort_by_key(|p| p.time_unix_nano);
        }
        points.truncate(limit);
        Ok(points)
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
            "SELECT {LOG_COLUMNS}, {LOG_ID} AS id FROM {} WHERE {w} \
             ORDER BY Timestamp DESC, id DESC LIMIT {}",
            self.table(Schema::LOGS),
            q.limit + 1
        ))?;
        let items = rows.into_iter().map(LogOut::stored).collect();
        Ok(Page::cut(items, q.limit, StoredLog::cursor))
    }

    fn services(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct S {
            s: String,
        }
        // The server's own metric points (probes, fleet gauges) name no service.
        let own = crate::SERVER_SERVICE_NAME;
        let parts: Vec<String> = [Schema::TRACES, Schema::LOGS]
            .iter()
            .map(|t| format!("SELECT DISTINCT ServiceName AS s FROM {}", self.table(t)))
            .chain(
                [
                    Schema::GAUGES,
                    Schema::SUMS,
                    Schema::HISTOGRAMS,
                    Schema::EXPONENTIAL_HISTOGRAMS,
                    Schema::SUMMARIES,
                ]
                .iter()
                .map(|t| {
                    format!(
                        "SELECT DISTINCT ServiceName AS s FROM {} WHERE ServiceName != '{own}'",
                        self.table(t)
                    )
                }),
            )
            .collect();
        Ok(self
            .select::<S>(&format!(
                "SELECT DISTINCT s FROM ({}) ORDER BY s LIMIT {}",
                parts.join(" UNION ALL "),
                limit.saturating_add(1)
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
            bounds(Schema::EXPONENTIAL_HISTOGRAMS, "TimeUnix", "")?,
            bounds(Schema::SUMMARIES, "TimeUnix", "")?,
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

    fn metric_names(&self, limit: usize) -> Result<Vec<MetricInfo>, StoreError> {
        #[derive(Deserialize)]
        struct M {
            name: String,
            kind: String,
            #[serde(deserialize_with = "de_u64")]
            points: u64,
            #[serde(deserialize_with = "de_u64")]
            last: u64,
        }
        let parts: Vec<String> = [
            ("'gauge'", Schema::GAUGES),
            ("if(any(IsMonotonic), 'sum', 'updown_sum')", Schema::SUMS),
            ("'histogram'", Schema::HISTOGRAMS),
            ("'histogram'", Schema::EXPONENTIAL_HISTOGRAMS),
            ("'summary'", Schema::SUMMARIES),
        ]
        .into_iter()
        .map(|(kind, t)| {
            format!(
                "SELECT MetricName AS name, {kind} AS kind, count() AS points, \
                 toUnixTimestamp64Nano(max(TimeUnix)) AS last FROM {} GROUP BY MetricName",
                self.table(t)
            )
        })
        .collect();
        Ok(self
            .select::<M>(&format!(
                "SELECT * FROM ({}) ORDER BY name, kind LIMIT {}",
                parts.join(" UNION ALL "),
                limit.saturating_add(1)
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
        self.points(name, from, to, "", "t", max.saturating_add(1))
    }

    fn metric_exemplars(
        &self,
        name: &str,
        from: u64,
        to: u64,
        max: usize,
    ) -> Result<Vec<MetricPointRow>, StoreError> {
        self.points(
            name,
            from,
            to,
            " AND notEmpty(`Exemplars.TraceId`)",
            "t DESC",
            max,
        )
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
                let hist = histogram(&r.hist);
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
                        // The rollup views keep no buckets: percentiles read raw rows.
                        buckets: Vec::new(),
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

    fn genai_rollups(&self, q: &GenAiRollupQuery) -> Result<Vec<(GenAiKey, GenAiAgg)>, StoreError> {
        let table = self.rollup_table("automagik_genai_rollup", q.resolution);
        let rows: Vec<GenAiRollupOut> = self.select(&genai_rollup_select(&table, q))?;
        Ok(rows
            .into_iter()
            .map(|r| r.row(q.resolution, &q.dimension))
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
        if let Some(s) = &q.session_id {
            let _ = write!(w, " AND SessionId = {}", literal(s));
        }
        if let Some(u) = &q.user_id {
            let _ = write!(w, " AND UserId = {}", literal(u));
        }
        if let Some(t) = &q.trace_id {
            let _ = write!(w, " AND TraceId = {}", literal(t));
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
        Ok(rows.into_iter().map(ActionOut::row).collect())
    }

    fn llm_calls(&self, q: &LlmCallQuery) -> Result<Vec<LlmCallRow>, StoreError> {
        let mut calls = Vec::new();
        for sql in llm_call_selects(&self.table(Schema::LLM_CALLS), q) {
            let rows: Vec<LlmCallOut> = self.select(&sql)?;
            calls.extend(rows.into_iter().map(LlmCallOut::row));
        }
        // The newest `limit` of each list, merged: the newest `limit` of all.
        calls.sort_by(|a, b| {
            (b.start_time_unix_nano, &b.trace_id, &b.span_id).cmp(&(
                a.start_time_unix_nano,
                &a.trace_id,
                &a.span_id,
            ))
        });
        calls.truncate(q.limit);
        Ok(calls)
    }

    fn scores(&self, q: &ScoreQuery) -> Result<Vec<ScoreRow>, StoreError> {
        let mut scores = Vec::new();
        for sql in score_selects(&self.table(Schema::SCORES), q) {
            let rows: Vec<ScoreOut> = self.select(&sql)?;
            scores.extend(rows.into_iter().map(ScoreOut::row));
        }
        // Newest first; an id whose versions name targets of two lists, once.
        scores
            .sort_by(|a, b| (b.time_unix_nano, &b.score_id).cmp(&(a.time_unix_nano, &a.score_id)));
        let mut seen = std::collections::HashSet::new();
        scores.retain(|s| seen.insert(s.score_id.clone()));
        scores.truncate(q.limit);
        Ok(scores)
    }
}

/// The SELECT of [`StoreRead::genai_rollups`] on `table` (the qualified rollup table of
/// the query's resolution): the rows of `q.dimension` whose buckets start in
/// `[q.from, q.to]`, one per bucket and key (the rows of parts not merged yet summed), by
/// bucket, then key.
pub(super) fn genai_rollup_select(table: &str, q: &GenAiRollupQuery) -> String {
    format!(
        "SELECT {GENAI_ROLLUP_COLUMNS} FROM {table} WHERE Dimension = {} \
         AND Bucket >= {} AND Bucket <= {} GROUP BY b, k ORDER BY b, k",
        literal(&q.dimension),
        at_second_ceil(q.from),
        at_second(q.to)
    )
}

/// The SELECTs of [`StoreRead::llm_calls`] on `table` (qualified): one per
/// [`IN_LIST_MAX`] distinct trace ids, or one without them, each newest first and at most
/// `q.limit` rows.
pub(super) fn llm_call_selects(table: &str, q: &LlmCallQuery) -> Vec<String> {
    let mut w = String::from("1 = 1");
    if let Some(s) = &q.session_id {
        let _ = write!(w, " AND SessionId = {}", literal(s));
    }
    if let Some(u) = &q.user_id {
        let _ = write!(w, " AND UserId = {}", literal(u));
    }
    if let Some(from) = q.from {
        let _ = write!(w, " AND Timestamp >= {}", at(from));
    }
    if let Some(to) = q.to {
        let _ = write!(w, " AND Timestamp <= {}", at(to));
    }
    let mut ids: Vec<&str> = q.trace_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    in_lists(&w, "TraceId", &ids, |id| literal(id))
        .into_iter()
        .map(|filter| {
            format!(
                "SELECT {LLM_CALL_COLUMNS} FROM {table} FINAL WHERE {filter} \
                 ORDER BY Timestamp DESC, TraceId DESC, SpanId DESC LIMIT {}",
                q.limit
            )
        })
        .collect()
}

/// The SELECTs of [`StoreRead::scores`] on `table` (qualified): one per [`IN_LIST_MAX`]
/// distinct targets, or one without them, each newest first and at most `q.limit` rows.
/// `FINAL` joins the rows of an id within a partition (a day); `LIMIT 1 BY` keeps the
/// newest of an id stored again on another day.
pub(super) fn score_selects(table: &str, q: &ScoreQuery) -> Vec<String> {
    let mut w = String::from("1 = 1");
    if let Some(n) = &q.name {
        let _ = write!(w, " AND Name = {}", literal(n));
    }
    let mut targets: Vec<(&str, &str)> = q
        .targets
        .iter()
        .map(|(kind, id)| (kind.as_str(), id.as_str()))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    in_lists(&w, "(TargetKind, TargetId)", &targets, |(kind, id)| {
        format!("({}, {})", literal(kind), literal(id))
    })
    .into_iter()
    .map(|filter| {
        format!(
            "SELECT {SCORE_COLUMNS} FROM {table} FINAL WHERE {filter} \
             ORDER BY Timestamp DESC, ScoreId DESC LIMIT 1 BY ScoreId LIMIT {}",
            q.limit
        )
    })
    .collect()
}

/// `filter` and `column IN (...)` of each [`IN_LIST_MAX`] of `values` (written by
/// `sql`); `filter` alone when there are none.
fn in_lists<T>(
    filter: &str,
    column: &str,
    values: &[T],
    sql: impl Fn(&T) -> String,
) -> Vec<String> {
    if values.is_empty() {
        return vec![filter.to_string()];
    }
    values
        .chunks(IN_LIST_MAX)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(&sql).collect();
            format!("{filter} AND {column} IN ({})", list.join(", "))
        })
        .collect()
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
        for (table, col) in KEPT_AS_ROLLUPS {
            purged.rollups += delete(table, format!("{col} < {}", at(rollups_before)), true)?;
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
        insert.push(&snapshot_row(
            link.seq,
            &link.snapshot_id,
            collected_at_unix_nano,
            &link.body,
            &link.prev_hash,
            &link.hash,
        ));
        self.0.insert_rows(&insert)
    }
}
