//! The quickstart example, run as a user would, against a real receiver.

use automagik_telemetry_testkit::OtlpReceiver;
use std::path::PathBuf;
use std::process::Command;

/// The SDK example `name`, built as a user would build it (a no-op when it is up to
/// date, so a test never runs a stale binary).
pub fn example(name: &str) -> PathBuf {
    // Cargo's own report says where the executable is (an instrumented or cross build
    // puts it elsewhere than beside the test binary).
    let build = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "-p",
            "automagik-telemetry",
            "--example",
            name,
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run cargo");
    assert!(build.status.success(), "building the {name} example failed");
    let example = String::from_utf8_lossy(&build.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the example's executable");
    assert!(example.exists(), "{}", example.display());
    example
}

#[test]
fn quickstart_sends_every_signal() {
    let example = example("quickstart");
    let rx = OtlpReceiver::start();
    let home = tempfile::tempdir().expect("tempdir");
    let mut run = Command::new(&example);
    run.env_clear();
    // An instrumented build writes its coverage data where this names.
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        run.env("LLVM_PROFILE_FILE", profile);
    }
    let out = run
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("AUTOMAGIK_TELEMETRY_ENDPOINT", rx.endpoint())
        .output()
        .expect("run quickstart");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quickstart failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("enabled: consent granted by the program"),
        "{stdout}"
    );
    let got = crate::otlp::collect(&rx.accepted());
    let names: Vec<&str> = got.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["charge-card", "checkout"]);
    assert_eq!(got.spans[0].parent_span_id, got.spans[1].span_id);
    assert_eq!(got.logs.len(), 3, "event, error, log");
    assert!(got.logs.iter().any(|l| l.event_name == "signup"));
    assert!(got.logs.iter().any(|l| l.severity_number == 17));
    let mut metrics: Vec<&str> = got.metrics.iter().map(|m| m.name.as_str()).collect();
    metrics.sort();
    assert_eq!(metrics, vec!["checkout.duration_ms", "orders.placed"]);
    // Its install id was kept in the user's config directory.
    assert!(
        home.path()
            .join("config/automagik-telemetry/install.json")
            .exists()
    );
}
