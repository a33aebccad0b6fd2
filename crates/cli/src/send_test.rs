//! `send-test`: a realistic sample of every signal, sent with the SDK like any program
//! would: an HTTP request trace with a database call, a failing payment, logs at three
//! severities, product events, an error, counters, a gauge, a histogram, and an agent
//! run with tool calls (one failing), an error, a decision and a success.
//!
//! The sample agrees with itself: each request's histogram value is the duration of its
//! span as measured, the failing payment's two attempts are its child spans, and its
//! logs say what its spans show.

use anyhow::{Context, bail};
use automagik_telemetry::{MetricKind, Severity, SpanKind, SpanStatus, Telemetry, attrs};
use std::time::{Duration, Instant};

/// How long the failing payment's provider takes to time out, per attempt.
const PROVIDER_TIMEOUT: Duration = Duration::from_millis(40);

/// Flags of `send-test`.
#[derive(clap::Args, Debug)]
pub struct SendTestArgs {
    #[command(flatten)]
    server: crate::ServerArgs,
    /// `service.name` of the sample.
    #[arg(long, default_value = "send-test")]
    service: String,
}

/// The environment as the SDK reads it, minus the development hints (`CI`,
/// `ENVIRONMENT`): running this command is the user's explicit opt-in. Opt-outs
/// (`AUTOMAGIK_TELEMETRY_ENABLED=false`, `DO_NOT_TRACK`, the opt-out file) still apply.
fn lookup(name: &str) -> Option<String> {
    match name {
        "CI" | "ENVIRONMENT" => None,
        _ => std::env::var(name).ok(),
    }
}

/// Sends the sample and reports what was delivered.
pub fn run(args: SendTestArgs) -> anyhow::Result<()> {
    let spool = tempfile::tempdir().context("creating a temporary spool directory")?;
    let mut builder = Telemetry::builder()
        .env_lookup(lookup)
        .consent(true)
        .project_name(args.service.clone())
        .version(env!("CARGO_PKG_VERSION"))
        .endpoint(args.server.endpoint.clone())
        .spool_dir(spool.path().to_path_buf())
        .retry_budget(Duration::from_secs(5))
        .flush_interval(Duration::from_millis(200));
    if let Some(token) = &args.server.token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let telemetry = builder.build().context("configuring the SDK")?;
    if !telemetry.is_enabled() {
        bail!(
            "nothing sent: telemetry is {}",
            telemetry.consent_decision()
        );
    }
    let correlation_id;
    let mut trace_ids = Vec::new();

    // An HTTP request with a database call and a card charge.
    {
        let started = Instant::now();
        let mut request = telemetry
            .span_builder("GET /checkout")
            .kind(SpanKind::Server)
            .start();
        request.set_attribute("http.request.method", "GET");
        request.set_attribute("http.route", "/checkout");
        request.set_attribute("http.response.status_code", 200);
        request.set_attribute("user.email", "jane.doe@example.com");
        trace_ids.extend(request.context().map(|c| c.trace_id.to_string()));
        {
            let mut db = telemetry
                .span_builder("SELECT orders")
                .kind(SpanKind::Client)
                .start();
            db.set_attribute("db.system", "postgresql");
            db.set_attribute("db.operation.name", "SELECT");
            std::thread::sleep(Duration::from_millis(12));
        }
        {
            let mut charge = telemetry
                .span_builder("charge-card")
                .kind(SpanKind::Client)
                .start();
            charge.set_attribute("payment.provider", "stripe");
            charge.add_event("card.authorized", attrs! { "amount_cents" => 4999 });
            std::thread::sleep(Duration::from_millis(25));
        }
        telemetry.track_log(Severity::Info, "checkout completed", [("order.items", "3")]);
        request.end();
        telemetry.track_metric(
            "http.server.request.duration_ms",
            elapsed_ms(started),
            MetricKind::Histogram,
            [("http.route", "/checkout")],
        );
    }
    // A payment that fails: two attempts at the provider, each timing out.
    {
        let started = Instant::now();
        let mut request = telemetry
            .span_builder("POST /payments")
            .kind(SpanKind::Server)
            .start();
        request.set_attribute("http.request.method", "POST");
        request.set_attribute("http.route", "/payments");
        trace_ids.extend(request.context().map(|c| c.trace_id.to_string()));
        for attempt in 1..=2_i64 {
            let mut charge = telemetry
                .span_builder("charge-card")
                .kind(SpanKind::Client)
                .start();
            charge.set_attribute("payment.provider", "stripe");
            charge.set_attribute("payment.attempt", attempt);
            std::thread::sleep(PROVIDER_TIMEOUT);
            charge.set_status(SpanStatus::Error(
                format!("no answer within {} ms", PROVIDER_TIMEOUT.as_millis()).into(),
            ));
            charge.end();
            if attempt == 1 {
                telemetry.track_log(
                    Severity::Warn,
                    "payment provider slow, retrying",
                    [("attempt", "2")],
                );
            }
        }
        telemetry.track_log(
            Severity::Error,
            "payment failed after 2 attempts",
            [("provider", "stripe")],
        );
        request.set_attribute("http.response.status_code", 502);
        request.set_status(SpanStatus::Error("payment provider timed out".into()));
        request.end();
        telemetry.track_metric(
            "http.server.request.duration_ms",
            elapsed_ms(started),
            MetricKind::Histogram,
            [("http.route", "/payments")],
        );
    }
    // Product events, an error, metrics.
    telemetry.track_event("user.signup", attrs! { "plan" => "pro", "seats" => 3 });
    telemetry.track_event(
        "feature.used",
        attrs! { "feature" => "export", "format" => "csv" },
    );
    telemetry.track_error(
        &std::io::Error::other("export storage unavailable"),
        attrs! { "feature" => "export" },
    );
    for region in ["eu", "us", "eu"] {
        telemetry.track_metric(
            "orders.placed",
            1.0,
            MetricKind::Counter,
            [("region", region)],
        );
    }
    telemetry.track_metric("queue.depth", 7.0, MetricKind::Gauge, [("queue", "emails")]);

    // An agent run: progress, tool calls (one failing), an error, a decision and a success.
    {
        let run = telemetry.agent_run("planner", "Which orders shipped late last week?");
        correlation_id = run.correlation_id().to_string();
        trace_ids.extend(run.span_context().map(|c| c.trace_id.to_string()));
        run.progress("planning", 10.0);
        let call = run.tool_call("search_docs", "late shipment policy");
        std::thread::sleep(Duration::from_millis(30));
        call.ok("2 documents");
        let call = run.tool_call("run_sql", "SELECT id FROM order WHERE shipped_late");
        std::thread::sleep(Duration::from_millis(9));
        call.err("relation \"order\" does not exist");
        run.error(
            "the first query named a missing table; retrying",
            "sql_error",
        );
        let call = run.tool_call("run_sql", "SELECT id FROM orders WHERE shipped_late");
        std::thread::sleep(Duration::from_millis(18));
        call.ok("14 rows");
        run.decision(
            "answer_from_sql",
            ["answer_from_docs", "answer_from_sql", "ask_user"],
            0.87,
            "the query answers the question directly",
        );
        run.success("answered the question");
        run.complete(0.92);
    }

    let shutdown = telemetry.shutdown(Duration::from_secs(15));
    let stats = telemetry.stats();
    if shutdown.is_err() || stats.exported == 0 || stats.spooled > 0 {
        bail!(
            "the server at {} did not take the sample (exported {}, kept for later {}, dropped {}); \
             is `automagik-telemetry serve` running?",
            args.server.endpoint,
            stats.exported,
            stats.spooled,
            stats.dropped_total()
        );
    }
    println!(
        "sent {} records to {}: traces {}, agent run {}",
        stats.exported,
        args.server.endpoint,
        trace_ids.join(", "),
        correlation_id
    );
    println!("read them back: automagik-telemetry query traces | logs | events | metrics | runs");
    Ok(())
}

/// Milliseconds since `started`, to the microsecond: what a request's span lasted.
fn elapsed_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e6).round() / 1e3
}
