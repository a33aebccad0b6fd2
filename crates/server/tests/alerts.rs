//! Alert rules evaluated at chosen instants over a real SQLite store: a rule goes
//! pending, fires once its duration has passed, stays quiet while it keeps firing and
//! resolves when its points leave the window; a condition that stops holding before
//! its duration never fires and its duration counts again from the start; and every
//! reduction reads only the points of its window and filter (histograms by their mean).

use automagik_telemetry_server::alerts::{AlertState, Alerts, Notification, Reduce, Rule};
use automagik_telemetry_server::rows::{Batch, MetricPointRow};
use automagik_telemetry_server::{SqliteStore, StoreWrite};

const S: u64 = 1_000_000_000;
const METRIC: &str = "queue.depth";
/// No notification.
const QUIET: Vec<Notification> = Vec::new();

/// A rule on `queue.depth` (all its points) with a window and a duration in seconds.
fn rule(name: &str, reduce: Reduce, condition: &str, window_s: u64, for_s: u64) -> Rule {
    let (comparison, threshold) = Rule::parse_condition(condition).expect("condition");
    Rule {
        name: name.into(),
        metric: METRIC.into(),
        filter: None,
        reduce,
        comparison,
        threshold,
        window_ns: window_s * S,
        for_ns: for_s * S,
        severity: "warning".into(),
    }
}

/// A gauge point of `queue.depth` at `at` with these attributes (JSON object text).
fn point(at: u64, value: f64, attributes: &str) -> MetricPointRow {
    MetricPointRow::number(METRIC, "worker", "gauge", at, Some(value), attributes)
}

/// A histogram point of `queue.depth`: `count` values adding up to `sum`.
fn histogram(at: u64, count: u64, sum: f64, attributes: &str) -> MetricPointRow {
    MetricPointRow {
        kind: "histogram",
        value: None,
        count: Some(count),
        sum: Some(sum),
        bucket_counts: Some(vec![count]),
        explicit_bounds: Some(vec![]),
        ..MetricPointRow::number(METRIC, "worker", "histogram", at, None, attributes)
    }
}

fn store(dir: &std::path::Path, points: Vec<MetricPointRow>) -> SqliteStore {
    let store = SqliteStore::open(dir).expect("open the store");
    insert(&store, points);
    store
}

fn insert(store: &SqliteStore, points: Vec<MetricPointRow>) {
    store
        .insert(Batch {
            metric_points: points,
            ..Default::default()
        })
        .expect("insert");
}

/// A whole minute an hour ago, ns.
fn t0() -> u64 {
    automagik_telemetry_testkit::minute_an_hour_ago() * S
}

/// `(state, value, since)` of the only rule.
fn only(alerts: &Alerts) -> (AlertState, Option<f64>, Option<u64>) {
    let list = alerts.list();
    assert_eq!(list.len(), 1);
    (list[0].state, list[0].value, list[0].since_unix_nano)
}

/// `max > 10` held for 10 s over a 60 s window: pending at once, firing at 10 s and not
/// again at 30 s, resolved with no value once its one point is more than 60 s old.
#[test]
fn a_rule_goes_pending_then_fires_once_then_resolves_when_its_points_age_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = t0();
    let store = store(dir.path(), vec![point(t0, 20.0, "{}")]);
    let alerts = Alerts::new(vec![rule("backlog", Reduce::Max, "> 10", 60, 10)]);
    let evaluate = |at: u64| alerts.evaluate(&store, at).expect("evaluate");
    let note = |status: &'static str, value: Option<f64>, at: u64| Notification {
        status,
        rule: "backlog".into(),
        severity: "warning".into(),
        metric: METRIC.into(),
        value,
        condition: "> 10".into(),
        time_unix_nano: at,
    };

    assert_eq!(alerts.list()[0].evaluated_unix_nano, None);
    assert_eq!(evaluate(t0), QUIET);
    assert_eq!(only(&alerts), (AlertState::Pending, Some(20.0), Some(t0)));
    assert_eq!(alerts.list()[0].evaluated_unix_nano, Some(t0));
    assert_eq!(evaluate(t0 + 9 * S), QUIET, "held 9 s of 10");
    assert_eq!(only(&alerts), (AlertState::Pending, Some(20.0), Some(t0)));
    assert_eq!(
        evaluate(t0 + 10 * S),
        [note("firing", Some(20.0), t0 + 10 * S)]
    );
    assert_eq!(
        only(&alerts),
        (AlertState::Firing, Some(20.0), Some(t0 + 10 * S))
    );
    assert_eq!(evaluate(t0 + 30 * S), QUIET, "firing is said once");
    assert_eq!(
        only(&alerts),
        (AlertState::Firing, Some(20.0), Some(t0 + 10 * S))
    );
    // The window includes its start: the point is still read 60 s later.
    assert_eq!(evaluate(t0 + 60 * S), QUIET);
    assert_eq!(evaluate(t0 + 61 * S), [note("resolved", None, t0 + 61 * S)]);
    assert_eq!(
        only(&alerts),
        (AlertState::Inactive, None, Some(t0 + 61 * S))
    );
    assert_eq!(evaluate(t0 + 62 * S), QUIET, "resolved is said once");
}

/// `last > 10` held for 30 s: a value under the threshold before the 30 s are up sends
/// the rule back to inactive without a word, and the duration counts again from the
/// next time the condition holds.
#[test]
fn a_condition_that_stops_holding_before_its_duration_never_fires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = t0();
    let store = store(dir.path(), vec![point(t0, 20.0, "{}")]);
    let alerts = Alerts::new(vec![rule("backlog", Reduce::Last, "> 10", 600, 30)]);
    let evaluate = |at: u64| alerts.evaluate(&store, at).expect("evaluate");

    assert_eq!(evaluate(t0), QUIET);
    assert_eq!(only(&alerts).0, AlertState::Pending);
    insert(&store, vec![point(t0 + 5 * S, 5.0, "{}")]);
    assert_eq!(evaluate(t0 + 5 * S), QUIET);
    assert_eq!(
        only(&alerts),
        (AlertState::Inactive, Some(5.0), Some(t0 + 5 * S))
    );
    insert(&store, vec![point(t0 + 10 * S, 25.0, "{}")]);
    assert_eq!(evaluate(t0 + 10 * S), QUIET);
    assert_eq!(
        only(&alerts),
        (AlertState::Pending, Some(25.0), Some(t0 + 10 * S))
    );
    // 30 s after it first held, but only 29 s after it held again.
    assert_eq!(evaluate(t0 + 39 * S), QUIET);
    assert_eq!(only(&alerts).0, AlertState::Pending);
    let fired = evaluate(t0 + 40 * S);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!((fired[0].status, fired[0].value), ("firing", Some(25.0)));
}

/// Points in a 60 s window at `t0`: 4, 8 and 6 (gauges) and a histogram of mean 15; a
/// point before the window, one after `t0` and an empty histogram are not read. Each
/// rule's value is its reduction over the points its filter keeps, matching string,
/// boolean and number attributes as text; a filter that keeps nothing gives no value
/// and no notification.
#[test]
fn each_reduction_reads_only_its_window_and_its_filter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = t0();
    let store = store(
        dir.path(),
        vec![
            point(t0 - 120 * S, 1000.0, r#"{"route":"/a"}"#),
            point(t0 - 30 * S, 4.0, r#"{"route":"/a","ok":true}"#),
            point(t0 - 20 * S, 8.0, r#"{"route":"/a","ok":false}"#),
            histogram(t0 - 15 * S, 2, 30.0, r#"{"route":"/h"}"#),
            point(t0 - 10 * S, 6.0, r#"{"route":"/b","code":503}"#),
            histogram(t0 - 5 * S, 0, 0.0, r#"{"route":"/h"}"#),
            point(t0 + 5 * S, 999.0, r#"{"route":"/a"}"#),
        ],
    );
    let filtered = |name: &str, reduce: Reduce, key: &str, value: &str| Rule {
        filter: Some((key.into(), value.into())),
        ..rule(name, reduce, "> -1", 60, 0)
    };
    let alerts = Alerts::new(vec![
        rule("min", Reduce::Min, "> -1", 60, 0),
        rule("max", Reduce::Max, "> -1", 60, 0),
        rule("sum", Reduce::Sum, "> -1", 60, 0),
        rule("avg", Reduce::Avg, "> -1", 60, 0),
        rule("last", Reduce::Last, "> -1", 60, 0),
        filtered("route /a", Reduce::Avg, "route", "/a"),
        filtered("ok", Reduce::Sum, "ok", "true"),
        filtered("not ok", Reduce::Sum, "ok", "false"),
        filtered("code 503", Reduce::Max, "code", "503"),
        filtered("histograms", Reduce::Avg, "route", "/h"),
        filtered("nothing", Reduce::Max, "route", "/zzz"),
        rule("wide window", Reduce::Max, "> -1", 3600, 0),
    ]);
    let fired = alerts.evaluate(&store, t0).expect("evaluate");
    let values: Vec<(String, Option<f64>)> = alerts
        .list()
        .into_iter()
        .map(|a| (a.rule.name, a.value))
        .collect();
    let want: Vec<(String, Option<f64>)> = [
        ("min", Some(4.0)),
        ("max", Some(15.0)),
        ("sum", Some(33.0)),
        ("avg", Some(8.25)),
        ("last", Some(6.0)),
        ("route /a", Some(6.0)),
        ("ok", Some(4.0)),
        ("not ok", Some(8.0)),
        ("code 503", Some(6.0)),
        ("histograms", Some(15.0)),
        ("nothing", None),
        ("wide window", Some(1000.0)),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_string(), v))
    .collect();
    assert_eq!(values, want);
    let names: Vec<&str> = fired.iter().map(|n| n.rule.as_str()).collect();
    assert_eq!(
        names,
        [
            "min",
            "max",
            "sum",
            "avg",
            "last",
            "route /a",
            "ok",
            "not ok",
            "code 503",
            "histograms",
            "wide window"
        ],
        "every rule with a value fires at once, in order"
    );
    assert!(
        fired
            .iter()
            .all(|n| n.condition == "> -1" && n.status == "firing")
    );
    let nothing = &alerts.list()[10];
    assert_eq!(
        (nothing.state, nothing.since_unix_nano),
        (AlertState::Inactive, None)
    );
}
