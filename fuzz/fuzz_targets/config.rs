//! The configuration parsers, each on the whole input (UTF-8, invalid bytes replaced):
//! `serve`'s TOML file (`config::FileConfig`) merged over the defaults
//! (`ServerConfig::merge`: durations, addresses, tokens, probes and their presets, alert
//! rules); `health`'s targets file (`probe::parse_targets`, then `resolve_preset` and
//! `display_url` on each target); the SDK's configuration from the environment
//! (`Config::from_lookup`), the input read as `NAME=value` lines; and each line as a
//! probe URL (`display_url`, `is_secret_name`, `unknown_scheme`).
//!
//! Checked: no panic, and the time limits `merge` documents (every interval at least
//! 100 ms; the HTTP timeouts from 100 ms to a day; from 1 to 1,000,000 connections).
#![no_main]

use automagik_telemetry::Config;
use automagik_telemetry_core::Signal;
use automagik_telemetry_server::config::{FileConfig, Overrides, ServerConfig};
use automagik_telemetry_server::probe;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::time::Duration;

fn server_config(text: &str) {
    let Ok(file) = toml::from_str::<FileConfig>(text) else {
        return;
    };
    let Ok(config) = ServerConfig::merge(Overrides::default(), file) else {
        return;
    };
    let floor = Duration::from_millis(100);
    for (name, interval) in [
        ("retention_interval", config.retention_interval),
        ("probe_interval", config.probe_interval),
        ("alert_interval", config.alert_interval),
    ] {
        assert!(interval >= floor, "{name} {interval:?}");
    }
    if let Some(fleet) = config.fleet_interval {
        assert!(fleet >= floor, "fleet_interval {fleet:?}");
    }
    for (name, timeout) in [
        ("http_header_timeout", config.http_header_timeout),
        ("http_body_timeout", config.http_body_timeout),
    ] {
        assert!(
            (floor..=Duration::from_secs(86_400)).contains(&timeout),
            "{name} {timeout:?}"
        );
    }
    assert!((1..=1_000_000).contains(&config.http_max_connections));
    for target in &config.probes {
        let _ = probe::display_url(&target.url);
    }
    let _ = config.exposed();
}

fn probe_targets(text: &str) {
    let Ok(targets) = probe::parse_targets(text) else {
        return;
    };
    for target in targets {
        let _ = probe::display_url(&target.url);
        if let Ok(resolved) = probe::resolve_preset(target) {
            let _ = probe::display_url(&resolved.url);
        }
    }
}

fn sdk_config(text: &str) {
    let vars: HashMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim(), value))
        .collect();
    if let Ok(config) = Config::from_lookup(|name| vars.get(name).map(|v| v.to_string())) {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let _ = config.signal_url(signal);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    server_config(&text);
    probe_targets(&text);
    sdk_config(&text);
    for line in text.lines() {
        let _ = probe::display_url(line);
        let _ = probe::is_secret_name(line);
        if let Some(why) = probe::unknown_scheme(line) {
            // The suggestion shows the address as display_url does: no password.
            assert!(why.contains(&probe::display_url(line)) || line.contains("://"));
        }
    }
});
