//! Fleet telemetry on the real binary: `serve` collects snapshots on an interval from
//! agents served by a real HTTP server, `/telemetry/*` keep their token rules, the
//! public view leaks none of the agents' secrets and is rate-limited, and
//! `audit verify` finds a snapshot altered directly in SQLite or PostgreSQL.

use automagik_telemetry_testkit::http::StaticServer;
use automagik_telemetry_testkit::pg::TestDatabase;
use common::{Running, command, free_port, serve};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

mod common;

const TOKEN: &str = "fleet-test-token-0123456789";

/// `(status, body as JSON, Retry-After)` of a request with an optional bearer token.
fn call(method: &str, url: &str, token: Option<&str>) -> (u16, Value, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = match (method, token) {
        ("POST", Some(t)) => agent
            .post(url)
            .header("authorization", &format!("Bearer {t}"))
            .send_empty(),
        ("POST", None) => agent.post(url).send_empty(),
        (_, Some(t)) => agent
            .get(url)
            .header("authorization", &format!("Bearer {t}"))
            .call(),
        (_, None) => agent.get(url).call(),
    };
    let mut resp = resp.expect("request");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
        retry,
    )
}

/// Waits until the server has stored at least `n` snapshots; the newest status.
fn wait_for_snapshots(base: &str, n: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, v, _) = call("GET", &format!("{base}/telemetry/status"), Some(TOKEN));
        assert_eq!(status, 200, "{v}");
        if v["chain"]["seq"].as_u64().unwrap_or(0) >= n {
            return v;
        }
        assert!(Instant::now() < deadline, "no {n} snapshots: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn audit(storage: &[&str]) -> (bool, Value, String) {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(storage);
    let text = command().args(&args).output().expect("audit verify");
    args.push("--json");
    let json = command().args(&args).output().expect("audit verify --json");
    assert_eq!(text.status.success(), json.status.success());
    (
        json.status.success(),
        serde_json::from_slice(&json.stdout).unwrap_or_else(|_| {
            panic!(
                "audit verify --json: {}{}",
                String::from_utf8_lossy(&json.stdout),
                String::from_utf8_lossy(&json.stderr)
            )
        }),
        String::from_utf8_lossy(&text.stdout).into_owned(),
    )
}

/// Alters the body of snapshot `seq` in a way that still parses as JSON.
fn tampered(body: &str) -> String {
    let v: Value = serde_json::from_str(body).expect("stored body");
    let mut v = v;
    v["duration_ms"] = json!(0.5);
    v.to_string()
}

#[test]
fn serve_collects_snapshots_keeps_secrets_out_of_the_public_view_and_audit_finds_tampering() {
    // Agents whose names, services, addresses, versions and custom metrics carry
    // secret-looking values.
    let secrets = [
        "payroll-agent-zx81",
        "shadow-ops-agent-q7",
        "vault-billing-svc",
        "internal-ledger",
        "sk_live_9f8e7d6c5b4a",
        "4242.4242",
        "31337000111",
        "alice.admin@corp.example",
        "ghp_R2D2C3POtokenvalue",
    ];
    let health = |version: &str, extra: Value| {
        json!({
            "status": "ok",
            "version": version,
            "uptime_seconds": 360,
            "metrics": extra,
        })
        .to_string()
    };
    let agents = StaticServer::start(&[
        (
            "agents/payroll.json",
            health(
                "1.4.2",
                json!({"cost_usd": 4242.4242, "tokens_used": 31337000111u64, "owner": "alice.admin@corp.example"}),
            ),
        ),
        (
            "agents/shadow.json",
            health("1.4.2-sk_live_9f8e7d6c5b4a", json!({"api_key": "ghp_R2D2C3POtokenvalue"})),
        ),
    ])
    .expect("agents' health server");
    let closed = free_port();
    let agent_flags = [
        format!(
            "payroll-agent-zx81@vault-billing-svc=http://127.0.0.1:{}/agents/payroll.json",
            agents.port
        ),
        format!(
            "shadow-ops-agent-q7@internal-ledger=http://127.0.0.1:{}/agents/shadow.json",
            agents.port
        ),
        format!(
            "ghost-agent@internal-ledger=http://127.0.0.1:{closed}/health?token=ghp_R2D2C3POtokenvalue"
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut args = vec![
        "--token",
        TOKEN,
        "--fleet-interval",
        "300ms",
        "--public-rate-limit",
        "3",
    ];
    for a in &agent_flags {
        args.extend_from_slice(&["--agent", a]);
    }
    let server = Running(serve(dir.path(), port, "off", &args));
    let base = format!("http://127.0.0.1:{port}");

    // Snapshots come on the interval; the full status shows what the agents said.
    let status = wait_for_snapshots(&base, 3);
    let results = &status["snapshot"]["results"];
    assert_eq!(results["agents"]["total"], 3, "{status}");
    assert_eq!(results["agents"]["healthy"], 2, "{status}");
    let payroll = results["agents"]["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["name"] == "payroll-agent-zx81")
        .expect("payroll agent");
    assert_eq!(payroll["metrics"]["cost_usd"], 4242.4242);
    assert_eq!(
        results["deployments"]["services"]["vault-billing-svc"]["newest_version"],
        "1.4.2"
    );
    assert!(results["host"]["cpu"]["count"].as_u64().expect("cpus") >= 1);
    assert_eq!(status["chain"]["hash"].as_str().expect("hash").len(), 64);

    // Internal endpoints refuse a missing and a wrong token.
    for (method, path) in [
        ("GET", "/telemetry/status"),
        ("GET", "/telemetry/history?metric=agents.total"),
        ("POST", "/telemetry/collect"),
    ] {
        for token in [None, Some("wrong-token-0123456789abc")] {
            let (code, body, _) = call(method, &format!("{base}{path}"), token);
            assert_eq!(code, 401, "{method} {path} with {token:?}: {body}");
            for secret in secrets {
                assert!(!body.to_string().contains(secret));
            }
        }
    }

    // A collection on request returns its snapshot id, which status then shows.
    let (code, collected, _) = call("POST", &format!("{base}/telemetry/collect"), Some(TOKEN));
    assert_eq!(code, 200, "{collected}");
    let id = collected["snapshot_id"].as_str().expect("snapshot id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert!(collected["seq"].as_u64().expect("seq") >= 4);

    // The public view: aggregates only, none of the secrets, no token needed.
    let (code, public, _) = call("GET", &format!("{base}/telemetry/public"), None);
    assert_eq!(code, 200, "{public}");
    assert_eq!(public["agents"]["total"], 3, "{public}");
    assert_eq!(public["agents"]["healthy"], 2);
    assert!((public["agents"]["health_ratio"].as_f64().expect("ratio") - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(public["deployments"]["services"], 2);
    assert_eq!(public["deployments"]["versions"]["1.4.2"]["agents"], 1);
    assert_eq!(public["deployments"]["versions"]["other"]["agents"], 1);
    let text = public.to_string();
    let mut leaked: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect();
    for address in [
        format!("127.0.0.1:{}", agents.port),
        format!("127.0.0.1:{closed}"),
        "ghost-agent".to_string(),
        "/agents/".to_string(),
    ] {
        if text.contains(&address) {
            leaked.push("an address or name");
        }
    }
    assert!(leaked.is_empty(), "{leaked:?} in the public view: {text}");

    // The fleet gauges have a history.
    let (code, history, _) = call(
        "GET",
        &format!("{base}/telemetry/history?metric=agents.total&from=-10m&step=10m"),
        Some(TOKEN),
    );
    assert_eq!(code, 200, "{history}");
    let buckets = history["buckets"].as_array().expect("buckets");
    assert!(!buckets.is_empty(), "{history}");
    assert_eq!(buckets.last().expect("bucket")["max"], 3.0);

    // Rate limit: three answers a minute for this address, then 429 with Retry-After.
    let mut codes = Vec::new();
    for _ in 0..3 {
        let (code, _, retry) = call("GET", &format!("{base}/telemetry/public"), None);
        codes.push((code, retry.is_some()));
    }
    assert_eq!(codes, vec![(200, false), (200, false), (429, true)]);
    drop(server);

    // An untouched chain verifies.
    let data = dir.path().to_str().expect("utf-8");
    let (intact, report, text) = audit(&["--data-dir", data]);
    assert!(intact, "{report} {text}");
    let stored = report["verified"].as_u64().expect("verified");
    assert!(stored >= 4);
    assert!(text.contains("intact"), "{text}");

    // Alter snapshot 2 directly in the database: the triggers refuse; dropped, the
    // change goes through, and audit verify names the snapshot.
    let db = rusqlite::Connection::open(dir.path().join("telemetry.sqlite3")).expect("open");
    let (id2, body2): (String, String) = db
        .query_row(
            "SELECT snapshot_id, body FROM fleet_snapshots WHERE seq = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("snapshot 2");
    let refused = db.execute(
        "UPDATE fleet_snapshots SET body = ?1 WHERE seq = 2",
        [tampered(&body2)],
    );
    assert!(format!("{refused:?}").contains("immutable"), "{refused:?}");
    db.execute_batch("DROP TRIGGER fleet_snapshots_no_update")
        .expect("drop trigger");
    db.execute(
        "UPDATE fleet_snapshots SET body = ?1 WHERE seq = 2",
        [tampered(&body2)],
    )
    .expect("tamper");
    drop(db);
    let (intact, report, text) = audit(&["--data-dir", data]);
    assert!(!intact, "{report}");
    assert_eq!(report["broken"]["seq"], 2, "{report}");
    assert_eq!(report["broken"]["snapshot_id"], id2.as_str());
    assert!(
        report["broken"]["reason"]
            .as_str()
            .expect("reason")
            .contains("altered")
    );
    assert_eq!(report["verified"], 1);
    assert!(text.contains("BROKEN") && text.contains(&id2), "{text}");
}

#[test]
fn audit_verify_finds_a_snapshot_removed_in_postgresql() {
    let db = TestDatabase::create().expect("a test database");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--storage", &db.url, "--fleet-interval", "200ms"],
    ));
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, v, _) = call("GET", &format!("{base}/telemetry/status"), None);
        assert_eq!(code, 200, "{v}");
        if v["chain"]["seq"].as_u64().unwrap_or(0) >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no snapshots: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    let (intact, report, _) = audit(&["--storage", &db.url]);
    assert!(intact, "{report}");
    assert!(report["verified"].as_u64().expect("verified") >= 4);

    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
    let refused = client.execute("DELETE FROM fleet_snapshots WHERE seq = 2", &[]);
    assert!(format!("{refused:?}").contains("immutable"), "{refused:?}");
    client
        .batch_execute(
            "ALTER TABLE fleet_snapshots DISABLE TRIGGER fleet_snapshots_immutable;
             DELETE FROM fleet_snapshots WHERE seq = 2;",
        )
        .expect("remove snapshot 2");
    let id3: String = client
        .query_one("SELECT snapshot_id FROM fleet_snapshots WHERE seq = 3", &[])
        .expect("snapshot 3")
        .get(0);
    drop(client);
    let (intact, report, _) = audit(&["--storage", &db.url]);
    assert!(!intact, "{report}");
    // The first link that no longer follows is the one after the gap.
    assert_eq!(report["broken"]["seq"], 3, "{report}");
    assert_eq!(report["broken"]["snapshot_id"], id3.as_str());
    assert!(
        report["broken"]["reason"]
            .as_str()
            .expect("reason")
            .contains("removed")
    );
}
