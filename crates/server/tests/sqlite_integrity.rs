//! Start-up integrity of the SQLite store: a damaged write-ahead log (SQLite would drop
//! the committed transactions after the damage without a word), a damaged database
//! page, an empty database file beside other files, a log without its database and a
//! file that is not a database are refused at open with an error naming the file; a
//! fresh directory, an intact log left by a crash and an empty file alone open.

use automagik_telemetry_server::rows::{self, Batch};
use automagik_telemetry_server::{SqliteStore, StoreError, StoreRead, StoreWrite};
use automagik_telemetry_testkit::build::{string_kv, trace_request};
use opentelemetry_proto::tonic::trace::v1::Span;
use std::path::Path;

const DB: &str = "telemetry.sqlite3";
const WAL: &str = "telemetry.sqlite3-wal";
const SPANS: usize = 40;
const BATCHES: u8 = 12;

fn trace_id(n: u8) -> Vec<u8> {
    let mut id = vec![0x5a; 16];
    id[15] = n;
    id
}

fn batch(n: u8) -> Batch {
    let now = automagik_telemetry_testkit::now_ns();
    let spans = (0..SPANS as u64)
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
    rows::from_traces(&trace_request("integrity", spans))
}

/// A store in a new directory holding `batches` committed batches, one transaction
/// each, and the directory.
fn written(batches: u8) -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    for n in 0..batches {
        store.insert(batch(n)).expect("insert");
    }
    (store, dir)
}

/// The database file and its log as they are while the store runs (what a crash
/// leaves behind), in a new directory.
fn copy_of(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("tempdir");
    for name in [DB, WAL] {
        std::fs::copy(dir.join(name), copy.path().join(name)).expect("copy");
    }
    copy
}

/// The error opening `dir` gives, which must be a refusal naming the recovery path.
fn refused(dir: &Path) -> String {
    let err = SqliteStore::open(dir).expect_err("the store is refused");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Damaged { .. }), "{text}");
    assert!(
        text.contains("README"),
        "the recovery path is named: {text}"
    );
    text
}

#[test]
fn a_damaged_write_ahead_log_is_refused_naming_the_file() {
    let (store, live) = written(BATCHES);
    let intact = copy_of(live.path());
    let damaged = copy_of(live.path());
    drop(store);

    // The log as a crash leaves it is replayed: every batch is there.
    let reopened = SqliteStore::open(intact.path()).expect("an intact log opens");
    for n in 0..BATCHES {
        let spans = reopened.trace(&hex::encode(trace_id(n))).expect("trace");
        assert_eq!(spans.len(), SPANS, "batch {n}");
    }
    drop(reopened);

    let wal = damaged.path().join(WAL);
    let mut bytes = std::fs::read(&wal).expect("read the log");
    assert!(
        bytes.len() > usize::from(BATCHES) * 4096,
        "the batches are in the log ({} bytes)",
        bytes.len()
    );
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b = !*b;
    }
    std::fs::write(&wal, &bytes).expect("write the log");
    let text = refused(damaged.path());
    assert!(text.contains(&wal.display().to_string()), "{text}");
    assert!(text.contains("committed transaction"), "{text}");
    // Nothing was changed: the log is as it was, and refused again.
    assert_eq!(std::fs::read(&wal).expect("read the log"), bytes);
    refused(damaged.path());
}

#[test]
fn a_damaged_database_page_is_refused_by_quick_check() {
    let (store, live) = written(3);
    let copy = copy_of(live.path());
    drop(store);
    let db = copy.path().join(DB);
    let (root, page_size) = {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
        let root: i64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'span_rows'",
                [],
                |r| r.get(0),
            )
            .expect("the span_rows table");
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        (root as usize, page_size as usize)
    };
    assert!(root > 1, "{root}");
    // The table's root page gets a page type that is none.
    let mut bytes = std::fs::read(&db).expect("read the database");
    let at = (root - 1) * page_size;
    assert!(at + 8 <= bytes.len(), "{at} in {}", bytes.len());
    bytes[at..at + 8].fill(0xff);
    std::fs::write(&db, &bytes).expect("write the database");
    let text = refused(copy.path());
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("quick_check"), "{text}");
}

#[test]
fn an_empty_database_file_beside_other_files_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(DB), b"").expect("write");
    std::fs::write(dir.path().join(WAL), vec![0u8; 4096]).expect("write");
    let text = refused(dir.path());
    let db = dir.path().join(DB);
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("empty (0 bytes)"), "{text}");
    assert!(text.contains(WAL), "the other files are named: {text}");

    // Alone, an empty file is a database never written to: it opens.
    let alone = tempfile::tempdir().expect("tempdir");
    std::fs::write(alone.path().join(DB), b"").expect("write");
    let store = SqliteStore::open(alone.path()).expect("an empty file alone opens");
    store.insert(batch(1)).expect("insert");
    let spans = store.trace(&hex::encode(trace_id(1))).expect("trace");
    assert_eq!(spans.len(), SPANS);
}

#[test]
fn a_log_without_its_database_and_a_file_that_is_not_one_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(WAL), vec![1u8; 4096]).expect("write");
    let text = refused(dir.path());
    assert!(
        text.contains(&dir.path().join(WAL).display().to_string()),
        "{text}"
    );
    assert!(text.contains("missing"), "{text}");
    assert!(
        !dir.path().join(DB).exists(),
        "no database was created over the log"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(DB), vec![0x42u8; 8192]).expect("write");
    let text = refused(dir.path());
    assert!(
        text.contains(&dir.path().join(DB).display().to_string()),
        "{text}"
    );
    assert!(text.contains("SQLite header"), "{text}");
}

#[test]
fn a_fresh_directory_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("new").join("data");
    let store = SqliteStore::open(&data).expect("a fresh directory opens");
    store.insert(batch(7)).expect("insert");
    let spans = store.trace(&hex::encode(trace_id(7))).expect("trace");
    assert_eq!(spans.len(), SPANS);
}
