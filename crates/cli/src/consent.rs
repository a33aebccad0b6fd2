//! `consent` (the machine-wide opt-out file) and `redact` (the SDK's redactor on
//! standard input, with `--explain` naming the rule behind each replacement).

use anyhow::Context;
use automagik_telemetry_core::consent::{self, ConsentInputs, ConsentRule, OPT_OUT_FILE};
use automagik_telemetry_core::{Redactor, redact};
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
pub struct RedactArgs {
    /// Also print, on standard error, the rule behind each replacement:
    /// `rule=<name> kind=<marker> at=<line>:<column> chars=<length>` (never the replaced
    /// text), to find which rule to turn off or allow-list.
    #[arg(long)]
    explain: bool,
    /// Turn a built-in rule off, by its name or its kind's as `--explain` prints them
    /// (`mac`, `basic`, `key_value`); repeatable.
    #[arg(long, value_name = "RULE")]
    disable: Vec<String>,
}

/// The longest PEM private key block joined into one text: a real key is a few KiB. A
/// longer block is redacted from its BEGIN line to this size, then line by line.
const MAX_BLOCK_BYTES: usize = 1 << 20;

/// Redacts standard input to standard output, line by line, as the SDK redacts each
/// value. The lines of a PEM private key block, from its BEGIN line to its END line (or
/// to the last line that can be a key's when the END line is missing), are redacted as
/// one text, so that the whole block becomes one marker.
pub fn redact(args: RedactArgs) -> anyhow::Result<()> {
    let mut builder = Redactor::builder();
    for name in &args.disable {
        builder = builder.disable_rule(name.clone());
    }
    let redactor = builder.build()?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = Output {
        redactor: &redactor,
        text: stdout.lock(),
        explain: args.explain.then(std::io::stderr),
    };
    let mut line = Vec::new();
    // Lines joined while a private key block is open, and the number of its first line.
    let mut block = String::new();
    let mut block_start = 0;
    let mut number = 0;
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading standard input")?
            == 0
        {
            break;
        }
        number += 1;
        let text = String::from_utf8_lossy(&line);
        // A block whose END line never comes ends at the first line that is not a key's.
        if !block.is_empty() && !continues_pem_block(&text) {
            out.emit(strip_newline(&block), block_start)?;
            block.clear();
        }
        let was_open = !block.is_empty();
        let open = redact::private_key_block_open_after(was_open, &text);
        if !was_open && !open {
            out.emit(strip_newline(&text), number)?;
            continue;
        }
        if !was_open {
            block_start = number;
        }
        block.push_str(&text);
        if !open || block.len() >= MAX_BLOCK_BYTES {
            out.emit(strip_newline(&block), block_start)?;
            block.clear();
        }
    }
    if !block.is_empty() {
        out.emit(strip_newline(&block), block_start)?;
    }
    out.text.flush().context("writing standard output")?;
    Ok(())
}

/// Whether a line can belong to an open PEM block: its END line, a body line (base64),
/// a header (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: ...`) or an empty line.
fn continues_pem_block(line: &str) -> bool {
    let line = line.trim();
    line.contains("-----END")
        || line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        || line.starts_with("Proc-Type:")
        || line.starts_with("DEK-Info:")
}

fn strip_newline(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

/// Where `redact` writes: the redacted text, and with `--explain` the rules behind it.
struct Output<'r, W> {
    redactor: &'r Redactor,
    text: W,
    explain: Option<std::io::Stderr>,
}

impl<W: Write> Output<'_, W> {
    /// Writes `text` (one line, or a block of lines starting at line `first_line`)
    /// redacted, and what `--explain` says of it.
    fn emit(&mut self, text: &str, first_line: usize) -> anyhow::Result<()> {
        writeln!(self.text, "{}", self.redactor.redact_str(text))
            .context("writing standard output")?;
        let Some(err) = self.explain.as_mut() else {
            return Ok(());
        };
        for m in self.redactor.explain(text) {
            let before = text.get(..m.range.start).unwrap_or_default();
            let line = first_line + before.matches('\n').count();
            let column = before
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            let chars = text
                .get(m.range.clone())
                .unwrap_or_default()
                .chars()
                .count();
            writeln!(
                err,
                "rule={} kind={} at={line}:{column} chars={chars}",
                m.rule, m.marker
            )
            .context("writing standard error")?;
        }
        Ok(())
    }
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
