//! `automagik_telemetry._native`: the Rust SDK (`automagik-telemetry`) as a CPython
//! extension module (stable ABI, CPython 3.9 and later). The Python package
//! `automagik_telemetry` is built on it; programs use that package, not this module.
//!
//! The layer is thin on purpose: defaults, environment variables, the consent order,
//! redaction, batching, retries, the spool and the exporters are the Rust SDK's. Python
//! values are converted to attributes here ([`convert`]), settings given in code are
//! handed to the SDK's builder ([`settings`]), and the effective configuration is the
//! SDK's own description (`automagik_telemetry::describe`), the same in every language.

mod client;
mod convert;
mod privacy;
mod settings;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The effective configuration and consent for `settings` (the `dict` a client would be
/// built from) and the environment, as JSON text, without building a client.
#[pyfunction]
#[pyo3(signature = (settings=None))]
fn effective_config_json(settings: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
    let settings = settings::Settings::from_py(settings)?;
    let effective = settings.effective().map_err(client::config_error)?;
    Ok(effective.to_json().to_string())
}

/// The consent decision for `settings` and the environment, as a `dict` (`enabled`,
/// `rule`, `message`, `variable`, `path`), without building a client.
#[pyfunction]
#[pyo3(signature = (settings=None))]
fn consent_decision<'py>(
    py: Python<'py>,
    settings: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let settings = settings::Settings::from_py(settings)?;
    let decision = settings.effective().map_err(client::config_error)?.decision;
    client::consent_dict(py, &decision)
}

/// Parses a W3C `traceparent`: `(trace_id, span_id, trace_flags)`; `ValueError` when it
/// is malformed.
#[pyfunction]
fn extract_traceparent(header: String) -> PyResult<(String, String, u8)> {
    let ctx = client::parse_traceparent(&header)?;
    Ok((
        ctx.trace_id.to_string(),
        ctx.span_id.to_string(),
        ctx.trace_flags,
    ))
}

/// The `traceparent` of this thread's current span as the Rust SDK sees it, if any.
#[pyfunction]
fn current_traceparent() -> Option<String> {
    automagik_telemetry::span::current_context().map(|c| c.to_traceparent())
}

#[pymodule]
mod _native {
    #[pymodule_export]
    use super::client::{Client, NativeAgentRun, NativeLlmCall, NativeSpan, NativeToolCall};
    #[pymodule_export]
    use super::privacy::{classify_key, pii_spans, redact_attributes, redact_text};
    #[pymodule_export]
    use super::{
        consent_decision, current_traceparent, effective_config_json, extract_traceparent,
    };

    /// `telemetry.sdk.name` of everything sent.
    #[pymodule_export]
    const SDK_NAME: &str = automagik_telemetry::SDK_NAME;

    /// The version of the Rust SDK inside (the workspace's version).
    #[pymodule_export]
    const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");
}
