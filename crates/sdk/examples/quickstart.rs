//! Quickstart: with consent granted, sends one event, one error, one counter, one
//! histogram, one log and a parent/child span pair to `AUTOMAGIK_TELEMETRY_ENDPOINT`
//! (default `http://127.0.0.1:4318`), then shuts down and prints what was delivered.
//!
//! Run: `cargo run -p automagik-telemetry --example quickstart`

use automagik_telemetry::{MetricKind, Severity, SpanKind, Telemetry, attrs};
use std::time::Duration;

#[derive(Debug)]
struct PaymentDeclined;

impl std::fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("payment declined for customer jane.doe@example.com")
    }
}

impl std::error::Error for PaymentDeclined {}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = Telemetry::builder()
        .project_name("quickstart")
        .version(env!("CARGO_PKG_VERSION"))
        .consent(true)
        .build()?;
    println!("telemetry {}", telemetry.consent_decision());
    if let Some(config) = telemetry.config() {
        println!("sending to {} ({:?})", config.endpoint, config.backend);
    }

    telemetry.track_event(
        "signup",
        attrs! { "plan" => "pro", "referrer" => "newsletter", "seats" => 3 },
    );
    telemetry.track_error(&PaymentDeclined, attrs! { "payment.provider" => "stripe" });
    telemetry.track_metric(
        "orders.placed",
        1.0,
        MetricKind::Counter,
        [("region", "eu")],
    );
    telemetry.track_metric(
        "checkout.duration_ms",
        182.0,
        MetricKind::Histogram,
        [("region", "eu")],
    );
    telemetry.track_log(
        Severity::Info,
        "quickstart finished its work",
        [("step", "done")],
    );
    {
        let mut parent = telemetry
            .span_builder("checkout")
            .kind(SpanKind::Server)
            .start();
        parent.set_attribute("http.route", "/checkout");
        {
            let mut child = telemetry.span("charge-card");
            child.set_attribute("card.last4", "4242");
            child.add_event("card.authorized", attrs! { "amount_cents" => 4999 });
        }
    }

    let shutdown = telemetry.shutdown(Duration::from_secs(10));
    let stats = telemetry.stats();
    println!(
        "queued {}, exported {}, spooled {}, dropped {}",
        stats.queued,
        stats.exported,
        stats.spooled,
        stats.dropped_total()
    );
    shutdown?;
    if telemetry.is_enabled() && stats.exported == 0 {
        return Err("nothing was delivered: is an OTLP receiver listening on the endpoint?".into());
    }
    Ok(())
}
