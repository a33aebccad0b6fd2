//! Test support: a real OTLP/HTTP receiver on a loopback port. It decompresses
//! (gzip, zstd) and decodes every request with the `opentelemetry-proto` types
//! (protobuf or OTLP JSON), keeps what it got, and answers as the test scripts it:
//! success, a status with `Retry-After`, a partial success, or a hang.
//!
//! Beside it: PostgreSQL databases and servers ([`pg`]), the ClickHouse engine
//! ([`clickhouse`]), the Kafka broker ([`kafka`]), a static HTTP server ([`http`]), and
//! a proxy that refuses, cuts, delays or black-holes connections ([`fault`]).
#![deny(missing_docs)]

pub mod fault;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::collections::VecDeque;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A decoded OTLP request.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    /// `/v1/traces`.
    Traces(ExportTraceServiceRequest),
    /// `/v1/metrics`.
    Metrics(ExportMetricsServiceRequest),
    /// `/v1/logs`.
    Logs(ExportLogsServiceRequest),
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Captured {
    /// Request path.
    pub path: String,
    /// `Content-Type`.
    pub content_type: String,
    /// `Content-Encoding`, if any.
    pub content_encoding: Option<String>,
    /// All request headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// The body after decompression.
    pub body: Vec<u8>,
    /// The decoded request, or why it could not be decoded.
    pub decoded: Result<Decoded, String>,
    /// The status the receiver answered.
    pub status: u16,
}

impl Captured {
    /// Whether the receiver answered 2xx.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What to answer to the next request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with an empty response message.
    Ok,
    /// This status, with an optional `Retry-After` value.
    Status(u16, Option<String>),
    /// 200 with an OTLP partial success rejecting this many items.
    PartialSuccess(i64, String),
    /// Wait this long before answering 200 (a hung receiver).
    Hang(Duration),
}

#[derive(Default)]
struct Shared {
    captured: Mutex<Vec<Captured>>,
    script: Mutex<VecDeque<Reply>>,
    changed: Condvar,
}

/// A running receiver; stopped when dropped.
pub struct OtlpReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// The start of the whole minute an hour ago, in seconds since the Unix epoch: a time
/// that is recent (inside every retention, including ClickHouse's TTLs, which drop
/// older parts) and falls on bucket boundaries.
pub fn minute_an_hour_ago() -> u64 {
    let now = now_ns() / 1_000_000_000;
    now - now % 60 - 3600
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

impl OtlpReceiver {
    /// Starts on an ephemeral loopback port.
    pub fn start() -> Self {
        Self::start_on(0).unwrap_or_else(|e| panic!("test receiver could not bind: {e}"))
    }

    /// Starts on this loopback port (0 for any).
    pub fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("otlp-receiver-{}", addr.port()))
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let app = Router::new().fallback(handle).with_state(state);
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stop_rx => {}
                    }
                });
            })?;
        Ok(OtlpReceiver {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Queues answers for the next requests (after them: success).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        if let Ok(mut s) = self.shared.script.lock() {
            s.extend(replies);
        }
    }

    /// Every request so far.
    pub fn captured(&self) -> Vec<Captured> {
        self.shared
            .captured
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Decoded requests that were answered with success.
    pub fn accepted(&self) -> Vec<Decoded> {
        self.captured()
            .into_iter()
            .filter(Captured::accepted)
            .filter_map(|c| c.decoded.ok())
            .collect()
    }

    /// Waits until `cond` holds over the captured requests, or `timeout`.
    pub fn wait_until(&self, timeout: Duration, cond: impl Fn(&[Captured]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let Ok(mut guard) = self.shared.captured.lock() else {
            return false;
        };
        loop {
            if cond(&guard) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.shared.changed.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => guard = g,
                Err(_) => return false,
            }
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decompress(encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    match encoding {
        None | Some("identity") => Ok(body.to_vec()),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip: {e}"))?;
            Ok(out)
        }
        Some("zstd") => zstd::decode_all(body).map_err(|e| format!("zstd: {e}")),
        Some(other) => Err(format!("unsupported content-encoding {other}")),
    }
}

/// Decodes an OTLP/HTTP body by path and content type.
pub fn decode(path: &str, content_type: &str, body: &[u8]) -> Result<Decoded, String> {
    let json = content_type.starts_with("application/json");
    macro_rules! dec {
        ($t:ty, $v:ident) => {
            if json {
                serde_json::from_slice::<$t>(body)
                    .map(Decoded::$v)
                    .map_err(|e| e.to_string())
            } else {
                <$t>::decode(body)
                    .map(Decoded::$v)
                    .map_err(|e| e.to_string())
            }
        };
    }
    match path {
        "/v1/traces" => dec!(ExportTraceServiceRequest, Traces),
        "/v1/metrics" => dec!(ExportMetricsServiceRequest, Metrics),
        "/v1/logs" => dec!(ExportLogsServiceRequest, Logs),
        other => Err(format!("unknown path {other}")),
    }
}

fn success_body(path: &str, json: bool, rejected: i64, message: String) -> Vec<u8> {
    macro_rules! body {
        ($resp:ident, $ps:ident, $field:ident) => {{
            let r = $resp {
                partial_success: (rejected > 0).then(|| $ps {
                    $field: rejected,
                    error_message: message,
                }),
            };
            if json {
                serde_json::to_vec(&r).unwrap_or_default()
            } else {
                r.encode_to_vec()
            }
        }};
    }
    match path {
        "/v1/traces" => body!(
            ExportTraceServiceResponse,
            ExportTracePartialSuccess,
            rejected_spans
        ),
        "/v1/metrics" => body!(
            ExportMetricsServiceResponse,
            ExportMetricsPartialSuccess,
            rejected_data_points
        ),
        _ => body!(
            ExportLogsServiceResponse,
            ExportLogsPartialSuccess,
            rejected_log_records
        ),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type").unwrap_or_default();
    let content_encoding = header("content-encoding");
    let path = uri.path().to_string();
    let reply = shared
        .script
        .lock()
        .ok()
        .and_then(|mut s| s.pop_front())
        .unwrap_or(Reply::Ok);
    if let Reply::Hang(d) = &reply {
        tokio::time::sleep(*d).await;
    }
    let (body, decoded) = match decompress(content_encoding.as_deref(), &body) {
        Ok(b) => {
            let d = decode(&path, &content_type, &b);
            (b, d)
        }
        Err(e) => (body.to_vec(), Err(e)),
    };
    let json = content_type.starts_with("application/json");
    let (status, retry_after, response_body) = match reply {
        Reply::Status(s, ra) => (s, ra, Vec::new()),
        Reply::PartialSuccess(n, m) => (200, None, success_body(&path, json, n, m)),
        Reply::Ok | Reply::Hang(_) => (200, None, success_body(&path, json, 0, String::new())),
    };
    let status = if decoded.is_err() && (200..300).contains(&status) {
        400
    } else {
        status
    };
    if let Ok(mut c) = shared.captured.lock() {
        c.push(Captured {
            path,
            content_type: content_type.clone(),
            content_encoding,
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            body,
            decoded,
            status,
        });
    }
    shared.changed.notify_all();
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (code, response_body).into_response();
    let ct = if json {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    if let Ok(v) = ct.parse() {
        resp.headers_mut().insert("content-type", v);
    }
    if let Some(ra) = retry_after.and_then(|r| r.parse().ok()) {
        resp.headers_mut().insert("retry-after", ra);
    }
    resp
}

/// Builders for OTLP requests that tests and benches send by hand.
pub mod build {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    /// A logs request: these records under one resource whose `service.name` is `service`.
    pub fn log_request(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![string_kv("service.name", service)],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// An attribute with a string value.
    pub fn string_kv(key: &str, value: impl Into<String>) -> KeyValue {
        any_kv(key, any_value::Value::StringValue(value.into()))
    }

    /// An attribute with any value.
    pub fn any_kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    /// The protobuf bytes of a traces request of `spans` empty spans in one scope of one
    /// resource: 2 bytes a span on the wire (its field key and a zero length), about 260
    /// once decoded. 33 million of them are 66 MB, and 64 KB once gzipped.
    pub fn empty_spans(spans: usize) -> Vec<u8> {
        use prost::encoding::encode_varint;
        let scope = 2 * spans; // `ScopeSpans`: its spans.
        let mut resource = Vec::with_capacity(16);
        resource.push(0x12); // `ResourceSpans.scope_spans`, length-delimited.
        encode_varint(scope as u64, &mut resource);
        let mut out = Vec::with_capacity(16 + resource.len() + scope);
        out.push(0x0a); // `ExportTraceServiceRequest.resource_spans`, length-delimited.
        encode_varint((resource.len() + scope) as u64, &mut out);
        out.extend_from_slice(&resource);
        // `ScopeSpans.spans`, each empty.
        out.extend(std::iter::repeat_n([0x12u8, 0x00], spans).flatten());
        out
    }

    /// The OTLP JSON of a traces request of `spans` empty spans (`{}`) in one scope of
    /// one resource: 3 bytes a span.
    pub fn empty_spans_json(spans: usize) -> Vec<u8> {
        let mut out = br#"{"resourceSpans":[{"scopeSpans":[{"spans":["#.to_vec();
        out.reserve(3 * spans + 8);
        for i in 0..spans {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"]}]}]}");
        out
    }

    /// `data` compressed with gzip, as one member.
    pub fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("gzip into memory");
        encoder.finish().expect("gzip into memory")
    }

    /// A traces request: these spans under one resource whose `service.name` is `service`.
    pub fn trace_request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string_kv("service.name", service)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}

/// The Python interpreter with the test packages: `AUTOMAGIK_TELEMETRY_TEST_PYTHON` (set
/// by `scripts/test`), else the virtualenv of `scripts/setup-python` when it exists, else
/// `python3`.
pub fn test_python() -> String {
    std::env::var("AUTOMAGIK_TELEMETRY_TEST_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        let venv = format!("{home}/.cache/automagik-telemetry/venv/bin/python");
        if std::path::Path::new(&venv).exists() {
            venv
        } else {
            "python3".into()
        }
    })
}

/// A PostgreSQL database of its own for one test, dropped when the value is.
pub mod pg {
    /// Where the test PostgreSQL server is: `AUTOMAGIK_TELEMETRY_TEST_POSTGRES`, or the
    /// machine's server on 127.0.0.1:5432 as user `postgres`.
    pub fn admin_url() -> String {
        std::env::var("AUTOMAGIK_TELEMETRY_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// A fresh, empty database.
    #[derive(Debug)]
    pub struct TestDatabase {
        name: String,
        /// URL of the database.
        pub url: String,
    }

    impl TestDatabase {
        /// Creates a database with a unique name on the test server.
        pub fn create() -> Result<Self, postgres::Error> {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let name = format!(
                "automagik_test_{}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0)
            );
            let admin = admin_url();
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)?;
            client.batch_execute(&format!("CREATE DATABASE {name}"))?;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            Ok(TestDatabase {
                url: format!("{base}/{name}"),
                name,
            })
        }
    }

    /// A PostgreSQL server of its own (`initdb` + `pg_ctl` from Debian's versioned
    /// folder, run as the `postgres` user when the test runs as root), on a free
    /// loopback port, for tests that stop and restart a database. Removed when dropped.
    #[derive(Debug)]
    pub struct Instance {
        bin: std::path::PathBuf,
        dir: String,
        /// Its port on 127.0.0.1.
        pub port: u16,
        /// `postgres://postgres@127.0.0.1:<port>/postgres`.
        pub url: String,
    }

    fn as_postgres(program: &std::path::Path) -> std::process::Command {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            std::process::Command::new(program)
        }
    }

    fn run(mut c: std::process::Command, what: &str) -> std::io::Result<String> {
        let out = c.stdin(std::process::Stdio::null()).output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    impl Instance {
        /// Creates a cluster in a fresh directory and starts it.
        pub fn start() -> std::io::Result<Self> {
            let bin = std::fs::read_dir("/usr/lib/postgresql")?
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .max()
                .ok_or_else(|| std::io::Error::other("no /usr/lib/postgresql/*/bin/initdb"))?;
            let mut mktemp = as_postgres(std::path::Path::new("mktemp"));
            mktemp.args(["-d", "/tmp/automagik-pg-XXXXXX"]);
            let dir = run(mktemp, "mktemp")?;
            let mut initdb = as_postgres(&bin.join("initdb"));
            initdb.args([
                "-D",
                &format!("{dir}/data"),
                "-U",
                "postgres",
                "--auth=trust",
            ]);
            run(initdb, "initdb")?;
            let port = super::free_port();
            let instance = Instance {
                url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                bin,
                dir,
                port,
            };
            instance.start_again()?;
            Ok(instance)
        }

        /// Starts the stopped server again (same port and data), waiting until it
        /// accepts connections.
        pub fn start_again(&self) -> std::io::Result<()> {
            let mut pg_ctl = as_postgres(&self.bin.join("pg_ctl"));
            pg_ctl.args([
                "-D",
                &format!("{}/data", self.dir),
                "-l",
                &format!("{}/log", self.dir),
                "-w",
                "-o",
                &format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                    self.port, self.dir
                ),
                "start",
            ]);
            run(pg_ctl, "pg_ctl start").map(|_| ())
        }

        /// Stops the server (fast shutdown), waiting until it is down.
        pub fn stop(&self) -> std::io::Result<()> {
            let mut pg_ctl = as_postgres(&self.bin.join("pg_ctl"));
            pg_ctl.args([
                "-D",
                &format!("{}/data", self.dir),
                "-m",
                "fast",
                "-w",
                "stop",
            ]);
            run(pg_ctl, "pg_ctl stop").map(|_| ())
        }
    }

    impl Drop for Instance {
        fn drop(&mut self) {
            let _ = self.stop();
            let mut rm = as_postgres(std::path::Path::new("rm"));
            rm.args(["-rf", &self.dir]);
            let _ = rm.output();
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            if let Ok(mut client) = postgres::Client::connect(&admin_url(), postgres::NoTls) {
                let _ = client.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }
}

/// The real ClickHouse engine (PyPI `chdb`) behind the ClickHouse HTTP interface
/// (`crates/testkit/python/clickhouse_http.py`), on a loopback port of its own, for one
/// test. The Python interpreter is `AUTOMAGIK_TELEMETRY_TEST_PYTHON` (set by
/// `scripts/test`, whose virtualenv has `chdb`).
pub mod clickhouse {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    /// A running engine; stopped and its data removed when dropped.
    #[derive(Debug)]
    pub struct ClickHouse {
        child: Child,
        _data: tempfile::TempDir,
        /// `http://127.0.0.1:<port>`.
        pub url: String,
    }

    impl ClickHouse {
        /// The server's `--storage` URL for `database` of this engine.
        pub fn storage_url(&self, database: &str) -> String {
            format!(
                "{}/{database}",
                self.url.replacen("http://", "clickhouse://", 1)
            )
        }

        /// Starts the engine with user `default` and an empty password.
        pub fn start() -> std::io::Result<Self> {
            Self::start_with_password("")
        }

        /// Starts the engine with user `default` and this password.
        pub fn start_with_password(password: &str) -> std::io::Result<Self> {
            let python = super::test_python();
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/clickhouse_http.py");
            let data = tempfile::tempdir()?;
            // The adapter binds a free port itself and names it: no race with other tests.
            let mut child = Command::new(python)
                .arg(script)
                .arg("0")
                .arg(data.path())
                .args(["--password", password])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("no stdout"))?;
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            let addr = line
                .trim()
                .strip_prefix("listening on ")
                .map(str::to_string);
            let engine = ClickHouse {
                child,
                _data: data,
                url: format!("http://{}", addr.clone().unwrap_or_default()),
            };
            match addr {
                Some(_) => Ok(engine),
                None => Err(std::io::Error::other(
                    "the ClickHouse adapter did not start; is chdb installed (scripts/setup-python)?",
                )),
            }
        }
    }

    impl Drop for ClickHouse {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain HTTP server (Python's `http.server`) serving files from a directory of its
/// own on a loopback port, for tests that need a real server answering fixed bodies.
pub mod http {
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A running server; stopped and its files removed when dropped.
    #[derive(Debug)]
    pub struct StaticServer {
        child: Child,
        _dir: tempfile::TempDir,
        /// Its port on 127.0.0.1.
        pub port: u16,
    }

    impl StaticServer {
        /// Serves each `(path, body)` at `/path`, once the port accepts connections.
        pub fn start(files: &[(&str, String)]) -> std::io::Result<Self> {
            let dir = tempfile::tempdir()?;
            for (path, body) in files {
                let file = dir.path().join(path);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(file, body)?;
            }
            let port = super::free_port();
            let child = Command::new(super::test_python())
                .args([
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    &port.to_string(),
                ])
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let server = StaticServer {
                child,
                _dir: dir,
                port,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline {
                    return Err(std::io::Error::other("http.server did not start"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(server)
        }
    }

    impl Drop for StaticServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The Kafka-protocol broker `tansu` with in-memory storage on a loopback port of its
/// own, for one test. The binary is `AUTOMAGIK_TELEMETRY_TEST_TANSU` (set by
/// `scripts/test`, which installs it when missing) or `tansu` on the `PATH`.
pub mod kafka {
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A running broker; stopped (and its data gone) when dropped.
    #[derive(Debug)]
    pub struct Broker {
        child: Child,
        /// Its port on 127.0.0.1.
        pub port: u16,
        /// `127.0.0.1:<port>`, for `bootstrap.servers`.
        pub bootstrap: String,
        /// `kafka://127.0.0.1:<port>`.
        pub url: String,
    }

    fn binary() -> String {
        std::env::var("AUTOMAGIK_TELEMETRY_TEST_TANSU").unwrap_or_else(|_| "tansu".into())
    }

    /// Starts tansu on `port` with in-memory storage, naming `advertised` (`host:port`)
    /// as its address in metadata, or its own.
    fn spawn(port: u16, advertised: Option<&str>) -> std::io::Result<Child> {
        let listener = format!("tcp://127.0.0.1:{port}");
        let advertised = advertised.map_or_else(|| listener.clone(), |a| format!("tcp://{a}"));
        Command::new(binary())
            .args([
                "broker",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &advertised,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                std::io::Error::other(format!(
                    "cannot start {} (run scripts/setup-kafka): {e}",
                    binary()
                ))
            })
    }

    impl Broker {
        /// Starts a broker and waits until its port accepts connections.
        pub fn start() -> std::io::Result<Self> {
            Self::start_with(None)
        }

        /// Starts a broker that names `advertised` (`host:port`) as its address in
        /// metadata: Kafka clients connect to the bootstrap address only to read
        /// metadata, then to the address it names, so with a
        /// [`FaultProxy`](crate::fault::FaultProxy) listening there and forwarding to
        /// its `port`, all their traffic goes through the proxy. `bootstrap` and
        /// `url` stay the broker's own port.
        pub fn start_advertising(advertised: &str) -> std::io::Result<Self> {
            Self::start_with(Some(advertised))
        }

        fn start_with(advertised: Option<&str>) -> std::io::Result<Self> {
            let mut last = None;
            // The port is picked before the broker binds it; another test may take it
            // in between, so a broker that exits at once is started again elsewhere.
            for _ in 0..5 {
                let port = super::free_port();
                let mut child = spawn(port, advertised)?;
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    if let Ok(Some(status)) = child.try_wait() {
                        last = Some(format!("tansu exited with {status}"));
                        break;
                    }
                    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                        return Ok(Broker {
                            child,
                            port,
                            bootstrap: format!("127.0.0.1:{port}"),
                            url: format!("kafka://127.0.0.1:{port}"),
                        });
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        last = Some("tansu did not listen within 20 s".into());
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Err(std::io::Error::other(
                last.unwrap_or_else(|| "tansu did not start".into()),
            ))
        }
    }

    impl Broker {
        /// Creates topics with the broker's own tool (`tansu topic create`, 3
        /// partitions); tansu does not create topics on first use.
        pub fn create_topics(&self, topics: &[&str]) -> std::io::Result<()> {
            for topic in topics {
                let out = Command::new(binary())
                    .args([
                        "topic",
                        "create",
                        "--broker",
                        &format!("tcp://{}", self.bootstrap),
                        topic,
                    ])
                    .stdin(Stdio::null())
                    .output()?;
                if !out.status.success() {
                    return Err(std::io::Error::other(format!(
                        "tansu topic create {topic}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )));
                }
            }
            Ok(())
        }

        /// The three agent topics and their dead-letter topics.
        pub fn create_agent_topics(&self) -> std::io::Result<()> {
            self.create_topics(&[
                "agent-actions",
                "agent-execution-logs",
                "agent-routing-decisions",
                "agent-actions.dlq",
                "agent-execution-logs.dlq",
                "agent-routing-decisions.dlq",
            ])
        }

        /// Produces `(key, value)` records to `topic` with the independent client
        /// (Python's confluent-kafka); how many the broker acknowledged.
        pub fn produce(&self, topic: &str, records: &[(&str, String)]) -> std::io::Result<usize> {
            self.produce_with(topic, records, false)
        }

        /// As [`Broker::produce`], each record in a record batch of its own, so that
        /// every offset is the start of a batch. tansu 0.6 answers a fetch from an
        /// offset inside a batch with the batches after it (the rest of that batch is
        /// never read), where Kafka answers with the batch holding the offset: a test
        /// whose consumer reads again from a committed offset, after a rebalance or a
        /// restart, produces this way.
        pub fn produce_unbatched(
            &self,
            topic: &str,
            records: &[(&str, String)],
        ) -> std::io::Result<usize> {
            self.produce_with(topic, records, true)
        }

        fn produce_with(
            &self,
            topic: &str,
            records: &[(&str, String)],
            unbatched: bool,
        ) -> std::io::Result<usize> {
            use std::io::Write;
            let mut args = vec![PEER, "produce", self.bootstrap.as_str(), topic];
            if unbatched {
                args.push("unbatched");
            }
            let mut child = Command::new(super::test_python())
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                for (key, value) in records {
                    let line = serde_json::json!({"key": key, "value": value});
                    writeln!(stdin, "{line}")?;
                }
            }
            let out = child.wait_with_output()?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map_err(|_| std::io::Error::other("the Kafka peer failed to produce"))
        }

        /// Reads `topics` from the beginning with the independent client until `count`
        /// records arrived or `timeout` passed: one JSON object per record (`topic`,
        /// `partition`, `offset`, `key`, `value`, `headers`).
        pub fn consume(
            &self,
            topics: &[&str],
            count: usize,
            timeout: Duration,
        ) -> std::io::Result<Vec<serde_json::Value>> {
            let out = Command::new(super::test_python())
                .args([
                    PEER,
                    "consume",
                    &self.bootstrap,
                    &topics.join(","),
                    &count.to_string(),
                    &timeout.as_secs_f64().to_string(),
                ])
                .stderr(Stdio::inherit())
                .output()?;
            Ok(String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect())
        }
    }

    /// The independent Kafka client script.
    const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/kafka_peer.py");

    impl Drop for Broker {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
