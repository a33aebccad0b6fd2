//! Upgrades lose nothing: a data directory written by the code before the current SQLite
//! layout (spans clustered by id, a resource on every row) is migrated when `serve`
//! opens it, and every record reads back as that code answered for it.
//!
//! The fixture (`tests/fixtures/store-before-span-rows/`) was written by
//! `scripts/upgrade-fixture` with the binary of commit 00e54ab: the official Python SDK's
//! spans of four services, an agent run, log records and metrics
//! (`tests/python/upgrade_fixture.py`), and that server's answers to every read of them
//! (`expected.json`, `tests/python/upgrade_expected.py`).

mod common;

use common::{Running, free_port, get_json, serve};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/store-before-span-rows"
);

/// The fixture's database, decompressed into `data_dir`.
fn unpack(data_dir: &Path) {
    let gz = std::fs::read(format!("{FIXTURE}/telemetry.sqlite3.gz")).expect("fixture");
    let mut db = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut db)
        .expect("gunzip the fixture");
    std::fs::write(data_dir.join("telemetry.sqlite3"), db).expect("write the database");
}

/// The layout version the database records (`PRAGMA user_version`: migrations applied).
fn user_version(data_dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(data_dir.join("telemetry.sqlite3")).expect("open");
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version")
}

#[test]
fn a_store_written_before_the_span_rows_layout_reads_back_every_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    unpack(dir.path());
    let before = user_version(dir.path());
    assert_eq!(before, 8, "the fixture is the layout before span_rows");
    let expected: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURE}/expected.json")).expect("expected.json"),
    )
    .expect("expected.json parses");

    let port = free_port();
    // Retention would remove records of 2026-12-01 once they are older than its window.
    let server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--retention-raw", "36500d", "--retention-rollups", "36500d"],
    ));
    let base = format!("http://127.0.0.1:{port}");

    let stats = &expected["/api/v1/stats"];
    assert!(stats["spans"].as_u64().unwrap_or(0) >= 96, "{stats}");
    let mut traces = 0;
    for (path, want) in &expected {
        let mut got = get_json(&format!("{base}{path}"), None);
        if path == "/api/v1/stats"
            && let Some(o) = got.as_object_mut()
        {
            // The counts of what clients sent (the server adds points of its own).
            o.retain(|k, _| want.get(k).is_some());
        }
        assert_eq!(&got, want, "GET {path} after the upgrade");
        traces += usize::from(path.starts_with("/api/v1/traces/"));
    }
    assert!(traces >= 13, "{traces} traces compared");
    drop(server);
    assert!(user_version(dir.path()) > before, "migrated");

    // The spans are in the new layout, each resource once.
    let conn = rusqlite::Connection::open(dir.path().join("telemetry.sqlite3")).expect("open");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM span_rows", [], |r| r.get(0))
        .expect("span_rows");
    let resources: i64 = conn
        .query_row("SELECT COUNT(*) FROM resources", [], |r| r.get(0))
        .expect("resources");
    assert_eq!(Some(rows as u64), stats["spans"].as_u64());
    assert_eq!(resources, 4, "one row per distinct resource");
}
