//! The server's background jobs, each a [`Job`] run by [`super::periodic::run_every`]:
//! probes (stored as the gauges `up` and `probe_latency_ms`, state changes posted to a
//! webhook), fleet snapshots, alert rules (firing and resolving posted to a webhook),
//! retention, and giving the allocator's free pages back to the system.

use super::periodic::Job;
use crate::fleet::{ProbeState, ProbesCollector};
use crate::http::AppState;
use crate::probe::{self, Target};
use crate::query::now_ns;
use crate::rows::{Batch, MetricPointRow};
use std::collections::HashMap;
use std::time::Duration;

/// Probes the targets, stores `up` (1 or 0) and `probe_latency_ms` per target, shows
/// the round on the dashboard and posts each change of state to the webhook.
pub struct Probes {
    /// Where the results go.
    pub state: AppState,
    /// What to probe.
    pub targets: Vec<Target>,
    /// Each probe's timeout.
    pub timeout: Duration,
    /// Where changes of state are posted.
    pub webhook: Option<String>,
    /// The dashboard's and the fleet's view of the last round.
    pub board: ProbesCollector,
    /// Each target's last state. A target is taken as up until a probe says
    /// otherwise, so one found down at start is reported.
    pub last: HashMap<String, probe::State>,
}

impl Job for Probes {
    fn name(&self) -> &'static str {
        "probes"
    }

    fn run(&mut self) -> Result<(), String> {
        let reports = probe::check(self.targets.clone(), self.timeout);
        let now = now_ns();
        let mut points = Vec::new();
        for r in &reports {
            let attributes = serde_json::json!({"target": r.name, "url": r.url}).to_string();
            let up = if r.state == probe::State::Up {
                1.0
            } else {
                0.0
            };
            points.push(MetricPointRow::number(
                "up",
                crate::SERVER_SERVICE_NAME,
                "gauge",
                now,
                Some(up),
                attributes.clone(),
            ));
            if let Some(ms) = r.latency_ms {
                points.push(MetricPointRow::number(
                    "probe_latency_ms",
                    crate::SERVER_SERVICE_NAME,
                    "gauge",
                    now,
                    Some(ms),
                    attributes,
                ));
            }
        }
        self.board.replace(reports.iter().map(|r| ProbeState {
            name: r.name.clone(),
            url: r.url.clone(),
            state: r.state.as_str().to_string(),
            latency_ms: r.latency_ms,
            reason: r.reason.clone(),
            depends_on: r.depends_on.clone(),
            critical: r.critical,
            // Set by the board: kept while the state holds.
            since_unix_nano: 0,
        }));
        let batch = Batch {
            metric_points: points,
            ..Default::default()
        };
        let stored = self
            .state
            .store
            .insert(batch)
            .map_err(|e| format!("storing probe results: {e}"));
        for r in reports {
            let previous = self
                .last
                .insert(r.name.clone(), r.state.clone())
                .unwrap_or(probe::State::Up);
            if previous == r.state {
                continue;
            }
            tracing::warn!(
                "probe {} is {} (was {}){}",
                r.name,
                r.state.as_str(),
                previous.as_str(),
                r.reason
                    .as_deref()
                    .map_or_else(String::new, |why| format!(": {why}"))
            );
            post_json(
                self.webhook.clone(),
                serde_json::json!({
                    "target": r.name,
                    "url": r.url,
                    "state": r.state,
                    "previous": previous,
                    "reason": r.reason,
                    "latency_ms": r.latency_ms,
                    "time": automagik_telemetry_core::time::rfc3339(now),
                }),
            );
        }
        stored
    }
}

/// Collects and stores a fleet snapshot.
pub struct FleetSnapshots {
    /// The fleet and its store.
    pub state: AppState,
}

impl Job for FleetSnapshots {
    fn name(&self) -> &'static str {
        "fleet"
    }

    fn run(&mut self) -> Result<(), String> {
        let s = self
            .state
            .fleet
            .collect_and_store(&*self.state.store)
            .map_err(|e| format!("storing a fleet snapshot: {e}"))?;
        tracing::debug!(seq = s.link.seq, "fleet snapshot stored");
        Ok(())
    }
}

/// Evaluates the alert rules and posts what fires or resolves.
pub struct AlertRules {
    /// The rules and the store they read.
    pub state: AppState,
    /// Where notifications are posted.
    pub webhook: Option<String>,
}

impl Job for AlertRules {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn run(&mut self) -> Result<(), String> {
        let notifications = self
            .state
            .alerts
            .evaluate(&*self.state.store, now_ns())
            .map_err(|e| format!("evaluating alert rules: {e}"))?;
        for n in notifications {
            tracing::warn!("{}", alert_line(&n));
            post_json(
                self.webhook.clone(),
                serde_json::json!({
                    "status": n.status,
                    "rule": n.rule,
                    "severity": n.severity,
                    "metric": n.metric,
                    "value": n.value,
                    "condition": n.condition,
                    "time": automagik_telemetry_core::time::rfc3339(n.time_unix_nano),
                }),
            );
        }
        Ok(())
    }
}

/// `alert "disk full" firing: disk.used_pct is 97.5, condition > 90 (severity
/// critical)`: the value as a number (or `has no data`), never Rust's `Some(..)`.
fn alert_line(n: &crate::alerts::Notification) -> String {
    let value = match n.value {
        Some(v) => format!(
            "{} is {}",
            n.metric,
            automagik_telemetry_core::human::number(v)
        ),
        None => format!("{} has no data", n.metric),
    };
    format!(
        "alert {:?} {}: {value}, condition {} (severity {})",
        n.rule, n.status, n.condition, n.severity
    )
}

/// Deletes expired rows in small steps until none is left.
pub struct Retention {
    /// The store and the counters.
    pub state: AppState,
    /// Raw rows older than this go.
    pub raw: Duration,
    /// Rollup rows older than this go.
    pub rollups: Duration,
}

impl Job for Retention {
    fn name(&self) -> &'static str {
        "retention"
    }

    fn run(&mut self) -> Result<(), String> {
        let now = now_ns();
        let raw_before = now.saturating_sub(self.raw.as_nanos() as u64);
        let rollups_before = now.saturating_sub(self.rollups.as_nanos() as u64);
        loop {
            let p = self
                .state
                .store
                .purge(raw_before, rollups_before)
                .map_err(|e| format!("retention step: {e}; trying again later"))?;
            self.state.metrics.purged(p.raw, p.rollups);
            if p.raw + p.rollups == 0 {
                return Ok(());
            }
            tracing::info!(
                "retention removed {} raw rows and {} rollup rows",
                automagik_telemetry_core::human::count(p.raw),
                automagik_telemetry_core::human::count(p.rollups)
            );
        }
    }
}

/// Gives the allocator's free pages back to the system at each run
/// ([`crate::memory::release_free`]), so that the memory a large transient allocation
/// freed does not stay in the resident set.
pub struct ReleaseMemory;

impl Job for ReleaseMemory {
    fn name(&self) -> &'static str {
        "release_memory"
    }

    fn run(&mut self) -> Result<(), String> {
        if crate::memory::release_free() {
            tracing::debug!("gave the allocator's free pages back");
        }
        Ok(())
    }
}

/// Posts `body` to `url` (when there is one) on a blocking thread of the runtime;
/// failures are logged.
fn post_json(url: Option<String>, body: serde_json::Value) {
    let Some(url) = url else { return };
    tokio::task::spawn_blocking(move || {
        match crate::http_client::agent(Duration::from_secs(10))
            .post(&url)
            .send_json(&body)
        {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => {
                tracing::warn!(
                    status = answer.status().as_u16(),
                    "a webhook answered an error"
                )
            }
            Err(e) => tracing::warn!(error = %e, "a webhook failed"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::alert_line;
    use crate::alerts::Notification;

    #[test]
    fn alert_lines_show_the_value_as_a_number() {
        let mut n = Notification {
            status: "firing",
            rule: "flaky is down".into(),
            severity: "critical".into(),
            metric: "up".into(),
            value: Some(0.0),
            condition: "< 1".into(),
            time_unix_nano: 0,
        };
        assert_eq!(
            alert_line(&n),
            "alert \"flaky is down\" firing: up is 0, condition < 1 (severity critical)"
        );
        n.value = Some(0.706_552);
        assert!(
            alert_line(&n).contains("up is 0.707,"),
            "{}",
            alert_line(&n)
        );
        n.value = None;
        n.status = "resolved";
        assert!(
            alert_line(&n).contains("resolved: up has no data,"),
            "{}",
            alert_line(&n)
        );
    }
}
