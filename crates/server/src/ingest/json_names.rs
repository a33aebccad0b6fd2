//! OTLP/JSON as encoders other than the OpenTelemetry SDKs write it, made into the form
//! the decoder reads. The OTLP specification asks for lowerCamelCase field names and
//! enum values as integers, but the protobuf JSON mapping also allows the proto field
//! names (`resource_spans`, `start_time_unix_nano`) and enum values by name
//! (`"kind": "SPAN_KIND_SERVER"`), and encoders built on a protobuf library's JSON
//! printer (the 0.1.x Automagik Telemetry SDKs among them) send names. The Collector
//! accepts both; so does this server.
//!
//! [`normalize`] rewrites a body in one pass over its bytes: every object key with an
//! underscore becomes lowerCamelCase (in OTLP every object key is a field name, since
//! attribute names are the *values* of `key`), and a string value of `kind`
//! (`Span.SpanKind`), `code` (`Status.StatusCode`), `severityNumber` (`SeverityNumber`)
//! or `aggregationTemporality` (`AggregationTemporality`) that names a value of its enum
//! becomes that value's number. Anything else is copied as it is, malformed JSON
//! included (the measure and the decoder refuse it). A body with none of the names that
//! such an encoder must write is not rewritten at all, and a rewritten body is never
//! longer than the original, so the copy costs at most the decompressed body's size.

use aho_corasick::AhoCorasick;
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use std::sync::LazyLock;

/// What a body that needs rewriting holds: an enum value's name, or the snake_case name
/// of the field every request's data is under.
static NEEDLES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new([
        "\"SPAN_KIND_",
        "\"STATUS_CODE_",
        "\"SEVERITY_NUMBER_",
        "\"AGGREGATION_TEMPORALITY_",
        "\"resource_spans\"",
        "\"resource_logs\"",
        "\"resource_metrics\"",
    ])
    .expect("fixed patterns")
});

/// Deeper than serde_json parses; past it the body is left to the decoder to refuse.
const MAX_DEPTH: usize = 256;

/// An enum field whose value may be written by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EnumField {
    Kind,
    Code,
    Severity,
    Temporality,
}

impl EnumField {
    fn of(key: &[u8]) -> Option<Self> {
        match key {
            b"kind" => Some(EnumField::Kind),
            b"code" => Some(EnumField::Code),
            b"severityNumber" => Some(EnumField::Severity),
            b"aggregationTemporality" => Some(EnumField::Temporality),
            _ => None,
        }
    }

    /// The number of the value named `name`, if it is one of this enum's.
    fn number(self, name: &str) -> Option<i32> {
        match self {
            EnumField::Kind => SpanKind::from_str_name(name).map(|v| v as i32),
            EnumField::Code => StatusCode::from_str_name(name).map(|v| v as i32),
            EnumField::Severity => SeverityNumber::from_str_name(name).map(|v| v as i32),
            EnumField::Temporality => AggregationTemporality::from_str_name(name).map(|v| v as i32),
        }
    }
}

/// An open object (with its state) or array.
struct Frame {
    object: bool,
    /// Objects: the next string is a key.
    expect_key: bool,
    /// Objects: the enum field of the last key, if it is one.
    field: Option<EnumField>,
}

/// `body` rewritten into the names the decoder reads, or `None` when it needs no
/// rewriting (or is too malformed to read; the decoder refuses it as it is).
pub fn normalize(body: &[u8]) -> Option<Vec<u8>> {
    NEEDLES.find(body)?;
    let mut out = Vec::with_capacity(body.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'{' | b'[' => {
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push(Frame {
                    object: b == b'{',
                    expect_key: b == b'{',
                    field: None,
                });
                out.push(b);
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                out.push(b);
                i += 1;
            }
            b',' => {
                if let Some(top) = stack.last_mut().filter(|f| f.object) {
                    top.expect_key = true;
                    top.field = None;
                }
                out.push(b);
                i += 1;
            }
            b'"' => {
                let end = string_end(body, i + 1)?;
                let text = body.get(i + 1..end)?;
                let escaped = text.contains(&b'\\');
                match stack.last_mut() {
                    Some(top) if top.object && top.expect_key => {
                        top.expect_key = false;
                        if !escaped && text.contains(&b'_') {
                            let camel = camel_case(text);
                            top.field = EnumField::of(&camel);
                            out.push(b'"');
                            out.extend_from_slice(&camel);
                            out.push(b'"');
                            changed = true;
                        } else {
                            top.field = EnumField::of(text);
                            out.extend_from_slice(body.get(i..=end)?);
                        }
                    }
                    Some(top) if top.object => {
                        let number = top
                            .field
                            .filter(|_| !escaped)
                            .and_then(|f| f.number(std::str::from_utf8(text).ok()?));
                        match number {
                            Some(n) => {
                                out.extend_from_slice(n.to_string().as_bytes());
                                changed = true;
                            }
                            None => out.extend_from_slice(body.get(i..=end)?),
                        }
                    }
                    _ => out.extend_from_slice(body.get(i..=end)?),
                }
                i = end + 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// The index of the quote that ends the string starting at `start` (after its opening
/// quote), skipping escaped characters.
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    loop {
        match body.get(i)? {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// `start_time_unix_nano` → `startTimeUnixNano`: each underscore dropped and the letter
/// after it made upper case (ASCII only; other bytes are kept).
fn camel_case(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len());
    let mut upper = false;
    for &c in key {
        if c == b'_' {
            upper = !out.is_empty();
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &str) -> Option<String> {
        normalize(body.as_bytes()).map(|b| String::from_utf8(b).expect("UTF-8"))
    }

    #[test]
    fn a_body_as_the_otlp_specification_writes_it_is_not_rewritten() {
        let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","kind":2,"status":{"code":2}}]}]}]}"#;
        assert_eq!(text(body), None);
        // Names inside attribute values are values, not keys or enums.
        let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"SPAN_KIND_SERVER resource_spans"},"attributes":[{"key":"user_id","value":{"stringValue":"x"}}]}]}]}]}"#;
        assert_eq!(text(body), None);
    }

    #[test]
    fn enum_names_become_their_numbers() {
        let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_ERROR","message":"STATUS_CODE_OK"}}]}]}]}"#;
        assert_eq!(
            text(body).as_deref(),
            Some(
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","kind":3,"status":{"code":2,"message":"STATUS_CODE_OK"}}]}]}]}"#
            )
        );
        let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber": "SEVERITY_NUMBER_WARN2","severityText":"SEVERITY_NUMBER_INFO"}]}]}]}"#;
        assert_eq!(
            text(body).as_deref(),
            Some(
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber": 14,"severityText":"SEVERITY_NUMBER_INFO"}]}]}]}"#
            )
        );
        let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"n","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true}}]}]}]}"#;
        assert!(
            text(body)
                .expect("rewritten")
                .contains(r#""aggregationTemporality":2,"#)
        );
    }

    #[test]
    fn an_unknown_enum_name_is_left_for_the_decoder_to_refuse() {
        let body =
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SIDEWAYS"}]}]}]}"#;
        assert_eq!(text(body), None);
    }

    #[test]
    fn proto_field_names_become_lower_camel_case() {
        let body = r#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5b8efff798038103d269b633813fc60c","start_time_unix_nano":"1","kind":"SPAN_KIND_SERVER","attributes":[{"key":"http.status_code","value":{"int_value":"200"}}]}]}]}]}"#;
        assert_eq!(
            text(body).as_deref(),
            Some(
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","startTimeUnixNano":"1","kind":2,"attributes":[{"key":"http.status_code","value":{"intValue":"200"}}]}]}]}]}"#
            )
        );
    }

    #[test]
    fn malformed_bodies_are_left_as_they_are_and_never_grow() {
        for body in [
            r#"{"resource_spans":[{"#,
            r#"{"resource_spans":"unterminated"#,
            r#"{"resource_spans":[]}}}]]],"kind":"SPAN_KIND_SERVER"}"#,
            r#"["resource_spans","kind","SPAN_KIND_SERVER"]"#,
            r#"{"a\"_b":"SPAN_KIND_SERVER","resource_spans":1}"#,
        ] {
            if let Some(out) = normalize(body.as_bytes()) {
                assert!(out.len() <= body.len(), "{body}");
            }
        }
        let deep = format!("{}\"resource_spans\"", "[".repeat(MAX_DEPTH + 1));
        assert_eq!(normalize(deep.as_bytes()), None);
    }

    #[test]
    fn camel_case_of_field_names() {
        assert_eq!(camel_case(b"start_time_unix_nano"), b"startTimeUnixNano");
        assert_eq!(camel_case(b"_leading"), b"leading");
        assert_eq!(camel_case(b"trailing_"), b"trailing");
        assert_eq!(camel_case(b"a__b"), b"aB");
    }
}
