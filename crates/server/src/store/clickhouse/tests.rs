//! Unit tests of the URL parser, the attribute encoding, error names, time literals in
//! queries, and the rows and queries of agent runs, LLM calls, scores and GenAI rollups.

use super::client::{Target, error_name, parse_url};
use super::decode::join_attributes;
use super::encode::attribute_columns;
use super::store::{at, at_second, at_second_ceil};
use serde_json::{Value as Json, json};

/// The two columns of attributes kept as JSON object text.
fn split_attributes(text: &str) -> (Json, Json) {
    let columns = attribute_columns(text);
    (columns.values, columns.types)
}

#[test]
fn urls_name_endpoint_credentials_database_and_cluster() {
    let t =
        parse_url("clickhouse://ingest:s%40cret@ch.internal/telemetry?cluster=prod").expect("url");
    assert_eq!(
        t,
        Target {
            endpoint: "http://ch.internal:8123/".into(),
            user: "ingest".into(),
            password: "s@cret".into(),
            database: "telemetry".into(),
            cluster: Some("prod".into()),
            async_insert: false,
        }
    );
    assert!(
        parse_url("clickhouse://h/?async_insert=1")
            .expect("url")
            .async_insert
    );
    let t = parse_url("https://ch.example:9443/?database=d&user=u&password=p").expect("url");
    assert_eq!(t.endpoint, "https://ch.example:9443/");
    assert_eq!(
        (t.database.as_str(), t.user.as_str(), t.password.as_str()),
        ("d", "u", "p")
    );
    let t = parse_url("clickhouses://[::1]").expect("url");
    assert_eq!(t.endpoint, "https://[::1]:8443/");
    assert_eq!(
        (t.database.as_str(), t.user.as_str()),
        ("automagik", "default")
    );
    assert!(parse_url("clickhouse://h/?verbose=1").is_err());
    assert!(parse_url("ftp://h").is_err());
}

#[test]
fn attributes_keep_their_types_through_the_string_map() {
    let text = r#"{"s":"x","i":-42,"big":9007199254740993,"f":0.25,"whole":2.0,"b":true,"a":[1,"y"],"m":{"k":null},"n":"NaN"}"#;
    let (values, types) = split_attributes(text);
    assert_eq!(values["i"], "-42");
    assert_eq!(values["a"], r#"[1,"y"]"#);
    assert_eq!(types.get("s"), None, "strings take no type entry");
    let Json::Object(values) = values else {
        panic!("object")
    };
    let Json::Object(types) = types else {
        panic!("object")
    };
    let back: Json = serde_json::from_str(&join_attributes(values, &types)).expect("json");
    let want: Json = serde_json::from_str(text).expect("json");
    assert_eq!(back, want);
    // Escaped keys, and a repeated key keeps its last value.
    let (values, types) = split_attributes(r#"{"a\"b":1,"k":"x","k":"y\n"}"#);
    assert_eq!(values, json!({"a\"b": "1", "k": "y\n"}));
    assert_eq!(types, json!({"a\"b": "int"}));
    // Not an object: nothing, rather than an error that loses the row.
    assert_eq!(split_attributes("[1]"), (json!({}), json!({})));
}

#[test]
fn error_texts_keep_only_the_error_name() {
    assert_eq!(
        error_name(
            "Code: 27. DB::Exception: Cannot parse input: secret@example.com: (at row 1) (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"
        ),
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED"
    );
    assert_eq!(error_name("no name here (row 1: x@y.z"), "error");
}

#[test]
fn times_are_exact_and_clamped() {
    assert_eq!(
        at(u64::MAX),
        format!("fromUnixTimestamp64Nano(toInt64({}))", i64::MAX)
    );
    assert_eq!(at_second_ceil(1_000_000_001), "toDateTime(2)");
    assert_eq!(at_second(1_999_999_999), "toDateTime(1)");
}

#[test]
fn batches_read_from_a_request_are_written_by_the_shared_encoder() {
    use automagik_telemetry_core::SignalRequest;
    use automagik_telemetry_testkit::build::{string_kv, trace_request};
    use opentelemetry_proto::tonic::trace::v1::Span;
    let span = |trace_id: Vec<u8>, name: &str| Span {
        trace_id,
        span_id: vec![1; 8],
        name: name.into(),
        start_time_unix_nano: 1_699_999_200_000_000_001,
        end_time_unix_nano: 1_699_999_200_000_500_000,
        attributes: vec![string_kv("http.route", "/a")],
        ..Default::default()
    };
    let kept = span(vec![7; 16], "kept");
    let refused = span(vec![7; 15], "refused: a short trace id");
    let batch = crate::rows::from_traces(&trace_request("api", vec![kept.clone(), refused]));
    assert_eq!(batch.rejected, 1);
    let want = automagik_telemetry_core::clickhouse::inserts(&SignalRequest::Traces(
        trace_request("api", vec![kept]),
    ));
    assert_eq!(super::encode::inserts(&batch), want);
}

#[test]
fn rows_the_server_builds_follow_the_same_column_rules() {
    use crate::rows::{Batch, MetricPointRow};
    let batch = Batch {
        metric_points: vec![MetricPointRow::number(
            "up",
            "automagik-telemetry",
            "gauge",
            1_699_999_200_000_000_001,
            None,
            r#"{"target":"db","latency":0.5,"note":null}"#,
        )],
        ..Default::default()
    };
    let inserts = super::encode::inserts(&batch);
    let gauges: Vec<_> = inserts.iter().filter(|i| i.count > 0).collect();
    assert_eq!(gauges.len(), 1);
    assert_eq!(gauges[0].table, "otel_metrics_gauge");
    let row: Json = serde_json::from_str(gauges[0].rows.trim()).expect("one row");
    assert_eq!(
        row["TimeUnix"], "2023-11-14T22:00:00.000000001Z",
        "ns exact"
    );
    assert_eq!(row["StartTimeUnix"], "1970-01-01T00:00:00.000000000Z");
    assert_eq!(row["Value"], "nan", "no value");
    assert_eq!(
        row["Attributes"],
        json!({"target": "db", "latency": "0.5", "note": "null"})
    );
    assert_eq!(
        row["AttributeTypes"],
        json!({"latency": "double", "note": "json"})
    );
}

/// An LLM call with every field set.
fn llm_call() -> crate::rows::LlmCallRow {
    crate::rows::LlmCallRow {
        trace_id: "ab".repeat(16),
        span_id: "cd".repeat(8),
        parent_span_id: "ef".repeat(8),
        correlation_id: "run-1".into(),
        agent_name: "planner".into(),
        service_name: "api".into(),
        operation: "chat".into(),
        provider: "openai".into(),
        request_model: "gpt-4o".into(),
        response_model: "gpt-4o-2024-08-06".into(),
        input_tokens: Some(1_200),
        output_tokens: Some(300),
        cache_read_tokens: Some(1_000),
        cache_write_tokens: None,
        reasoning_tokens: Some(u64::MAX),
        cost_usd: Some(0.0125),
        start_time_unix_nano: 1_699_999_200_000_000_001,
        duration_ns: 1_500_000_000,
        time_to_first_token_ns: Some(250_000_000),
        finish_reasons: r#"["stop","length"]"#.into(),
        is_error: true,
        session_id: "s-1".into(),
        user_id: "u-1".into(),
    }
}

/// A categorical score.
fn score() -> crate::rows::ScoreRow {
    crate::rows::ScoreRow {
        score_id: "sc-1".into(),
        target_kind: "run".into(),
        target_id: "run-1".into(),
        name: "tone".into(),
        data_type: "categorical".into(),
        value: None,
        string_value: Some("polite".into()),
        comment: Some("it's fine".into()),
        source: "human".into(),
        time_unix_nano: 1_699_999_200_000_000_002,
    }
}

/// The one row of `table` among `inserts`.
fn only_row(inserts: &[automagik_telemetry_core::clickhouse::Insert], table: &str) -> Json {
    let insert = inserts
        .iter()
        .find(|i| i.table == table)
        .unwrap_or_else(|| panic!("an insert into {table}"));
    assert_eq!(insert.count, 1, "{table}");
    serde_json::from_str(insert.rows.trim()).expect("one JSON row")
}

#[test]
fn llm_calls_and_scores_are_written_in_their_columns() {
    use crate::rows::Batch;
    let batch = Batch {
        llm_calls: vec![llm_call()],
        scores: vec![score()],
        ..Default::default()
    };
    let inserts = super::encode::inserts(&batch);
    let call = only_row(&inserts, "automagik_llm_calls");
    assert_eq!(
        call,
        json!({
            "Timestamp": "2023-11-14T22:00:00.000000001Z",
            "TraceId": "ab".repeat(16),
            "SpanId": "cd".repeat(8),
            "ParentSpanId": "ef".repeat(8),
            "CorrelationId": "run-1",
            "AgentName": "planner",
            "ServiceName": "api",
            "Operation": "chat",
            "Provider": "openai",
            "RequestModel": "gpt-4o",
            "ResponseModel": "gpt-4o-2024-08-06",
            "InputTokens": 1_200,
            "OutputTokens": 300,
            "CacheReadTokens": 1_000,
            "CacheWriteTokens": null,
            "ReasoningTokens": u64::MAX,
            "CostUsd": 0.0125,
            "Duration": 1_500_000_000u64,
            "TimeToFirstToken": 250_000_000,
            "FinishReasons": ["stop", "length"],
            "IsError": true,
            "SessionId": "s-1",
            "UserId": "u-1",
        })
    );
    let score_row = only_row(&inserts, "automagik_scores");
    assert_eq!(
        score_row,
        json!({
            "Timestamp": "2023-11-14T22:00:00.000000002Z",
            "ScoreId": "sc-1",
            "TargetKind": "run",
            "TargetId": "run-1",
            "Name": "tone",
            "DataType": "categorical",
            "Value": null,
            "StringValue": "polite",
            "Comment": "it's fine",
            "Source": "human",
        })
    );
    // Unknown amounts stay unknown: no tokens, no cost (a NaN one included), no finish
    // reasons (text that is not an array reads as none; other values as their JSON).
    let bare = super::encode::llm_call_row(&crate::rows::LlmCallRow {
        cost_usd: Some(f64::NAN),
        finish_reasons: "stop".into(),
        ..Default::default()
    });
    assert_eq!(
        (
            &bare["InputTokens"],
            &bare["CostUsd"],
            &bare["TimeToFirstToken"]
        ),
        (&Json::Null, &Json::Null, &Json::Null)
    );
    assert_eq!(bare["FinishReasons"], json!([]));
    assert_eq!(bare["IsError"], false);
    assert_eq!(
        super::encode::finish_reasons(r#"["stop",1,null]"#),
        ["stop", "1", "null"]
    );
    let numeric = super::encode::score_row(&crate::rows::ScoreRow {
        data_type: "numeric".into(),
        value: Some(0.75),
        string_value: None,
        comment: None,
        ..score()
    });
    assert_eq!(
        (
            &numeric["Value"],
            &numeric["StringValue"],
            &numeric["Comment"]
        ),
        (&json!(0.75), &Json::Null, &Json::Null)
    );
}

#[test]
fn llm_calls_and_scores_read_back_from_clickhouse_rows() {
    use super::decode::{LlmCallOut, ScoreOut};
    // As ClickHouse answers with `output_format_json_quote_64bit_integers = 0`.
    let line = format!(
        r#"{{"t":1699999200000000001,"TraceId":"{}","SpanId":"{}","ParentSpanId":"{}","CorrelationId":"run-1","AgentName":"planner","ServiceName":"api","Operation":"chat","Provider":"openai","RequestModel":"gpt-4o","ResponseModel":"gpt-4o-2024-08-06","InputTokens":1200,"OutputTokens":300,"CacheReadTokens":1000,"CacheWriteTokens":null,"ReasoningTokens":18446744073709551615,"CostUsd":0.0125,"Duration":1500000000,"TimeToFirstToken":"250000000","FinishReasons":["stop","length"],"IsError":true,"SessionId":"s-1","UserId":"u-1"}}"#,
        "ab".repeat(16),
        "cd".repeat(8),
        "ef".repeat(8)
    );
    let call: LlmCallOut = serde_json::from_str(&line).expect("a call row");
    assert_eq!(call.row(), llm_call(), "a quoted integer reads too");
    let line = r#"{"t":1699999200000000002,"ScoreId":"sc-1","TargetKind":"run","TargetId":"run-1","Name":"tone","DataType":"categorical","Value":null,"StringValue":"polite","Comment":"it's fine","Source":"human"}"#;
    let read: ScoreOut = serde_json::from_str(line).expect("a score row");
    assert_eq!(read.row(), score());
}

#[test]
fn llm_call_and_score_queries_quote_filter_and_split_long_lists() {
    use super::store::{IN_LIST_MAX, llm_call_selects, score_selects};
    use crate::store::{LlmCallQuery, ScoreQuery};
    let table = "`automagik`.`automagik_llm_calls`";
    let one = llm_call_selects(
        table,
        &LlmCallQuery {
            session_id: Some("it's".into()),
            user_id: Some("u-1".into()),
            from: Some(5),
            to: Some(9),
            limit: 50,
            ..Default::default()
        },
    );
    assert_eq!(
        one,
        [format!(
            "SELECT {} FROM {table} FINAL WHERE 1 = 1 AND SessionId = 'it\\'s' AND UserId = 'u-1' \
             AND Timestamp >= fromUnixTimestamp64Nano(toInt64(5)) \
             AND Timestamp <= fromUnixTimestamp64Nano(toInt64(9)) \
             ORDER BY Timestamp DESC, TraceId DESC, SpanId DESC LIMIT 50",
            super::decode::LLM_CALL_COLUMNS
        )]
    );
    // 2,500 distinct trace ids (and repeats): three lists, each id once, quoted.
    let mut trace_ids: Vec<String> = (0..2_500).map(|i| format!("{i:032x}")).collect();
    let repeats = trace_ids[..10].to_vec();
    trace_ids.extend(repeats);
    trace_ids.push("x'); DROP TABLE t; --".into());
    let many = llm_call_selects(
        table,
        &LlmCallQuery {
            trace_ids,
            limit: 20,
            ..Default::default()
        },
    );
    assert_eq!(many.len(), 2_501usize.div_ceil(IN_LIST_MAX));
    let listed: usize = many.iter().map(|s| s.matches("', '").count() + 1).sum();
    assert_eq!(listed, 2_501);
    assert!(many[0].contains(&format!(
        "WHERE 1 = 1 AND TraceId IN ('{:032x}', '{:032x}', ",
        0, 1
    )));
    assert!(many[2].contains("'x\\'); DROP TABLE t; --')"));
    assert!(many.iter().all(|s| s.ends_with("LIMIT 20")));

    let scores = "`automagik`.`automagik_scores`";
    let none = score_selects(
        scores,
        &ScoreQuery {
            name: Some("quality".into()),
            limit: 10,
            ..Default::default()
        },
    );
    assert_eq!(
        none,
        [format!(
            "SELECT {} FROM {scores} FINAL WHERE 1 = 1 AND Name = 'quality' \
             ORDER BY Timestamp DESC, ScoreId DESC LIMIT 1 BY ScoreId LIMIT 10",
            super::decode::SCORE_COLUMNS
        )]
    );
    let targeted = score_selects(
        scores,
        &ScoreQuery {
            targets: vec![
                ("trace".into(), "t-1".into()),
                ("run".into(), "o'k".into()),
                ("trace".into(), "t-1".into()),
            ],
            limit: 10,
            ..Default::default()
        },
    );
    assert_eq!(targeted.len(), 1);
    assert!(
        targeted[0].contains(
            "WHERE 1 = 1 AND (TargetKind, TargetId) IN (('run', 'o\\'k'), ('trace', 't-1')) ORDER BY"
        ),
        "{}",
        targeted[0]
    );
}

#[test]
fn runs_of_a_request_are_the_batch_rows_beside_the_request_rows() {
    use automagik_telemetry_core::SignalRequest;
    use automagik_telemetry_testkit::build::{string_kv, trace_request};
    use opentelemetry_proto::tonic::trace::v1::Span;
    let span = Span {
        trace_id: vec![7; 16],
        span_id: vec![1; 8],
        parent_span_id: vec![2; 8],
        name: "planner".into(),
        start_time_unix_nano: 1_699_999_200_000_000_001,
        end_time_unix_nano: 1_699_999_200_000_500_000,
        attributes: vec![string_kv("gen_ai.operation.name", "invoke_agent")],
        ..Default::default()
    };
    let request = trace_request("api", vec![span]);
    let mut batch = crate::rows::from_traces(&request);
    assert_eq!(batch.agent_runs.len(), 1);
    // What the server resolved beyond the span: its session and user.
    batch.agent_runs[0].session_id = "s-1".into();
    batch.agent_runs[0].user_id = "u-1".into();
    batch.llm_calls.push(llm_call());
    let inserts = super::encode::inserts(&batch);
    let shared = automagik_telemetry_core::clickhouse::inserts(&SignalRequest::Traces(request));
    let spans = |inserts: &[automagik_telemetry_core::clickhouse::Insert]| {
        inserts
            .iter()
            .find(|i| i.table == "otel_traces")
            .cloned()
            .expect("spans")
    };
    assert_eq!(spans(&inserts), spans(&shared), "spans from the request");
    let run = only_row(&inserts, "automagik_agent_runs");
    assert_eq!(
        (
            run["SpanId"].as_str(),
            run["ParentSpanId"].as_str(),
            run["SessionId"].as_str(),
            run["UserId"].as_str()
        ),
        (
            Some("01".repeat(8).as_str()),
            Some("02".repeat(8).as_str()),
            Some("s-1"),
            Some("u-1")
        )
    );
    assert_eq!(
        only_row(&inserts, "automagik_llm_calls")["SpanId"],
        "cd".repeat(8)
    );
    assert!(
        inserts
            .iter()
            .all(|i| i.count > 0 && i.table != "automagik_scores"),
        "no empty bodies"
    );
}

#[test]
fn genai_rollups_read_one_dimension_by_bucket_and_key() {
    use super::decode::{GENAI_ROLLUP_COLUMNS, GenAiRollupOut};
    use super::store::genai_rollup_select;
    use crate::rollup::GenAiAgg;
    use crate::store::GenAiRollupQuery;
    let table = "`automagik`.`automagik_genai_rollup_1h`";
    let q = GenAiRollupQuery {
        resolution: 3600,
        // Bucket starts in [the second at or after 1.5 s, the second holding 7200.9 s].
        from: 1_500_000_000,
        to: 7_200_900_000_000,
        dimension: "it's".into(),
    };
    assert_eq!(
        genai_rollup_select(table, &q),
        format!(
            "SELECT {GENAI_ROLLUP_COLUMNS} FROM {table} WHERE Dimension = 'it\\'s' \
             AND Bucket >= toDateTime(2) AND Bucket <= toDateTime(7200) \
             GROUP BY b, k ORDER BY b, k"
        )
    );
    // As ClickHouse answers: 64-bit integers maybe quoted, `sumMap` counts too; a bucket
    // index past the last counts in the last.
    let line = r#"{"b":3600,"k":"gpt-4o","calls":"3","errors":1,"input_tokens":1200,"output_tokens":300,"cache_read_tokens":0,"cache_write_tokens":5,"reasoning_tokens":"18446744073709551615","cost_usd":0.0125,"unpriced_calls":2,"duration_sum":4500000000,"hist":[[2,5,170],[1,"2",4]]}"#;
    let row: GenAiRollupOut = serde_json::from_str(line).expect("a rollup row");
    let (key, agg) = row.row(3600, "model");
    assert_eq!(
        (
            key.resolution,
            key.bucket,
            key.dimension.as_str(),
            key.key.as_str()
        ),
        (3600, 3_600_000_000_000, "model", "gpt-4o")
    );
    let mut hist = vec![0; crate::rollup::HIST_BUCKETS];
    hist[2] = 1;
    hist[5] = 2;
    hist[crate::rollup::HIST_BUCKETS - 1] = 4;
    assert_eq!(
        agg,
        GenAiAgg {
            calls: 3,
            errors: 1,
            input_tokens: 1200,
            output_tokens: 300,
            cache_read_tokens: 0,
            cache_write_tokens: 5,
            reasoning_tokens: u64::MAX,
            cost_usd: 0.0125,
            unpriced_calls: 2,
            duration_sum_ns: 4_500_000_000,
            hist,
        }
    );
    // A cost sum past the largest float comes as `null`: infinite, not an error.
    let line = line.replace("0.0125", "null");
    let row: GenAiRollupOut = serde_json::from_str(&line).expect("a rollup row");
    assert_eq!(row.row(60, "model").1.cost_usd, f64::INFINITY);
}
