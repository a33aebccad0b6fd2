//! `audit verify`: walks the fleet snapshot chain of the configured store and reports
//! the first snapshot that was changed, removed or moved.

use crate::serve::{StoreArgs, open_configured_store};
use automagik_telemetry_server::fleet::chain::Verifier;
use std::process::ExitCode;

/// Links read per query.
const PAGE: usize = 1_000;

/// Flags of `audit`.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand, Debug)]
enum AuditCommand {
    /// Check every stored fleet snapshot against its hash chain; exit status 1 names
    /// the first one changed, removed or moved.
    Verify(VerifyArgs),
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `audit`.
pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify(args) = args.command;
    let store = open_configured_store(args.store)?;
    let mut verifier = Verifier::default();
    let mut broken = None;
    'pages: loop {
        let links = store.snapshot_links(verifier.checked(), PAGE)?;
        if links.is_empty() {
            break;
        }
        for link in &links {
            if let Some(b) = verifier.check(link) {
                broken = Some(b);
                break 'pages;
            }
        }
        if links.len() < PAGE {
            break;
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "intact": broken.is_none(),
                "verified": verifier.checked(),
                "head": verifier.head(),
                "broken": broken.as_ref().map(|b| serde_json::json!({
                    "seq": b.seq,
                    "snapshot_id": b.snapshot_id,
                    "reason": b.reason,
                })),
            })
        );
    } else {
        match &broken {
            None => println!(
                "fleet snapshot chain intact: {} snapshot(s), head {}",
                verifier.checked(),
                verifier.head()
            ),
            Some(b) => println!(
                "fleet snapshot chain BROKEN at snapshot {} ({}): {}\n{} snapshot(s) before it are intact",
                b.seq,
                b.snapshot_id,
                b.reason,
                verifier.checked()
            ),
        }
    }
    Ok(if broken.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
