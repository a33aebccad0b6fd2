//! The probed targets (read token): `GET /api/v1/probes` (each target's last state,
//! latency, reason and dependencies) and `GET /api/v1/probes/graph.svg` (the targets
//! and their dependencies drawn).

use super::error::ApiError;
use super::params::check_parameters;
use super::response::svg_response;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::ui::svg;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::HashMap;

/// The probe routes, behind the read scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/probes", get(probes))
        .route("/api/v1/probes/graph.svg", get(probe_graph));
    scoped(state, Scope::Read, read)
}

/// `GET /api/v1/probes`: each probed target's last state, latency, reason and
/// dependencies (`serve --probe`), in the probe round's order: root causes first.
async fn probes(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &[])?;
    let items = state.probes.list();
    let up = items.iter().filter(|p| p.state == "up").count();
    Ok(axum::Json(json!({
        "items": items,
        "total": items.len(),
        "up": up,
        "next_cursor": null,
    }))
    .into_response())
}

/// `GET /api/v1/probes/graph.svg`: the probed targets and their dependencies.
async fn probe_graph(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &[])?;
    let nodes: Vec<svg::Node> = state
        .probes
        .list()
        .into_iter()
        .map(|p| svg::Node {
            name: p.name,
            state: p.state,
            depends_on: p.depends_on,
        })
        .collect();
    Ok(svg_response(svg::dependency_graph(&nodes)))
}
