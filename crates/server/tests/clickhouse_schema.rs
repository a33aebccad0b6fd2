//! The ClickHouse schema against the real engine (chdb behind the HTTP interface):
//! every single-node statement runs, twice; every cluster statement parses; the
//! materialized views fill the trace-id lookup, the events table and the rollups, whose
//! aggregates equal a direct aggregate over the raw rows.

use automagik_telemetry_core::clickhouse::{Schema, literal};
use automagik_telemetry_testkit::clickhouse::ClickHouse;
use serde_json::Value;

fn post(ch: &ClickHouse, sql: &str) -> Result<String, (u16, String, String)> {
    let resp = ureq::post(&ch.url)
        .config()
        .http_status_as_error(false)
        .build()
        .send(sql)
        .expect("the engine answers");
    let status = resp.status().as_u16();
    let code = resp
        .headers()
        .get("x-clickhouse-exception-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.into_body().read_to_string().expect("body");
    if status == 200 {
        Ok(body)
    } else {
        Err((status, code, body))
    }
}

fn run(ch: &ClickHouse, sql: &str) -> String {
    post(ch, sql).unwrap_or_else(|e| panic!("{sql}\n-> {e:?}"))
}

fn rows(ch: &ClickHouse, sql: &str) -> Vec<Value> {
    run(ch, &format!("{sql} FORMAT JSONEachRow"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("json row"))
        .collect()
}

#[test]
fn schema_runs_on_the_real_engine_and_views_aggregate_correctly() {
    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let schema = Schema::default();
    for statement in schema.statements() {
        run(&ch, &statement);
    }
    // Idempotent: all IF NOT EXISTS.
    for statement in schema.statements() {
        run(&ch, &statement);
    }
    // The cluster DDL parses in the real engine (a single node cannot run it).
    let cluster = Schema {
        cluster: Some("telemetry".into()),
        ..Schema::default()
    };
    for statement in cluster.statements() {
        let formatted = run(
            &ch,
            &format!("SELECT formatQuery({}) FORMAT TSVRaw", literal(&statement)),
        );
        assert!(formatted.contains("ON CLUSTER telemetry"), "{formatted}");
    }

    // 60 spans over two minutes, every 7th failing, durations 1..=60 ms.
    let base = 1_795_324_560u64; // a whole minute
    let spans: Vec<String> = (0..60u64)
        .map(|i| {
            serde_json::json!({
                "Timestamp": format!("{}.{:09}", base + i * 2, i),
                "TraceId": format!("{:032x}", i / 3 + 1),
                "SpanId": format!("{:016x}", i + 1),
                "SpanName": if i % 2 == 0 { "GET /a" } else { "GET /b" },
                "SpanKind": "Server",
                "ServiceName": "api",
                "SpanAttributes": {"http.route": "/a", "ünï": "✓"},
                "ResourceAttributes": {"service.name": "api"},
                "Duration": (i + 1) * 1_000_000,
                "StatusCode": if i % 7 == 0 { "Error" } else { "Ok" },
            })
            .to_string()
        })
        .collect();
    run(
        &ch,
        &format!(
            "INSERT INTO automagik.otel_traces FORMAT JSONEachRow\n{}",
            spans.join("\n")
        ),
    );
    let raw = rows(
        &ch,
        "SELECT toStartOfMinute(Timestamp) AS b, SpanName, count() AS n, countIf(StatusCode = 'Error') AS e, \
         sum(Duration) AS d FROM automagik.otel_traces GROUP BY b, SpanName ORDER BY b, SpanName",
    );
    let rolled = rows(
        &ch,
        "SELECT Bucket AS b, SpanName, sum(Spans) AS n, sum(Errors) AS e, sum(DurationSum) AS d \
         FROM automagik.otel_traces_rollup_1m GROUP BY b, SpanName ORDER BY b, SpanName",
    );
    assert_eq!(raw.len(), 4, "two minutes x two operations");
    assert_eq!(rolled, raw, "the view's aggregates equal the raw rows'");
    let hourly = rows(
        &ch,
        "SELECT sum(Spans) AS n, quantilesTDigestMerge(0.5, 0.95, 0.99)(DurationQuantiles) AS q \
         FROM automagik.otel_traces_rollup_1h",
    );
    assert_eq!(hourly[0]["n"], 60);
    let p50 = hourly[0]["q"][0].as_f64().expect("p50") / 1e6;
    assert!((p50 - 30.5).abs() < 3.0, "p50 {p50} ms");
    let lookup = rows(
        &ch,
        &format!(
            "SELECT Start, End FROM automagik.otel_traces_trace_id_ts WHERE TraceId = '{:032x}'",
            1
        ),
    );
    assert_eq!(lookup.len(), 1, "the trace-id lookup has the trace");

    // A log with an event name lands in the events table too.
    run(
        &ch,
        "INSERT INTO automagik.otel_logs FORMAT JSONEachRow\n\
         {\"Timestamp\":\"1795324560.000000001\",\"ServiceName\":\"api\",\"Body\":\"\",\"EventName\":\"user.signup\",\"LogAttributes\":{\"plan\":\"pro\"}}\n\
         {\"Timestamp\":\"1795324560.000000002\",\"ServiceName\":\"api\",\"Body\":\"plain log\",\"SeverityNumber\":9}",
    );
    let events = rows(
        &ch,
        "SELECT EventName, Attributes, toUnixTimestamp64Nano(Timestamp) AS t FROM automagik.automagik_events",
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["EventName"], "user.signup");
    assert_eq!(events[0]["Attributes"]["plan"], "pro");
    assert_eq!(
        events[0]["t"].to_string().trim_matches('"'),
        "1795324560000000001",
        "ns kept"
    );

    // Errors come back as the real server sends them.
    let (status, code, message) =
        post(&ch, "SELECT * FROM automagik.no_such_table").expect_err("error");
    assert_eq!((status, code.as_str()), (500, "60"));
    assert!(message.contains("UNKNOWN_TABLE"), "{message}");
}

#[test]
fn ttl_drops_expired_raw_rows_and_keeps_rollups_after_a_merge() {
    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let schema = Schema {
        database: "ttl".into(),
        raw_ttl_days: 2,
        rollup_ttl_days: 30,
        ..Schema::default()
    };
    for statement in schema.statements() {
        run(&ch, &statement);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let span = |age_days: u64, id: u64| {
        serde_json::json!({
            "Timestamp": format!("{}.000000000", now - age_days * 86_400),
            "TraceId": format!("{id:032x}"),
            "SpanId": format!("{id:016x}"),
            "SpanName": "op",
            "ServiceName": "api",
            "Duration": 1_000_000,
            "StatusCode": "Ok",
        })
        .to_string()
    };
    // Each day is its own partition and part; a 5-day-old span is past the raw TTL.
    run(
        &ch,
        &format!(
            "INSERT INTO ttl.otel_traces FORMAT JSONEachRow\n{}",
            span(5, 1)
        ),
    );
    run(
        &ch,
        &format!(
            "INSERT INTO ttl.otel_traces FORMAT JSONEachRow\n{}",
            span(0, 2)
        ),
    );
    let count = |sql: &str| run(&ch, sql).trim().to_string();
    // (ClickHouse may already leave an expired part out when it writes it.)
    run(&ch, "OPTIMIZE TABLE ttl.otel_traces FINAL");
    run(&ch, "OPTIMIZE TABLE ttl.otel_traces_rollup_1m FINAL");
    assert_eq!(
        count("SELECT groupArray(TraceId) FROM ttl.otel_traces FORMAT TSVRaw"),
        format!("['{:032x}']", 2),
        "the expired day is dropped, today's rows stay"
    );
    assert_eq!(
        count("SELECT sum(Spans) FROM ttl.otel_traces_rollup_1m"),
        "2",
        "rollups keep both within their own 30-day TTL"
    );
}
