//! Trace and span ids and W3C Trace Context (`traceparent`) parsing and formatting.

use std::fmt;
use std::str::FromStr;

/// A 16-byte trace id. The all-zero id is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id. The all-zero id is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// Whether this id is usable (not all zeros).
    pub fn is_valid(&self) -> bool {
        self.0 != [0; 16]
    }
}

impl SpanId {
    /// Whether this id is usable (not all zeros).
    pub fn is_valid(&self) -> bool {
        self.0 != [0; 8]
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Why a `traceparent` header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceparentError {
    /// Not four dash-separated fields of the right lengths.
    #[error("traceparent must look like 00-<32 hex>-<16 hex>-<2 hex>")]
    Format,
    /// A field is not lowercase hexadecimal.
    #[error("traceparent fields must be lowercase hexadecimal")]
    Hex,
    /// Version `ff` is forbidden by the W3C specification.
    #[error("traceparent version ff is invalid")]
    Version,
    /// The trace id or the parent id is all zeros.
    #[error("traceparent trace id and parent id must not be all zeros")]
    ZeroId,
}

/// The identity of a span as it travels between processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// W3C trace flags; bit 0 is "sampled".
    pub trace_flags: u8,
    /// Whether this context was extracted from another process.
    pub is_remote: bool,
}

impl SpanContext {
    /// Whether the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.trace_flags & 1 == 1
    }

    /// The W3C `traceparent` header value for this context.
    pub fn to_traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.trace_flags
        )
    }

    /// Parses a W3C `traceparent` header value (version 00, and future versions
    /// by their first four fields, as the specification asks).
    pub fn from_traceparent(header: &str) -> Result<Self, TraceparentError> {
        let header = header.trim();
        let mut parts = header.split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TraceparentError::Format);
        };
        if version.len() != 2 || trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
            return Err(TraceparentError::Format);
        }
        let is_lower_hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if ![version, trace, span, flags]
            .iter()
            .all(|s| is_lower_hex(s))
        {
            return Err(TraceparentError::Hex);
        }
        if version == "ff" {
            return Err(TraceparentError::Version);
        }
        // Version 00 has exactly four fields; later versions may append more.
        if version == "00" && parts.next().is_some() {
            return Err(TraceparentError::Format);
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        let mut flag = [0u8; 1];
        hex::decode_to_slice(trace, &mut trace_id).map_err(|_| TraceparentError::Hex)?;
        hex::decode_to_slice(span, &mut span_id).map_err(|_| TraceparentError::Hex)?;
        hex::decode_to_slice(flags, &mut flag).map_err(|_| TraceparentError::Hex)?;
        let ctx = SpanContext {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            trace_flags: flag[0],
            is_remote: true,
        };
        if !ctx.trace_id.is_valid() || !ctx.span_id.is_valid() {
            return Err(TraceparentError::ZeroId);
        }
        Ok(ctx)
    }
}

impl FromStr for SpanContext {
    type Err = TraceparentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpanContext::from_traceparent(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn round_trip() {
        let ctx = SpanContext::from_traceparent(EXAMPLE).expect("valid");
        assert!(ctx.is_sampled());
        assert!(ctx.is_remote);
        assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.to_traceparent(), EXAMPLE);
    }

    #[test]
    fn refusals() {
        use TraceparentError::*;
        let cases = [
            ("", Format),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                Format,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                Hex,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Version,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ZeroId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                ZeroId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                Format,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                Hex,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(SpanContext::from_traceparent(input), Err(want), "{input}");
        }
    }

    #[test]
    fn future_version_keeps_known_fields() {
        let h = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future";
        let ctx = SpanContext::from_traceparent(h).expect("future versions parse");
        assert!(!ctx.is_sampled());
    }
}
