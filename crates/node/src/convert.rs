//! Values between JavaScript and the SDK: attributes arrive as JSON text (the JavaScript
//! layer has already dropped `undefined`, functions and symbols, turned dates, big
//! integers and non-finite numbers into strings, and called `JSON.stringify`: one call,
//! where reading an object's properties through N-API costs several calls per
//! attribute), single values as JSON, and both leave as JSON where the addon answers with
//! redacted data.

use automagik_telemetry::{KeyValue, Value};
use serde_json::{Map, Number, Value as Json};

/// Attributes as the JavaScript layer passes them: the JSON text of a plain object, or
/// nothing.
pub type JsAttributes = Option<String>;

/// A JSON value as an attribute value; `null` has none (the attribute, or the array
/// item, is left out, as OTLP has no null).
pub fn value(json: Json) -> Option<Value> {
    match json {
        Json::Null => None,
        Json::Bool(b) => Some(Value::Bool(b)),
        Json::Number(n) => Some(number(&n)),
        Json::String(s) => Some(Value::from(s)),
        Json::Array(items) => Some(Value::Array(items.into_iter().filter_map(value).collect())),
        Json::Object(map) => Some(Value::Map(attributes(map))),
    }
}

/// Integers stay integers; everything else is a double.
fn number(n: &Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::I64(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        Value::F64(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// An object's entries as attributes, `null` ones left out.
pub fn attributes(map: Map<String, Json>) -> Vec<KeyValue> {
    map.into_iter()
        .filter_map(|(k, v)| value(v).map(|v| KeyValue::new(k, v)))
        .collect()
}

/// [`attributes`] of the object in an optional JSON text; text that is not a JSON object
/// (the JavaScript layer never sends such) has none.
pub fn optional_attributes(text: JsAttributes) -> Vec<KeyValue> {
    text.and_then(|t| serde_json::from_str::<Map<String, Json>>(&t).ok())
        .map(attributes)
        .unwrap_or_default()
}

/// An attribute value as JSON (bytes as an array of numbers, non-finite doubles as
/// `null`).
pub fn to_json(value: Value) -> Json {
    match value {
        Value::Str(s) => Json::String(s.into_owned()),
        Value::Bool(b) => Json::Bool(b),
        Value::I64(i) => Json::from(i),
        Value::F64(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
        Value::Bytes(bytes) => Json::Array(bytes.into_iter().map(Json::from).collect()),
        Value::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Value::Map(kvs) => Json::Object(
            kvs.into_iter()
                .map(|kv| (kv.key.as_str().to_string(), to_json(kv.value)))
                .collect(),
        ),
    }
}

/// A JavaScript number as a count: finite, at least 0, fractions cut, capped.
pub fn count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        // `as` saturates at u64::MAX.
        v as u64
    } else {
        0
    }
}
