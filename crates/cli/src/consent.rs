//! `consent` (the machine-wide opt-out file) and `redact` (the SDK's redactor on
//! standard input).

use anyhow::Context;
use automagik_telemetry_core::Redactor;
use automagik_telemetry_core::consent::{self, ConsentInputs, ConsentRule, OPT_OUT_FILE};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Flags of `consent`.
#[derive(clap::Args, Debug)]
pub struct ConsentArgs {
    #[command(subcommand)]
    action: ConsentAction,
}

#[derive(clap::Subcommand, Debug)]
enum ConsentAction {
    /// Show whether programs on this machine may send telemetry, and why.
    Status,
    /// Remove the opt-out file (programs still need consent or their default).
    Grant,
    /// Create the opt-out file: no program using the SDK sends anything.
    Revoke,
}

fn opt_out_path() -> anyhow::Result<PathBuf> {
    let home = dirs::home_dir().context("cannot find the home directory")?;
    Ok(home.join(OPT_OUT_FILE))
}

/// The variables the consent decision reads, in the order `status` lists them.
const VARIABLES: [&str; 5] = [
    consent::ENABLED_VAR,
    "DO_NOT_TRACK",
    "OTEL_SDK_DISABLED",
    "ENVIRONMENT",
    "CI",
];

/// What `consent status` prints: the opt-out file, the variables set, and what
/// decides for the programs of this user. `lookup` reads the environment; the opt-out
/// file is at `path` and exists or not (`exists`).
fn status_lines(
    lookup: impl Fn(&str) -> Option<String>,
    path: &std::path::Path,
    exists: bool,
) -> anyhow::Result<Vec<String>> {
    let mut inputs = ConsentInputs::from_lookup(&lookup);
    inputs.opt_out_file = exists.then(|| path.to_path_buf());
    let set: Vec<String> = VARIABLES
        .iter()
        .filter_map(|&k| lookup(k).map(|v| format!("{k}={v}")))
        .collect();
    let mut lines = vec![
        format!(
            "opt-out file {}: {}",
            path.display(),
            if exists { "present" } else { "absent" }
        ),
        if set.is_empty() {
            format!("environment: nothing set ({})", VARIABLES.join(", "))
        } else {
            format!("environment: {}", set.join(", "))
        },
    ];
    // The same machine seen by a program that grants consent in code and by one that
    // leaves it to the SDK: when both get the same rule, the machine decides.
    let granted = consent::decide(&ConsentInputs {
        in_code: Some(true),
        ..inputs.clone()
    })?;
    let unset = consent::decide(&inputs)?;
    lines.push(match (&granted.rule, &unset.rule) {
        (ConsentRule::GrantedInCode, ConsentRule::LibraryDefault) => format!(
            "decision: {}, so each program decides: enabled when it grants consent in code \
             or is enabled by its own default, otherwise disabled (the library's default)",
            if set.is_empty() {
                "nothing set"
            } else {
                "nothing set here decides"
            }
        ),
        (_, ConsentRule::OptInVariable) => format!(
            "decision: enabled for every program by {}=true (a program can still revoke \
             consent in code)",
            consent::ENABLED_VAR
        ),
        _ => format!("decision: every program is {granted}"),
    });
    Ok(lines)
}

/// Runs a consent action.
pub fn run(args: ConsentArgs) -> anyhow::Result<()> {
    let path = opt_out_path()?;
    match args.action {
        ConsentAction::Status => {
            for line in status_lines(|k| std::env::var(k).ok(), &path, path.exists())? {
                println!("{line}");
            }
        }
        ConsentAction::Grant => match std::fs::remove_file(&path) {
            Ok(()) => println!("removed {}", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!("{} was not there; nothing to do", path.display());
            }
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        },
        ConsentAction::Revoke => {
            std::fs::write(
                &path,
                "Automagik Telemetry is disabled for this user while this file exists.\n",
            )
            .with_context(|| format!("writing {}", path.display()))?;
            println!("created {}: telemetry is off for this user", path.display());
        }
    }
    Ok(())
}

/// Flags of `redact`.
#[derive(clap::Args, Debug)]
pub struct RedactArgs {}

/// Redacts each line of standard input to standard output.
pub fn redact(_args: RedactArgs) -> anyhow::Result<()> {
    let redactor = Redactor::builder().build()?;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.context("reading standard input")?;
        writeln!(out, "{}", redactor.redact_str(&line))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::status_lines;
    use std::collections::HashMap;
    use std::path::Path;

    fn status(vars: &[(&str, &str)], exists: bool) -> String {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        status_lines(
            |k| vars.get(k).cloned(),
            Path::new("/home/u/.automagik-no-telemetry"),
            exists,
        )
        .expect("status")
        .join("\n")
    }

    #[test]
    fn status_says_what_decides() {
        let nothing = status(&[], false);
        assert!(nothing.contains("absent"), "{nothing}");
        assert!(nothing.contains("environment: nothing set"), "{nothing}");
        assert!(
            nothing.contains("decision: nothing set, so each program decides"),
            "{nothing}"
        );
        let production = status(&[("ENVIRONMENT", "production")], false);
        assert!(
            production.contains("decision: nothing set here decides"),
            "{production}"
        );
        assert!(!nothing.contains("granted by the program"), "{nothing}");

        let file = status(&[], true);
        assert!(
            file.contains("present") && file.contains("every program is disabled: opt-out file"),
            "{file}"
        );
        let dnt = status(&[("DO_NOT_TRACK", "1")], false);
        assert!(
            dnt.contains("environment: DO_NOT_TRACK=1")
                && dnt.contains("every program is disabled: opted out by DO_NOT_TRACK"),
            "{dnt}"
        );
        let ci = status(&[("CI", "true")], false);
        assert!(ci.contains("development environment (CI)"), "{ci}");
        let on = status(&[("AUTOMAGIK_TELEMETRY_ENABLED", "true")], false);
        assert!(
            on.contains("enabled for every program by AUTOMAGIK_TELEMETRY_ENABLED=true"),
            "{on}"
        );
        assert!(
            status_lines(
                |k| (k == "AUTOMAGIK_TELEMETRY_ENABLED").then(|| "maybe".to_string()),
                Path::new("/x"),
                false
            )
            .is_err()
        );
    }
}
