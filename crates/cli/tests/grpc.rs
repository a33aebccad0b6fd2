//! OTLP/gRPC on the real binary, for every signal: traces, metrics and logs sent by the
//! `opentelemetry-proto` tonic clients (zstd and gzip) come back through the HTTP API;
//! items the server cannot store are refused one by one as OTLP partial success, with
//! the reason; and each request refused whole gets the code the OTLP specification
//! gives it (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, UNIMPLEMENTED), is
//! counted by reason, and stores nothing.

use automagik_telemetry_testkit::build::{log_request, string_kv, trace_request};
use automagik_telemetry_testkit::now_ns;
use common::{Running, free_port, get_json, serve};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest,
    metrics_service_client::MetricsServiceClient,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use prost::Message;
use prost::bytes::{Buf, BufMut};
use serde_json::{Value, json};
use std::path::Path;
use tonic::Code;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

mod common;

/// May send OTLP, nothing else.
const INGEST: &str = "grpc-ingest-token-0123456789";
/// May read the query API, not send.
const READ: &str = "grpc-read-token-0123456789";

const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// `serve` with OTLP/gRPC on a port of its own and two tokens, [`INGEST`] and [`READ`];
/// the server, its HTTP base URL and its gRPC URL.
fn start(dir: &Path) -> (Running, String, String) {
    let (http, grpc) = (free_port(), free_port());
    // Scoped tokens come from the file (a token on the command line has every scope).
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!("token = [\"{INGEST}:ingest\", \"{READ}:read\"]\n"),
    )
    .expect("write the config file");
    let server = Running(serve(
        dir,
        http,
        &format!("127.0.0.1:{grpc}"),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--fleet-interval",
            "off",
        ],
    ));
    (
        server,
        format!("http://127.0.0.1:{http}"),
        format!("http://127.0.0.1:{grpc}"),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `message` as a request carrying `Authorization: Bearer <token>`.
fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("metadata"),
    );
    request
}

/// The `authorization` metadata of `token`.
fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// Sends bytes as they are as the request message and returns the response message's
/// bytes: for messages no generated client would send.
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// A connection to the gRPC port at `url`.
async fn connect(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

/// A unary call of `path` on `channel` with `message` (encoded protobuf, sent plain) and
/// `metadata`; the response message's bytes, or the status.
async fn call(
    channel: &Channel,
    path: &'static str,
    message: Vec<u8>,
    metadata: &[(&'static str, String)],
) -> Result<Vec<u8>, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.expect("ready");
    let mut request = tonic::Request::new(message);
    for (key, value) in metadata {
        request
            .metadata_mut()
            .insert(*key, value.parse().expect("metadata"));
    }
    client
        .unary(request, PathAndQuery::from_static(path), Raw)
        .await
        .map(tonic::Response::into_inner)
}

/// A metrics request: these metrics under one resource whose `service.name` is `service`.
fn metric_request(service: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", service)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A gauge of one point, `value` at `time`.
fn gauge(name: &str, value: number_data_point::Value, time: u64) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                time_unix_nano: time,
                value: Some(value),
                ..Default::default()
            }],
        })),
        ..Default::default()
    }
}

/// A log record with a string body.
fn log(time: u64, severity: (i32, &str), body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: time,
        severity_number: severity.0,
        severity_text: severity.1.into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        ..Default::default()
    }
}

/// The application metrics the HTTP API lists, as `name kind points`.
fn metric_list(base: &str) -> Vec<String> {
    let metrics = get_json(&format!("{base}/api/v1/metrics"), Some(READ));
    metrics["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{metrics}"))
        .iter()
        .map(|m| {
            let text = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            format!("{} {} {}", text("name"), text("kind"), m["points"])
        })
        .collect()
}

/// The values of the one series of `metric` over the last hour, aggregated with `agg`.
fn series_values(base: &str, metric: &str, agg: &str) -> Vec<f64> {
    let body = get_json(
        &format!("{base}/api/v1/metrics/{metric}/series?from=-1h&agg={agg}"),
        Some(READ),
    );
    let series = body["series"]
        .as_array()
        .unwrap_or_else(|| panic!("{metric}: {body}"));
    assert_eq!(series.len(), 1, "{metric} {agg}: {body}");
    series[0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["value"].as_f64())
        .collect()
}

/// What the server counted since it started: records accepted and refused, requests
/// refused (`/api/v1/overview`'s `ingest`).
fn ingest_counts(base: &str) -> Value {
    get_json(&format!("{base}/api/v1/overview"), Some(READ))["ingest"].clone()
}

/// A span, a metric of each kind (a delta counter, an integer gauge, a delta histogram)
/// and two log records (one inside the span, one an event) sent over OTLP/gRPC by the
/// generated clients, the traces compressed with zstd, the metrics and the logs with
/// gzip, come back through the HTTP API field for field, and the server counts them as
/// accepted.
#[test]
fn every_signal_sent_over_grpc_comes_back_through_the_http_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, base, grpc) = start(dir.path());
    let now = now_ns();
    let (trace_id, span_id) = ([0x31u8; 16], [0x32u8; 8]);
    let traces = trace_request(
        "grpc-traces",
        vec![Span {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
            name: "grpc-span".into(),
            kind: 3,
            start_time_unix_nano: now - 2_000_000,
            end_time_unix_nano: now,
            attributes: vec![string_kv("transport", "grpc")],
            events: vec![span::Event {
                time_unix_nano: now - 1_000_000,
                name: "retry".into(),
                attributes: vec![string_kv("reason", "timeout")],
                ..Default::default()
            }],
            status: Some(Status {
                message: "upstream failed".into(),
                code: 2,
            }),
            ..Default::default()
        }],
    );
    let delta = AggregationTemporality::Delta as i32;
    let metrics = metric_request(
        "grpc-metrics",
        vec![
            Metric {
                name: "grpc.requests".into(),
                data: Some(Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        attributes: vec![string_kv("route", "/a")],
                        start_time_unix_nano: now - 10_000_000_000,
                        time_unix_nano: now,
                        value: Some(number_data_point::Value::AsDouble(7.0)),
                        ..Default::default()
                    }],
                    aggregation_temporality: delta,
                    is_monotonic: true,
                })),
                ..Default::default()
            },
            gauge("grpc.queue_depth", number_data_point::Value::AsInt(5), now),
            Metric {
                name: "grpc.latency_ms".into(),
                data: Some(Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        start_time_unix_nano: now - 10_000_000_000,
                        time_unix_nano: now,
                        count: 3,
                        sum: Some(60.0),
                        bucket_counts: vec![1, 2, 0],
                        explicit_bounds: vec![10.0, 100.0],
                        min: Some(5.0),
                        max: Some(40.0),
                        ..Default::default()
                    }],
                    aggregation_temporality: delta,
                })),
                ..Default::default()
            },
        ],
    );
    let logs = log_request(
        "grpc-logs",
        vec![
            LogRecord {
                attributes: vec![string_kv("mount", "/data")],
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                ..log(now - 1_000_000, (13, "WARN"), "disk almost full")
            },
            LogRecord {
                time_unix_nano: now,
                observed_time_unix_nano: now,
                severity_number: 9,
                severity_text: "INFO".into(),
                event_name: "grpc.event".into(),
                attributes: vec![string_kv("plan", "pro")],
                ..Default::default()
            },
        ],
    );
    runtime().block_on(async {
        let mut client = TraceServiceClient::connect(grpc.clone())
            .await
            .expect("connect")
            .send_compressed(CompressionEncoding::Zstd);
        let answer = client
            .export(with_token(traces, INGEST))
            .await
            .expect("traces stored")
            .into_inner();
        assert!(answer.partial_success.is_none(), "{answer:?}");
        let mut client = MetricsServiceClient::connect(grpc.clone())
            .await
            .expect("connect")
            .send_compressed(CompressionEncoding::Gzip);
        let answer = client
            .export(with_token(metrics, INGEST))
            .await
            .expect("metrics stored")
            .into_inner();
        assert!(answer.partial_success.is_none(), "{answer:?}");
        let mut client = LogsServiceClient::connect(grpc.clone())
            .await
            .expect("connect")
            .send_compressed(CompressionEncoding::Gzip);
        let answer = client
            .export(with_token(logs, INGEST))
            .await
            .expect("logs stored")
            .into_inner();
        assert!(answer.partial_success.is_none(), "{answer:?}");
    });

    let trace = get_json(
        &format!("{base}/api/v1/traces/{}", hex::encode(trace_id)),
        Some(READ),
    );
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 1, "{trace}");
    let s = &spans[0];
    assert_eq!(s["name"], "grpc-span");
    assert_eq!(s["service_name"], "grpc-traces");
    assert_eq!(s["span_id"], hex::encode(span_id));
    assert_eq!(s["kind"], 3, "SPAN_KIND_CLIENT");
    assert_eq!(
        (&s["status_code"], &s["status_message"]),
        (&json!(2), &json!("upstream failed"))
    );
    assert_eq!(s["attributes"], json!({ "transport": "grpc" }));
    assert_eq!(s["start_time_unix_nano"], (now - 2_000_000).to_string());
    assert_eq!(s["end_time_unix_nano"], now.to_string());
    assert_eq!(
        s["events"],
        json!([{
            "name": "retry",
            "time_unix_nano": (now - 1_000_000).to_string(),
            "attributes": { "reason": "timeout" },
            "dropped_attributes_count": 0,
        }])
    );

    let logs = get_json(&format!("{base}/api/v1/logs?service=grpc-logs"), Some(READ));
    let items = logs["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{logs}");
    let warn = items
        .iter()
        .find(|l| l["severity_number"] == 13)
        .unwrap_or_else(|| panic!("the warning: {logs}"));
    assert_eq!(warn["body"], "disk almost full");
    assert_eq!(warn["severity_text"], "WARN");
    assert_eq!(warn["service_name"], "grpc-logs");
    assert_eq!(warn["attributes"], json!({ "mount": "/data" }));
    assert_eq!(
        (&warn["trace_id"], &warn["span_id"]),
        (&json!(hex::encode(trace_id)), &json!(hex::encode(span_id)))
    );
    let event = items
        .iter()
        .find(|l| l["event_name"] == "grpc.event")
        .unwrap_or_else(|| panic!("the event: {logs}"));
    assert_eq!(event["severity_number"], 9);
    assert_eq!(event["body"], Value::Null);
    assert_eq!(event["attributes"], json!({ "plan": "pro" }));
    let events = get_json(&format!("{base}/api/v1/events?name=grpc.event"), Some(READ));
    assert_eq!(
        events["items"].as_array().map(Vec::len),
        Some(1),
        "{events}"
    );

    assert_eq!(
        metric_list(&base),
        [
            "grpc.latency_ms histogram 1",
            "grpc.queue_depth gauge 1",
            "grpc.requests sum 1",
        ]
    );
    let total = |metric: &str, agg: &str| series_values(&base, metric, agg).iter().sum::<f64>();
    assert_eq!(total("grpc.requests", "sum"), 7.0);
    assert_eq!(total("grpc.latency_ms", "count"), 3.0);
    assert_eq!(total("grpc.latency_ms", "sum"), 60.0);
    assert_eq!(
        series_values(&base, "grpc.queue_depth", "last").last(),
        Some(&5.0),
        "the integer gauge"
    );

    let ingest = ingest_counts(&base);
    assert_eq!(
        ingest["accepted"],
        json!({ "traces": 1, "metrics": 3, "logs": 2 }),
        "{ingest}"
    );
    assert_eq!(ingest["rejected_records"], json!({}), "{ingest}");
    assert_eq!(ingest["rejected_requests"], json!({}), "{ingest}");
}

/// A request over OTLP/gRPC with one item the server cannot store (a trace id of 8
/// bytes, a log record's span id of 3, a metric without data) is answered with OTLP
/// partial success: one item rejected, and why in words. The other item of each request
/// is stored, the refused one is not, and the refusals are counted by reason.
#[test]
fn items_the_server_cannot_store_are_refused_one_by_one_as_partial_success() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, base, grpc) = start(dir.path());
    let now = now_ns();
    let span = |trace_id: Vec<u8>, name: &str| Span {
        trace_id,
        span_id: vec![0x42; 8],
        name: name.into(),
        start_time_unix_nano: now - 1_000_000,
        end_time_unix_nano: now,
        ..Default::default()
    };
    let traces = trace_request(
        "grpc-partial",
        vec![
            span(vec![0x41; 16], "kept-span"),
            span(vec![0x43; 8], "short-trace-id"),
        ],
    );
    let logs = log_request(
        "grpc-partial",
        vec![
            LogRecord {
                trace_id: vec![0x45; 16],
                span_id: vec![0x46; 8],
                ..log(now, (9, "INFO"), "kept log")
            },
            LogRecord {
                trace_id: vec![0x45; 16],
                span_id: vec![0x46; 3],
                ..log(now, (9, "INFO"), "log with a short span id")
            },
        ],
    );
    let metrics = metric_request(
        "grpc-partial",
        vec![
            gauge("kept.gauge", number_data_point::Value::AsDouble(1.5), now),
            Metric {
                name: "no.data".into(),
                ..Default::default()
            },
        ],
    );
    runtime().block_on(async {
        let mut client = TraceServiceClient::connect(grpc.clone())
            .await
            .expect("connect");
        let answer = client
            .export(with_token(traces, INGEST))
            .await
            .expect("an answer")
            .into_inner();
        assert_eq!(
            answer.partial_success,
            Some(ExportTracePartialSuccess {
                rejected_spans: 1,
                error_message: "span \"short-trace-id\": trace_id must be 16 bytes, got 8".into(),
            })
        );
        let mut client = LogsServiceClient::connect(grpc.clone())
            .await
            .expect("connect");
        let answer = client
            .export(with_token(logs, INGEST))
            .await
            .expect("an answer")
            .into_inner();
        assert_eq!(
            answer.partial_success,
            Some(ExportLogsPartialSuccess {
                rejected_log_records: 1,
                error_message: "log record: span_id must be 8 bytes, got 3".into(),
            })
        );
        let mut client = MetricsServiceClient::connect(grpc.clone())
            .await
            .expect("connect");
        let answer = client
            .export(with_token(metrics, INGEST))
            .await
            .expect("an answer")
            .into_inner();
        assert_eq!(
            answer.partial_success,
            Some(ExportMetricsPartialSuccess {
                rejected_data_points: 1,
                error_message: "metric \"no.data\" has no data".into(),
            })
        );
    });

    let trace = get_json(
        &format!("{base}/api/v1/traces/{}", hex::encode([0x41u8; 16])),
        Some(READ),
    );
    let names: Vec<&Value> = trace["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(names, [&json!("kept-span")], "{trace}");
    let logs = get_json(
        &format!("{base}/api/v1/logs?service=grpc-partial"),
        Some(READ),
    );
    let bodies: Vec<&Value> = logs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| &l["body"])
        .collect();
    assert_eq!(bodies, [&json!("kept log")], "{logs}");
    assert_eq!(metric_list(&base), ["kept.gauge gauge 1"]);

    let ingest = ingest_counts(&base);
    assert_eq!(
        ingest["accepted"],
        json!({ "traces": 1, "metrics": 1, "logs": 1 }),
        "{ingest}"
    );
    assert_eq!(
        ingest["rejected_records"],
        json!({
            "traces": { "invalid_trace_id": 1 },
            "logs": { "invalid_span_id": 1 },
            "metrics": { "no_data": 1 },
        }),
        "{ingest}"
    );
    assert_eq!(ingest["rejected_requests"], json!({}), "{ingest}");
}

/// Requests refused whole over OTLP/gRPC get the codes of the OTLP specification, with
/// a message, for every signal: no token, an unknown token and a token without the
/// ingest scope are UNAUTHENTICATED, UNAUTHENTICATED and PERMISSION_DENIED; a message
/// that is not protobuf is INVALID_ARGUMENT, and so is a message over the 32 MiB size
/// limit sent uncompressed (not tonic's OUT_OF_RANGE, which exporters would retry); a
/// compression the server does not take, a method and a service it does not serve are
/// UNIMPLEMENTED. None of them stores anything; each refused before it is read is
/// counted by reason; and the server still stores the next good request.
#[test]
fn refused_requests_get_the_otlp_codes_and_are_counted_by_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, base, grpc) = start(dir.path());
    let now = now_ns();
    let good_span = |name: String| {
        trace_request(
            "grpc-refused",
            vec![Span {
                trace_id: vec![0x51; 16],
                span_id: vec![0x52; 8],
                name,
                start_time_unix_nano: now - 1_000_000,
                end_time_unix_nano: now,
                ..Default::default()
            }],
        )
        .encode_to_vec()
    };
    let oversized = good_span("x".repeat(33 * 1024 * 1024));
    let good_log = log_request("grpc-refused", vec![log(now, (9, "INFO"), "after")]);
    runtime().block_on(async {
        let channel = connect(&grpc).await;
        let refused = |result: Result<Vec<u8>, tonic::Status>, what: &str| result.expect_err(what);
        for path in [TRACES, METRICS, LOGS] {
            let cases = [
                (
                    None,
                    Code::Unauthenticated,
                    "a valid bearer token is required",
                ),
                (
                    Some("not-a-configured-token-0123456789"),
                    Code::Unauthenticated,
                    "a valid bearer token is required",
                ),
                (
                    Some(READ),
                    Code::PermissionDenied,
                    "this token lacks the ingest scope",
                ),
            ];
            for (token, code, message) in cases {
                let metadata: Vec<(&'static str, String)> = token.map(bearer).into_iter().collect();
                let status = refused(
                    call(&channel, path, Vec::new(), &metadata).await,
                    "refused before its message is read",
                );
                assert_eq!(
                    (status.code(), status.message()),
                    (code, message),
                    "{path} with {token:?}: {status:?}"
                );
            }
            // Field 1 announces five bytes; one follows.
            let status = refused(
                call(&channel, path, vec![0x0a, 0x05, 0x01], &[bearer(INGEST)]).await,
                "not protobuf",
            );
            assert_eq!(
                (status.code(), status.message()),
                (
                    Code::InvalidArgument,
                    "invalid protobuf: a field runs past its message"
                ),
                "{path}: {status:?}"
            );
        }

        // On a connection of its own: the server answers before the client has sent it all.
        let size = oversized.len();
        let status = refused(
            call(&connect(&grpc).await, TRACES, oversized, &[bearer(INGEST)]).await,
            "over the size limit",
        );
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(
            status.message(),
            format!(
                "Error, decoded message length too large: found {size} bytes, the limit is: \
                 33554432 bytes"
            )
        );

        let status = refused(
            call(
                &channel,
                TRACES,
                good_span("compressed-oddly".into()),
                &[bearer(INGEST), ("grpc-encoding", "br".into())],
            )
            .await,
            "an unsupported compression",
        );
        assert_eq!(
            (status.code(), status.message()),
            (
                Code::Unimplemented,
                "Content is compressed with `br` which isn't supported"
            ),
            "{status:?}"
        );
        for path in [
            "/opentelemetry.proto.collector.trace.v1.TraceService/Import",
            "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
        ] {
            let status = refused(
                call(&channel, path, Vec::new(), &[bearer(INGEST)]).await,
                path,
            );
            assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
        }

        let answer = call(&channel, LOGS, good_log.encode_to_vec(), &[bearer(INGEST)])
            .await
            .expect("the server still stores a good request");
        let answer = ExportLogsServiceResponse::decode(&answer[..]).expect("a logs response");
        assert!(answer.partial_success.is_none(), "{answer:?}");
    });

    let ingest = ingest_counts(&base);
    assert_eq!(ingest["accepted"], json!({ "logs": 1 }), "{ingest}");
    assert_eq!(ingest["rejected_records"], json!({}), "{ingest}");
    assert_eq!(
        ingest["rejected_requests"],
        json!({
            "traces": { "unauthorized": 3, "malformed": 1, "too_large": 1 },
            "metrics": { "unauthorized": 3, "malformed": 1 },
            "logs": { "unauthorized": 3, "malformed": 1 },
        }),
        "{ingest}"
    );
}
