//! Storage behind small traits, one per concern: [`StoreWrite`] (ingest),
//! [`StoreRead`] (queries), [`Retention`] and [`SnapshotChain`] (the fleet snapshots'
//! hash chain, whose append is written once over each store's lock); [`Store`] is all
//! four. A successful [`StoreWrite::insert`] means the rows are committed: the HTTP layer
//! answers success only after it returns.

pub mod clickhouse;
pub mod postgres;
pub(crate) mod sql;
pub mod sqlite;

use crate::query::Cursor;
use crate::rollup::{
    AgentAgg, AgentKey, GenAiAgg, GenAiKey, MetricAgg, MetricKey, SpanAgg, SpanKey,
};
use crate::rows::{
    AgentActionRow, AgentRunRow, Batch, LlmCallRow, LogRow, MetricPointRow, ScoreRow, SpanRow,
};
use serde::Serialize;

/// Why a store operation failed. The message is for the server log; clients get a
/// generic answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The write queue is full: the client should retry later (HTTP 503).
    #[error("the store is overloaded")]
    Overloaded,
    /// The store is shutting down or its writer died.
    #[error("the store is unavailable")]
    Unavailable,
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// The data directory could not be prepared.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A database file is damaged, so the store was not opened (SQLite would have
    /// started on it and lost data without a word); nothing was changed.
    #[error("{path} is damaged: {detail}")]
    Damaged {
        /// The damaged file.
        path: String,
        /// What is wrong and how to recover.
        detail: String,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Counts of what is stored, for the overview page and operators.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Stored spans.
    pub spans: u64,
    /// Stored log records (events and errors included).
    pub logs: u64,
    /// Stored metric data points.
    pub metric_points: u64,
    /// Log records that are events.
    pub events: u64,
    /// Stored agent actions.
    pub agent_actions: u64,
    /// Size of the database files.
    pub bytes_on_disk: u64,
    /// Oldest record, RFC 3339.
    pub oldest: Option<String>,
    /// Newest record, RFC 3339.
    pub newest: Option<String>,
}

/// Filters of a log (or event) listing. Results are newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Only this service.
    pub service: Option<String>,
    /// Only records at least this severe (OTLP severity number).
    pub severity_min: Option<i32>,
    /// Only records whose body contains this text.
    pub text: Option<String>,
    /// Only records of this trace (hex).
    pub trace_id: Option<String>,
    /// Only events (records with an event name).
    pub events_only: bool,
    /// Only events of this name.
    pub event_name: Option<String>,
    /// Not before, ns.
    pub from: Option<u64>,
    /// Not after, ns.
    pub to: Option<u64>,
    /// Page size.
    pub limit: usize,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
}

/// Filters of a trace listing. Results are newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceQuery {
    /// Only traces whose root span belongs to this service.
    pub service: Option<String>,
    /// Only traces whose root span has this name.
    pub name: Option<String>,
    /// Only root spans with this OTLP status code.
    pub status_code: Option<i32>,
    /// Only root spans lasting at least this long, ns.
    pub min_duration_ns: Option<u64>,
    /// Root span not starting before, ns.
    pub from: Option<u64>,
    /// Root span not starting after, ns.
    pub to: Option<u64>,
    /// Page size.
    pub limit: usize,
    /// Continue after this position (start time, span id).
    pub cursor: Option<Cursor>,
}

/// One trace in a listing: its root span and how many spans it has.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSummary {
    /// The root span (a span whose parent is not stored in this trace).
    pub root: SpanRow,
    /// Spans stored for the trace.
    pub span_count: u64,
}

/// A stored log record with its row id.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredLog {
    /// Row id (for cursors).
    pub id: i64,
    /// The record.
    pub row: LogRow,
}

impl StoredLog {
    /// The cursor continuing after this record.
    pub fn cursor(&self) -> Cursor {
        Cursor::with_id(self.row.time_unix_nano, self.id)
    }
}

/// Filters of an agent run listing. Results are newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunQuery {
    /// Only this agent.
    pub agent: Option<String>,
    /// Only runs with this status (`completed` or `failed`).
    pub status: Option<String>,
    /// Started not before, ns.
    pub from: Option<u64>,
    /// Started not after, ns.
    pub to: Option<u64>,
    /// Only runs of this session.
    pub session_id: Option<String>,
    /// Only runs of this user.
    pub user_id: Option<String>,
    /// Only runs of this trace.
    pub trace_id: Option<String>,
    /// Page size.
    pub limit: usize,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
}

/// Which LLM calls to read (every filter given must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LlmCallQuery {
    /// Only calls in one of these traces (none: any trace).
    pub trace_ids: Vec<String>,
    /// Only calls of this session.
    pub session_id: Option<String>,
    /// Only calls of this user.
    pub user_id: Option<String>,
    /// Started not before, ns.
    pub from: Option<u64>,
    /// Started not after, ns.
    pub to: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// Which scores to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScoreQuery {
    /// Only scores of one of these `(target_kind, target_id)` (none: any target).
    pub targets: Vec<(String, String)>,
    /// Only scores with this name.
    pub name: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// A stored agent run with its row id and how many actions it has.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRun {
    /// Row id (for cursors).
    pub id: i64,
    /// The run.
    pub row: AgentRunRow,
    /// Stored actions of the run.
    pub action_count: u64,
}

impl StoredRun {
    /// The cursor continuing after this run.
    pub fn cursor(&self) -> Cursor {
        Cursor::with_id(self.row.start_time_unix_nano, self.id)
    }
}

/// Which rollup rows to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollupQuery {
    /// 60 or 3600 seconds.
    pub resolution: u32,
    /// First bucket start, ns.
    pub from: u64,
    /// Last bucket start, ns.
    pub to: u64,
    /// Only this service (span and metric rollups) or agent (agent rollups).
    pub service: Option<String>,
    /// Only this operation, metric name or action type.
    pub name: Option<String>,
}

/// Which GenAI usage rollup rows to read: one dimension at one resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenAiRollupQuery {
    /// 60 or 3600 seconds.
    pub resolution: u32,
    /// First bucket start, ns.
    pub from: u64,
    /// Last bucket start, ns.
    pub to: u64,
    /// One of [`crate::rollup::GENAI_DIMENSIONS`].
    pub dimension: String,
}

/// A metric name and what is stored of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetricInfo {
    /// The name.
    pub name: String,
    /// `sum`, `gauge` or `histogram`.
    pub kind: String,
    /// Stored data points.
    pub points: u64,
    /// Time of the newest point, ns.
    pub last_time_unix_nano: u64,
}

/// How much a retention pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Raw rows (spans, logs, metric points, runs, actions, LLM calls).
    pub raw: u64,
    /// Rollup rows, and the scores kept as long as they are.
    pub rollups: u64,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// Items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` fetched items: the extra one only says that another
    /// page follows, which starts after the last item kept.
    pub fn cut(mut items: Vec<T>, limit: usize, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor_of)
        } else {
            None
        };
        Page { items, next }
    }
}

/// Writing: what ingest accepted, stored for good.
pub trait StoreWrite {
    /// Durably stores every row of `batch` (spans already stored are kept, not duplicated).
    /// Safe to call concurrently; returns after commit, and the HTTP layer answers success
    /// only then.
    fn insert(&self, batch: Batch) -> Result<(), StoreError>;
}

/// Reading: the query API's and the dashboard's readers.
pub trait StoreRead {
    /// Every span of a trace, by start time.
    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRow>, StoreError>;
    /// Traces matching `query`, newest first.
    fn traces(&self, query: &TraceQuery) -> Result<Page<TraceSummary>, StoreError>;
    /// Log records (events included) matching `query`, newest first.
    fn logs(&self, query: &LogQuery) -> Result<Page<StoredLog>, StoreError>;
    /// Service names seen in any signal, sorted: the first `limit` + 1 at most, so a
    /// caller can tell that more exist than it shows.
    fn services(&self, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Counts of what is stored.
    fn stats(&self) -> Result<Stats, StoreError>;
    /// Whether the store answers (for `/readyz`); by default a `stats` read.
    fn ready(&self) -> Result<(), StoreError> {
        self.stats().map(|_| ())
    }
    /// Metric names, sorted: the first `limit` + 1 at most, so a caller can tell that
    /// more exist than it shows.
    fn metric_names(&self, limit: usize) -> Result<Vec<MetricInfo>, StoreError>;
    /// Raw points of one metric in `[from, to]`, oldest first; at most `max + 1`, so a
    /// caller can tell that the range holds more than it wants to read.
    fn metric_points(
        &self,
        name: &str,
        from: u64,
        to: u64,
        max: usize,
    ) -> Result<Vec<MetricPointRow>, StoreError>;
    /// Raw points of one metric in `[from, to]` that carry exemplars, newest first; at
    /// most `max`.
    fn metric_exemplars(
        &self,
        name: &str,
        from: u64,
        to: u64,
        max: usize,
    ) -> Result<Vec<MetricPointRow>, StoreError>;
    /// Span rollup rows (`name` filters the operation), by bucket.
    fn span_rollups(&self, q: &RollupQuery) -> Result<Vec<(SpanKey, SpanAgg)>, StoreError>;
    /// Metric rollup rows (`name` filters the metric), by bucket.
    fn metric_rollups(&self, q: &RollupQuery) -> Result<Vec<(MetricKey, MetricAgg)>, StoreError>;
    /// Agent rollup rows (`service` filters the agent, `name` the action type), by bucket.
    fn agent_rollups(&self, q: &RollupQuery) -> Result<Vec<(AgentKey, AgentAgg)>, StoreError>;
    /// GenAI usage rollup rows of one dimension, by bucket (then key).
    fn genai_rollups(&self, q: &GenAiRollupQuery) -> Result<Vec<(GenAiKey, GenAiAgg)>, StoreError>;
    /// Agent runs matching `query`, newest first.
    fn runs(&self, query: &RunQuery) -> Result<Page<StoredRun>, StoreError>;
    /// One run by correlation id.
    fn run(&self, correlation_id: &str) -> Result<Option<StoredRun>, StoreError>;
    /// The actions of a run, oldest first.
    fn actions(&self, correlation_id: &str) -> Result<Vec<AgentActionRow>, StoreError>;
    /// LLM calls matching `query`, newest first, at most `query.limit`.
    fn llm_calls(&self, query: &LlmCallQuery) -> Result<Vec<LlmCallRow>, StoreError>;
    /// Scores matching `query`, newest first, at most `query.limit`.
    fn scores(&self, query: &ScoreQuery) -> Result<Vec<ScoreRow>, StoreError>;
}

/// Retention: removing what is older than the configured windows.
pub trait Retention {
    /// Deletes raw rows older than `raw_before` and rollup rows whose bucket starts
    /// before `rollups_before` (both ns), a bounded step at a time: callers repeat until
    /// nothing is removed. Fleet snapshots are never deleted: they form a hash chain.
    fn purge(&self, raw_before: u64, rollups_before: u64) -> Result<Purged, StoreError>;
}

/// What an append may do while the chain is locked: read the last link, write the next.
pub trait ChainTx {
    /// The newest stored link, if any.
    fn last_link(&mut self) -> Result<Option<Link>, StoreError>;
    /// Stores `link`, collected at `collected_at_unix_nano`.
    fn insert_link(&mut self, link: &Link, collected_at_unix_nano: u64) -> Result<(), StoreError>;
}

/// One append to the chain, run by [`SnapshotChain::with_chain_locked`]: it reads the
/// last link and writes the next through the [`ChainTx`] it is given.
pub type ChainAppend = Box<dyn FnOnce(&mut dyn ChainTx) -> Result<Link, StoreError> + Send>;

/// The fleet snapshots' hash chain (see [`crate::fleet::chain`]). A store provides the
/// lock ([`SnapshotChain::with_chain_locked`]) and the two readers; the append itself is
/// written once, here.
pub trait SnapshotChain {
    /// Runs `append` with the chain locked, so that no other append of this store runs
    /// between its read of the last link and its write of the next: the SQLite store runs
    /// it on its single writer thread, PostgreSQL in one transaction holding an exclusive
    /// table lock, ClickHouse under a mutex (one server per database appends; two servers
    /// sharing one would fork the chain, which `audit verify` reports). An error leaves
    /// nothing written. Callers use [`SnapshotChain::append_snapshot`].
    fn with_chain_locked(&self, append: ChainAppend) -> Result<Link, StoreError>;

    /// Appends a fleet snapshot to the hash chain: its link follows the last stored
    /// one, computed and written under one lock or transaction, so two appends never
    /// fork the chain.
    fn append_snapshot(
        &self,
        snapshot_id: &str,
        collected_at_unix_nano: u64,
        snapshot: &serde_json::Value,
    ) -> Result<Link, StoreError> {
        let (snapshot_id, snapshot) = (snapshot_id.to_string(), snapshot.clone());
        self.with_chain_locked(Box::new(
            move |tx: &mut dyn ChainTx| -> Result<Link, StoreError> {
                let last = tx.last_link()?;
                let link = crate::fleet::chain::next(last.as_ref(), &snapshot_id, &snapshot);
                tx.insert_link(&link, collected_at_unix_nano)?;
                Ok(link)
            },
        ))
    }

    /// Links of the chain after position `after`, in chain order, at most `limit`.
    fn snapshot_links(&self, after: u64, limit: usize) -> Result<Vec<Link>, StoreError>;
    /// The newest link.
    fn last_snapshot(&self) -> Result<Option<Link>, StoreError>;
}

/// A storage backend: every concern at once, as the server holds it (`Arc<dyn Store>`).
/// Implementations are blocking; the HTTP layer calls them from blocking tasks. Any type
/// that implements the four traits is a `Store`.
///
/// Methods of the four traits are callable on `dyn Store` as they are; on a concrete
/// store, bring them into scope with `use automagik_telemetry_server::store::prelude::*`.
pub trait Store:
    StoreWrite + StoreRead + Retention + SnapshotChain + Send + Sync + 'static
{
}

impl<T> Store for T where
    T: StoreWrite + StoreRead + Retention + SnapshotChain + Send + Sync + 'static
{
}

/// The store traits, to call their methods on a concrete store.
pub mod prelude {
    pub use super::{Retention, SnapshotChain, StoreRead, StoreWrite};
}

pub use crate::fleet::chain::Link;

pub use automagik_telemetry_core::time::rfc3339;
