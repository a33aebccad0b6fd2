//! The redactor (`automagik_telemetry_core::redact`) on arbitrary text (UTF-8, invalid
//! bytes replaced).
//!
//! Checked: string redaction is idempotent (as the redactor's own test
//! `redaction_is_idempotent` holds over its corpus), here without the length cap, which
//! may cut a marker; with a cap, no string is longer than the cap. The text is also read
//! as attributes, one per line (`key=value` a string, `key#value` a number, `key@value`
//! bytes, `key[a,b,c]` an array, nested two levels deeper in maps): after
//! `redact_attributes`, no string or bytes value is longer than the cap, no list longer
//! than the attribute cap, nothing nested deeper than the depth cap, and every value of a
//! key classified as a secret is the secret marker.
#![no_main]

use automagik_telemetry_core::redact::{KeyClass, Limits, Redactor};
use automagik_telemetry_core::{KeyValue, Value};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CAP: usize = 64;
const MAX_ATTRIBUTES: usize = 4;
const MAX_DEPTH: usize = 2;
const SECRET: &str = "[REDACTED:secret]";

struct Redactors {
    /// The built-in rules with a salt, without a length cap.
    uncapped: Redactor,
    /// The built-in rules with small caps.
    capped: Redactor,
}

fn redactors() -> &'static Redactors {
    static REDACTORS: OnceLock<Redactors> = OnceLock::new();
    REDACTORS.get_or_init(|| Redactors {
        uncapped: Redactor::builder()
            .salt(b"fuzz-salt".to_vec())
            .limits(Limits {
                max_value_bytes: usize::MAX,
                ..Limits::default()
            })
            .build()
            .expect("the built-in rules compile"),
        capped: Redactor::builder()
            .limits(Limits {
                max_value_bytes: CAP,
                max_depth: MAX_DEPTH,
                max_attributes: MAX_ATTRIBUTES,
            })
            .build()
            .expect("the built-in rules compile"),
    })
}

/// One attribute per line (see the module documentation).
fn attributes(text: &str) -> Vec<KeyValue> {
    text.lines()
        .map(|line| {
            let at = line
                .find(['=', '#', '@', '['])
                .unwrap_or(line.len());
            let (key, rest) = line.split_at(at);
            let mut chars = rest.chars();
            let value = match chars.next() {
                Some('#') => Value::I64(chars.as_str().trim().parse().unwrap_or_default()),
                Some('@') => Value::Bytes(chars.as_str().as_bytes().to_vec()),
                Some('[') => {
                    let items = chars.as_str().trim_end_matches(']');
                    let list: Vec<Value> = items
                        .split(',')
                        .map(|item| Value::from(item.to_string()))
                        .collect();
                    Value::Map(vec![KeyValue::new(
                        key.to_string(),
                        Value::Map(vec![KeyValue::new("inner", Value::Array(list))]),
                    )])
                }
                _ => Value::from(chars.as_str().to_string()),
            };
            KeyValue::new(key.to_string(), value)
        })
        .collect()
}

/// Every cap holds in `value`, found at `depth`.
fn capped(value: &Value, depth: usize) {
    match value {
        Value::Str(s) => assert!(s.len() <= CAP, "a string of {} bytes kept", s.len()),
        Value::Bytes(b) => assert!(b.len() <= CAP, "{} bytes kept", b.len()),
        Value::Array(items) => {
            assert!(depth < MAX_DEPTH, "a list kept at depth {depth}");
            assert!(items.len() <= MAX_ATTRIBUTES, "a list of {} kept", items.len());
            items.iter().for_each(|v| capped(v, depth + 1));
        }
        Value::Map(kvs) => {
            assert!(depth < MAX_DEPTH, "a map kept at depth {depth}");
            assert!(kvs.len() <= MAX_ATTRIBUTES, "a map of {} kept", kvs.len());
            kvs.iter().for_each(|kv| capped(&kv.value, depth + 1));
        }
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = redactors();

    let once = r.uncapped.redact_str(&text).into_owned();
    let twice = r.uncapped.redact_str(&once);
    assert!(
        twice == once,
        "redaction is not idempotent:\n input {text:?}\n once  {once:?}\n twice {twice:?}"
    );

    let cut = r.capped.redact_str(&text);
    assert!(cut.len() <= CAP, "{} bytes kept over a cap of {CAP}", cut.len());

    let mut attrs = attributes(&text);
    let before = attrs.len();
    let classes: Vec<KeyClass> = attrs
        .iter()
        .map(|kv| r.capped.classify_key(kv.key.as_str()))
        .collect();
    let dropped = r.capped.redact_attributes(&mut attrs);
    assert_eq!(
        usize::try_from(dropped).unwrap_or(usize::MAX),
        before.saturating_sub(MAX_ATTRIBUTES),
        "attributes dropped"
    );
    assert!(attrs.len() <= MAX_ATTRIBUTES, "{} attributes kept", attrs.len());
    for (kv, class) in attrs.iter().zip(classes) {
        if class == KeyClass::Secret
            && !matches!(kv.value, Value::Bool(_) | Value::I64(_) | Value::F64(_))
        {
            assert_eq!(
                kv.value.as_str(),
                Some(SECRET),
                "the value of the secret key {:?}",
                kv.key
            );
        }
        capped(&kv.value, 0);
    }
    // The uncapped redactor on the same attributes: no cap to check, only no panic.
    let mut attrs = attributes(&text);
    r.uncapped.redact_attributes(&mut attrs);
});
