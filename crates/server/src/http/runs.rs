//! Agent runs (read token): `GET /api/v1/agents/runs` (runs, filtered by agent, status
//! and time, newest first) and `GET /api/v1/agents/runs/{correlation_id}` (one run with
//! its actions, oldest first).

use super::error::ApiError;
use super::params::{check_parameters, cursor_parameter, limit_parameter, param, time_param};
use super::read::blocking;
use super::response::parse_json;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::query::{Cursor, now_ns};
use crate::store::{RunQuery, StoredRun, rfc3339};
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

fn run_json(r: StoredRun) -> serde_json::Value {
    let run = r.row;
    json!({
        "correlation_id": run.correlation_id,
        "agent_name": run.agent_name,
        "status": run.status,
        "service_name": run.service_name,
        "trace_id": run.trace_id,
        "start_time": rfc3339(run.start_time_unix_nano),
        "end_time": rfc3339(run.end_time_unix_nano),
        "duration_ms": run.end_time_unix_nano.saturating_sub(run.start_time_unix_nano) as f64 / 1e6,
        "quality_score": run.quality_score,
        "error": run.error,
        "action_count": r.action_count,
        "attributes": parse_json(&run.attributes),
    })
}

async fn list_runs(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(
        &params,
        &["agent", "status", "from", "to", "limit", "cursor"],
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
    let query = RunQuery {
        agent: get("agent").map(str::to_string),
        status,
        from: time("from")?,
        to: time("to")?,
        limit: limit_parameter(&params)?,
        cursor: cursor_parameter(&params)?,
        ..Default::default()
    };
    let page = blocking(&state, move |s| s.runs(&query)).await?;
    let next = page.next.as_ref().map(Cursor::encode);
    Ok(axum::Json(json!({
        "items": page.items.into_iter().map(run_json).collect::<Vec<_>>(),
        "next_cursor": next,
    }))
    .into_response())
}

/// The run with its actions, oldest first.
async fn get_run(
    State(state): State<AppState>,
    Path(correlation_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = correlation_id.clone();
    let (run, actions) = blocking(&state, move |s| {
        let run = s.run(&id)?;
        let actions = if run.is_some() {
            s.actions(&id)?
        } else {
            Vec::new()
        };
        Ok((run, actions))
    })
    .await?;
    let run = run.ok_or(ApiError::NotFound("run"))?;
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
    let mut body = run_json(run);
    body["actions"] = actions.into();
    Ok(axum::Json(body).into_response())
}
