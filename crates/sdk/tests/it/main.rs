//! Integration tests of the SDK against a real OTLP/HTTP receiver on loopback.

#[cfg(feature = "clickhouse")]
mod clickhouse;
mod delivery;
mod faults;
mod features;
mod json_lines;
mod otlp;
mod python_crosscheck;
mod quickstart;
mod tracing_layer;

use automagik_telemetry::{Telemetry, TelemetryBuilder};
use std::collections::HashMap;
use std::path::Path;

/// A builder isolated from the machine: its own environment map (so `CI=true` on the
/// machine does not apply), home and state directories, consent granted in code.
pub fn isolated(dir: &Path, env: &[(&str, &str)]) -> TelemetryBuilder {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Telemetry::builder()
        .env_lookup(move |k| env.get(k).cloned())
        .home_dir(dir.join("home"))
        .state_dir(dir.join("state"))
        .project_name("it-service")
        .version("9.9.9")
        .consent(true)
}
