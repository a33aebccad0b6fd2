//! What an export request costs once decoded, read from its decompressed bytes before it
//! is decoded: the items it holds (spans, span events, span links, log records, metric
//! data points), its embedded messages, and an upper bound of the memory its decoded form
//! takes. A request over [`Limits::max_items`] or [`Limits::max_decoded_bytes`] is
//! refused as soon as the scan passes the limit, before anything of it is allocated: 33
//! million empty spans fit in 64 KB of gzip and would decode into 8 GB.
//!
//! The scans (`protobuf.rs` over the wire format, `json.rs` over OTLP JSON) walk the
//! message types of `schema.rs` and charge, as [`Tally`] does:
//!
//! - an element of a repeated message field: twice the size of its struct, and once for
//!   the first element of that field in its parent two more slots and one allocation (a
//!   `Vec` grown by pushing holds at most twice its length plus two slots);
//! - an embedded message that is not repeated: nothing (it lives inside its parent);
//! - a non-empty string or bytes field: its length and one allocation;
//! - a repeated string: a slot of 24 bytes, twice, and its string; a repeated number: 16
//!   bytes, and a `Vec` as above.
//!
//! One allocation is charged [`ALLOCATION`] bytes: the allocator's header and rounding
//! (glibc's smallest chunk is 32 bytes). Struct sizes are the real ones (`size_of`).
//! OTLP JSON is decoded by serde, which first copies the whole content of some objects
//! into a buffer of its own before decoding them (those with a flattened one-of field:
//! `AnyValue`, `Metric`, `NumberDataPoint`, `Exemplar`), and again for such an object
//! nested in another; `json.rs` charges those buffers too, for the deepest chain of them
//! alive at once.

mod json;
mod protobuf;
mod schema;
#[cfg(test)]
mod tests;

use crate::ingest::Limits;
use schema::Msg;

/// Bytes charged for one allocation beyond what it holds: the allocator's header and
/// rounding (glibc's smallest chunk is 32 bytes, and a larger one rounds up to 16 with 8
/// of header).
const ALLOCATION: u64 = 32;

/// The size of a `String` or `Vec` inside its parent.
const VEC: u64 = 24;

/// What a scan found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Spans, span events, span links, log records and metric data points.
    pub(crate) items: u64,
    /// Embedded messages at every level, items included, the request itself not.
    pub(crate) messages: u64,
    /// Upper bound of the bytes the decoded request allocates.
    pub(crate) decoded_bytes: u64,
}

/// Why a request is refused before it is decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// It is over one of the [`Limits`]; the message names it.
    OverLimit(String),
    /// Its bytes are not a well-formed request (the decoder would refuse it too).
    Malformed(String),
}

/// The cost of a protobuf export request of `signal` (`traces`, `metrics`, `logs`),
/// refused as soon as it passes `limits`.
pub(crate) fn protobuf(signal: &str, body: &[u8], limits: &Limits) -> Result<Cost, Refused> {
    let mut tally = Tally::new(limits);
    protobuf::scan(request(signal)?, body, &mut tally)?;
    Ok(tally.cost)
}

/// The cost of an OTLP JSON export request of `signal` (`traces`, `metrics`, `logs`),
/// refused as soon as it passes `limits`.
pub(crate) fn json(signal: &str, body: &[u8], limits: &Limits) -> Result<Cost, Refused> {
    let mut tally = Tally::new(limits);
    json::scan(request(signal)?, body, &mut tally)?;
    Ok(tally.cost)
}

fn request(signal: &str) -> Result<Msg, Refused> {
    Msg::request(signal).ok_or_else(|| Refused::Malformed(format!("no OTLP signal {signal:?}")))
}

/// Bytes of `n` elements of `size` bytes in a `Vec` grown by pushing, with the slots and
/// the allocation of the `Vec` itself when `first`.
fn slots(size: u64, n: u64, first: bool) -> u64 {
    let own = if first {
        size.saturating_mul(2).saturating_add(ALLOCATION)
    } else {
        0
    };
    size.saturating_mul(2).saturating_mul(n).saturating_add(own)
}

/// The running cost of a request, checked against the limits at every step.
struct Tally<'l> {
    limits: &'l Limits,
    cost: Cost,
}

impl<'l> Tally<'l> {
    fn new(limits: &'l Limits) -> Self {
        Tally {
            limits,
            cost: Cost::default(),
        }
    }

    /// An element of a repeated message field (`first`: the field's first in its parent).
    fn element(&mut self, msg: Msg, first: bool, item: bool) -> Result<(), Refused> {
        self.cost.messages += 1;
        if item {
            self.cost.items += 1;
        }
        self.charge(slots(msg.size() as u64, 1, first))
    }

    /// An embedded message that is not repeated (inside its parent: nothing to charge).
    fn message(&mut self) -> Result<(), Refused> {
        self.cost.messages += 1;
        Ok(())
    }

    /// A string or bytes field of `len` bytes (as sent: never shorter than decoded).
    fn text(&mut self, len: usize) -> Result<(), Refused> {
        if len == 0 {
            return Ok(());
        }
        self.charge((len as u64).saturating_add(ALLOCATION))
    }

    /// An element of a repeated string field, without its string.
    fn texts_element(&mut self, first: bool) -> Result<(), Refused> {
        self.charge(slots(VEC, 1, first))
    }

    /// `n` elements of a repeated number field.
    fn numbers(&mut self, n: usize, first: bool) -> Result<(), Refused> {
        self.charge(slots(8, n as u64, first))
    }

    /// `bytes` more of memory.
    fn charge(&mut self, bytes: u64) -> Result<(), Refused> {
        self.cost.decoded_bytes = self.cost.decoded_bytes.saturating_add(bytes);
        self.check()
    }

    fn check(&self) -> Result<(), Refused> {
        if self.cost.items > self.limits.max_items as u64 {
            return Err(Refused::OverLimit(format!(
                "the request holds more than {} items (spans, span events, span links, log \
                 records, metric data points), the most the server accepts in one request; \
                 send smaller batches",
                self.limits.max_items
            )));
        }
        if self.cost.decoded_bytes > self.limits.max_decoded_bytes as u64 {
            return Err(Refused::OverLimit(format!(
                "the request would take more than {} bytes of memory once decoded, the most \
                 the server accepts for one request; send smaller batches",
                self.limits.max_decoded_bytes
            )));
        }
        Ok(())
    }
}
