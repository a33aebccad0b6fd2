//! An endpoint that black-holes its connections (a loopback proxy that accepts and
//! reads, and never answers): `shutdown` returns within its deadline, the batch it could
//! not deliver waits in the spool, and the next process with the same spool delivers it.

use crate::isolated;
use crate::otlp::{attr, collect, str_attr};
use automagik_telemetry::FlushError;
use automagik_telemetry_testkit::OtlpReceiver;
use automagik_telemetry_testkit::fault::{FaultProxy, Mode};
use opentelemetry_proto::tonic::common::v1::any_value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const RECORDS: i64 = 12;

/// Whether `spool` holds a batch and none is claimed for sending.
fn waiting(spool: &Path) -> bool {
    let names: Vec<String> = std::fs::read_dir(spool)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.iter().any(|n| n.ends_with(".otlp")) && !names.iter().any(|n| n.ends_with(".sending"))
}

#[test]
fn shutdown_meets_its_deadline_on_a_black_holed_endpoint_and_the_spool_delivers_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let rx = OtlpReceiver::start();
    let proxy = FaultProxy::start(("127.0.0.1", rx.port())).expect("proxy");
    proxy.set_mode(Mode::BlackHole);
    let deadline = Duration::from_secs(2);
    {
        let t = isolated(dir.path(), &[])
            .endpoint(format!("http://{}", proxy.addr()))
            .spool_dir(spool.clone())
            // Nothing leaves before shutdown: its delivery is the only one.
            .flush_interval(Duration::from_secs(600))
            // Longer than the deadline: only the deadline ends the request.
            .timeout(Duration::from_secs(60))
            .build()
            .expect("build");
        for i in 0..RECORDS {
            t.track_event("black-holed", [("seq", i)]);
        }
        let started = Instant::now();
        let result = t.shutdown(deadline);
        let took = started.elapsed();
        // A liveness bound, loose on purpose: shutdown does not wait for the endpoint.
        assert!(
            took < deadline + Duration::from_secs(5),
            "shutdown took {took:?}"
        );
        assert!(
            matches!(result, Err(FlushError::Timeout) | Ok(())),
            "{result:?}"
        );
        // The request cut off at the deadline goes to the spool, and stays there.
        let until = Instant::now() + Duration::from_secs(20);
        while t.stats().spooled < RECORDS as u64 || !waiting(&spool) {
            assert!(Instant::now() < until, "not spooled: {:?}", t.stats());
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(t.stats().dropped_total(), 0, "{:?}", t.stats());
    }
    assert!(proxy.accepted() >= 1, "the SDK reached the endpoint");
    assert!(
        rx.captured().is_empty(),
        "nothing got through the black hole"
    );

    // The next process: the same spool, an endpoint that answers.
    let online = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .spool_dir(spool.clone())
        .build()
        .expect("build");
    online.flush(Duration::from_secs(10)).expect("flush");
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for log in collect(&rx.accepted()).logs {
        assert_eq!(
            str_attr(&log.attributes, "event.name").as_deref(),
            Some("black-holed")
        );
        if let Some(any_value::Value::IntValue(n)) = attr(&log.attributes, "seq") {
            *seen.entry(*n).or_insert(0) += 1;
        }
    }
    assert_eq!(
        seen,
        (0..RECORDS).map(|i| (i, 1)).collect::<BTreeMap<_, _>>(),
        "every record once"
    );
    online.shutdown(Duration::from_secs(5)).expect("shutdown");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .expect("spool dir")
        .flatten()
        .collect();
    assert!(left.is_empty(), "spool emptied: {left:?}");
}
