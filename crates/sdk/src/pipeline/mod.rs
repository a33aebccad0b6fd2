//! The delivery pipeline: a bounded queue, one background thread that batches by size
//! and by interval, retries with exponential backoff and full jitter, and spools what
//! still fails.
//!
//! The caller's thread only ever does a non-blocking `try_send`: when the queue is
//! full the newest record is dropped and counted. The background thread does not wait
//! on the queue (a thread parked on it would be woken, a system call on the caller's
//! side, by every record): it sleeps until the flush interval ends or a control message
//! arrives, and the caller wakes it once per batch, when the queue holds a batch's worth
//! of records. Flush and shutdown are control messages carrying a deadline; the caller
//! waits for the answer no longer than that.

mod spool;
mod stats;

pub use spool::Spool;
pub(crate) use stats::Counters;
pub use stats::{DeliveryStats, DropReason};

use crate::export::{ExportError, ExportOutcome, Exporter};
use automagik_telemetry_core::otlp::to_requests;
use automagik_telemetry_core::{Origin, Record, SignalRequest};
use crossbeam_channel::{
    Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded, select, unbounded,
};
use rand::Rng;
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest record accepted, after value caps.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Retry settings: exponential backoff with full jitter, bounded in count and total time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Base delay; attempt `n` waits a random time in `0..=min(max_backoff, base * 2^n)`.
    pub base: Duration,
    /// Cap on one delay.
    pub max_backoff: Duration,
    /// Total time one batch may spend, attempts and waits included.
    pub budget: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0-based): full jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(30)));
        let cap = exp.min(self.max_backoff);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// Why a flush or shutdown did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The deadline passed first; delivery goes on in the background.
    #[error("telemetry flush did not finish within its deadline")]
    Timeout,
    /// The client was already shut down.
    #[error("telemetry is already shut down")]
    ShutDown,
}

enum Control {
    /// `done` answers whether the work ended before the deadline.
    Flush {
        deadline: Instant,
        done: Sender<bool>,
    },
    Shutdown {
        deadline: Instant,
        done: Sender<bool>,
    },
}

impl Control {
    fn deadline(&self) -> Instant {
        match self {
            Control::Flush { deadline, .. } | Control::Shutdown { deadline, .. } => *deadline,
        }
    }
}

/// Settings the pipeline needs.
pub(crate) struct PipelineSettings {
    pub queue_size: usize,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub retry: RetryPolicy,
    pub spool_dir: Option<PathBuf>,
    pub spool_max_bytes: u64,
    pub verbose: bool,
    pub histogram_bounds: Vec<f64>,
}

/// The caller's side of the pipeline.
pub(crate) struct Pipeline {
    records: Sender<Record>,
    control: Sender<Control>,
    /// Wakes the background thread when a batch's worth is queued.
    wake: Sender<()>,
    /// A wake-up was sent and the thread has not drained the queue since.
    woken: Arc<AtomicBool>,
    batch_size: u64,
    pub counters: Arc<Counters>,
    worker: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl Pipeline {
    pub fn start(
        settings: PipelineSettings,
        exporter: Box<dyn Exporter>,
        origin: Origin,
    ) -> std::io::Result<Self> {
        let (records_tx, records_rx) = bounded(settings.queue_size);
        let (control_tx, control_rx) = unbounded();
        let (wake_tx, wake_rx) = bounded(1);
        let woken = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let spool = match &settings.spool_dir {
            Some(dir) => Some(Spool::open(dir, settings.spool_max_bytes)?),
            None => None,
        };
        let batch_size = u64::try_from(settings.batch_size.max(1)).unwrap_or(u64::MAX);
        let worker = Worker {
            records: records_rx,
            control: control_rx,
            wake: wake_rx,
            woken: woken.clone(),
            pending: VecDeque::new(),
            exporter,
            origin,
            counters: counters.clone(),
            spool_waiting: spool.as_ref().is_some_and(|s| !s.is_empty()),
            spool,
            spool_retry_at: Instant::now(),
            warned: HashSet::new(),
            settings,
        };
        let handle = std::thread::Builder::new()
            .name("automagik-telemetry".into())
            .spawn(move || worker.run())?;
        Ok(Pipeline {
            records: records_tx,
            control: control_tx,
            wake: wake_tx,
            woken,
            batch_size,
            counters,
            worker: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
        })
    }

    /// Queues a record without ever blocking.
    #[inline]
    pub fn enqueue(&self, record: Record) {
        if self.closed.load(Ordering::Relaxed) {
            self.counters.record_drop(DropReason::AfterShutdown, 1);
            return;
        }
        if record.approx_size() > MAX_RECORD_BYTES {
            self.counters.record_drop(DropReason::Oversize, 1);
            return;
        }
        match self.records.try_send(record) {
            Ok(()) => {
                let queued = self.counters.queued.fetch_add(1, Ordering::Relaxed) + 1;
                // One wake-up per batch's worth queued (the counter the stats keep
                // anyway: no look at the queue itself on this path).
                if queued.is_multiple_of(self.batch_size)
                    && !self.woken.swap(true, Ordering::AcqRel)
                {
                    // Full means a wake-up is already waiting to be read.
                    let _ = self.wake.try_send(());
                }
            }
            Err(TrySendError::Full(_)) => self.counters.record_drop(DropReason::QueueFull, 1),
            Err(TrySendError::Disconnected(_)) => {
                self.counters.record_drop(DropReason::AfterShutdown, 1)
            }
        }
    }

    pub fn queue_depth(&self) -> usize {
        self.records.len()
    }

    pub fn stats(&self) -> DeliveryStats {
        self.counters.snapshot(self.queue_depth())
    }

    fn request(
        &self,
        make: impl FnOnce(Instant, Sender<bool>) -> Control,
        timeout: Duration,
    ) -> Result<(), FlushError> {
        let deadline = Instant::now() + timeout;
        let (done_tx, done_rx) = bounded(1);
        self.control
            .send(make(deadline, done_tx))
            .map_err(|_| FlushError::ShutDown)?;
        match done_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(true) => Ok(()),
            // The worker reached the deadline too (a send given up at it, the batch
            // spooled): its answer may arrive before this wait's own timeout fires.
            Ok(false) | Err(RecvTimeoutError::Timeout) => Err(FlushError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(FlushError::ShutDown),
        }
    }

    /// Exports everything queued so far; returns by `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(FlushError::ShutDown);
        }
        self.request(|deadline, done| Control::Flush { deadline, done }, timeout)
    }

    /// Flushes and stops the background thread; returns by `timeout` whatever the
    /// endpoint does. Later records are dropped and counted.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Err(FlushError::ShutDown);
        }
        let result = self.request(
            |deadline, done| Control::Shutdown { deadline, done },
            timeout,
        );
        if result.is_ok()
            && let Some(handle) = self.worker.lock().ok().and_then(|mut w| w.take())
        {
            let _ = handle.join();
        }
        result
    }
}

enum Failure {
    Permanent(ExportError),
    Exhausted(ExportError),
}

struct Worker {
    records: Receiver<Record>,
    control: Receiver<Control>,
    wake: Receiver<()>,
    woken: Arc<AtomicBool>,
    pending: VecDeque<Control>,
    exporter: Box<dyn Exporter>,
    origin: Origin,
    counters: Arc<Counters>,
    spool: Option<Spool>,
    spool_waiting: bool,
    spool_retry_at: Instant,
    warned: HashSet<String>,
    settings: PipelineSettings,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Record> = Vec::with_capacity(self.settings.batch_size);
        let mut next_tick = Instant::now() + self.settings.flush_interval;
        loop {
            if let Some(ctl) = self.pending.pop_front() {
                if self.handle_control(ctl, &mut batch) {
                    return;
                }
                continue;
            }
            // Flush and shutdown first, even while the queue keeps filling.
            match self.control.try_recv() {
                Ok(ctl) => {
                    if self.handle_control(ctl, &mut batch) {
                        return;
                    }
                    continue;
                }
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => {}
            }
            if self.woken.load(Ordering::Acquire) {
                // A wake-up read while a batch was retried (or not read yet): the
                // queue holds a batch's worth.
                let _ = self.wake.try_recv();
                self.take_queued(&mut batch, &mut next_tick);
                continue;
            }
            let wait = next_tick.saturating_duration_since(Instant::now());
            select! {
                recv(self.wake) -> msg => match msg {
                    Ok(()) => self.take_queued(&mut batch, &mut next_tick),
                    Err(_) => return,
                },
                recv(self.control) -> msg => match msg {
                    Ok(ctl) => {
                        if self.handle_control(ctl, &mut batch) {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                default(wait) => {
                    self.take_queued(&mut batch, &mut next_tick);
                    if !batch.is_empty() {
                        self.deliver(std::mem::take(&mut batch), None);
                    }
                    if self.spool_waiting && Instant::now() >= self.spool_retry_at {
                        let limit = Instant::now() + self.settings.retry.budget;
                        self.drain_spool(limit);
                    }
                    next_tick = Instant::now() + self.settings.flush_interval;
                }
            }
        }
    }

    /// Moves what is queued into `batch`, delivering each full batch; the caller may wake
    /// the thread again from the moment this starts.
    fn take_queued(&mut self, batch: &mut Vec<Record>, next_tick: &mut Instant) {
        self.woken.store(false, Ordering::Release);
        // What is queued now, not what keeps arriving: control messages are looked at
        // between two takes.
        for _ in 0..self.records.len() {
            let Ok(record) = self.records.try_recv() else {
                break;
            };
            batch.push(record);
            if batch.len() >= self.settings.batch_size {
                self.deliver(std::mem::take(batch), None);
                *next_tick = Instant::now() + self.settings.flush_interval;
            }
        }
    }

    /// Returns true when the worker must stop.
    fn handle_control(&mut self, ctl: Control, batch: &mut Vec<Record>) -> bool {
        let deadline = ctl.deadline();
        // Everything queued before the request is part of it.
        while let Ok(record) = self.records.try_recv() {
            batch.push(record);
            if batch.len() >= self.settings.batch_size {
                self.deliver(std::mem::take(batch), Some(deadline));
            }
        }
        if !batch.is_empty() {
            self.deliver(std::mem::take(batch), Some(deadline));
        }
        if self.spool_waiting {
            self.drain_spool(deadline);
        }
        if let Err(e) = self.exporter.flush() {
            self.warn_once("flush", &format!("exporter flush failed: {e}"));
        }
        match ctl {
            Control::Flush { done, .. } => {
                let _ = done.send(Instant::now() < deadline);
                false
            }
            Control::Shutdown { done, .. } => {
                if let Err(e) = self.exporter.shutdown() {
                    self.warn_once("shutdown", &format!("exporter shutdown failed: {e}"));
                }
                let _ = done.send(Instant::now() < deadline);
                true
            }
        }
    }

    fn deliver(&mut self, records: Vec<Record>, deadline: Option<Instant>) {
        let requests = to_requests(&self.origin, records, &self.settings.histogram_bounds);
        for request in requests {
            self.send(request, deadline);
        }
    }

    fn send(&mut self, request: SignalRequest, deadline: Option<Instant>) {
        let items = request.item_count() as u64;
        if self.settings.verbose {
            eprintln!(
                "[automagik-telemetry] {} {}",
                request.signal().as_str(),
                String::from_utf8_lossy(&request.encode_json())
            );
        }
        match self.send_with_retries(&request, deadline) {
            Ok(outcome) => {
                self.account_success(items, &outcome);
                if self.spool_waiting {
                    let limit =
                        deadline.unwrap_or_else(|| Instant::now() + self.settings.retry.budget);
                    self.drain_spool(limit);
                }
            }
            Err(Failure::Permanent(e)) => {
                self.counters.record_drop(DropReason::NonRetryable, items);
                self.warn_once(
                    &format!("permanent:{e}"),
                    &format!("{} export refused, not retried: {e}", self.exporter.name()),
                );
            }
            Err(Failure::Exhausted(e)) => self.spool_or_drop(&request, items, &e),
        }
    }

    fn account_success(&mut self, items: u64, outcome: &ExportOutcome) {
        let rejected = outcome.rejected.min(items);
        self.counters
            .exported
            .fetch_add(items - rejected, Ordering::Relaxed);
        if rejected > 0 {
            self.counters
                .record_drop(DropReason::PartialSuccessRejected, rejected);
            self.warn_once(
                "partial",
                &format!(
                    "receiver rejected {rejected} of {items} items: {}",
                    outcome.message.as_deref().unwrap_or("no reason given")
                ),
            );
        }
    }

    fn spool_or_drop(&mut self, request: &SignalRequest, items: u64, error: &ExportError) {
        if let Some(spool) = &mut self.spool {
            match spool.write(request) {
                Ok(evicted) => {
                    self.counters.spooled.fetch_add(items, Ordering::Relaxed);
                    self.counters
                        .record_drop(DropReason::RetriesExhausted, evicted);
                    self.spool_waiting = true;
                    self.spool_retry_at = Instant::now() + self.settings.flush_interval;
                    self.warn_once(
                        "spooled",
                        &format!("endpoint unavailable ({error}); batches are kept in the spool"),
                    );
                    return;
                }
                Err(e) => self.warn_once("spool-write", &format!("spool write failed: {e}")),
            }
        }
        self.counters
            .record_drop(DropReason::RetriesExhausted, items);
        self.warn_once(
            "exhausted",
            &format!(
                "{} export failed after retries, batch dropped: {error}",
                self.exporter.name()
            ),
        );
    }

    /// Sends spooled batches, oldest first, one attempt each, until one fails or `limit`.
    fn drain_spool(&mut self, limit: Instant) {
        let Some(mut spool) = self.spool.take() else {
            return;
        };
        loop {
            if Instant::now() >= limit {
                break;
            }
            let claimed = match spool.claim_oldest() {
                Ok(Some(c)) => c,
                Ok(None) => {
                    self.spool_waiting = false;
                    break;
                }
                Err(e) => {
                    self.warn_once("spool-read", &format!("spool read failed: {e}"));
                    break;
                }
            };
            let try_deadline = (Instant::now() + self.settings.retry.timeout).min(limit);
            match self.exporter.export(&claimed.request, try_deadline) {
                Ok(outcome) => {
                    self.account_success(claimed.items, &outcome);
                    spool.complete(claimed);
                }
                Err(e) if !e.is_retryable() => {
                    self.counters
                        .record_drop(DropReason::NonRetryable, claimed.items);
                    spool.complete(claimed);
                }
                Err(_) => {
                    spool.release(claimed);
                    self.spool_retry_at = Instant::now() + self.settings.flush_interval;
                    break;
                }
            }
        }
        self.spool = Some(spool);
    }

    fn send_with_retries(
        &mut self,
        request: &SignalRequest,
        deadline: Option<Instant>,
    ) -> Result<ExportOutcome, Failure> {
        let policy = self.settings.retry;
        let mut limit = Instant::now() + policy.budget;
        if let Some(d) = deadline {
            limit = limit.min(d);
        }
        let mut attempt = 0;
        loop {
            let try_deadline = (Instant::now() + policy.timeout).min(limit);
            let error = match self.exporter.export(request, try_deadline) {
                Ok(outcome) => return Ok(outcome),
                Err(e) if !e.is_retryable() => return Err(Failure::Permanent(e)),
                Err(e) => e,
            };
            if attempt >= policy.max_retries {
                return Err(Failure::Exhausted(error));
            }
            let delay = error
                .retry_after()
                .unwrap_or_else(|| policy.backoff(attempt));
            if Instant::now() + delay >= limit {
                return Err(Failure::Exhausted(error));
            }
            self.pause(delay, &mut limit);
            attempt += 1;
        }
    }

    /// Sleeps `delay`, but keeps listening for flush and shutdown: their deadlines
    /// shorten the current batch's limit, and they are handled right after it.
    fn pause(&mut self, delay: Duration, limit: &mut Instant) {
        let wake = Instant::now() + delay;
        loop {
            let until = wake.min(*limit);
            let now = Instant::now();
            if now >= until {
                return;
            }
            match self.control.recv_timeout(until - now) {
                Ok(ctl) => {
                    *limit = (*limit).min(ctl.deadline());
                    self.pending.push_back(ctl);
                }
                Err(_) => return,
            }
        }
    }

    fn warn_once(&mut self, key: &str, message: &str) {
        if self.warned.insert(key.to_string()) {
            tracing::warn!(target: "automagik_telemetry", "{message}");
        }
    }
}

#[cfg(test)]
mod tests;
