//! GenAI views: sessions (`GET /api/v1/sessions`, `GET /api/v1/sessions/{id}`), usage
//! (`GET /api/v1/genai/usage`) and scores (`POST /api/v1/scores` with the ingest scope,
//! `GET /api/v1/scores`).
//!
//! Usage is read from the GenAI usage rollups; sessions from the stored LLM calls and
//! runs of the range (at most [`MAX_CALLS`] calls; a wider range is refused with the
//! reason).

use super::error::ApiError;
use super::params::{
    check_parameters, check_step_count, limit_parameter, param, step_param, time_range,
};
use super::read::{blocking, span_resolution};
use super::runs::{call_json, score_json};
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::genai::read::runs_with_totals;
use crate::genai::runs::Totals;
use crate::query::{now_ns, parse_time};
use crate::rollup::{GENAI_DIMENSIONS, GenAiAgg, quantile_ns};
use crate::rows::{Batch, LlmCallRow, ScoreRow};
use crate::store::{GenAiRollupQuery, LlmCallQuery, RunQuery, ScoreQuery, rfc3339};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most LLM calls one sessions or usage answer reads.
pub const MAX_CALLS: usize = 200_000;
/// Most runs one sessions answer reads.
const MAX_RUNS: usize = 10_000;
/// Most scores one request posts.
const MAX_SCORES: usize = 1_000;
/// Longest name, id or source of a score, in bytes.
const MAX_NAME: usize = 256;
/// Longest comment or categorical value, in bytes.
const MAX_TEXT: usize = 16 * 1024;

/// The routes: reads behind the read scope, score posts behind the ingest scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/sessions", get(list_sessions))
        .route("/api/v1/sessions/{id}", get(get_session))
        .route("/api/v1/genai/usage", get(usage))
        .route("/api/v1/scores", get(list_scores));
    let ingest = Router::new()
        .route("/api/v1/scores", axum::routing::post(post_scores))
        .layer(DefaultBodyLimit::max(4 * 1024 * 1024));
    scoped(state, Scope::Read, read).merge(scoped(state, Scope::Ingest, ingest))
}

/// The LLM calls of `query`, refused when the range holds more than [`MAX_CALLS`].
fn bounded_calls(
    s: &dyn crate::store::Store,
    mut query: LlmCallQuery,
) -> Result<Result<Vec<LlmCallRow>, ApiError>, crate::store::StoreError> {
    query.limit = MAX_CALLS + 1;
    let calls = s.llm_calls(&query)?;
    if calls.len() > MAX_CALLS {
        return Ok(Err(ApiError::BadRequest(format!(
            "from, to: the range holds more than {MAX_CALLS} LLM calls; narrow it"
        ))));
    }
    Ok(Ok(calls))
}

async fn list_sessions(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["from", "to", "user", "limit"])?;
    let (from, to) = time_range(&params, 24 * 3_600_000_000_000)?;
    let limit = limit_parameter(&params)?;
    let user = param(&params, "user").map(str::to_string);
    let (runs, calls) = blocking(&state, move |s| {
        let runs = s.runs(&RunQuery {
            from: Some(from),
            to: Some(to),
            user_id: user.clone(),
            limit: MAX_RUNS,
            ..Default::default()
        })?;
        let calls = bounded_calls(
            s,
            LlmCallQuery {
                from: Some(from),
                to: Some(to),
                user_id: user,
                ..Default::default()
            },
        )?;
        Ok((runs.items, calls))
    })
    .await?;
    let calls = calls?;
    #[derive(Default)]
    struct Session {
        runs: u64,
        traces: BTreeSet<String>,
        users: BTreeSet<String>,
        first: u64,
        last: u64,
        totals: Totals,
    }
    let mut sessions: HashMap<String, Session> = HashMap::new();
    fn touch<'a>(
        sessions: &'a mut HashMap<String, Session>,
        id: &str,
        (trace, user): (&str, &str),
        start: u64,
        end: u64,
    ) -> &'a mut Session {
        let s = sessions.entry(id.to_string()).or_insert_with(|| Session {
            first: u64::MAX,
            ..Default::default()
        });
        s.traces.insert(trace.to_string());
        if !user.is_empty() && s.users.len() < 16 {
            s.users.insert(user.to_string());
        }
        s.first = s.first.min(start);
        s.last = s.last.max(end);
        s
    }
    for r in runs.iter().filter(|r| !r.row.session_id.is_empty()) {
        let r = &r.row;
        touch(
            &mut sessions,
            &r.session_id,
            (&r.trace_id, &r.user_id),
            r.start_time_unix_nano,
            r.end_time_unix_nano,
        )
        .runs += 1;
    }
    for c in calls.iter().filter(|c| !c.session_id.is_empty()) {
        let end = c.start_time_unix_nano.saturating_add(c.duration_ns);
        touch(
            &mut sessions,
            &c.session_id,
            (&c.trace_id, &c.user_id),
            c.start_time_unix_nano,
            end,
        )
        .totals
        .add_call(c);
    }
    let mut items: Vec<(String, Session)> = sessions.into_iter().collect();
    items.sort_by(|a, b| b.1.last.cmp(&a.1.last).then(a.0.cmp(&b.0)));
    let more = items.len() > limit;
    items.truncate(limit);
    let items: Vec<Json> = items
        .into_iter()
        .map(|(id, s)| {
            json!({
                "session_id": id,
                "runs": s.runs,
                "traces": s.traces.len(),
                "users": s.users,
                "first_time": rfc3339(s.first),
                "last_time": rfc3339(s.last),
                "totals": s.totals,
            })
        })
        .collect();
    Ok(axum::Json(json!({"items": items, "truncated": more, "next_cursor": null})).into_response())
}

/// One session: its turns in order (each run at the top of its trace, or each trace of
/// calls without a run), its totals and scores.
async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sid = id.clone();
    let (views, calls, scores) = blocking(&state, move |s| {
        let runs = s.runs(&RunQuery {
            session_id: Some(sid.clone()),
            limit: MAX_RUNS,
            ..Default::default()
        })?;
        let views = runs_with_totals(s, runs.items)?;
        let calls = bounded_calls(
            s,
            LlmCallQuery {
                session_id: Some(sid.clone()),
                ..Default::default()
            },
        )?;
        let scores = s.scores(&ScoreQuery {
            targets: vec![("session".into(), sid)],
            name: None,
            limit: 1_000,
        })?;
        Ok((views, calls, scores))
    })
    .await?;
    let calls = calls?;
    if views.is_empty() && calls.is_empty() && scores.is_empty() {
        return Err(ApiError::NotFound("session"));
    }
    // The session's totals: its top runs' (their calls, tool calls and nested runs) and
    // the calls outside any run.
    let mut totals = Totals::default();
    for v in views.iter().filter(|v| v.parent.is_none()) {
        totals.add_nested(&v.totals, false);
    }
    let run_traces: BTreeSet<&str> = views.iter().map(|v| v.run.row.trace_id.as_str()).collect();
    for c in calls
        .iter()
        .filter(|c| !run_traces.contains(c.trace_id.as_str()))
    {
        totals.add_call(c);
    }
    let mut turns: Vec<(u64, Json)> = views
        .iter()
        .filter(|v| v.parent.is_none())
        .map(|v| {
            let r = &v.run.row;
            (
                r.start_time_unix_nano,
                json!({
                    "kind": "run",
                    "correlation_id": r.correlation_id,
                    "agent_name": r.agent_name,
                    "status": r.status,
                    "trace_id": r.trace_id,
                    "start_time": rfc3339(r.start_time_unix_nano),
                    "end_time": rfc3339(r.end_time_unix_nano),
                    "totals": v.totals,
                }),
            )
        })
        .collect();
    // Calls outside any run of the session: one turn per trace.
    let mut by_trace: BTreeMap<&str, Vec<&LlmCallRow>> = BTreeMap::new();
    for c in calls
        .iter()
        .filter(|c| !run_traces.contains(c.trace_id.as_str()))
    {
        by_trace.entry(c.trace_id.as_str()).or_default().push(c);
    }
    for (trace, cs) in by_trace {
        let mut t = Totals::default();
        cs.iter().for_each(|c| t.add_call(c));
        let start = cs.iter().map(|c| c.start_time_unix_nano).min().unwrap_or(0);
        turns.push((
            start,
            json!({
                "kind": "trace",
                "trace_id": trace,
                "start_time": rfc3339(start),
                "llm_calls": cs.iter().map(|c| call_json(c)).collect::<Vec<_>>(),
                "totals": t,
            }),
        ));
    }
    turns.sort_by_key(|(start, _)| *start);
    Ok(axum::Json(json!({
        "session_id": id,
        "turns": turns.into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
        "totals": totals,
        "scores": scores.iter().map(score_json).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// One group's figures in one step (or over the range), as the API gives them; latency
/// percentiles from the rollups' latency histogram (within one bucket, about 9 %).
fn usage_json(a: &GenAiAgg) -> Json {
    let q = |p: f64| quantile_ns(&a.hist, p).map(|ns| ns / 1e6);
    json!({
        "calls": a.calls,
        "errors": a.errors,
        "input_tokens": a.input_tokens,
        "output_tokens": a.output_tokens,
        "cache_read_tokens": a.cache_read_tokens,
        "cache_write_tokens": a.cache_write_tokens,
        "reasoning_tokens": a.reasoning_tokens,
        "cost_usd": a.cost_usd,
        "unpriced_calls": a.unpriced_calls,
        "latency_ms": {"p50": q(0.5), "p95": q(0.95), "p99": q(0.99)},
    })
}

/// Tokens by kind, cost, calls, errors and latency percentiles of the LLM calls of a
/// range, per step and per `group_by` (model, provider, agent, session, user), from the
/// GenAI usage rollups (minute rows up to two days, hourly beyond; `step` in whole
/// minutes or hours accordingly).
async fn usage(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["from", "to", "step", "group_by"])?;
    let (from, to) = time_range(&params, 24 * 3_600_000_000_000)?;
    let resolution = span_resolution(from, to);
    let unit = u64::from(resolution) * 1_000_000_000;
    let step = step_param(&params, to - from, unit)?;
    if step % unit != 0 {
        return Err(ApiError::BadRequest(format!(
            "step: a whole number of {} for this range",
            if resolution == 60 { "minutes" } else { "hours" }
        )));
    }
    check_step_count(to - from, step, "steps")?;
    let group_by = param(&params, "group_by").map(str::to_string);
    if let Some(g) = &group_by
        && !GENAI_DIMENSIONS.contains(&g.as_str())
    {
        return Err(ApiError::BadRequest(
            "group_by: expected model, provider, agent, session or user".into(),
        ));
    }
    // Without a group, every call is counted once under its model, then added up.
    let dimension = group_by.clone().unwrap_or_else(|| "model".into());
    let first = from - from % unit;
    let rows = blocking(&state, move |s| {
        s.genai_rollups(&GenAiRollupQuery {
            resolution,
            from: first,
            to,
            dimension,
        })
    })
    .await?;
    let mut groups: BTreeMap<String, (GenAiAgg, BTreeMap<u64, GenAiAgg>)> = BTreeMap::new();
    for (k, a) in &rows {
        let key = if group_by.is_some() {
            k.key.clone()
        } else {
            String::new()
        };
        let g = groups.entry(key).or_default();
        g.0.merge(a);
        let at = first + (k.bucket.saturating_sub(first) / step) * step;
        g.1.entry(at).or_default().merge(a);
    }
    let groups: Vec<Json> = groups
        .into_iter()
        .map(|(group, (total, steps))| {
            json!({
                "group": if group_by.is_some() { json!(group) } else { Json::Null },
                "totals": usage_json(&total),
                "points": steps
                    .into_iter()
                    .map(|(t, a)| {
                        let mut p = usage_json(&a);
                        p["time"] = json!(rfc3339(t));
                        p
                    })
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "from": rfc3339(from),
        "to": rfc3339(to),
        "step_ms": step / 1_000_000,
        "group_by": group_by,
        "groups": groups,
    }))
    .into_response())
}

/// A text field of a posted score, bounded.
fn text_field(
    o: &serde_json::Map<String, Json>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match o.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.len() <= max && !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(Json::String(s)) if s.trim().is_empty() => {
            Err(ApiError::BadRequest(format!("{key}: must not be empty")))
        }
        Some(Json::String(_)) => Err(ApiError::BadRequest(format!("{key}: at most {max} bytes"))),
        Some(_) => Err(ApiError::BadRequest(format!("{key}: expected a string"))),
    }
}

/// One posted score, checked.
fn score_of(v: &Json, now: u64) -> Result<ScoreRow, ApiError> {
    let Json::Object(o) = v else {
        return Err(ApiError::BadRequest(
            "a score is a JSON object with name, value and a target".into(),
        ));
    };
    const KNOWN: [&str; 11] = [
        "id",
        "name",
        "value",
        "data_type",
        "comment",
        "source",
        "time",
        "trace_id",
        "span_id",
        "run_id",
        "session_id",
    ];
    if let Some(k) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::BadRequest(format!(
            "unknown field {k:?}; expected one of {}",
            KNOWN.join(", ")
        )));
    }
    let name = text_field(o, "name", MAX_NAME)?
        .ok_or_else(|| ApiError::BadRequest("name: required".into()))?;
    let declared = text_field(o, "data_type", MAX_NAME)?;
    let (data_type, value, string_value) = match (o.get("value"), declared.as_deref()) {
        (Some(Json::Number(n)), None | Some("numeric")) => {
            (
                "numeric",
                Some(n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
                    ApiError::BadRequest("value: expected a finite number".into())
                })?),
                None,
            )
        }
        (Some(Json::Bool(b)), None | Some("boolean")) => {
            ("boolean", Some(f64::from(u8::from(*b))), None)
        }
        (Some(Json::Number(n)), Some("boolean"))
            if n.as_f64() == Some(0.0) || n.as_f64() == Some(1.0) =>
        {
            ("boolean", n.as_f64(), None)
        }
        (Some(Json::String(s)), None | Some("categorical")) if s.len() <= MAX_TEXT => {
            ("categorical", None, Some(s.clone()))
        }
        (None | Some(Json::Null), _) => return Err(ApiError::BadRequest("value: required".into())),
        (_, Some(t)) if !["numeric", "categorical", "boolean"].contains(&t) => {
            return Err(ApiError::BadRequest(
                "data_type: expected numeric, categorical or boolean".into(),
            ));
        }
        _ => {
            return Err(ApiError::BadRequest(
                "value: a number (numeric), true or false (boolean) or a string of at most 16 KiB (categorical), matching data_type".into(),
            ));
        }
    };
    let source = text_field(o, "source", MAX_NAME)?.unwrap_or_else(|| "human".into());
    if !["human", "llm", "code"].contains(&source.as_str()) {
        return Err(ApiError::BadRequest(
            "source: expected human, llm or code".into(),
        ));
    }
    let hex = |key: &str, len: usize| -> Result<Option<String>, ApiError> {
        text_field(o, key, MAX_NAME)?
            .map(|v| {
                let v = v.to_ascii_lowercase();
                if v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(v)
                } else {
                    Err(ApiError::BadRequest(format!(
                        "{key}: expected {len} hex digits"
                    )))
                }
            })
            .transpose()
    };
    let trace = hex("trace_id", 32)?;
    let span = hex("span_id", 16)?;
    let run = text_field(o, "run_id", MAX_NAME)?;
    let session = text_field(o, "session_id", MAX_NAME)?;
    let (target_kind, target_id) = match (trace, span, run, session) {
        (Some(t), Some(s), None, None) => ("span", format!("{t}-{s}")),
        (Some(t), None, None, None) => ("trace", t),
        (None, None, Some(r), None) => ("run", r),
        (None, None, None, Some(s)) => ("session", s),
        (None, Some(_), None, None) => {
            return Err(ApiError::BadRequest(
                "span_id: give the span's trace_id with it".into(),
            ));
        }
        _ => {
            return Err(ApiError::BadRequest(
                "a score has one target: trace_id (with span_id for a span), run_id or session_id"
                    .into(),
            ));
        }
    };
    let time = match text_field(o, "time", MAX_NAME)? {
        Some(t) => parse_time("time", &t, now).map_err(ApiError::BadRequest)?,
        None => now,
    };
    Ok(ScoreRow {
        score_id: text_field(o, "id", MAX_NAME)?
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        target_kind: target_kind.into(),
        target_id,
        name,
        data_type: data_type.into(),
        value,
        string_value,
        comment: text_field(o, "comment", MAX_TEXT)?,
        source,
        time_unix_nano: time,
    })
}

/// Stores one score or an array of them (at most 1,000); a target may arrive before or
/// after its score. Answers the stored ids.
async fn post_scores(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let v: Json = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body: not JSON ({e})")))?;
    let items = match v {
        Json::Array(items) if items.len() > MAX_SCORES => {
            return Err(ApiError::BadRequest(format!(
                "body: at most {MAX_SCORES} scores per request"
            )));
        }
        Json::Array(items) => items,
        other => vec![other],
    };
    let now = now_ns();
    let scores = items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            score_of(v, now).map_err(|e| match e {
                ApiError::BadRequest(m) if items.len() > 1 => {
                    ApiError::BadRequest(format!("score {i}: {m}"))
                }
                other => other,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<String> = scores.iter().map(|s| s.score_id.clone()).collect();
    blocking(&state, move |s| {
        s.insert(Batch {
            scores,
            ..Default::default()
        })
    })
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(json!({"ids": ids})),
    )
        .into_response())
}

/// Scores of a target (`target=KIND:ID`, or `trace_id=` with `span_id=`, `run_id=`,
/// `session_id=`), newest first.
async fn list_scores(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(
        &params,
        &[
            "target",
            "trace_id",
            "span_id",
            "run_id",
            "session_id",
            "name",
            "limit",
        ],
    )?;
    let get = |k: &str| param(&params, k).map(str::to_string);
    let mut targets = Vec::new();
    if let Some(t) = get("target") {
        let (kind, id) = t.split_once(':').ok_or_else(|| {
            ApiError::BadRequest("target: expected KIND:ID (trace, span, run or session)".into())
        })?;
        if !["trace", "span", "run", "session"].contains(&kind) {
            return Err(ApiError::BadRequest(
                "target: the kind is trace, span, run or session".into(),
            ));
        }
        targets.push((kind.to_string(), id.to_string()));
    }
    match (get("trace_id"), get("span_id")) {
        (Some(t), Some(s)) => targets.push(("span".into(), format!("{t}-{s}"))),
        (Some(t), None) => targets.push(("trace".into(), t)),
        (None, Some(_)) => {
            return Err(ApiError::BadRequest(
                "span_id: give the span's trace_id with it".into(),
            ));
        }
        (None, None) => {}
    }
    if let Some(r) = get("run_id") {
        targets.push(("run".into(), r));
    }
    if let Some(s) = get("session_id") {
        targets.push(("session".into(), s));
    }
    let query = ScoreQuery {
        targets,
        name: get("name"),
        limit: limit_parameter(&params)?,
    };
    let scores = blocking(&state, move |s| s.scores(&query)).await?;
    Ok(axum::Json(json!({
        "items": scores.iter().map(score_json).collect::<Vec<_>>(),
        "next_cursor": null,
    }))
    .into_response())
}
