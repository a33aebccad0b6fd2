//! The real binary against requests built to exhaust its memory: 33 million empty spans
//! in 64 KB of gzip (about 8 GB once decoded), over OTLP/HTTP with an ingest token and
//! over OTLP/gRPC with and without a token, and bodies within the decompressed size limit
//! but over the item limit, in protobuf and in OTLP JSON. Each is refused; the server's
//! peak resident memory stays under 200 MB, and it still stores a normal request.

use automagik_telemetry_testkit::build::{
    empty_spans, empty_spans_json, gzip, string_kv, trace_request,
};
use common::{Running, free_port, get_json, serve};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use prost::bytes::BufMut;
use std::io::{Read, Write};
use std::time::Duration;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};

mod common;

const INGEST: &str = "ingest-limits-ingest-0123456789";
const ADMIN: &str = "ingest-limits-admin-0123456789";
/// 66 MB of protobuf: under the old 64 MiB decompressed limit, about 8 GB decoded.
const SPANS: usize = 33_000_000;
/// 30 MB of protobuf: within the 32 MiB decompressed limit, over the item limit.
const WITHIN_SIZE: usize = 15_000_000;
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// `(status, body)` of an OTLP/HTTP POST of `body` to `/v1/traces`.
fn post(port: u16, content_type: &str, body: &[u8], token: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut req = agent
        .post(format!("http://127.0.0.1:{port}/v1/traces"))
        .header("content-type", content_type)
        .header("content-encoding", "gzip");
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(body).expect("response");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, text)
}

/// Sends bytes already encoded as the request message; decodes the export response.
struct RawTraces;

struct RawEncoder;

struct ResponseDecoder;

impl Codec for RawTraces {
    type Encode = Vec<u8>;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<ExportTraceServiceResponse>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

/// An OTLP/gRPC export of `message` (encoded protobuf), gzip-compressed by the client.
async fn export_grpc(
    port: u16,
    message: Vec<u8>,
    token: Option<&str>,
) -> Result<ExportTraceServiceResponse, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = tonic::client::Grpc::new(channel).send_compressed(CompressionEncoding::Gzip);
    client.ready().await.expect("ready");
    let mut request = tonic::Request::new(message);
    if let Some(t) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("metadata"),
        );
    }
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT);
    client
        .unary(request, path, RawTraces)
        .await
        .map(tonic::Response::into_inner)
}

/// The status line of a POST to `/v1/traces` (with a bearer `token`, if given) whose
/// headers announce `length` bytes, none of which are sent.
fn announce(port: u16, length: u64, token: Option<&str>) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let authorization = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-protobuf\r\n\
         {authorization}content-length: {length}\r\n\r\n"
    )
    .expect("write");
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The peak resident memory of process `pid`, in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn normal_span(trace: u8, name: &str) -> Vec<u8> {
    let start = automagik_telemetry_testkit::now_ns();
    trace_request(
        "survivor",
        vec![Span {
            trace_id: vec![trace; 16],
            span_id: vec![trace; 8],
            name: name.into(),
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_000_000,
            attributes: vec![string_kv("k", "v")],
            ..Default::default()
        }],
    )
    .encode_to_vec()
}

#[test]
fn a_small_body_of_millions_of_empty_spans_is_refused_within_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("telemetry.toml");
    std::fs::write(
        &config,
        format!("token = [\"{INGEST}:ingest\", \"{ADMIN}\"]\n"),
    )
    .expect("config");
    let (http, grpc) = (free_port(), free_port());
    let server = Running(serve(
        dir.path(),
        http,
        &format!("127.0.0.1:{grpc}"),
        &["--config", config.to_str().expect("path")],
    ));
    let pid = server.0.id();

    let bomb = empty_spans(SPANS);
    let bomb_gz = gzip(&bomb);
    assert!(
        bomb_gz.len() < 100 * 1024,
        "{} bytes of gzip",
        bomb_gz.len()
    );
    let within = gzip(&empty_spans(WITHIN_SIZE));
    let within_json = gzip(&empty_spans_json(10_000_000));

    // OTLP/HTTP: without a token the body is not read (refused on the headers alone);
    // with an ingest token, refused as too large once decompressed.
    let length = bomb_gz.len() as u64;
    assert!(
        announce(http, length, None).starts_with("HTTP/1.1 401"),
        "refused before its body"
    );
    let (status, body) = post(http, "application/x-protobuf", &bomb_gz, Some(INGEST));
    assert_eq!(status, 413, "{body}");
    for (content_type, body) in [
        ("application/x-protobuf", &within),
        ("application/json", &within_json),
    ] {
        let (status, text) = post(http, content_type, body, Some(INGEST));
        assert_eq!(status, 413, "{content_type}: {text}");
        assert!(text.contains("100000 items"), "{content_type}: {text}");
    }
    // A length far over the body limit is refused before any of it is sent.
    assert!(
        announce(http, 10_000_000_000, Some(INGEST)).starts_with("HTTP/1.1 413"),
        "refused on its Content-Length"
    );

    // OTLP/gRPC: refused before the message is decoded, with or without a token.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let denied = export_grpc(grpc, bomb.clone(), None)
            .await
            .expect_err("no token");
        assert_eq!(denied.code(), tonic::Code::Unauthenticated, "{denied:?}");
        let refused = export_grpc(grpc, bomb, Some(INGEST))
            .await
            .expect_err("over the decompressed limit");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
        let refused = export_grpc(grpc, empty_spans(WITHIN_SIZE), Some(INGEST))
            .await
            .expect_err("over the item limit");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains("100000 items"), "{refused:?}");
    });

    let peak = peak_rss_kb(pid);
    assert!(peak < 200_000, "peak resident memory {peak} kB");

    // The server survived and stores a normal request on both transports.
    let (status, body) = post(
        http,
        "application/x-protobuf",
        &gzip(&normal_span(0x61, "over-http")),
        Some(INGEST),
    );
    assert_eq!(status, 200, "{body}");
    rt.block_on(async {
        export_grpc(grpc, normal_span(0x62, "over-grpc"), Some(INGEST))
            .await
            .expect("stored");
    });
    for (trace, name) in [(0x61u8, "over-http"), (0x62, "over-grpc")] {
        let id = hex::encode([trace; 16]);
        let trace = get_json(
            &format!("http://127.0.0.1:{http}/api/v1/traces/{id}"),
            Some(ADMIN),
        );
        assert_eq!(trace["spans"][0]["name"], name, "{trace}");
    }
}
