//! The privacy helpers' answers, from the SDK's redactor with its built-in rules (the
//! redactor a client sends through has the same rules, plus its install's salt for user
//! ids).

use crate::convert;
use automagik_telemetry::Redactor;
use automagik_telemetry_core::redact::{KeyClass, marker};
use napi::{Error, Result};
use napi_derive::napi;
use serde_json::Value as Json;
use std::sync::OnceLock;

static BUILT_IN: OnceLock<Option<Redactor>> = OnceLock::new();

/// The redactor with the built-in rules and no salt, built once.
fn built_in() -> Result<&'static Redactor> {
    BUILT_IN
        .get_or_init(|| Redactor::builder().build().ok())
        .as_ref()
        .ok_or_else(|| Error::from_reason("the built-in redaction rules did not compile"))
}

/// `text` with every sensitive part replaced by its marker (`[REDACTED:email]`, ...) and
/// the length cap applied.
#[napi]
pub fn redact_text(text: String) -> Result<String> {
    Ok(built_in()?.redact_str(&text).into_owned())
}

/// Whether any rule would replace part of `text`.
#[napi]
pub fn detect_pii(text: String) -> Result<bool> {
    Ok(!built_in()?.explain(&text).is_empty())
}

/// One replacement the redactor would make: the rule and the marker's name (never the
/// replaced text).
#[napi(object)]
pub struct RedactionMatch {
    /// The rule's name, such as `email` or `bearer`.
    pub rule: String,
    /// The name inside the marker, as in `[REDACTED:<marker>]`.
    pub marker: String,
}

/// The replacements [`redact_text`] makes in `text`, in the order of the text.
#[napi]
pub fn explain_redaction(text: String) -> Result<Vec<RedactionMatch>> {
    Ok(built_in()?
        .explain(&text)
        .into_iter()
        .map(|r| RedactionMatch {
            rule: r.rule.to_string(),
            marker: r.marker.to_string(),
        })
        .collect())
}

/// `text` with only the parts whose marker is `marker_name` (`email`, `phone`, ...)
/// replaced; the rest is left as it is.
#[napi]
pub fn redact_only(text: String, marker_name: String) -> Result<String> {
    let replacement = marker(&marker_name);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in built_in()?.explain(&text) {
        if r.marker != marker_name || r.range.start < last {
            continue;
        }
        let (Some(before), true) = (text.get(last..r.range.start), r.range.end <= text.len())
        else {
            continue;
        };
        out.push_str(before);
        out.push_str(&replacement);
        last = r.range.end;
    }
    out.push_str(text.get(last..).unwrap_or_default());
    Ok(out)
}

/// A value (a string, an array or an object, nested) redacted as attributes are before
/// they are sent: sensitive keys' values replaced whole, user ids hashed (without a
/// salt: a marker), strings scanned, caps applied. `null` items and keys are left out.
#[napi]
pub fn redact_json(value: Option<Json>) -> Result<Option<Json>> {
    let redactor = built_in()?;
    Ok(value.and_then(convert::value).map(|mut v| {
        redactor.redact_value(&mut v, 0);
        convert::to_json(v)
    }))
}

/// What a key's name says about its value: `scan`, `allowed`, `secret` or `user_id`.
#[napi]
pub fn classify_key(key: String) -> Result<String> {
    Ok(match built_in()?.classify_key(&key) {
        KeyClass::Scan => "scan",
        KeyClass::Allowed => "allowed",
        KeyClass::Secret => "secret",
        KeyClass::UserId => "user_id",
    }
    .to_string())
}
