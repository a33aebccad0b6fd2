//! A deadline on every request body: a client that sends its body too slowly (a byte at
//! a time, or a chunked body that never ends) is answered `408 Request Timeout` and its
//! connection is closed. The time counts from the end of the request's headers; the
//! headers' own time limit, the idle keep-alive bound and the connection cap belong to
//! the listener (`runtime::connections`).

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// `router` with every request body bounded to `timeout` from the end of its headers:
/// past it, reading the body fails, the answer is 408 and the connection is closed.
pub fn with_body_timeout(router: Router, timeout: Duration) -> Router {
    router.layer(middleware::from_fn_with_state(timeout, body_deadline))
}

/// Puts the deadline on the request's body; answers 408 if the handler met it.
async fn body_deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let flag = expired.clone();
    let request = request.map(move |inner| {
        Body::new(DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            expired: flag,
            timeout,
        })
    });
    let response = next.run(request).await;
    if expired.load(Ordering::Acquire) {
        tracing::debug!(
            ?timeout,
            "a request body did not arrive in time; closing its connection"
        );
        return timed_out(timeout);
    }
    response
}

/// 408, and the connection closes after it.
fn timed_out(timeout: Duration) -> Response {
    let message = format!(
        "the request body did not arrive within {} s",
        timeout.as_secs_f64()
    );
    let mut response = (
        StatusCode::REQUEST_TIMEOUT,
        axum::Json(json!({ "error": message })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why a body read failed: its deadline passed.
#[derive(Debug)]
struct BodyTimedOut(Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} s",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// A request body that fails once its deadline has passed, whether bytes are still
/// trickling in or none come at all (the timer wakes the reader).
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
    timeout: Duration,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        // The deadline first: a body trickling in always has a frame ready.
        if this.expired.load(Ordering::Acquire) || this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(this.timeout)))));
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use tower::ServiceExt;

    /// A body whose bytes never come.
    struct Silent;

    impl HttpBody for Silent {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    fn router() -> Router {
        let echo = Router::new().route(
            "/",
            post(|body: Bytes| async move { format!("{} bytes", body.len()) }),
        );
        with_body_timeout(echo, Duration::from_millis(200))
    }

    fn call(body: Body) -> (StatusCode, Option<HeaderValue>, String) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let request = axum::http::Request::post("/").body(body).expect("request");
            let response = router().oneshot(request).await.expect("infallible");
            let status = response.status();
            let connection = response.headers().get(header::CONNECTION).cloned();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                connection,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
    }

    #[test]
    fn a_body_that_never_arrives_gets_408_and_the_connection_closes() {
        let (status, connection, text) = call(Body::new(Silent));
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{text}");
        assert_eq!(
            connection.as_ref().map(|v| v.as_bytes()),
            Some(&b"close"[..])
        );
        assert!(text.contains("did not arrive"), "{text}");
    }

    #[test]
    fn a_body_in_time_and_no_body_at_all_pass() {
        let (status, connection, text) = call(Body::from("twelve bytes"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text, "12 bytes");
        assert!(connection.is_none());
        let (status, _, text) = call(Body::empty());
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text, "0 bytes");
    }
}
