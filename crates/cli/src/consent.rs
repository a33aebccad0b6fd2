//! `consent` (the machine-wide opt-out file) and `redact` (the SDK's redactor on
//! standard input).

use anyhow::Context;
use automagik_telemetry_core::Redactor;
use automagik_telemetry_core::consent::{self, ConsentInputs, OPT_OUT_FILE};
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

/// Runs a consent action.
pub fn run(args: ConsentArgs) -> anyhow::Result<()> {
    let path = opt_out_path()?;
    match args.action {
        ConsentAction::Status => {
            let mut inputs = ConsentInputs::from_lookup(|k| std::env::var(k).ok());
            inputs.opt_out_file = Some(path.clone()).filter(|p| p.exists());
            // What a program that grants consent in code would get here.
            inputs.in_code = Some(true);
            let decision = consent::decide(&inputs)?;
            println!(
                "opt-out file {}: {}",
                path.display(),
                if path.exists() { "present" } else { "absent" }
            );
            println!("a program that asks for consent would be {decision}");
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
