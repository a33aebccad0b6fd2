//! The ClickHouse schema against the real engine (chdb behind the HTTP interface):
//! every single-node statement runs, twice; every cluster statement parses; the
//! materialized views fill the trace-id lookup, the events table and the rollups (GenAI
//! usage among them), whose aggregates equal a direct aggregate over the raw rows, and
//! count a retried insert once; what the SDK inserts directly,
//! the server's ClickHouse store reads back; the official ClickHouse client works
//! through the test adapter.

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
    // A whole minute an hour ago: inside the raw retention, which drops older parts.
    let base = automagik_telemetry_testkit::minute_an_hour_ago();
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
        "SELECT sum(Spans) AS n, sumMap(DurationHistogram) AS h FROM automagik.otel_traces_rollup_1h",
    );
    assert_eq!(hourly[0]["n"], 60);
    // The view's latency buckets are the ones the other stores compute in Rust.
    let mut want = std::collections::BTreeMap::new();
    for i in 0..60u64 {
        *want
            .entry(automagik_telemetry_core::latency::bucket_of(
                (i + 1) * 1_000_000,
            ))
            .or_insert(0u64) += 1;
    }
    let got: std::collections::BTreeMap<usize, u64> = hourly[0]["h"][0]
        .as_array()
        .expect("keys")
        .iter()
        .zip(hourly[0]["h"][1].as_array().expect("counts"))
        .map(|(k, n)| {
            let n = n.as_u64().or_else(|| n.as_str()?.parse().ok());
            (k.as_u64().expect("key") as usize, n.expect("count"))
        })
        .collect();
    assert_eq!(got, want);
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
        &format!(
            "INSERT INTO automagik.otel_logs FORMAT JSONEachRow\n\
             {{\"Timestamp\":\"{base}.000000001\",\"ServiceName\":\"api\",\"Body\":\"\",\"EventName\":\"user.signup\",\"LogAttributes\":{{\"plan\":\"pro\"}}}}\n\
             {{\"Timestamp\":\"{base}.000000002\",\"ServiceName\":\"api\",\"Body\":\"plain log\",\"SeverityNumber\":9}}"
        ),
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
        format!("{base}000000001"),
        "ns kept"
    );

    // Errors come back as the real server sends them.
    let (status, code, message) =
        post(&ch, "SELECT * FROM automagik.no_such_table").expect_err("error");
    assert_eq!((status, code.as_str()), (500, "60"));
    assert!(message.contains("UNKNOWN_TABLE"), "{message}");
}

/// One LLM call of the GenAI rollup test: `(start in Unix seconds, row)`. Calls `i` of
/// 0..40 fall in 40 minutes; some leave out the response model, tokens, cost or session.
fn genai_call(base: u64, i: u64) -> (u64, Value) {
    let at = base + i * 60 + i % 7;
    let gpt = i.is_multiple_of(2);
    let row = serde_json::json!({
        "Timestamp": format!("{at}.{i:09}"),
        "TraceId": format!("{:032x}", i / 4 + 1),
        "SpanId": format!("{:016x}", i + 1),
        "AgentName": if i.is_multiple_of(3) { "" } else { "planner" },
        "ServiceName": "api",
        "Operation": "chat",
        "Provider": if gpt { "openai" } else { "anthropic" },
        "RequestModel": if gpt { "gpt-4o" } else { "claude-sonnet-4" },
        "ResponseModel": match (i.is_multiple_of(5), gpt) {
            (true, _) => "",
            (false, true) => "gpt-4o-2024-08-06",
            (false, false) => "claude-sonnet-4-20250514",
        },
        "InputTokens": if i.is_multiple_of(4) { Value::Null } else { Value::from(100 + i) },
        "OutputTokens": 10 * i,
        "CacheReadTokens": if gpt { Value::Null } else { Value::from(i) },
        "ReasoningTokens": if i.is_multiple_of(8) { Value::from(7u64) } else { Value::Null },
        "CostUsd": if i.is_multiple_of(3) { Value::Null } else { Value::from(0.25) },
        "Duration": (i + 1) * 1_000_000,
        "IsError": i.is_multiple_of(6),
        "SessionId": if i.is_multiple_of(4) { String::new() } else { format!("s-{}", i % 3) },
        "UserId": format!("u-{}", i % 2),
    });
    (at, row)
}

/// The GenAI rollup views count each LLM call once per dimension (model, provider,
/// agent, session, user), as a direct aggregate of the raw calls does, and the store
/// reads them back by dimension with their histograms.
#[test]
fn genai_rollups_equal_the_raw_calls_per_dimension() {
    use automagik_telemetry_server::rollup::GenAiAgg;
    use automagik_telemetry_server::store::GenAiRollupQuery;
    use automagik_telemetry_server::{ClickHouseStore, StoreRead};

    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let store = ClickHouseStore::open(&ch.url, 7, 30).expect("open the store");
    let base = automagik_telemetry_testkit::minute_an_hour_ago();
    let calls: Vec<(u64, Value)> = (0..40).map(|i| genai_call(base, i)).collect();
    let body: Vec<String> = calls.iter().map(|(_, row)| row.to_string()).collect();
    run(
        &ch,
        &format!(
            "INSERT INTO automagik.automagik_llm_calls FORMAT JSONEachRow\n{}",
            body.join("\n")
        ),
    );
    let pairs = "[('model', toString(if(ResponseModel != '', ResponseModel, RequestModel))), \
         ('provider', toString(Provider)), ('agent', toString(AgentName)), \
         ('session', SessionId), ('user', UserId)]";
    let raw = rows(
        &ch,
        &format!(
            "SELECT toStartOfMinute(Timestamp) AS b, d.1 AS dim, d.2 AS k, count() AS n, \
             countIf(IsError) AS e, sum(ifNull(InputTokens, 0)) AS i, \
             sum(ifNull(OutputTokens, 0)) AS o, sum(ifNull(CacheReadTokens, 0)) AS cr, \
             sum(ifNull(ReasoningTokens, 0)) AS r, sum(ifNull(CostUsd, 0)) AS c, \
             countIf(CostUsd IS NULL) AS u, sum(Duration) AS ds \
             FROM automagik.automagik_llm_calls FINAL ARRAY JOIN {pairs} AS d \
             GROUP BY b, dim, k ORDER BY dim, b, k"
        ),
    );
    let rolled = rows(
        &ch,
        "SELECT Bucket AS b, Dimension AS dim, Key AS k, sum(Calls) AS n, sum(Errors) AS e, \
         sum(InputTokens) AS i, sum(OutputTokens) AS o, sum(CacheReadTokens) AS cr, \
         sum(ReasoningTokens) AS r, sum(CostUsd) AS c, sum(UnpricedCalls) AS u, \
         sum(DurationSum) AS ds FROM automagik.automagik_genai_rollup_1m \
         GROUP BY b, dim, k ORDER BY dim, b, k",
    );
    assert_eq!(
        raw.len(),
        5 * 40,
        "each call has its minute, in each dimension"
    );
    assert_eq!(rolled, raw, "the view's aggregates equal the raw rows'");
    let hourly = rows(
        &ch,
        "SELECT Dimension AS dim, sum(Calls) AS n, sum(UnpricedCalls) AS u \
         FROM automagik.automagik_genai_rollup_1h GROUP BY dim ORDER BY dim",
    );
    let totals: Vec<(String, String, String)> = hourly
        .iter()
        .map(|r| {
            let text = |v: &Value| v.to_string().trim_matches('"').to_string();
            (text(&r["dim"]), text(&r["n"]), text(&r["u"]))
        })
        .collect();
    let want: Vec<(String, String, String)> = ["agent", "model", "provider", "session", "user"]
        .iter()
        .map(|d| (d.to_string(), "40".to_string(), "14".to_string()))
        .collect();
    assert_eq!(
        totals, want,
        "every call once per dimension; 14 of 40 unpriced"
    );

    // The store's read of one dimension: per minute and model, by minute then model.
    let mut want: std::collections::BTreeMap<(u64, String), GenAiAgg> = Default::default();
    for (at, c) in &calls {
        let model = match c["ResponseModel"].as_str() {
            Some("") | None => c["RequestModel"].as_str().unwrap_or_default(),
            Some(m) => m,
        };
        let a = want
            .entry(((at - at % 60) * 1_000_000_000, model.to_string()))
            .or_default();
        let n = |field: &str| c[field].as_u64().unwrap_or(0);
        a.calls += 1;
        a.errors += u64::from(c["IsError"] == true);
        a.input_tokens += n("InputTokens");
        a.output_tokens += n("OutputTokens");
        a.cache_read_tokens += n("CacheReadTokens");
        a.reasoning_tokens += n("ReasoningTokens");
        match c["CostUsd"].as_f64() {
            Some(cost) => a.cost_usd += cost,
            None => a.unpriced_calls += 1,
        }
        a.duration_sum_ns += n("Duration");
        let bucket = automagik_telemetry_core::latency::bucket_of(n("Duration"));
        if a.hist.len() <= bucket {
            a.hist.resize(bucket + 1, 0);
        }
        a.hist[bucket] += 1;
    }
    let got = store
        .genai_rollups(&GenAiRollupQuery {
            resolution: 60,
            from: base * 1_000_000_000,
            to: (base + 3600) * 1_000_000_000,
            dimension: "model".into(),
        })
        .expect("GenAI rollups");
    assert!(
        got.iter()
            .all(|(k, _)| k.resolution == 60 && k.dimension == "model")
    );
    let got: Vec<((u64, String), GenAiAgg)> = got
        .into_iter()
        .map(|(k, a)| ((k.bucket, k.key), a))
        .collect();
    assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    // A range past the first minutes leaves them out; another dimension has its keys.
    let later = store
        .genai_rollups(&GenAiRollupQuery {
            resolution: 60,
            from: (base + 600) * 1_000_000_000 + 1,
            to: (base + 3600) * 1_000_000_000,
            dimension: "user".into(),
        })
        .expect("GenAI rollups");
    assert_eq!(later.len(), 29, "minutes 11 to 39, one user each");
    assert_eq!(later[0].0.bucket, (base + 660) * 1_000_000_000);
    assert_eq!(later[0].0.key, "u-1");
}

/// A request stored again after a failure (its inserts retried with the same tokens) is
/// kept once and counted once: the rollup tables drop the repeated blocks the views
/// pass on.
#[test]
fn a_retried_insert_is_counted_once_in_the_rollups() {
    use automagik_telemetry_server::rows::{Batch, LlmCallRow};
    use automagik_telemetry_server::{ClickHouseStore, StoreWrite};

    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let store = ClickHouseStore::open(&ch.url, 7, 30).expect("open the store");
    let base = automagik_telemetry_testkit::minute_an_hour_ago() * 1_000_000_000;
    let batch = Batch {
        llm_calls: (0..3u64)
            .map(|i| LlmCallRow {
                trace_id: "ab".repeat(16),
                span_id: format!("{:016x}", i + 1),
                provider: "openai".into(),
                request_model: "gpt-4o".into(),
                input_tokens: Some(100),
                cost_usd: Some(0.5),
                start_time_unix_nano: base + i * 61_000_000_000,
                duration_ns: 2_000_000,
                finish_reasons: "[]".into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    store.insert(batch.clone()).expect("insert");
    store.insert(batch).expect("the same insert again");
    let count = |sql: &str| run(&ch, &format!("{sql} FORMAT TSVRaw")).trim().to_string();
    assert_eq!(
        count("SELECT count() FROM automagik.automagik_llm_calls"),
        "3",
        "stored once"
    );
    for table in ["automagik_genai_rollup_1m", "automagik_genai_rollup_1h"] {
        assert_eq!(
            count(&format!(
                "SELECT sum(Calls), sum(InputTokens), sum(CostUsd) FROM automagik.{table} \
                 WHERE Dimension = 'model'"
            )),
            "3\t300\t1.5",
            "{table} counts each call once"
        );
    }
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

/// What the SDK's `clickhouse` exporter inserts directly, the server's ClickHouse store
/// reads back: spans with typed attributes, events, and an agent run with its actions.
#[test]
fn sdk_direct_inserts_read_back_through_the_server_store() {
    use automagik_telemetry::{Backend, Telemetry};
    use automagik_telemetry_server::{ClickHouseStore, LogQuery, RunQuery, StoreRead, TraceQuery};
    use std::time::Duration;

    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let home = tempfile::tempdir().expect("tempdir");
    let t = Telemetry::builder()
        .env_lookup(|_| None)
        .home_dir(home.path())
        .state_dir(home.path())
        .consent(true)
        .project_name("direct")
        .backend(Backend::ClickHouse)
        .clickhouse_endpoint(ch.url.clone())
        .build()
        .expect("client");
    let correlation;
    {
        let mut span = t.span("load-cart");
        span.set_attribute("cart.items", 3);
        span.set_attribute("cart.total", 12.5);
        span.set_attribute("cart.gift", true);
        span.set_attribute("cart.owner", "ünïcode");
    }
    t.track_event("user.signup", [("plan", "pro")]);
    {
        let run = t.agent_run("planner", "plan a trip");
        correlation = run.correlation_id().to_string();
        run.tool_call("search", "LIS").ok("3 results");
        run.complete(0.5);
    }
    t.shutdown(Duration::from_secs(20))
        .expect("flush to ClickHouse");

    let store = ClickHouseStore::open(&ch.url, 7, 30).expect("open the store on the same tables");
    let traces = store
        .traces(&TraceQuery {
            name: Some("load-cart".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("traces");
    assert_eq!(traces.items.len(), 1);
    let spans = store
        .trace(&traces.items[0].root.trace_id)
        .expect("trace by id");
    let attrs: Value = serde_json::from_str(&spans[0].attributes).expect("json");
    assert_eq!(attrs["cart.items"], 3, "ints come back as ints");
    assert_eq!(attrs["cart.total"], 12.5);
    assert_eq!(attrs["cart.gift"], true);
    assert_eq!(attrs["cart.owner"], "ünïcode");
    assert_eq!(spans[0].service_name, "direct");

    let events = store
        .logs(&LogQuery {
            event_name: Some("user.signup".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("events");
    assert_eq!(events.items.len(), 1);

    let runs = store
        .runs(&RunQuery {
            limit: 10,
            ..Default::default()
        })
        .expect("runs");
    assert_eq!(runs.items.len(), 1);
    assert_eq!(runs.items[0].row.correlation_id, correlation);
    assert_eq!(runs.items[0].row.status, "completed");
    assert_eq!(runs.items[0].row.quality_score, Some(0.5));
    assert_eq!(runs.items[0].action_count, 1);
    let actions = store.actions(&correlation).expect("actions");
    assert_eq!(
        (actions[0].action_type.as_str(), actions[0].name.as_str()),
        ("tool_call", "search")
    );
}

/// The test engine's HTTP adapter is faithful enough for the official ClickHouse client
/// (clickhouse-connect): binary `Native` inserts, plain and gzip, chunked bodies, the
/// query in the body, server-side query parameters, selects in `Native`.
#[test]
fn the_official_clickhouse_client_inserts_and_selects_through_the_adapter() {
    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let port = ch.url.rsplit(':').next().expect("port");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testkit/python/official_client.py"
    );
    let out = std::process::Command::new(automagik_telemetry_testkit::test_python())
        .arg(script)
        .arg(port)
        .output()
        .expect("run the official client");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With `?async_insert=1` ClickHouse gathers inserts itself; a request is still answered
/// only once its rows are written, so they are readable at once.
#[test]
fn async_inserts_are_readable_when_the_insert_returns() {
    use automagik_telemetry_server::{ClickHouseStore, StoreRead, StoreWrite, rows};
    use automagik_telemetry_testkit::build::trace_request;
    use opentelemetry_proto::tonic::trace::v1::Span;

    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let store = ClickHouseStore::open(&format!("{}/asynchronous?async_insert=1", ch.url), 7, 30)
        .expect("open");
    let now = automagik_telemetry_testkit::now_ns();
    let spans: Vec<Span> = (1..=3u8)
        .map(|i| Span {
            trace_id: vec![7; 16],
            span_id: vec![i; 8],
            parent_span_id: if i == 1 { vec![] } else { vec![1; 8] },
            name: format!("op {i}"),
            start_time_unix_nano: now + u64::from(i),
            end_time_unix_nano: now + 1_000_000,
            ..Default::default()
        })
        .collect();
    store
        .insert(rows::from_traces(&trace_request("api", spans)))
        .expect("insert");
    let trace = store.trace(&"07".repeat(16)).expect("trace");
    assert_eq!(trace.len(), 3);
    assert_eq!(trace[0].name, "op 1");
}

/// Exponential histograms are kept as sent in the Collector's
/// `otel_metrics_exponential_histogram` table (so dashboards written for it work), with
/// their exemplars, and read back by the store in the explicit layout.
#[test]
fn exponential_histograms_land_in_the_collector_table() {
    use automagik_telemetry_server::{ClickHouseStore, StoreRead, StoreWrite, rows};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Metric, ResourceMetrics,
        ScopeMetrics, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    };

    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let store = ClickHouseStore::open(&ch.url, 7300, 7300).expect("open the store");
    let t = 1_700_000_000_000_000_000u64;
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "sizes".into(),
                    data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            time_unix_nano: t,
                            count: 9,
                            sum: Some(40.0),
                            scale: 0,
                            zero_count: 1,
                            positive: Some(Buckets {
                                offset: 1,
                                bucket_counts: vec![4, 4],
                            }),
                            exemplars: vec![Exemplar {
                                time_unix_nano: t,
                                value: Some(exemplar::Value::AsDouble(3.0)),
                                trace_id: vec![7; 16],
                                span_id: vec![8; 8],
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        aggregation_temporality: 1,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    store.insert(rows::into_metrics(req)).expect("insert");
    let stored = rows(
        &ch,
        "SELECT MetricName, Count, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts, \
         `Exemplars.TraceId` FROM automagik.otel_metrics_exponential_histogram",
    );
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["Scale"], 0);
    assert_eq!(stored[0]["PositiveOffset"], 1);
    assert_eq!(stored[0]["ZeroCount"].to_string().trim_matches('"'), "1");
    assert_eq!(stored[0]["Exemplars.TraceId"][0], "07".repeat(16));
    assert!(
        rows(&ch, "SELECT * FROM automagik.otel_metrics_histogram").is_empty(),
        "not stored twice"
    );
    // Read back in the explicit layout: the zero bucket, an empty (0, 2], (2, 4], (4, 8].
    let points = store
        .metric_points("sizes", 0, u64::MAX / 2, 10)
        .expect("points");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].kind, "histogram");
    assert_eq!(
        points[0].explicit_bounds.as_deref(),
        Some(&[0.0, 2.0, 4.0][..])
    );
    assert_eq!(points[0].bucket_counts.as_deref(), Some(&[1, 0, 4, 4][..]));
    assert_eq!(
        store
            .metric_exemplars("sizes", 0, u64::MAX / 2, 10)
            .expect("exemplars")
            .len(),
        1
    );
    let names = store.metric_names(10).expect("names");
    assert_eq!(
        (names[0].name.as_str(), names[0].kind.as_str()),
        ("sizes", "histogram")
    );
}

/// Summaries are kept in the Collector's `otel_metrics_summary` table with its column
/// names (`ValueAtQuantiles.Quantile` / `.Value`), and read back with their quantiles.
#[test]
fn summaries_land_in_the_collector_table() {
    use automagik_telemetry_server::{ClickHouseStore, StoreRead, StoreWrite, rows};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Metric, ResourceMetrics, ScopeMetrics, Summary, SummaryDataPoint, metric::Data,
        summary_data_point::ValueAtQuantile,
    };

    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let store = ClickHouseStore::open(&ch.url, 7300, 7300).expect("open the store");
    let t = 1_700_000_000_000_000_000u64;
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "rpc_seconds".into(),
                    data: Some(Data::Summary(Summary {
                        data_points: vec![SummaryDataPoint {
                            time_unix_nano: t,
                            count: 12,
                            sum: 30.0,
                            quantile_values: vec![
                                ValueAtQuantile {
                                    quantile: 0.5,
                                    value: 2.0,
                                },
                                ValueAtQuantile {
                                    quantile: 0.99,
                                    value: 9.5,
                                },
                            ],
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    store.insert(rows::into_metrics(req)).expect("insert");
    let stored = rows(
        &ch,
        "SELECT MetricName, Count, Sum, `ValueAtQuantiles.Quantile` AS q, \
         `ValueAtQuantiles.Value` AS v FROM automagik.otel_metrics_summary",
    );
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["Count"].to_string().trim_matches('"'), "12");
    let floats = |v: &Value| -> Vec<f64> {
        v.as_array()
            .expect("an array")
            .iter()
            .filter_map(Value::as_f64)
            .collect()
    };
    assert_eq!(floats(&stored[0]["q"]), [0.5, 0.99]);
    assert_eq!(floats(&stored[0]["v"]), [2.0, 9.5]);
    let points = store
        .metric_points("rpc_seconds", 0, u64::MAX / 2, 10)
        .expect("points");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].kind, "summary");
    assert_eq!((points[0].count, points[0].sum), (Some(12), Some(30.0)));
    assert_eq!(
        points[0].quantiles.as_deref(),
        Some(&[(0.5, 2.0), (0.99, 9.5)][..])
    );
    // The rollup view counts it.
    let rollup = rows(
        &ch,
        "SELECT sum(Count) AS c, sum(Sum) AS s FROM automagik.otel_metrics_rollup_1m \
         WHERE MetricName = 'rpc_seconds'",
    );
    assert_eq!(rollup[0]["c"].to_string().trim_matches('"'), "12");
    assert_eq!(rollup[0]["s"], 30.0);
}
