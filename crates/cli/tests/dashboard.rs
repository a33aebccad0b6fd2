//! The dashboard in a real headless browser: Debian's Chromium driven by Playwright's
//! `playwright-core` (`tests/node/dashboard.cjs`) against a running `serve` with a
//! token, four probes (one target down, one blocked by it, two up) and fleet snapshots,
//! filled by `send-test` and by the official OpenTelemetry Python SDK
//! (`tests/python/otel_dashboard.py`: GenAI messages, nested attributes, an exception
//! with its stack trace, a span link, a structured event body) and by the
//! `opentelemetry-instrumentation-openai-v2` instrumentation of the official `openai`
//! client calling a local stub (`tests/python/genai_openai.py otel`: an agent run with
//! three LLM calls, their conversations and a tool call), and by the script itself (a
//! trace across two services, a histogram with exemplars of its spans, a summary).
//! Every page must load without a console error and show no JSON text in a table cell;
//! the checks of each page are in the script, in the light theme and the dark one and
//! from the keyboard. Screenshots of every page in both themes (`<page>.png`,
//! `<page>-dark.png`) go to `AUTOMAGIK_TELEMETRY_SCREENSHOTS`
//! (the README's come from `scripts/screenshots`) or a temporary folder.
//!
//! `scripts/test` installs the browser (`scripts/setup-browser`) and the Node packages
//! (`scripts/setup-node`).

use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use automagik_telemetry_testkit::http::StaticServer;
use common::{Running, free_port, get_json, ok, serve};

/// The Node packages, with playwright-core among them.
fn node_modules() -> String {
    let modules = common::node_modules();
    assert!(
        std::path::Path::new(&modules)
            .join("playwright-core")
            .is_dir(),
        "{modules}/playwright-core is missing: run scripts/setup-node"
    );
    modules
}

fn chromium() -> String {
    let path = std::env::var("AUTOMAGIK_TELEMETRY_TEST_CHROMIUM")
        .unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: run scripts/setup-browser"
    );
    path
}

#[test]
fn every_page_in_headless_chromium() {
    let (modules, browser) = (node_modules(), chromium());
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let closed = free_port();
    let token = "dashboard-token-5f1c2a9e7b";
    // Agents answering their health checks (one of them on an older version), and one
    // that does not answer.
    let health = |version: &str| {
        serde_json::json!({"status": "ok", "version": version, "uptime_seconds": 5400}).to_string()
    };
    let agents = StaticServer::start(&[
        ("research.json", health("2.4.0")),
        ("triage.json", health("2.4.0")),
        ("billing.json", health("2.3.1")),
    ])
    .expect("agents' health server");
    let agent_flags: Vec<String> = [
        (
            "research-agent-eu1@support-desk",
            "research.json".to_string(),
        ),
        ("triage-agent-us2@support-desk", "triage.json".to_string()),
        ("billing-agent-old@ledger-svc", "billing.json".to_string()),
    ]
    .into_iter()
    .map(|(agent, path)| format!("{agent}=http://127.0.0.1:{}/{path}", agents.port))
    .chain([format!(
        "night-batch-agent@ledger-svc=http://127.0.0.1:{closed}/health"
    )])
    .collect();
    let agents_port = agents.port;
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            r#"
probe_interval = "300ms"
fleet_interval = "1s"

[[probe]]
name = "orders-db"
url = "tcp://127.0.0.1:{closed}"

[[probe]]
name = "orders-api"
url = "http://127.0.0.1:{port}/healthz"
depends_on = ["orders-db"]

[[probe]]
name = "telemetry-self"
url = "http://127.0.0.1:{port}/healthz"

[[probe]]
name = "orders-cache"
url = "tcp://127.0.0.1:{agents_port}"
"#
        ),
    )
    .expect("write");
    let mut args = vec![
        "--config",
        config.to_str().expect("utf-8"),
        "--token",
        token,
    ];
    for a in &agent_flags {
        args.extend_from_slice(&["--agent", a]);
    }
    let _server = Running(serve(dir.path(), port, "off", &args));
    let base = format!("http://127.0.0.1:{port}");
    ok(&["send-test", "--endpoint", &base, "--token", token]);
    let python = Command::new(automagik_telemetry_testkit::test_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/otel_dashboard.py"
        ))
        .args([&base, token])
        .output()
        .expect("run the Python SDK");
    assert!(
        python.status.success(),
        "the Python SDK failed: {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let sent_by_python: serde_json::Value =
        serde_json::from_slice(&python.stdout).expect("what the Python SDK sent");
    // An agent's LLM calls and tool call, traced by the openai-v2 instrumentation and
    // exported over OTLP/HTTP with the token (the exporters' standard variables).
    let genai = Command::new(automagik_telemetry_testkit::test_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/genai_openai.py"
        ))
        .arg("otel")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &base)
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer%20{token}"),
        )
        .env_remove("OTEL_SEMCONV_STABILITY_OPT_IN")
        .output()
        .expect("run the openai instrumentation");
    assert!(
        genai.status.success(),
        "the openai instrumentation failed: {}",
        String::from_utf8_lossy(&genai.stderr)
    );
    let sent_by_genai: serde_json::Value = String::from_utf8_lossy(&genai.stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .expect("what the openai instrumentation sent");

    // The weather agent's run is stored with its three LLM calls.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = get_json(
            &format!("{base}/api/v1/agents/runs?agent=weather-agent"),
            Some(token),
        );
        let stored = runs["items"].as_array().is_some_and(|items| {
            items.iter().any(|r| {
                r["trace_id"] == sent_by_genai["trace_id"] && r["totals"]["llm_calls"] == 3
            })
        });
        if stored {
            break;
        }
        assert!(Instant::now() < deadline, "runs: {runs}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The probes have run and a snapshot holds their states.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let probes = get_json(&format!("{base}/api/v1/probes"), Some(token));
        let public: serde_json::Value = ureq::get(format!("{base}/telemetry/public"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_vec().ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if probes["total"] == 4 && public["probes"]["total"] == 4 && public["agents"]["total"] == 4
        {
            break;
        }
        assert!(Instant::now() < deadline, "probes: {probes}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // What the public page must never show: names, addresses, ids, the token.
    let mut secrets: Vec<String> = vec![
        "orders-db".into(),
        "orders-api".into(),
        "telemetry-self".into(),
        "orders-cache".into(),
        "127.0.0.1".into(),
        token.into(),
        "research-agent-eu1".into(),
        "triage-agent-us2".into(),
        "billing-agent-old".into(),
        "night-batch-agent".into(),
        "support-desk".into(),
        "ledger-svc".into(),
        format!(":{}", agents.port),
    ];
    let services = get_json(&format!("{base}/api/v1/services"), Some(token));
    // The server's own probe and fleet metric points make no service of their own.
    let names: Vec<&str> = services["items"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        names.contains(&"send-test") && names.contains(&"py-shop"),
        "{services}"
    );
    assert!(
        !names.contains(&automagik_telemetry_server::SERVER_SERVICE_NAME),
        "a service with no span and no log: {services}"
    );
    // The applications' metrics come first, the server's own after them, each marked.
    let metrics = get_json(&format!("{base}/api/v1/metrics"), Some(token));
    let origins: Vec<(&str, &str)> = metrics["items"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter_map(|m| Some((m["origin"].as_str()?, m["name"].as_str()?)))
        .collect();
    assert_eq!(
        origins.first().map(|o| o.0),
        Some("application"),
        "{metrics}"
    );
    assert!(
        origins
            .windows(2)
            .all(|w| w[0].0 == "application" || w[1].0 != "application"),
        "{metrics}"
    );
    for (origin, name) in &origins {
        let own = if name.starts_with("fleet.") {
            "fleet"
        } else if ["up", "probe_latency_ms"].contains(name) {
            "probes"
        } else {
            "application"
        };
        assert_eq!(origin, &own, "{name}");
    }
    assert!(origins.iter().any(|o| o.0 == "fleet"), "{metrics}");
    assert!(
        origins.contains(&("application", "py.cart.value")),
        "{metrics}"
    );
    secrets.extend(
        services["items"]
            .as_array()
            .expect("services")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string)),
    );
    let traces = get_json(&format!("{base}/api/v1/traces"), Some(token));
    secrets.extend(
        traces["items"]
            .as_array()
            .expect("traces")
            .iter()
            .filter_map(|t| t["trace_id"].as_str().map(str::to_string)),
    );
    let runs = get_json(&format!("{base}/api/v1/agents/runs"), Some(token));
    secrets.extend(
        runs["items"]
            .as_array()
            .expect("runs")
            .iter()
            .filter_map(|r| r["correlation_id"].as_str().map(str::to_string)),
    );
    // The host's name, unless too short to tell apart from other text.
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname")
        && host.trim().len() >= 4
    {
        secrets.push(host.trim().to_string());
    }
    assert!(secrets.len() >= 8, "{secrets:?}");

    let kept = std::env::var_os("AUTOMAGIK_TELEMETRY_SCREENSHOTS");
    let shots_dir = tempfile::tempdir().expect("tempdir");
    let shots = kept
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| shots_dir.path().to_path_buf());
    let out = Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/node/dashboard.cjs"
        ))
        .args([&base, token])
        .arg(&shots)
        .env("NODE_PATH", &modules)
        .env("AUTOMAGIK_TELEMETRY_TEST_CHROMIUM", &browser)
        .env(
            "DASHBOARD_SECRETS",
            serde_json::to_string(&secrets).expect("json"),
        )
        .env("DASHBOARD_PYTHON", sent_by_python.to_string())
        .env("DASHBOARD_GENAI", sent_by_genai.to_string())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no report from the browser run:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    println!("performance: {}", report["performance"]);
    assert_eq!(
        report["failures"],
        serde_json::json!([]),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    // The screenshots are there, one per page in each theme.
    let pages = [
        "overview",
        "traces",
        "service-map",
        "trace-waterfall",
        "logs",
        "events",
        "metrics",
        "metrics-percentiles",
        "metrics-heatmap",
        "runs",
        "run",
        "genai-run",
        "usage",
        "sessions",
        "session",
        "health",
        "fleet",
        "status",
    ];
    let names = pages
        .iter()
        .flat_map(|p| [p.to_string(), format!("{p}-dark")])
        .chain(["narrow-overview", "overview-light", "trace-waterfall-light"].map(String::from));
    for name in names {
        let file = shots.join(format!("{name}.png"));
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(size > 5_000, "{} missing or empty", file.display());
    }
}
