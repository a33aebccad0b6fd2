//! `serve`'s settings as an operator gives them: a TOML file (`--config`, or
//! `AUTOMAGIK_TELEMETRY_CONFIG`), `AUTOMAGIK_TELEMETRY_*` variables over it, and flags
//! over both. The effective values are read from outside: the address the server
//! listens on, what its start-up banner says it runs with, where its database is, which
//! token it takes for what, how it redacts what it stores and how often it answers
//! `/telemetry/public`. A file or a value it cannot use stops it before it listens, with
//! a message naming the setting and no panic.

use automagik_telemetry_testkit::build::{string_kv, trace_request};
use common::{Running, command, free_port};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

mod common;

/// A token of the file with the read scope only.
const READ_TOKEN: &str = "file-read-token-0123456789";
/// A token of the file with the ingest scope only.
const INGEST_TOKEN: &str = "file-ingest-token-0123456789";
/// Two tokens in one variable, comma-separated.
const ENV_TOKENS: &str = "env-token-one-0123456789,env-token-two-0123456789";
/// The first of [`ENV_TOKENS`].
const ENV_TOKEN: &str = "env-token-one-0123456789";
/// The token given by `--token`.
const FLAG_TOKEN: &str = "flag-token-0123456789abcdef";
/// The attribute every span sent here carries: an email address, which redaction
/// replaces unless it is off.
const CONTACT: &str = "write to jane.doe@example.com";
/// [`CONTACT`] as `standard` and `strict` redaction store it.
const CONTACT_REDACTED: &str = "write to [REDACTED:email]";
/// What the banner says of the request limits, which no setting here changes.
const LIMITS: &str = "limits: a request at most 16.0 MiB as sent, 32.0 MiB decompressed, \
                      100,000 items, 96.0 MiB decoded";

/// A running `serve` and its log (standard error), line by line.
struct Served {
    base: String,
    /// The log lines read so far, without terminal colours.
    seen: Vec<String>,
    lines: Receiver<String>,
    server: Running,
}

impl Served {
    /// Starts `serve ARGS` with the variables `vars` (and none of the caller's
    /// `AUTOMAGIK_TELEMETRY_*`); returns once `/healthz` answers on `port`.
    fn start(args: &[&str], vars: &[(&str, &str)], port: u16) -> Served {
        let mut cmd = command();
        cmd.env_remove("RUST_LOG");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd
            .arg("serve")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(plain(&line)).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            base: format!("http://127.0.0.1:{port}"),
            seen: Vec::new(),
            lines,
            server: Running(child),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(format!("{}/healthz", served.base))
            .call()
            .is_err()
        {
            if let Ok(Some(status)) = served.server.0.try_wait() {
                served.read_to_end();
                panic!(
                    "serve {args:?} exited ({status}) instead of answering on port {port}:\n{}",
                    served.seen.join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve {args:?} does not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // What answered is this server, not another test's on a reused port.
        assert!(
            served.server.0.try_wait().ok().flatten().is_none(),
            "serve {args:?} exited"
        );
        served
    }

    /// Reads the log until the server closes it.
    fn read_to_end(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
    }

    /// The first log line holding `text`, waiting for it (at most 20 s).
    fn wait_for(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?} in the log:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The banner line that starts with `prefix`, from `prefix` on (without the log's
    /// time, level and target).
    fn banner(&mut self, prefix: &str) -> String {
        let line = self.wait_for(prefix);
        let at = line.find(prefix).expect("the prefix is in the line");
        line[at..].trim_end().to_string()
    }
}

/// `line` without terminal colour sequences (`ESC [ ... m`).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A loopback port this test holds: while the listener lives, no server can listen on
/// it, so a server configured to use it would fail to start.
fn held_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    (listener, port)
}

/// Writes the config file of the merge tests to `dir`: an address on `http_port`, its
/// database in `dir/from-file`, every other setting the tests override, and two tokens
/// of one scope each.
fn config_file(dir: &Path, http_port: u16) -> PathBuf {
    let path = dir.join("serve.toml");
    std::fs::write(
        &path,
        format!(
            r#"
http_addr = "127.0.0.1:{http_port}"
grpc_addr = "off"
data_dir = '{}'
retention_raw = "3d"
retention_rollups = "40d"
retention_interval = "45s"
redact = "off"
fleet_interval = "off"
public_rate_limit = 4
http_header_timeout = "4s"
http_body_timeout = "12s"
http_max_connections = 64
token = ["{READ_TOKEN}:read", {{ token = "{INGEST_TOKEN}", scopes = ["ingest"] }}]
"#,
            dir.join("from-file").display()
        ),
    )
    .expect("write the config file");
    path
}

/// The status of `GET url`, with a bearer `token` if given.
fn status_of(url: &str, token: Option<&str>) -> u16 {
    let mut req = ureq::get(url);
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    req.config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .status()
        .as_u16()
}

/// POSTs one span of the trace `trace` (16 times that byte) with the attribute
/// `contact` = [`CONTACT`], with a bearer `token` if given; the status.
fn post_span(base: &str, token: Option<&str>, trace: u8) -> u16 {
    let now = automagik_telemetry_testkit::now_ns();
    let body = trace_request(
        "config-test",
        vec![Span {
            trace_id: vec![trace; 16],
            span_id: vec![0x01; 8],
            name: "configured".into(),
            start_time_unix_nano: now,
            end_time_unix_nano: now + 1_000_000,
            attributes: vec![string_kv("contact", CONTACT)],
            ..Default::default()
        }],
    )
    .encode_to_vec();
    let mut req =
        ureq::post(format!("{base}/v1/traces")).header("content-type", "application/x-protobuf");
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    req.config()
        .http_status_as_error(false)
        .build()
        .send(&body[..])
        .unwrap_or_else(|e| panic!("POST /v1/traces: {e}"))
        .status()
        .as_u16()
}

/// The `contact` attribute stored of the span [`post_span`] sent in the trace `trace`,
/// read with `token`.
fn stored_contact(base: &str, token: &str, trace: u8) -> String {
    let id = format!("{trace:02x}").repeat(16);
    let body = common::get_json(&format!("{base}/api/v1/traces/{id}"), Some(token));
    body["spans"][0]["attributes"]["contact"]
        .as_str()
        .unwrap_or_else(|| panic!("no contact in {body}"))
        .to_string()
}

/// How many of up to `n` requests in a row `/telemetry/public` answers before it
/// refuses one as too many (429).
fn public_answers(base: &str, n: u32) -> u32 {
    let url = format!("{base}/telemetry/public");
    for i in 0..n {
        match status_of(&url, None) {
            200 => {}
            429 => return i,
            other => panic!("GET {url}: {other}"),
        }
    }
    n
}

/// The storage line of the banner for SQLite in `dir`, up to the database's size.
fn sqlite_in(dir: &Path) -> String {
    format!(
        "storage: SQLite, {}",
        dir.join("telemetry.sqlite3").display()
    )
}

/// The file alone: the server listens where it says, keeps its database where it says,
/// and runs with its retention, redaction, limits, fleet setting and tokens, each token
/// with its own scope.
#[test]
fn the_config_file_sets_every_value_it_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = config_file(dir.path(), port);
    let mut s = Served::start(&["--config", config.to_str().expect("utf-8")], &[], port);

    assert_eq!(s.banner("OTLP/gRPC: "), "OTLP/gRPC: off");
    let storage = s.banner("storage: ");
    assert!(
        storage.starts_with(&sqlite_in(&dir.path().join("from-file"))),
        "{storage}"
    );
    assert!(dir.path().join("from-file/telemetry.sqlite3").is_file());
    assert_eq!(
        s.banner("access: "),
        "access: 2 tokens; every request needs Authorization: Bearer <token>"
    );
    assert_eq!(
        s.banner("redaction on ingest: "),
        "redaction on ingest: off"
    );
    assert_eq!(
        s.banner("limits: "),
        format!("{LIMITS}; 4 s for its headers, 12 s for its body; 64 connections at once")
    );
    assert_eq!(
        s.banner("retention: "),
        "retention: every 45 s; raw data kept 3 d, rollups 40 d"
    );
    assert_eq!(
        s.banner("probes: "),
        "probes: none (add targets with --probe URL)"
    );
    assert_eq!(s.banner("fleet collection: "), "fleet collection: off");
    assert_eq!(s.banner("alert rules: "), "alert rules: none");

    // Each token of the file may do what its scopes say, and no more.
    let stats = format!("{}/api/v1/stats", s.base);
    assert_eq!(status_of(&stats, None), 401);
    assert_eq!(status_of(&stats, Some(READ_TOKEN)), 200);
    assert_eq!(status_of(&stats, Some(INGEST_TOKEN)), 403);
    assert_eq!(
        status_of(&format!("{}/metrics", s.base), Some(READ_TOKEN)),
        403,
        "/metrics needs the admin scope"
    );
    assert_eq!(post_span(&s.base, Some(READ_TOKEN), 0x61), 403);
    assert_eq!(post_span(&s.base, Some(INGEST_TOKEN), 0x61), 200);
    assert_eq!(
        stored_contact(&s.base, READ_TOKEN, 0x61),
        CONTACT,
        "redact = \"off\": stored as sent"
    );
    assert_eq!(public_answers(&s.base, 10), 4, "public_rate_limit = 4");
}

/// Variables over the file: each one set wins over the file's key (the address, the
/// data directory, rollup retention, redaction, fleet interval, public rate limit,
/// connection cap), the file still sets the rest, and the variable's tokens (two,
/// comma-separated, every scope) come beside the file's.
#[test]
fn environment_variables_win_over_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_file_port, file_port) = held_port();
    let port = free_port();
    let config = config_file(dir.path(), file_port);
    let http_addr = format!("127.0.0.1:{port}");
    let data_dir = dir.path().join("from-env");
    let mut s = Served::start(
        &["--config", config.to_str().expect("utf-8")],
        &[
            ("AUTOMAGIK_TELEMETRY_HTTP_ADDR", http_addr.as_str()),
            (
                "AUTOMAGIK_TELEMETRY_DATA_DIR",
                data_dir.to_str().expect("utf-8"),
            ),
            ("AUTOMAGIK_TELEMETRY_RETENTION_ROLLUPS", "20d"),
            ("AUTOMAGIK_TELEMETRY_REDACT", "strict"),
            ("AUTOMAGIK_TELEMETRY_FLEET_INTERVAL", "5m"),
            ("AUTOMAGIK_TELEMETRY_PUBLIC_RATE_LIMIT", "3"),
            ("AUTOMAGIK_TELEMETRY_HTTP_MAX_CONNECTIONS", "32"),
            ("AUTOMAGIK_TELEMETRY_TOKEN", ENV_TOKENS),
        ],
        port,
    );

    assert_eq!(s.banner("OTLP/gRPC: "), "OTLP/gRPC: off", "from the file");
    let storage = s.banner("storage: ");
    assert!(storage.starts_with(&sqlite_in(&data_dir)), "{storage}");
    assert!(
        !dir.path().join("from-file").exists(),
        "the file's data_dir is not used"
    );
    assert_eq!(
        s.banner("access: "),
        "access: 4 tokens; every request needs Authorization: Bearer <token>"
    );
    assert_eq!(
        s.banner("redaction on ingest: "),
        "redaction on ingest: strict"
    );
    assert_eq!(
        s.banner("limits: "),
        format!("{LIMITS}; 4 s for its headers, 12 s for its body; 32 connections at once")
    );
    assert_eq!(
        s.banner("retention: "),
        "retention: every 45 s; raw data kept 3 d, rollups 20 d"
    );
    let fleet = s.banner("fleet collection: ");
    assert!(
        fleet.starts_with("fleet collection: every 5 min (this host, Docker containers)"),
        "{fleet}"
    );

    // The variable's tokens have every scope; the file's keep theirs.
    let metrics = format!("{}/metrics", s.base);
    assert_eq!(status_of(&metrics, Some("env-token-two-0123456789")), 200);
    assert_eq!(status_of(&metrics, Some(READ_TOKEN)), 403);
    assert_eq!(post_span(&s.base, Some(ENV_TOKEN), 0x62), 200);
    assert_eq!(post_span(&s.base, Some(INGEST_TOKEN), 0x63), 200);
    assert_eq!(
        stored_contact(&s.base, READ_TOKEN, 0x62),
        CONTACT_REDACTED,
        "AUTOMAGIK_TELEMETRY_REDACT=strict over redact = \"off\""
    );
    assert_eq!(public_answers(&s.base, 10), 3, "the variable's limit");
}

/// Flags over the variables and the file: each flag given wins over both (the address,
/// gRPC, the data directory, retention interval and rollups, redaction, the public rate
/// limit, the connection cap); `--token` replaces the variable's tokens (the file's
/// stay); a variable without a flag still wins over the file.
#[test]
fn flags_win_over_the_environment_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_file_port, file_port) = held_port();
    let (_env_port, env_port) = held_port();
    let port = free_port();
    let grpc = free_port();
    let config = config_file(dir.path(), file_port);
    let env_addr = format!("127.0.0.1:{env_port}");
    let from_env = dir.path().join("from-env");
    let from_flag = dir.path().join("from-flag");
    let http_addr = format!("127.0.0.1:{port}");
    let grpc_addr = format!("127.0.0.1:{grpc}");
    let mut s = Served::start(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--http-addr",
            &http_addr,
            "--grpc-addr",
            &grpc_addr,
            "--data-dir",
            from_flag.to_str().expect("utf-8"),
            "--retention-interval",
            "90s",
            "--retention-rollups",
            "10d",
            "--redact",
            "standard",
            "--public-rate-limit",
            "2",
            "--http-max-connections",
            "16",
            "--token",
            FLAG_TOKEN,
        ],
        &[
            ("AUTOMAGIK_TELEMETRY_HTTP_ADDR", env_addr.as_str()),
            ("AUTOMAGIK_TELEMETRY_GRPC_ADDR", "off"),
            (
                "AUTOMAGIK_TELEMETRY_DATA_DIR",
                from_env.to_str().expect("utf-8"),
            ),
            ("AUTOMAGIK_TELEMETRY_RETENTION_INTERVAL", "30s"),
            ("AUTOMAGIK_TELEMETRY_RETENTION_ROLLUPS", "20d"),
            ("AUTOMAGIK_TELEMETRY_REDACT", "strict"),
            ("AUTOMAGIK_TELEMETRY_FLEET_INTERVAL", "5m"),
            ("AUTOMAGIK_TELEMETRY_PUBLIC_RATE_LIMIT", "3"),
            ("AUTOMAGIK_TELEMETRY_HTTP_MAX_CONNECTIONS", "32"),
            ("AUTOMAGIK_TELEMETRY_TOKEN", ENV_TOKENS),
        ],
        port,
    );

    assert_eq!(s.banner("OTLP/gRPC: "), format!("OTLP/gRPC: {grpc_addr}"));
    let storage = s.banner("storage: ");
    assert!(storage.starts_with(&sqlite_in(&from_flag)), "{storage}");
    assert!(!from_env.exists(), "the variable's data dir is not used");
    assert!(
        !dir.path().join("from-file").exists(),
        "the file's data_dir is not used"
    );
    assert_eq!(
        s.banner("access: "),
        "access: 3 tokens; every request needs Authorization: Bearer <token>"
    );
    assert_eq!(
        s.banner("redaction on ingest: "),
        "redaction on ingest: standard"
    );
    assert_eq!(
        s.banner("limits: "),
        format!("{LIMITS}; 4 s for its headers, 12 s for its body; 16 connections at once")
    );
    assert_eq!(
        s.banner("retention: "),
        "retention: every 90 s; raw data kept 3 d, rollups 10 d"
    );
    let fleet = s.banner("fleet collection: ");
    assert!(
        fleet.starts_with("fleet collection: every 5 min (this host, Docker containers)"),
        "the variable, no flag: {fleet}"
    );

    let stats = format!("{}/api/v1/stats", s.base);
    assert_eq!(
        status_of(&stats, Some(ENV_TOKEN)),
        401,
        "--token replaces AUTOMAGIK_TELEMETRY_TOKEN"
    );
    assert_eq!(status_of(&stats, Some(READ_TOKEN)), 200);
    assert_eq!(
        status_of(&format!("{}/metrics", s.base), Some(FLAG_TOKEN)),
        200
    );
    assert_eq!(post_span(&s.base, Some(FLAG_TOKEN), 0x64), 200);
    assert_eq!(
        stored_contact(&s.base, READ_TOKEN, 0x64),
        CONTACT_REDACTED,
        "--redact standard"
    );
    assert_eq!(public_answers(&s.base, 10), 2, "--public-rate-limit 2");
}

/// The file can be named by `AUTOMAGIK_TELEMETRY_CONFIG` instead of `--config`; with
/// both, the flag's file is read and the variable's is not.
#[test]
fn the_config_file_is_named_by_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, port: u16, raw: &str| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "http_addr = \"127.0.0.1:{port}\"\ngrpc_addr = \"off\"\nfleet_interval = \"off\"\n\
                 retention_raw = \"{raw}\"\ndata_dir = '{}'\n",
                dir.path().join(name).display()
            ),
        )
        .expect("write");
        path
    };
    let a_port = free_port();
    let a = write("a", a_port, "2d");
    let mut s = Served::start(
        &[],
        &[("AUTOMAGIK_TELEMETRY_CONFIG", a.to_str().expect("utf-8"))],
        a_port,
    );
    assert_eq!(
        s.banner("retention: "),
        "retention: every 60 s; raw data kept 2 d, rollups 30 d"
    );
    drop(s);

    // The variable's file now names a port this test holds: read, it would stop the
    // server.
    let (_held, held) = held_port();
    let a = write("a", held, "2d");
    let b_port = free_port();
    let b = write("b", b_port, "5d");
    let mut s = Served::start(
        &["--config", b.to_str().expect("utf-8")],
        &[("AUTOMAGIK_TELEMETRY_CONFIG", a.to_str().expect("utf-8"))],
        b_port,
    );
    assert_eq!(
        s.banner("retention: "),
        "retention: every 60 s; raw data kept 5 d, rollups 30 d"
    );
}

/// Runs `serve ARGS` with the variables `vars`, which must refuse to start: its exit
/// code and standard error. A server that starts after all is stopped and the test
/// fails.
fn refused(args: &[&str], vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = command();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve {args:?} with {vars:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read standard error");
    assert!(!err.contains("panicked"), "{args:?} {vars:?}: {err}");
    (status.code(), err)
}

/// A config file that cannot be used stops `serve` with exit code 1 before it listens:
/// missing, not TOML, an unknown key (at the top or in a table), a value of the wrong
/// type or out of its domain, a short token or an unknown scope, a gRPC address that is
/// none, or a non-loopback address without tokens; the message names the file and the
/// key, or the setting.
#[test]
fn a_config_file_that_cannot_be_used_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let addr = format!("127.0.0.1:{}", free_port());
    let serve_with = |path: &Path, flags: &[&str]| {
        let mut args = vec![
            "--config",
            path.to_str().expect("utf-8"),
            "--data-dir",
            data,
        ];
        args.extend_from_slice(flags);
        let (code, err) = refused(&args, &[]);
        assert_eq!(code, Some(1), "{}: {err}", path.display());
        err
    };
    let with_file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let err = serve_with(&path, &["--http-addr", &addr]);
        (path, err)
    };

    let missing = dir.path().join("missing.toml");
    assert_eq!(
        serve_with(&missing, &["--http-addr", &addr]),
        format!(
            "error: reading the config file {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );

    let (path, err) = with_file("syntax.toml", "http_addr = \"127.0.0.1:1\n");
    assert!(
        err.starts_with(&format!(
            "error: in the config file {}: TOML parse error at line 1, column ",
            path.display()
        )),
        "{err}"
    );

    let (path, err) = with_file("unknown.toml", "htp_addr = \"127.0.0.1:1\"\n");
    assert!(
        err.starts_with(&format!("error: in the config file {}: ", path.display())),
        "{err}"
    );
    assert!(
        err.contains(
            "unknown field `htp_addr`, expected one of `data_dir`, `storage`, `http_addr`"
        ),
        "{err}"
    );
    let (_, err) = with_file("unknown-in-table.toml", "[redaction]\nallow = []\n");
    assert!(err.contains("unknown field `allow`"), "{err}");
    let (_, err) = with_file(
        "unknown-in-alert.toml",
        "[[alert]]\nname = \"x\"\nmetric = \"up\"\ncondition = \"< 1\"\nthreshold = 1\n",
    );
    assert!(err.contains("unknown field `threshold`"), "{err}");

    for (name, text, want) in [
        (
            "integer.toml",
            "retention_raw = 3\n",
            "invalid type: integer `3`, expected a string",
        ),
        (
            "address.toml",
            "http_addr = \"localhost\"\n",
            "invalid socket address syntax",
        ),
        (
            "variant.toml",
            "redact = \"loose\"\n",
            "unknown variant `loose`, expected one of `standard`, `strict`, `off`",
        ),
    ] {
        let (path, err) = with_file(name, text);
        assert!(
            err.starts_with(&format!("error: in the config file {}: ", path.display())),
            "{name}: {err}"
        );
        assert!(err.contains(want), "{name}: {err}");
    }

    for (name, text, want) in [
        (
            "duration.toml",
            "retention_raw = \"forever\"\n",
            "retention_raw: expected a duration such as 5s, 250ms, 2m, 1h or 7d \
             (a bare number is seconds), got \"forever\"",
        ),
        (
            "short-token.toml",
            "token = [\"short\"]\n",
            "token: a token must be at least 16 characters long",
        ),
        (
            "short-table-token.toml",
            "token = [{ token = \"short\", scopes = [\"read\"] }]\n",
            "token: a token must be at least 16 characters long",
        ),
        (
            "scope.toml",
            "token = [\"file-read-token-0123456789:write\"]\n",
            "token: unknown scope \"write\"; expected ingest, read or admin",
        ),
        (
            "grpc.toml",
            "grpc_addr = \"nowhere\"\n",
            "grpc_addr: \"nowhere\" is not an address like 127.0.0.1:4317: \
             invalid socket address syntax",
        ),
    ] {
        let (_, err) = with_file(name, text);
        assert_eq!(err, format!("error: {want}\n"), "{name}");
    }

    // Checked before anything listens: no flag sets the address here.
    let exposed = dir.path().join("exposed.toml");
    std::fs::write(
        &exposed,
        format!(
            "http_addr = \"0.0.0.0:{}\"\ngrpc_addr = \"off\"\n",
            free_port()
        ),
    )
    .expect("write");
    assert_eq!(
        serve_with(&exposed, &[]),
        "error: refusing to listen on a non-loopback address without access tokens; \
         pass --token, bind 127.0.0.1, or pass --insecure\n"
    );
    // Nor is a secret repeated.
    let (_, err) = with_file("short-secret.toml", "token = [\"hunter2-secret\"]\n");
    assert!(!err.contains("hunter2"), "{err}");
}

/// An address of the file that another process holds stops `serve` with a message
/// naming the address.
#[test]
fn a_taken_address_of_the_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_held, port) = held_port();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "http_addr = \"127.0.0.1:{port}\"\ngrpc_addr = \"off\"\nfleet_interval = \"off\"\n"
        ),
    )
    .expect("write");
    let data = dir.path().join("data");
    let (code, err) = refused(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "--data-dir",
            data.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: binding 127.0.0.1:{port}: Address already in use"
        )),
        "{err}"
    );
}

/// A variable whose value cannot be used stops `serve` before it listens. A value of
/// the wrong form is refused as the value of its flag (exit code 2, the flag and what
/// it expects named); one out of its domain by the setting's name (exit code 1).
#[test]
fn invalid_environment_values_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().expect("utf-8");

    // Refused while the command line and environment are read.
    for (var, value, wants) in [
        (
            "AUTOMAGIK_TELEMETRY_HTTP_ADDR",
            "not-an-address",
            &[
                "invalid value 'not-an-address' for '--http-addr <HTTP_ADDR>': \
                 invalid socket address syntax",
            ][..],
        ),
        (
            "AUTOMAGIK_TELEMETRY_HTTP_MAX_CONNECTIONS",
            "many",
            &[
                "invalid value 'many' for '--http-max-connections <HTTP_MAX_CONNECTIONS>': \
                 invalid digit found in string",
            ][..],
        ),
        (
            "AUTOMAGIK_TELEMETRY_PUBLIC_RATE_LIMIT",
            "-1",
            &[
                "invalid value '-1' for '--public-rate-limit <PUBLIC_RATE_LIMIT>': \
                 -1 is not in 0..=4294967295",
            ][..],
        ),
        (
            "AUTOMAGIK_TELEMETRY_REDACT",
            "loose",
            &[
                "invalid value 'loose' for '--redact <REDACT>'",
                "[possible values: standard, strict, off]",
            ][..],
        ),
        (
            "AUTOMAGIK_TELEMETRY_INSECURE",
            "yes",
            &[
                "invalid value 'yes' for '--insecure'",
                "[possible values: true, false]",
            ][..],
        ),
    ] {
        let mut args = vec!["--data-dir", data, "--grpc-addr", "off"];
        if var != "AUTOMAGIK_TELEMETRY_HTTP_ADDR" {
            args.extend_from_slice(&["--http-addr", &addr]);
        }
        let (code, err) = refused(&args, &[(var, value)]);
        assert_eq!(code, Some(2), "{var}={value}: {err}");
        for want in wants {
            assert!(err.contains(want), "{var}={value}: {err}");
        }
    }

    // Refused when the settings are merged, each by its name.
    let duration = |name: &str, value: &str| {
        format!(
            "{name}: expected a duration such as 5s, 250ms, 2m, 1h or 7d \
             (a bare number is seconds), got \"{value}\""
        )
    };
    for (var, value, want) in [
        (
            "AUTOMAGIK_TELEMETRY_RETENTION_RAW",
            "forever",
            duration("retention_raw", "forever"),
        ),
        (
            "AUTOMAGIK_TELEMETRY_PROBE_INTERVAL",
            "soon",
            duration("probe_interval", "soon"),
        ),
        (
            "AUTOMAGIK_TELEMETRY_FLEET_INTERVAL",
            "hourly",
            duration("fleet_interval", "hourly"),
        ),
        (
            "AUTOMAGIK_TELEMETRY_TOKEN",
            "short",
            "--token: a token must be at least 16 characters long".to_string(),
        ),
        (
            "AUTOMAGIK_TELEMETRY_GRPC_ADDR",
            "nowhere",
            "grpc_addr: \"nowhere\" is not an address like 127.0.0.1:4317: \
             invalid socket address syntax"
                .to_string(),
        ),
        (
            "AUTOMAGIK_TELEMETRY_AGENT",
            "planner",
            "--agent: expected NAME=URL or NAME@SERVICE=URL".to_string(),
        ),
        (
            "AUTOMAGIK_TELEMETRY_STORAGE",
            "mysql://db/telemetry",
            "storage: expected sqlite, a postgres:// URL or a clickhouse:// (or http(s)://) URL"
                .to_string(),
        ),
        (
            "AUTOMAGIK_TELEMETRY_CONFIG",
            missing,
            format!("reading the config file {missing}: No such file or directory (os error 2)"),
        ),
    ] {
        let mut args = vec!["--data-dir", data, "--http-addr", &addr];
        if var != "AUTOMAGIK_TELEMETRY_GRPC_ADDR" {
            args.extend_from_slice(&["--grpc-addr", "off"]);
        }
        let (code, err) = refused(&args, &[(var, value)]);
        assert_eq!(code, Some(1), "{var}={value}: {err}");
        assert_eq!(err, format!("error: {want}\n"), "{var}={value}");
        assert!(!err.contains("panicked"), "{var}={value}: {err}");
    }

    let (code, err) = refused(
        &[
            "--data-dir",
            data,
            "--http-addr",
            &addr,
            "--grpc-addr",
            "off",
        ],
        &[("AUTOMAGIK_TELEMETRY_PROBE", "127.0.0.1:5432")],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(
            "error: probe: 127.0.0.1:5432 has no scheme; try postgres://127.0.0.1:5432"
        ),
        "{err}"
    );
    // A flag given wins over a variable that could not be used.
    let mut s = Served::start(
        &[
            "--data-dir",
            data,
            "--http-addr",
            &addr,
            "--grpc-addr",
            "off",
            "--fleet-interval",
            "off",
            "--retention-raw",
            "1d",
        ],
        &[("AUTOMAGIK_TELEMETRY_RETENTION_RAW", "forever")],
        port,
    );
    assert_eq!(
        s.banner("retention: "),
        "retention: every 60 s; raw data kept 1 d, rollups 30 d"
    );
}
