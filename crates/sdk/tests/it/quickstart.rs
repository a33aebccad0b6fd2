//! The quickstart example, run as a user would, against a real receiver.

use automagik_telemetry_testkit::OtlpReceiver;
use std::path::PathBuf;
use std::process::Command;

/// The SDK example `name`, built as a user would build it (a no-op when it is up to
/// date, so a test never runs a stale binary).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/it-<hash> -> target/<profile>/examples/<name>
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| {
            profile
                .join("examples")
                .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
        })
        .expect("examples folder");
    let build = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "automagik-telemetry",
            "--example",
            name,
        ])
        .status()
        .expect("run cargo");
    assert!(build.success(), "building the {name} example failed");
    assert!(example.exists(), "{}", example.display());
    example
}

#[test]
fn quickstart_sends_every_signal() {
    let example = example("quickstart");
    let rx = OtlpReceiver::start();
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(&example)
        .env_clear()
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
