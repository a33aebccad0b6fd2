//! This thread's current-span stack and the identity of new spans. A span started with
//! `Telemetry::span`, and a `tracing` span while it is entered, is on top of its
//! thread's stack: logs take their trace context from the top, and new spans become its
//! children. Ids come from a fast generator per thread.

use automagik_telemetry_core::{SpanContext, SpanId, TraceId};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

thread_local! {
    static CURRENT: RefCell<Vec<SpanContext>> = const { RefCell::new(Vec::new()) };
}

/// This thread's current span, if any.
pub fn current_context() -> Option<SpanContext> {
    CURRENT.with(|c| c.borrow().last().copied())
}

pub(crate) fn current_trace() -> Option<(TraceId, SpanId)> {
    current_context().map(|c| (c.trace_id, c.span_id))
}

pub(crate) fn push_current(ctx: SpanContext) {
    CURRENT.with(|c| c.borrow_mut().push(ctx));
}

/// Removes `span_id` from this thread's stack, wherever it is (spans may end out of order).
pub(crate) fn remove_current(span_id: SpanId) {
    CURRENT.with(|c| {
        let mut stack = c.borrow_mut();
        if let Some(pos) = stack.iter().rposition(|s| s.span_id == span_id) {
            stack.remove(pos);
        }
    });
}

thread_local! {
    // Ids need uniqueness, not secrecy: a fast generator per thread, seeded from the OS.
    static ID_RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

fn random_u128() -> u128 {
    ID_RNG.with(|r| r.borrow_mut().random())
}

fn new_trace_id() -> TraceId {
    loop {
        let id = TraceId(random_u128().to_le_bytes());
        if id.is_valid() {
            return id;
        }
    }
}

fn new_span_id() -> SpanId {
    loop {
        let id = SpanId((random_u128() as u64).to_le_bytes());
        if id.is_valid() {
            return id;
        }
    }
}

/// Creates the context of a new span under `parent` (a new trace when `None`).
/// Children inherit the parent's sampled flag.
pub(crate) fn child_context(parent: Option<&SpanContext>) -> SpanContext {
    SpanContext {
        trace_id: parent.map_or_else(new_trace_id, |p| p.trace_id),
        span_id: new_span_id(),
        trace_flags: parent.map_or(1, |p| p.trace_flags),
        is_remote: false,
    }
}
