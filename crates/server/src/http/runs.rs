//! Agent runs (read token): `GET /api/v1/agents/runs` (runs, filtered by agent, status,
//! time, session, user and score, newest first, each with its totals) and
//! `GET /api/v1/agents/runs/{correlation_id}` (one run with its nested runs, LLM calls
//! and their messages, actions, scores and totals).

use super::error::ApiError;
use super::params::{check_parameters, cursor_parameter, limit_parameter, param, time_param};
use super::read::blocking;
use super::response::parse_json;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::genai::read::{RunView, genai_events, messages_of, runs_with_totals};
use crate::query::{Cursor, now_ns};
use crate::rows::{LlmCallRow, ScoreRow};
use crate::store::{RunQuery, rfc3339};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::HashMap;

/// The run routes, behind the read scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/agents/runs", get(list_runs))
        .route("/api/v1/agents/runs/{correlation_id}", get(get_run));
    scoped(state, Scope::Read, read)
}

/// A score as the API gives it.
pub(super) fn score_json(s: &ScoreRow) -> serde_json::Value {
    json!({
        "id": s.score_id,
        "target": {"kind": s.target_kind, "id": s.target_id},
        "name": s.name,
        "data_type": s.data_type,
        "value": match s.data_type.as_str() {
            "boolean" => json!(s.value.map(|v| v != 0.0)),
            "categorical" => json!(s.string_value),
            _ => json!(s.value),
        },
        "comment": s.comment,
        "source": s.source,
        "time": rfc3339(s.time_unix_nano),
    })
}

/// An LLM call as the API gives it (its messages are added by the run page).
pub(super) fn call_json(c: &LlmCallRow) -> serde_json::Value {
    json!({
        "trace_id": c.trace_id,
        "span_id": c.span_id,
        "correlation_id": (!c.correlation_id.is_empty()).then_some(&c.correlation_id),
        "agent_name": c.agent_name,
        "service_name": c.service_name,
        "operation": c.operation,
        "provider": c.provider,
        "request_model": c.request_model,
        "response_model": c.response_model,
        "input_tokens": c.input_tokens,
        "output_tokens": c.output_tokens,
        "cache_read_tokens": c.cache_read_tokens,
        "cache_write_tokens": c.cache_write_tokens,
        "reasoning_tokens": c.reasoning_tokens,
        "cost_usd": c.cost_usd,
        "priced": c.cost_usd.is_some(),
        "start_time": rfc3339(c.start_time_unix_nano),
        "duration_ms": c.duration_ns as f64 / 1e6,
        "time_to_first_token_ms": c.time_to_first_token_ns.map(|n| n as f64 / 1e6),
        "finish_reasons": parse_json(&c.finish_reasons),
        "is_error": c.is_error,
        "session_id": (!c.session_id.is_empty()).then_some(&c.session_id),
        "user_id": (!c.user_id.is_empty()).then_some(&c.user_id),
    })
}

fn run_json(v: &RunView) -> serde_json::Value {
    let run = &v.run.row;
    let empty = |s: &String| (!s.is_empty()).then(|| s.clone());
    json!({
        "correlation_id": run.correlation_id,
        "agent_name": run.agent_name,
        "status": run.status,
        "service_name": run.service_name,
        "trace_id": run.trace_id,
        "span_id": empty(&run.span_id),
        "parent_correlation_id": v.parent,
        "children": v.children,
        "session_id": empty(&run.session_id),
        "user_id": empty(&run.user_id),
        "start_time": rfc3339(run.start_time_unix_nano),
        "end_time": rfc3339(run.end_time_unix_nano),
        "duration_ms": run.end_time_unix_nano.saturating_sub(run.start_time_unix_nano) as f64 / 1e6,
        "quality_score": run.quality_score,
        "error": run.error,
        "action_count": v.run.action_count,
        "models": v.totals.models,
        "totals": v.totals,
        "scores": v.scores.iter().map(score_json).collect::<Vec<_>>(),
        "attributes": parse_json(&run.attributes),
    })
}

/// `score=NAME` with `min_score=` / `max_score=` (numeric and boolean scores) or
/// `score_value=` (categorical): keeps the runs having such a score.
fn score_filter(
    params: &HashMap<String, String>,
) -> Result<Option<impl Fn(&RunView) -> bool>, ApiError> {
    let Some(name) = param(params, "score").map(str::to_string) else {
        if ["min_score", "max_score", "score_value"]
            .iter()
            .any(|k| param(params, k).is_some())
        {
            return Err(ApiError::BadRequest(
                "score: name the score that min_score, max_score or score_value apply to".into(),
            ));
        }
        return Ok(None);
    };
    let number = |k: &str| {
        param(params, k)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| ApiError::BadRequest(format!("{k}: expected a number")))
            })
            .transpose()
    };
    let (min, max) = (number("min_score")?, number("max_score")?);
    let label = param(params, "score_value").map(str::to_string);
    Ok(Some(move |v: &RunView| {
        v.scores.iter().any(|s| {
            s.name == name
                && min.is_none_or(|m| s.value.is_some_and(|x| x >= m))
                && max.is_none_or(|m| s.value.is_some_and(|x| x <= m))
                && label
                    .as_ref()
                    .is_none_or(|l| s.string_value.as_ref() == Some(l))
        })
    }))
}

async fn list_runs(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(
        &params,
        &[
            "agent",
            "status",
            "from",
            "to",
            "session",
            "user",
            "score",
            "min_score",
            "max_score",
            "score_value",
            "limit",
            "cursor",
        ],
    )?;
    let now = now_ns();
    let get = |k: &str| param(&params, k);
    let time = |k: &str| time_param(&params, k, now);
    let status = get("status")
        .map(|s| match s {
            "completed" | "failed" => Ok(s.to_string()),
            _ => Err(ApiError::BadRequest(
                "status: expected completed or failed".into(),
            )),
        })
        .transpose()?;
    let keep = score_filter(&params)?;
    let query = RunQuery {
        agent: get("agent").map(str::to_string),
        status,
        from: time("from")?,
        to: time("to")?,
        session_id: get("session").map(str::to_string),
        user_id: get("user").map(str::to_string),
        limit: limit_parameter(&params)?,
        cursor: cursor_parameter(&params)?,
        ..Default::default()
    };
    let (views, next) = blocking(&state, move |s| {
        let page = s.runs(&query)?;
        Ok((runs_with_totals(s, page.items)?, page.next))
    })
    .await?;
    let next = next.as_ref().map(Cursor::encode);
    let items: Vec<serde_json::Value> = views
        .iter()
        .filter(|v| keep.as_ref().is_none_or(|k| k(v)))
        .map(run_json)
        .collect();
    Ok(axum::Json(json!({
        "items": items,
        "next_cursor": next,
    }))
    .into_response())
}

/// The run with its nested runs, LLM calls (with their messages), actions (oldest first),
/// scores and totals.
async fn get_run(
    State(state): State<AppState>,
    Path(correlation_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = correlation_id.clone();
    let found = blocking(&state, move |s| {
        let Some(run) = s.run(&id)? else {
            return Ok(None);
        };
        let trace_id = run.row.trace_id.clone();
        let view = runs_with_totals(s, vec![run])?.pop();
        let mut actions = s.actions(&id)?;
        let top = view.as_ref().is_some_and(|v| v.parent.is_none());
        if top && trace_id != id {
            // Tool calls that named no run and ingest could not place.
            actions.extend(s.actions(&trace_id)?);
        }
        actions.sort_by_key(|a| a.time_unix_nano);
        actions.dedup_by(|a, b| a.action_id == b.action_id);
        let (spans, events) = match &view {
            Some(v) if !v.calls.is_empty() => (s.trace(&trace_id)?, genai_events(s, &trace_id)?),
            _ => (Vec::new(), HashMap::new()),
        };
        let mut nested = Vec::new();
        for child in view.iter().flat_map(|v| &v.children) {
            nested.extend(s.run(child)?);
        }
        let nested = runs_with_totals(s, nested)?;
        Ok(view.map(|v| (v, actions, spans, events, nested)))
    })
    .await?;
    let (view, actions, spans, events, nested) = found.ok_or(ApiError::NotFound("run"))?;
    let actions: Vec<serde_json::Value> = actions
        .into_iter()
        .map(|a| {
            json!({
                "action_id": a.action_id,
                "action_type": a.action_type,
                "name": a.name,
                "agent_name": a.agent_name,
                "is_error": a.is_error,
                "time": rfc3339(a.time_unix_nano),
                "duration_ms": a.duration_ns as f64 / 1e6,
                "attributes": parse_json(&a.attributes),
            })
        })
        .collect();
    let calls: Vec<serde_json::Value> = view
        .calls
        .iter()
        .map(|c| {
            let span = spans.iter().find(|s| s.span_id == c.span_id);
            let logged: Vec<_> = events.get(&c.span_id).into_iter().flatten().collect();
            let mut j = call_json(c);
            j["messages"] = messages_of(span, &logged);
            j
        })
        .collect();
    let mut body = run_json(&view);
    body["actions"] = actions.into();
    body["llm_calls"] = calls.into();
    body["nested_runs"] = nested.iter().map(run_json).collect::<Vec<_>>().into();
    Ok(axum::Json(body).into_response())
}
