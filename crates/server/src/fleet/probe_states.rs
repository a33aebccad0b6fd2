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
        *self.states.lock().unwrap_or_else(|e| e.into_inner()) = round.into_iter().collect();
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
            .map(|p| json!({"name": p.name, "state": p.state, "latency_ms": p.latency_ms}))
            .collect();
        Ok(json!({
            "total": states.len(),
            "up": up,
            "targets": targets,
        }))
    }
}
