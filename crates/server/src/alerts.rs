//! Threshold alert rules on stored metric series: a rule aggregates one metric's raw
//! points over a trailing window (optionally only the points whose attribute has a
//! given value), compares the result with a threshold, and fires once the condition has
//! held for its duration; it resolves when the condition no longer holds. Each firing
//! and resolution is returned as a [`Notification`] for the caller to deliver.

use crate::rows::MetricPointRow;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// How a rule reduces the points of its window to one value.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean.
    Avg,
    /// Sum.
    Sum,
    /// The newest point's value.
    Last,
}

/// A comparison with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Comparison {
    /// `>`
    #[serde(rename = ">")]
    Above,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
    /// `<`
    #[serde(rename = "<")]
    Below,
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
}

impl Comparison {
    /// Longest symbols first, so `>=` is not read as `>`.
    const ALL: [Comparison; 4] = [
        Comparison::AtLeast,
        Comparison::AtMost,
        Comparison::Above,
        Comparison::Below,
    ];

    /// `>`, `>=`, `<` or `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
        }
    }

    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::AtLeast => value >= threshold,
            Comparison::Below => value < threshold,
            Comparison::AtMost => value <= threshold,
        }
    }
}

/// A rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// Metric name.
    pub metric: String,
    /// Only points whose attribute `.0` is `.1` (as text).
    pub filter: Option<(String, String)>,
    /// Reduction over the window.
    pub reduce: Reduce,
    /// Comparison.
    pub comparison: Comparison,
    /// Threshold.
    pub threshold: f64,
    /// Trailing window read at each evaluation, ns.
    pub window_ns: u64,
    /// How long the condition must hold before the rule fires, ns.
    pub for_ns: u64,
    /// Free text passed on (`critical`, `warning`, ...).
    pub severity: String,
}

impl Rule {
    /// Reads `condition` such as `"> 250"` or `"<= 0.5"`.
    pub fn parse_condition(condition: &str) -> Result<(Comparison, f64), String> {
        let c = condition.trim();
        let (comparison, rest) = Comparison::ALL
            .iter()
            .find_map(|cmp| c.strip_prefix(cmp.symbol()).map(|rest| (*cmp, rest)))
            .ok_or_else(|| {
                format!("condition {condition:?}: expected >, >=, < or <= and a number")
            })?;
        let threshold: f64 = rest
            .trim()
            .parse()
            .map_err(|_| format!("condition {condition:?}: the threshold is not a number"))?;
        if !threshold.is_finite() {
            return Err(format!(
                "condition {condition:?}: the threshold is not finite"
            ));
        }
        Ok((comparison, threshold))
    }

    /// The rule's value over the points, when there are any.
    fn value(&self, points: &[MetricPointRow]) -> Option<f64> {
        let values: Vec<f64> = points
            .iter()
            .filter(|p| match &self.filter {
                None => true,
                Some((key, want)) => serde_json::from_str::<serde_json::Value>(&p.attributes)
                    .ok()
                    .and_then(|a| {
                        a.get(key).map(|v| match v {
                            serde_json::Value::String(s) => s == want,
                            other => &other.to_string() == want,
                        })
                    })
                    .unwrap_or(false),
            })
            .filter_map(|p| match (p.value, p.count, p.sum) {
                (Some(v), _, _) => Some(v),
                (None, Some(n), Some(sum)) if n > 0 => Some(sum / n as f64),
                _ => None,
            })
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        Some(match self.reduce {
            Reduce::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Reduce::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Reduce::Sum => values.iter().sum(),
            Reduce::Avg => values.iter().sum::<f64>() / values.len() as f64,
            Reduce::Last => *values.last()?,
        })
    }
}

/// Where a rule stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition does not hold.
    Inactive,
    /// The condition holds, not yet for the rule's duration.
    Pending,
    /// The condition has held for the rule's duration.
    Firing,
}

/// A rule with its state, as `GET /api/v1/alerts` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    /// The rule.
    pub rule: Rule,
    /// Its state.
    pub state: AlertState,
    /// The value at the last evaluation.
    pub value: Option<f64>,
    /// Since when the state holds, ns.
    pub since_unix_nano: Option<u64>,
    /// When the rule was last evaluated, ns.
    pub evaluated_unix_nano: Option<u64>,
}

/// A rule that fired or resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notification {
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// The rule's name.
    pub rule: String,
    /// Its severity.
    pub severity: String,
    /// The metric.
    pub metric: String,
    /// The value that decided.
    pub value: Option<f64>,
    /// The threshold and comparison, as written.
    pub condition: String,
    /// When, ns.
    pub time_unix_nano: u64,
}

/// Every rule and its state.
#[derive(Debug, Default)]
pub struct Alerts {
    alerts: Mutex<Vec<Alert>>,
}

impl Alerts {
    /// Rules, all inactive.
    pub fn new(rules: Vec<Rule>) -> Self {
        Alerts {
            alerts: Mutex::new(
                rules
                    .into_iter()
                    .map(|rule| Alert {
                        rule,
                        state: AlertState::Inactive,
                        value: None,
                        since_unix_nano: None,
                        evaluated_unix_nano: None,
                    })
                    .collect(),
            ),
        }
    }

    /// The rules and their states.
    pub fn list(&self) -> Vec<Alert> {
        self.alerts.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Evaluates every rule at `now` (ns) against `store`; returns what fired or
    /// resolved. A rule whose points cannot be read keeps its state.
    pub fn evaluate(&self, store: &dyn Store, now: u64) -> Result<Vec<Notification>, StoreError> {
        let rules: Vec<Rule> = self.list().into_iter().map(|a| a.rule).collect();
        let mut values = Vec::with_capacity(rules.len());
        for rule in &rules {
            let points = store.metric_points(
                &rule.metric,
                now.saturating_sub(rule.window_ns),
                now,
                200_000,
            )?;
            values.push(rule.value(&points));
        }
        let mut out = Vec::new();
        let Ok(mut alerts) = self.alerts.lock() else {
            return Ok(out);
        };
        for (alert, value) in alerts.iter_mut().zip(values) {
            let rule = &alert.rule;
            let holds = value.is_some_and(|v| rule.comparison.holds(v, rule.threshold));
            alert.value = value;
            alert.evaluated_unix_nano = Some(now);
            let notify = |status| Notification {
                status,
                rule: rule.name.clone(),
                severity: rule.severity.clone(),
                metric: rule.metric.clone(),
                value,
                condition: format!("{} {}", rule.comparison.symbol(), rule.threshold),
                time_unix_nano: now,
            };
            match (alert.state, holds) {
                (AlertState::Inactive, true) => {
                    alert.state = AlertState::Pending;
                    alert.since_unix_nano = Some(now);
                    if rule.for_ns == 0 {
                        alert.state = AlertState::Firing;
                        out.push(notify("firing"));
                    }
                }
                (AlertState::Pending, true)
                    if now.saturating_sub(alert.since_unix_nano.unwrap_or(now)) >= rule.for_ns =>
                {
                    alert.state = AlertState::Firing;
                    alert.since_unix_nano = Some(now);
                    out.push(notify("firing"));
                }
                (AlertState::Firing, false) => {
                    out.push(notify("resolved"));
                    alert.state = AlertState::Inactive;
                    alert.since_unix_nano = Some(now);
                }
                (AlertState::Pending, false) => {
                    alert.state = AlertState::Inactive;
                    alert.since_unix_nano = Some(now);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(condition: &str, for_ns: u64) -> Rule {
        let (comparison, threshold) = Rule::parse_condition(condition).expect("condition");
        Rule {
            name: "slow".into(),
            metric: "latency".into(),
            filter: Some(("route".into(), "/a".into())),
            reduce: Reduce::Avg,
            comparison,
            threshold,
            window_ns: 60_000_000_000,
            for_ns,
            severity: "warning".into(),
        }
    }

    fn point(v: f64, route: &str) -> MetricPointRow {
        MetricPointRow::number(
            "latency",
            "api",
            "gauge",
            1,
            Some(v),
            format!(r#"{{"route":"{route}"}}"#),
        )
    }

    #[test]
    fn conditions_parse_and_values_reduce_over_matching_points() {
        assert_eq!(
            Rule::parse_condition("> 250").expect("ok"),
            (Comparison::Above, 250.0)
        );
        assert_eq!(
            Rule::parse_condition("<=0.5").expect("ok"),
            (Comparison::AtMost, 0.5)
        );
        assert!(Rule::parse_condition("= 1").is_err());
        assert!(Rule::parse_condition("> fast").is_err());
        assert!(Rule::parse_condition("> inf").is_err());
        let r = rule("> 100", 0);
        let points = [point(100.0, "/a"), point(300.0, "/a"), point(9999.0, "/b")];
        assert_eq!(r.value(&points), Some(200.0), "/b is filtered out");
        assert_eq!(r.value(&[point(1.0, "/b")]), None);
        assert!(r.comparison.holds(200.0, r.threshold));
    }
}
