//! The probed targets' last states: shared with the server's probe task, listed by the
//! API and collected as `probes` into fleet snapshots.

use super::collector::Collector;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A probed target's last result.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ProbeState {
    /// The target's name.
    pub name: String,
    /// Its URL as `probe::display_url` shows it: no password, no secret query values.
    pub url: String,
    /// `up`, `down` or `blocked`.
    pub state: String,
    /// Round-trip time of the probe, when it answered.
    pub latency_ms: Option<f64>,
    /// Why it is down, or which dependency blocks it.
    pub reason: Option<String>,
    /// The targets it depends on.
    pub depends_on: Vec<String>,
    /// Whether its failure is critical.
    pub critical: bool,
    /// Since when it is in this state, ns (the first round that found it so; set by
    /// [`ProbesCollector::replace`]); `since` as RFC 3339 in JSON.
    #[serde(rename = "since", serialize_with = "since_text")]
    pub since_unix_nano: u64,
}

fn since_text<S: serde::Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::store::rfc3339(*ns))
}

/// Probe states shared with the server's probe task: collected as `probes` into fleet
/// snapshots and listed by `GET /api/v1/probes`.
#[derive(Clone, Debug, Default)]
pub struct ProbesCollector {
    /// The last round's results, in the order the round gave them.
    states: Arc<Mutex<Vec<ProbeState>>>,
}

impl ProbesCollector {
    /// Replaces the states with one round's results (`health` orders them root
    /// causes first: down, then blocked, then up).
    pub fn replace(&self, round: impl IntoIterator<Item = ProbeState>) {
        let now = crate::query::now_ns();
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let next: Vec<ProbeState> = round
            .into_iter()
            .map(|mut p| {
                // A target keeps the time it entered its state while it stays there.
                p.since_unix_nano = states
                    .iter()
                    .find(|old| old.name == p.name && old.state == p.state)
                    .map_or(now, |old| old.since_unix_nano);
                p
            })
            .collect();
        *states = next;
    }

    /// The last round's results.
    pub fn list(&self) -> Vec<ProbeState> {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Collector for ProbesCollector {
    fn name(&self) -> &str {
        "probes"
    }

    fn collect(&self) -> Result<Value, String> {
        let states = self.list();
        let up = states.iter().filter(|p| p.state == "up").count();
        let targets: Vec<Value> = states
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "state": p.state,
                    "latency_ms": p.latency_ms,
                    "since": crate::store::rfc3339(p.since_unix_nano),
                })
            })
            .collect();
        Ok(json!({
            "total": states.len(),
            "up": up,
            "targets": targets,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_keeps_its_since_while_its_state_holds() {
        let board = ProbesCollector::default();
        let state = |s: &str| ProbeState {
            name: "db".into(),
            state: s.into(),
            ..Default::default()
        };
        board.replace([state("up")]);
        let first = board.list()[0].since_unix_nano;
        assert!(first > 0);
        std::thread::sleep(std::time::Duration::from_millis(2));
        board.replace([state("up")]);
        assert_eq!(
            board.list()[0].since_unix_nano,
            first,
            "still up: same since"
        );
        board.replace([state("down")]);
        let down = board.list()[0].since_unix_nano;
        assert!(down > first, "a change starts a new since");
        let collected = board.collect().expect("collected");
        assert_eq!(collected["targets"][0]["state"], "down");
        assert!(collected["targets"][0]["since"].as_str().is_some());
    }
}
