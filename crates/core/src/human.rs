//! Numbers as people read them in messages and tables: durations (`60 s`, `250 ms`,
//! `7 d`), sizes (`4.0 MiB`), counts (`100,000`) and measured values (`0.707`, `2150`).

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Drops the trailing zeros of a decimal fraction (`2.50` -> `2.5`, `3.00` -> `3`).
fn trim_fraction(mut text: String) -> String {
    if text.contains('.') {
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    text
}

/// A duration in the unit it reads best in: whole days (`7 d`), hours (`2 h`) and
/// minutes from two minutes on (`5 min`), otherwise seconds (`60 s`, `1.5 s`),
/// milliseconds (`250 ms`, `3.2 ms`), microseconds (`40 µs`) or nanoseconds.
pub fn duration(d: Duration) -> String {
    if d.is_zero() {
        return "0 s".into();
    }
    if d.subsec_nanos() == 0 {
        let s = d.as_secs();
        return if s.is_multiple_of(DAY) {
            format!("{} d", s / DAY)
        } else if s.is_multiple_of(HOUR) {
            format!("{} h", s / HOUR)
        } else if s.is_multiple_of(MINUTE) && s >= 2 * MINUTE {
            format!("{} min", s / MINUTE)
        } else {
            format!("{s} s")
        };
    }
    let ms = d.as_secs_f64() * 1e3;
    if d >= Duration::from_secs(1) {
        format!("{} s", trim_fraction(format!("{:.2}", d.as_secs_f64())))
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{} ms", trim_fraction(format!("{ms:.1}")))
    } else if d >= Duration::from_micros(1) {
        format!("{:.0} µs", ms * 1e3)
    } else {
        format!("{} ns", d.as_nanos())
    }
}

/// A size in bytes, in binary units past 1 KiB: `512 B`, `4.0 MiB`, `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A count with thousands separated by commas: `100,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A measured value, rounded for reading: whole numbers as they are (`2150`), others
/// to three decimals (`1234.568`), values below one to three significant digits
/// (`0.707`, `0.000123`); `NaN` and infinities as Rust writes them.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".into();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let decimals = if v.abs() >= 1.0 {
        3
    } else {
        // 0.7065 -> 3 decimals, 0.0001234 -> 6: three significant digits.
        let leading_zeros = (-v.abs().log10().floor()) as usize;
        (leading_zeros + 2).clamp(3, 15)
    };
    trim_fraction(format!("{v:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_best_unit() {
        let cases = [
            (Duration::ZERO, "0 s"),
            (Duration::from_secs(60), "60 s"),
            (Duration::from_secs(15), "15 s"),
            (Duration::from_secs(90), "90 s"),
            (Duration::from_secs(300), "5 min"),
            (Duration::from_secs(7200), "2 h"),
            (Duration::from_secs(3600), "1 h"),
            (Duration::from_secs(7 * 86_400), "7 d"),
            (Duration::from_millis(1500), "1.5 s"),
            (Duration::from_millis(250), "250 ms"),
            (Duration::from_micros(3200), "3.2 ms"),
            (Duration::from_millis(3), "3 ms"),
            (Duration::from_micros(40), "40 µs"),
            (Duration::from_nanos(300), "300 ns"),
        ];
        for (d, want) in cases {
            assert_eq!(duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(4 * 1024 * 1024), "4.0 MiB");
        assert_eq!(bytes(96 * 1024 * 1024), "96.0 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn counts_with_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn numbers_rounded_for_reading() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(2150.0), "2150");
        assert_eq!(number(0.706_552), "0.707");
        assert_eq!(number(1_234.567_89), "1234.568");
        assert_eq!(number(0.000_123_4), "0.000123");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(-2.25), "-2.25");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "inf");
    }
}
