//! SQL shared by the relational stores (SQLite and PostgreSQL): the listings with their
//! filters and keyset pagination, written once and rendered in either dialect.

use super::{GenAiRollupQuery, LlmCallQuery, LogQuery, RunQuery, ScoreQuery, TraceQuery};
use crate::query::Cursor;

/// Which database the SQL is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `?` placeholders, JSON kept as text.
    Sqlite,
    /// `$n` placeholders, JSON kept as `jsonb`.
    Postgres,
}

impl Dialect {
    /// `VALUES (...)` with `n` placeholders; those at the 1-based positions in `json`
    /// are JSON text (cast to `jsonb` on PostgreSQL).
    pub(crate) fn values(self, n: usize, json: &[usize]) -> String {
        let list: Vec<String> = (1..=n)
            .map(|i| match self {
                Dialect::Sqlite => format!("?{i}"),
                Dialect::Postgres if json.contains(&i) => format!("${i}::text::jsonb"),
                Dialect::Postgres => format!("${i}"),
            })
            .collect();
        format!("VALUES ({})", list.join(", "))
    }

    /// A JSON column read back as text.
    pub(crate) fn json(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_string(),
            Dialect::Postgres => format!("{column}::text"),
        }
    }

    /// A numeric array column as JSON text (SQLite stores it as JSON text already).
    pub(crate) fn json_array(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_string(),
            Dialect::Postgres => format!("array_to_json({column})::text"),
        }
    }
}

/// A bound value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    /// An integer (times are ns in an `i64`).
    Int(i64),
    /// A 32-bit integer (codes and severities).
    Int4(i32),
    /// Text.
    Text(String),
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<i32> for Param {
    fn from(v: i32) -> Self {
        Param::Int4(v)
    }
}

impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}

/// Nanoseconds as the signed 64-bit integer both databases store (good until 2262).
pub(crate) fn ns(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// SQLite indexes the start times of spans and LLM calls by bucket, `time >>
/// TIME_BUCKET_SHIFT` (2^30 ns, about 1.07 s; migration 0010), not by the time itself.
/// An index entry is its key and then the row id, and row ids grow in arrival order, so
/// within a bucket every new entry goes to the end: a commit writes about one index page
/// per bucket its rows fall in, not one page per row, however disordered their times. A
/// listing reads the newest buckets through the index and sorts each one.
pub(crate) const TIME_BUCKET_SHIFT: u32 = 30;

/// The bucket of a time in ns ([`TIME_BUCKET_SHIFT`]).
pub(crate) fn time_bucket(time: i64) -> i64 {
    time >> TIME_BUCKET_SHIFT
}

/// The order within a bucket as one text term: the time zero-padded (times are never
/// negative), then the tie-breaking text. SQLite reads a bucket index for the first term
/// of an `ORDER BY` and sorts each bucket by the rest only when the rest is one term;
/// with two it sorts the whole table instead (the query plan test checks this).
fn within_bucket(time_col: &str, tie_text: &str) -> String {
    format!("printf('%019d', {time_col}) || {tie_text}")
}

/// A statement being built, with its bound values in order.
#[derive(Debug)]
pub(crate) struct Listing {
    /// The statement.
    pub(crate) sql: String,
    /// Values for its placeholders, in order.
    pub(crate) args: Vec<Param>,
    dialect: Dialect,
}

impl Listing {
    fn new(dialect: Dialect, select: String) -> Self {
        Listing {
            sql: select,
            args: Vec::new(),
            dialect,
        }
    }

    /// Appends `clause`, binding `value` to each `?` in it, in order.
    fn push(&mut self, clause: &str, values: Vec<Param>) {
        let mut values = values.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                self.args.push(values.next().unwrap_or(Param::Int(0)));
                match self.dialect {
                    Dialect::Sqlite => self.sql.push('?'),
                    Dialect::Postgres => self.sql.push_str(&format!("${}", self.args.len())),
                }
            }
            self.sql.push_str(part);
        }
    }

    /// Adds `clause` (with one `?`) when the filter is given.
    fn filter_opt<V: Into<Param>>(&mut self, clause: &str, value: Option<V>) {
        if let Some(v) = value {
            self.push(clause, vec![v.into()]);
        }
    }

    /// The bucket expression of `time_col` when its table's time index is bucketed in
    /// this dialect ([`TIME_BUCKET_SHIFT`]): the exact expression of the index, so that
    /// SQLite uses it.
    fn bucket(&self, time_col: &str, bucketed: bool) -> Option<String> {
        (bucketed && self.dialect == Dialect::Sqlite)
            .then(|| format!("({time_col} >> {TIME_BUCKET_SHIFT})"))
    }

    /// Keeps rows whose `time_col` is within `from..=to`, each bound when given; a
    /// bucketed time is also bounded by its buckets, which the index can seek to.
    fn time_range(&mut self, time_col: &str, bucketed: bool, from: Option<u64>, to: Option<u64>) {
        let bucket = self.bucket(time_col, bucketed);
        for (bound, op) in [(from, ">="), (to, "<=")] {
            let Some(t) = bound.map(ns) else { continue };
            if let Some(b) = &bucket {
                self.push(
                    &format!(" AND {b} {op} ?"),
                    vec![Param::Int(time_bucket(t))],
                );
            }
            self.push(&format!(" AND {time_col} {op} ?"), vec![Param::Int(t)]);
        }
    }

    /// Orders newest first, continues strictly after `(time, tie)` when given, and asks
    /// for one row more than a page, to know whether another page follows.
    /// A bucketed time ([`Listing::bucket`]) is ordered by its bucket first, which
    /// gives the same order.
    fn newest_first(
        mut self,
        (time_col, bucketed): (&str, bool),
        tie_col: &str,
        after: Option<(u64, Param)>,
        limit: usize,
    ) -> Self {
        let bucket = self.bucket(time_col, bucketed);
        if let Some((time, tie)) = after {
            let t = ns(time);
            if let Some(b) = &bucket {
                self.push(&format!(" AND {b} <= ?"), vec![Param::Int(time_bucket(t))]);
            }
            self.push(
                &format!(" AND ({time_col} < ? OR ({time_col} = ? AND {tie_col} < ?))"),
                vec![Param::Int(t), Param::Int(t), tie],
            );
        }
        let order = match &bucket {
            Some(b) => format!("{b} DESC, {} DESC", within_bucket(time_col, tie_col)),
            None => format!("{time_col} DESC, {tie_col} DESC"),
        };
        self.push(
            &format!(" ORDER BY {order} LIMIT {}", limit_mark(bucket.is_some())),
            vec![Param::Int(limit as i64 + 1)],
        );
        self
    }
}

/// Stores an agent run, replacing the one of the same correlation id (14 parameters:
/// the 10 columns of the first migration, then span, parent span, session and user). Of
/// the last four, a stored value is kept when the new row has none (a run read again
/// from the Kafka consumer, which knows no spans, keeps its place in the trace).
pub(crate) fn upsert_run(d: Dialect) -> String {
    let keep = |c: &str| format!("{c} = COALESCE(NULLIF(excluded.{c}, ''), agent_runs.{c})");
    format!(
        "INSERT INTO agent_runs (correlation_id, agent_name, status, service_name, trace_id,
            start_time_unix_nano, end_time_unix_nano, quality_score, error, attributes,
            span_id, parent_span_id, session_id, user_id)
         {}
         ON CONFLICT (correlation_id) DO UPDATE SET agent_name = excluded.agent_name,
            status = excluded.status, service_name = excluded.service_name, trace_id = excluded.trace_id,
            start_time_unix_nano = excluded.start_time_unix_nano,
            end_time_unix_nano = excluded.end_time_unix_nano, quality_score = excluded.quality_score,
            error = excluded.error, attributes = excluded.attributes,
            {}, {}, {}, {}",
        d.values(14, &[10]),
        keep("span_id"),
        keep("parent_span_id"),
        keep("session_id"),
        keep("user_id"),
    )
}

/// Stores an agent action unless one with its id is stored (9 parameters).
pub(crate) fn insert_action(d: Dialect) -> String {
    format!(
        "INSERT INTO agent_actions (action_id, correlation_id, agent_name, action_type, name, is_error,
            time_unix_nano, duration_ns, attributes)
         {} ON CONFLICT (action_id) DO NOTHING",
        d.values(9, &[9])
    )
}

/// The most ids or targets one [`llm_calls`] or [`scores`] listing filters on; the rest
/// of a longer list is left out (callers bound what they ask for).
pub(crate) const MAX_FILTER_IDS: usize = 1_000;

/// The columns of `llm_calls`, in the order of [`crate::rows::LlmCallRow`]'s fields (23
/// columns; `finish_reasons`, the 20th, is JSON).
pub(crate) const LLM_CALL_COLUMNS: &str = "trace_id, span_id, parent_span_id, correlation_id, \
     agent_name, service_name, operation, provider, request_model, response_model, input_tokens, \
     output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, \
     start_time_unix_nano, duration_ns, time_to_first_token_ns, finish_reasons, is_error, \
     session_id, user_id";

/// The columns of `scores`, in the order of [`crate::rows::ScoreRow`]'s fields (10
/// columns).
const SCORE_COLUMNS: &str = "score_id, target_kind, target_id, name, data_type, value, \
     string_value, comment, source, time_unix_nano";

/// Stores a score, replacing the one of the same id (10 parameters, in the order of
/// [`crate::rows::ScoreRow`]'s fields).
pub(crate) fn upsert_score(d: Dialect) -> String {
    format!(
        "INSERT INTO scores ({SCORE_COLUMNS}) {}
         ON CONFLICT (score_id) DO UPDATE SET target_kind = excluded.target_kind,
            target_id = excluded.target_id, name = excluded.name, data_type = excluded.data_type,
            value = excluded.value, string_value = excluded.string_value,
            comment = excluded.comment, source = excluded.source,
            time_unix_nano = excluded.time_unix_nano",
        d.values(10, &[])
    )
}

/// The `LIMIT` parameter of a listing. Ordered by time bucket, SQLite reads the bucket
/// index newest bucket first and sorts one bucket at a time, unless it knows the limit
/// and it is one or two rows: then it scans and sorts the whole table (3.54, no
/// statistics), seconds at ten million spans. An expression keeps the value from the
/// planner, which then always takes the index.
fn limit_mark(bucketed: bool) -> &'static str {
    if bucketed { "(? + 0)" } else { "?" }
}

/// A `LIMIT` of exactly `limit` rows.
fn limit_of(limit: usize) -> Param {
    Param::Int(i64::try_from(limit).unwrap_or(i64::MAX))
}

/// LLM calls matching `q` ([`LLM_CALL_COLUMNS`], the finish reasons as JSON text), newest
/// first by start time, at most `q.limit`. Only the first [`MAX_FILTER_IDS`] trace ids
/// are used.
pub(crate) fn llm_calls(d: Dialect, q: &LlmCallQuery) -> Listing {
    let columns = LLM_CALL_COLUMNS.replace("finish_reasons", &d.json("finish_reasons"));
    let mut l = Listing::new(d, format!("SELECT {columns} FROM llm_calls WHERE 1 = 1"));
    let ids: Vec<Param> = q
        .trace_ids
        .iter()
        .take(MAX_FILTER_IDS)
        .map(|t| Param::Text(t.clone()))
        .collect();
    if !ids.is_empty() {
        let marks = vec!["?"; ids.len()].join(", ");
        l.push(&format!(" AND trace_id IN ({marks})"), ids);
    }
    l.filter_opt(" AND session_id = ?", q.session_id.clone());
    l.filter_opt(" AND user_id = ?", q.user_id.clone());
    l.time_range("start_time_unix_nano", true, q.from, q.to);
    // Ids are fixed-width lowercase hex: text order is their order.
    let bucket = l.bucket("start_time_unix_nano", true);
    let order = match &bucket {
        Some(b) => format!(
            "{b} DESC, {} DESC",
            within_bucket("start_time_unix_nano", "trace_id || span_id")
        ),
        None => "start_time_unix_nano DESC, trace_id DESC, span_id DESC".to_string(),
    };
    l.push(
        &format!(" ORDER BY {order} LIMIT {}", limit_mark(bucket.is_some())),
        vec![limit_of(q.limit)],
    );
    l
}

/// Scores matching `q` ([`SCORE_COLUMNS`]), newest first, at most `q.limit`. Only the
/// first [`MAX_FILTER_IDS`] targets are used.
pub(crate) fn scores(d: Dialect, q: &ScoreQuery) -> Listing {
    let mut l = Listing::new(d, format!("SELECT {SCORE_COLUMNS} FROM scores WHERE 1 = 1"));
    let targets = &q.targets[..q.targets.len().min(MAX_FILTER_IDS)];
    if !targets.is_empty() {
        let clause = vec!["(target_kind = ? AND target_id = ?)"; targets.len()].join(" OR ");
        let values: Vec<Param> = targets
            .iter()
            .flat_map(|(kind, id)| [Param::Text(kind.clone()), Param::Text(id.clone())])
            .collect();
        l.push(&format!(" AND ({clause})"), values);
    }
    l.filter_opt(" AND name = ?", q.name.clone());
    l.push(
        " ORDER BY time_unix_nano DESC, score_id DESC LIMIT ?",
        vec![limit_of(q.limit)],
    );
    l
}

/// How many columns [`span_columns`] selects.
pub(crate) const SPAN_COLUMN_COUNT: usize = 21;

/// The columns of `spans`, in the order the stores' row readers expect
/// ([`SPAN_COLUMN_COUNT`] columns).
pub(crate) fn span_columns(d: Dialect, prefix: &str) -> String {
    format!(
        "{p}trace_id, {p}span_id, {p}parent_span_id, {p}name, {p}service_name, {p}kind, \
         {p}start_time_unix_nano, {p}end_time_unix_nano, {p}status_code, {p}status_message, \
         {}, {}, {}, {p}trace_state, {p}flags, {p}scope_name, {p}scope_version, \
         {p}dropped_attributes_count, {p}dropped_events_count, {p}dropped_links_count, {}",
        d.json(&format!("{prefix}attributes")),
        d.json(&format!("{prefix}events")),
        d.json(&format!("{prefix}resource")),
        d.json(&format!("{prefix}links")),
        p = prefix,
    )
}

/// Every span of a trace, by start time.
pub(crate) fn trace(d: Dialect, trace_id: &str) -> Listing {
    let mut l = Listing::new(d, format!("SELECT {} FROM spans", span_columns(d, "")));
    l.push(
        " WHERE trace_id = ? ORDER BY start_time_unix_nano, span_id",
        vec![Param::Text(trace_id.to_string())],
    );
    l
}

/// Root spans (a span whose parent is not stored in its trace) with their trace's span
/// count as the column after the [`span_columns`], newest first.
pub(crate) fn traces(d: Dialect, q: &TraceQuery) -> Listing {
    let mut l = Listing::new(
        d,
        format!(
            "SELECT {}, (SELECT COUNT(*) FROM spans c WHERE c.trace_id = s.trace_id)
             FROM spans s
             WHERE NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)",
            span_columns(d, "s.")
        ),
    );
    l.filter_opt(" AND s.service_name = ?", q.service.clone());
    l.filter_opt(" AND s.name = ?", q.name.clone());
    l.filter_opt(" AND s.status_code = ?", q.status_code);
    l.filter_opt(
        " AND s.end_time_unix_nano - s.start_time_unix_nano >= ?",
        q.min_duration_ns.map(ns),
    );
    l.time_range("s.start_time_unix_nano", true, q.from, q.to);
    // Ids are fixed-width lowercase hex, so text order is numeric order, and a trace
    // and span id together are unique.
    let after = q.cursor.clone().map(|c| (c.time, Param::Text(c.key)));
    l.newest_first(
        ("s.start_time_unix_nano", true),
        "s.trace_id || s.span_id",
        after,
        q.limit,
    )
}

/// The cursor after a trace listed by [`traces`].
pub(crate) fn trace_cursor(root: &crate::rows::SpanRow) -> Cursor {
    Cursor {
        time: root.start_time_unix_nano,
        key: format!("{}{}", root.trace_id, root.span_id),
    }
}

/// A row-id cursor's id; a cursor of another listing continues from the start.
fn cursor_id(c: &Cursor) -> Param {
    Param::Int(c.id().unwrap_or(i64::MAX))
}

/// Log records: `id` then 16 columns, newest first.
pub(crate) fn logs(d: Dialect, q: &LogQuery) -> Listing {
    let mut l = Listing::new(
        d,
        format!(
            "SELECT id, time_unix_nano, service_name, severity_number, severity_text, body, event_name,
                    trace_id, span_id, {}, {}, observed_time_unix_nano, body_type, flags, scope_name,
                    scope_version, dropped_attributes_count FROM logs WHERE 1 = 1",
            d.json("attributes"),
            d.json("resource")
        ),
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
    l.filter_opt(" AND time_unix_nano >= ?", q.from.map(ns));
    l.filter_opt(" AND time_unix_nano <= ?", q.to.map(ns));
    if q.events_only {
        l.sql.push_str(" AND event_name IS NOT NULL");
    }
    let after = q.cursor.as_ref().map(|c| (c.time, cursor_id(c)));
    l.newest_first(("time_unix_nano", false), "id", after, q.limit)
}

/// The columns of `agent_runs` the stores' readers expect (16 columns, `id` first; the
/// action count at 11, then span, parent span, session and user).
pub(crate) fn run_columns(d: Dialect) -> String {
    format!(
        "id, correlation_id, agent_name, status, service_name, trace_id, start_time_unix_nano, \
         end_time_unix_nano, quality_score, error, {}, \
         (SELECT COUNT(*) FROM agent_actions a WHERE a.correlation_id = agent_runs.correlation_id), \
         span_id, parent_span_id, session_id, user_id",
        d.json("attributes")
    )
}

/// Agent runs, newest first.
pub(crate) fn runs(d: Dialect, q: &RunQuery) -> Listing {
    let mut l = Listing::new(
        d,
        format!("SELECT {} FROM agent_runs WHERE 1 = 1", run_columns(d)),
    );
    l.filter_opt(" AND agent_name = ?", q.agent.clone());
    l.filter_opt(" AND status = ?", q.status.clone());
    l.filter_opt(" AND session_id = ?", q.session_id.clone());
    l.filter_opt(" AND user_id = ?", q.user_id.clone());
    l.filter_opt(" AND trace_id = ?", q.trace_id.clone());
    l.filter_opt(" AND start_time_unix_nano >= ?", q.from.map(ns));
    l.filter_opt(" AND start_time_unix_nano <= ?", q.to.map(ns));
    let after = q.cursor.as_ref().map(|c| (c.time, cursor_id(c)));
    l.newest_first(("start_time_unix_nano", false), "id", after, q.limit)
}

/// One run by correlation id.
pub(crate) fn run(d: Dialect, correlation_id: &str) -> Listing {
    let mut l = Listing::new(d, format!("SELECT {} FROM agent_runs", run_columns(d)));
    l.push(
        " WHERE correlation_id = ?",
        vec![Param::Text(correlation_id.to_string())],
    );
    l
}

/// The actions of a run, oldest first (9 columns).
pub(crate) fn actions(d: Dialect, correlation_id: &str) -> Listing {
    let mut l = Listing::new(
        d,
        format!(
            "SELECT action_id, correlation_id, agent_name, action_type, name, is_error, time_unix_nano,
                    duration_ns, {} FROM agent_actions",
            d.json("attributes")
        ),
    );
    l.push(
        " WHERE correlation_id = ? ORDER BY time_unix_nano, action_id",
        vec![Param::Text(correlation_id.to_string())],
    );
    l
}

/// Rollup rows of one table at one resolution within `[from, to]`, optionally of one
/// service (or agent) and one name (or operation).
pub(crate) fn rollups(
    d: Dialect,
    table: &str,
    columns: &str,
    q: &super::RollupQuery,
    (service_col, name_col): (&str, &str),
) -> Listing {
    let mut l = Listing::new(d, format!("SELECT {columns} FROM {table}"));
    l.push(
        " WHERE resolution = ? AND bucket >= ? AND bucket <= ?",
        vec![
            Param::Int(i64::from(q.resolution)),
            Param::Int(ns(q.from)),
            Param::Int(ns(q.to)),
        ],
    );
    l.filter_opt(&format!(" AND {service_col} = ?"), q.service.clone());
    l.filter_opt(&format!(" AND {name_col} = ?"), q.name.clone());
    l.sql.push_str(" ORDER BY bucket");
    l
}

/// GenAI usage rollup rows ([`GENAI_ROLLUP_COLUMNS`]) of one dimension at one resolution
/// within `[from, to]`, by bucket then key.
pub(crate) fn genai_rollups(d: Dialect, q: &GenAiRollupQuery) -> Listing {
    let mut l = Listing::new(
        d,
        format!("SELECT {GENAI_ROLLUP_COLUMNS} FROM genai_rollups"),
    );
    l.push(
        " WHERE resolution = ? AND bucket >= ? AND bucket <= ? AND dimension = ? ORDER BY bucket, key",
        vec![
            Param::Int(i64::from(q.resolution)),
            Param::Int(ns(q.from)),
            Param::Int(ns(q.to)),
            Param::Text(q.dimension.clone()),
        ],
    );
    l
}

/// `column` of the stored row plus the one being merged into it, at most `i64::MAX`
/// (both are counts, never negative): an overflow would turn an SQLite integer into a
/// float and fail a PostgreSQL statement. `stored` names the stored row (`""` in
/// SQLite, the table in PostgreSQL, where a bare column is ambiguous).
fn saturating_sum(stored: &str, column: &str) -> String {
    format!(
        "{column} = CASE WHEN {stored}{column} > 9223372036854775807 - excluded.{column} \
         THEN 9223372036854775807 ELSE {stored}{column} + excluded.{column} END"
    )
}

/// Merges a GenAI usage rollup row into the stored one (15 parameters, in the order of
/// [`GENAI_ROLLUP_COLUMNS`]; the histogram as each store keeps it, merged by the
/// database's `hist_merge`): counts add up, saturating; costs add up.
pub(crate) fn upsert_genai_rollup(d: Dialect) -> String {
    let stored = match d {
        Dialect::Sqlite => "",
        Dialect::Postgres => "genai_rollups.",
    };
    let counts: Vec<String> = [
        "calls",
        "errors",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "unpriced_calls",
        "duration_sum_ns",
    ]
    .iter()
    .map(|c| saturating_sum(stored, c))
    .collect();
    format!(
        "INSERT INTO genai_rollups ({GENAI_ROLLUP_COLUMNS}) {}
         ON CONFLICT (resolution, bucket, dimension, key) DO UPDATE SET
            {}, cost_usd = {stored}cost_usd + excluded.cost_usd,
            hist = hist_merge({stored}hist, excluded.hist)",
        d.values(15, &[]),
        counts.join(", "),
    )
}

/// Raw points of one metric within `[from, to]`, oldest first, at most `max` + 1.
pub(crate) fn metric_points(d: Dialect, name: &str, from: u64, to: u64, max: usize) -> Listing {
    metric_point_listing(
        d,
        name,
        from,
        to,
        "",
        "ORDER BY time_unix_nano, id",
        max as i64 + 1,
    )
}

/// Raw points of one metric within `[from, to]` that carry exemplars, newest first, at
/// most `max`.
pub(crate) fn metric_exemplars(d: Dialect, name: &str, from: u64, to: u64, max: usize) -> Listing {
    metric_point_listing(
        d,
        name,
        from,
        to,
        " AND exemplars IS NOT NULL",
        "ORDER BY time_unix_nano DESC, id DESC",
        i64::try_from(max).unwrap_or(i64::MAX),
    )
}

fn metric_point_listing(
    d: Dialect,
    name: &str,
    from: u64,
    to: u64,
    filter: &str,
    order: &str,
    limit: i64,
) -> Listing {
    let mut l = Listing::new(
        d,
        format!(
            "SELECT name, service_name, kind, start_time_unix_nano, time_unix_nano, value, count, sum, min, max,
                    {}, {}, {}, {}, {} FROM metric_points",
            d.json("attributes"),
            d.json_array("bucket_counts"),
            d.json_array("explicit_bounds"),
            d.json("exemplars"),
            d.json("quantiles"),
        ),
    );
    l.push(
        &format!(
            " WHERE name = ? AND time_unix_nano >= ? AND time_unix_nano <= ?{filter} {order} LIMIT ?"
        ),
        vec![
            Param::Text(name.to_string()),
            Param::Int(ns(from)),
            Param::Int(ns(to)),
            Param::Int(limit),
        ],
    );
    l
}

/// `LIMIT` for the first `limit` rows and one more (to know whether more exist).
fn one_more(limit: usize) -> Param {
    Param::Int(i64::try_from(limit).map_or(i64::MAX, |n| n.saturating_add(1)))
}

/// Metric names with their kind, point count and last time, sorted, at most `limit` + 1.
pub(crate) fn metric_names(d: Dialect, limit: usize) -> Listing {
    let mut l = Listing::new(
        d,
        "SELECT name, MIN(kind), COUNT(*), MAX(time_unix_nano) FROM metric_points GROUP BY name ORDER BY name"
            .to_string(),
    );
    l.push(" LIMIT ?", vec![one_more(limit)]);
    l
}

/// Service names seen in spans, logs or metric points, sorted, at most `limit` + 1. The
/// server's own metric points ([`crate::SERVER_SERVICE_NAME`]: probes, fleet gauges)
/// name no service; spans or logs of that name still do.
pub(crate) fn services(d: Dialect, limit: usize) -> Listing {
    let own = crate::SERVER_SERVICE_NAME;
    let mut l = Listing::new(
        d,
        format!(
            "SELECT service_name FROM spans UNION SELECT service_name FROM logs
             UNION SELECT service_name FROM metric_points WHERE service_name <> '{own}'
             ORDER BY 1"
        ),
    );
    l.push(" LIMIT ?", vec![one_more(limit)]);
    l
}

/// Reads the [`span_columns`] from `$row` with `$get` (`get` for SQLite,
/// `try_get` for PostgreSQL).
macro_rules! read_span {
    ($row:ident . $get:ident) => {{
        let start: i64 = $row.$get(6)?;
        let end: i64 = $row.$get(7)?;
        let flags: i64 = $row.$get(14)?;
        let dropped_attributes: i64 = $row.$get(17)?;
        let dropped_events: i64 = $row.$get(18)?;
        let dropped_links: i64 = $row.$get(19)?;
        $crate::rows::SpanRow {
            trace_id: $row.$get(0)?,
            span_id: $row.$get(1)?,
            parent_span_id: $row.$get(2)?,
            name: $row.$get(3)?,
            service_name: $row.$get(4)?,
            kind: $row.$get(5)?,
            start_time_unix_nano: start as u64,
            end_time_unix_nano: end as u64,
            status_code: $row.$get(8)?,
            status_message: $row.$get(9)?,
            attributes: $row.$get(10)?,
            events: $row.$get(11)?,
            resource: $row.$get(12)?,
            trace_state: $row.$get(13)?,
            flags: flags as u32,
            scope_name: $row.$get(15)?,
            scope_version: $row.$get(16)?,
            dropped_attributes_count: dropped_attributes as u32,
            dropped_events_count: dropped_events as u32,
            dropped_links_count: dropped_links as u32,
            links: $row.$get(20)?,
        }
    }};
}

/// Reads a row of [`logs`].
macro_rules! read_log {
    ($row:ident . $get:ident) => {{
        let time: i64 = $row.$get(1)?;
        let observed: i64 = $row.$get(11)?;
        let body_type: String = $row.$get(12)?;
        let flags: i64 = $row.$get(13)?;
        let dropped_attributes: i64 = $row.$get(16)?;
        $crate::store::StoredLog {
            id: $row.$get(0)?,
            row: $crate::rows::LogRow {
                time_unix_nano: time as u64,
                observed_time_unix_nano: observed as u64,
                service_name: $row.$get(2)?,
                severity_number: $row.$get(3)?,
                severity_text: $row.$get(4)?,
                body: $row.$get(5)?,
                body_type: $crate::rows::BodyType::from_name(&body_type),
                event_name: $row.$get(6)?,
                trace_id: $row.$get(7)?,
                span_id: $row.$get(8)?,
                flags: flags as u32,
                scope_name: $row.$get(14)?,
                scope_version: $row.$get(15)?,
                attributes: $row.$get(9)?,
                dropped_attributes_count: dropped_attributes as u32,
                resource: $row.$get(10)?,
            },
        }
    }};
}

/// Reads a row of [`run_columns`].
macro_rules! read_run {
    ($row:ident . $get:ident) => {{
        let start: i64 = $row.$get(6)?;
        let end: i64 = $row.$get(7)?;
        let actions: i64 = $row.$get(11)?;
        $crate::store::StoredRun {
            id: $row.$get(0)?,
            row: $crate::rows::AgentRunRow {
                correlation_id: $row.$get(1)?,
                agent_name: $row.$get(2)?,
                status: $row.$get(3)?,
                service_name: $row.$get(4)?,
                trace_id: $row.$get(5)?,
                start_time_unix_nano: start as u64,
                end_time_unix_nano: end as u64,
                quality_score: $row.$get(8)?,
                error: $row.$get(9)?,
                attributes: $row.$get(10)?,
                span_id: $row.$get(12)?,
                parent_span_id: $row.$get(13)?,
                session_id: $row.$get(14)?,
                user_id: $row.$get(15)?,
            },
            action_count: actions as u64,
        }
    }};
}

/// Reads a row of [`actions`].
macro_rules! read_action {
    ($row:ident . $get:ident) => {{
        let time: i64 = $row.$get(6)?;
        let duration: i64 = $row.$get(7)?;
        $crate::rows::AgentActionRow {
            action_id: $row.$get(0)?,
            correlation_id: $row.$get(1)?,
            agent_name: $row.$get(2)?,
            action_type: $row.$get(3)?,
            name: $row.$get(4)?,
            is_error: $row.$get(5)?,
            time_unix_nano: time as u64,
            duration_ns: duration as u64,
            attributes: $row.$get(8)?,
        }
    }};
}

/// Reads a row of [`llm_calls`].
macro_rules! read_llm_call {
    ($row:ident . $get:ident) => {{
        let input: Option<i64> = $row.$get(10)?;
        let output: Option<i64> = $row.$get(11)?;
        let cache_read: Option<i64> = $row.$get(12)?;
        let cache_write: Option<i64> = $row.$get(13)?;
        let reasoning: Option<i64> = $row.$get(14)?;
        let start: i64 = $row.$get(16)?;
        let duration: i64 = $row.$get(17)?;
        let first_token: Option<i64> = $row.$get(18)?;
        $crate::rows::LlmCallRow {
            trace_id: $row.$get(0)?,
            span_id: $row.$get(1)?,
            parent_span_id: $row.$get(2)?,
            correlation_id: $row.$get(3)?,
            agent_name: $row.$get(4)?,
            service_name: $row.$get(5)?,
            operation: $row.$get(6)?,
            provider: $row.$get(7)?,
            request_model: $row.$get(8)?,
            response_model: $row.$get(9)?,
            input_tokens: input.map(|n| n as u64),
            output_tokens: output.map(|n| n as u64),
            cache_read_tokens: cache_read.map(|n| n as u64),
            cache_write_tokens: cache_write.map(|n| n as u64),
            reasoning_tokens: reasoning.map(|n| n as u64),
            cost_usd: $row.$get(15)?,
            start_time_unix_nano: start as u64,
            duration_ns: duration as u64,
            time_to_first_token_ns: first_token.map(|n| n as u64),
            finish_reasons: $row.$get(19)?,
            is_error: $row.$get(20)?,
            session_id: $row.$get(21)?,
            user_id: $row.$get(22)?,
        }
    }};
}

/// Reads a row of [`scores`].
macro_rules! read_score {
    ($row:ident . $get:ident) => {{
        let time: i64 = $row.$get(9)?;
        $crate::rows::ScoreRow {
            score_id: $row.$get(0)?,
            target_kind: $row.$get(1)?,
            target_id: $row.$get(2)?,
            name: $row.$get(3)?,
            data_type: $row.$get(4)?,
            value: $row.$get(5)?,
            string_value: $row.$get(6)?,
            comment: $row.$get(7)?,
            source: $row.$get(8)?,
            time_unix_nano: time as u64,
        }
    }};
}

/// Reads a row of [`metric_points`].
macro_rules! read_metric_point {
    ($row:ident . $get:ident) => {{
        let kind: String = $row.$get(2)?;
        let start: i64 = $row.$get(3)?;
        let time: i64 = $row.$get(4)?;
        let count: Option<i64> = $row.$get(6)?;
        $crate::rows::MetricPointRow {
            name: $row.$get(0)?,
            service_name: $row.$get(1)?,
            kind: $crate::rows::metric_kind(&kind),
            start_time_unix_nano: start as u64,
            time_unix_nano: time as u64,
            value: $row.$get(5)?,
            count: count.map(|c| c as u64),
            sum: $row.$get(7)?,
            min: $row.$get(8)?,
            max: $row.$get(9)?,
            bucket_counts: $crate::store::sql::json_numbers($row.$get(11)?),
            explicit_bounds: $crate::store::sql::json_numbers($row.$get(12)?),
            attributes: $row.$get(10)?,
            exemplars: $row
                .$get::<_, Option<String>>(13)?
                .unwrap_or_else(|| "[]".to_string()),
            quantiles: $crate::store::sql::json_numbers($row.$get(14)?),
        }
    }};
}

/// A JSON array of numbers stored by the store (`None` for none, or for anything else).
pub(crate) fn json_numbers<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<Vec<T>> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

pub(crate) use {
    read_action, read_llm_call, read_log, read_metric_point, read_run, read_score, read_span,
};

/// Span rollup columns: key then aggregates; the histogram last.
pub(crate) const SPAN_ROLLUP_COLUMNS: &str =
    "resolution, bucket, service_name, operation, span_count, error_count, duration_sum_ns, hist";
/// Metric rollup columns.
pub(crate) const METRIC_ROLLUP_COLUMNS: &str =
    "resolution, bucket, name, service_name, count, sum, min, max";
/// Agent rollup columns.
pub(crate) const AGENT_ROLLUP_COLUMNS: &str =
    "resolution, bucket, agent_name, action_type, count, error_count";

/// GenAI usage rollup columns: key then aggregates; the histogram last (at
/// [`GENAI_HIST_COLUMN`]).
pub(crate) const GENAI_ROLLUP_COLUMNS: &str = "resolution, bucket, dimension, key, calls, errors, \
     input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, \
     cost_usd, unpriced_calls, duration_sum_ns, hist";
/// Where [`GENAI_ROLLUP_COLUMNS`] has the histogram.
pub(crate) const GENAI_HIST_COLUMN: usize = 14;
/// Where [`SPAN_ROLLUP_COLUMNS`] has the histogram.
pub(crate) const SPAN_HIST_COLUMN: usize = 7;

/// Reads the key and counts of a span rollup row; the histogram (column 7) is read by
/// the store, as its type differs.
macro_rules! read_span_rollup {
    ($row:ident . $get:ident, $hist:expr) => {{
        let resolution: i64 = $row.$get(0)?;
        let bucket: i64 = $row.$get(1)?;
        let count: i64 = $row.$get(4)?;
        let errors: i64 = $row.$get(5)?;
        let sum: i64 = $row.$get(6)?;
        (
            $crate::rollup::SpanKey {
                resolution: resolution as u32,
                bucket: bucket as u64,
                service_name: $row.$get(2)?,
                operation: $row.$get(3)?,
            },
            $crate::rollup::SpanAgg {
                count: count as u64,
                errors: errors as u64,
                duration_sum_ns: sum as u64,
                hist: $hist,
            },
        )
    }};
}

/// Reads a metric rollup row.
macro_rules! read_metric_rollup {
    ($row:ident . $get:ident) => {{
        let resolution: i64 = $row.$get(0)?;
        let bucket: i64 = $row.$get(1)?;
        let count: i64 = $row.$get(4)?;
        (
            $crate::rollup::MetricKey {
                resolution: resolution as u32,
                bucket: bucket as u64,
                name: $row.$get(2)?,
                service_name: $row.$get(3)?,
            },
            $crate::rollup::MetricAgg {
                count: count as u64,
                sum: $row.$get(5)?,
                min: $row.$get(6)?,
                max: $row.$get(7)?,
                buckets: $crate::rollup::buckets_from_text(
                    $row.$get::<_, Option<String>>(8)?.as_deref(),
                ),
            },
        )
    }};
}

/// Reads an agent rollup row.
macro_rules! read_agent_rollup {
    ($row:ident . $get:ident) => {{
        let resolution: i64 = $row.$get(0)?;
        let bucket: i64 = $row.$get(1)?;
        let count: i64 = $row.$get(4)?;
        let errors: i64 = $row.$get(5)?;
        (
            $crate::rollup::AgentKey {
                resolution: resolution as u32,
                bucket: bucket as u64,
                agent_name: $row.$get(2)?,
                action_type: $row.$get(3)?,
            },
            $crate::rollup::AgentAgg {
                count: count as u64,
                errors: errors as u64,
            },
        )
    }};
}

/// Reads the key and aggregates of a GenAI usage rollup row ([`GENAI_ROLLUP_COLUMNS`]);
/// the histogram is `$hist`, read by the store, as its type differs.
macro_rules! read_genai_rollup {
    ($row:ident . $get:ident, $hist:expr) => {{
        let resolution: i64 = $row.$get(0)?;
        let bucket: i64 = $row.$get(1)?;
        let calls: i64 = $row.$get(4)?;
        let errors: i64 = $row.$get(5)?;
        let input: i64 = $row.$get(6)?;
        let output: i64 = $row.$get(7)?;
        let cache_read: i64 = $row.$get(8)?;
        let cache_write: i64 = $row.$get(9)?;
        let reasoning: i64 = $row.$get(10)?;
        let unpriced: i64 = $row.$get(12)?;
        let duration: i64 = $row.$get(13)?;
        (
            $crate::rollup::GenAiKey {
                resolution: resolution as u32,
                bucket: bucket as u64,
                dimension: $row.$get(2)?,
                key: $row.$get(3)?,
            },
            $crate::rollup::GenAiAgg {
                calls: calls as u64,
                errors: errors as u64,
                input_tokens: input as u64,
                output_tokens: output as u64,
                cache_read_tokens: cache_read as u64,
                cache_write_tokens: cache_write as u64,
                reasoning_tokens: reasoning as u64,
                cost_usd: $row.$get(11)?,
                unpriced_calls: unpriced as u64,
                duration_sum_ns: duration as u64,
                hist: $hist,
            },
        )
    }};
}

pub(crate) use {read_agent_rollup, read_genai_rollup, read_metric_rollup, read_span_rollup};

/// The [`super::StoreRead`] methods that only run a listing of this module and read its
/// rows, for a store with a `rows(listing, |row| ...)` method: `$dialect` renders the
/// SQL, `$row.$get(i)` reads a column, and `$hist` reads the histogram of a span or
/// GenAI rollup row (in column `$col`, a `usize`), whose type differs between databases.
macro_rules! relational_reads {
    ($dialect:expr, $row:ident . $get:ident, hist($col:ident): $hist:expr) => {
        fn trace(&self, trace_id: &str) -> Result<Vec<SpanRow>, StoreError> {
            self.rows(sql::trace($dialect, trace_id), |$row| {
                Ok(read_span!($row.$get))
            })
        }

        fn traces(&self, q: &TraceQuery) -> Result<Page<TraceSummary>, StoreError> {
            let items = self.rows(sql::traces($dialect, q), |$row| {
                let count: i64 = $row.$get(sql::SPAN_COLUMN_COUNT)?;
                Ok(TraceSummary {
                    root: read_span!($row.$get),
                    span_count: count as u64,
                })
            })?;
            Ok(Page::cut(items, q.limit, |t| sql::trace_cursor(&t.root)))
        }

        fn logs(&self, q: &LogQuery) -> Result<Page<StoredLog>, StoreError> {
            let items = self.rows(sql::logs($dialect, q), |$row| Ok(read_log!($row.$get)))?;
            Ok(Page::cut(items, q.limit, StoredLog::cursor))
        }

        fn services(&self, limit: usize) -> Result<Vec<String>, StoreError> {
            self.rows(sql::services($dialect, limit), |$row| {
                let name: String = $row.$get(0)?;
                Ok(name)
            })
        }

        fn metric_names(&self, limit: usize) -> Result<Vec<MetricInfo>, StoreError> {
            self.rows(sql::metric_names($dialect, limit), |$row| {
                let points: i64 = $row.$get(2)?;
                let last: i64 = $row.$get(3)?;
                Ok(MetricInfo {
                    name: $row.$get(0)?,
                    kind: $row.$get(1)?,
                    points: points as u64,
                    last_time_unix_nano: last as u64,
                })
            })
        }

        fn metric_points(
            &self,
            name: &str,
            from: u64,
            to: u64,
            max: usize,
        ) -> Result<Vec<MetricPointRow>, StoreError> {
            self.rows(sql::metric_points($dialect, name, from, to, max), |$row| {
                Ok(read_metric_point!($row.$get))
            })
        }

        fn metric_exemplars(
            &self,
            name: &str,
            from: u64,
            to: u64,
            max: usize,
        ) -> Result<Vec<MetricPointRow>, StoreError> {
            self.rows(
                sql::metric_exemplars($dialect, name, from, to, max),
                |$row| Ok(read_metric_point!($row.$get)),
            )
        }

        fn span_rollups(&self, q: &RollupQuery) -> Result<Vec<(SpanKey, SpanAgg)>, StoreError> {
            let l = sql::rollups(
                $dialect,
                "span_rollups",
                SPAN_ROLLUP_COLUMNS,
                q,
                ("service_name", "operation"),
            );
            self.rows(l, |$row| {
                let $col: usize = sql::SPAN_HIST_COLUMN;
                Ok(read_span_rollup!($row.$get, $hist))
            })
        }

        fn metric_rollups(
            &self,
            q: &RollupQuery,
        ) -> Result<Vec<(MetricKey, MetricAgg)>, StoreError> {
            let columns = format!("{METRIC_ROLLUP_COLUMNS}, {}", $dialect.json("buckets"));
            let l = sql::rollups(
                $dialect,
                "metric_rollups",
                &columns,
                q,
                ("service_name", "name"),
            );
            self.rows(l, |$row| Ok(read_metric_rollup!($row.$get)))
        }

        fn agent_rollups(&self, q: &RollupQuery) -> Result<Vec<(AgentKey, AgentAgg)>, StoreError> {
            let l = sql::rollups(
                $dialect,
                "agent_rollups",
                AGENT_ROLLUP_COLUMNS,
                q,
                ("agent_name", "action_type"),
            );
            self.rows(l, |$row| Ok(read_agent_rollup!($row.$get)))
        }

        fn genai_rollups(
            &self,
            q: &$crate::store::GenAiRollupQuery,
        ) -> Result<Vec<($crate::rollup::GenAiKey, $crate::rollup::GenAiAgg)>, StoreError> {
            self.rows(sql::genai_rollups($dialect, q), |$row| {
                let $col: usize = sql::GENAI_HIST_COLUMN;
                Ok(sql::read_genai_rollup!($row.$get, $hist))
            })
        }

        fn runs(&self, q: &RunQuery) -> Result<Page<StoredRun>, StoreError> {
            let items = self.rows(sql::runs($dialect, q), |$row| Ok(read_run!($row.$get)))?;
            Ok(Page::cut(items, q.limit, StoredRun::cursor))
        }

        fn run(&self, correlation_id: &str) -> Result<Option<StoredRun>, StoreError> {
            let mut rows = self.rows(sql::run($dialect, correlation_id), |$row| {
                Ok(read_run!($row.$get))
            })?;
            Ok(rows.pop())
        }

        fn actions(&self, correlation_id: &str) -> Result<Vec<AgentActionRow>, StoreError> {
            self.rows(sql::actions($dialect, correlation_id), |$row| {
                Ok(read_action!($row.$get))
            })
        }

        fn llm_calls(&self, q: &LlmCallQuery) -> Result<Vec<LlmCallRow>, StoreError> {
            self.rows(sql::llm_calls($dialect, q), |$row| {
                Ok(read_llm_call!($row.$get))
            })
        }

        fn scores(&self, q: &ScoreQuery) -> Result<Vec<ScoreRow>, StoreError> {
            self.rows(sql::scores($dialect, q), |$row| Ok(read_score!($row.$get)))
        }
    };
}

/// The [`super::SnapshotChain`] readers, for a store with the same `rows` method as
/// [`relational_reads`]; the store writes `with_chain_locked` itself.
macro_rules! relational_chain_reads {
    ($dialect:expr, $row:ident . $get:ident) => {
        fn snapshot_links(&self, after: u64, limit: usize) -> Result<Vec<Link>, StoreError> {
            self.rows(sql::snapshot_links($dialect, after, limit), |$row| {
                Ok(sql::read_link!($row.$get))
            })
        }

        fn last_snapshot(&self) -> Result<Option<Link>, StoreError> {
            let mut rows = self.rows(sql::last_snapshot($dialect), |$row| {
                Ok(sql::read_link!($row.$get))
            })?;
            Ok(rows.pop())
        }
    };
}

pub(crate) use {relational_chain_reads, relational_reads};

/// Fleet snapshot columns, in the order of [`crate::fleet::chain::Link`]'s fields.
const SNAPSHOT_COLUMNS: &str = "seq, snapshot_id, body, prev_hash, hash";

/// Chain links after position `after`, in order.
pub(crate) fn snapshot_links(d: Dialect, after: u64, limit: usize) -> Listing {
    let mut l = Listing::new(d, format!("SELECT {SNAPSHOT_COLUMNS} FROM fleet_snapshots"));
    l.push(
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        vec![Param::Int(ns(after)), Param::Int(limit as i64)],
    );
    l
}

/// The newest link.
pub(crate) fn last_snapshot(d: Dialect) -> Listing {
    Listing::new(
        d,
        format!("SELECT {SNAPSHOT_COLUMNS} FROM fleet_snapshots ORDER BY seq DESC LIMIT 1"),
    )
}

/// Stores a link (6 parameters: seq, snapshot id, collection time, body, hashes).
pub(crate) fn insert_snapshot(d: Dialect) -> String {
    format!(
        "INSERT INTO fleet_snapshots (seq, snapshot_id, collected_at_unix_nano, body, prev_hash, hash) {}",
        d.values(6, &[])
    )
}

/// Reads a link.
macro_rules! read_link {
    ($row:ident . $get:ident) => {{
        let seq: i64 = $row.$get(0)?;
        $crate::fleet::chain::Link {
            seq: seq as u64,
            snapshot_id: $row.$get(1)?,
            body: $row.$get(2)?,
            prev_hash: $row.$get(3)?,
            hash: $row.$get(4)?,
        }
    }};
}

pub(crate) use read_link;

/// Tables and the time column that retention cuts on (raw data).
pub(crate) const RAW_TABLES: [(&str, &str); 6] = [
    ("spans", "start_time_unix_nano"),
    ("logs", "time_unix_nano"),
    ("metric_points", "time_unix_nano"),
    ("agent_runs", "start_time_unix_nano"),
    ("agent_actions", "time_unix_nano"),
    ("llm_calls", "start_time_unix_nano"),
];
/// Tables kept as long as rollups, with the time column retention cuts on (a score
/// outlives the calls it judges, as the rollups of their cost do).
pub(crate) const KEPT_WITH_ROLLUPS: [(&str, &str); 1] = [("scores", "time_unix_nano")];
/// Rollup tables (cut on `bucket`).
pub(crate) const ROLLUP_TABLES: [&str; 4] = [
    "span_rollups",
    "metric_rollups",
    "agent_rollups",
    "genai_rollups",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_listings_ask_for_one_more_than_the_limit() {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            for l in [services(d, 1000), metric_names(d, 1000)] {
                assert!(
                    l.sql.ends_with(if d == Dialect::Sqlite {
                        " LIMIT ?"
                    } else {
                        " LIMIT $1"
                    }),
                    "{}",
                    l.sql
                );
                assert_eq!(l.args, [Param::Int(1001)]);
            }
        }
        assert_eq!(
            services(Dialect::Sqlite, usize::MAX).args,
            [Param::Int(i64::MAX)]
        );
    }

    #[test]
    fn span_readers_and_listings_agree_on_the_column_count() {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            assert_eq!(span_columns(d, "s.").split(", ").count(), SPAN_COLUMN_COUNT);
        }
    }

    #[test]
    fn run_and_llm_call_readers_and_listings_agree_on_the_column_count() {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            assert_eq!(run_columns(d).split(", ").count(), 16);
        }
        assert_eq!(LLM_CALL_COLUMNS.split(", ").count(), 23);
        assert_eq!(SCORE_COLUMNS.split(", ").count(), 10);
    }

    #[test]
    fn a_run_stored_again_keeps_its_place_unless_the_new_row_has_one() {
        let s = upsert_run(Dialect::Sqlite);
        assert!(s.contains("?14") && !s.contains("?15"), "{s}");
        let p = upsert_run(Dialect::Postgres);
        assert!(p.contains("$10::text::jsonb, $11, $12, $13, $14)"), "{p}");
        for column in ["span_id", "parent_span_id", "session_id", "user_id"] {
            let keep =
                format!("{column} = COALESCE(NULLIF(excluded.{column}, ''), agent_runs.{column})");
            assert!(s.contains(&keep) && p.contains(&keep), "{column}");
        }
        assert!(p.contains("status = excluded.status"));
    }

    #[test]
    fn run_listing_filters_on_session_user_and_trace() {
        let q = RunQuery {
            session_id: Some("sess".into()),
            user_id: Some("user".into()),
            trace_id: Some("ab".repeat(16)),
            limit: 5,
            ..Default::default()
        };
        let p = runs(Dialect::Postgres, &q);
        assert!(
            p.sql
                .contains("AND session_id = $1 AND user_id = $2 AND trace_id = $3"),
            "{}",
            p.sql
        );
        assert_eq!(
            p.args,
            [
                Param::Text("sess".into()),
                Param::Text("user".into()),
                Param::Text("ab".repeat(16)),
                Param::Int(6),
            ]
        );
    }

    #[test]
    fn llm_call_listing_binds_each_trace_id_up_to_the_bound() {
        let q = LlmCallQuery {
            trace_ids: (0..1500).map(|i| format!("{i:032x}")).collect(),
            session_id: Some("sess".into()),
            from: Some(5),
            limit: 20,
            ..Default::default()
        };
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let l = llm_calls(d, &q);
            // SQLite also bounds the time's bucket (its index is on the bucket).
            let bucket = usize::from(d == Dialect::Sqlite);
            assert_eq!(l.args.len(), MAX_FILTER_IDS + 3 + bucket);
            assert_eq!(l.args[0], Param::Text(format!("{:032x}", 0)));
            assert_eq!(l.args[999], Param::Text(format!("{:032x}", 999)));
            assert_eq!(l.args[1000], Param::Text("sess".into()));
            if bucket == 1 {
                assert_eq!(l.args[1001], Param::Int(0));
            }
            assert_eq!(l.args[1001 + bucket], Param::Int(5));
            assert_eq!(l.args[1002 + bucket], Param::Int(20));
            assert!(l.sql.contains(" AND trace_id IN ("), "{}", l.sql);
            assert!(l.sql.ends_with(match d {
                Dialect::Sqlite => "|| span_id DESC LIMIT (? + 0)",
                Dialect::Postgres => "span_id DESC LIMIT $1003",
            }));
            match d {
                Dialect::Sqlite => {
                    assert_eq!(l.sql.matches('?').count(), 1004);
                    assert!(
                        l.sql.contains(
                            " ORDER BY (start_time_unix_nano >> 30) DESC, \
                             printf('%019d', start_time_unix_nano) || trace_id || span_id DESC"
                        ),
                        "{}",
                        l.sql
                    );
                }
                Dialect::Postgres => {
                    assert!(l.sql.contains("IN ($1, $2, $3,") && !l.sql.contains('?'));
                    assert!(l.sql.contains("finish_reasons::text"));
                }
            }
        }
        let any = llm_calls(
            Dialect::Sqlite,
            &LlmCallQuery {
                limit: 7,
                ..Default::default()
            },
        );
        assert!(!any.sql.contains(" IN ("), "{}", any.sql);
        assert_eq!(any.args, [Param::Int(7)]);
    }

    #[test]
    fn score_listing_matches_any_of_its_targets() {
        let q = ScoreQuery {
            targets: vec![("trace".into(), "t1".into()), ("run".into(), "r1".into())],
            name: Some("quality".into()),
            limit: 3,
        };
        let p = scores(Dialect::Postgres, &q);
        assert!(
            p.sql.contains(
                " AND ((target_kind = $1 AND target_id = $2) OR (target_kind = $3 AND target_id = $4)) \
                 AND name = $5 ORDER BY time_unix_nano DESC, score_id DESC LIMIT $6"
            ),
            "{}",
            p.sql
        );
        let text = |v: &str| Param::Text(v.into());
        assert_eq!(
            p.args,
            [
                text("trace"),
                text("t1"),
                text("run"),
                text("r1"),
                text("quality"),
                Param::Int(3)
            ]
        );
        let many = ScoreQuery {
            targets: (0..1200).map(|i| ("span".into(), format!("{i}"))).collect(),
            limit: 1,
            ..Default::default()
        };
        let s = scores(Dialect::Sqlite, &many);
        assert_eq!(s.args.len(), 2 * MAX_FILTER_IDS + 1);
        assert_eq!(s.args[1999], text("999"));
        assert_eq!(s.sql.matches('?').count(), 2001);
    }

    #[test]
    fn genai_rollup_statements_agree_on_the_columns() {
        let columns: Vec<&str> = GENAI_ROLLUP_COLUMNS.split(", ").collect();
        assert_eq!(columns.len(), 15);
        assert_eq!(columns[GENAI_HIST_COLUMN], "hist");
        assert_eq!(
            SPAN_ROLLUP_COLUMNS.split(", ").nth(SPAN_HIST_COLUMN),
            Some("hist")
        );
        let s = upsert_genai_rollup(Dialect::Sqlite);
        assert!(s.contains("?15)") && !s.contains("?16"), "{s}");
        assert!(
            s.contains(
                "input_tokens = CASE WHEN input_tokens > 9223372036854775807 - excluded.input_tokens \
                 THEN 9223372036854775807 ELSE input_tokens + excluded.input_tokens END"
            ),
            "{s}"
        );
        assert!(s.contains("hist = hist_merge(hist, excluded.hist)"), "{s}");
        let p = upsert_genai_rollup(Dialect::Postgres);
        assert!(p.contains("$15)") && !p.contains("$16"), "{p}");
        for column in [
            "calls",
            "errors",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "unpriced_calls",
            "duration_sum_ns",
        ] {
            let sum = format!(
                "{column} = CASE WHEN genai_rollups.{column} > 9223372036854775807 - excluded.{column}"
            );
            assert!(p.contains(&sum), "{column}: {p}");
        }
        assert!(p.contains("cost_usd = genai_rollups.cost_usd + excluded.cost_usd"));
        assert!(p.contains("hist = hist_merge(genai_rollups.hist, excluded.hist)"));
        let q = GenAiRollupQuery {
            resolution: 3600,
            from: 10,
            to: u64::MAX,
            dimension: "model".into(),
        };
        let l = genai_rollups(Dialect::Postgres, &q);
        assert!(
            l.sql.ends_with(
                " WHERE resolution = $1 AND bucket >= $2 AND bucket <= $3 AND dimension = $4 \
                 ORDER BY bucket, key"
            ),
            "{}",
            l.sql
        );
        assert_eq!(
            l.args,
            [
                Param::Int(3600),
                Param::Int(10),
                Param::Int(i64::MAX),
                Param::Text("model".into())
            ]
        );
        assert!(ROLLUP_TABLES.contains(&"genai_rollups"));
    }

    #[test]
    fn placeholders_per_dialect() {
        let q = LogQuery {
            service: Some("api".into()),
            severity_min: Some(9),
            limit: 10,
            cursor: Some(Cursor::with_id(5, 7)),
            ..Default::default()
        };
        let s = logs(Dialect::Sqlite, &q);
        let p = logs(Dialect::Postgres, &q);
        assert_eq!(s.args, p.args);
        assert_eq!(s.args.len(), 6);
        assert_eq!(s.sql.matches('?').count(), 6);
        assert!(p.sql.contains("$6") && !p.sql.contains('?'));
        assert!(p.sql.contains("attributes::text"));
        assert_eq!(s.args.last(), Some(&Param::Int(11)));
    }
}
