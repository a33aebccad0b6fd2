use super::*;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum,
};

const STARTED: u64 = 1_000;

fn attrs(route: &str) -> Vec<KeyValue> {
    vec![KeyValue {
        key: "route".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(route.into())),
        }),
        ..Default::default()
    }]
}

fn request(data: Data) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "requests".into(),
                    data: Some(data),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn sum_request(
    points: &[(u64, u64, i64, &str)],
    monotonic: bool,
    temporality: i32,
) -> ExportMetricsServiceRequest {
    request(Data::Sum(Sum {
        data_points: points
            .iter()
            .map(|(start, time, v, route)| NumberDataPoint {
                attributes: attrs(route),
                start_time_unix_nano: *start,
                time_unix_nano: *time,
                value: Some(number_data_point::Value::AsInt(*v)),
                ..Default::default()
            })
            .collect(),
        aggregation_temporality: temporality,
        is_monotonic: monotonic,
    }))
}

fn sums(req: &ExportMetricsServiceRequest) -> Vec<(u64, i64)> {
    let Some(Data::Sum(s)) = &req.resource_metrics[0].scope_metrics[0].metrics[0].data else {
        panic!("a sum");
    };
    s.data_points
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => (p.start_time_unix_nano, v),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn temporality_of(req: &ExportMetricsServiceRequest) -> i32 {
    match &req.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(Data::Sum(s)) => s.aggregation_temporality,
        Some(Data::Histogram(h)) => h.aggregation_temporality,
        Some(Data::ExponentialHistogram(h)) => h.aggregation_temporality,
        _ => -1,
    }
}

/// Converts and commits, as ingest does after a successful store write.
async fn export(
    t: &Temporality,
    mut req: ExportMetricsServiceRequest,
) -> ExportMetricsServiceRequest {
    t.begin(&mut req).await.commit();
    req
}

#[tokio::test]
async fn cumulative_exports_become_their_increases() {
    // 5, then 7 more, then 4 more: the SDK exports its running total each time.
    let t = Temporality::new(STARTED);
    let mut total = 0;
    for (time, running) in [(2_000, 5), (3_000, 12), (4_000, 16)] {
        let req = export(
            &t,
            sum_request(&[(1_500, time, running, "/")], true, CUMULATIVE),
        )
        .await;
        assert_eq!(temporality_of(&req), DELTA);
        total += sums(&req)[0].1;
    }
    assert_eq!(total, 16);
}

#[tokio::test]
async fn series_are_apart_per_attributes_and_a_request_may_hold_several_points_of_one() {
    let t = Temporality::new(STARTED);
    let req = export(
        &t,
        sum_request(
            &[
                (1_500, 2_000, 3, "/a"),
                (1_500, 2_000, 10, "/b"),
                (1_500, 3_000, 8, "/a"),
            ],
            true,
            CUMULATIVE,
        ),
    )
    .await;
    assert_eq!(sums(&req), [(1_500, 3), (1_500, 10), (2_000, 5)]);
}

#[tokio::test]
async fn a_series_older_than_the_server_starts_from_a_baseline() {
    let t = Temporality::new(STARTED);
    let req = export(&t, sum_request(&[(500, 2_000, 100, "/")], true, CUMULATIVE)).await;
    assert_eq!(sums(&req), [(2_000, 0)], "the first point is the baseline");
    let req = export(&t, sum_request(&[(500, 3_000, 130, "/")], true, CUMULATIVE)).await;
    assert_eq!(sums(&req), [(2_000, 30)]);
    // No start time at all: a baseline too.
    let req = export(&t, sum_request(&[(0, 3_000, 7, "/x")], true, CUMULATIVE)).await;
    assert_eq!(sums(&req), [(3_000, 0)]);
}

#[tokio::test]
async fn a_new_start_time_or_a_value_that_goes_down_is_a_reset() {
    let t = Temporality::new(STARTED);
    for (start, time, value, want) in [
        (1_500, 2_000, 10, 10),
        (1_500, 3_000, 15, 5),
        // The sending process restarted: a new start time, counted from zero.
        (3_500, 4_000, 3, 3),
        (3_500, 5_000, 9, 6),
        // Same start, lower value: the counter was reset.
        (3_500, 6_000, 2, 2),
    ] {
        let req = export(
            &t,
            sum_request(&[(start, time, value, "/")], true, CUMULATIVE),
        )
        .await;
        assert_eq!(sums(&req)[0].1, want, "at {time}");
    }
}

#[tokio::test]
async fn a_point_already_counted_is_dropped_and_a_failed_write_moves_nothing() {
    let t = Temporality::new(STARTED);
    export(
        &t,
        sum_request(&[(1_500, 2_000, 10, "/")], true, CUMULATIVE),
    )
    .await;
    // A retry of the same point (or an older one) adds nothing.
    let req = export(
        &t,
        sum_request(&[(1_500, 2_000, 10, "/")], true, CUMULATIVE),
    )
    .await;
    assert!(sums(&req).is_empty());
    let req = export(&t, sum_request(&[(1_500, 1_800, 8, "/")], true, CUMULATIVE)).await;
    assert!(sums(&req).is_empty());
    // The store failed: the state is not committed, so the retry counts the same.
    let mut req = sum_request(&[(1_500, 3_000, 25, "/")], true, CUMULATIVE);
    drop(t.begin(&mut req).await);
    assert_eq!(sums(&req), [(2_000, 15)]);
    let req = export(
        &t,
        sum_request(&[(1_500, 3_000, 25, "/")], true, CUMULATIVE),
    )
    .await;
    assert_eq!(sums(&req), [(2_000, 15)]);
}

#[tokio::test]
async fn current_values_and_delta_points_are_left_alone() {
    let t = Temporality::new(STARTED);
    for (monotonic, temporality) in [(false, CUMULATIVE), (true, DELTA), (false, DELTA)] {
        let req = export(
            &t,
            sum_request(&[(1_500, 2_000, 12, "/")], monotonic, temporality),
        )
        .await;
        assert_eq!(sums(&req), [(1_500, 12)]);
        let req = export(
            &t,
            sum_request(&[(1_500, 3_000, 12, "/")], monotonic, temporality),
        )
        .await;
        assert_eq!(sums(&req), [(1_500, 12)]);
        assert_eq!(temporality_of(&req), temporality);
    }
}

fn histogram(
    time: u64,
    buckets: Vec<u64>,
    sum: f64,
    min: f64,
    max: f64,
) -> ExportMetricsServiceRequest {
    request(Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            start_time_unix_nano: 1_500,
            time_unix_nano: time,
            count: buckets.iter().sum(),
            sum: Some(sum),
            explicit_bounds: vec![10.0, 100.0],
            bucket_counts: buckets,
            min: Some(min),
            max: Some(max),
            ..Default::default()
        }],
        aggregation_temporality: CUMULATIVE,
    }))
}

fn histogram_point_of(req: &ExportMetricsServiceRequest) -> HistogramDataPoint {
    match &req.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(Data::Histogram(h)) => h.data_points[0].clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn cumulative_histograms_become_bucket_increases() {
    let t = Temporality::new(STARTED);
    let first =
        histogram_point_of(&export(&t, histogram(2_000, vec![1, 2, 0], 60.0, 5.0, 50.0)).await);
    assert_eq!(
        (first.count, first.bucket_counts.clone()),
        (3, vec![1, 2, 0])
    );
    let second =
        histogram_point_of(&export(&t, histogram(3_000, vec![1, 5, 1], 400.0, 5.0, 250.0)).await);
    assert_eq!(second.bucket_counts, vec![0, 3, 1]);
    assert_eq!(second.count, 4);
    assert_eq!(second.sum, Some(340.0));
    assert_eq!(second.start_time_unix_nano, 2_000);
    // The lifetime min did not move in the interval: unknown; the max did: reached in it.
    assert_eq!((second.min, second.max), (None, Some(250.0)));
    // A bucket that went down: a reset, the whole histogram is the increase.
    let third =
        histogram_point_of(&export(&t, histogram(4_000, vec![0, 1, 0], 20.0, 20.0, 20.0)).await);
    assert_eq!(third.bucket_counts, vec![0, 1, 0]);
}

fn exponential(
    time: u64,
    scale: i32,
    offset: i32,
    counts: Vec<u64>,
) -> ExportMetricsServiceRequest {
    request(Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint {
            start_time_unix_nano: 1_500,
            time_unix_nano: time,
            count: counts.iter().sum(),
            scale,
            positive: Some(Buckets {
                offset,
                bucket_counts: counts,
            }),
            ..Default::default()
        }],
        aggregation_temporality: CUMULATIVE,
    }))
}

fn exponential_point_of(req: &ExportMetricsServiceRequest) -> ExponentialHistogramDataPoint {
    match &req.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(Data::ExponentialHistogram(h)) => h.data_points[0].clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn cumulative_exponential_histograms_follow_a_lowered_scale() {
    let t = Temporality::new(STARTED);
    // Scale 2, buckets 4..=5; then the SDK lowered its scale to 1 as the range grew:
    // old buckets 4 and 5 are bucket 2 at scale 1.
    export(&t, exponential(2_000, 2, 4, vec![3, 1])).await;
    let p = exponential_point_of(&export(&t, exponential(3_000, 1, 2, vec![6, 0, 0, 2])).await);
    assert_eq!(p.scale, 1);
    assert_eq!(p.count, 4);
    let positive = p.positive.expect("positive buckets");
    assert_eq!(
        (positive.offset, positive.bucket_counts),
        (2, vec![2, 0, 0, 2])
    );
}

#[test]
fn the_state_forgets_the_oldest_series_beyond_its_bound() {
    let mut states: HashMap<u64, SeriesState> = (0..(MAX_SERIES as u64 + 10))
        .map(|i| {
            (
                i,
                SeriesState {
                    start: 1,
                    time: i,
                    last: Last::Sum { value: 0.0 },
                },
            )
        })
        .collect();
    forget_oldest(&mut states);
    assert!(states.len() <= MAX_SERIES);
    assert!(
        states.contains_key(&(MAX_SERIES as u64 + 9)),
        "the newest stay"
    );
    assert!(!states.contains_key(&0));
}

fn summary(start: u64, time: u64, count: u64, sum: f64) -> ExportMetricsServiceRequest {
    use opentelemetry_proto::tonic::metrics::v1::{Summary, summary_data_point::ValueAtQuantile};
    request(Data::Summary(Summary {
        data_points: vec![SummaryDataPoint {
            start_time_unix_nano: start,
            time_unix_nano: time,
            count,
            sum,
            quantile_values: vec![ValueAtQuantile {
                quantile: 0.5,
                value: sum / count.max(1) as f64,
            }],
            ..Default::default()
        }],
    }))
}

fn summary_point_of(req: &ExportMetricsServiceRequest) -> Option<SummaryDataPoint> {
    match &req.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(Data::Summary(s)) => s.data_points.first().cloned(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn summary_counts_and_sums_become_increases_and_quantiles_stay() {
    let t = Temporality::new(STARTED);
    let first =
        summary_point_of(&export(&t, summary(1_500, 2_000, 4, 40.0)).await).expect("a point");
    assert_eq!(
        (first.count, first.sum),
        (4, 40.0),
        "started while the server ran"
    );
    let second =
        summary_point_of(&export(&t, summary(1_500, 3_000, 10, 130.0)).await).expect("a point");
    assert_eq!((second.count, second.sum), (6, 90.0));
    assert_eq!(second.start_time_unix_nano, 2_000);
    assert_eq!(second.quantile_values[0].value, 13.0, "quantiles as sent");
    // A retry of the same point is already counted.
    assert!(summary_point_of(&export(&t, summary(1_500, 3_000, 10, 130.0)).await).is_none());
    // A new start time (the sender restarted) counts in full.
    let restarted =
        summary_point_of(&export(&t, summary(3_500, 4_000, 2, 5.0)).await).expect("a point");
    assert_eq!((restarted.count, restarted.sum), (2, 5.0));
    // A series older than the server is a baseline.
    let old = Temporality::new(STARTED);
    let base =
        summary_point_of(&export(&old, summary(500, 2_000, 9, 90.0)).await).expect("a point");
    assert_eq!((base.count, base.sum), (0, 0.0));
}
