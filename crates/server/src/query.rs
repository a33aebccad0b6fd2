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
    parse_rfc3339(v).ok_or_else(|| {
        format!("{name}: expected RFC 3339 (2026-11-22T03:00:00Z) or a relative time like -1h")
    })
}

fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<9}", &frac[..digits.min(9)]);
        nanos = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    // Days since 1970-01-01 from a civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos as u64)
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
    use crate::store::rfc3339;

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
