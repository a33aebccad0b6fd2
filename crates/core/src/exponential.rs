//! Exponential histograms read as explicit-bucket histograms whose bounds are the
//! exponential bucket boundaries, so that every rollup and percentile reads one histogram
//! layout: the rows of the relational stores hold this form; ClickHouse keeps the points
//! as sent in the Collector's `otel_metrics_exponential_histogram` table and converts them
//! when it reads them.
//!
//! At scale `s` the base is `2^(2^-s)`; positive bucket `i` holds the values in
//! `(base^i, base^(i+1)]`, negative bucket `i` those in `[-base^(i+1), -base^i)`, and
//! the zero bucket those within `zero_threshold` of zero. The explicit layout has one
//! bucket per exponential bucket from the lowest populated index to the highest, in
//! ascending order: negative buckets (upper bound `-base^i`), the zero bucket (upper
//! bound `zero_threshold`), positive buckets (upper bound `base^(i+1)`), with empty
//! buckets where the exponential layout has a gap (below the most negative bucket,
//! between the negative buckets and the zero bucket, between the zero bucket and the
//! first positive one), so that every bucket has its true lower edge; the last bucket
//! is open above (`+inf`), bounded by the point's max.
//!
//! No count moves to another bucket, so the conversion itself loses nothing beyond the
//! exponential layout's own resolution: a quantile read from the converted histogram
//! lies in the bucket that holds it, within a relative error of `base - 1`
//! (`2^(2^-s) - 1`: 9.05 % at scale 3, 4.4 % at 4, 0.54 % at 7; 160 buckets at scale
//! 20 is the OpenTelemetry SDKs' default starting point, lowered as the range grows).
//!
//! A point whose scale is outside the OTLP range (-10 to 20), or whose bounds would not
//! be finite and increasing, is refused with the reason.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, exponential_histogram_data_point::Buckets,
    metric::Data,
};

/// Removes the exponential histogram points of `req` that cannot be converted (see the
/// module documentation), so that what is stored as sent (ClickHouse keeps exponential
/// histograms in their own table) is what the rows hold; returns why each was refused.
pub fn check_request(req: &mut ExportMetricsServiceRequest) -> Vec<String> {
    let mut refused = Vec::new();
    for m in req
        .resource_metrics
        .iter_mut()
        .flat_map(|rm| &mut rm.scope_metrics)
        .flat_map(|sm| &mut sm.metrics)
    {
        if let Some(Data::ExponentialHistogram(h)) = &mut m.data {
            let name = &m.name;
            h.data_points.retain(|p| match check(p) {
                Ok(()) => true,
                Err(e) => {
                    refused.push(format!("metric {name:?}: {e}"));
                    false
                }
            });
        }
    }
    refused
}

/// Why `p` cannot be converted, if it cannot.
pub fn check(p: &ExponentialHistogramDataPoint) -> Result<(), String> {
    layout(p).map(|_| ())
}

/// Bucket counts by index, ascending.
pub fn indexed(b: Option<&Buckets>) -> Vec<(i64, u64)> {
    b.map_or_else(Vec::new, |b| {
        b.bucket_counts
            .iter()
            .enumerate()
            .map(|(i, n)| (i64::from(b.offset) + i as i64, *n))
            .collect()
    })
}

/// `base^index` at `scale`.
fn boundary(scale: i32, index: i64) -> f64 {
    (index as f64 * (-f64::from(scale)).exp2()).exp2()
}

/// The explicit bounds and bucket counts of `p` (see the module documentation).
fn layout(p: &ExponentialHistogramDataPoint) -> Result<(Vec<f64>, Vec<u64>), String> {
    if !(-10..=20).contains(&p.scale) {
        return Err(format!(
            "exponential histogram scale {} is outside -10..20",
            p.scale
        ));
    }
    let mut bounds: Vec<f64> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    let negative = indexed(p.negative.as_ref());
    let positive = indexed(p.positive.as_ref());
    let zero_threshold = if p.zero_threshold.is_finite() && p.zero_threshold > 0.0 {
        p.zero_threshold
    } else {
        0.0
    };
    // Negative buckets, most negative first: bucket i is (-base^(i+1), -base^i]. An empty
    // bucket before them closes the first one at its true lower edge.
    if let Some((last, _)) = negative.last() {
        bounds.push(-boundary(p.scale, last + 1));
        counts.push(0);
    }
    for (i, n) in negative.iter().rev() {
        bounds.push(-boundary(p.scale, *i));
        counts.push(*n);
    }
    // The zero bucket, (-zero_threshold, zero_threshold], after an empty bucket that
    // fills the gap from the last negative bucket.
    if p.zero_count > 0 || !negative.is_empty() || positive.is_empty() {
        if !negative.is_empty() && zero_threshold > 0.0 {
            bounds.push(-zero_threshold);
            counts.push(0);
        }
        bounds.push(zero_threshold);
        counts.push(p.zero_count);
    }
    // Positive buckets: bucket i is (base^i, base^(i+1)], after an empty bucket up to the
    // first one's lower edge.
    if let Some((first, _)) = positive.first() {
        let lower = boundary(p.scale, *first);
        if bounds.last().is_none_or(|b| *b < lower) {
            bounds.push(lower);
            counts.push(0);
        }
    }
    for (i, n) in &positive {
        bounds.push(boundary(p.scale, i + 1));
        counts.push(*n);
    }
    // The last bucket is open above: its upper bound is not one of the explicit bounds.
    bounds.pop();
    if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("exponential histogram buckets out of the range of finite bounds".to_string());
    }
    Ok((bounds, counts))
}

/// One point in the explicit layout.
pub fn point(p: ExponentialHistogramDataPoint) -> Result<HistogramDataPoint, String> {
    let (explicit_bounds, bucket_counts) = layout(&p)?;
    Ok(HistogramDataPoint {
        attributes: p.attributes,
        start_time_unix_nano: p.start_time_unix_nano,
        time_unix_nano: p.time_unix_nano,
        count: p.count,
        sum: p.sum,
        bucket_counts,
        explicit_bounds,
        exemplars: p.exemplars,
        flags: p.flags,
        min: p.min,
        max: p.max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(scale: i32, positive: (i32, Vec<u64>), zero: u64) -> ExponentialHistogramDataPoint {
        let count = positive.1.iter().sum::<u64>() + zero;
        ExponentialHistogramDataPoint {
            scale,
            count,
            zero_count: zero,
            positive: Some(Buckets {
                offset: positive.0,
                bucket_counts: positive.1,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn positive_buckets_keep_their_boundaries_and_counts() {
        // Scale 0: base 2; bucket i is (2^i, 2^(i+1)].
        let p = point(exp(0, (1, vec![3, 0, 5]), 2)).expect("converted");
        // The zero bucket, an empty (0, 2], then (2, 4], (4, 8] and the open (8, ...).
        assert_eq!(p.explicit_bounds, vec![0.0, 2.0, 4.0, 8.0]);
        assert_eq!(p.bucket_counts, vec![2, 0, 3, 0, 5]);
        assert_eq!(p.count, 10);
    }

    #[test]
    fn negative_buckets_come_first_in_ascending_order() {
        let mut e = exp(1, (0, vec![1]), 0);
        e.negative = Some(Buckets {
            offset: 0,
            bucket_counts: vec![4, 6],
        });
        e.count = 11;
        let p = point(e).expect("converted");
        let sqrt2 = 2f64.sqrt();
        // Empty up to -base^2, negative 1 (upper -base^1), negative 0 (upper -1), the
        // zero bucket, empty (0, 1], then positive 0, open above.
        assert_eq!(p.bucket_counts, vec![0, 6, 4, 0, 0, 1]);
        assert_eq!(p.explicit_bounds[0], -2.0);
        assert!((p.explicit_bounds[1] + sqrt2).abs() < 1e-12);
        assert_eq!(p.explicit_bounds[2..], [-1.0, 0.0, 1.0]);
    }

    #[test]
    fn out_of_range_scales_and_bounds_are_refused() {
        assert!(point(exp(21, (0, vec![1]), 0)).is_err());
        assert!(point(exp(-11, (0, vec![1]), 0)).is_err());
        // 2^(2^10 * 2) overflows f64.
        assert!(point(exp(-10, (1, vec![1, 1, 1]), 0)).is_err());
    }

    #[test]
    fn an_empty_point_is_one_open_bucket() {
        let p = point(ExponentialHistogramDataPoint::default()).expect("converted");
        assert!(p.explicit_bounds.is_empty());
        assert_eq!(p.bucket_counts, vec![0]);
    }
}
