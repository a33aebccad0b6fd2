//! Retry classification of receiver answers, per the OTLP specification: transport
//! errors and 429, 502, 503, 504 are retried (honouring `Retry-After` in both its
//! delta-seconds and HTTP-date forms); every other status is final.

use std::time::{Duration, SystemTime};

/// How an answer is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// Try again, after the receiver's `Retry-After` when it gave one.
    Retryable {
        /// The delay the receiver asked for.
        retry_after: Option<Duration>,
    },
    /// Never retried: the same request would fail the same way.
    Permanent,
}

impl RetryClass {
    /// Whether to retry.
    pub fn is_retryable(self) -> bool {
        matches!(self, RetryClass::Retryable { .. })
    }

    /// Classifies an HTTP status and its `Retry-After` header, if any.
    pub fn from_http(status: u16, retry_after: Option<&str>, now: SystemTime) -> Self {
        match status {
            429 | 502 | 503 | 504 => RetryClass::Retryable {
                retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
            },
            _ => RetryClass::Permanent,
        }
    }
}

/// Parses `Retry-After`: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_retryable_statuses() {
        let now = SystemTime::now();
        for status in [429, 502, 503, 504] {
            assert!(
                RetryClass::from_http(status, None, now).is_retryable(),
                "{status}"
            );
        }
        for status in [200, 400, 401, 403, 404, 405, 413, 415, 500, 501] {
            assert_eq!(
                RetryClass::from_http(status, Some("5"), now),
                RetryClass::Permanent,
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(
            RetryClass::from_http(429, Some("7"), now),
            RetryClass::Retryable {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("date");
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // In the past: retry now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            RetryClass::from_http(503, Some("Wed, 21 Oct 2015 07:29:00 GMT"), now),
            RetryClass::Retryable {
                retry_after: Some(Duration::from_secs(60))
            }
        );
    }
}
