//! The PostgreSQL store: the same tables as SQLite (JSON as `jsonb`), numbered
//! migrations applied at start under an advisory lock, a connection pool, one
//! transaction per batch (rows sent as arrays through `unnest`, one statement per
//! table), and success only after commit.

use super::sql::{
    self, AGENT_ROLLUP_COLUMNS, Dialect, KEPT_WITH_ROLLUPS, LLM_CALL_COLUMNS, Listing,
    METRIC_ROLLUP_COLUMNS, Param, RAW_TABLES, ROLLUP_TABLES, SPAN_ROLLUP_COLUMNS, ns, read_action,
    read_agent_rollup, read_llm_call, read_log, read_metric_point, read_metric_rollup, read_run,
    read_score, read_span, read_span_rollup,
};
use super::{
    ChainAppend, ChainTx, Link, LlmCallQuery, LogQuery, MetricInfo, Page, Purged, Retention,
    RollupQuery, RunQuery, ScoreQuery, SnapshotChain, Stats, StoreError, StoreRead, StoreWrite,
    StoredLog, StoredRun, TraceQuery, TraceSummary, rfc3339,
};
use crate::rollup::{
    AgentAgg, AgentKey, MetricAgg, MetricKey, Rollups, SpanAgg, SpanKey, buckets_to_text,
};
use crate::rows::{AgentActionRow, Batch, LlmCallRow, LogRow, MetricPointRow, ScoreRow, SpanRow};
use postgres::types::ToSql;
use postgres::{NoTls, Row, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use std::time::Duration;

/// Migrations, applied in order and recorded in `automagik_schema_migrations`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_fleet_snapshots.sql"),
    include_str!("../../migrations/postgres/0003_metric_exemplars_and_buckets.sql"),
    include_str!("../../migrations/postgres/0004_otlp_fields.sql"),
    include_str!("../../migrations/postgres/0005_metric_summaries.sql"),
    include_str!("../../migrations/postgres/0006_genai.sql"),
    include_str!("../../migrations/postgres/0007_genai_rollups.sql"),
];
/// Rows one retention step deletes per table.
const PURGE_CHUNK: i64 = 10_000;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// See the module docs.
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The server's message only: its detail may quote stored values.
        match e.as_db_error() {
            Some(db) if going_away(db.code().code()) => StoreError::Unavailable,
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            // PostgreSQL is out of reach (the client retries later, HTTP 503); the pool
            // replaces the broken connection when it is next checked out.
            None if e.is_closed() || connection_broke(&e) => StoreError::Unavailable,
            None => StoreError::Database(e.to_string()),
        }
    }
}

/// Whether the connection failed under the query (reset, aborted, cut off in the middle
/// of a message, timed out), as when the server or the network goes away
/// mid-statement; not a message that could not be encoded or parsed.
fn connection_broke(e: &postgres::Error) -> bool {
    use std::io::ErrorKind;
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| !matches!(io.kind(), ErrorKind::InvalidInput | ErrorKind::InvalidData))
}

/// Whether the SQLSTATE `code` says the server ended the session or takes none now: a
/// connection exception (class 08), or `57P01` (admin shutdown), `57P02` (crash
/// shutdown), `57P03` (cannot connect now, as while it starts).
fn going_away(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

impl From<r2d2::Error> for StoreError {
    fn from(_: r2d2::Error) -> Self {
        StoreError::Unavailable
    }
}

fn pg_params(args: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| match a {
            Param::Int(v) => v as &(dyn ToSql + Sync),
            Param::Int4(v) => v as &(dyn ToSql + Sync),
            Param::Text(v) => v as &(dyn ToSql + Sync),
        })
        .collect()
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`), applies pending migrations
    /// and keeps a pool of up to `pool_size` connections.
    pub fn open(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|_| StoreError::Database("invalid PostgreSQL URL".into()))?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL: {e}")))?;
        let store = PostgresStore { pool };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        apply_migrations(
            &mut conn,
            "automagik_schema_migrations",
            7243100,
            MIGRATIONS,
        )?;
        Ok(())
    }

    fn rows<T>(
        &self,
        l: Listing,
        map: impl Fn(&Row) -> Result<T, postgres::Error>,
    ) -> Result<Vec<T>, StoreError> {
        let mut conn = self.pool.get()?;
        let rows = conn.query(l.sql.as_str(), &pg_params(&l.args))?;
        Ok(rows.iter().map(map).collect::<Result<Vec<_>, _>>()?)
    }
}

/// Applies the `migrations` not yet recorded in the table `ledger` (created if
/// missing), in one transaction under the advisory lock `lock`, so that one process at
/// a time migrates.
pub fn apply_migrations(
    client: &mut postgres::Client,
    ledger: &str,
    lock: i64,
    migrations: &[&str],
) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {ledger} (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())"
    ))?;
    let applied: i32 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {ledger}"),
            &[],
        )?
        .get(0);
    for (i, migration) in migrations.iter().enumerate().skip(applied as usize) {
        tx.batch_execute(migration)?;
        tx.execute(
            &format!("INSERT INTO {ledger} (version) VALUES ($1)"),
            &[&(i as i32 + 1)],
        )?;
    }
    tx.commit()
}

fn write(tx: &mut Transaction<'_>, batch: &Batch, rollups: &Rollups) -> Result<(), StoreError> {
    if !batch.spans.is_empty() {
        let s = &batch.spans;
        let col = |f: fn(&SpanRow) -> &str| s.iter().map(f).collect::<Vec<&str>>();
        let int = |f: fn(&SpanRow) -> i32| s.iter().map(f).collect::<Vec<i32>>();
        let time = |f: fn(&SpanRow) -> u64| s.iter().map(|r| ns(f(r))).collect::<Vec<i64>>();
        let count =
            |f: fn(&SpanRow) -> u32| s.iter().map(|r| i64::from(f(r))).collect::<Vec<i64>>();
        tx.execute(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, name, service_name, kind,
                start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes, events, resource,
                trace_state, flags, scope_name, scope_version, dropped_attributes_count, dropped_events_count,
                dropped_links_count, links)
             SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11::jsonb, c12::jsonb, c13::jsonb,
                c14, c15, c16, c17, c18, c19, c20, c21::jsonb
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::int8[],
                         $8::int8[], $9::int4[], $10::text[], $11::text[], $12::text[], $13::text[],
                         $14::text[], $15::int8[], $16::text[], $17::text[], $18::int8[], $19::int8[],
                         $20::int8[], $21::text[])
                  AS t(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18,
                       c19, c20, c21)
             ON CONFLICT (trace_id, span_id) DO NOTHING",
            &[
                &col(|r| &r.trace_id),
                &col(|r| &r.span_id),
                &col(|r| &r.parent_span_id),
                &col(|r| &r.name),
                &col(|r| &r.service_name),
                &int(|r| r.kind),
                &time(|r| r.start_time_unix_nano),
                &time(|r| r.end_time_unix_nano),
                &int(|r| r.status_code),
                &col(|r| &r.status_message),
                &col(|r| &r.attributes),
                &col(|r| &r.events),
                &col(|r| &r.resource),
                &col(|r| &r.trace_state),
                &count(|r| r.flags),
                &col(|r| &r.scope_name),
                &col(|r| &r.scope_version),
                &count(|r| r.dropped_attributes_count),
                &count(|r| r.dropped_events_count),
                &count(|r| r.dropped_links_count),
                &col(|r| &r.links),
            ],
        )?;
    }
    if !batch.logs.is_empty() {
        let l = &batch.logs;
        let count = |f: fn(&LogRow) -> u32| l.iter().map(|r| i64::from(f(r))).collect::<Vec<i64>>();
        tx.execute(
            "INSERT INTO logs (time_unix_nano, service_name, severity_number, severity_text, body, event_name,
                trace_id, span_id, attributes, resource, observed_time_unix_nano, body_type, flags, scope_name,
                scope_version, dropped_attributes_count)
             SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9::jsonb, c10::jsonb, c11, c12, c13, c14, c15, c16
             FROM unnest($1::int8[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::int8[], $12::text[], $13::int8[],
                         $14::text[], $15::text[], $16::int8[])
                  WITH ORDINALITY AS t(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15,
                                       c16, n)
             ORDER BY n",
            &[
                &l.iter().map(|r| ns(r.time_unix_nano)).collect::<Vec<_>>(),
                &l.iter().map(|r| r.service_name.as_str()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.severity_number).collect::<Vec<_>>(),
                &l.iter().map(|r| r.severity_text.as_str()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.body.as_deref()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.event_name.as_deref()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.trace_id.as_deref()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.span_id.as_deref()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.attributes.as_str()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.resource.as_str()).collect::<Vec<_>>(),
                &l.iter()
                    .map(|r| ns(r.observed_time_unix_nano))
                    .collect::<Vec<_>>(),
                &l.iter().map(|r| r.body_type.as_str()).collect::<Vec<_>>(),
                &count(|r| r.flags),
                &l.iter().map(|r| r.scope_name.as_str()).collect::<Vec<_>>(),
                &l.iter().map(|r| r.scope_version.as_str()).collect::<Vec<_>>(),
                &count(|r| r.dropped_attributes_count),
            ],
        )?;
    }
    if !batch.metric_points.is_empty() {
        let stmt = tx.prepare(
            "INSERT INTO metric_points (name, service_name, kind, start_time_unix_nano, time_unix_nano, value,
                count, sum, min, max, bucket_counts, explicit_bounds, attributes, exemplars, quantiles)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb,
                     $14::text::jsonb, $15::text::jsonb)",
        )?;
        for m in &batch.metric_points {
            tx.execute(
                &stmt,
                &[
                    &m.name,
                    &m.service_name,
                    &m.kind,
                    &ns(m.start_time_unix_nano),
                    &ns(m.time_unix_nano),
                    &m.value,
                    &m.count.map(ns),
                    &m.sum,
                    &m.min,
                    &m.max,
                    &m.bucket_counts
                        .as_ref()
                        .map(|b| b.iter().map(|c| ns(*c)).collect::<Vec<i64>>()),
                    &m.explicit_bounds,
                    &m.attributes,
                    &(m.exemplars != "[]").then_some(&m.exemplars),
                    &m.quantiles_json(),
                ],
            )?;
        }
    }
    if !batch.agent_runs.is_empty() {
        let stmt = tx.prepare(&sql::upsert_run(Dialect::Postgres))?;
        for r in &batch.agent_runs {
            tx.execute(
                &stmt,
                &[
                    &r.correlation_id,
                    &r.agent_name,
                    &r.status,
                    &r.service_name,
                    &r.trace_id,
                    &ns(r.start_time_unix_nano),
                    &ns(r.end_time_unix_nano),
                    &r.quality_score,
                    &r.error,
                    &r.attributes,
                    &r.span_id,
                    &r.parent_span_id,
                    &r.session_id,
                    &r.user_id,
                ],
            )?;
        }
    }
    if !batch.agent_actions.is_empty() {
        let stmt = tx.prepare(&sql::insert_action(Dialect::Postgres))?;
        for a in &batch.agent_actions {
            tx.execute(
                &stmt,
                &[
                    &a.action_id,
                    &a.correlation_id,
                    &a.agent_name,
                    &a.action_type,
                    &a.name,
                    &a.is_error,
                    &ns(a.time_unix_nano),
                    &ns(a.duration_ns),
                    &a.attributes,
                ],
            )?;
        }
    }
    write_llm_calls(tx, &batch.llm_calls)?;
    if !batch.scores.is_empty() {
        // One statement per score: a batch may hold the same id twice (the last wins),
        // which one `ON CONFLICT DO UPDATE` statement refuses.
        let stmt = tx.prepare(&sql::upsert_score(Dialect::Postgres))?;
        for sc in &batch.scores {
            tx.execute(
                &stmt,
                &[
                    &sc.score_id,
                    &sc.target_kind,
                    &sc.target_id,
                    &sc.name,
                    &sc.data_type,
                    &sc.value,
                    &sc.string_value,
                    &sc.comment,
                    &sc.source,
                    &ns(sc.time_unix_nano),
                ],
            )?;
        }
    }
    write_rollups(tx, rollups)
}

/// LLM calls in one statement; a call already stored (a retried request) is kept.
fn write_llm_calls(tx: &mut Transaction<'_>, calls: &[LlmCallRow]) -> Result<(), StoreError> {
    if calls.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&LlmCallRow) -> &str| calls.iter().map(f).collect::<Vec<&str>>();
    let tokens = |f: fn(&LlmCallRow) -> Option<u64>| {
        calls
            .iter()
            .map(|r| f(r).map(ns))
            .collect::<Vec<Option<i64>>>()
    };
    let time = |f: fn(&LlmCallRow) -> u64| calls.iter().map(|r| ns(f(r))).collect::<Vec<i64>>();
    tx.execute(
        &format!(
            "INSERT INTO llm_calls ({LLM_CALL_COLUMNS})
             SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17,
                c18, c19, c20::jsonb, c21, c22, c23
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::int8[], $12::int8[],
                         $13::int8[], $14::int8[], $15::int8[], $16::float8[], $17::int8[],
                         $18::int8[], $19::int8[], $20::text[], $21::bool[], $22::text[],
                         $23::text[])
                  AS t(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16,
                       c17, c18, c19, c20, c21, c22, c23)
             ON CONFLICT (trace_id, span_id) DO NOTHING"
        ),
        &[
            &col(|r| &r.trace_id),
            &col(|r| &r.span_id),
            &col(|r| &r.parent_span_id),
            &col(|r| &r.correlation_id),
            &col(|r| &r.agent_name),
            &col(|r| &r.service_name),
            &col(|r| &r.operation),
            &col(|r| &r.provider),
            &col(|r| &r.request_model),
            &col(|r| &r.response_model),
            &tokens(|r| r.input_tokens),
            &tokens(|r| r.output_tokens),
            &tokens(|r| r.cache_read_tokens),
            &tokens(|r| r.cache_write_tokens),
            &tokens(|r| r.reasoning_tokens),
            &calls
                .iter()
                .map(|r| r.cost_usd)
                .collect::<Vec<Option<f64>>>(),
            &time(|r| r.start_time_unix_nano),
            &time(|r| r.duration_ns),
            &tokens(|r| r.time_to_first_token_ns),
            &col(|r| &r.finish_reasons),
            &calls.iter().map(|r| r.is_error).collect::<Vec<bool>>(),
            &col(|r| &r.session_id),
            &col(|r| &r.user_id),
        ],
    )?;
    Ok(())
}

fn write_rollups(tx: &mut Transaction<'_>, rollups: &Rollups) -> Result<(), StoreError> {
    // Keys come sorted, so concurrent writers lock rollup rows in the same order.
    if !rollups.spans.is_empty() {
        let stmt = tx.prepare(&format!(
            "INSERT INTO span_rollups ({SPAN_ROLLUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (resolution, bucket, service_name, operation) DO UPDATE SET
                span_count = span_rollups.span_count + excluded.span_count,
                error_count = span_rollups.error_count + excluded.error_count,
                duration_sum_ns = span_rollups.duration_sum_ns + excluded.duration_sum_ns,
                hist = hist_merge(span_rollups.hist, excluded.hist)"
        ))?;
        for (k, v) in &rollups.spans {
            let hist: Vec<i64> = v.hist.iter().map(|n| ns(*n)).collect();
            tx.execute(
                &stmt,
                &[
                    &i64::from(k.resolution),
                    &ns(k.bucket),
                    &k.service_name,
                    &k.operation,
                    &ns(v.count),
                    &ns(v.errors),
                    &ns(v.duration_sum_ns),
                    &hist,
                ],
            )?;
        }
    }
    if !rollups.metrics.is_empty() {
        let stmt = tx.prepare(&format!(
            "INSERT INTO metric_rollups ({METRIC_ROLLUP_COLUMNS}, buckets)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)
             ON CONFLICT (resolution, bucket, name, service_name) DO UPDATE SET
                count = metric_rollups.count + excluded.count, sum = metric_rollups.sum + excluded.sum,
                min = LEAST(metric_rollups.min, excluded.min), max = GREATEST(metric_rollups.max, excluded.max),
                buckets = automagik_bucket_merge(metric_rollups.buckets, excluded.buckets)"
        ))?;
        for (k, v) in &rollups.metrics {
            tx.execute(
                &stmt,
                &[
                    &i64::from(k.resolution),
                    &ns(k.bucket),
                    &k.name,
                    &k.service_name,
                    &ns(v.count),
                    &v.sum,
                    &v.min,
                    &v.max,
                    &buckets_to_text(&v.buckets),
                ],
            )?;
        }
    }
    if !rollups.agents.is_empty() {
        let stmt = tx.prepare(&format!(
            "INSERT INTO agent_rollups ({AGENT_ROLLUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (resolution, bucket, agent_name, action_type) DO UPDATE SET
                count = agent_rollups.count + excluded.count,
                error_count = agent_rollups.error_count + excluded.error_count"
        ))?;
        for (k, v) in &rollups.agents {
            tx.execute(
                &stmt,
                &[
                    &i64::from(k.resolution),
                    &ns(k.bucket),
                    &k.agent_name,
                    &k.action_type,
                    &ns(v.count),
                    &ns(v.errors),
                ],
            )?;
        }
    }
    if !rollups.genai.is_empty() {
        let stmt = tx.prepare(&sql::upsert_genai_rollup(Dialect::Postgres))?;
        for (k, v) in &rollups.genai {
            let hist: Vec<i64> = v.hist.iter().map(|n| ns(*n)).collect();
            tx.execute(
                &stmt,
                &[
                    &i64::from(k.resolution),
                    &ns(k.bucket),
                    &k.dimension,
                    &k.key,
                    &ns(v.calls),
                    &ns(v.errors),
                    &ns(v.input_tokens),
                    &ns(v.output_tokens),
                    &ns(v.cache_read_tokens),
                    &ns(v.cache_write_tokens),
                    &ns(v.reasoning_tokens),
                    &v.cost_usd,
                    &ns(v.unpriced_calls),
                    &ns(v.duration_sum_ns),
                    &hist,
                ],
            )?;
        }
    }
    Ok(())
}

impl StoreWrite for PostgresStore {
    fn insert(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let rollups = Rollups::of(&batch);
        let mut conn = self.pool.get()?;
        // Rollup upserts of concurrent batches can deadlock despite their order when
        // spans of the same keys arrive; PostgreSQL then aborts one, which is retried.
        let mut attempt = 0;
        loop {
            let mut tx = conn.transaction()?;
            let result = write(&mut tx, &batch, &rollups).and_then(|()| Ok(tx.commit()?));
            match result {
                Err(StoreError::Database(code)) if code.starts_with("40") && attempt < 5 => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl StoreRead for PostgresStore {
    sql::relational_reads!(Dialect::Postgres, r.try_get, hist(column): {
        let hist: Vec<i64> = r.try_get(column)?;
        hist.iter().map(|n| *n as u64).collect()
    });

    fn stats(&self) -> Result<Stats, StoreError> {
        let mut conn = self.pool.get()?;
        let row = conn.query_one(
            "SELECT (SELECT COUNT(*) FROM spans), (SELECT COUNT(*) FROM logs),
                    (SELECT COUNT(*) FROM metric_points),
                    (SELECT COUNT(*) FROM logs WHERE event_name IS NOT NULL),
                    (SELECT COUNT(*) FROM agent_actions),
                    (SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.relkind = 'r' AND n.nspname = current_schema()),
                    LEAST((SELECT MIN(start_time_unix_nano) FROM spans), (SELECT MIN(time_unix_nano) FROM logs),
                          (SELECT MIN(time_unix_nano) FROM metric_points)),
                    GREATEST((SELECT MAX(start_time_unix_nano) FROM spans), (SELECT MAX(time_unix_nano) FROM logs),
                          (SELECT MAX(time_unix_nano) FROM metric_points))",
            &[],
        )?;
        let n = |i: usize| row.try_get::<_, i64>(i).map(|v| v as u64);
        let t = |i: usize| {
            row.try_get::<_, Option<i64>>(i)
                .map(|v| v.map(|v| rfc3339(v as u64)))
        };
        Ok(Stats {
            spans: n(0)?,
            logs: n(1)?,
            metric_points: n(2)?,
            events: n(3)?,
            agent_actions: n(4)?,
            bytes_on_disk: row.try_get::<_, Option<i64>>(5)?.unwrap_or(0) as u64,
            oldest: t(6)?,
            newest: t(7)?,
        })
    }
}

impl Retention for PostgresStore {
    fn purge(&self, raw_before: u64, rollups_before: u64) -> Result<Purged, StoreError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        let mut purged = Purged::default();
        for (table, time) in RAW_TABLES {
            purged.raw += tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {time} < $1 LIMIT $2)"
                ),
                &[&ns(raw_before), &PURGE_CHUNK],
            )?;
        }
        for table in ROLLUP_TABLES {
            purged.rollups += tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE bucket < $1 LIMIT $2)"
                ),
                &[&ns(rollups_before), &PURGE_CHUNK],
            )?;
        }
        for (table, time) in KEPT_WITH_ROLLUPS {
            purged.rollups += tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {time} < $1 LIMIT $2)"
                ),
                &[&ns(rollups_before), &PURGE_CHUNK],
            )?;
        }
        tx.commit()?;
        Ok(purged)
    }
}

impl SnapshotChain for PostgresStore {
    sql::relational_chain_reads!(Dialect::Postgres, r.try_get);

    fn with_chain_locked(&self, append: ChainAppend) -> Result<Link, StoreError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        // Appends wait for each other: the next link needs the last one.
        tx.execute("LOCK TABLE fleet_snapshots IN EXCLUSIVE MODE", &[])?;
        let link = append(&mut Chain(&mut tx))?;
        tx.commit()?;
        Ok(link)
    }
}

/// The chain as an append's transaction (holding the table lock) sees it.
struct Chain<'a, 'c>(&'a mut Transaction<'c>);

impl ChainTx for Chain<'_, '_> {
    fn last_link(&mut self) -> Result<Option<Link>, StoreError> {
        let l = sql::last_snapshot(Dialect::Postgres);
        Ok(self
            .0
            .query_opt(l.sql.as_str(), &[])?
            .map(|row| -> Result<Link, postgres::Error> { Ok(sql::read_link!(row.try_get)) })
            .transpose()?)
    }

    fn insert_link(&mut self, link: &Link, collected_at_unix_nano: u64) -> Result<(), StoreError> {
        self.0.execute(
            sql::insert_snapshot(Dialect::Postgres).as_str(),
            &[
                &ns(link.seq),
                &link.snapshot_id,
                &ns(collected_at_unix_nano),
                &link.body,
                &link.prev_hash,
                &link.hash,
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::going_away;

    #[test]
    fn a_server_going_away_is_told_from_a_statement_it_refused() {
        for code in ["08000", "08006", "57P01", "57P02", "57P03"] {
            assert!(going_away(code), "{code}");
        }
        for code in ["23505", "22P02", "40001", "40P01", "57014", "42P01"] {
            assert!(!going_away(code), "{code}");
        }
    }
}
