use super::*;
use crate::export::{ExportError, RetryClass};
use automagik_telemetry_core::{EncodedLog, KeyValue, LogRecord, Severity};
use std::borrow::Cow;
use std::sync::mpsc;

type Script = Arc<Mutex<VecDeque<Result<ExportOutcome, ExportError>>>>;
/// Signals "export entered", then waits for a release.
type Gate = (mpsc::Sender<()>, Arc<Mutex<mpsc::Receiver<()>>>);

/// Records every request; answers from a script (then success).
struct Recording {
    sent: Arc<Mutex<Vec<SignalRequest>>>,
    attempts: Arc<Mutex<u32>>,
    script: Script,
    gate: Option<Gate>,
}

impl Exporter for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn export(
        &mut self,
        request: &SignalRequest,
        _deadline: Instant,
    ) -> Result<ExportOutcome, ExportError> {
        if let Some((entered, release)) = &self.gate {
            let _ = entered.send(());
            let _ = release.lock().expect("lock").recv();
        }
        *self.attempts.lock().expect("lock") += 1;
        let answer = self
            .script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Ok(ExportOutcome::default()));
        if answer.is_ok() {
            self.sent.lock().expect("lock").push(request.clone());
        }
        answer
    }
}

struct Harness {
    pipeline: Pipeline,
    sent: Arc<Mutex<Vec<SignalRequest>>>,
    attempts: Arc<Mutex<u32>>,
    script: Script,
}

fn settings(batch_size: usize, flush_interval: Duration, queue_size: usize) -> PipelineSettings {
    PipelineSettings {
        queue_size,
        batch_size,
        flush_interval,
        retry: RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            budget: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
        },
        spool_dir: None,
        spool_max_bytes: 1 << 20,
        verbose: false,
        histogram_bounds: automagik_telemetry_core::otlp::DEFAULT_HISTOGRAM_BOUNDS.to_vec(),
    }
}

fn harness(s: PipelineSettings, gate: Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>) -> Harness {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(Mutex::new(0));
    let script: Script = Arc::new(Mutex::new(VecDeque::new()));
    let exporter = Recording {
        sent: sent.clone(),
        attempts: attempts.clone(),
        script: script.clone(),
        gate: gate.map(|(tx, rx)| (tx, Arc::new(Mutex::new(rx)))),
    };
    let origin = Origin::new(&[KeyValue::new("service.name", "test")], "s", "1");
    let pipeline = Pipeline::start(s, Box::new(exporter), origin).expect("start");
    Harness {
        pipeline,
        sent,
        attempts,
        script,
    }
}

fn log(i: u64) -> LogRecord {
    LogRecord {
        time_unix_nano: i,
        severity: Severity::Info,
        body: Some(Cow::Owned(format!("record {i}"))),
        event_name: None,
        attributes: vec![],
        dropped_attributes_count: 0,
        trace: None,
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn sizes(h: &Harness) -> Vec<usize> {
    h.sent
        .lock()
        .expect("lock")
        .iter()
        .map(SignalRequest::item_count)
        .collect()
}

#[test]
fn batches_by_size() {
    let h = harness(settings(10, Duration::from_secs(3600), 1000), None);
    for i in 0..25 {
        h.pipeline.enqueue_log(&log(i));
    }
    wait_for("two full batches", || sizes(&h).len() == 2);
    assert_eq!(sizes(&h), vec![10, 10]);
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(sizes(&h), vec![10, 10, 5]);
    let stats = h.pipeline.stats();
    assert_eq!(
        (stats.queued, stats.exported, stats.dropped_total()),
        (25, 25, 0)
    );
}

#[test]
fn batches_by_interval() {
    let h = harness(settings(1000, Duration::from_millis(50), 1000), None);
    for i in 0..3 {
        h.pipeline.enqueue_log(&log(i));
    }
    // No flush call: the interval alone sends the partial batch.
    wait_for("the interval batch", || sizes(&h) == vec![3]);
}

#[test]
fn overflow_drops_newest_and_counts() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let h = harness(
        settings(1, Duration::from_secs(3600), 5),
        Some((entered_tx, release_rx)),
    );
    h.pipeline.enqueue_log(&log(0));
    entered_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("worker exporting");
    // The worker is busy: the queue holds 5, the next 5 are dropped.
    for i in 1..=10 {
        h.pipeline.enqueue_log(&log(i));
    }
    let stats = h.pipeline.stats();
    assert_eq!(stats.dropped(DropReason::QueueFull), 5);
    assert_eq!(stats.queued, 6);
    assert_eq!(stats.queue_depth, 5);
    for _ in 0..6 {
        release_tx.send(()).expect("release");
    }
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    let bodies: Vec<String> = h
        .sent
        .lock()
        .expect("lock")
        .iter()
        .map(|r| match r.decoded().as_ref() {
            SignalRequest::Logs(l) => {
                format!("{:?}", l.resource_logs[0].scope_logs[0].log_records[0].body)
            }
            _ => String::new(),
        })
        .collect();
    // The oldest records were kept; the newest (6..=10) were the ones dropped.
    assert!(bodies[5].contains("record 5"), "{bodies:?}");
    assert_eq!(h.pipeline.stats().exported, 6);
}

#[test]
fn records_after_shutdown_are_counted() {
    let h = harness(settings(10, Duration::from_secs(3600), 10), None);
    h.pipeline.enqueue_log(&log(1));
    h.pipeline
        .shutdown(Duration::from_secs(5))
        .expect("shutdown");
    assert_eq!(sizes(&h), vec![1], "shutdown flushes");
    h.pipeline.enqueue_log(&log(2));
    assert_eq!(h.pipeline.stats().dropped(DropReason::AfterShutdown), 1);
    assert_eq!(
        h.pipeline.flush(Duration::from_secs(1)),
        Err(FlushError::ShutDown)
    );
    assert_eq!(
        h.pipeline.shutdown(Duration::from_secs(1)),
        Err(FlushError::ShutDown)
    );
}

fn status(code: u16) -> ExportError {
    ExportError::Status {
        status: code,
        class: RetryClass::from_http(code, None, std::time::SystemTime::now()),
        message: None,
    }
}

#[test]
fn retryable_then_success_is_delivered_once() {
    let h = harness(settings(10, Duration::from_secs(3600), 10), None);
    h.script.lock().expect("lock").extend([
        Err(status(503)),
        Err(ExportError::Transport("reset".into())),
    ]);
    h.pipeline.enqueue_log(&log(1));
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(*h.attempts.lock().expect("lock"), 3);
    assert_eq!(sizes(&h), vec![1]);
    assert_eq!(h.pipeline.stats().exported, 1);
}

#[test]
fn permanent_errors_are_not_retried() {
    let h = harness(settings(10, Duration::from_secs(3600), 10), None);
    h.script.lock().expect("lock").push_back(Err(status(400)));
    h.pipeline.enqueue_log(&log(1));
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(*h.attempts.lock().expect("lock"), 1);
    assert_eq!(h.pipeline.stats().dropped(DropReason::NonRetryable), 1);
}

#[test]
fn retries_are_bounded() {
    let h = harness(settings(10, Duration::from_secs(3600), 10), None);
    h.script
        .lock()
        .expect("lock")
        .extend((0..10).map(|_| Err(status(502))));
    h.pipeline.enqueue_log(&log(1));
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(
        *h.attempts.lock().expect("lock"),
        4,
        "one attempt and max_retries = 3 retries"
    );
    assert_eq!(h.pipeline.stats().dropped(DropReason::RetriesExhausted), 1);
}

#[test]
fn partial_success_is_counted_not_retried() {
    let h = harness(settings(10, Duration::from_secs(3600), 10), None);
    h.script.lock().expect("lock").push_back(Ok(ExportOutcome {
        rejected: 2,
        message: Some("bad".into()),
    }));
    for i in 0..5 {
        h.pipeline.enqueue_log(&log(i));
    }
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(*h.attempts.lock().expect("lock"), 1);
    let stats = h.pipeline.stats();
    assert_eq!(stats.dropped(DropReason::PartialSuccessRejected), 2);
    assert_eq!(stats.exported, 3);
}

#[test]
fn backoff_is_full_jitter_within_the_cap() {
    let p = RetryPolicy {
        max_retries: 5,
        base: Duration::from_millis(100),
        max_backoff: Duration::from_millis(1000),
        budget: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
    };
    for attempt in 0..8 {
        let cap = Duration::from_millis(100 * 2u64.pow(attempt)).min(Duration::from_millis(1000));
        let samples: Vec<Duration> = (0..200).map(|_| p.backoff(attempt)).collect();
        assert!(samples.iter().all(|d| *d <= cap), "attempt {attempt}");
        // Full jitter spreads over the whole range, down to near zero.
        assert!(samples.iter().any(|d| *d < cap / 4), "attempt {attempt}");
    }
}

/// The bodies of every log record sent, in the order sent.
fn sent_bodies(h: &Harness) -> Vec<String> {
    h.sent
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|r| match r.decoded().as_ref() {
            SignalRequest::Logs(l) => l.resource_logs[0].scope_logs[0]
                .log_records
                .iter()
                .map(|r| match r.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s),
                    ) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn records_queued_both_ways_keep_their_order_and_bytes() {
    // Encoded on the caller's thread into the queue's byte area, or handed over
    // already encoded: one queue, one order, and the same bytes either way.
    let h = harness(settings(4, Duration::from_secs(3600), 100), None);
    for i in 0..11 {
        if i % 3 == 0 {
            h.pipeline.enqueue(Record::Log(EncodedLog::new(&log(i))));
        } else {
            h.pipeline.enqueue_log(&log(i));
        }
    }
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(sizes(&h), vec![4, 4, 3]);
    let expected: Vec<String> = (0..11).map(|i| format!("record {i}")).collect();
    assert_eq!(sent_bodies(&h), expected);
    let sent = h.sent.lock().expect("lock");
    let SignalRequest::EncodedLogs(first) = &sent[0] else {
        panic!("logs, still encoded")
    };
    let encoded: Vec<&[u8]> = first.records.iter().map(EncodedLog::as_bytes).collect();
    let direct: Vec<EncodedLog> = (0..4).map(|i| EncodedLog::new(&log(i))).collect();
    assert_eq!(
        encoded,
        direct.iter().map(EncodedLog::as_bytes).collect::<Vec<_>>()
    );
}

#[test]
fn the_queue_takes_again_after_each_swap() {
    // The background thread swaps the queue for its spare at every take: records keep
    // arriving into the other buffer, and none is lost or repeated across many swaps.
    let h = harness(settings(7, Duration::from_millis(1), 10_000), None);
    let pipeline = &h.pipeline;
    std::thread::scope(|scope| {
        for w in 0..3u64 {
            scope.spawn(move || {
                for i in 0..2_000 {
                    pipeline.enqueue_log(&log(w * 1_000_000 + i));
                    if i % 100 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    h.pipeline.flush(Duration::from_secs(10)).expect("flush");
    let mut bodies = sent_bodies(&h);
    assert_eq!(bodies.len(), 6_000);
    // Each writer's records arrive in its own order.
    for w in 0..3u64 {
        let mine: Vec<&String> = bodies
            .iter()
            .filter(|b| {
                b.trim_start_matches("record ")
                    .parse::<u64>()
                    .is_ok_and(|n| n / 1_000_000 == w)
            })
            .collect();
        let expected: Vec<String> = (0..2_000)
            .map(|i| format!("record {}", w * 1_000_000 + i))
            .collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "writer {w}");
    }
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 6_000, "no record sent twice");
    let stats = h.pipeline.stats();
    assert_eq!(
        (stats.queued, stats.exported, stats.queue_depth),
        (6_000, 6_000, 0)
    );
}

#[test]
fn an_oversize_log_is_refused_and_the_queue_goes_on() {
    let h = harness(settings(10, Duration::from_secs(3600), 10), None);
    let mut huge = log(1);
    huge.body = Some(Cow::Owned("x".repeat(MAX_RECORD_BYTES + 1)));
    h.pipeline.enqueue_log(&log(0));
    h.pipeline.enqueue_log(&huge);
    h.pipeline.enqueue_log(&log(2));
    h.pipeline.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(sent_bodies(&h), ["record 0", "record 2"]);
    let stats = h.pipeline.stats();
    assert_eq!(stats.dropped(DropReason::Oversize), 1);
    assert_eq!(stats.queued, 2);
}
