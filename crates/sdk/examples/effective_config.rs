//! Prints the effective configuration and consent that this process's environment gives
//! a client with nothing set in code, as one JSON line (`automagik_telemetry::describe`);
//! a malformed variable prints `{"error": "..."}` and exits 1. The Python and Node.js
//! packages print the same object (`effective_config()`, `effectiveConfig()`), and
//! `scripts/test-parity` compares the three.
//!
//! ```sh
//! AUTOMAGIK_TELEMETRY_BATCH_SIZE=7 cargo run -p automagik-telemetry --example effective_config
//! ```

use automagik_telemetry::Telemetry;

fn main() {
    match Telemetry::builder().effective() {
        Ok(effective) => println!("{}", effective.to_json()),
        Err(e) => {
            println!("{}", serde_json::json!({ "error": e.to_string() }));
            std::process::exit(1);
        }
    }
}
