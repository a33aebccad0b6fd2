//! The latency histogram every store keeps in its span rollups: logarithmic buckets
//! with ±9 % error, mergeable by adding bucket counts. One definition, used by the
//! server's SQLite and PostgreSQL rollups and, as SQL, by the ClickHouse rollup views.

/// Buckets: bucket `i > 0` holds durations in `[1 µs · G^(i-1), 1 µs · G^i)` with
/// `G = 2^(1/PER_OCTAVE)`, bucket 0 everything under 1 µs; the last bucket (about
/// 5 days) takes everything longer.
pub const BUCKETS: usize = 160;
/// Buckets per doubling of the duration.
pub const PER_OCTAVE: f64 = 4.0;

/// The bucket of a duration.
pub fn bucket_of(duration_ns: u64) -> usize {
    if duration_ns < 1_000 {
        return 0;
    }
    let octaves = (duration_ns as f64 / 1_000.0).log2();
    ((octaves * PER_OCTAVE).floor() as usize + 1).min(BUCKETS - 1)
}

/// A representative duration of a bucket (its geometric middle), ns.
pub fn bucket_value_ns(bucket: usize) -> f64 {
    if bucket == 0 {
        return 500.0;
    }
    1_000.0 * 2f64.powf((bucket as f64 - 0.5) / PER_OCTAVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_logarithmic_and_bounded() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(999), 0);
        assert_eq!(bucket_of(1_000), 1);
        assert_eq!(bucket_of(2_000), 5, "one octave is four buckets");
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        for d in [1_500u64, 37_000, 5_000_000, 120_000_000_000] {
            let mid = bucket_value_ns(bucket_of(d));
            assert!((mid / d as f64 - 1.0).abs() < 0.1, "{d}: {mid}");
        }
    }
}
