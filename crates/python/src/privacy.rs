//! The Rust redactor behind the package's privacy helpers: the same rules the SDK applies
//! to every record before it is queued (built-in rules, no custom ones, no salt).

use crate::convert;
use automagik_telemetry::Redactor;
use automagik_telemetry_core::redact::KeyClass;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::OnceLock;

static DEFAULT: OnceLock<Redactor> = OnceLock::new();

/// The redactor with the built-in rules, compiled once.
pub fn default_redactor() -> PyResult<&'static Redactor> {
    if let Some(r) = DEFAULT.get() {
        return Ok(r);
    }
    let built = Redactor::builder()
        .build()
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(DEFAULT.get_or_init(|| built))
}

/// The number of characters in `text` before byte `at` (Python indexes by character).
fn char_index(text: &str, at: usize) -> Option<usize> {
    text.get(..at).map(|head| head.chars().count())
}

/// `text` with every sensitive part replaced by its typed marker (`[REDACTED:email]`) and
/// the length cap applied, exactly as the SDK sends strings.
#[pyfunction]
pub fn redact_text(text: String) -> PyResult<String> {
    Ok(default_redactor()?.redact_str(&text).into_owned())
}

/// The sensitive parts of `text`, in order: `(start, end, rule, marker)` with character
/// offsets, the rule's name and the marker's name (`email` for `[REDACTED:email]`).
#[pyfunction]
pub fn pii_spans(text: String) -> PyResult<Vec<(usize, usize, String, String)>> {
    let redactor = default_redactor()?;
    Ok(redactor
        .explain(&text)
        .into_iter()
        .filter_map(|r| {
            let start = char_index(&text, r.range.start)?;
            let end = char_index(&text, r.range.end)?;
            Some((start, end, r.rule.to_string(), r.marker.to_string()))
        })
        .collect())
}

/// What an attribute key's name says about its value: `scan` (look at the value),
/// `allowed`, `secret` (redact it whole) or `user_id` (hash it).
#[pyfunction]
pub fn classify_key(key: String) -> PyResult<&'static str> {
    Ok(match default_redactor()?.classify_key(&key) {
        KeyClass::Scan => "scan",
        KeyClass::Allowed => "allowed",
        KeyClass::Secret => "secret",
        KeyClass::UserId => "user_id",
    })
}

/// `attributes` (a `dict`) as the SDK's redactor leaves them: key rules, value rules,
/// caps. User ids become `[REDACTED:user_id]` (a client hashes them with its install's
/// salt instead; see `Client.redact`).
#[pyfunction]
pub fn redact_attributes<'py>(
    py: Python<'py>,
    attributes: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut attrs = convert::attributes(Some(attributes))?;
    default_redactor()?.redact_attributes(&mut attrs);
    convert::dict_of(py, &attrs)
}
