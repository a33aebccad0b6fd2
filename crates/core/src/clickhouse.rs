//! The ClickHouse schema, shared by the SDK's `clickhouse` exporter and the server's
//! ClickHouse store: one place that says which tables exist and how they are built.
//!
//! Table and column names follow the OpenTelemetry Collector's ClickHouse exporter
//! (`otel_traces`, `otel_traces_trace_id_ts`, `otel_logs`, `otel_metrics_sum`,
//! `otel_metrics_gauge`, `otel_metrics_histogram`), so dashboards written for it work on
//! this data. Ours beside them: `automagik_events` (product events, filled from
//! `otel_logs` by a materialized view), `automagik_agent_actions`,
//! `automagik_agent_runs`, `automagik_llm_calls`, `automagik_scores` (kept as long as the
//! rollups), and the rollups (`*_rollup_1m`, `*_rollup_1h`: `AggregatingMergeTree` tables
//! filled by materialized views, with their own TTL).
//!
//! Every table has `DateTime64(9)` timestamps, `LowCardinality` service and span names,
//! `Map(LowCardinality(String), String)` attributes, Delta/ZSTD codecs, daily partitions
//! and a TTL with `ttl_only_drop_parts = 1` (whole days are dropped, never rewritten).
//!
//! In cluster mode every table is a `ReplicatedMergeTree` named `<table>_local`, created
//! `ON CLUSTER`, with a `Distributed` table of the plain name in front. Spans and the
//! trace-id lookup shard on the trace id (a trace lives on one shard, so a lookup by id
//! reads one shard); logs on the trace id too (a trace's logs sit with its spans; logs
//! without a trace spread at random);
//! metrics on service and metric name (a series stays on one shard); agent actions and
//! runs on the correlation id, LLM calls on the trace id, scores on their id (the rows of
//! one identity meet on one shard, where `FINAL` joins them); events and rollups follow
//! their source. Materialized views are created on the
//! `_local` tables, so each shard aggregates what it stores and the `Distributed`
//! rollup tables merge the partial states at query time.

mod rows;

pub use rows::{
    ActionColumns, Attributes, EventColumns, Insert, LinkColumns, LogColumns, MetricColumns,
    PointColumns, RunColumns, SpanColumns, action_row, attribute_map, attribute_types, inserts,
    log_row, metric_row, run_row, snapshot_row, span_kind_code, span_kind_name, span_row,
    status_code_of, status_name,
};

/// ClickHouse error codes that mean "try again later": network errors, timeouts,
/// overload (too many parts or queries, memory) and unavailable replicas. Any other
/// code (syntax, types, unknown tables, authentication, parse errors) will fail again.
pub const RETRYABLE_ERROR_CODES: &[u32] = &[
    3, 159, 160, 164, 202, 203, 209, 210, 241, 242, 252, 285, 319, 425, 999, 1000,
];

/// How to build the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    /// Database that holds every table.
    pub database: String,
    /// `Some(cluster)` for replicated tables `ON CLUSTER` behind `Distributed` tables.
    pub cluster: Option<String>,
    /// Days raw rows are kept.
    pub raw_ttl_days: u32,
    /// Days rollup rows are kept.
    pub rollup_ttl_days: u32,
}

impl Default for Schema {
    fn default() -> Self {
        Schema {
            database: "automagik".into(),
            cluster: None,
            raw_ttl_days: 7,
            rollup_ttl_days: 30,
        }
    }
}

/// One table: its name, columns and indexes, engine family, keys and TTL.
struct Table {
    name: &'static str,
    body: &'static str,
    /// `MergeTree`, `ReplacingMergeTree` (rows with an identity: a span, an agent action
    /// or run, an LLM call or a score delivered twice is kept once) or
    /// `AggregatingMergeTree`.
    engine: &'static str,
    /// The version column of a `ReplacingMergeTree` (of the rows of one identity, the
    /// highest version is kept; equal ones, the last inserted), or empty: the last
    /// inserted is kept.
    version: &'static str,
    partition: &'static str,
    order: &'static str,
    /// TTL expression without the interval, e.g. `toDateTime(Timestamp)`.
    ttl_column: &'static str,
    /// Filled by materialized views. Created before they kept a deduplication window, so
    /// [`Schema::statements`] gives an older table one (single nodes).
    rollup: bool,
    /// Kept for the rollup TTL (the rollups, and scores, written directly).
    rollup_ttl: bool,
    /// Sharding key of the `Distributed` table in cluster mode.
    shard_key: &'static str,
    /// Rows per granule.
    index_granularity: u32,
}

const MAP: &str = "Map(LowCardinality(String), String)";

/// Fleet snapshots: the chain position, the snapshot's canonical JSON and the hashes
/// linking it to the one before (see the server's `fleet::chain`).
const FLEET_SNAPSHOTS: &str = "
    Seq UInt64,
    SnapshotId String,
    CollectedAt DateTime64(9) CODEC(Delta, ZSTD(1)),
    Body String CODEC(ZSTD(3)),
    PrevHash String,
    Hash String";
/// Beside an attribute map: the type of each attribute that is not a string (`int`,
/// `double`, `bool` or `json` for arrays and maps), so readers can give values back
/// with their types; string attributes, the common case, take no space here.
const TYPES: &str = "Map(LowCardinality(String), LowCardinality(String))";

const TRACES: &str = "
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {MAP} CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes {MAP} CODEC(ZSTD(1)),
    SpanAttributeTypes {TYPES} CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    `Events.Timestamp` Array(DateTime64(9)) CODEC(ZSTD(1)),
    `Events.Name` Array(LowCardinality(String)) CODEC(ZSTD(1)),
    `Events.Attributes` Array({MAP}) CODEC(ZSTD(1)),
    `Links.TraceId` Array(String) CODEC(ZSTD(1)),
    `Links.SpanId` Array(String) CODEC(ZSTD(1)),
    `Links.TraceState` Array(String) CODEC(ZSTD(1)),
    `Links.Attributes` Array({MAP}) CODEC(ZSTD(1)),{ADDED}
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1";

/// Columns of ours in the Collector's span and log tables, added after those tables were
/// first released here: (table, column, type, codec). `{ADDED}` in a table's columns
/// stands for its entries, so a new table has them; [`Schema::statements`] adds them to
/// a table created before (`ADD COLUMN IF NOT EXISTS`), whose older rows read as the
/// type's default (zero, the empty string, the epoch, an empty array).
///
/// Spans: the OTLP span `flags` (W3C trace flags in the low 8 bits, the is-remote bits
/// 8 and 9), dropped attribute, event and link counts, and per event and link what the
/// Collector's layout leaves out (attribute types, dropped counts, link flags), one
/// array entry per entry of `Events.*` or `Links.*`. These arrays sit beside the
/// Collector's `Nested` columns, not inside them (no dot in their names): ClickHouse
/// refuses a `JSONEachRow` row whose `Nested` arrays differ in length, so a writer that
/// leaves ours out (an older SDK, another tool) would otherwise fail to insert; readers
/// take a missing entry as the default. Logs: the observed time, the body's OTLP type
/// (`string`, `bool`, `int`, `double`, `bytes`, `array`, `kvlist`; `Body` holds its
/// text, so search and the Collector's dashboards read it as before) and the dropped
/// attribute count. Agent runs: the run's span and its parent (hex; empty for a run not
/// read from a span, or a root span), its session and user (empty when none).
const ADDED_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("otel_traces", "Flags", "UInt32", "CODEC(ZSTD(1))"),
    (
        "otel_traces",
        "DroppedAttributesCount",
        "UInt32",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_traces",
        "DroppedEventsCount",
        "UInt32",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_traces",
        "DroppedLinksCount",
        "UInt32",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_traces",
        "EventsAttributeTypes",
        "Array({TYPES})",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_traces",
        "EventsDroppedAttributesCount",
        "Array(UInt32)",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_traces",
        "LinksAttributeTypes",
        "Array({TYPES})",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_traces",
        "LinksFlags",
        "Array(UInt32)",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_traces",
        "LinksDroppedAttributesCount",
        "Array(UInt32)",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_logs",
        "ObservedTimestamp",
        "DateTime64(9)",
        "CODEC(Delta, ZSTD(1))",
    ),
    (
        "otel_logs",
        "BodyType",
        "LowCardinality(String)",
        "CODEC(ZSTD(1))",
    ),
    (
        "otel_logs",
        "DroppedAttributesCount",
        "UInt32",
        "CODEC(ZSTD(1))",
    ),
    ("automagik_agent_runs", "SpanId", "String", "CODEC(ZSTD(1))"),
    (
        "automagik_agent_runs",
        "ParentSpanId",
        "String",
        "CODEC(ZSTD(1))",
    ),
    (
        "automagik_agent_runs",
        "SessionId",
        "String",
        "CODEC(ZSTD(1))",
    ),
    ("automagik_agent_runs", "UserId", "String", "CODEC(ZSTD(1))"),
];

/// Every added column: [`ADDED_COLUMNS`], and the exemplar columns of each metric table.
fn added() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    let mut out = ADDED_COLUMNS.to_vec();
    for table in [
        "otel_metrics_gauge",
        "otel_metrics_sum",
        "otel_metrics_histogram",
        "otel_metrics_exponential_histogram",
    ] {
        out.extend(
            EXEMPLAR_COLUMNS
                .iter()
                .map(|(name, ty, codec)| (table, *name, *ty, *codec)),
        );
    }
    out
}

/// The `{ADDED}` columns of `table`, each on its own line with a comma after it.
fn added_columns(table: &str) -> String {
    added()
        .into_iter()
        .filter(|(t, ..)| *t == table)
        .map(|(_, name, ty, codec)| format!("\n    {name} {ty} {codec},"))
        .collect()
}

const TRACE_ID_TS: &str = "
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1";

const LOGS: &str = "
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {MAP} CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes {MAP} CODEC(ZSTD(1)),
    LogAttributes {MAP} CODEC(ZSTD(1)),
    LogAttributeTypes {TYPES} CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),{ADDED}
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8";

const EVENTS: &str = "
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    EventName LowCardinality(String) CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Attributes {MAP} CODEC(ZSTD(1))";

/// Columns every metric table shares (Collector layout), then each kind's own.
const METRIC_COMMON: &str = "
    ResourceAttributes {MAP} CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes {MAP} CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes {MAP} CODEC(ZSTD(1)),
    AttributeTypes {TYPES} CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))";

const METRIC_INDEX: &str =
    "INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1";

const GAUGE: &str = "{METRIC_COMMON},
    Value Float64 CODEC(ZSTD(1)),{ADDED}
    {METRIC_INDEX}";

const SUM: &str = "{METRIC_COMMON},
    Value Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),{ADDED}
    {METRIC_INDEX}";

const HISTOGRAM: &str = "{METRIC_COMMON},
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),{ADDED}
    {METRIC_INDEX}";

/// The Collector's exponential histogram table, with `ZeroThreshold` (the OTLP field it
/// leaves out) beside it.
const EXPONENTIAL_HISTOGRAM: &str = "{METRIC_COMMON},
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    ZeroThreshold Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),{ADDED}
    {METRIC_INDEX}";

/// The Collector's summary table (`ValueAtQuantiles Nested(Quantile, Value)` as the
/// flattened arrays ClickHouse makes of it; no exemplars: summaries carry none).
const SUMMARY: &str = "{METRIC_COMMON},
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    `ValueAtQuantiles.Quantile` Array(Float64) CODEC(ZSTD(1)),
    `ValueAtQuantiles.Value` Array(Float64) CODEC(ZSTD(1)),{ADDED}
    {METRIC_INDEX}";

/// The Collector's exemplar columns of every metric table (its `Exemplars Nested(...)`
/// as the flattened arrays ClickHouse makes of it), added after the tables were first
/// released: (column, type, codec).
const EXEMPLAR_COLUMNS: [(&str, &str, &str); 5] = [
    (
        "`Exemplars.FilteredAttributes`",
        "Array(Map(LowCardinality(String), String))",
        "CODEC(ZSTD(1))",
    ),
    (
        "`Exemplars.TimeUnix`",
        "Array(DateTime64(9))",
        "CODEC(ZSTD(1))",
    ),
    ("`Exemplars.Value`", "Array(Float64)", "CODEC(ZSTD(1))"),
    ("`Exemplars.SpanId`", "Array(String)", "CODEC(ZSTD(1))"),
    ("`Exemplars.TraceId`", "Array(String)", "CODEC(ZSTD(1))"),
];

const AGENT_ACTIONS: &str = "
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ActionId String CODEC(ZSTD(1)),
    CorrelationId String CODEC(ZSTD(1)),
    AgentName LowCardinality(String) CODEC(ZSTD(1)),
    ActionType LowCardinality(String) CODEC(ZSTD(1)),
    Name String CODEC(ZSTD(1)),
    IsError Boolean,
    DurationNs UInt64 CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    Attributes {MAP} CODEC(ZSTD(1)),
    AttributeTypes {TYPES} CODEC(ZSTD(1)),
    INDEX idx_correlation CorrelationId TYPE bloom_filter(0.001) GRANULARITY 1";

const AGENT_RUNS: &str = "
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    EndTimestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    CorrelationId String CODEC(ZSTD(1)),
    AgentName LowCardinality(String) CODEC(ZSTD(1)),
    Status LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    QualityScore Nullable(Float64) CODEC(ZSTD(1)),
    Error Nullable(String) CODEC(ZSTD(1)),
    Attributes {MAP} CODEC(ZSTD(1)),{ADDED}
    AttributeTypes {TYPES} CODEC(ZSTD(1))";

/// LLM calls (a `chat`, `text_completion`, `generate_content` or `embeddings` span, as
/// the server normalises it): one row per `(TraceId, SpanId)`. Token counts, cost and
/// time to first token are `NULL` when unknown (an unpriced model costs `NULL`, never
/// 0); `Duration` and `TimeToFirstToken` are ns.
const LLM_CALLS: &str = "
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    CorrelationId String CODEC(ZSTD(1)),
    AgentName LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Operation LowCardinality(String) CODEC(ZSTD(1)),
    Provider LowCardinality(String) CODEC(ZSTD(1)),
    RequestModel LowCardinality(String) CODEC(ZSTD(1)),
    ResponseModel LowCardinality(String) CODEC(ZSTD(1)),
    InputTokens Nullable(UInt64) CODEC(ZSTD(1)),
    OutputTokens Nullable(UInt64) CODEC(ZSTD(1)),
    CacheReadTokens Nullable(UInt64) CODEC(ZSTD(1)),
    CacheWriteTokens Nullable(UInt64) CODEC(ZSTD(1)),
    ReasoningTokens Nullable(UInt64) CODEC(ZSTD(1)),
    CostUsd Nullable(Float64) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    TimeToFirstToken Nullable(UInt64) CODEC(ZSTD(1)),
    FinishReasons Array(String) CODEC(ZSTD(1)),
    IsError Boolean,
    SessionId String CODEC(ZSTD(1)),
    UserId String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session SessionId TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_user UserId TYPE bloom_filter(0.01) GRANULARITY 1";

/// Scores: judgements of a trace, span, run or session (`TargetKind`, `TargetId`), one
/// row per `ScoreId`; `Value` for numeric and boolean ones (1 or 0), `StringValue` for
/// categorical ones.
const SCORES: &str = "
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ScoreId String CODEC(ZSTD(1)),
    TargetKind LowCardinality(String) CODEC(ZSTD(1)),
    TargetId String CODEC(ZSTD(1)),
    Name LowCardinality(String) CODEC(ZSTD(1)),
    DataType LowCardinality(String) CODEC(ZSTD(1)),
    Value Nullable(Float64) CODEC(ZSTD(1)),
    StringValue Nullable(String) CODEC(ZSTD(1)),
    Comment Nullable(String) CODEC(ZSTD(1)),
    Source LowCardinality(String) CODEC(ZSTD(1)),
    INDEX idx_target TargetId TYPE bloom_filter(0.01) GRANULARITY 1";

const SPAN_ROLLUP: &str = "
    Bucket DateTime CODEC(Delta, ZSTD(1)),
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    Spans SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    DurationSum SimpleAggregateFunction(sum, UInt64),
    DurationHistogram SimpleAggregateFunction(sumMap, Tuple(Array(UInt16), Array(UInt64)))";

const METRIC_ROLLUP: &str = "
    Bucket DateTime CODEC(Delta, ZSTD(1)),
    ServiceName LowCardinality(String),
    MetricName LowCardinality(String),
    Count SimpleAggregateFunction(sum, UInt64),
    Sum SimpleAggregateFunction(sum, Float64),
    Min SimpleAggregateFunction(min, Float64),
    Max SimpleAggregateFunction(max, Float64)";

const AGENT_ROLLUP: &str = "
    Bucket DateTime CODEC(Delta, ZSTD(1)),
    AgentName LowCardinality(String),
    ActionType LowCardinality(String),
    Actions SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64)";

/// GenAI usage per dimension (`model`: the response model, else the request model;
/// `provider`, `agent`, `session`, `user`) and key (empty when the call names none):
/// calls, errors, token sums (an unreported count as 0), the cost of the priced calls
/// and how many were unpriced, the duration sum and the latency histogram of the span
/// rollups.
const GENAI_ROLLUP: &str = "
    Bucket DateTime CODEC(Delta, ZSTD(1)),
    Dimension LowCardinality(String),
    Key String CODEC(ZSTD(1)),
    Calls SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    InputTokens SimpleAggregateFunction(sum, UInt64),
    OutputTokens SimpleAggregateFunction(sum, UInt64),
    CacheReadTokens SimpleAggregateFunction(sum, UInt64),
    CacheWriteTokens SimpleAggregateFunction(sum, UInt64),
    ReasoningTokens SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Float64),
    UnpricedCalls SimpleAggregateFunction(sum, UInt64),
    DurationSum SimpleAggregateFunction(sum, UInt64),
    DurationHistogram SimpleAggregateFunction(sumMap, Tuple(Array(UInt16), Array(UInt64)))";

const fn raw(
    name: &'static str,
    body: &'static str,
    partition: &'static str,
    order: &'static str,
    ttl_column: &'static str,
    shard_key: &'static str,
) -> Table {
    Table {
        name,
        body,
        engine: "MergeTree",
        version: "",
        partition,
        order,
        ttl_column,
        rollup: false,
        rollup_ttl: false,
        shard_key,
        index_granularity: 8192,
    }
}

/// A raw table whose sort key ends with the row's identity, so a row delivered again
/// replaces the first (readers use `FINAL`).
const fn replacing(
    name: &'static str,
    body: &'static str,
    partition: &'static str,
    order: &'static str,
    ttl_column: &'static str,
    shard_key: &'static str,
) -> Table {
    Table {
        engine: "ReplacingMergeTree",
        ..raw(name, body, partition, order, ttl_column, shard_key)
    }
}

const fn rollup(name: &'static str, body: &'static str, order: &'static str) -> Table {
    Table {
        name,
        body,
        engine: "AggregatingMergeTree",
        version: "",
        partition: "toDate(Bucket)",
        order,
        ttl_column: "Bucket",
        rollup: true,
        rollup_ttl: true,
        shard_key: "rand()",
        index_granularity: 8192,
    }
}

const TABLES: &[Table] = &[
    // Span rows are wide and a trace's spans sit in the granules of their operations:
    // smaller granules halve what a lookup by trace id reads (measured in chdb, 500k spans
    // of 20 attributes: 40-60 ms -> 20-30 ms) for 6 % more disk.
    Table {
        index_granularity: 1024,
        ..replacing(
            "otel_traces",
            TRACES,
            "toDate(Timestamp)",
            "(ServiceName, SpanName, toDateTime(Timestamp), TraceId, SpanId)",
            "toDateTime(Timestamp)",
            "cityHash64(TraceId)",
        )
    },
    raw(
        "otel_traces_trace_id_ts",
        TRACE_ID_TS,
        "toDate(Start)",
        "(TraceId, Start)",
        "Start",
        "cityHash64(TraceId)",
    ),
    raw(
        "otel_logs",
        LOGS,
        "toDate(TimestampTime)",
        "(ServiceName, TimestampTime, Timestamp)",
        "TimestampTime",
        "if(TraceId = '', rand(), cityHash64(TraceId))",
    ),
    raw(
        "automagik_events",
        EVENTS,
        "toDate(Timestamp)",
        "(EventName, ServiceName, Timestamp)",
        "toDateTime(Timestamp)",
        "rand()",
    ),
    raw(
        "otel_metrics_gauge",
        GAUGE,
        "toDate(TimeUnix)",
        "(ServiceName, MetricName, toUnixTimestamp64Nano(TimeUnix))",
        "toDateTime(TimeUnix)",
        "cityHash64(ServiceName, MetricName)",
    ),
    raw(
        "otel_metrics_sum",
        SUM,
        "toDate(TimeUnix)",
        "(ServiceName, MetricName, toUnixTimestamp64Nano(TimeUnix))",
        "toDateTime(TimeUnix)",
        "cityHash64(ServiceName, MetricName)",
    ),
    raw(
        "otel_metrics_histogram",
        HISTOGRAM,
        "toDate(TimeUnix)",
        "(ServiceName, MetricName, toUnixTimestamp64Nano(TimeUnix))",
        "toDateTime(TimeUnix)",
        "cityHash64(ServiceName, MetricName)",
    ),
    raw(
        "otel_metrics_exponential_histogram",
        EXPONENTIAL_HISTOGRAM,
        "toDate(TimeUnix)",
        "(ServiceName, MetricName, toUnixTimestamp64Nano(TimeUnix))",
        "toDateTime(TimeUnix)",
        "cityHash64(ServiceName, MetricName)",
    ),
    raw(
        "otel_metrics_summary",
        SUMMARY,
        "toDate(TimeUnix)",
        "(ServiceName, MetricName, toUnixTimestamp64Nano(TimeUnix))",
        "toDateTime(TimeUnix)",
        "cityHash64(ServiceName, MetricName)",
    ),
    replacing(
        "automagik_agent_actions",
        AGENT_ACTIONS,
        "toDate(Timestamp)",
        "(AgentName, CorrelationId, Timestamp, ActionId)",
        "toDateTime(Timestamp)",
        "cityHash64(CorrelationId)",
    ),
    replacing(
        "automagik_agent_runs",
        AGENT_RUNS,
        "toDate(Timestamp)",
        "(CorrelationId)",
        "toDateTime(Timestamp)",
        "cityHash64(CorrelationId)",
    ),
    // A call is delivered again with the same start, so its retried rows share the
    // whole key; time first, for the time-range reads of usage and listings (trace,
    // session and user reads use the bloom filters).
    replacing(
        "automagik_llm_calls",
        LLM_CALLS,
        "toDate(Timestamp)",
        "(toDateTime(Timestamp), TraceId, SpanId)",
        "toDateTime(Timestamp)",
        "cityHash64(TraceId)",
    ),
    // One row per id, the newest by `Timestamp` (equal times: the last stored). A score
    // stored again on another day lands in another partition, which merges never join:
    // readers keep the newest row of each id (`LIMIT 1 BY ScoreId`).
    Table {
        version: "Timestamp",
        rollup_ttl: true,
        ..replacing(
            "automagik_scores",
            SCORES,
            "toDate(Timestamp)",
            "(ScoreId)",
            "toDateTime(Timestamp)",
            "cityHash64(ScoreId)",
        )
    },
    rollup(
        "otel_traces_rollup_1m",
        SPAN_ROLLUP,
        "(ServiceName, SpanName, Bucket)",
    ),
    rollup(
        "otel_traces_rollup_1h",
        SPAN_ROLLUP,
        "(ServiceName, SpanName, Bucket)",
    ),
    rollup(
        "otel_metrics_rollup_1m",
        METRIC_ROLLUP,
        "(ServiceName, MetricName, Bucket)",
    ),
    rollup(
        "otel_metrics_rollup_1h",
        METRIC_ROLLUP,
        "(ServiceName, MetricName, Bucket)",
    ),
    rollup(
        "automagik_agent_rollup_1m",
        AGENT_ROLLUP,
        "(AgentName, ActionType, Bucket)",
    ),
    rollup(
        "automagik_agent_rollup_1h",
        AGENT_ROLLUP,
        "(AgentName, ActionType, Bucket)",
    ),
    rollup(
        "automagik_genai_rollup_1m",
        GENAI_ROLLUP,
        "(Dimension, Key, Bucket)",
    ),
    rollup(
        "automagik_genai_rollup_1h",
        GENAI_ROLLUP,
        "(Dimension, Key, Bucket)",
    ),
];

/// Materialized views: (name, target table, SELECT ... FROM {source}); `{source}` is a
/// raw table name, `{bucket}` the bucket function of the rollup's resolution.
const VIEWS: &[(&str, &str, &str, &str)] = &[
    (
        "otel_traces_trace_id_ts_mv",
        "otel_traces_trace_id_ts",
        "otel_traces",
        "SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End FROM {source} \
         WHERE TraceId != '' GROUP BY TraceId",
    ),
    (
        "automagik_events_mv",
        "automagik_events",
        "otel_logs",
        "SELECT Timestamp, ServiceName, EventName, TraceId, SpanId, LogAttributes AS Attributes \
         FROM {source} WHERE EventName != ''",
    ),
];

/// The rollup of a table of single values (gauges and sums); NaN and infinities are
/// left out, as every store does.
const VALUE_ROLLUP: &str = "SELECT {bucket}(TimeUnix) AS Bucket, ServiceName, MetricName, \
     count() AS Count, sum(Value) AS Sum, min(Value) AS Min, max(Value) AS Max \
     FROM {source} WHERE isFinite(Value) GROUP BY Bucket, ServiceName, MetricName";

/// Rollup views per resolution: (view stem, target stem, source, SELECT).
const ROLLUP_VIEWS: &[(&str, &str, &str, &str)] = &[
    (
        "otel_traces_rollup",
        "otel_traces_rollup",
        "otel_traces",
        "SELECT {bucket}(Timestamp) AS Bucket, ServiceName, SpanName, count() AS Spans, \
         countIf(StatusCode = 'Error') AS Errors, sum(Duration) AS DurationSum, \
         sumMap([{latency_bucket}], [toUInt64(1)]) AS DurationHistogram \
         FROM {source} GROUP BY Bucket, ServiceName, SpanName",
    ),
    (
        "otel_metrics_gauge_rollup",
        "otel_metrics_rollup",
        "otel_metrics_gauge",
        VALUE_ROLLUP,
    ),
    (
        "otel_metrics_sum_rollup",
        "otel_metrics_rollup",
        "otel_metrics_sum",
        VALUE_ROLLUP,
    ),
    (
        "otel_metrics_histogram_rollup",
        "otel_metrics_rollup",
        "otel_metrics_histogram",
        // A histogram without a finite min or max counts its mean there. Columns are
        // qualified: the aliases share their names.
        "SELECT {bucket}(h.TimeUnix) AS Bucket, h.ServiceName AS ServiceName, \
         h.MetricName AS MetricName, sum(h.Count) AS Count, \
         sum(if(isFinite(h.Sum), h.Sum, 0)) AS Sum, \
         min(if(isFinite(h.Min), h.Min, if(isFinite(h.Sum), h.Sum, 0) / h.Count)) AS Min, \
         max(if(isFinite(h.Max), h.Max, if(isFinite(h.Sum), h.Sum, 0) / h.Count)) AS Max \
         FROM {source} AS h WHERE h.Count > 0 GROUP BY Bucket, ServiceName, MetricName",
    ),
    (
        "otel_metrics_exponential_histogram_rollup",
        "otel_metrics_rollup",
        "otel_metrics_exponential_histogram",
        "SELECT {bucket}(h.TimeUnix) AS Bucket, h.ServiceName AS ServiceName, \
         h.MetricName AS MetricName, sum(h.Count) AS Count, \
         sum(if(isFinite(h.Sum), h.Sum, 0)) AS Sum, \
         min(if(isFinite(h.Min), h.Min, if(isFinite(h.Sum), h.Sum, 0) / h.Count)) AS Min, \
         max(if(isFinite(h.Max), h.Max, if(isFinite(h.Sum), h.Sum, 0) / h.Count)) AS Max \
         FROM {source} AS h WHERE h.Count > 0 GROUP BY Bucket, ServiceName, MetricName",
    ),
    (
        "otel_metrics_summary_rollup",
        "otel_metrics_rollup",
        "otel_metrics_summary",
        // Min and max: the quantiles 0 and 1 when the summary has them, else its mean.
        "SELECT {bucket}(s.TimeUnix) AS Bucket, s.ServiceName AS ServiceName, \
         s.MetricName AS MetricName, sum(s.Count) AS Count, \
         sum(if(isFinite(s.Sum), s.Sum, 0)) AS Sum, \
         min(if(has(s.`ValueAtQuantiles.Quantile`, 0), \
             s.`ValueAtQuantiles.Value`[indexOf(s.`ValueAtQuantiles.Quantile`, 0)], \
             if(isFinite(s.Sum), s.Sum, 0) / s.Count)) AS Min, \
         max(if(has(s.`ValueAtQuantiles.Quantile`, 1), \
             s.`ValueAtQuantiles.Value`[indexOf(s.`ValueAtQuantiles.Quantile`, 1)], \
             if(isFinite(s.Sum), s.Sum, 0) / s.Count)) AS Max \
         FROM {source} AS s WHERE s.Count > 0 GROUP BY Bucket, ServiceName, MetricName",
    ),
    (
        "automagik_agent_rollup",
        "automagik_agent_rollup",
        "automagik_agent_actions",
        "SELECT {bucket}(Timestamp) AS Bucket, AgentName, ActionType, count() AS Actions, \
         countIf(IsError) AS Errors FROM {source} GROUP BY Bucket, AgentName, ActionType",
    ),
    (
        "automagik_agent_runs_rollup",
        "automagik_agent_rollup",
        "automagik_agent_runs",
        "SELECT {bucket}(Timestamp) AS Bucket, AgentName, 'run' AS ActionType, \
         count() AS Actions, countIf(Status = 'failed') AS Errors \
         FROM {source} GROUP BY Bucket, AgentName",
    ),
    (
        "automagik_genai_rollup",
        "automagik_genai_rollup",
        "automagik_llm_calls",
        // One row per call and dimension (`ARRAY JOIN`). Columns are qualified: the
        // aliases share their names.
        "SELECT {bucket}(c.Timestamp) AS Bucket, d.1 AS Dimension, d.2 AS Key, \
         count() AS Calls, countIf(c.IsError) AS Errors, \
         sum(ifNull(c.InputTokens, 0)) AS InputTokens, \
         sum(ifNull(c.OutputTokens, 0)) AS OutputTokens, \
         sum(ifNull(c.CacheReadTokens, 0)) AS CacheReadTokens, \
         sum(ifNull(c.CacheWriteTokens, 0)) AS CacheWriteTokens, \
         sum(ifNull(c.ReasoningTokens, 0)) AS ReasoningTokens, \
         sum(ifNull(c.CostUsd, 0)) AS CostUsd, countIf(c.CostUsd IS NULL) AS UnpricedCalls, \
         sum(c.Duration) AS DurationSum, \
         sumMap([{latency_bucket}], [toUInt64(1)]) AS DurationHistogram \
         FROM {source} AS c ARRAY JOIN [\
             ('model', toString(if(c.ResponseModel != '', c.ResponseModel, c.RequestModel))), \
             ('provider', toString(c.Provider)), ('agent', toString(c.AgentName)), \
             ('session', c.SessionId), ('user', c.UserId)] AS d \
         GROUP BY Bucket, Dimension, Key",
    ),
];

/// [`crate::latency::bucket_of`] of `Duration` in SQL, for the span rollups' histogram.
fn latency_bucket_sql() -> String {
    use crate::latency::{BUCKETS, PER_OCTAVE};
    format!(
        "toUInt16(if(Duration < 1000, 0, least(floor(log2(Duration / 1000) * {PER_OCTAVE}) + 1, {})))",
        BUCKETS - 1
    )
}

/// Quotes an identifier with backticks.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Quotes a string literal.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Schema {
    /// The raw (and lookup) tables a client inserts into, by signal.
    pub const TRACES: &'static str = "otel_traces";
    /// Logs, events included.
    pub const LOGS: &'static str = "otel_logs";
    /// Gauges.
    pub const GAUGES: &'static str = "otel_metrics_gauge";
    /// Sums.
    pub const SUMS: &'static str = "otel_metrics_sum";
    /// Histograms.
    pub const HISTOGRAMS: &'static str = "otel_metrics_histogram";
    /// Exponential histogram points.
    pub const EXPONENTIAL_HISTOGRAMS: &'static str = "otel_metrics_exponential_histogram";
    /// Summary points.
    pub const SUMMARIES: &'static str = "otel_metrics_summary";
    /// Agent actions.
    pub const AGENT_ACTIONS: &'static str = "automagik_agent_actions";
    /// Agent runs.
    pub const AGENT_RUNS: &'static str = "automagik_agent_runs";
    /// LLM calls.
    pub const LLM_CALLS: &'static str = "automagik_llm_calls";
    /// Scores, kept as long as the rollups.
    pub const SCORES: &'static str = "automagik_scores";
    /// The server's fleet snapshots: a hash chain, so without TTL and never replaced.
    pub const FLEET_SNAPSHOTS: &'static str = "automagik_fleet_snapshots";

    fn on_cluster(&self) -> String {
        self.cluster
            .as_deref()
            .map(|c| format!(" ON CLUSTER {}", ident(c)))
            .unwrap_or_default()
    }

    /// Name of the table that stores rows on this node (`_local` in cluster mode).
    fn storage_name(&self, table: &str) -> String {
        match self.cluster {
            Some(_) => format!("{table}_local"),
            None => table.to_string(),
        }
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}.{}", ident(&self.database), ident(table))
    }

    /// `CREATE TABLE` of one table (in cluster mode, its replicated `_local` table and
    /// the `Distributed` table over it); `tail` follows the engine.
    /// `version` is the version column of a `ReplacingMergeTree`, or empty.
    fn create_table(
        &self,
        name: &str,
        (engine, version): (&str, &str),
        body: &str,
        tail: &str,
        shard_key: &str,
    ) -> Vec<String> {
        let on_cluster = self.on_cluster();
        let local = self.storage_name(name);
        let engine = match &self.cluster {
            Some(_) => format!(
                "Replicated{engine}('/clickhouse/tables/{{shard}}/{}/{local}', '{{replica}}'{}{version})",
                self.database,
                if version.is_empty() { "" } else { ", " },
            ),
            None => format!("{engine}({version})"),
        };
        let mut out = vec![format!(
            "CREATE TABLE IF NOT EXISTS {}{on_cluster} ({body}\n) ENGINE = {engine} {tail}",
            self.qualified(&local),
        )];
        if let Some(cluster) = &self.cluster {
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS {}{on_cluster} AS {} \
                 ENGINE = Distributed({}, {}, {}, {shard_key})",
                self.qualified(name),
                self.qualified(&local),
                literal(cluster),
                literal(&self.database),
                literal(&local),
            ));
        }
        out
    }

    /// Every statement, in order: the database, the tables (in cluster mode the
    /// replicated `_local` tables and the `Distributed` tables), the columns added since
    /// a table's first release (`ADD COLUMN`, for tables an older version created), then
    /// the views. All are `IF NOT EXISTS`, so running them again changes nothing.
    pub fn statements(&self) -> Vec<String> {
        let on_cluster = self.on_cluster();
        let mut out = vec![format!(
            "CREATE DATABASE IF NOT EXISTS {}{on_cluster}",
            ident(&self.database)
        )];
        for t in TABLES {
            let body = t
                .body
                .replace("{ADDED}", &added_columns(t.name))
                .replace("{METRIC_COMMON}", METRIC_COMMON)
                .replace("{METRIC_INDEX}", METRIC_INDEX)
                .replace("{MAP}", MAP)
                .replace("{TYPES}", TYPES);
            let days = if t.rollup_ttl {
                self.rollup_ttl_days
            } else {
                self.raw_ttl_days
            };
            out.extend(self.create_table(
                t.name,
                (t.engine, t.version),
                &body,
                &format!(
                    "PARTITION BY {} ORDER BY {} TTL {} + toIntervalDay({days}) \
                     SETTINGS index_granularity = {}, ttl_only_drop_parts = 1{}",
                    t.partition,
                    t.order,
                    t.ttl_column,
                    t.index_granularity,
                    // Retried inserts carry the same deduplication token; keep a window
                    // of them on single nodes too (replicated tables have their own).
                    // Rollups as well: since ClickHouse 24.7 a block the source table
                    // drops as a repeat still reaches the views, and their tables drop it
                    // only if they remember its token (the inserts ask for that with
                    // `deduplicate_blocks_in_dependent_materialized_views`).
                    ", non_replicated_deduplication_window = 1000",
                ),
                t.shard_key,
            ));
        }
        // Tables created before their added columns existed get them (a no-op on the
        // tables just created); in cluster mode the `Distributed` tables too, which take
        // no codecs.
        for (table, name, ty, codec) in added() {
            let ty = ty.replace("{TYPES}", TYPES);
            out.push(format!(
                "ALTER TABLE {}{on_cluster} ADD COLUMN IF NOT EXISTS {name} {ty} {codec}",
                self.qualified(&self.storage_name(table)),
            ));
            if self.cluster.is_some() {
                out.push(format!(
                    "ALTER TABLE {}{on_cluster} ADD COLUMN IF NOT EXISTS {name} {ty}",
                    self.qualified(table),
                ));
            }
        }
        // Rollup tables created without a deduplication window get one (a no-op on the
        // tables just created); replicated ones have theirs.
        if self.cluster.is_none() {
            for t in TABLES.iter().filter(|t| t.rollup) {
                out.push(format!(
                    "ALTER TABLE {} MODIFY SETTING non_replicated_deduplication_window = 1000",
                    self.qualified(t.name),
                ));
            }
        }
        out.extend(self.create_table(
            Self::FLEET_SNAPSHOTS,
            ("MergeTree", ""),
            FLEET_SNAPSHOTS,
            "ORDER BY Seq SETTINGS non_replicated_deduplication_window = 1000",
            "Seq",
        ));
        let mut view = |name: String, target: &str, source: &str, select: String| {
            let select = select.replace("{source}", &self.qualified(&self.storage_name(source)));
            out.push(format!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {}{on_cluster} TO {} AS {select}",
                self.qualified(&self.storage_name(&name)),
                self.qualified(&self.storage_name(target)),
            ));
        };
        for (name, target, source, select) in VIEWS {
            view(name.to_string(), target, source, select.to_string());
        }
        for (stem, target, source, select) in ROLLUP_VIEWS {
            for (suffix, bucket) in [("1m", "toStartOfMinute"), ("1h", "toStartOfHour")] {
                view(
                    format!("{stem}_{suffix}_mv"),
                    &format!("{target}_{suffix}"),
                    source,
                    select
                        .replace("{bucket}", bucket)
                        .replace("{latency_bucket}", &latency_bucket_sql()),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_node_and_cluster_statements() {
        let single = Schema::default().statements();
        assert!(single[0].starts_with("CREATE DATABASE IF NOT EXISTS `automagik`"));
        assert!(single.iter().all(|s| !s.contains("ON CLUSTER")));
        assert!(
            single
                .iter()
                .any(|s| s.contains("`automagik`.`otel_traces` ("))
        );
        let traces = single
            .iter()
            .find(|s| s.contains("`otel_traces` ("))
            .expect("traces table");
        assert!(traces.contains("TTL toDateTime(Timestamp) + toIntervalDay(7)"));
        assert!(traces.contains("ttl_only_drop_parts = 1"));
        assert!(traces.contains("index_granularity = 1024"));
        assert!(traces.contains("Map(LowCardinality(String), String)"));
        assert!(!traces.contains("{MAP}"));
        let rollup = single
            .iter()
            .find(|s| s.contains("`otel_traces_rollup_1h` ("))
            .expect("rollup table");
        assert!(rollup.contains("AggregatingMergeTree") && rollup.contains("toIntervalDay(30)"));
        // A retried insert the source table drops must not be counted again by the views:
        // rollup tables keep a deduplication window, older ones are given one.
        assert!(rollup.contains("non_replicated_deduplication_window = 1000"));
        assert!(single.iter().any(|s| s
            == "ALTER TABLE `automagik`.`automagik_genai_rollup_1m` MODIFY SETTING \
                non_replicated_deduplication_window = 1000"));
        assert_eq!(
            single
                .iter()
                .filter(|s| s.contains("MODIFY SETTING"))
                .count(),
            8,
            "the four rollups, per minute and per hour"
        );
        let views = single
            .iter()
            .filter(|s| s.contains("MATERIALIZED VIEW"))
            .count();
        assert_eq!(views, 2 + 9 * 2);
        // The columns added since the first release are in the new tables, and added to
        // older ones.
        let logs = single
            .iter()
            .find(|s| s.contains("`otel_logs` ("))
            .expect("logs table");
        for (table, name, ty, codec) in added() {
            let ty = ty.replace("{TYPES}", TYPES);
            let created = single
                .iter()
                .find(|s| s.contains(&format!("`{table}` (")))
                .expect("the table");
            assert!(created.contains(&format!("{name} {ty} {codec},")), "{name}");
            assert!(single.contains(&format!(
                "ALTER TABLE `automagik`.`{table}` ADD COLUMN IF NOT EXISTS {name} {ty} {codec}"
            )));
        }
        assert!(!traces.contains("{ADDED}") && !logs.contains("{ADDED}"));
        assert!(!traces.contains("{TYPES}"));
        // Runs gained their span, parent, session and user; LLM calls and scores replace
        // a row stored again, scores keeping the newest and living as long as rollups.
        let created = |table: &str| {
            single
                .iter()
                .find(|s| s.contains(&format!("`{table}` (")))
                .unwrap_or_else(|| panic!("{table}"))
                .clone()
        };
        let runs = created(Schema::AGENT_RUNS);
        for column in ["SpanId", "ParentSpanId", "SessionId", "UserId"] {
            assert!(
                runs.contains(&format!("{column} String CODEC(ZSTD(1)),")),
                "{column}"
            );
        }
        assert!(!runs.contains("{ADDED}"));
        let calls = created(Schema::LLM_CALLS);
        assert!(calls.contains(
            "ENGINE = ReplacingMergeTree() PARTITION BY toDate(Timestamp) \
             ORDER BY (toDateTime(Timestamp), TraceId, SpanId) \
             TTL toDateTime(Timestamp) + toIntervalDay(7)"
        ));
        assert!(calls.contains("InputTokens Nullable(UInt64)"));
        assert!(calls.contains("FinishReasons Array(String)"));
        let scores = created(Schema::SCORES);
        assert!(scores.contains(
            "ENGINE = ReplacingMergeTree(Timestamp) PARTITION BY toDate(Timestamp) \
             ORDER BY (ScoreId) TTL toDateTime(Timestamp) + toIntervalDay(30)"
        ));
        assert!(scores.contains("non_replicated_deduplication_window = 1000"));
        // GenAI usage: one rollup row per call and dimension, read by dimension and key.
        let genai = created("automagik_genai_rollup_1m");
        assert!(genai.contains(
            "ENGINE = AggregatingMergeTree() PARTITION BY toDate(Bucket) \
             ORDER BY (Dimension, Key, Bucket) TTL Bucket + toIntervalDay(30)"
        ));
        assert!(genai.contains("CostUsd SimpleAggregateFunction(sum, Float64)"));
        let genai_view = single
            .iter()
            .find(|s| {
                s.contains(
                    "`automagik_genai_rollup_1h_mv` TO `automagik`.`automagik_genai_rollup_1h`",
                )
            })
            .expect("the hourly GenAI view");
        assert!(genai_view.contains("SELECT toStartOfHour(c.Timestamp) AS Bucket"));
        assert!(
            genai_view
                .contains("FROM `automagik`.`automagik_llm_calls` AS c ARRAY JOIN [('model', ")
        );
        assert!(genai_view.contains("countIf(c.CostUsd IS NULL) AS UnpricedCalls"));
        assert!(genai_view.contains("least(floor(log2(Duration / 1000) * 4) + 1, 159)"));
        assert!(!genai_view.contains('{'), "every placeholder replaced");

        let cluster = Schema {
            cluster: Some("prod".into()),
            ..Schema::default()
        }
        .statements();
        assert!(cluster.iter().all(|s| s.contains("ON CLUSTER `prod`")));
        assert!(cluster.iter().any(|s| s.contains(
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/automagik/otel_traces_local', '{replica}')"
        )));
        assert!(cluster.iter().any(|s| s.contains(
            "Distributed('prod', 'automagik', 'otel_traces_local', cityHash64(TraceId))"
        )));
        assert!(cluster.iter().any(|s| s.contains(
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/automagik/automagik_scores_local', '{replica}', Timestamp)"
        )));
        assert!(cluster.iter().any(|s| s.contains(
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/automagik/automagik_llm_calls_local', '{replica}')"
        )));
        assert!(cluster.iter().any(|s| s.contains(
            "Distributed('prod', 'automagik', 'automagik_scores_local', cityHash64(ScoreId))"
        )));
        // Added columns go to the local tables and, without codecs, to the `Distributed`
        // ones in front.
        let alter = |table: &str, tail: &str| {
            format!(
                "ALTER TABLE `automagik`.`{table}` ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS \
                 BodyType LowCardinality(String){tail}"
            )
        };
        assert!(cluster.contains(&alter("otel_logs", "")));
        assert!(cluster.contains(&alter("otel_logs_local", " CODEC(ZSTD(1))")));
        assert!(
            cluster
                .iter()
                .any(|s| s.contains("TO `automagik`.`otel_traces_rollup_1m_local` AS SELECT"))
        );
        assert!(cluster.iter().any(|s| {
            s.contains("TO `automagik`.`automagik_genai_rollup_1m_local` AS SELECT")
                && s.contains("FROM `automagik`.`automagik_llm_calls_local` AS c ARRAY JOIN")
        }));
        assert_eq!(ident("we`ird"), "`we\\`ird`");
        assert_eq!(literal("it's"), "'it\\'s'");
    }
}
