//! The embedded SQLite store (the default): one file in the data directory, WAL mode,
//! `synchronous=FULL`, numbered migrations applied at start. One writer thread commits
//! every waiting batch in one transaction (group commit) and answers each caller only
//! after the commit; readers use their own connections in parallel.

use super::{
    LogQuery, Page, Stats, Store, StoreError, StoredLog, TraceQuery, TraceSummary, rfc3339,
};
use crate::query::Cursor;
use crate::rows::{Batch, LogRow, SpanRow};
use rusqlite::ToSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/sqlite/0001_init.sql")];
/// Database file name inside the data directory.
pub const DB_FILE: &str = "telemetry.sqlite3";
/// Batches waiting for the writer before callers are told to retry.
const WRITE_QUEUE: usize = 256;

struct WriteJob {
    batch: Batch,
    done: SyncSender<Result<(), StoreError>>,
}

/// See the module docs.
pub struct SqliteStore {
    path: PathBuf,
    writer: SyncSender<WriteJob>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
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

impl SqliteStore {
    /// Opens (creating) the database in `data_dir` and starts the writer thread.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let conn = open_writer(&path)?;
        let (tx, rx) = sync_channel(WRITE_QUEUE);
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
        if let Ok(mut r) = self.readers.lock() {
            if r.len() < 8 {
                r.push(conn);
            }
        }
        Ok(result?)
    }
}

fn writer_loop(mut conn: Connection, rx: Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < 64 {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let batches: Vec<&Batch> = jobs.iter().map(|j| &j.batch).collect();
        match write(&mut conn, &batches) {
            Ok(()) => {
                for job in jobs {
                    let _ = job.done.send(Ok(()));
                }
            }
            // One bad batch must not fail its neighbours: retry each on its own.
            Err(_) if jobs.len() > 1 => {
                for job in jobs {
                    let result = write(&mut conn, &[&job.batch]);
                    let _ = job.done.send(result);
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.done.send(Err(StoreError::Database(e.to_string())));
                }
            }
        }
    }
}

/// A span from a row whose first 13 columns are those of `spans`, in table order.
fn span_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SpanRow> {
    Ok(SpanRow {
        trace_id: r.get(0)?,
        span_id: r.get(1)?,
        parent_span_id: r.get(2)?,
        name: r.get(3)?,
        service_name: r.get(4)?,
        kind: r.get(5)?,
        start_time_unix_nano: r.get::<_, i64>(6)? as u64,
        end_time_unix_nano: r.get::<_, i64>(7)? as u64,
        status_code: r.get(8)?,
        status_message: r.get(9)?,
        attributes: r.get(10)?,
        events: r.get(11)?,
        resource: r.get(12)?,
    })
}

fn write(conn: &mut Connection, batches: &[&Batch]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut span_stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, service_name, kind,
                start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes, events, resource)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let mut log_stmt = tx.prepare_cached(
            "INSERT INTO logs (time_unix_nano, service_name, severity_number, severity_text, body, event_name,
                trace_id, span_id, attributes, resource)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut metric_stmt = tx.prepare_cached(
            "INSERT INTO metric_points (name, service_name, kind, start_time_unix_nano, time_unix_nano, value,
                count, sum, min, max, bucket_counts, explicit_bounds, attributes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for batch in batches {
            for s in &batch.spans {
                span_stmt.execute(params![
                    s.trace_id,
                    s.span_id,
                    s.parent_span_id,
                    s.name,
                    s.service_name,
                    s.kind,
                    s.start_time_unix_nano as i64,
                    s.end_time_unix_nano as i64,
                    s.status_code,
                    s.status_message,
                    s.attributes,
                    s.events,
                    s.resource,
                ])?;
            }
            for l in &batch.logs {
                log_stmt.execute(params![
                    l.time_unix_nano as i64,
                    l.service_name,
                    l.severity_number,
                    l.severity_text,
                    l.body,
                    l.event_name,
                    l.trace_id,
                    l.span_id,
                    l.attributes,
                    l.resource,
                ])?;
            }
            for m in &batch.metric_points {
                metric_stmt.execute(params![
                    m.name,
                    m.service_name,
                    m.kind,
                    m.start_time_unix_nano as i64,
                    m.time_unix_nano as i64,
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
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

impl Store for SqliteStore {
    fn insert(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (done, wait) = sync_channel(1);
        match self.writer.try_send(WriteJob { batch, done }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::Unavailable),
        }
        wait.recv().map_err(|_| StoreError::Unavailable)?
    }

    fn trace(&self, trace_id: &str) -> Result<Vec<SpanRow>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT trace_id, span_id, parent_span_id, name, service_name, kind, start_time_unix_nano,
                        end_time_unix_nano, status_code, status_message, attributes, events, resource
                 FROM spans WHERE trace_id = ?1 ORDER BY start_time_unix_nano, span_id",
            )?;
            let rows = stmt.query_map([trace_id], span_row)?;
            rows.collect()
        })
    }

    fn traces(&self, q: &TraceQuery) -> Result<Page<TraceSummary>, StoreError> {
        let mut sql = String::from(
            "SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.service_name, s.kind, s.start_time_unix_nano,
                    s.end_time_unix_nano, s.status_code, s.status_message, s.attributes, s.events, s.resource,
                    (SELECT COUNT(*) FROM spans c WHERE c.trace_id = s.trace_id)
             FROM spans s
             WHERE NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)",
        );
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        let mut add = |clause: &str, value: Box<dyn ToSql>| {
            sql.push_str(clause);
            args.push(value);
        };
        if let Some(v) = &q.service {
            add(" AND s.service_name = ?", Box::new(v.clone()));
        }
        if let Some(v) = &q.name {
            add(" AND s.name = ?", Box::new(v.clone()));
        }
        if let Some(v) = q.status_code {
            add(" AND s.status_code = ?", Box::new(v));
        }
        if let Some(v) = q.min_duration_ns {
            add(
                " AND s.end_time_unix_nano - s.start_time_unix_nano >= ?",
                Box::new(v as i64),
            );
        }
        if let Some(v) = q.from {
            add(" AND s.start_time_unix_nano >= ?", Box::new(v as i64));
        }
        if let Some(v) = q.to {
            add(" AND s.start_time_unix_nano <= ?", Box::new(v as i64));
        }
        if let Some(c) = q.cursor {
            let span_id = format!("{:016x}", c.id as u64);
            add(" AND (s.start_time_unix_nano < ?", Box::new(c.time as i64));
            add(" OR (s.start_time_unix_nano = ?", Box::new(c.time as i64));
            add(" AND s.span_id < ?))", Box::new(span_id));
        }
        sql.push_str(" ORDER BY s.start_time_unix_nano DESC, s.span_id DESC LIMIT ?");
        args.push(Box::new((q.limit + 1) as i64));
        let mut items = self.with_reader(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(
                rusqlite::params_from_iter(args.iter().map(|a| a.as_ref())),
                |r| {
                    Ok(TraceSummary {
                        root: span_row(r)?,
                        span_count: r.get::<_, i64>(13)? as u64,
                    })
                },
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let next = if items.len() > q.limit {
            items.truncate(q.limit);
            items.last().map(|t| Cursor {
                time: t.root.start_time_unix_nano,
                id: u64::from_str_radix(&t.root.span_id, 16).unwrap_or(0) as i64,
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn logs(&self, q: &LogQuery) -> Result<Page<StoredLog>, StoreError> {
        let mut sql = String::from(
            "SELECT id, time_unix_nano, service_name, severity_number, severity_text, body, event_name,
                    trace_id, span_id, attributes, resource FROM logs WHERE 1 = 1",
        );
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        let mut add = |clause: &str, value: Box<dyn ToSql>| {
            sql.push_str(clause);
            args.push(value);
        };
        if let Some(s) = &q.service {
            add(" AND service_name = ?", Box::new(s.clone()));
        }
        if let Some(n) = q.severity_min {
            add(" AND severity_number >= ?", Box::new(n));
        }
        if let Some(t) = &q.text {
            let escaped = t
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            add(
                " AND body LIKE ? ESCAPE '\\'",
                Box::new(format!("%{escaped}%")),
            );
        }
        if let Some(t) = &q.trace_id {
            add(" AND trace_id = ?", Box::new(t.clone()));
        }
        if let Some(n) = &q.event_name {
            add(" AND event_name = ?", Box::new(n.clone()));
        }
        if let Some(from) = q.from {
            add(" AND time_unix_nano >= ?", Box::new(from as i64));
        }
        if let Some(to) = q.to {
            add(" AND time_unix_nano <= ?", Box::new(to as i64));
        }
        if let Some(c) = q.cursor {
            add(" AND (time_unix_nano < ?", Box::new(c.time as i64));
            add(" OR (time_unix_nano = ?", Box::new(c.time as i64));
            add(" AND id < ?))", Box::new(c.id));
        }
        if q.events_only {
            sql.push_str(" AND event_name IS NOT NULL");
        }
        sql.push_str(" ORDER BY time_unix_nano DESC, id DESC LIMIT ?");
        args.push(Box::new((q.limit + 1) as i64));
        let mut items = self.with_reader(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(
                rusqlite::params_from_iter(args.iter().map(|a| a.as_ref())),
                |r| {
                    Ok(StoredLog {
                        id: r.get(0)?,
                        row: LogRow {
                            time_unix_nano: r.get::<_, i64>(1)? as u64,
                            service_name: r.get(2)?,
                            severity_number: r.get(3)?,
                            severity_text: r.get(4)?,
                            body: r.get(5)?,
                            event_name: r.get(6)?,
                            trace_id: r.get(7)?,
                            span_id: r.get(8)?,
                            attributes: r.get(9)?,
                            resource: r.get(10)?,
                        },
                    })
                },
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let next = if items.len() > q.limit {
            items.truncate(q.limit);
            items.last().map(|l| Cursor {
                time: l.row.time_unix_nano,
                id: l.id,
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn services(&self) -> Result<Vec<String>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT service_name FROM spans UNION SELECT service_name FROM logs
                 UNION SELECT service_name FROM metric_points ORDER BY 1",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

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
            let oldest = [
                bound("SELECT MIN(start_time_unix_nano) FROM spans")?,
                bound("SELECT MIN(time_unix_nano) FROM logs")?,
                bound("SELECT MIN(time_unix_nano) FROM metric_points")?,
            ];
            let newest = [
                bound("SELECT MAX(start_time_unix_nano) FROM spans")?,
                bound("SELECT MAX(time_unix_nano) FROM logs")?,
                bound("SELECT MAX(time_unix_nano) FROM metric_points")?,
            ];
            Ok(Stats {
                spans: count("SELECT COUNT(*) FROM spans")?,
                logs: count("SELECT COUNT(*) FROM logs")?,
                metric_points: count("SELECT COUNT(*) FROM metric_points")?,
                events: count("SELECT COUNT(*) FROM logs WHERE event_name IS NOT NULL")?,
                agent_actions: 0,
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
