//! The delivery pipeline: a bounded queue, one background thread that batches by size
//! and by interval, retries with exponential backoff and full jitter, and spools what
//! still fails.
//!
//! The queue is one buffer behind a mutex that callers append to and the background
//! thread swaps for its empty spare when it takes what is queued: a log record is
//! encoded on the caller's thread and its bytes appended to the buffer's byte area, so
//! queueing one allocates nothing in steady state and the background thread frees
//! nothing the caller allocated (a free across threads, with the common allocators,
//! costs the allocating thread later). The caller never waits on the background thread:
//! the lock is held for a copy, and the background thread holds it only for the swap.
//! When the queue is full the newest record is dropped and counted. The background
//! thread sleeps until the flush interval ends or a control message arrives, and the
//! caller wakes it once per batch, when the queue holds a batch's worth of records.
//! Flush and shutdown are control messages carrying a deadline; the caller waits for
//! the answer no longer than that.

mod spool;
mod stats;

pub use spool::Spool;
pub(crate) use stats::Counters;
pub use stats::{DeliveryStats, DropReason};

use crate::export::{ExportError, ExportOutcome, Exporter};
use automagik_telemetry_core::otlp::to_requests;
use automagik_telemetry_core::otlp::wire::encode_log_into;
use automagik_telemetry_core::{EncodedLog, LogRecord, Origin, Record, SignalRequest};
use crossbeam_channel::{
    Receiver, RecvTimeoutError, Sender, TryRecvError, bounded, select, unbounded,
};
use rand::Rng;
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest record accepted, after value caps.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The largest per-thread encoding buffer kept for reuse.
const MAX_SCRATCH_BYTES: usize = 64 * 1024;

/// The size of one block of the queue's byte area: records are appended into blocks of
/// this size (a larger record gets a block of its own), so the area grows without
/// copying what it holds and wastes at most a record's length per block.
const BLOCK_BYTES: usize = 64 * 1024;

/// Empty blocks kept for reuse by one queue buffer, in bytes; more are given back to the
/// allocator.
const KEEP_BLOCK_BYTES: usize = 256 * 1024;

/// What is queued, in arrival order: the encoded log records back to back in `blocks`,
/// every record an entry.
#[derive(Default)]
struct Queued {
    /// The blocks in use, the last one being filled.
    blocks: Vec<Vec<u8>>,
    /// Empty blocks to fill next.
    free: Vec<Vec<u8>>,
    entries: Vec<Entry>,
    /// How many entries the background thread has taken out (it takes a batch at a time).
    taken: usize,
    /// Records accepted since the start (the stats' `queued`), counted under the lock.
    accepted: u64,
}

enum Entry {
    /// A log record: these bytes of that block.
    Log {
        block: u32,
        start: u32,
        end: u32,
    },
    Record(Record),
    /// Moved out already.
    Taken,
}

impl Queued {
    /// Room for one more entry, growing the entries up to `queue_size` and no further (a
    /// doubling past it would hold memory the queue never uses).
    fn reserve_entry(&mut self, queue_size: usize) {
        if self.entries.len() == self.entries.capacity() {
            let wanted = (self.entries.capacity() * 2).max(64).min(queue_size.max(1));
            self.entries
                .reserve_exact(wanted.saturating_sub(self.entries.len()).max(1));
        }
    }

    /// Appends one encoded log record (at most [`MAX_RECORD_BYTES`]) as an entry.
    fn push_log(&mut self, bytes: &[u8], queue_size: usize) {
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.capacity() - b.len() >= bytes.len());
        if !fits {
            let block = match self.free.pop() {
                Some(b) if b.capacity() >= bytes.len() => b,
                _ => Vec::with_capacity(BLOCK_BYTES.max(bytes.len())),
            };
            self.blocks.push(block);
        }
        let index = self.blocks.len() - 1;
        let block = &mut self.blocks[index];
        let start = block.len();
        block.extend_from_slice(bytes);
        let end = block.len();
        self.reserve_entry(queue_size);
        // Blocks are at most 1 MiB and there are fewer of them than entries: both fit.
        self.entries.push(Entry::Log {
            block: u32::try_from(index).unwrap_or(u32::MAX),
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        });
    }

    /// Moves up to `limit` entries, from the first not taken yet, into records in order;
    /// true once every entry is taken, the buffers then empty and emptied blocks (up to
    /// [`KEEP_BLOCK_BYTES`]) kept for the next swap.
    fn drain_into(&mut self, out: &mut Vec<Record>, limit: usize) -> bool {
        let end = self.entries.len().min(self.taken.saturating_add(limit));
        out.reserve(end - self.taken);
        for entry in &mut self.entries[self.taken..end] {
            match std::mem::replace(entry, Entry::Taken) {
                Entry::Log { block, start, end } => {
                    let bytes = self
                        .blocks
                        .get(block as usize)
                        .and_then(|b| b.get(start as usize..end as usize))
                        .unwrap_or_default();
                    out.push(Record::Log(EncodedLog::from_encoded(bytes)));
                }
                Entry::Record(r) => out.push(r),
                Entry::Taken => {}
            }
        }
        self.taken = end;
        if self.taken < self.entries.len() {
            return false;
        }
        self.entries.clear();
        self.taken = 0;
        let mut kept: usize = self.free.iter().map(Vec::capacity).sum();
        for mut block in self.blocks.drain(..) {
            if block.capacity() == BLOCK_BYTES && kept + BLOCK_BYTES <= KEEP_BLOCK_BYTES {
                block.clear();
                kept += BLOCK_BYTES;
                self.free.push(block);
            }
        }
        true
    }
}

thread_local! {
    /// Where a log record is encoded before its bytes are copied into the queue, so that
    /// the queue's lock is held for a copy only.
    static ENCODE_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

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
    queue: Arc<Mutex<Queued>>,
    queue_size: usize,
    control: Sender<Control>,
    /// Wakes the background thread when a batch's worth is queued.
    wake: Sender<()>,
    /// A wake-up was sent and the thread has not drained the queue since.
    woken: Arc<AtomicBool>,
    /// Records the background thread has taken from the queue and not yet batched.
    in_hand: Arc<AtomicUsize>,
    batch_size: usize,
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
        let queue = Arc::new(Mutex::new(Queued::default()));
        let queue_size = settings.queue_size;
        let (control_tx, control_rx) = unbounded();
        let (wake_tx, wake_rx) = bounded(1);
        let woken = Arc::new(AtomicBool::new(false));
        let in_hand = Arc::new(AtomicUsize::new(0));
        let counters = Arc::new(Counters::default());
        let spool = match &settings.spool_dir {
            Some(dir) => Some(Spool::open(dir, settings.spool_max_bytes)?),
            None => None,
        };
        let batch_size = settings.batch_size.max(1);
        let worker = Worker {
            queue: queue.clone(),
            spare: Queued::default(),
            control: control_rx,
            wake: wake_rx,
            woken: woken.clone(),
            in_hand: in_hand.clone(),
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
            queue,
            queue_size,
            control: control_tx,
            wake: wake_tx,
            woken,
            in_hand,
            batch_size,
            counters,
            worker: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queued> {
        // Nothing panics while the lock is held; a poisoned lock still holds a
        // consistent queue.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a record without waiting for the background thread.
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
        let mut queue = self.lock();
        if self.is_full(&queue) {
            drop(queue);
            self.counters.record_drop(DropReason::QueueFull, 1);
            return;
        }
        queue.reserve_entry(self.queue_size);
        queue.entries.push(Entry::Record(record));
        self.accepted(queue);
    }

    /// Encodes a log record and queues its bytes, without waiting for the background
    /// thread and, once the buffers have grown to the traffic, without allocating.
    #[inline]
    pub fn enqueue_log(&self, record: &LogRecord) {
        if self.closed.load(Ordering::Relaxed) {
            self.counters.record_drop(DropReason::AfterShutdown, 1);
            return;
        }
        ENCODE_SCRATCH.with(|scratch| {
            let Ok(mut bytes) = scratch.try_borrow_mut() else {
                // Only a log emitted from inside this very call (an allocator's own
                // instrumentation, say) finds the buffer taken: it is encoded apart.
                return self.enqueue(Record::Log(EncodedLog::new(record)));
            };
            bytes.clear();
            encode_log_into(record, &mut bytes);
            if bytes.len() > MAX_RECORD_BYTES {
                self.counters.record_drop(DropReason::Oversize, 1);
            } else {
                let mut queue = self.lock();
                if self.is_full(&queue) {
                    drop(queue);
                    self.counters.record_drop(DropReason::QueueFull, 1);
                } else {
                    queue.push_log(&bytes, self.queue_size);
                    self.accepted(queue);
                }
            }
            if bytes.capacity() > MAX_SCRATCH_BYTES {
                *bytes = Vec::new();
            }
        })
    }

    /// Whether the queue holds `queue_size` records, counting those the background
    /// thread has taken and not batched yet (so a slow export does not let twice as many
    /// be held).
    #[inline]
    fn is_full(&self, queue: &Queued) -> bool {
        queue.entries.len() + self.in_hand.load(Ordering::Relaxed) >= self.queue_size
    }

    /// Counts a record just queued and wakes the background thread when the queue
    /// holds a batch's worth.
    #[inline]
    fn accepted(&self, mut queue: MutexGuard<'_, Queued>) {
        queue.accepted += 1;
        let depth = queue.entries.len();
        drop(queue);
        if (depth.is_multiple_of(self.batch_size) || depth == self.queue_size)
            && !self.woken.swap(true, Ordering::AcqRel)
        {
            // Full means a wake-up is already waiting to be read.
            let _ = self.wake.try_send(());
        }
    }

    pub fn stats(&self) -> DeliveryStats {
        let (accepted, depth) = {
            let queue = self.lock();
            (queue.accepted, queue.entries.len())
        };
        let depth = depth + self.in_hand.load(Ordering::Relaxed);
        self.counters.snapshot(accepted, depth)
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
    queue: Arc<Mutex<Queued>>,
    in_hand: Arc<AtomicUsize>,
    /// The empty buffer swapped in for the queued one.
    spare: Queued,
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

    /// Takes what is queued now (not what keeps arriving: control messages are looked at
    /// between two takes), in order, delivering each full batch as it fills; what is
    /// left (less than a batch) stays in `batch`. Records are copied out of the queue's
    /// blocks a batch at a time, so a long queue is not held twice.
    fn take(
        &mut self,
        batch: &mut Vec<Record>,
        deadline: Option<Instant>,
        next_tick: &mut Instant,
    ) {
        {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            self.spare.accepted = queue.accepted;
            std::mem::swap(&mut *queue, &mut self.spare);
            self.in_hand
                .store(self.spare.entries.len(), Ordering::Relaxed);
        }
        let size = self.settings.batch_size.max(1);
        loop {
            let all = self
                .spare
                .drain_into(batch, size.saturating_sub(batch.len()));
            self.in_hand.store(
                self.spare.entries.len() - self.spare.taken,
                Ordering::Relaxed,
            );
            if batch.len() >= size {
                self.deliver(std::mem::take(batch), deadline);
                *next_tick = Instant::now() + self.settings.flush_interval;
            }
            if all {
                break;
            }
        }
    }

    /// Moves what is queued into `batch`, delivering each full batch; the caller may wake
    /// the thread again from the moment this starts.
    fn take_queued(&mut self, batch: &mut Vec<Record>, next_tick: &mut Instant) {
        self.woken.store(false, Ordering::Release);
        self.take(batch, None, next_tick);
    }

    /// Returns true when the worker must stop.
    fn handle_control(&mut self, ctl: Control, batch: &mut Vec<Record>) -> bool {
        let deadline = ctl.deadline();
        // Everything queued before the request is part of it.
        let mut next_tick = Instant::now();
        self.take(batch, Some(deadline), &mut next_tick);
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
