//! Starting the real `automagik-telemetry` binary for a test.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_automagik-telemetry");

/// A loopback port nothing listens on.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The binary with none of the project's variables from the caller's environment.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTOMAGIK_TELEMETRY_") || k == "DO_NOT_TRACK" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs the binary with `args` to its end.
pub fn run(args: &[&str]) -> std::process::Output {
    command().args(args).output().expect("run the binary")
}

/// Runs the binary with `args`, which must succeed, and returns what it printed.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `serve` on `127.0.0.1:<http_port>` (gRPC on `grpc`, which may be `off`) with `data_dir`
/// and `extra` flags, once `/healthz` answers.
pub fn serve(data_dir: &Path, http_port: u16, grpc: &str, extra: &[&str]) -> Child {
    let mut child = command()
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args([
            "--http-addr",
            &format!("127.0.0.1:{http_port}"),
            "--grpc-addr",
            grpc,
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let deadline = Instant::now() + Duration::from_secs(20);
    while ureq::get(format!("http://127.0.0.1:{http_port}/healthz"))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "server did not come up");
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "the server exited at start (port {http_port} taken?)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // What answered is this server, not another test's on a reused port.
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "the server exited at start (port {http_port} taken?)"
    );
    child
}

/// Stops the process when dropped: SIGTERM, as an operator stops it (so it shuts down
/// as it would, and an instrumented build writes its coverage data), then SIGKILL if it
/// is still running 10 s later.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

/// SIGTERM to `child`, then SIGKILL if it has not exited within 10 s; waits for it.
pub fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// GET `url` (with a bearer `token`, if given); its body as JSON.
pub fn get_json(url: &str, token: Option<&str>) -> serde_json::Value {
    let mut req = ureq::get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    serde_json::from_slice(&resp.body_mut().read_to_vec().expect("body")).expect("json")
}

/// The Node packages `scripts/setup-node` installs (`AUTOMAGIK_TELEMETRY_TEST_NODE_MODULES`,
/// else the cache's).
pub fn node_modules() -> String {
    let modules = std::env::var("AUTOMAGIK_TELEMETRY_TEST_NODE_MODULES").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/automagik-telemetry/node-client/node_modules")
    });
    assert!(
        Path::new(&modules).is_dir(),
        "{modules} is missing: run scripts/setup-node"
    );
    modules
}

/// Waits until `sql` (one bigint) reaches `want`; its last value.
pub fn wait_count(url: &str, sql: &str, want: i64, within: Duration) -> i64 {
    let deadline = Instant::now() + within;
    let mut last = -1;
    while Instant::now() < deadline {
        if let Ok(mut c) = postgres::Client::connect(url, postgres::NoTls)
            && let Ok(row) = c.query_one(sql, &[])
        {
            last = row.get::<_, i64>(0);
            if last >= want {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}
