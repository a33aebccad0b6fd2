//! Delivery counters, readable from the handle at any time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why records were dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The in-memory queue was full; the newest record was dropped.
    QueueFull,
    /// The record arrived after `shutdown`.
    AfterShutdown,
    /// The record was larger than the per-record limit even after the value caps.
    Oversize,
    /// A metric value was not usable (NaN, infinite, or a negative counter increment).
    InvalidValue,
    /// The receiver refused the batch with a status that is never retried.
    NonRetryable,
    /// Every retry failed and no spool directory was set (or the spool was full).
    RetriesExhausted,
    /// The receiver accepted the batch but rejected these items (OTLP partial success).
    PartialSuccessRejected,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 7] = [
        DropReason::QueueFull,
        DropReason::AfterShutdown,
        DropReason::Oversize,
        DropReason::InvalidValue,
        DropReason::NonRetryable,
        DropReason::RetriesExhausted,
        DropReason::PartialSuccessRejected,
    ];

    /// A stable snake_case name, for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::AfterShutdown => "after_shutdown",
            DropReason::Oversize => "oversize",
            DropReason::InvalidValue => "invalid_value",
            DropReason::NonRetryable => "non_retryable",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::PartialSuccessRejected => "partial_success_rejected",
        }
    }

    fn index(self) -> usize {
        DropReason::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// A snapshot of the delivery counters.
///
/// Records are counted as queued; after export, metrics are counted as the data
/// points they were aggregated into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Records accepted into the queue.
    pub queued: u64,
    /// Items the receiver accepted.
    pub exported: u64,
    /// Items written to the spool directory (they are exported later, and counted again then).
    pub spooled: u64,
    /// Records waiting in the queue right now.
    pub queue_depth: usize,
    dropped: [u64; 7],
}

impl DeliveryStats {
    /// Items dropped for this reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Items dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// The live counters behind [`DeliveryStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub exported: AtomicU64,
    pub spooled: AtomicU64,
    dropped: [AtomicU64; 7],
}

impl Counters {
    pub fn record_drop(&self, reason: DropReason, n: u64) {
        self.dropped[reason.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// The counters with the queue's own figures (which the queue keeps under its lock).
    pub fn snapshot(&self, queued: u64, queue_depth: usize) -> DeliveryStats {
        DeliveryStats {
            queued,
            exported: self.exported.load(Ordering::Relaxed),
            spooled: self.spooled.load(Ordering::Relaxed),
            queue_depth,
            dropped: std::array::from_fn(|i| self.dropped[i].load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_counter_and_name() {
        let counters = Counters::default();
        counters.exported.fetch_add(2, Ordering::Relaxed);
        counters.spooled.fetch_add(1, Ordering::Relaxed);
        for (i, reason) in DropReason::ALL.into_iter().enumerate() {
            counters.record_drop(reason, i as u64 + 1);
        }
        let stats = counters.snapshot(30, 4);
        assert_eq!(
            (
                stats.queued,
                stats.exported,
                stats.spooled,
                stats.queue_depth
            ),
            (30, 2, 1, 4)
        );
        let by_reason: Vec<(&str, u64)> = DropReason::ALL
            .into_iter()
            .map(|r| (r.as_str(), stats.dropped(r)))
            .collect();
        assert_eq!(
            by_reason,
            [
                ("queue_full", 1),
                ("after_shutdown", 2),
                ("oversize", 3),
                ("invalid_value", 4),
                ("non_retryable", 5),
                ("retries_exhausted", 6),
                ("partial_success_rejected", 7),
            ]
        );
        assert_eq!(stats.dropped_total(), 28);
        assert_eq!(DeliveryStats::default().dropped_total(), 0);
    }
}
