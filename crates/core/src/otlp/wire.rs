//! Direct protobuf encoding of a log record into the exact bytes of an OTLP
//! `LogRecord` message, without building the intermediate `opentelemetry-proto`
//! structs. The SDK queues these bytes (appended to one buffer, [`encode_log_into`]),
//! about half the memory of the structured form. Decoding them with `opentelemetry-proto`'s own
//! `LogRecord` gives exactly what [`super::log_to_proto`] builds (tested below).
//! [`EncodedLog::new`] is defined here, so the record model does not depend on the
//! encoder.

use crate::record::{EncodedLog, LogRecord};
use crate::value::{KeyValue, Value};
use prost::encoding::{WireType, encoded_len_varint, key_len};

// Small, inlined writers: the buffer is allocated at its exact final size up front, so
// every push stays within capacity.
#[inline]
fn encode_varint(mut value: u64, buf: &mut Vec<u8>) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

#[inline]
fn encode_key(tag: u32, wire_type: WireType, buf: &mut Vec<u8>) {
    encode_varint(u64::from(tag << 3 | wire_type as u32), buf);
}

fn len_delimited_len(tag: u32, body: usize) -> usize {
    key_len(tag) + encoded_len_varint(body as u64) + body
}

fn put_len_delimited_header(tag: u32, body: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(body as u64, buf);
}

fn put_str(tag: u32, s: &str, buf: &mut Vec<u8>) {
    put_len_delimited_header(tag, s.len(), buf);
    buf.extend_from_slice(s.as_bytes());
}

/// Length of an `AnyValue` message body.
fn any_value_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => len_delimited_len(1, s.len()),
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + encoded_len_varint(*i as u64),
        Value::F64(_) => key_len(4) + 8,
        Value::Array(items) => len_delimited_len(
            5,
            items
                .iter()
                .map(|i| len_delimited_len(1, any_value_len(i)))
                .sum(),
        ),
        Value::Map(kvs) => len_delimited_len(
            6,
            kvs.iter()
                .map(|kv| len_delimited_len(1, key_value_len(kv)))
                .sum(),
        ),
        Value::Bytes(b) => len_delimited_len(7, b.len()),
    }
}

fn put_any_value(v: &Value, buf: &mut Vec<u8>) {
    match v {
        Value::Str(s) => put_str(1, s, buf),
        Value::Bool(b) => {
            encode_key(2, WireType::Varint, buf);
            encode_varint(u64::from(*b), buf);
        }
        Value::I64(i) => {
            encode_key(3, WireType::Varint, buf);
            encode_varint(*i as u64, buf);
        }
        Value::F64(f) => {
            encode_key(4, WireType::SixtyFourBit, buf);
            buf.extend_from_slice(&f.to_le_bytes());
        }
        Value::Array(items) => {
            let body = items
                .iter()
                .map(|i| len_delimited_len(1, any_value_len(i)))
                .sum();
            put_len_delimited_header(5, body, buf);
            for item in items {
                put_len_delimited_header(1, any_value_len(item), buf);
                put_any_value(item, buf);
            }
        }
        Value::Map(kvs) => {
            let body = kvs
                .iter()
                .map(|kv| len_delimited_len(1, key_value_len(kv)))
                .sum();
            put_len_delimited_header(6, body, buf);
            for kv in kvs {
                put_key_value(1, kv, buf);
            }
        }
        Value::Bytes(b) => {
            put_len_delimited_header(7, b.len(), buf);
            buf.extend_from_slice(b);
        }
    }
}

/// Length of a `KeyValue` message body: key (omitted when empty, as prost does) and value.
fn key_value_len(kv: &KeyValue) -> usize {
    let key = kv.key.as_str();
    let key_part = if key.is_empty() {
        0
    } else {
        len_delimited_len(1, key.len())
    };
    key_part + len_delimited_len(2, any_value_len(&kv.value))
}

fn put_key_value(tag: u32, kv: &KeyValue, buf: &mut Vec<u8>) {
    put_len_delimited_header(tag, key_value_len(kv), buf);
    let key = kv.key.as_str();
    if !key.is_empty() {
        put_str(1, key, buf);
    }
    put_len_delimited_header(2, any_value_len(&kv.value), buf);
    put_any_value(&kv.value, buf);
}

fn string_any_value_len(s: &str) -> usize {
    len_delimited_len(1, s.len())
}

/// `event.name` as the first attribute, as [`super::log_to_proto`] does.
fn event_name_attribute_len(name: &str) -> usize {
    len_delimited_len(
        6,
        len_delimited_len(1, "event.name".len()) + len_delimited_len(2, string_any_value_len(name)),
    )
}

/// Encodes a log record as the protobuf bytes of an OTLP `LogRecord`.
pub fn encode_log(l: &LogRecord) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_log_into(l, &mut buf);
    buf
}

/// Appends the protobuf bytes of an OTLP `LogRecord` to `buf` (reserving their exact
/// length first), so that one buffer can take many records back to back.
pub fn encode_log_into(l: &LogRecord, buf: &mut Vec<u8>) {
    let sev_text = l.severity.as_str();
    let mut len = 0;
    if l.time_unix_nano != 0 {
        len += 2 * (key_len(1) + 8); // time and observed time
    }
    len += key_len(2) + encoded_len_varint(l.severity as i32 as u64);
    len += len_delimited_len(3, sev_text.len());
    if let Some(body) = &l.body {
        len += len_delimited_len(5, string_any_value_len(body));
    }
    if let Some(name) = &l.event_name {
        len += event_name_attribute_len(name);
        if !name.is_empty() {
            len += len_delimited_len(12, name.len());
        }
    }
    len += l
        .attributes
        .iter()
        .map(|kv| len_delimited_len(6, key_value_len(kv)))
        .sum::<usize>();
    if l.dropped_attributes_count != 0 {
        len += key_len(7) + encoded_len_varint(u64::from(l.dropped_attributes_count));
    }
    if l.trace.is_some() {
        len += key_len(8) + 4 + len_delimited_len(9, 16) + len_delimited_len(10, 8);
    }

    buf.reserve(len);
    let start = buf.len();
    if l.time_unix_nano != 0 {
        encode_key(1, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&l.time_unix_nano.to_le_bytes());
    }
    encode_key(2, WireType::Varint, buf);
    encode_varint(l.severity as i32 as u64, buf);
    put_str(3, sev_text, buf);
    if let Some(body) = &l.body {
        put_len_delimited_header(5, string_any_value_len(body), buf);
        put_str(1, body, buf);
    }
    if let Some(name) = &l.event_name {
        let kv_body = len_delimited_len(1, "event.name".len())
            + len_delimited_len(2, string_any_value_len(name));
        put_len_delimited_header(6, kv_body, buf);
        put_str(1, "event.name", buf);
        put_len_delimited_header(2, string_any_value_len(name), buf);
        put_str(1, name, buf);
    }
    for kv in &l.attributes {
        put_key_value(6, kv, buf);
    }
    if l.dropped_attributes_count != 0 {
        encode_key(7, WireType::Varint, buf);
        encode_varint(u64::from(l.dropped_attributes_count), buf);
    }
    if let Some((trace_id, span_id)) = &l.trace {
        encode_key(8, WireType::ThirtyTwoBit, buf);
        buf.extend_from_slice(&1u32.to_le_bytes());
        put_len_delimited_header(9, 16, buf);
        buf.extend_from_slice(&trace_id.0);
        put_len_delimited_header(10, 8, buf);
        buf.extend_from_slice(&span_id.0);
    }
    if l.time_unix_nano != 0 {
        encode_key(11, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&l.time_unix_nano.to_le_bytes());
    }
    if let Some(name) = l.event_name.as_deref().filter(|n| !n.is_empty()) {
        put_str(12, name, buf);
    }
    debug_assert_eq!(buf.len() - start, len, "encoded length must be exact");
}

impl EncodedLog {
    /// Encodes `log`.
    pub fn new(log: &LogRecord) -> Self {
        EncodedLog(encode_log(log).into_boxed_slice())
    }

    /// A copy of one record's bytes as [`encode_log_into`] wrote them (a queue that
    /// keeps many records in one buffer hands them on this way). Bytes of any other
    /// origin are carried as they are: whoever decodes them skips what does not decode.
    pub fn from_encoded(bytes: &[u8]) -> Self {
        EncodedLog(Box::from(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::log_to_proto;
    use crate::record::Severity;
    use crate::trace_context::{SpanId, TraceId};
    use opentelemetry_proto::tonic::logs::v1 as plogs;
    use prost::Message;
    use std::borrow::Cow;

    fn check(l: &LogRecord) {
        let bytes = encode_log(l);
        let decoded = plogs::LogRecord::decode(&bytes[..]).expect("valid protobuf");
        assert_eq!(decoded, log_to_proto(l), "{l:?}");
        // Byte-for-byte what prost itself writes for the same message.
        assert_eq!(bytes.len(), log_to_proto(l).encoded_len());
    }

    fn values() -> Vec<Value> {
        vec![
            Value::from(""),
            Value::from("plain"),
            Value::from("ünïcødé ✓".to_string()),
            Value::from("x".repeat(300)),
            Value::Bool(true),
            Value::Bool(false),
            Value::I64(0),
            Value::I64(-1),
            Value::I64(i64::MIN),
            Value::I64(i64::MAX),
            Value::F64(0.0),
            Value::F64(-2.5),
            Value::F64(f64::INFINITY),
            Value::Bytes(vec![]),
            Value::Bytes(vec![0, 1, 255]),
            Value::Array(vec![]),
            Value::Array(vec![
                Value::from("a"),
                Value::I64(7),
                Value::Array(vec![Value::Bool(true)]),
            ]),
            Value::Map(vec![]),
            Value::Map(vec![
                KeyValue::new("k", "v"),
                KeyValue::new("", 1),
                KeyValue::new("m", Value::Map(vec![KeyValue::new("deep", 2.0)])),
            ]),
        ]
    }

    #[test]
    fn records_appended_to_one_buffer_are_each_records_own_bytes() {
        let records: Vec<LogRecord> = values()
            .into_iter()
            .enumerate()
            .map(|(i, v)| LogRecord {
                time_unix_nano: i as u64,
                severity: Severity::Info,
                body: Some(Cow::Owned(format!("record {i}"))),
                event_name: (i % 2 == 0).then_some(Cow::Borrowed("e")),
                attributes: vec![KeyValue::new("k", v)],
                dropped_attributes_count: u32::try_from(i).unwrap_or(0),
                trace: None,
            })
            .collect();
        let mut buf = b"left alone".to_vec();
        let mut ends = Vec::new();
        for r in &records {
            encode_log_into(r, &mut buf);
            ends.push(buf.len());
        }
        assert!(buf.starts_with(b"left alone"));
        let mut start = b"left alone".len();
        for (r, end) in records.iter().zip(ends) {
            assert_eq!(buf[start..end], encode_log(r)[..]);
            assert_eq!(
                EncodedLog::from_encoded(&buf[start..end]),
                EncodedLog::new(r)
            );
            start = end;
        }
    }

    #[test]
    fn matches_prost_for_every_value_shape() {
        for v in values() {
            for key in ["", "k", "a.much.longer.attribute.key"] {
                check(&LogRecord {
                    time_unix_nano: 1_700_000_000_123_456_789,
                    severity: Severity::Warn,
                    body: None,
                    event_name: None,
                    attributes: vec![KeyValue::new(key, v.clone())],
                    dropped_attributes_count: 0,
                    trace: None,
                });
            }
        }
    }

    #[test]
    fn matches_prost_for_every_field() {
        let severities = [
            Severity::Trace,
            Severity::Debug,
            Severity::Info,
            Severity::Warn,
            Severity::Error,
            Severity::Fatal,
        ];
        for (i, severity) in severities.into_iter().enumerate() {
            for body in [
                None,
                Some(Cow::Borrowed("")),
                Some(Cow::Borrowed("the body")),
            ] {
                for event_name in [
                    None,
                    Some(Cow::Borrowed("")),
                    Some(Cow::Borrowed("user.signup")),
                ] {
                    for trace in [None, Some((TraceId([7; 16]), SpanId([9; 8])))] {
                        check(&LogRecord {
                            time_unix_nano: if i == 0 {
                                0
                            } else {
                                1_700_000_000_000_000_000 + i as u64
                            },
                            severity,
                            body: body.clone(),
                            event_name: event_name.clone(),
                            attributes: values()
                                .into_iter()
                                .enumerate()
                                .map(|(n, v)| KeyValue::new(format!("a{n}"), v))
                                .collect(),
                            dropped_attributes_count: i as u32 * 300,
                            trace,
                        });
                    }
                }
            }
        }
    }
}
