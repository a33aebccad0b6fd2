//! A small OTLP/HTTP receiver that prints what it decodes, one line per span, log
//! record and metric. Used by `scripts/quickstart` until a full server runs.
//!
//! Usage: `otlp-receiver [PORT] [--exit-after-seconds N]`

use automagik_telemetry_testkit::{Decoded, OtlpReceiver};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(4318);
    let limit = args
        .iter()
        .position(|a| a == "--exit-after-seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(600));
    let receiver = match OtlpReceiver::start_on(port) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("otlp-receiver: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!("otlp-receiver: listening on {}", receiver.endpoint());
    let started = Instant::now();
    let mut printed = 0;
    while started.elapsed() < limit {
        receiver.wait_until(Duration::from_millis(200), |c| c.len() > printed);
        let captured = receiver.captured();
        for c in &captured[printed..] {
            match &c.decoded {
                Ok(d) => print_decoded(&c.path, c.content_encoding.as_deref(), d),
                Err(e) => println!("{} rejected: {e}", c.path),
            }
        }
        printed = captured.len();
    }
}

fn print_decoded(path: &str, encoding: Option<&str>, d: &Decoded) {
    let enc = encoding.unwrap_or("plain");
    match d {
        Decoded::Traces(t) => {
            for s in t
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                let parent = if s.parent_span_id.is_empty() {
                    "root".to_string()
                } else {
                    format!("parent {}", hex(&s.parent_span_id))
                };
                println!(
                    "{path} ({enc}) span {:?} trace {} span {} {parent}",
                    s.name,
                    hex(&s.trace_id),
                    hex(&s.span_id)
                );
            }
        }
        Decoded::Logs(l) => {
            for r in l
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
            {
                let name = if r.event_name.is_empty() {
                    String::new()
                } else {
                    format!(" event {:?}", r.event_name)
                };
                println!(
                    "{path} ({enc}) log {}{name} body {:?} attributes {}",
                    r.severity_text,
                    r.body.as_ref().map(|b| format!("{:?}", b.value)),
                    r.attributes.len()
                );
            }
        }
        Decoded::Metrics(m) => {
            for metric in m
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
            {
                println!(
                    "{path} ({enc}) metric {:?} {:?}",
                    metric.name,
                    metric.data.as_ref().map(kind)
                );
            }
        }
    }
}

fn kind(d: &opentelemetry_proto::tonic::metrics::v1::metric::Data) -> &'static str {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    match d {
        Data::Gauge(_) => "gauge",
        Data::Sum(_) => "sum",
        Data::Histogram(_) => "histogram",
        Data::ExponentialHistogram(_) => "exponential histogram",
        Data::Summary(_) => "summary",
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
