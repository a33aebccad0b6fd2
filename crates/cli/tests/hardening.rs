//! The real binary against hostile clients and damaged files: headers or a body sent a
//! byte at a time, a chunked body that never ends, an idle keep-alive connection and
//! more connections than the cap are all bounded; a damaged write-ahead log (after a
//! SIGKILL) and an empty database beside its log stop `serve` at start with an error
//! naming the file, while a fresh data directory starts. Every wait is bounded.

use automagik_telemetry_testkit::build::{string_kv, trace_request};
use common::{Running, command, free_port, serve};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

/// A raw client connection that never blocks: what the server sent, and whether it
/// closed the connection.
struct Raw {
    stream: TcpStream,
    seen: Vec<u8>,
    closed: bool,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream.set_nonblocking(true).expect("nonblocking");
        Raw {
            stream,
            seen: Vec::new(),
            closed: false,
        }
    }

    /// Sends `bytes` if the connection takes them (a closed one refuses; what the
    /// server sent before closing it is still read by [`Raw::is_closed`]).
    fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Reads what the server sent so far; whether it has closed the connection.
    fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        while !self.closed {
            match self.stream.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => self.seen.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
        self.closed
    }

    fn answer(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}

/// How many of `conns` the server has not closed.
fn open_count(conns: &mut [Raw]) -> usize {
    conns
        .iter_mut()
        .map(|c| !c.is_closed())
        .filter(|open| *open)
        .count()
}

/// Sends `step` on `conn` every `every` until the server closes it or `limit` passes;
/// how long it stayed open.
fn trickle_until_closed(conn: &mut Raw, step: &[u8], every: Duration, limit: Duration) -> Duration {
    let started = Instant::now();
    while !conn.is_closed() && started.elapsed() < limit {
        conn.send(step);
        std::thread::sleep(every);
    }
    started.elapsed()
}

#[test]
fn headers_sent_a_byte_a_second_are_cut_at_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--http-header-timeout", "2s"],
    ));
    let request =
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: a-byte-a-second\r\n\r\n";
    let mut slow: Vec<Raw> = (0..50).map(|_| Raw::connect(port)).collect();
    let started = Instant::now();
    let mut served_meanwhile = false;
    let mut sent = 0;
    // Without a header timeout all 50 stay open as long as bytes keep coming.
    while started.elapsed() < Duration::from_secs(20) && sent < request.len() {
        for conn in &mut slow {
            conn.send(&request[sent..=sent]);
        }
        sent += 1;
        if !served_meanwhile {
            let resp = ureq::get(format!("http://127.0.0.1:{port}/healthz"))
                .call()
                .expect("a normal request is served while the slow ones are open");
            assert_eq!(resp.status().as_u16(), 200);
            served_meanwhile = true;
        }
        if open_count(&mut slow) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let open = open_count(&mut slow);
    assert_eq!(
        open,
        0,
        "slow connections still open after {:?} ({sent} bytes sent on each)",
        started.elapsed()
    );
    assert!(sent < request.len(), "no request was ever complete");
    assert!(served_meanwhile);
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--http-header-timeout", "1s"],
    ));
    let mut conn = Raw::connect(port);
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !conn.answer().ends_with("ok") && !conn.is_closed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        conn.answer().starts_with("HTTP/1.1 200"),
        "{}",
        conn.answer()
    );
    // Answered and kept alive; then idle, and closed.
    while !conn.is_closed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(conn.is_closed(), "an idle keep-alive connection stays open");
}

/// Sends `head` to a server with a 2 s body timeout, then `chunk` every `every`: the
/// server must answer 408 and close the connection.
fn body_is_cut_at_the_body_timeout(head: &[u8], chunk: &[u8], every: Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--http-body-timeout", "2s"],
    ));
    let mut conn = Raw::connect(port);
    conn.send(head);
    let open = trickle_until_closed(&mut conn, chunk, every, Duration::from_secs(20));
    assert!(conn.is_closed(), "still open after {open:?}");
    assert!(
        conn.answer().starts_with("HTTP/1.1 408"),
        "{}",
        conn.answer()
    );
}

#[test]
fn a_chunked_body_that_never_ends_is_cut_at_the_body_timeout() {
    body_is_cut_at_the_body_timeout(
        b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"1\r\n\n\r\n",
        Duration::from_millis(200),
    );
}

#[test]
fn a_body_trickled_byte_by_byte_is_cut_at_the_body_timeout() {
    body_is_cut_at_the_body_timeout(
        b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n",
        b"\n",
        Duration::from_millis(100),
    );
}

#[test]
fn connections_past_the_cap_wait_for_a_free_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &[
            "--http-max-connections",
            "4",
            "--http-header-timeout",
            "60s",
        ],
    ));
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut next = Raw::connect(port);
    next.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    // Every slot is taken: the request waits, unread, however long.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert!(
            !next.is_closed() && next.seen.is_empty(),
            "served past the cap: {:?}",
            next.answer()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !next.is_closed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        next.answer().starts_with("HTTP/1.1 200"),
        "served once a slot is free: {:?}",
        next.answer()
    );
}

fn trace_id(n: usize) -> Vec<u8> {
    let mut id = vec![0xcd; 16];
    id[8..].copy_from_slice(&(n as u64 + 1).to_be_bytes());
    id
}

fn batch(n: usize) -> Vec<u8> {
    let now = automagik_telemetry_testkit::now_ns();
    let spans = (0..50u64)
        .map(|i| Span {
            trace_id: trace_id(n),
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: format!("batch-{n}-span-{i}"),
            start_time_unix_nano: now + i,
            end_time_unix_nano: now + 1_000 + i,
            attributes: vec![string_kv("payload", "x".repeat(200))],
            ..Default::default()
        })
        .collect();
    trace_request("hardening", spans).encode_to_vec()
}

fn post_batch(port: u16, n: usize) {
    let resp = ureq::post(format!("http://127.0.0.1:{port}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .send(&batch(n)[..])
        .expect("acknowledged");
    assert_eq!(resp.status().as_u16(), 200);
}

/// Starts `serve` on `data_dir`, which must refuse to start; what it printed.
fn start_refused(data_dir: &Path) -> String {
    let port = free_port();
    let mut child = command()
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args([
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--grpc-addr",
            "off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        let up = ureq::get(format!("http://127.0.0.1:{port}/healthz"))
            .call()
            .is_ok();
        if up || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started on a damaged data directory");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn a_damaged_wal_after_sigkill_stops_the_server_at_start_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = Running(serve(dir.path(), port, "off", &["--fleet-interval", "off"]));
    for n in 0..12 {
        post_batch(port, n);
    }
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("reap");
    let wal = dir.path().join("telemetry.sqlite3-wal");
    let mut bytes = std::fs::read(&wal).expect("the log a SIGKILL leaves");
    assert!(bytes.len() > 12 * 4096, "{} bytes", bytes.len());
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b = !*b;
    }
    std::fs::write(&wal, &bytes).expect("write the log");
    let stderr = start_refused(dir.path());
    assert!(stderr.contains(&wal.display().to_string()), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(stderr.contains("README"), "{stderr}");
    assert_eq!(
        std::fs::read(&wal).expect("the log"),
        bytes,
        "the log is left as it was"
    );
}

#[test]
fn an_empty_database_beside_its_log_is_refused_and_a_fresh_directory_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("telemetry.sqlite3");
    std::fs::write(&db, b"").expect("write");
    std::fs::write(dir.path().join("telemetry.sqlite3-wal"), vec![0u8; 4096]).expect("write");
    let stderr = start_refused(dir.path());
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("empty (0 bytes)"), "{stderr}");

    let fresh = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(&fresh.path().join("data"), port, "off", &[]));
    post_batch(port, 1);
}
