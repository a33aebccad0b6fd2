//! Delivery against a real receiver: retry then success, a hung receiver, an endpoint
//! that is down and comes back (the spool), partial success and permanent refusals.

use crate::isolated;
use crate::otlp::{collect, str_attr};
use automagik_telemetry::{DropReason, FlushError, attrs};
use automagik_telemetry_testkit::{OtlpReceiver, Reply, free_port};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn sequence_numbers(rx: &OtlpReceiver) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    for log in collect(&rx.accepted()).logs {
        let n = log
            .attributes
            .iter()
            .find(|kv| kv.key == "seq")
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match v.value {
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(i)) => {
                    Some(i)
                }
                _ => None,
            })
            .expect("seq attribute");
        *seen.entry(n).or_insert(0) += 1;
    }
    seen
}

#[test]
fn retry_after_503_delivers_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    rx.script([
        Reply::Status(503, Some("0".into())),
        Reply::Status(429, None),
    ]);
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .retry_backoff(Duration::from_millis(10))
        .build()
        .expect("build");
    t.track_event("once", [("seq", 1)]);
    t.flush(Duration::from_secs(10)).expect("flush");
    let statuses: Vec<u16> = rx.captured().iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![503, 429, 200]);
    assert_eq!(sequence_numbers(&rx), BTreeMap::from([(1, 1)]));
    let stats = t.stats();
    assert_eq!((stats.exported, stats.dropped_total()), (1, 0));
}

#[test]
fn permanent_refusal_is_not_retried_and_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    rx.script([Reply::Status(400, None)]);
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .retry_backoff(Duration::from_millis(10))
        .build()
        .expect("build");
    t.track_event("refused", attrs! {});
    t.flush(Duration::from_secs(10)).expect("flush");
    assert_eq!(rx.captured().len(), 1);
    assert_eq!(t.dropped(DropReason::NonRetryable), 1);
}

#[test]
fn partial_success_is_counted_and_never_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    rx.script([Reply::PartialSuccess(2, "two records too old".into())]);
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .build()
        .expect("build");
    for i in 0..5 {
        t.track_event("partial", [("seq", i)]);
    }
    t.flush(Duration::from_secs(10)).expect("flush");
    assert_eq!(rx.captured().len(), 1, "never retried");
    let stats = t.stats();
    assert_eq!(stats.dropped(DropReason::PartialSuccessRejected), 2);
    assert_eq!(stats.exported, 3);
}

#[test]
fn shutdown_meets_its_deadline_when_the_receiver_hangs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    rx.script([Reply::Hang(Duration::from_secs(30))]);
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("build");
    t.track_event("stuck", attrs! {});
    let started = Instant::now();
    let result = t.shutdown(Duration::from_millis(500));
    let took = started.elapsed();
    // The contract: shutdown returns by its deadline instead of waiting for the
    // receiver's 30 s hang or the 20 s request timeout. The bound is loose on purpose.
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    assert!(
        matches!(result, Err(FlushError::Timeout) | Ok(())),
        "{result:?}"
    );
    // Records after shutdown are refused and counted, never queued.
    t.track_event("late", attrs! {});
    assert_eq!(t.dropped(DropReason::AfterShutdown), 1);
}

#[test]
fn spool_delivers_everything_once_after_an_outage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let port = free_port();
    let t = isolated(dir.path(), &[])
        .endpoint(format!("http://127.0.0.1:{port}"))
        .spool_dir(spool.clone())
        .batch_size(10usize)
        .flush_interval(Duration::from_millis(100))
        .max_retries(1u32)
        .retry_backoff(Duration::from_millis(10))
        .timeout(Duration::from_secs(2))
        .build()
        .expect("build");
    for i in 0..25 {
        t.track_event("offline", [("seq", i)]);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.stats().spooled < 25 {
        assert!(
            Instant::now() < deadline,
            "records were not spooled: {:?}",
            t.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(t.stats().dropped_total(), 0, "nothing lost while offline");

    // The endpoint comes back on the same port.
    let rx = OtlpReceiver::start_on(port).expect("bind the same port");
    let arrived = rx.wait_until(Duration::from_secs(20), |c| {
        c.iter().filter(|r| r.accepted()).count() >= 3
    });
    assert!(arrived, "spooled batches were not delivered");
    t.shutdown(Duration::from_secs(10)).expect("shutdown");
    let seen = sequence_numbers(&rx);
    assert_eq!(seen.len(), 25, "every record arrived: {seen:?}");
    assert!(seen.values().all(|n| *n == 1), "nothing twice: {seen:?}");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .expect("spool dir")
        .flatten()
        .collect();
    assert!(left.is_empty(), "spool emptied: {left:?}");
}

#[test]
fn spooled_batches_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let port = free_port();
    // First run: the endpoint is down for the whole life of the program.
    {
        let offline = isolated(dir.path(), &[])
            .endpoint(format!("http://127.0.0.1:{port}"))
            .spool_dir(spool.clone())
            .max_retries(0u32)
            .build()
            .expect("build");
        for i in 0..7 {
            offline.track_event("before-restart", [("seq", i)]);
        }
        offline.shutdown(Duration::from_secs(5)).expect("shutdown");
        assert_eq!(offline.stats().spooled, 7);
    }
    // Second run: the endpoint is up; the new process delivers the old batches.
    let rx = OtlpReceiver::start_on(port).expect("bind");
    let online = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .spool_dir(spool)
        .build()
        .expect("build");
    online.flush(Duration::from_secs(10)).expect("flush");
    let seen = sequence_numbers(&rx);
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
    let logs = collect(&rx.accepted()).logs;
    assert_eq!(
        str_attr(&logs[0].attributes, "event.name").as_deref(),
        Some("before-restart")
    );
}

#[test]
fn dropping_the_last_handle_flushes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .flush_interval(Duration::from_secs(3600))
        .build()
        .expect("build");
    let clone = t.clone();
    std::thread::spawn(move || clone.track_event("from-thread", [("seq", 1)]))
        .join()
        .expect("thread");
    t.track_event("from-main", [("seq", 2)]);
    drop(t);
    assert_eq!(sequence_numbers(&rx).len(), 2);
}
