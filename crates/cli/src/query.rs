//! `query`: reads the query API and prints a table (or the JSON as received). The
//! server's refusal of a parameter is reported with the flag it came from
//! (`--severity`, not `severity_min`), and a metric name that is not stored is an error.

use anyhow::{Context, bail};
use automagik_telemetry_core::human;
use serde_json::Value;

/// What to read.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// Traces by root span; with an id, the spans of one trace.
    Traces,
    /// Log records.
    Logs,
    /// Product events.
    Events,
    /// Metric names; with a name, its series.
    Metrics,
    /// Agent runs; with a correlation id, one run and its actions.
    Runs,
    /// Latency and errors per service and operation.
    Operations,
}

/// Flags of `query`.
#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    /// What to read.
    #[arg(value_enum)]
    what: What,
    /// A trace id, metric name or correlation id, for the details of one item.
    id: Option<String>,
    #[command(flatten)]
    server: crate::ServerArgs,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Only this service.
    #[arg(long)]
    service: Option<String>,
    /// Only this agent (runs).
    #[arg(long)]
    agent: Option<String>,
    /// Only this span name (traces) or event name (events).
    #[arg(long)]
    name: Option<String>,
    /// Only this status: `ok`, `error`, `unset` (traces); `completed`, `failed` (runs).
    #[arg(long)]
    status: Option<String>,
    /// Only records at least this severe: `info`, `warn`, `error`, ... (logs).
    #[arg(long)]
    severity: Option<String>,
    /// Only records whose body contains this text (logs).
    #[arg(long = "search")]
    search: Option<String>,
    /// Only records of this trace (logs).
    #[arg(long)]
    trace_id: Option<String>,
    /// Not before: RFC 3339 or relative like `-1h`.
    #[arg(long, allow_hyphen_values = true)]
    from: Option<String>,
    /// Not after: RFC 3339 or relative.
    #[arg(long, allow_hyphen_values = true)]
    to: Option<String>,
    /// Most items to show.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// How a metric's points are combined per step: `avg`, `sum`, `min`, `max`,
    /// `count`, ... (metrics NAME; the server's default by kind).
    #[arg(long)]
    agg: Option<String>,
    /// The step of a metric's series, like `1m` or `1h` (metrics NAME; about 120 steps
    /// by default).
    #[arg(long)]
    step: Option<String>,
    /// One series per value of this attribute (or `service.name`) (metrics NAME).
    #[arg(long)]
    group_by: Option<String>,
}

/// Each query parameter the commands send, and the flag it comes from.
const FLAGS: [(&str, &str); 13] = [
    ("severity_min", "--severity"),
    ("q", "--search"),
    ("trace_id", "--trace-id"),
    ("group_by", "--group-by"),
    ("service", "--service"),
    ("agent", "--agent"),
    ("name", "--name"),
    ("status", "--status"),
    ("from", "--from"),
    ("to", "--to"),
    ("limit", "--limit"),
    ("step", "--step"),
    ("agg", "--agg"),
];

/// The server's message about a query parameter in the words of this command: the
/// parameter it starts with (`severity_min: expected ...`), and the parameter names
/// no English word shares wherever they appear, become the flags they came from, when
/// the request sent them (a trace id in the path came from no flag).
fn in_flag_names(message: &str, sent: &[&str]) -> String {
    if message.trim() == "from must not be after to" {
        return "--from must not be after --to".into();
    }
    let mut out = match message.split_once(':') {
        Some((name, rest)) => match FLAGS
            .iter()
            .find(|(param, _)| *param == name.trim() && sent.contains(param))
        {
            Some((_, flag)) => format!("{flag}:{rest}"),
            None => message.to_string(),
        },
        None => message.to_string(),
    };
    for (param, flag) in FLAGS
        .iter()
        .filter(|(param, _)| param.contains('_') && sent.contains(param))
    {
        out = out.replace(*param, flag);
    }
    out
}

fn get(args: &QueryArgs, path: &str, params: &[(&str, Option<String>)]) -> anyhow::Result<Value> {
    let base = args.server.endpoint.trim_end_matches('/');
    let mut req = ureq::get(format!("{base}{path}"));
    for (k, v) in params {
        if let Some(v) = v {
            req = req.query(*k, v);
        }
    }
    if let Some(token) = &args.server.token {
        req = req.header("authorization", &format!("Bearer {token}"));
    }
    let resp = req
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .with_context(|| format!("cannot reach {base}; is `automagik-telemetry serve` running?"))?;
    let status = resp.status().as_u16();
    let body: Value = resp
        .into_body()
        .read_json()
        .with_context(|| format!("{base}{path} did not answer JSON"))?;
    if status != 200 {
        let message = body["error"].as_str().unwrap_or("no reason given");
        if status == 400 {
            let sent: Vec<&str> = params
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(k, _)| *k)
                .collect();
            bail!("{}", in_flag_names(message, &sent));
        }
        bail!("{path}: HTTP {status}: {message}");
    }
    Ok(body)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints rows under headers, columns padded to their widest cell (the last one not).
fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let out: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", out.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    let count = rows.len();
    for row in rows {
        line(row);
    }
    if count == 0 {
        println!("(nothing yet)");
    }
}

/// A number as people read it (`0.707`, `2150`); anything else as [`text`] shows it.
fn number(v: &Value) -> String {
    v.as_f64().map_or_else(|| text(v), human::number)
}

/// Whether a series answer holds no point at all.
fn no_points(body: &Value) -> bool {
    body["series"].as_array().is_none_or(|series| {
        series
            .iter()
            .all(|s| s["points"].as_array().is_none_or(Vec::is_empty))
    })
}

/// Refuses a metric name that is not stored (unless the stored names are too many to
/// list), naming close ones.
fn require_metric(args: &QueryArgs, name: &str) -> anyhow::Result<()> {
    let list = get(args, "/api/v1/metrics", &[("limit", Some("10000".into()))])?;
    let names: Vec<String> = items(&list)
        .iter()
        .filter_map(|m| m["name"].as_str().map(str::to_string))
        .collect();
    if names.iter().any(|n| n == name) || list["truncated"].as_bool() == Some(true) {
        return Ok(());
    }
    let wanted = name.to_lowercase();
    let close: Vec<&str> = names
        .iter()
        .filter(|n| {
            let n = n.to_lowercase();
            n.len() >= 3 && wanted.len() >= 3 && (n.contains(&wanted) || wanted.contains(&n))
        })
        .take(3)
        .map(String::as_str)
        .collect();
    let hint = if close.is_empty() {
        "`automagik-telemetry query metrics` lists the stored names".to_string()
    } else {
        format!("did you mean {}?", close.join(", "))
    };
    bail!("no metric named {name:?} is stored; {hint}")
}

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().cloned().unwrap_or_default()
}

fn short_time(v: &Value) -> String {
    // 2026-11-22T05:01:02.123456789Z -> 2026-11-22 05:01:02.123
    let t = text(v);
    match (t.get(..10), t.get(11..23)) {
        (Some(d), Some(h)) => format!("{d} {h}"),
        _ => t,
    }
}

/// Runs the query and prints it.
pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    let limit = Some(args.limit.to_string());
    let common = |extra: Vec<(&'static str, Option<String>)>| {
        let mut p = vec![("from", args.from.clone()), ("to", args.to.clone())];
        p.extend(extra);
        p
    };
    let (body, printer): (Value, fn(&Value)) = match (args.what, &args.id) {
        (What::Traces, None) => (
            get(
                &args,
                "/api/v1/traces",
                &common(vec![
                    ("service", args.service.clone()),
                    ("name", args.name.clone()),
                    ("status", args.status.clone()),
                    ("limit", limit),
                ]),
            )?,
            |b| {
                table(
                    &[
                        "START", "DURATION", "SPANS", "STATUS", "SERVICE", "NAME", "TRACE ID",
                    ],
                    items(b)
                        .iter()
                        .map(|t| {
                            vec![
                                short_time(&t["start_time"]),
                                format!("{:.1} ms", t["duration_ms"].as_f64().unwrap_or(0.0)),
                                text(&t["span_count"]),
                                status(&t["status_code"]).into(),
                                text(&t["service_name"]),
                                text(&t["name"]),
                                text(&t["trace_id"]),
                            ]
                        })
                        .collect(),
                )
            },
        ),
        (What::Traces, Some(id)) => (get(&args, &format!("/api/v1/traces/{id}"), &[])?, |b| {
            let spans = b["spans"].as_array().cloned().unwrap_or_default();
            table(
                &["SPAN ID", "PARENT", "DURATION", "STATUS", "SERVICE", "NAME"],
                spans
                    .iter()
                    .map(|s| {
                        let start: u64 = text(&s["start_time_unix_nano"]).parse().unwrap_or(0);
                        let end: u64 = text(&s["end_time_unix_nano"]).parse().unwrap_or(0);
                        vec![
                            text(&s["span_id"]),
                            text(&s["parent_span_id"]),
                            format!("{:.1} ms", end.saturating_sub(start) as f64 / 1e6),
                            status(&s["status_code"]).into(),
                            text(&s["service_name"]),
                            text(&s["name"]),
                        ]
                    })
                    .collect(),
            )
        }),
        (What::Logs, _) => (
            get(
                &args,
                "/api/v1/logs",
                &common(vec![
                    ("service", args.service.clone()),
                    ("severity_min", args.severity.clone()),
                    ("q", args.search.clone()),
                    ("trace_id", args.trace_id.clone()),
                    ("limit", limit),
                ]),
            )?,
            |b| {
                table(
                    &["TIME", "SEVERITY", "SERVICE", "BODY"],
                    items(b)
                        .iter()
                        .map(|l| {
                            let sev = text(&l["severity_text"]);
                            vec![
                                short_time(&l["time"]),
                                if sev.is_empty() {
                                    text(&l["severity_number"])
                                } else {
                                    sev
                                },
                                text(&l["service_name"]),
                                match &l["event_name"] {
                                    Value::String(n) => format!("event {n}"),
                                    _ => text(&l["body"]),
                                },
                            ]
                        })
                        .collect(),
                )
            },
        ),
        (What::Events, _) => (
            get(
                &args,
                "/api/v1/events",
                &common(vec![
                    ("service", args.service.clone()),
                    ("name", args.name.clone()),
                    ("limit", limit),
                ]),
            )?,
            |b| {
                table(
                    &["TIME", "SERVICE", "EVENT", "ATTRIBUTES"],
                    items(b)
                        .iter()
                        .map(|e| {
                            vec![
                                short_time(&e["time"]),
                                text(&e["service_name"]),
                                text(&e["event_name"]),
                                e["attributes"].to_string(),
                            ]
                        })
                        .collect(),
                )
            },
        ),
        (What::Metrics, None) => (get(&args, "/api/v1/metrics", &[])?, |b| {
            let names = items(b);
            table(
                &["NAME", "KIND", "POINTS", "LAST"],
                names
                    .iter()
                    .map(|m| {
                        vec![
                            text(&m["name"]),
                            text(&m["kind"]),
                            text(&m["points"]),
                            short_time(&m["last_time"]),
                        ]
                    })
                    .collect(),
            );
            if b["truncated"].as_bool() == Some(true) {
                println!("(the first {} names; more are stored)", names.len());
            }
        }),
        (What::Metrics, Some(name)) => {
            let body = get(
                &args,
                &format!("/api/v1/metrics/{name}/series"),
                &common(vec![
                    ("agg", args.agg.clone()),
                    ("step", args.step.clone()),
                    ("group_by", args.group_by.clone()),
                ]),
            )?;
            if no_points(&body) {
                require_metric(&args, name)?;
            }
            (body, |b| {
                let series = b["series"].as_array().cloned().unwrap_or_default();
                // A GROUP column only for a series split by --group-by.
                let grouped = series
                    .iter()
                    .any(|s| s["group"].as_object().is_some_and(|g| !g.is_empty()));
                let mut rows = Vec::new();
                for s in &series {
                    let group = s["group"]
                        .as_object()
                        .and_then(|g| g.values().next())
                        .map_or_else(|| "-".to_string(), text);
                    for p in s["points"].as_array().into_iter().flatten() {
                        let mut row = vec![short_time(&p["time"])];
                        if grouped {
                            row.push(group.clone());
                        }
                        row.push(number(&p["value"]));
                        rows.push(row);
                    }
                }
                if rows.is_empty() {
                    println!(
                        "no points from {} to {}; widen the range with --from (e.g. --from -24h)",
                        short_time(&b["from"]),
                        short_time(&b["to"])
                    );
                } else if grouped {
                    table(&["TIME", "GROUP", "VALUE"], rows);
                } else {
                    table(&["TIME", "VALUE"], rows);
                }
            })
        }
        (What::Runs, None) => (
            get(
                &args,
                "/api/v1/agents/runs",
                &common(vec![
                    ("agent", args.agent.clone()),
                    ("status", args.status.clone()),
                    ("limit", limit),
                ]),
            )?,
            |b| {
                table(
                    &[
                        "START",
                        "AGENT",
                        "STATUS",
                        "DURATION",
                        "ACTIONS",
                        "QUALITY",
                        "CORRELATION ID",
                    ],
                    items(b)
                        .iter()
                        .map(|r| {
                            vec![
                                short_time(&r["start_time"]),
                                text(&r["agent_name"]),
                                text(&r["status"]),
                                format!("{:.1} ms", r["duration_ms"].as_f64().unwrap_or(0.0)),
                                text(&r["action_count"]),
                                text(&r["quality_score"]),
                                text(&r["correlation_id"]),
                            ]
                        })
                        .collect(),
                )
            },
        ),
        (What::Runs, Some(id)) => (
            get(&args, &format!("/api/v1/agents/runs/{id}"), &[])?,
            |b| {
                println!(
                    "run {} of {}: {} in {:.1} ms, quality {}",
                    text(&b["correlation_id"]),
                    text(&b["agent_name"]),
                    text(&b["status"]),
                    b["duration_ms"].as_f64().unwrap_or(0.0),
                    text(&b["quality_score"])
                );
                let actions = b["actions"].as_array().cloned().unwrap_or_default();
                table(
                    &["TIME", "TYPE", "NAME", "DURATION", "ERROR"],
                    actions
                        .iter()
                        .map(|a| {
                            vec![
                                short_time(&a["time"]),
                                text(&a["action_type"]),
                                text(&a["name"]),
                                format!("{:.1} ms", a["duration_ms"].as_f64().unwrap_or(0.0)),
                                text(&a["is_error"]),
                            ]
                        })
                        .collect(),
                )
            },
        ),
        (What::Operations, _) => (
            get(
                &args,
                "/api/v1/operations",
                &common(vec![("service", args.service.clone())]),
            )?,
            |b| {
                table(
                    &[
                        "SERVICE",
                        "OPERATION",
                        "SPANS",
                        "ERRORS",
                        "P50",
                        "P95",
                        "P99",
                    ],
                    items(b)
                        .iter()
                        .map(|o| {
                            let ms = |k: &str| format!("{:.1} ms", o[k].as_f64().unwrap_or(0.0));
                            vec![
                                text(&o["service_name"]),
                                text(&o["operation"]),
                                text(&o["span_count"]),
                                text(&o["error_count"]),
                                ms("p50_ms"),
                                ms("p95_ms"),
                                ms("p99_ms"),
                            ]
                        })
                        .collect(),
                )
            },
        ),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        printer(&body);
    }
    Ok(())
}

fn status(code: &Value) -> &'static str {
    match code.as_i64() {
        Some(1) => "ok",
        Some(2) => "error",
        _ => "unset",
    }
}

#[cfg(test)]
mod tests {
    use super::in_flag_names;

    #[test]
    fn the_servers_refusals_name_the_flags() {
        for (message, want) in [
            (
                "severity_min: expected a severity name or number 0-24",
                "--severity: expected a severity name or number 0-24",
            ),
            (
                "from: expected RFC 3339 (2026-11-22T03:00:00Z) or a relative time like -1h",
                "--from: expected RFC 3339 (2026-11-22T03:00:00Z) or a relative time like -1h",
            ),
            (
                "limit: expected a whole number from 1 to 1000",
                "--limit: expected a whole number from 1 to 1000",
            ),
            (
                "agg: expected avg, sum, min, max or count",
                "--agg: expected avg, sum, min, max or count",
            ),
            (
                "the range holds more than 200000 points; narrow it or drop group_by",
                "the range holds more than 200000 points; narrow it or drop --group-by",
            ),
            ("from must not be after to", "--from must not be after --to"),
            ("a message about nothing", "a message about nothing"),
        ] {
            let sent = ["severity_min", "from", "to", "limit", "agg", "group_by"];
            assert_eq!(in_flag_names(message, &sent), want);
        }
        // A trace id given in the path, not by --trace-id, keeps the server's words.
        assert_eq!(
            in_flag_names("trace_id must be 32 hexadecimal digits", &[]),
            "trace_id must be 32 hexadecimal digits"
        );
    }
}
