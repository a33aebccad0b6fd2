//! Durability of the real binary: stream batches, SIGKILL the server mid-stream,
//! restart it on the same data directory, and find every acknowledged span and no
//! partial batch.

use automagik_telemetry_testkit::build::{string_kv, trace_request};
use common::free_port;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::process::Child;
use std::time::{Duration, Instant};

mod common;

const SPANS_PER_BATCH: usize = 50;
static T0: std::sync::LazyLock<u64> = std::sync::LazyLock::new(automagik_telemetry_testkit::now_ns);

fn start(data_dir: &std::path::Path, port: u16) -> Child {
    common::serve(data_dir, port, "off", &[])
}

fn trace_id(batch: usize) -> Vec<u8> {
    let mut id = vec![0xab; 16];
    id[8..].copy_from_slice(&(batch as u64 + 1).to_be_bytes());
    id
}

fn batch(n: usize) -> Vec<u8> {
    let spans = (0..SPANS_PER_BATCH)
        .map(|i| Span {
            trace_id: trace_id(n),
            span_id: ((i as u64) + 1).to_be_bytes().to_vec(),
            name: format!("batch-{n}-span-{i}"),
            start_time_unix_nano: *T0 + i as u64,
            end_time_unix_nano: *T0 + 1_000 + i as u64,
            attributes: vec![string_kv("payload", "x".repeat(200))],
            ..Default::default()
        })
        .collect();
    trace_request("durability", spans).encode_to_vec()
}

fn spans_of(port: u16, batch: usize) -> usize {
    let id = hex::encode(trace_id(batch));
    match ureq::get(format!("http://127.0.0.1:{port}/api/v1/traces/{id}")).call() {
        Ok(mut resp) => {
            let v: serde_json::Value =
                serde_json::from_slice(&resp.body_mut().read_to_vec().expect("body"))
                    .expect("json");
            v["spans"].as_array().map_or(0, Vec::len)
        }
        Err(ureq::Error::StatusCode(404)) => 0,
        Err(e) => panic!("query failed: {e}"),
    }
}

#[test]
fn every_acknowledged_span_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = start(dir.path(), port);

    // Several writers stream batches; the server is killed while they are in flight.
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(usize, bool)>::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let sent = sent.clone();
            std::thread::spawn(move || {
                for k in 0..200 {
                    let n = w * 1000 + k;
                    let ok = ureq::post(format!("http://127.0.0.1:{port}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .send(&batch(n)[..])
                        .is_ok_and(|r| r.status() == 200);
                    sent.lock().expect("lock").push((n, ok));
                    if !ok {
                        break; // the server is gone
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, ok)| *ok)
        .count()
        < 40
    {
        assert!(Instant::now() < deadline, "no batches were acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reap");
    for w in writers {
        w.join().expect("writer");
    }

    let server = start(dir.path(), port);
    let sent = sent.lock().expect("lock").clone();
    let acknowledged: Vec<usize> = sent.iter().filter(|(_, ok)| *ok).map(|(n, _)| *n).collect();
    assert!(acknowledged.len() >= 40);
    for n in &acknowledged {
        assert_eq!(
            spans_of(port, *n),
            SPANS_PER_BATCH,
            "acknowledged batch {n} is complete"
        );
    }
    for (n, _) in sent.iter().filter(|(_, ok)| !*ok) {
        let found = spans_of(port, *n);
        assert!(
            found == 0 || found == SPANS_PER_BATCH,
            "batch {n} is all or nothing, found {found}"
        );
    }
    let mut server = server;
    server.kill().ok();
    server.wait().ok();
}
