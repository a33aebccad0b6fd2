//! Prompts and completions kept up to a size cap, a span never dropped for its size.
//!
//! A string value longer than the cap is cut at the last UTF-8 character boundary at or
//! before `cap_bytes`, and the marker `…[truncated N bytes]` is appended: N is how many
//! bytes of the original value were removed. The marker is [`TRUNCATION_MARKER`]
//! (`…[truncated `, with U+2026), N in decimal digits, then ` bytes]`; so a truncated
//! value is at most `cap_bytes + MAX_MARKER_BYTES` long, and a reader finds it marked by
//! its ending. A value that already ends with a marker (cut by an SDK or an earlier pass)
//! is not marked twice: the cap applies to its content before the marker, and when that
//! is cut again N counts both cuts.
//!
//! [`truncate_attributes`] applies this to the attributes naming prompt and completion
//! content ([`CONTENT_KEYS`]), to their strings and to the strings inside array and
//! key-value list values at any depth (walked with a stack of their own, not by
//! recursion, so no nesting can overflow the thread's stack).

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

/// How a truncation marker opens: `…[truncated ` (U+2026, then `[truncated `). The whole
/// marker is this, the count of bytes removed in decimal, and ` bytes]`.
pub const TRUNCATION_MARKER: &str = "…[truncated ";

/// How a truncation marker closes.
const MARKER_END: &str = " bytes]";

/// The most digits a marker's count has (`u64::MAX` has 20).
const MAX_COUNT_DIGITS: usize = 20;

/// The longest marker, in bytes: what a truncated value may have beyond the cap.
pub const MAX_MARKER_BYTES: usize = TRUNCATION_MARKER.len() + MAX_COUNT_DIGITS + MARKER_END.len();

/// The attribute keys holding prompt and completion content, for
/// [`truncate_attributes`]. A key ending in `.*` names that key and every key under it
/// (`llm.input_messages.*` matches `llm.input_messages.0.message.content`); any other
/// names one key exactly.
pub const CONTENT_KEYS: &[&str] = &[
    // OpenTelemetry GenAI conventions.
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    // Their deprecated names, and OpenLLMetry's flattened `gen_ai.prompt.0.content`.
    "gen_ai.prompt.*",
    "gen_ai.completion.*",
    // OpenInference.
    "input.value",
    "output.value",
    "llm.input_messages.*",
    "llm.output_messages.*",
    // Langfuse.
    "langfuse.observation.input",
    "langfuse.observation.output",
    "langfuse.trace.input",
    "langfuse.trace.output",
];

/// `value` cut to `cap_bytes` (at a character boundary) with the marker appended, or
/// [`None`] when it is within the cap (see the module doc, also for a value already
/// marked).
pub fn truncate(value: &str, cap_bytes: usize) -> Option<String> {
    let (content, removed_before) = split_marker(value);
    if content.len() <= cap_bytes {
        return None;
    }
    let kept = floor_char_boundary(content, cap_bytes);
    let removed = ((content.len() - kept.len()) as u64).saturating_add(removed_before);
    let count = removed.to_string();
    let mut out = String::with_capacity(
        kept.len() + TRUNCATION_MARKER.len() + count.len() + MARKER_END.len(),
    );
    out.push_str(kept);
    out.push_str(TRUNCATION_MARKER);
    out.push_str(&count);
    out.push_str(MARKER_END);
    Some(out)
}

/// `value`'s content before a marker it ends with, and the count that marker gives; the
/// whole value and 0 when it ends with none.
fn split_marker(value: &str) -> (&str, u64) {
    let unmarked = (value, 0);
    let Some(body) = value.strip_suffix(MARKER_END) else {
        return unmarked;
    };
    let Some(at) = body.rfind(TRUNCATION_MARKER) else {
        return unmarked;
    };
    let (Some(content), Some(marker)) = (body.get(..at), body.get(at..)) else {
        return unmarked;
    };
    let Some(digits) = marker.strip_prefix(TRUNCATION_MARKER) else {
        return unmarked;
    };
    if digits.is_empty()
        || digits.len() > MAX_COUNT_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return unmarked;
    }
    match digits.parse::<u64>() {
        Ok(count) => (content, count),
        Err(_) => unmarked,
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary.
fn floor_char_boundary(s: &str, max: usize) -> &str {
    if max >= s.len() {
        return s;
    }
    let mut end = max;
    // Byte 0 is a boundary, so this stops; a UTF-8 character has at most 4 bytes.
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Truncates every string in `value`, itself or inside its arrays and key-value lists at
/// any depth, to `cap_bytes`; returns how many strings were truncated.
pub fn truncate_value(value: &mut AnyValue, cap_bytes: usize) -> usize {
    let mut truncated = 0;
    let mut stack: Vec<&mut AnyValue> = vec![value];
    while let Some(next) = stack.pop() {
        match &mut next.value {
            Some(any_value::Value::StringValue(s)) => {
                if let Some(cut) = truncate(s, cap_bytes) {
                    *s = cut;
                    truncated += 1;
                }
            }
            Some(any_value::Value::ArrayValue(array)) => stack.extend(array.values.iter_mut()),
            Some(any_value::Value::KvlistValue(list)) => {
                stack.extend(list.values.iter_mut().filter_map(|kv| kv.value.as_mut()))
            }
            _ => {}
        }
    }
    truncated
}

/// Whether attribute `key` is one `pattern` names: exactly, or for a pattern ending in
/// `.*`, that key or any key under it (`a.b.*` names `a.b` and `a.b.c`, not `a.bc`).
pub fn key_matches(key: &str, pattern: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => key
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.')),
        None => key == pattern,
    }
}

/// Whether a value may hold a string longer than `cap_bytes` (a longer string, or an
/// array or key-value list, whose strings are not measured here).
fn could_exceed(value: Option<&AnyValue>, cap_bytes: usize) -> bool {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.len() > cap_bytes,
        Some(any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_)) => true,
        _ => false,
    }
}

/// Truncates to `cap_bytes` the strings of the attributes some pattern of `keys` names
/// ([`key_matches`]; [`CONTENT_KEYS`] are the content keys), inside their arrays and
/// key-value lists too; returns how many strings were truncated. Other attributes and
/// other value types are left as they are.
pub fn truncate_attributes(attrs: &mut [KeyValue], keys: &[&str], cap_bytes: usize) -> usize {
    attrs
        .iter_mut()
        // Most attributes are short strings or numbers: no key to match for them.
        .filter(|kv| could_exceed(kv.value.as_ref(), cap_bytes))
        .filter(|kv| keys.iter().any(|pattern| key_matches(&kv.key, pattern)))
        .filter_map(|kv| kv.value.as_mut())
        .map(|value| truncate_value(value, cap_bytes))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn string(s: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(s.to_string())),
        }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }
    }

    fn as_str(value: &Option<AnyValue>) -> &str {
        match value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn within_the_cap_is_kept() {
        assert_eq!(truncate("hello", 5), None);
        assert_eq!(truncate("hello", 6), None);
        assert_eq!(truncate("", 0), None);
        assert_eq!(
            truncate("hello", 4).as_deref(),
            Some("hell…[truncated 1 bytes]")
        );
    }

    #[test]
    fn cuts_at_a_character_boundary() {
        // "é" is 2 bytes (1..3): a cap of 2 falls inside it, so only "h" is kept and the
        // other 5 of the 6 bytes are removed.
        assert_eq!(
            truncate("héllo", 2).as_deref(),
            Some("h…[truncated 5 bytes]")
        );
        // "€" is 3 bytes: 10 keeps three of four (9 bytes), removing 3.
        assert_eq!(
            truncate("€€€€", 10).as_deref(),
            Some("€€€…[truncated 3 bytes]")
        );
        // A 4-byte emoji under a cap of 3 keeps nothing.
        assert_eq!(truncate("😀", 3).as_deref(), Some("…[truncated 4 bytes]"));
        assert_eq!(truncate("abc", 0).as_deref(), Some("…[truncated 3 bytes]"));
    }

    #[test]
    fn a_5_mb_string_is_cut_to_the_cap_with_the_marker() {
        let original = "x".repeat(5 * 1024 * 1024);
        let cap = 64 * 1024;
        let cut = truncate(&original, cap).expect("truncated");
        // 5,242,880 - 65,536 = 5,177,344 bytes removed.
        let marker = "…[truncated 5177344 bytes]";
        assert!(cut.ends_with(marker));
        assert_eq!(cut.len(), cap + marker.len());
        assert!(cut.len() <= cap + MAX_MARKER_BYTES);
        assert!(cut[..cap].bytes().all(|b| b == b'x'));
        // Cut again at the same cap: already within it, not marked twice.
        assert_eq!(truncate(&cut, cap), None);
        // Cut again to 100 bytes: the count adds up both cuts (5,242,880 - 100).
        let again = truncate(&cut, 100).expect("truncated");
        assert_eq!(
            again,
            format!("{}…[truncated 5242780 bytes]", "x".repeat(100))
        );
    }

    #[test]
    fn a_forged_marker_is_content() {
        // 21 digits is no count: the whole value is content, and is cut as such.
        let forged = format!("abc{TRUNCATION_MARKER}{} bytes]", "9".repeat(21));
        let cut = truncate(&forged, 3).expect("truncated");
        assert_eq!(cut, format!("abc…[truncated {} bytes]", forged.len() - 3));
        assert_eq!(
            split_marker("abc…[truncated  bytes]"),
            ("abc…[truncated  bytes]", 0)
        );
        assert_eq!(split_marker("abc…[truncated 12 bytes]"), ("abc", 12));
    }

    #[test]
    fn content_attributes_are_truncated_at_any_depth_others_kept() {
        let long = "a".repeat(100);
        let nested = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("content", string(&long)),
                    kv(
                        "parts",
                        AnyValue {
                            value: Some(any_value::Value::ArrayValue(ArrayValue {
                                values: vec![string(&long)],
                            })),
                        },
                    ),
                ],
            })),
        };
        let array = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    string(&long),
                    string("short"),
                    AnyValue {
                        value: Some(any_value::Value::IntValue(7)),
                    },
                ],
            })),
        };
        let mut attrs = vec![
            kv("gen_ai.input.messages", string(&long)),
            kv("llm.input_messages.0.message.content", string(&long)),
            kv("llm.input_messages_other", string(&long)),
            kv("http.url", string(&long)),
            kv("gen_ai.output.messages", array),
            kv("langfuse.observation.input", nested),
            kv("gen_ai.prompt", string(&long)),
            kv("input.value", string("short")),
        ];
        assert_eq!(truncate_attributes(&mut attrs, CONTENT_KEYS, 10), 6);
        let cut = "aaaaaaaaaa…[truncated 90 bytes]";
        assert_eq!(as_str(&attrs[0].value), cut);
        assert_eq!(as_str(&attrs[1].value), cut);
        assert_eq!(as_str(&attrs[2].value), long);
        assert_eq!(as_str(&attrs[3].value), long);
        assert_eq!(as_str(&attrs[6].value), cut);
        assert_eq!(as_str(&attrs[7].value), "short");
        let Some(any_value::Value::ArrayValue(array)) =
            attrs[4].value.as_ref().and_then(|v| v.value.as_ref())
        else {
            panic!("array");
        };
        assert_eq!(array.values[0], string(cut));
        assert_eq!(array.values[1], string("short"));
        let Some(any_value::Value::KvlistValue(list)) =
            attrs[5].value.as_ref().and_then(|v| v.value.as_ref())
        else {
            panic!("kvlist");
        };
        assert_eq!(as_str(&list.values[0].value), cut);
        let parts = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![string(cut)],
            })),
        };
        assert_eq!(list.values[1].value, Some(parts));
        // A second pass finds nothing more to cut.
        assert_eq!(truncate_attributes(&mut attrs, CONTENT_KEYS, 10), 0);
    }

    #[test]
    fn deep_nesting_is_walked_without_recursion() {
        let mut value = string(&"b".repeat(50));
        for _ in 0..500 {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        assert_eq!(truncate_value(&mut value, 8), 1);
        let mut inner = &value;
        while let Some(any_value::Value::ArrayValue(array)) = &inner.value {
            inner = &array.values[0];
        }
        assert_eq!(*inner, string("bbbbbbbb…[truncated 42 bytes]"));
    }

    #[test]
    fn key_patterns() {
        assert!(key_matches("gen_ai.prompt", "gen_ai.prompt.*"));
        assert!(key_matches("gen_ai.prompt.0.content", "gen_ai.prompt.*"));
        assert!(!key_matches("gen_ai.prompts", "gen_ai.prompt.*"));
        assert!(key_matches("input.value", "input.value"));
        assert!(!key_matches("input.value.x", "input.value"));
    }
}
