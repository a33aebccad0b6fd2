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

    /// Runs a listing built by [`Listing::newest_first`] and cuts it into a page.
    fn page<T>(
        &self,
        (sql, args): SqlArgs,
        limit: usize,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Result<Page<T>, StoreError> {
        let mut items = self.with_reader(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(
                rusqlite::params_from_iter(args.iter().map(|a| a.as_ref())),
                map,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor_of)
        } else {
            None
        };
        Ok(Page { items, next })
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

/// A newest-first listing: a `SELECT ... WHERE ...` to which filters are added, then
/// keyset pagination on a time column with a unique tie-break column.
struct Listing {
    sql: String,
    args: Vec<Box<dyn ToSql>>,
}

/// A statement and its bound values.
type SqlArgs = (String, Vec<Box<dyn ToSql>>);

impl Listing {
    fn new(select: &str) -> Self {
        Listing {
            sql: select.to_string(),
            args: Vec::new(),
        }
    }

    /// Adds `clause` (with one `?`) when the filter is given.
    fn filter_opt<V: ToSql + 'static>(&mut self, clause: &str, value: Option<V>) {
        if let Some(v) = value {
            self.sql.push_str(clause);
            self.args.push(Box::new(v));
        }
    }

    /// Orders newest first, continues strictly after `(time, tie)` when given, and asks
    /// for one row more than a page, to know whether another page follows.
    fn newest_first(
        mut self,
        time_col: &str,
        tie_col: &str,
        after: Option<(u64, Box<dyn ToSql>)>,
        limit: usize,
    ) -> SqlArgs {
        if let Some((time, tie)) = after {
            self.sql.push_str(&format!(
                " AND ({time_col} < ? OR ({time_col} = ? AND {tie_col} < ?))"
            ));
            self.args.push(Box::new(time as i64));
            self.args.push(Box::new(time as i64));
            self.args.push(tie);
        }
        self.sql.push_str(&format!(
            " ORDER BY {time_col} DESC, {tie_col} DESC LIMIT ?"
        ));
        self.args.push(Box::new((limit + 1) as i64));
        (self.sql, self.args)
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
        let mut l = Listing::new(
            "SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.service_name, s.kind, s.start_time_unix_nano,
                    s.end_time_unix_nano, s.status_code, s.status_message, s.attributes, s.events, s.resource,
                    (SELECT COUNT(*) FROM spans c WHERE c.trace_id = s.trace_id)
             FROM spans s
             WHERE NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)",
        );
        l.filter_opt(" AND s.service_name = ?", q.service.clone());
        l.filter_opt(" AND s.name = ?", q.name.clone());
        l.filter_opt(" AND s.status_code = ?", q.status_code);
        l.filter_opt(
            " AND s.end_time_unix_nano - s.start_time_unix_nano >= ?",
            q.min_duration_ns.map(|v| v as i64),
        );
        l.filter_opt(" AND s.start_time_unix_nano >= ?", q.from.map(|v| v as i64));
        l.filter_opt(" AND s.start_time_unix_nano <= ?", q.to.map(|v| v as i64));
        // Span ids are fixed-width hex, so text order is numeric order.
        let after = q.cursor.map(|c| {
            (
                c.time,
                Box::new(format!("{:016x}", c.id as u64)) as Box<dyn ToSql>,
            )
        });
        let sql_args = l.newest_first("s.start_time_unix_nano", "s.span_id", after, q.limit);
        self.page(
            sql_args,
            q.limit,
            |r| {
                Ok(TraceSummary {
                    root: span_row(r)?,
                    span_count: r.get::<_, i64>(13)? as u64,
                })
            },
            |t| Cursor {
                time: t.root.start_time_unix_nano,
                id: u64::from_str_radix(&t.root.span_id, 16).unwrap_or(0) as i64,
            },
        )
    }

    fn logs(&self, q: &LogQuery) -> Result<Page<StoredLog>, StoreError> {
        let mut l = Listing::new(
            "SELECT id, time_unix_nano, service_name, severity_number, severity_text, body, event_name,
                    trace_id, span_id, attributes, resource FROM logs WHERE 1 = 1",
        );
        l.filter_opt(" AND service_name = ?", q.service.clone());
        l.filter_opt(" AND severity_number >= ?", q.severity_min);
        l.filter_opt(
            " AND body LIKE ? ESCAPE '\\'",
            q.text.as_ref().map(|t| {
                let escaped = t
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            }),
        );
        l.filter_opt(" AND trace_id = ?", q.trace_id.clone());
        l.filter_opt(" AND event_name = ?", q.event_name.clone());
        l.filter_opt(" AND time_unix_nano >= ?", q.from.map(|v| v as i64));
        l.filter_opt(" AND time_unix_nano <= ?", q.to.map(|v| v as i64));
        if q.events_only {
            l.sql.push_str(" AND event_name IS NOT NULL");
        }
        let after = q.cursor.map(|c| (c.time, Box::new(c.id) as Box<dyn ToSql>));
        let sql_args = l.newest_first("time_unix_nano", "id", after, q.limit);
        self.page(
            sql_args,
            q.limit,
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
            |l| Cursor {
                time: l.row.time_unix_nano,
                id: l.id,
            },
        )
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
