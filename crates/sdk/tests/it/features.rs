//! Backends left out of the build: choosing one is a build error from the builder that
//! names the SDK's Cargo feature to enable (these tests run when that feature is off,
//! as in `cargo test -p automagik-telemetry`).

#[cfg(not(all(feature = "kafka", feature = "clickhouse")))]
use automagik_telemetry::{Backend, ConfigError};

/// Builds a client for `backend` (chosen through `AUTOMAGIK_TELEMETRY_BACKEND`) and
/// checks the error it gives.
#[cfg(not(all(feature = "kafka", feature = "clickhouse")))]
fn assert_left_out(name: &str, backend: Backend, message: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = super::isolated(dir.path(), &[("AUTOMAGIK_TELEMETRY_BACKEND", name)])
        .build()
        .expect_err(name);
    assert!(matches!(err, ConfigError::UnsupportedBackend(b) if b == backend));
    assert_eq!(err.to_string(), message);
}

#[cfg(not(feature = "kafka"))]
#[test]
fn the_kafka_backend_without_its_feature_is_a_build_error() {
    assert_left_out(
        "kafka",
        Backend::Kafka,
        "the Kafka backend needs the SDK's `kafka` Cargo feature",
    );
}

#[cfg(not(feature = "clickhouse"))]
#[test]
fn the_clickhouse_backend_without_its_feature_is_a_build_error() {
    assert_left_out(
        "clickhouse",
        Backend::ClickHouse,
        "the ClickHouse backend needs the SDK's `clickhouse` Cargo feature",
    );
}
