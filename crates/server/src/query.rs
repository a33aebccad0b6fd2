//! Query parameters shared by the list endpoints: time bounds (RFC 3339 or relative
//! like `-1h`), limits and opaque cursors.

use automagik_telemetry_core::parse::parse_duration;
use std::time::{SystemTime, UNIX_EPOCH};

/// Most items one page returns.
pub const MAX_LIMIT: usize = 1000;
/// Items per page when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Parses a time bound: `now`, a relative offset (`-1h`, `-15m`, `-30s`), or RFC 3339
/// (`2026-11-22T03:00:00Z`, fractional seconds and `+hh:mm` offsets allowed).
pub fn parse_time(name: &str, value: &str, now: u64) -> Result<u64, String> {
    let v = value.trim();
    if v == "now" {
        return Ok(now);
    }
    if let Some(rel) = v.strip_prefix('-') {
        let d = parse_duration(name, rel).map_err(|e| e.to_string())?;
        return Ok(now.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)));
    }
    automagik_telemetry_core::time::parse_rfc3339(v).ok_or_else(|| {
        format!("{name}: expected RFC 3339 (2026-11-22T03:00:00Z) or a relative time like -1h")
    })
}

/// A position in a newest-first listing: the last item's time and a key that orders
/// items of equal time (a row id, or a trace and span id), as lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Time of the last item returned, ns.
    pub time: u64,
    /// Its tie-breaking key, lowercase hex.
    pub key: String,
}

impl Cursor {
    /// A cursor whose key is a row id.
    pub fn with_id(time: u64, id: i64) -> Self {
        Cursor {
            time,
            key: format!("{:016x}", id as u64),
        }
    }

    /// The row id of a cursor made by [`Cursor::with_id`].
    pub fn id(&self) -> Option<i64> {
        (self.key.len() == 16)
            .then(|| u64::from_str_radix(&self.key, 16).ok().map(|v| v as i64))
            .flatten()
    }

    /// The opaque text given to clients.
    pub fn encode(&self) -> String {
        format!("{:016x}{}", self.time, self.key)
    }

    /// Reads a cursor back; anything else is refused.
    pub fn decode(s: &str) -> Option<Cursor> {
        if !(32..=16 + 64).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let time = u64::from_str_radix(s.get(..16)?, 16).ok()?;
        Some(Cursor {
            time,
            key: s.get(16..)?.to_ascii_lowercase(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automagik_telemetry_core::time::rfc3339;

    #[test]
    fn times() {
        let now = 1_763_780_400_000_000_000;
        assert_eq!(parse_time("from", "now", now), Ok(now));
        assert_eq!(parse_time("from", "-1h", now), Ok(now - 3_600_000_000_000));
        assert_eq!(parse_time("from", "-250ms", now), Ok(now - 250_000_000));
        for ns in [0u64, 951_782_400_000_000_001, 1_763_780_400_123_456_789] {
            assert_eq!(
                parse_time("from", &rfc3339(ns), now),
                Ok(ns),
                "{}",
                rfc3339(ns)
            );
        }
        assert_eq!(
            parse_time("to", "2025-11-22T04:00:00+01:00", now),
            Ok(1_763_780_400_000_000_000)
        );
        assert_eq!(
            parse_time("to", "2025-11-22T03:00:00.5Z", now),
            Ok(1_763_780_400_500_000_000)
        );
        for bad in [
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025-11-22",
            "-1 fortnight",
            "2025-11-22T03:00:00",
        ] {
            let err = parse_time("from", bad, now).expect_err(bad);
            assert!(err.starts_with("from"), "{err}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor::with_id(1_763_780_400_123_456_789, 42);
        assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()));
        assert_eq!(c.id(), Some(42));
        let t = Cursor {
            time: 7,
            key: format!("{}{}", "ab".repeat(16), "cd".repeat(8)),
        };
        assert_eq!(Cursor::decode(&t.encode()), Some(t.clone()));
        assert_eq!(t.id(), None);
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode(&"z".repeat(32)), None);
    }
}
