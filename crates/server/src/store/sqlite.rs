//! The embedded SQLite store (the default): one file in the data directory, WAL mode,
//! `synchronous=FULL`, numbered migrations applied at start. One writer thread commits
//! every waiting batch in one transaction (group commit) and answers each caller only
//! after the commit; readers use their own connections in parallel. A damaged database
//! or write-ahead log is refused at open, before SQLite replays anything
//! (`sqlite/integrity.rs`).

mod integrity;

use super::sql::{
    self, AGENT_ROLLUP_COLUMNS, Dialect, KEPT_WITH_ROLLUPS, LLM_CALL_COLUMNS, Listing,
    METRIC_ROLLUP_COLUMNS, Param, RAW_TABLES, ROLLUP_TABLES, SPAN_ROLLUP_COLUMNS,
    TIME_BUCKET_SHIFT, ns, read_action, read_agent_rollup, read_llm_call, read_log,
    read_metric_point, read_metric_rollup, read_run, read_score, read_span, read_span_rollup,
};
use super::{
    ChainAppend, ChainTx, Link, LlmCallQuery, LogQuery, MetricInfo, Page, Purged, Retention,
    RollupQuery, RunQuery, ScoreQuery, SnapshotChain, Stats, StoreError, StoreRead, StoreWrite,
    StoredLog, StoredRun, TraceQuery, TraceSummary, rfc3339,
};
use crate::rollup::{
    AgentAgg, AgentKey, MetricAgg, MetricKey, Rollups, SpanAgg, SpanKey, buckets_from_text,
    buckets_to_text, hist_from_bytes, hist_to_bytes, merge_buckets, merge_hist,
};
use crate::rows::{AgentActionRow, Batch, LlmCallRow, MetricPointRow, ScoreRow, SpanRow};
use rusqlite::config::DbConfig;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql, params};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_agents_rollups.sql"),
    include_str!("../../migrations/sqlite/0003_fleet_snapshots.sql"),
    include_str!("../../migrations/sqlite/0004_metric_exemplars_and_buckets.sql"),
    OTLP_FIELDS,
    include_str!("../../migrations/sqlite/0006_metric_summaries.sql"),
    GENAI,
    include_str!("../../migrations/sqlite/0008_genai_rollups.sql"),
    include_str!("../../migrations/sqlite/0009_span_rows.sql"),
    include_str!("../../migrations/sqlite/0010_time_buckets.sql"),
];
/// The migration that keeps the OTLP fields of spans and logs (links, trace state, flags,
/// scopes, dropped counts, observed times, body types).
const OTLP_FIELDS: &str = include_str!("../../migrations/sqlite/0005_otlp_fields.sql");
/// The migration that places runs in their trace and session and adds the LLM call and
/// score tables.
const GENAI: &str = include_str!("../../migrations/sqlite/0007_genai.sql");
/// Database file name inside the data directory.
pub const DB_FILE: &str = "telemetry.sqlite3";
/// Batches waiting for the writer before callers are told to retry, by default.
pub const DEFAULT_WRITE_QUEUE: usize = 256;
/// Rows one retention step deletes per table, so writes interleave with a large purge.
const PURGE_CHUNK: i64 = 10_000;
/// Tables whose start time is indexed by bucket ([`TIME_BUCKET_SHIFT`], migration 0010).
const BUCKETED_TABLES: [&str; 2] = ["span_rows", "llm_calls"];

enum Job {
    Insert {
        batch: Box<Batch>,
        rollups: Rollups,
        done: SyncSender<Result<(), StoreError>>,
    },
    Purge {
        raw_before: u64,
        rollups_before: u64,
        done: SyncSender<Result<Purged, StoreError>>,
    },
    /// A chain append, run on this thread: the only connection that writes.
    Snapshot {
        append: ChainAppend,
        done: SyncSender<Result<Link, StoreError>>,
    },
}

/// See the module docs.
pub struct SqliteStore {
    path: PathBuf,
    writer: SyncSender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// `hist_merge(a, b)`: the bucket-wise sum of two histogram blobs.
fn register_hist_merge(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "hist_merge",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let mut a = hist_from_bytes(ctx.get_raw(0).as_blob().unwrap_or_default());
            let b = hist_from_bytes(ctx.get_raw(1).as_blob().unwrap_or_default());
            merge_hist(&mut a, &b);
            Ok(hist_to_bytes(&a))
        },
    )
}

/// `bucket_merge(a, b)`: the bucket-wise sum of two rollup bucket objects (JSON text,
/// NULL for none).
fn register_bucket_merge(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "bucket_merge",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let mut a = buckets_from_text(ctx.get_raw(0).as_str_or_null().unwrap_or_default());
            let b = buckets_from_text(ctx.get_raw(1).as_str_or_null().unwrap_or_default());
            merge_buckets(&mut a, &b);
            Ok(buckets_to_text(&a))
        },
    )
}

/// Pages of write-ahead log (4 KiB each: 256 MiB) after which a commit checkpoints it.
/// Measured on realistic traffic (docs/PERFORMANCE.md): 29k spans/s stored with the
/// default of 1,000 pages, 44k with this, as fast as with no checkpoint at all.
const WAL_CHECKPOINT_PAGES: i64 = 65_536;

fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // A damaged database is left as it was found: no checkpoint when this connection
    // closes after the check refused it.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    integrity::quick_check(&conn, path)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // 64 MiB of page cache: index pages of a large store stay in memory between batches.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Checkpoint in large steps: a commit copies the write-ahead log into the database
    // once the log holds WAL_CHECKPOINT_PAGES pages, not SQLite's default of 1,000. An
    // index page that many commits change (a trace id's, a time bucket's) is then
    // written to the database once per checkpoint instead of once every few commits.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
    // And the log file is cut back to that size when it restarts, should a long read
    // have let it grow past it.
    conn.pragma_update(None, "journal_size_limit", WAL_CHECKPOINT_PAGES * 4096)?;
    register_hist_merge(&conn)?;
    register_bucket_merge(&conn)?;
    let applied: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(conn)
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(v) => ToSqlOutput::Owned(Value::Integer(*v)),
            Param::Int4(v) => ToSqlOutput::Owned(Value::Integer(i64::from(*v))),
            Param::Text(v) => ToSqlOutput::Borrowed(v.as_str().into()),
        })
    }
}

impl SqliteStore {
    /// Opens (creating) the database in `data_dir` and starts the writer thread. A
    /// damaged database file or write-ahead log is refused with
    /// [`StoreError::Damaged`], naming the file and how to recover, before SQLite
    /// replays or changes anything; `PRAGMA quick_check` runs on every open.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_queue(data_dir, DEFAULT_WRITE_QUEUE)
    }

    /// As [`SqliteStore::open`], with at most `write_queue` batches waiting for the
    /// writer; beyond that, inserts fail with [`StoreError::Overloaded`] at once.
    pub fn open_with_queue(data_dir: &Path, write_queue: usize) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        integrity::check_files(&path)?;
        let conn = open_writer(&path)?;
        let (tx, rx) = sync_channel(write_queue.max(1));
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|source| StoreError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(SqliteStore {
            path,
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs a statement and reads every row.
    fn rows<T>(
        &self,
        l: Listing,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&l.sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(l.args.iter()), map)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    /// Sends a job to the writer and waits for its answer.
    fn submit<T>(
        &self,
        job: impl FnOnce(SyncSender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (done, wait) = sync_channel(1);
        match self.writer.try_send(job(done)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Unavailable),
        }
        wait.recv().map_err(|_| StoreError::Unavailable)?
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c
            }
        };
        let result = f(&conn);
        if let Ok(mut r) = self.readers.lock()
            && r.len() < 8
        {
            r.push(conn);
        }
        Ok(result?)
    }
}

fn writer_loop(mut conn: Connection, rx: Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < 64 {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut inserts = Vec::with_capacity(jobs.len());
        for job in jobs {
            match job {
                Job::Insert {
                    batch,
                    rollups,
                    done,
                } => inserts.push((batch, rollups, done)),
                Job::Purge {
                    raw_before,
                    rollups_before,
                    done,
                } => {
                    let _ = done.send(purge(&mut conn, raw_before, rollups_before));
                }
                Job::Snapshot { append, done } => {
                    let _ = done.send(with_chain(&mut conn, append));
                }
            }
        }
        if inserts.is_empty() {
            continue;
        }
        let all: Vec<(&Batch, &Rollups)> = inserts.iter().map(|(b, r, _)| (&**b, r)).collect();
        match write(&mut conn, &all) {
            Ok(()) => {
                for (_, _, done) in inserts {
                    let _ = done.send(Ok(()));
                }
            }
            // One bad batch must not fail its neighbours: retry each on its own.
            Err(_) if inserts.len() > 1 => {
                for (batch, rollups, done) in &inserts {
                    let _ = done.send(write(&mut conn, &[(batch, rollups)]));
                }
            }
            Err(e) => {
                for (_, _, done) in inserts {
                    let _ = done.send(Err(StoreError::Database(e.to_string())));
                }
            }
        }
    }
}

/// Runs a chain append in one transaction of the writer, the only connection that
/// writes, so appends never interleave.
fn with_chain(conn: &mut Connection, append: ChainAppend) -> Result<Link, StoreError> {
    let tx = conn.transaction()?;
    let link = append(&mut Chain(&tx))?;
    tx.commit()?;
    Ok(link)
}

/// The chain as the writer's transaction sees it.
struct Chain<'a>(&'a Connection);

impl ChainTx for Chain<'_> {
    fn last_link(&mut self) -> Result<Option<Link>, StoreError> {
        let l = sql::last_snapshot(Dialect::Sqlite);
        let mut stmt = self.0.prepare_cached(&l.sql)?;
        Ok(stmt
            .query_row([], |row| Ok(sql::read_link!(row.get)))
            .optional()?)
    }

    fn insert_link(&mut self, link: &Link, collected_at_unix_nano: u64) -> Result<(), StoreError> {
        self.0.execute(
            &sql::insert_snapshot(Dialect::Sqlite),
            params![
                ns(link.seq),
                link.snapshot_id,
                ns(collected_at_unix_nano),
                link.body,
                link.prev_hash,
                link.hash
            ],
        )?;
        Ok(())
    }
}

fn purge(
    conn: &mut Connection,
    raw_before: u64,
    rollups_before: u64,
) -> Result<Purged, StoreError> {
    let tx = conn.transaction()?;
    let mut purged = Purged::default();
    for (table, time) in RAW_TABLES {
        // `spans` is a view of `span_rows` (see its migration).
        let table = if table == "spans" { "span_rows" } else { table };
        let key = if table == "agent_actions" {
            "action_id"
        } else {
            "rowid"
        };
        // A time indexed by bucket is found through its buckets (migration 0010).
        let before = ns(raw_before);
        let (buckets, last_bucket) = if BUCKETED_TABLES.contains(&table) {
            let b = format!(" AND ({time} >> {TIME_BUCKET_SHIFT}) <= ?3");
            (b, Some(sql::time_bucket(before)))
        } else {
            (String::new(), None)
        };
        let statement = format!(
            "DELETE FROM {table} WHERE ({key}) IN \
             (SELECT {key} FROM {table} WHERE {time} < ?1{buckets} LIMIT ?2)"
        );
        purged.raw += match last_bucket {
            Some(b) => tx.execute(&statement, params![before, PURGE_CHUNK, b])?,
            None => tx.execute(&statement, params![before, PURGE_CHUNK])?,
        } as u64;
    }
    // Resources no span names any more (not counted: they are not records).
    tx.execute(
        "DELETE FROM resources WHERE id IN (SELECT id FROM resources r
            WHERE NOT EXISTS (SELECT 1 FROM span_rows s WHERE s.resource_id = r.id) LIMIT ?1)",
        params![PURGE_CHUNK],
    )?;
    for table in ROLLUP_TABLES {
        purged.rollups += tx.execute(
            &format!("DELETE FROM {table} WHERE (resolution, bucket) IN (SELECT resolution, bucket FROM {table} WHERE bucket < ?1 LIMIT ?2)"),
            params![ns(rollups_before), PURGE_CHUNK],
        )? as u64;
    }
    for (table, time) in KEPT_WITH_ROLLUPS {
        purged.rollups += tx.execute(
            &format!("DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {time} < ?1 LIMIT ?2)"),
            params![ns(rollups_before), PURGE_CHUNK],
        )? as u64;
    }
    tx.commit()?;
    Ok(purged)
}

/// The ids of the resources one write names (`resources`: each distinct resource once),
/// found or added as the write goes; known only to its transaction, so a write that rolls
/// back leaves nothing behind.
struct Resources<'t> {
    find: rusqlite::CachedStatement<'t>,
    add: rusqlite::CachedStatement<'t>,
    known: std::collections::HashMap<String, i64>,
}

impl<'t> Resources<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>) -> rusqlite::Result<Self> {
        Ok(Resources {
            find: tx.prepare_cached("SELECT id FROM resources WHERE body = ?1")?,
            add: tx.prepare_cached("INSERT INTO resources (body) VALUES (?1) RETURNING id")?,
            known: std::collections::HashMap::new(),
        })
    }

    fn id(&mut self, body: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.known.get(body) {
            return Ok(*id);
        }
        let id = match self
            .find
            .query_row([body], |r| r.get::<_, i64>(0))
            .optional()?
        {
            Some(id) => id,
            None => self.add.query_row([body], |r| r.get::<_, i64>(0))?,
        };
        self.known.insert(body.to_owned(), id);
        Ok(id)
    }
}

fn write(conn: &mut Connection, batches: &[(&Batch, &Rollups)]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut span_stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO span_rows (trace_id, span_id, parent_span_id, name, service_name, kind,
                start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes, events, resource_id,
                trace_state, flags, scope_name, scope_version, dropped_attributes_count, dropped_events_count,
                dropped_links_count, links)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                ?20, ?21)",
        )?;
        let mut log_stmt = tx.prepare_cached(
            "INSERT INTO logs (time_unix_nano, service_name, severity_number, severity_text, body, event_name,
                trace_id, span_id, attributes, resource, observed_time_unix_nano, body_type, flags, scope_name,
                scope_version, dropped_attributes_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        let mut metric_stmt = tx.prepare_cached(
            "INSERT INTO metric_points (name, service_name, kind, start_time_unix_nano, time_unix_nano, value,
                count, sum, min, max, bucket_counts, explicit_bounds, attributes, exemplars, quantiles)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        let mut run_stmt = tx.prepare_cached(&sql::upsert_run(Dialect::Sqlite))?;
        let mut action_stmt = tx.prepare_cached(&sql::insert_action(Dialect::Sqlite))?;
        // A retried request stores each call once, as it does each span.
        let mut llm_call_stmt = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO llm_calls ({LLM_CALL_COLUMNS}) {}",
            Dialect::Sqlite.values(23, &[])
        ))?;
        let mut score_stmt = tx.prepare_cached(&sql::upsert_score(Dialect::Sqlite))?;
        let mut span_rollup = tx.prepare_cached(&format!(
            "INSERT INTO span_rollups ({SPAN_ROLLUP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (resolution, bucket, service_name, operation) DO UPDATE SET
                span_count = span_count + excluded.span_count,
                error_count = error_count + excluded.error_count,
                duration_sum_ns = duration_sum_ns + excluded.duration_sum_ns,
                hist = hist_merge(hist, excluded.hist)"
        ))?;
        let mut metric_rollup = tx.prepare_cached(&format!(
            "INSERT INTO metric_rollups ({METRIC_ROLLUP_COLUMNS}, buckets)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (resolution, bucket, name, service_name) DO UPDATE SET
                count = count + excluded.count, sum = sum + excluded.sum,
                min = MIN(min, excluded.min), max = MAX(max, excluded.max),
                buckets = bucket_merge(buckets, excluded.buckets)"
        ))?;
        let mut agent_rollup = tx.prepare_cached(&format!(
            "INSERT INTO agent_rollups ({AGENT_ROLLUP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (resolution, bucket, agent_name, action_type) DO UPDATE SET
                count = count + excluded.count, error_count = error_count + excluded.error_count"
        ))?;
        let mut genai_rollup = tx.prepare_cached(&sql::upsert_genai_rollup(Dialect::Sqlite))?;
        let mut resources = Resources::new(&tx)?;
        for (batch, rollups) in batches {
            for s in &batch.spans {
                let resource_id = resources.id(&s.resource)?;
                span_stmt.execute(params![
                    s.trace_id,
                    s.span_id,
                    s.parent_span_id,
                    s.name,
                    s.service_name,
                    s.kind,
                    ns(s.start_time_unix_nano),
                    ns(s.end_time_unix_nano),
                    s.status_code,
                    s.status_message,
                    s.attributes,
                    s.events,
                    resource_id,
                    s.trace_state,
                    i64::from(s.flags),
                    s.scope_name,
                    s.scope_version,
                    i64::from(s.dropped_attributes_count),
                    i64::from(s.dropped_events_count),
                    i64::from(s.dropped_links_count),
                    s.links,
                ])?;
            }
            for l in &batch.logs {
                log_stmt.execute(params![
                    ns(l.time_unix_nano),
                    l.service_name,
                    l.severity_number,
                    l.severity_text,
                    l.body,
                    l.event_name,
                    l.trace_id,
                    l.span_id,
                    l.attributes,
                    l.resource,
                    ns(l.observed_time_unix_nano),
                    l.body_type.as_str(),
                    i64::from(l.flags),
                    l.scope_name,
                    l.scope_version,
                    i64::from(l.dropped_attributes_count),
                ])?;
            }
            for m in &batch.metric_points {
                metric_stmt.execute(params![
                    m.name,
                    m.service_name,
                    m.kind,
                    ns(m.start_time_unix_nano),
                    ns(m.time_unix_nano),
                    m.value,
                    m.count.map(|c| c as i64),
                    m.sum,
                    m.min,
                    m.max,
                    m.bucket_counts
                        .as_ref()
                        .map(|b| serde_json::to_string(b).unwrap_or_default()),
                    m.explicit_bounds
                        .as_ref()
                        .map(|b| serde_json::to_string(b).unwrap_or_default()),
                    m.attributes,
                    (m.exemplars != "[]").then_some(&m.exemplars),
                    m.quantiles_json(),
                ])?;
            }
            for r in &batch.agent_runs {
                run_stmt.execute(params![
                    r.correlation_id,
                    r.agent_name,
                    r.status,
                    r.service_name,
                    r.trace_id,
                    ns(r.start_time_unix_nano),
                    ns(r.end_time_unix_nano),
                    r.quality_score,
                    r.error,
                    r.attributes,
                    r.span_id,
                    r.parent_span_id,
                    r.session_id,
                    r.user_id,
                ])?;
            }
            for a in &batch.agent_actions {
                action_stmt.execute(params![
                    a.action_id,
                    a.correlation_id,
                    a.agent_name,
                    a.action_type,
                    a.name,
                    a.is_error,
                    ns(a.time_unix_nano),
                    ns(a.duration_ns),
                    a.attributes,
                ])?;
            }
            for c in &batch.llm_calls {
                llm_call_stmt.execute(params![
                    c.trace_id,
                    c.span_id,
                    c.parent_span_id,
                    c.correlation_id,
                    c.agent_name,
                    c.service_name,
                    c.operation,
                    c.provider,
                    c.request_model,
                    c.response_model,
                    c.input_tokens.map(ns),
                    c.output_tokens.map(ns),
                    c.cache_read_tokens.map(ns),
                    c.cache_write_tokens.map(ns),
                    c.reasoning_tokens.map(ns),
                    c.cost_usd,
                    ns(c.start_time_unix_nano),
                    ns(c.duration_ns),
                    c.time_to_first_token_ns.map(ns),
                    c.finish_reasons,
                    c.is_error,
                    c.session_id,
                    c.user_id,
                ])?;
            }
            for sc in &batch.scores {
                score_stmt.execute(params![
                    sc.score_id,
                    sc.target_kind,
                    sc.target_id,
                    sc.name,
                    sc.data_type,
                    sc.value,
                    sc.string_value,
                    sc.comment,
                    sc.source,
                    ns(sc.time_unix_nano),
                ])?;
            }
            for (k, v) in &rollups.spans {
                span_rollup.execute(params![
                    k.resolution,
                    ns(k.bucket),
                    k.service_name,
                    k.operation,
                    ns(v.count),
                    ns(v.errors),
                    ns(v.duration_sum_ns),
                    hist_to_bytes(&v.hist),
                ])?;
            }
            for (k, v) in &rollups.metrics {
                metric_rollup.execute(params![
                    k.resolution,
                    ns(k.bucket),
                    k.name,
                    k.service_name,
                    ns(v.count),
                    v.sum,
                    v.min,
                    v.max,
                    buckets_to_text(&v.buckets),
                ])?;
            }
            for (k, v) in &rollups.agents {
                agent_rollup.execute(params![
                    k.resolution,
                    ns(k.bucket),
                    k.agent_name,
                    k.action_type,
                    ns(v.count),
                    ns(v.errors),
                ])?;
            }
            for (k, v) in &rollups.genai {
                genai_rollup.execute(params![
                    k.resolution,
                    ns(k.bucket),
                    k.dimension,
                    k.key,
                    ns(v.calls),
                    ns(v.errors),
                    ns(v.input_tokens),
                    ns(v.output_tokens),
                    ns(v.cache_read_tokens),
                    ns(v.cache_write_tokens),
                    ns(v.reasoning_tokens),
                    v.cost_usd,
                    ns(v.unpriced_calls),
                    ns(v.duration_sum_ns),
                    hist_to_bytes(&v.hist),
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

impl StoreWrite for SqliteStore {
    fn insert(&self, mut batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // The rows are what is written here: the request need not wait in the queue.
        batch.request = None;
        let rollups = Rollups::of(&batch);
        self.submit(|done| Job::Insert {
            batch: Box::new(batch),
            rollups,
            done,
        })
    }
}

impl StoreRead for SqliteStore {
    sql::relational_reads!(Dialect::Sqlite, r.get, hist(column): {
        let hist: Vec<u8> = r.get(column)?;
        hist_from_bytes(&hist)
    });

    fn stats(&self) -> Result<Stats, StoreError> {
        let mut stats = self.with_reader(|c| {
            let count = |sql: &str| {
                c.query_row(sql, [], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
            };
            let bound = |sql: &str| {
                c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                    .optional()
                    .map(|v| v.flatten().map(|n| n as u64))
            };
            // The first and last bucket through the index, then the time within it.
            let span_bound = |f: &str| {
                let bucket = format!("(start_time_unix_nano >> {TIME_BUCKET_SHIFT})");
                bound(&format!(
                    "SELECT {f}(start_time_unix_nano) FROM span_rows
                     WHERE {bucket} = (SELECT {f}({bucket}) FROM span_rows)"
                ))
            };
            let oldest = [
                span_bound("MIN")?,
                bound("SELECT MIN(time_unix_nano) FROM logs")?,
                bound("SELECT MIN(time_unix_nano) FROM metric_points")?,
            ];
            let newest = [
                span_bound("MAX")?,
                bound("SELECT MAX(time_unix_nano) FROM logs")?,
                bound("SELECT MAX(time_unix_nano) FROM metric_points")?,
            ];
            Ok(Stats {
                spans: count("SELECT COUNT(*) FROM spans")?,
                logs: count("SELECT COUNT(*) FROM logs")?,
                metric_points: count("SELECT COUNT(*) FROM metric_points")?,
                events: count("SELECT COUNT(*) FROM logs WHERE event_name IS NOT NULL")?,
                agent_actions: count("SELECT COUNT(*) FROM agent_actions")?,
                bytes_on_disk: 0,
                oldest: oldest.iter().flatten().min().map(|n| rfc3339(*n)),
                newest: newest.iter().flatten().max().map(|n| rfc3339(*n)),
            })
        })?;
        stats.bytes_on_disk = ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", self.path.display())).ok())
            .map(|m| m.len())
            .sum();
        Ok(stats)
    }
}

impl Retention for SqliteStore {
    fn purge(&self, raw_before: u64, rollups_before: u64) -> Result<Purged, StoreError> {
        self.submit(|done| Job::Purge {
            raw_before,
            rollups_before,
            done,
        })
    }
}

impl SnapshotChain for SqliteStore {
    sql::relational_chain_reads!(Dialect::Sqlite, r.get);

    fn with_chain_locked(&self, append: ChainAppend) -> Result<Link, StoreError> {
        self.submit(|done| Job::Snapshot { append, done })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_writer_checkpoints_in_large_steps_and_cuts_the_log_back() {
        let dir = tempfile::tempdir().expect("dir");
        let conn = super::open_writer(&dir.path().join(super::DB_FILE)).expect("open");
        let pages: i64 = conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .expect("pragma");
        let limit: i64 = conn
            .pragma_query_value(None, "journal_size_limit", |r| r.get(0))
            .expect("pragma");
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .expect("pragma");
        assert_eq!(pages, super::WAL_CHECKPOINT_PAGES);
        assert_eq!(
            limit,
            pages * page_size,
            "the log is cut back to what a checkpoint spans"
        );
    }

    use super::*;
    use crate::rows::BodyType;

    /// A database written before the OTLP fields were kept opens (the migration adds
    /// them), and its rows read as the defaults: no links, zero counts, string bodies
    /// (a body stored as JSON text stays that text).
    #[test]
    fn rows_stored_before_the_otlp_fields_read_with_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
            let before = MIGRATIONS
                .iter()
                .position(|m| *m == OTLP_FIELDS)
                .expect("the migration is listed");
            for (i, sql) in MIGRATIONS[..before].iter().enumerate() {
                conn.execute_batch(sql).expect("an earlier migration");
                conn.pragma_update(None, "user_version", (i + 1) as i64)
                    .expect("version");
            }
            conn.execute(
                "INSERT INTO spans (trace_id, span_id, parent_span_id, name, service_name, kind,
                    start_time_unix_nano, end_time_unix_nano, status_code, status_message,
                    attributes, events, resource)
                 VALUES (?1, ?2, '', 'old', 'api', 2, 10, 20, 0, '', '{}',
                    '[{\"name\":\"e\",\"time_unix_nano\":\"15\",\"attributes\":{}}]', '{}')",
                params!["ab".repeat(16), "cd".repeat(8)],
            )
            .expect("an old span");
            conn.execute(
                "INSERT INTO logs (time_unix_nano, service_name, severity_number, severity_text,
                    body, attributes, resource)
                 VALUES (30, 'api', 9, 'INFO', '{\"a\":1}', '{}', '{}')",
                [],
            )
            .expect("an old log record");
        }
        let store = SqliteStore::open(dir.path()).expect("open and migrate");
        let spans = store.trace(&"ab".repeat(16)).expect("trace");
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.links, "[]");
        assert_eq!((s.trace_state.as_str(), s.flags), ("", 0));
        assert_eq!(
            (
                s.dropped_attributes_count,
                s.dropped_events_count,
                s.dropped_links_count
            ),
            (0, 0, 0)
        );
        let logs = store
            .logs(&LogQuery {
                limit: 10,
                ..Default::default()
            })
            .expect("logs");
        let row = &logs.items[0].row;
        assert_eq!(row.body_type, BodyType::String);
        assert_eq!(row.body_value(), serde_json::json!("{\"a\":1}"));
        assert_eq!(row.observed_time_unix_nano, 0);
        // New rows are written next to the old ones.
        let batch = Batch {
            spans: vec![SpanRow {
                trace_id: "ef".repeat(16),
                span_id: "cd".repeat(8),
                links: r#"[{"trace_id":"x"}]"#.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        store.insert(batch).expect("insert");
        assert_eq!(
            store.trace(&"ef".repeat(16)).expect("trace")[0].links,
            r#"[{"trace_id":"x"}]"#
        );
    }

    /// A run stored before runs were placed in their trace and session reads with no
    /// span, session or user, and is found by its trace.
    #[test]
    fn runs_stored_before_the_genai_migration_read_with_an_empty_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let trace = "ab".repeat(16);
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
            let before = MIGRATIONS
                .iter()
                .position(|m| *m == GENAI)
                .expect("the migration is listed");
            for (i, sql) in MIGRATIONS[..before].iter().enumerate() {
                conn.execute_batch(sql).expect("an earlier migration");
                conn.pragma_update(None, "user_version", (i + 1) as i64)
                    .expect("version");
            }
            conn.execute(
                "INSERT INTO agent_runs (correlation_id, agent_name, status, service_name, trace_id,
                    start_time_unix_nano, end_time_unix_nano, attributes)
                 VALUES ('run-old', 'planner', 'completed', 'agents', ?1, 10, 20, '{}')",
                params![trace],
            )
            .expect("an old run");
        }
        let store = SqliteStore::open(dir.path()).expect("open and migrate");
        let run = store.run("run-old").expect("run").expect("found");
        let r = &run.row;
        assert_eq!(
            (
                r.span_id.as_str(),
                r.parent_span_id.as_str(),
                r.session_id.as_str(),
                r.user_id.as_str()
            ),
            ("", "", "", "")
        );
        assert_eq!(
            (r.trace_id.as_str(), r.end_time_unix_nano),
            (trace.as_str(), 20)
        );
        let of_trace = store
            .runs(&RunQuery {
                trace_id: Some(trace.clone()),
                limit: 10,
                ..Default::default()
            })
            .expect("runs");
        assert_eq!(of_trace.items.len(), 1);
        assert!(
            store
                .llm_calls(&LlmCallQuery {
                    trace_ids: vec![trace],
                    limit: 10,
                    ..Default::default()
                })
                .expect("the new table")
                .is_empty()
        );
    }

    /// Each distinct resource is stored once, a retried batch stores each span once, and
    /// retention deletes the resources no span names any more.
    #[test]
    fn resources_are_stored_once_and_go_with_their_last_span() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let span = |trace: &str, span: &str, at: u64, resource: &str| SpanRow {
            trace_id: trace.repeat(16),
            span_id: span.repeat(8),
            start_time_unix_nano: at,
            end_time_unix_nano: at + 1,
            resource: resource.into(),
            ..Default::default()
        };
        let old = r#"{"service.name":"old"}"#;
        let kept = r#"{"service.name":"kept"}"#;
        let batch = Batch {
            spans: vec![
                span("a1", "01", 1_000, old),
                span("a1", "02", 1_000, old),
                span("b2", "01", 5_000, kept),
                span("b2", "02", 5_000, old),
            ],
            ..Default::default()
        };
        store.insert(batch.clone()).expect("insert");
        store.insert(batch).expect("the same batch again");
        let count = |sql: &str| -> i64 {
            let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
            conn.query_row(sql, [], |r| r.get(0)).expect("count")
        };
        assert_eq!(count("SELECT COUNT(*) FROM span_rows"), 4);
        assert_eq!(count("SELECT COUNT(*) FROM resources"), 2);
        let trace = store.trace(&"b2".repeat(16)).expect("trace");
        let resources: Vec<&str> = trace.iter().map(|s| s.resource.as_str()).collect();
        assert_eq!(resources, [kept, old]);

        // Before 4,000 ns: trace a1 goes; `old` is still named by a span of b2.
        store.purge(4_000, 0).expect("purge");
        assert_eq!(count("SELECT COUNT(*) FROM span_rows"), 2);
        assert_eq!(count("SELECT COUNT(*) FROM resources"), 2);
        store.purge(10_000, 0).expect("purge");
        assert_eq!(count("SELECT COUNT(*) FROM span_rows"), 0);
        assert_eq!(count("SELECT COUNT(*) FROM resources"), 0);
        // A resource deleted by retention is added again when a span names it.
        let batch = Batch {
            spans: vec![span("c3", "01", 20_000, old)],
            ..Default::default()
        };
        store.insert(batch).expect("insert");
        assert_eq!(
            store.trace(&"c3".repeat(16)).expect("trace")[0].resource,
            old
        );
    }

    /// Spans and LLM calls whose times fall out of order over several index buckets
    /// list newest first exactly as by time: every page of the trace listing followed
    /// through its cursors, with and without a service and a time range, ties on the
    /// same time included; the store's bounds and retention find them through the
    /// buckets.
    #[test]
    fn disordered_times_list_in_time_order_across_buckets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let bucket = 1u64 << TIME_BUCKET_SHIFT;
        let base = 1_000 * bucket;
        // 60 traces over about 5 buckets, in a scrambled order, every fifth time twice.
        let mut roots = Vec::new();
        let mut batch = Batch::default();
        for n in 0..60u64 {
            let k = (n * 37) % 60;
            let at = base + (k / 2) * (bucket / 6) + k % 2;
            let at = if n % 5 == 0 {
                base + 7 * (bucket / 6)
            } else {
                at
            };
            let trace = format!("{n:032x}");
            let service = ["api", "worker", "web"][(n % 3) as usize].to_string();
            for (span, parent) in [("01", ""), ("02", "01")] {
                batch.spans.push(SpanRow {
                    trace_id: trace.clone(),
                    span_id: span.repeat(8),
                    parent_span_id: parent.repeat(8),
                    service_name: service.clone(),
                    start_time_unix_nano: at,
                    end_time_unix_nano: at + 10,
                    ..Default::default()
                });
            }
            batch.llm_calls.push(LlmCallRow {
                trace_id: trace.clone(),
                span_id: "02".repeat(8),
                session_id: "s".into(),
                start_time_unix_nano: at,
                finish_reasons: "[]".into(),
                ..Default::default()
            });
            roots.push((at, trace, service));
        }
        store.insert(batch).expect("insert");
        roots.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));

        let listed = |q: TraceQuery| {
            let mut got = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .traces(&TraceQuery {
                        cursor,
                        limit: 7,
                        ..q.clone()
                    })
                    .expect("traces");
                got.extend(
                    page.items
                        .iter()
                        .map(|t| (t.root.start_time_unix_nano, t.root.trace_id.clone())),
                );
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break got,
                }
            }
        };
        let want = |keep: &dyn Fn(&(u64, String, String)) -> bool| -> Vec<(u64, String)> {
            roots
                .iter()
                .filter(|r| keep(r))
                .map(|r| (r.0, r.1.clone()))
                .collect()
        };
        assert_eq!(listed(TraceQuery::default()), want(&|_| true));
        assert_eq!(
            listed(TraceQuery {
                service: Some("worker".into()),
                ..Default::default()
            }),
            want(&|r| r.2 == "worker")
        );
        let (from, to) = (base + bucket / 2, base + 3 * bucket + 5);
        assert_eq!(
            listed(TraceQuery {
                from: Some(from),
                to: Some(to),
                ..Default::default()
            }),
            want(&|r| (from..=to).contains(&r.0))
        );
        let calls = store
            .llm_calls(&LlmCallQuery {
                session_id: Some("s".into()),
                from: Some(from),
                to: Some(to),
                limit: 100,
                ..Default::default()
            })
            .expect("calls");
        let got: Vec<(u64, String)> = calls
            .iter()
            .map(|c| (c.start_time_unix_nano, c.trace_id.clone()))
            .collect();
        assert_eq!(got, want(&|r| (from..=to).contains(&r.0)));

        let stats = store.stats().expect("stats");
        assert_eq!(stats.oldest, Some(rfc3339(roots.last().expect("roots").0)));
        assert_eq!(stats.newest, Some(rfc3339(roots[0].0)));
        // Retention before the third bucket keeps exactly what starts from it.
        let cut = base + 2 * bucket;
        store.purge(cut, 0).expect("purge");
        assert_eq!(listed(TraceQuery::default()), want(&|r| r.0 >= cut));
        let left = store
            .llm_calls(&LlmCallQuery {
                limit: 100,
                ..Default::default()
            })
            .expect("calls");
        assert_eq!(left.len(), want(&|r| r.0 >= cut).len());
    }

    /// The listings and retention of spans and LLM calls read the bucket indexes of
    /// migration 0010: no scan of a whole table and no sort of all its rows. Guards
    /// [`TIME_BUCKET_SHIFT`] against the migration's expressions.
    #[test]
    fn span_and_llm_call_listings_use_the_bucket_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _store = SqliteStore::open(dir.path()).expect("open");
        let conn = Connection::open(dir.path().join(DB_FILE)).expect("open");
        let plan = |l: &Listing| -> Vec<String> {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", l.sql))
                .expect("prepare");
            let args: Vec<&dyn ToSql> = l.args.iter().map(|a| a as &dyn ToSql).collect();
            let rows = stmt
                .query_map(&args[..], |r| r.get::<_, String>(3))
                .expect("plan");
            rows.map(|r| r.expect("row")).collect()
        };
        // A whole table read, or all its rows sorted, would show as one of these.
        let whole = |p: &[String]| {
            p.iter().any(|l| {
                l == "SCAN s"
                    || l == "SCAN llm_calls"
                    || l.starts_with("USE TEMP B-TREE FOR ORDER BY")
            })
        };
        // The rows come from the index in bucket order and only the rows of one bucket
        // are sorted by time; SQLite names that sort one way or the other.
        let sorts_per_bucket =
            |t: &str| t.contains("RIGHT PART OF ORDER BY") || t.contains("LAST TERM OF ORDER BY");
        let cursor = crate::query::Cursor {
            time: 5 << TIME_BUCKET_SHIFT,
            key: "ab".repeat(24),
        };
        let traces = [
            TraceQuery::default(),
            TraceQuery {
                service: Some("api".into()),
                ..Default::default()
            },
            TraceQuery {
                from: Some(10),
                to: Some(1 << 40),
                cursor: Some(cursor),
                ..Default::default()
            },
        ];
        // Pages of one or two rows too: SQLite plans those differently when it knows
        // the limit (see `sql::limit_mark`).
        let limits = [0, 1, 50, 1000];
        for (q, limit) in traces.iter().flat_map(|q| limits.map(|l| (q, l))) {
            let q = TraceQuery { limit, ..q.clone() };
            let p = plan(&sql::traces(Dialect::Sqlite, &q));
            let text = p.join("; ");
            assert!(
                text.contains("INDEX span_rows_by_bucket")
                    || text.contains("INDEX span_rows_by_service_bucket"),
                "{text}"
            );
            assert!(sorts_per_bucket(&text), "{text}");
            assert!(!whole(&p), "{text}");
        }
        let calls = [
            LlmCallQuery::default(),
            LlmCallQuery {
                session_id: Some("s".into()),
                from: Some(1),
                ..Default::default()
            },
        ];
        for (q, limit) in calls.iter().flat_map(|q| limits.map(|l| (q, l))) {
            let q = LlmCallQuery { limit, ..q.clone() };
            let p = plan(&sql::llm_calls(Dialect::Sqlite, &q));
            let text = p.join("; ");
            assert!(text.contains("INDEX llm_calls_by"), "{text}");
            assert!(sorts_per_bucket(&text), "{text}");
            assert!(!whole(&p), "{text}");
        }
    }
}
