//! `serve`: its flags (each also from `AUTOMAGIK_TELEMETRY_<FLAG>`) become the
//! server library's [`Overrides`]; the library merges them over the TOML file and the
//! defaults and runs the server.

use automagik_telemetry_server::config::{Overrides, ServerConfig};
use automagik_telemetry_server::{Store, runtime};
use std::sync::Arc;

/// Flags of `serve`: the server library's [`Overrides`].
pub type ServeArgs = Overrides;

/// Where the store is: shared by `serve` and the commands that open its store.
pub type StoreArgs = automagik_telemetry_server::config::StoreLocation;

/// The configuration these flags give, over the file and the defaults.
fn settings(args: ServeArgs) -> anyhow::Result<ServerConfig> {
    Ok(ServerConfig::load(args)?)
}

/// The store `serve` would open with these arguments (for commands that read it).
pub(crate) fn open_configured_store(store: StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    Ok(runtime::open_store(&settings(ServeArgs {
        store,
        ..Default::default()
    })?)?)
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = settings(args)?;
    Ok(runtime::run(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automagik_telemetry_server::{Auth, Scope};
    use clap::Parser;
    use std::path::PathBuf;
    use std::time::Duration;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(argv: &[&str]) -> ServeArgs {
        Wrap::try_parse_from(std::iter::once("serve").chain(argv.iter().copied()))
            .expect("arguments")
            .args
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("telemetry.toml");
        std::fs::write(
            &file,
            r#"
data_dir = "/srv/telemetry"
http_addr = "127.0.0.1:9000"
grpc_addr = "off"
retention_raw = "2d"
token = ["file-token-with-scopes:read", { token = "another-file-token", scopes = ["ingest"] }]
"#,
        )
        .expect("write");
        let s = settings(parse(&[
            "--config",
            file.to_str().expect("utf-8"),
            "--http-addr",
            "127.0.0.1:9999",
        ]))
        .expect("settings");
        assert_eq!(s.http_addr.port(), 9999, "flag over file");
        assert_eq!(
            s.data_dir,
            PathBuf::from("/srv/telemetry"),
            "file over default"
        );
        assert_eq!(s.grpc_addr, None);
        assert_eq!(s.retention_raw, Duration::from_secs(2 * 86_400));
        assert_eq!(s.retention_rollups, Duration::from_secs(30 * 86_400));
        assert_eq!(s.tokens.len(), 2);
        let auth = Auth::new(s.tokens);
        assert!(
            auth.check(Some("Bearer file-token-with-scopes"), Scope::Read)
                .is_ok()
        );
        assert!(
            auth.check(Some("Bearer file-token-with-scopes"), Scope::Ingest)
                .is_err()
        );
        assert!(
            auth.check(Some("Bearer another-file-token"), Scope::Ingest)
                .is_ok()
        );

        let defaults = settings(parse(&[])).expect("defaults");
        assert_eq!(defaults.http_addr.to_string(), "127.0.0.1:4318");
        assert_eq!(
            defaults.grpc_addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:4317")
        );
        assert_eq!(defaults.storage, "sqlite");

        std::fs::write(&file, "htp_addr = \"127.0.0.1:1\"\n").expect("write");
        let err =
            settings(parse(&["--config", file.to_str().expect("utf-8")])).expect_err("unknown key");
        assert!(format!("{err:#}").contains("htp_addr"), "{err:#}");
        assert!(settings(parse(&["--token", "short"])).is_err());
    }
}
