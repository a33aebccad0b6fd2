//! Presets: the health endpoint and answer of common services. A `consul://`-like
//! scheme, or `preset = "..."` on an `http(s)://` target, becomes a plain HTTP target:
//! `consul`, `grafana`, `tempo`, `otelcol` (the OpenTelemetry Collector's health check
//! extension), `arangodb` and `prometheus`.

use super::Target;

/// A preset: the service's health path, and the JSON field and value that say healthy
/// (besides a 2xx status).
struct Preset {
    name: &'static str,
    path: &'static str,
    json: Option<(&'static str, &'static str)>,
}

/// Health endpoints of common services.
const PRESETS: &[Preset] = &[
    // The leader's address; an empty string means no leader, so no quorum.
    Preset {
        name: "consul",
        path: "/v1/status/leader",
        json: None,
    },
    Preset {
        name: "grafana",
        path: "/api/health",
        json: Some(("database", "ok")),
    },
    Preset {
        name: "tempo",
        path: "/ready",
        json: None,
    },
    Preset {
        name: "otelcol",
        path: "/",
        json: Some(("status", "Server available")),
    },
    Preset {
        name: "arangodb",
        path: "/_api/version",
        json: Some(("server", "arango")),
    },
    Preset {
        name: "prometheus",
        path: "/-/healthy",
        json: None,
    },
];

/// The presets' names, each also a URL scheme (`consul`, `grafana`, ...).
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}

/// Resolves a preset (a `consul://`-like scheme, or `preset = "..."`) to an `http(s)://`
/// target with the preset's path and expected answer; fields the target sets itself are
/// kept.
pub fn resolve_preset(mut t: Target) -> Result<Target, String> {
    let scheme = t.url.split("://").next().unwrap_or_default().to_string();
    let name = match (&t.preset, PRESETS.iter().any(|p| p.name == scheme)) {
        (Some(p), _) => p.clone(),
        (None, true) => scheme.clone(),
        (None, false) => return Ok(t),
    };
    let preset = PRESETS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| format!("unknown preset {name}"))?;
    if scheme == preset.name {
        t.url = format!("http{}", &t.url[scheme.len()..]);
    }
    if !t.url.starts_with("http://") && !t.url.starts_with("https://") {
        return Err(format!("preset {name} needs an http(s):// URL"));
    }
    let base = t.url.trim_end_matches('/');
    // Only a bare address gets the preset's path.
    let after_host = base.splitn(4, '/').nth(3);
    if after_host.is_none() {
        t.url = format!("{base}{}", preset.path);
    }
    if let (None, Some((field, value))) = (&t.json_field, preset.json) {
        t.json_field = Some(field.to_string());
        t.json_value = Some(serde_json::Value::String(value.to_string()));
    }
    if preset.name == "consul" && t.json_field.is_none() {
        t.json_field = Some(String::new());
    }
    t.preset = Some(preset.name.to_string());
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::http::basic_auth;
    use super::*;

    #[test]
    fn presets_name_the_health_endpoint_and_answer() {
        let target = |url: &str, preset: Option<&str>| Target {
            preset: preset.map(str::to_string),
            ..Target::url(url)
        };
        let t = resolve_preset(target("grafana://grafana:3000", None)).expect("grafana");
        assert_eq!(t.url, "http://grafana:3000/api/health");
        assert_eq!(t.json_field.as_deref(), Some("database"));
        assert_eq!(t.json_value, Some(serde_json::json!("ok")));
        let t = resolve_preset(target("https://prom.example/", Some("prometheus"))).expect("p");
        assert_eq!(t.url, "https://prom.example/-/healthy");
        let t = resolve_preset(target("otelcol://127.0.0.1:13133", None)).expect("otelcol");
        assert_eq!(t.url, "http://127.0.0.1:13133/");
        let t = resolve_preset(target("consul://c:8500", None)).expect("consul");
        assert_eq!(t.url, "http://c:8500/v1/status/leader");
        assert_eq!(t.json_field.as_deref(), Some(""));
        // A path of its own is kept.
        let t = resolve_preset(target("arangodb://db:8529/_admin/status", None)).expect("a");
        assert_eq!(t.url, "http://db:8529/_admin/status");
        assert!(resolve_preset(target("http://x", Some("nope"))).is_err());
        assert!(resolve_preset(target("tcp://x:1", Some("grafana"))).is_err());
        let plain = resolve_preset(target("redis://r:6379", None)).expect("no preset");
        assert_eq!(plain.url, "redis://r:6379");
        assert_eq!(
            basic_auth("http://root:p%40ss@db:8529/"),
            Some("Basic cm9vdDpwQHNz".to_string()),
            "root:p@ss"
        );
        assert_eq!(basic_auth("http://db:8529/"), None);
    }
}
