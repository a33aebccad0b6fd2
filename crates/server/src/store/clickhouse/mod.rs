//! The ClickHouse store. It speaks ClickHouse's HTTP interface (port 8123, or 8443 over
//! TLS): one statement per POST, rows sent as `JSONEachRow`, results read back as
//! `JSONEachRow`. Rows go into the tables of the shared schema
//! ([`automagik_telemetry_core::clickhouse`]); the rollups are kept by the schema's
//! materialized views, not by this code.
//!
//! Its parts: [`client`] (store URLs, the HTTP client [`Http`] and [`ping`]), `encode`
//! (rows as insert bodies), `decode` (SELECT results as rows) and `store`
//! ([`ClickHouseStore`]: the store traits over the three).
//!
//! - `--storage clickhouse://[user[:password]@]host[:port][/database][?cluster=NAME]`
//!   (plain HTTP, port 8123 by default), `clickhouses://...` (HTTPS, 8443), or the HTTP
//!   interface's own address `http(s)://[user[:password]@]host:port[/database]` with
//!   `?database=`, `?user=`, `?password=`, `?cluster=` accepted too; `?async_insert=1`
//!   lets ClickHouse gather the inserts of many requests into larger parts (each request
//!   still answered only once its rows are written). The schema is created on open
//!   (`IF NOT EXISTS`), with TTLs from the retention settings.
//! - A batch is one `INSERT ... FORMAT JSONEachRow` per table, its rows written by the
//!   shared encoder (the SDK exporter's), straight from the accepted OTLP request when
//!   the batch was read from one; each insert carries a deduplication token derived from
//!   its rows, so a request retried after a partial failure stores nothing twice (and,
//!   with `deduplicate_blocks_in_dependent_materialized_views` and the rollup tables'
//!   deduplication window, counts nothing twice in the rollups);
//!   spans, agent actions, runs, LLM calls and scores live in
//!   `ReplacingMergeTree` tables whose keys end with their identity, and readers keep
//!   one row per identity (`LIMIT 1 BY` and `uniqExact` on the few rows a lookup
//!   finds; `FINAL` for runs, whose last delivery wins, for LLM calls, for scores (the
//!   newest of an id, with `LIMIT 1 BY` across days) and for the counts of `stats`),
//!   so a span delivered again is kept once. Agent runs, LLM calls and scores are
//!   written from the batch's rows, as the other stores write them (the server resolves
//!   a run's session, user and nesting).
//! - LLM calls of many traces are read with `TraceId IN (...)` lists of at most 1,000
//!   ids (and scores of many targets likewise), one query per list, merged newest first.
//! - Attribute maps hold strings, as the OpenTelemetry Collector writes them; the
//!   `...AttributeTypes` column beside each says which were numbers, booleans or JSON,
//!   so span, log, metric and agent attributes come back with their types, and span
//!   event and link attributes with theirs (`EventsAttributeTypes`,
//!   `LinksAttributeTypes`). Resource attributes come back as strings. A log body is
//!   its text in `Body` with its OTLP type in `BodyType`, so it comes back structured.
//! - Trace by id reads the trace's time range from `otel_traces_trace_id_ts` first, so
//!   only the partitions of that range are read (the bloom filter on `TraceId` skips the
//!   rest); listings filter on the partition column.
//! - Log records and runs have no row id here: their cursors carry a 64-bit hash of the
//!   row (of the correlation id for runs) as tie-break.

pub mod client;
mod decode;
mod encode;
mod store;

pub use client::{Http, ping};
pub use store::ClickHouseStore;

#[cfg(test)]
mod tests;
