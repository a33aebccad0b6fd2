//! The dashboard's pages, open (no token): the single page application at `/`, the
//! public status page at `/status` and their files under `/assets/`, compiled into the
//! binary from `ui/assets/` (no CDN), gzipped when accepted and revalidated by ETag.
//!
//! The pages themselves hold no data; every figure they show comes from the API with
//! the token the user gives them, so access follows the read token. `/status` reads
//! only `/telemetry/public`.

use super::error::ApiError;
use super::state::AppState;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::OnceLock;

/// The open routes: `/`, `/status` and `/assets/{file}`.
pub(super) fn routes(_state: &AppState) -> Router<AppState> {
    let serve = get(|uri: Uri, headers: HeaderMap| async move { page(uri.path(), &headers) });
    Router::new()
        .route("/", serve.clone())
        .route("/status", serve.clone())
        .route("/assets/{file}", serve)
}

/// A file of the dashboard: the path it is served at, its content type and text, with
/// its gzip form and entity tag made once, on first use.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
    gzip: OnceLock<Vec<u8>>,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(path: &'static str, content_type: &'static str, body: &'static str) -> Self {
        Asset {
            path,
            content_type,
            body,
            gzip: OnceLock::new(),
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let digest = Sha256::digest(self.body.as_bytes());
            format!("\"{}\"", hex::encode(&digest[..12]))
        })
    }

    fn gzip(&self) -> &[u8] {
        self.gzip.get_or_init(|| {
            let mut enc = GzEncoder::new(Vec::new(), Compression::best());
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(self.body.as_bytes());
            enc.finish().unwrap_or_default()
        })
    }
}

static ASSETS: [Asset; 8] = [
    Asset::new(
        "/",
        "text/html; charset=utf-8",
        include_str!("../ui/assets/index.html"),
    ),
    Asset::new(
        "/status",
        "text/html; charset=utf-8",
        include_str!("../ui/assets/status.html"),
    ),
    Asset::new(
        "/assets/dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/assets/dom.js"),
    ),
    Asset::new(
        "/assets/view.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/assets/view.js"),
    ),
    Asset::new(
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/assets/app.js"),
    ),
    Asset::new(
        "/assets/status.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/assets/status.js"),
    ),
    Asset::new(
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_str!("../ui/assets/app.css"),
    ),
    Asset::new(
        "/assets/favicon.svg",
        "image/svg+xml",
        include_str!("../ui/assets/favicon.svg"),
    ),
];

/// Scripts and styles only from this server; no inline script, no other origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The asset at `path` as the request accepts it: 304 when the browser's copy is
/// current, gzip when accepted.
fn page(path: &str, request: &HeaderMap) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == path)
        .ok_or(ApiError::NotFound("asset"))?;
    let etag = asset.etag();
    let header = |name| {
        request
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let fresh = header(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let gzip = header(header::ACCEPT_ENCODING).is_some_and(|a| {
        a.split(',')
            .any(|e| e.split(';').next().map(str::trim) == Some("gzip"))
    });
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let mut resp = asset.gzip().to_vec().into_response();
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        resp
    } else {
        asset.body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Assets change with the binary: the browser revalidates (a 304 when unchanged).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #[test]
    fn assets_are_gzipped_when_accepted_and_revalidated_by_etag() {
        use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
        use std::io::Read;
        let mut headers = HeaderMap::new();
        let plain = super::page("/assets/app.js", &headers).expect("app.js");
        let etag = plain.headers()[header::ETAG].clone();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.9"),
        );
        let zipped = super::page("/assets/app.js", &headers).expect("app.js");
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let body = rt
            .block_on(axum::body::to_bytes(zipped.into_body(), usize::MAX))
            .expect("body");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gunzip");
        assert_eq!(text, include_str!("../ui/assets/app.js"));
        assert!(
            body.len() * 3 < text.len(),
            "{} -> {}",
            text.len(),
            body.len()
        );
        headers.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            super::page("/assets/app.js", &headers)
                .expect("app.js")
                .status(),
            StatusCode::NOT_MODIFIED
        );
        assert!(super::page("/assets/missing.js", &headers).is_err());
    }
}
