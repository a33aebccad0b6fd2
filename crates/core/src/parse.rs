//! Parsers for configuration values, each error naming the variable or key it came from.

use std::time::Duration;

/// A configuration value that could not be parsed. The message names the variable
/// and says what was expected; it never repeats a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ParseError {
    /// The variable or key.
    pub name: String,
    /// What is wrong and what is expected.
    pub problem: String,
}

impl ParseError {
    /// A new error for `name`.
    pub fn new(name: impl Into<String>, problem: impl Into<String>) -> Self {
        ParseError {
            name: name.into(),
            problem: problem.into(),
        }
    }
}

/// `true/false`, `1/0`, `yes/no`, `on/off`, case-insensitive.
pub fn parse_bool(name: &str, value: &str) -> Result<bool, ParseError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ParseError::new(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

/// A duration such as `5s`, `250ms`, `1.5m`, `2h`, `100us`; a bare number is seconds.
pub fn parse_duration(name: &str, value: &str) -> Result<Duration, ParseError> {
    let v = value.trim();
    let bad = || {
        ParseError::new(
            name,
            format!(
                "expected a duration such as 5s, 250ms, 2m, 1h or 7d (a bare number is seconds), got {v:?}"
            ),
        )
    };
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

/// A whole number within `min..=max`.
pub fn parse_u64_in(name: &str, value: &str, min: u64, max: u64) -> Result<u64, ParseError> {
    let n: u64 = value.trim().parse().map_err(|_| {
        ParseError::new(
            name,
            format!("expected a whole number, got {:?}", value.trim()),
        )
    })?;
    if n < min || n > max {
        return Err(ParseError::new(
            name,
            format!("must be between {min} and {max}, got {n}"),
        ));
    }
    Ok(n)
}

/// `k1=v1,k2=v2` with percent-encoded values, as `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS` use. Errors never repeat the values (they may be secrets).
pub fn parse_key_value_list(name: &str, value: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for (i, item) in value.split(',').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(ParseError::new(
                name,
                format!(
                    "entry {} has no '=': expected key=value pairs separated by commas",
                    i + 1
                ),
            ));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(ParseError::new(
                name,
                format!("entry {} has an empty key", i + 1),
            ));
        }
        let v = percent_decode(v.trim()).ok_or_else(|| {
            ParseError::new(
                name,
                format!("entry {} ({k}) has an invalid percent-encoding", i + 1),
            )
        })?;
        out.push((k.to_string(), v));
    }
    Ok(out)
}

/// Decodes `%XX` escapes (as in URLs); `None` for a bad escape or text that is not
/// UTF-8 once decoded.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("5s", Duration::from_secs(5)),
            ("250ms", Duration::from_millis(250)),
            ("7d", Duration::from_secs(7 * 86_400)),
            ("2", Duration::from_secs(2)),
            ("1.5", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("100us", Duration::from_micros(100)),
            (" 10s ", Duration::from_secs(10)),
        ];
        for (s, d) in ok {
            assert_eq!(parse_duration("V", s), Ok(d), "{s}");
        }
        for bad in ["", "s", "5 parsecs", "-1s", "abc", "1e400", "1.2.3s"] {
            let err = parse_duration("AUTOMAGIK_TELEMETRY_TIMEOUT", bad).expect_err(bad);
            assert!(
                err.to_string().starts_with("AUTOMAGIK_TELEMETRY_TIMEOUT:"),
                "{err}"
            );
        }
    }

    #[test]
    fn bools() {
        assert_eq!(parse_bool("V", "TRUE"), Ok(true));
        assert_eq!(parse_bool("V", "off"), Ok(false));
        assert!(parse_bool("AUTOMAGIK_TELEMETRY_VERBOSE", "sure").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64_in("V", "100", 1, 1000), Ok(100));
        assert!(parse_u64_in("V", "0", 1, 1000).is_err());
        assert!(parse_u64_in("V", "-3", 1, 1000).is_err());
        assert!(parse_u64_in("V", "ten", 1, 1000).is_err());
    }

    #[test]
    fn key_value_lists() {
        assert_eq!(
            parse_key_value_list("V", "a=1, b = x%20y ,,").expect("valid"),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
        let err = parse_key_value_list(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=secret-value,broken",
        )
        .expect_err("no '='");
        assert!(err.to_string().contains("OTEL_EXPORTER_OTLP_HEADERS"));
        assert!(
            !err.to_string().contains("secret-value"),
            "errors never echo values"
        );
        assert!(parse_key_value_list("V", "k=%zz").is_err());
        assert!(parse_key_value_list("V", "=v").is_err());
    }
}
