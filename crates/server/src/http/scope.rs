//! Token scopes on routes: [`scoped`] puts a group of routes behind a scope; a request
//! whose bearer token is missing or unknown is refused with 401, one whose token lacks
//! the scope with 403.

use super::error::ApiError;
use super::state::AppState;
use crate::auth::{Denied, Scope};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// `routes` behind `scope`: each of them needs a bearer token with that scope.
pub(super) fn scoped(state: &AppState, scope: Scope, routes: Router<AppState>) -> Router<AppState> {
    routes.route_layer(middleware::from_fn_with_state(
        (state.clone(), scope),
        require_scope,
    ))
}

/// Refuses a request whose bearer token is missing, unknown (401) or lacks the scope
/// of its route (403).
async fn require_scope(
    State((state, scope)): State<(AppState, Scope)>,
    req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let checked = state.auth.check(header, scope);
    if checked.is_err() && scope == Scope::Ingest {
        let signal = match req.uri().path() {
            "/v1/traces" => "traces",
            "/v1/metrics" => "metrics",
            _ => "logs",
        };
        state
            .metrics
            .rejected_request_from(signal, "unauthorized", client_address(&req));
    }
    match checked {
        Ok(()) => next.run(req).await,
        Err(Denied::Unauthenticated) => {
            let mut resp = ApiError::Unauthorized.into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"automagik-telemetry\""),
            );
            resp
        }
        Err(Denied::Forbidden) => ApiError::Forbidden(scope).into_response(),
    }
}

/// The client's address, as the accept loop recorded it (absent when the application is
/// called without it, as in tests).
pub(super) fn client_address(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}
