//! Reading one attribute of an OTLP attribute list: the agent conventions
//! ([`crate::agent`]) and the GenAI mapping ([`crate::genai`]) share these.

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};

/// A string attribute (a repeated key keeps its last value).
pub fn string_attr<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    kvs.iter().rev().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// A numeric attribute (a number, or a string holding one).
pub fn number_attr(kvs: &[KeyValue], key: &str) -> Option<f64> {
    kvs.iter().rev().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::DoubleValue(d) => Some(*d),
            any_value::Value::IntValue(i) => Some(*i as f64),
            any_value::Value::StringValue(s) => s.parse().ok(),
            _ => None,
        }
    })
}
