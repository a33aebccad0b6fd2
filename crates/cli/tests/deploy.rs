//! The self-hosting kit in `deploy/`: its ports agree with the code, the README, the
//! docs and the tests; its Grafana provisioning points at the ClickHouse the compose
//! file gives the server; and every panel of the provisioned dashboards runs against the
//! real ClickHouse engine holding what `serve` stored from `send-test`, and finds data.

use automagik_telemetry_core::ports::{OTLP_GRPC, OTLP_HTTP};
use automagik_telemetry_testkit::clickhouse::ClickHouse;
use serde_yaml::Value as Yaml;
use std::path::{Path, PathBuf};

mod common;
use common::{Running, free_port, ok, serve};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn strings(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under `dir` (recursively) whose name ends with one of `exts`.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && name != "node_modules" && name != "target" {
            files(&path, exts, out);
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

#[test]
fn ports_agree_in_code_docs_compose_and_tests() {
    // Code: the server's defaults and the SDK's endpoint.
    let help = ok(&["serve", "--help"]);
    for want in [
        format!("127.0.0.1:{OTLP_HTTP}"),
        format!("127.0.0.1:{OTLP_GRPC}"),
    ] {
        assert!(help.contains(&want), "serve --help lacks {want}:\n{help}");
    }
    assert_eq!(
        automagik_telemetry::config::DEFAULT_ENDPOINT,
        format!("http://127.0.0.1:{OTLP_HTTP}")
    );

    // The compose file: the server publishes exactly the two ports and listens on them.
    let compose = yaml("deploy/compose.yaml");
    let services = compose["services"].as_mapping().expect("services");
    let server = &compose["services"]["server"];
    assert_eq!(
        strings(&server["ports"]),
        [
            format!("{OTLP_GRPC}:{OTLP_GRPC}"),
            format!("{OTLP_HTTP}:{OTLP_HTTP}")
        ]
    );
    let command = strings(&server["command"]);
    let flag = |name: &str| {
        command
            .iter()
            .position(|a| a == name)
            .and_then(|i| command.get(i + 1))
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from {command:?}"))
    };
    assert_eq!(flag("--http-addr"), format!("0.0.0.0:{OTLP_HTTP}"));
    assert_eq!(flag("--grpc-addr"), format!("0.0.0.0:{OTLP_GRPC}"));
    assert!(
        strings(&server["healthcheck"]["test"])
            .iter()
            .any(|a| a.starts_with(&format!("http://127.0.0.1:{OTLP_HTTP}/"))),
        "the healthcheck probes the HTTP port"
    );
    for (name, service) in services {
        if name.as_str() == Some("server") {
            continue;
        }
        for mapping in strings(&service["ports"]) {
            for port in [OTLP_GRPC, OTLP_HTTP] {
                assert!(
                    !mapping.split(':').any(|p| p == port.to_string()),
                    "{name:?} publishes the server's port {port}"
                );
            }
        }
    }
    let dockerfile = read("deploy/Dockerfile");
    assert!(
        dockerfile.contains(&format!("EXPOSE {OTLP_GRPC} {OTLP_HTTP}")),
        "the image exposes both ports"
    );

    // README: both ports, each with its protocol.
    let readme = read("README.md");
    assert!(readme.contains(&format!("127.0.0.1:{OTLP_HTTP}")));
    assert!(readme.contains(&format!("127.0.0.1:{OTLP_GRPC}")));
    assert!(
        readme.lines().any(|l| l.contains("OTLP/gRPC")
            && l.contains(&OTLP_GRPC.to_string())
            && !l.contains(&OTLP_HTTP.to_string())),
        "a README line names OTLP/gRPC with its port"
    );

    // Nowhere a port that differs from ours only in its last digit (a typo of it).
    let near = regex::Regex::new(r"\b431[0-9]\b").expect("regex");
    let mut all = vec![repo().join("README.md")];
    files(&repo().join("docs"), &[".md"], &mut all);
    files(
        &repo().join("deploy"),
        &["yaml", "yml", "json", "Dockerfile"],
        &mut all,
    );
    files(
        &repo().join("crates"),
        &[".rs", ".py", ".cjs", ".toml"],
        &mut all,
    );
    let mut checked = 0;
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            for m in near.find_iter(line) {
                checked += 1;
                assert!(
                    [OTLP_GRPC.to_string(), OTLP_HTTP.to_string()].contains(&m.as_str().into()),
                    "{}:{}: port {} is neither {OTLP_GRPC} nor {OTLP_HTTP}",
                    path.display(),
                    i + 1,
                    m.as_str()
                );
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} mentions found: the scan is broken"
    );
}

/// Grafana's ClickHouse macros expanded for the last hour, one-minute intervals.
fn expand(sql: &str) -> String {
    let filter = regex::Regex::new(r"\$__timeFilter\(([A-Za-z_]+)\)").expect("regex");
    let interval = regex::Regex::new(r"\$__timeInterval\(([A-Za-z_]+)\)").expect("regex");
    let sql = filter.replace_all(
        sql,
        "$1 >= now() - INTERVAL 1 HOUR AND $1 <= now() + INTERVAL 1 MINUTE",
    );
    interval
        .replace_all(&sql, "toStartOfInterval($1, INTERVAL 60 second)")
        .into_owned()
}

#[test]
fn grafana_dashboards_query_the_servers_clickhouse_tables() {
    // Provisioning: the data source the dashboards name, at the server's database.
    let compose = yaml("deploy/compose.yaml");
    let sources = yaml("deploy/grafana/provisioning/datasources/clickhouse.yaml");
    let source = &sources["datasources"][0];
    assert_eq!(
        source["type"].as_str(),
        Some("grafana-clickhouse-datasource")
    );
    let uid = source["uid"].as_str().expect("uid");
    let database = source["jsonData"]["defaultDatabase"]
        .as_str()
        .expect("database");
    let storage = strings(&compose["services"]["server"]["command"])
        .into_iter()
        .find(|a| a.starts_with("clickhouse://"))
        .expect("the server stores into ClickHouse");
    assert!(
        storage.ends_with(&format!(
            "@{}:{}/{database}",
            source["jsonData"]["host"].as_str().expect("host"),
            source["jsonData"]["port"].as_u64().expect("port")
        )),
        "{storage}: Grafana reads where the server writes"
    );
    let providers = yaml("deploy/grafana/provisioning/dashboards/automagik.yaml");
    let mounted = strings(&compose["services"]["grafana"]["volumes"]);
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .expect("path");
    assert!(
        mounted.contains(&format!("./grafana/dashboards:{path}:ro")),
        "{mounted:?} mounts the dashboards where the provider looks ({path})"
    );

    // Data: the server on the real engine, filled by send-test.
    let engine = ClickHouse::start().expect("start the ClickHouse engine");
    let url = engine.storage_url(database);
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--storage", &url, "--fleet-interval", "off"],
    ));
    ok(&[
        "send-test",
        "--endpoint",
        &format!("http://127.0.0.1:{port}"),
    ]);

    let mut panels = 0;
    let mut dir = std::fs::read_dir(repo().join("deploy/grafana/dashboards"))
        .expect("dashboards")
        .flatten()
        .map(|e| e.path())
        .collect::<Vec<_>>();
    dir.sort();
    let titles: Vec<String> = dir
        .iter()
        .map(|p| {
            let d: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json");
            for panel in d["panels"].as_array().expect("panels") {
                let title = panel["title"].as_str().expect("title");
                assert_eq!(panel["datasource"]["uid"], uid, "{title}");
                for target in panel["targets"].as_array().expect("targets") {
                    assert_eq!(target["datasource"]["uid"], uid, "{title}");
                    let sql = expand(target["rawSql"].as_str().expect("rawSql"));
                    let mut resp = ureq::post(format!("{}/?database={database}", engine.url))
                        .config()
                        .http_status_as_error(false)
                        .build()
                        .send(format!("{sql}\nFORMAT JSON"))
                        .expect("query");
                    let body = resp.body_mut().read_to_string().expect("body");
                    assert_eq!(resp.status(), 200, "{title}: {body}\n{sql}");
                    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
                    assert!(
                        answer["rows"].as_u64() > Some(0),
                        "{title}: no rows from send-test's data\n{sql}"
                    );
                    panels += 1;
                }
            }
            d["title"].as_str().expect("title").to_string()
        })
        .collect();
    assert_eq!(
        titles,
        [
            "Automagik Telemetry: agent runs",
            "Automagik Telemetry: logs and events",
            "Automagik Telemetry: traces"
        ]
    );
    assert!(panels >= 12, "{panels} panels");
}
