//! The labelled corpus, `corpus.jsonl`: one case a line, written out in full (nothing is
//! random at test time). A positive names the substrings that must be gone and the
//! marker that must stand in their place; a near miss (`"keep": true`) must come back
//! unchanged. Categories are the markers' names plus `common` (ids, hashes, versions,
//! timestamps, ports); formats are Python logging, log4j and logback, zap JSON, logrus
//! and logfmt, pino and winston JSON, Rust tracing, syslog (BSD and RFC 5424), klog and
//! container runtime lines, nginx and Apache access logs.
//!
//! Run with `--nocapture` to see the table of recall and kept shares.

use automagik_telemetry_core::redact::Redactor;
use serde::Deserialize;
use std::collections::BTreeMap;

const CORPUS: &str = include_str!("corpus.jsonl");

/// Least share of secrets removed, and of innocent lines kept unchanged.
const TARGET: f64 = 0.99;

/// Least number of cases: the corpus must stay large enough to mean something.
const MIN_CASES: usize = 300;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    category: String,
    format: String,
    text: String,
    /// Substrings that must not be in the output (positives).
    #[serde(default)]
    secrets: Vec<String>,
    /// The marker name that must be in the output (positives).
    marker: Option<String>,
    /// A near miss: the output must equal the text.
    #[serde(default)]
    keep: bool,
}

#[derive(Default)]
struct Tally {
    found: usize,
    secrets: usize,
    kept: usize,
    innocent: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.found += other.found;
        self.secrets += other.secrets;
        self.kept += other.kept;
        self.innocent += other.innocent;
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

#[test]
fn corpus_recall_and_kept_are_at_least_99_percent() {
    let r = Redactor::builder()
        .build()
        .expect("the built-in rules compile");
    let mut by_category: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut cases = 0;
    for (i, line) in CORPUS.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let case: Case =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("corpus line {n}: {e}"));
        cases += 1;
        let out = r.redact_str(&case.text);
        let tally = by_category.entry(case.category.clone()).or_default();
        if case.keep {
            assert!(
                case.secrets.is_empty(),
                "line {n}: a near miss names no secret"
            );
            tally.innocent += 1;
            if *out == *case.text {
                tally.kept += 1;
            } else {
                misses.push(format!(
                    "line {n} ({}, {}): innocent text changed\n    in  {:?}\n    out {:?}",
                    case.category, case.format, case.text, out
                ));
            }
            continue;
        }
        assert!(
            !case.secrets.is_empty(),
            "line {n}: a positive names its secrets"
        );
        let marker = format!(
            "[REDACTED:{}]",
            case.marker.as_deref().unwrap_or(case.category.as_str())
        );
        for secret in &case.secrets {
            assert!(
                case.text.contains(secret.as_str()),
                "line {n}: the secret is in the text"
            );
            tally.secrets += 1;
            if !out.contains(secret.as_str()) && out.contains(marker.as_str()) {
                tally.found += 1;
            } else {
                misses.push(format!(
                    "line {n} ({}, {}): {secret:?} not replaced by {marker}\n    in  {:?}\n    out {:?}",
                    case.category, case.format, case.text, out
                ));
            }
        }
    }

    let mut total = Tally::default();
    println!(
        "{:<14} {:>8} {:>9} {:>8} {:>9}",
        "category", "secrets", "recall", "innocent", "kept"
    );
    for (category, t) in &by_category {
        println!(
            "{category:<14} {:>8} {:>8.1}% {:>8} {:>8.1}%",
            t.secrets,
            100.0 * share(t.found, t.secrets),
            t.innocent,
            100.0 * share(t.kept, t.innocent)
        );
        total.add(t);
    }
    let recall = share(total.found, total.secrets);
    let kept = share(total.kept, total.innocent);
    println!(
        "{:<14} {:>8} {:>8.1}% {:>8} {:>8.1}%",
        "overall",
        total.secrets,
        100.0 * recall,
        total.innocent,
        100.0 * kept
    );
    for miss in &misses {
        println!("{miss}");
    }
    assert!(cases >= MIN_CASES, "only {cases} cases in the corpus");
    assert!(
        recall >= TARGET && kept >= TARGET,
        "recall {:.2} % and kept {:.2} %, both must be at least {:.0} %:\n{}",
        100.0 * recall,
        100.0 * kept,
        100.0 * TARGET,
        misses.join("\n")
    );
}
