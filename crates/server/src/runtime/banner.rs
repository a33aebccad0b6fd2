//! The start-up banner: what an operator needs once the ports are bound, one log line
//! each: the addresses, the dashboard's URL, the store and where it is (a URL's
//! password masked), how many access tokens there are (never the tokens), redaction,
//! the request limits, and what runs in the background and how often. Durations and
//! sizes are in human units (`60 s`, `16.0 MiB`).

use crate::config::ServerConfig;
use crate::ingest::Limits;
use crate::probe::display_url;
use crate::store::sqlite::DB_FILE;
use automagik_telemetry_core::human;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// `n thing` or `n things`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        human::count(n as u64),
        if n == 1 { one } else { many }
    )
}

/// The base URL a browser on this machine opens for `addr`: an address of every
/// interface is reached on loopback.
fn browsable(addr: SocketAddr) -> String {
    let shown = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    };
    format!("http://{shown}")
}

/// ` (every interface)` for an unspecified address.
fn interfaces(addr: SocketAddr) -> &'static str {
    if addr.ip().is_unspecified() {
        " (listening on every interface)"
    } else {
        ""
    }
}

/// The SQLite database file `config` names, as an absolute path where one can be made.
pub fn sqlite_file(config: &ServerConfig) -> PathBuf {
    std::path::absolute(&config.data_dir)
        .unwrap_or_else(|_| config.data_dir.clone())
        .join(DB_FILE)
}

/// The banner's lines for `config` listening on `http` (and `grpc`), with `limits` per
/// request; `sqlite_bytes` is the size of the SQLite database, when it is the store and
/// its size is known.
pub fn lines(
    config: &ServerConfig,
    limits: &Limits,
    http: SocketAddr,
    grpc: Option<SocketAddr>,
    sqlite_bytes: Option<u64>,
) -> Vec<String> {
    let base = browsable(http);
    let mut out = vec![
        format!(
            "automagik-telemetry {} is serving",
            env!("CARGO_PKG_VERSION")
        ),
        format!(
            "OTLP/HTTP: {base}/v1/traces, /v1/metrics, /v1/logs; query API {base}/api/v1/; \
             Prometheus {base}/metrics{}",
            interfaces(http)
        ),
        match grpc {
            Some(addr) => format!("OTLP/gRPC: {addr}{}", interfaces(addr)),
            None => "OTLP/gRPC: off".to_string(),
        },
        format!("dashboard: {base}/"),
    ];

    let storage = config.storage.trim();
    out.push(if storage == "sqlite" {
        let size = sqlite_bytes.map_or_else(String::new, |n| format!(" ({})", human::bytes(n)));
        format!("storage: SQLite, {}{size}", sqlite_file(config).display())
    } else if storage.starts_with("postgres://") || storage.starts_with("postgresql://") {
        format!("storage: PostgreSQL, {}", display_url(storage))
    } else {
        format!("storage: ClickHouse, {}", display_url(storage))
    });

    out.push(match config.tokens.len() {
        0 if config.exposed() => "access: no tokens and --insecure: every client that reaches \
                                  the listening address may send and read"
            .to_string(),
        0 => "access: no tokens: open to clients on this machine".to_string(),
        n => format!(
            "access: {}; every request needs Authorization: Bearer <token>",
            plural(n, "token", "tokens")
        ),
    });
    out.push(format!(
        "redaction on ingest: {}",
        config.redaction.mode().as_str()
    ));
    out.push(format!(
        "limits: a request at most {} as sent, {} decompressed, {} items, {} decoded; \
         {} for its headers, {} for its body; {} at once",
        human::bytes(limits.max_body_bytes as u64),
        human::bytes(limits.max_decompressed_bytes as u64),
        human::count(limits.max_items as u64),
        human::bytes(limits.max_decoded_bytes as u64),
        human::duration(config.http_header_timeout),
        human::duration(config.http_body_timeout),
        plural(config.http_max_connections, "connection", "connections"),
    ));

    out.push(format!(
        "retention: every {}; raw data kept {}, rollups {}",
        human::duration(config.retention_interval),
        human::duration(config.retention_raw),
        human::duration(config.retention_rollups),
    ));
    out.push(if config.probes.is_empty() {
        "probes: none (add targets with --probe URL)".to_string()
    } else {
        format!(
            "probes: {} every {}, stored as the metrics up and probe_latency_ms{}",
            plural(config.probes.len(), "target", "targets"),
            human::duration(config.probe_interval),
            if config.probe_webhook.is_some() {
                "; changes of state posted to the webhook"
            } else {
                ""
            }
        )
    });
    out.push(match config.fleet_interval {
        None => "fleet collection: off".to_string(),
        Some(every) => {
            let mut what = vec!["this host".to_string(), "Docker containers".to_string()];
            if !config.agents.is_empty() {
                what.push(plural(config.agents.len(), "agent", "agents"));
            }
            if !config.probes.is_empty() {
                what.push("the probes".to_string());
            }
            format!(
                "fleet collection: every {} ({}), stored as fleet.* metrics (listed apart from \
                 the applications' metrics) and hash-chained snapshots; --fleet-interval off \
                 turns it off",
                human::duration(every),
                what.join(", ")
            )
        }
    });
    out.push(if config.alerts.is_empty() {
        "alert rules: none".to_string()
    } else {
        format!(
            "alert rules: {} evaluated every {}{}",
            plural(config.alerts.len(), "rule", "rules"),
            human::duration(config.alert_interval),
            if config.alert_webhook.is_some() {
                "; firing and resolving posted to the webhook"
            } else {
                ""
            }
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, Overrides, StoreLocation};

    fn config(overrides: Overrides, file: &str) -> ServerConfig {
        let file: FileConfig = toml::from_str(file).expect("toml");
        ServerConfig::merge(overrides, file).expect("config")
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn the_defaults_in_human_units() {
        let c = config(Overrides::default(), "");
        let lines = lines(
            &c,
            &Limits::default(),
            addr("127.0.0.1:4318"),
            Some(addr("127.0.0.1:4317")),
            Some(4 * 1024 * 1024),
        );
        let text = lines.join("\n");
        for want in [
            "OTLP/HTTP: http://127.0.0.1:4318/v1/traces",
            "OTLP/gRPC: 127.0.0.1:4317",
            "dashboard: http://127.0.0.1:4318/",
            "storage: SQLite, ",
            "telemetry.sqlite3 (4.0 MiB)",
            "access: no tokens: open to clients on this machine",
            "redaction on ingest: standard",
            "a request at most 16.0 MiB as sent, 32.0 MiB decompressed, 100,000 items, 96.0 MiB decoded",
            "10 s for its headers, 30 s for its body; 1,024 connections at once",
            "retention: every 60 s; raw data kept 7 d, rollups 30 d",
            "probes: none",
            "fleet collection: every 60 s (this host, Docker containers)",
            "--fleet-interval off turns it off",
            "alert rules: none",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
    }

    #[test]
    fn grpc_off_a_store_url_without_its_password_and_tokens_counted_not_shown() {
        let overrides = Overrides {
            store: StoreLocation::new("postgres://app:s3cret-pw@db:5432/telemetry".into(), None),
            grpc_addr: Some("off".into()),
            tokens: vec![
                "first-token-0123456789".into(),
                "second-token-0123456789".into(),
            ],
            probes: vec!["tcp://127.0.0.1:1".into()],
            probe_interval: Some("250ms".into()),
            fleet_interval: Some("off".into()),
            ..Default::default()
        };
        let c = config(
            overrides,
            "alert_interval = \"2m\"\n[[alert]]\nname = \"down\"\nmetric = \"up\"\ncondition = \"< 1\"\n",
        );
        let lines = lines(&c, &Limits::default(), addr("0.0.0.0:4318"), None, None);
        let text = lines.join("\n");
        for want in [
            "OTLP/gRPC: off",
            "dashboard: http://127.0.0.1:4318/",
            "(listening on every interface)",
            "storage: PostgreSQL, postgres://app:***@db:5432/telemetry",
            "access: 2 tokens; every request needs Authorization: Bearer <token>",
            "probes: 1 target every 250 ms",
            "fleet collection: off",
            "alert rules: 1 rule evaluated every 2 min",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
        for secret in ["s3cret-pw", "first-token", "second-token"] {
            assert!(!text.contains(secret), "{secret} shown in\n{text}");
        }
    }
}
