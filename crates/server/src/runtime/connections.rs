//! The HTTP listener's accept loop: at most `max_connections` connections served at
//! once (the next ones wait in the listen backlog until one closes), HTTP/1.1 with a
//! header read timeout (hyper restarts it when a keep-alive connection goes idle, so
//! it also closes a connection idle that long), the client's address given to handlers
//! as [`ConnectInfo`], and a graceful shutdown that lets the requests in flight finish,
//! for a bounded time. The request body deadline is a layer of the application
//! ([`crate::http::with_body_timeout`]).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How the HTTP listener bounds its connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's headers; also how long a keep-alive
    /// connection may stay idle.
    pub header_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long shutdown waits for open connections before dropping them.
    pub drain: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the open
/// connections finish their requests for at most `limits.drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let app = TowerToHyperService::new(app);
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first: past the cap, connections wait in the backlog, unread.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            hyper::service::Service::call(&app, request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(client = %remote, error = %e, "an HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    // New connections are refused from here on; open ones finish their requests.
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "HTTP connections still open {} after the signal were dropped",
            automagik_telemetry_core::human::duration(limits.drain)
        );
    }
}

/// A connection reset before it was accepted is skipped; any other error (such as
/// running out of file descriptors) is logged and accepting resumes after a pause.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting an HTTP connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
