//! The native client and its spans, agent runs, tool calls and LLM calls: thin wrappers
//! of the Rust SDK's types. Every call queues without blocking; `flush` and `shutdown`
//! wait, with the GIL released, no longer than their deadline.
//!
//! After `os.fork()` the child has a copy of the parent's client whose background thread
//! does not exist there. The Python package calls [`Client::abandon`] on it and builds a
//! new one; a copy is never shut down or dropped in the child (that would wait for a
//! thread that is not there): it is leaked, and so are spans of the parent's that end in
//! the child.

use crate::convert;
use crate::settings::Settings;
use automagik_telemetry::describe::rule_name;
use automagik_telemetry::{
    AgentRun, ConsentDecision, ConsentRule, DropReason, Effective, KeyValue, LlmCall, MetricKind,
    Severity, Span, SpanContext, SpanKind, SpanStatus, Telemetry, ToolCall, Value,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A configuration or consent error as a Python `ValueError`.
pub fn config_error(e: automagik_telemetry::ConfigError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A deadline given in seconds.
fn deadline(timeout: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(timeout)
        .map_err(|_| PyValueError::new_err("timeout: expected a non-negative number of seconds"))
}

/// The Rust severity of an OTLP severity number (1-24, by its range).
fn severity(number: i64) -> PyResult<Severity> {
    Ok(match number {
        1..=4 => Severity::Trace,
        5..=8 => Severity::Debug,
        9..=12 => Severity::Info,
        13..=16 => Severity::Warn,
        17..=20 => Severity::Error,
        21..=24 => Severity::Fatal,
        _ => {
            return Err(PyValueError::new_err(
                "severity: expected an OTLP severity number from 1 to 24",
            ));
        }
    })
}

fn metric_kind(kind: &str) -> PyResult<MetricKind> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "counter" | "sum" => Ok(MetricKind::Counter),
        "gauge" => Ok(MetricKind::Gauge),
        "histogram" => Ok(MetricKind::Histogram),
        other => Err(PyValueError::new_err(format!(
            "metric_type: expected counter, gauge or histogram; got {other:?}"
        ))),
    }
}

fn span_kind(kind: &str) -> PyResult<SpanKind> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "internal" => Ok(SpanKind::Internal),
        "server" => Ok(SpanKind::Server),
        "client" => Ok(SpanKind::Client),
        "producer" => Ok(SpanKind::Producer),
        "consumer" => Ok(SpanKind::Consumer),
        other => Err(PyValueError::new_err(format!(
            "kind: expected internal, server, client, producer or consumer; got {other:?}"
        ))),
    }
}

/// A parsed W3C `traceparent`, its parse error as a `ValueError`.
pub fn parse_traceparent(header: &str) -> PyResult<SpanContext> {
    SpanContext::from_traceparent(header).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The `exception.*` attributes the Rust SDK gives an error, from a Python exception's
/// type name, message and formatted traceback.
fn exception_attributes(
    type_name: String,
    message: String,
    stacktrace: Option<String>,
) -> Vec<KeyValue> {
    let mut attrs = vec![
        KeyValue::new("exception.type", type_name),
        KeyValue::new("exception.message", message),
    ];
    if let Some(s) = stacktrace.filter(|s| !s.is_empty()) {
        attrs.push(KeyValue::new("exception.stacktrace", s));
    }
    attrs
}

/// The consent decision as a `dict`: `enabled`, `rule`, `message`, and `variable` or
/// `path` when the rule names one.
pub fn consent_dict<'py>(
    py: Python<'py>,
    decision: &ConsentDecision,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("enabled", decision.enabled)?;
    d.set_item("rule", rule_name(&decision.rule))?;
    d.set_item("message", decision.to_string())?;
    let (variable, path) = match &decision.rule {
        ConsentRule::OptOutVariable(v) | ConsentRule::Development(v) => (Some(*v), None),
        ConsentRule::OptInVariable => (Some("AUTOMAGIK_TELEMETRY_ENABLED"), None),
        ConsentRule::OptOutFile(p) => (None, Some(p.display().to_string())),
        _ => (None, None),
    };
    d.set_item("variable", variable)?;
    d.set_item("path", path)?;
    Ok(d)
}

/// Takes what `slot` holds, to end it; in a forked child of the process that made it,
/// leaks it instead and gives `None` (its pipeline's thread is not in this process).
fn take_to_end<T>(slot: &mut Option<T>, pid: u32) -> Option<T> {
    let item = slot.take()?;
    if pid == std::process::id() {
        Some(item)
    } else {
        std::mem::forget(item);
        None
    }
}

/// The native telemetry client: an `automagik_telemetry::Telemetry` and the settings it
/// was built from.
#[pyclass(module = "automagik_telemetry._native", name = "Client", frozen)]
pub struct Client {
    telemetry: Option<Telemetry>,
    settings: Settings,
    pid: u32,
    abandoned: AtomicBool,
}

impl Client {
    /// The SDK client, unless abandoned after a fork.
    fn live(&self) -> Option<&Telemetry> {
        if self.abandoned.load(Ordering::Relaxed) {
            return None;
        }
        self.telemetry.as_ref().filter(|t| t.is_enabled())
    }
}

#[pymethods]
impl Client {
    /// Builds a client from settings given in code (see the package's `TelemetryConfig`);
    /// the environment and the defaults fill in the rest. Raises `ValueError` for a
    /// malformed setting or environment variable, naming it.
    #[new]
    #[pyo3(signature = (settings=None))]
    fn new(py: Python<'_>, settings: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let settings = Settings::from_py(settings)?;
        // Building reads files and starts the background thread: without the GIL.
        let telemetry = py.detach(|| settings.build()).map_err(config_error)?;
        Ok(Client {
            telemetry: Some(telemetry),
            settings,
            pid: std::process::id(),
            abandoned: AtomicBool::new(false),
        })
    }

    /// Whether anything is sent.
    fn is_enabled(&self) -> bool {
        self.live().is_some()
    }

    /// Why the client is enabled or disabled, as a `dict`.
    fn consent<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        match &self.telemetry {
            Some(t) => consent_dict(py, t.consent_decision()),
            None => consent_dict(
                py,
                &ConsentDecision {
                    enabled: false,
                    rule: ConsentRule::RevokedInCode,
                },
            ),
        }
    }

    /// The effective configuration as JSON text (`automagik_telemetry::describe`): the
    /// client's own when enabled, else the one its settings resolve to.
    fn describe_json(&self) -> PyResult<String> {
        let decision = match &self.telemetry {
            Some(t) => t.consent_decision().clone(),
            None => ConsentDecision {
                enabled: false,
                rule: ConsentRule::RevokedInCode,
            },
        };
        let config = match self.telemetry.as_ref().and_then(Telemetry::config) {
            Some(c) => c.clone(),
            None => self.settings.effective().map_err(config_error)?.config,
        };
        Ok(Effective { config, decision }.to_json().to_string())
    }

    /// The anonymous install id sent as `service.instance.id`, when enabled.
    fn install_id(&self) -> Option<String> {
        self.live()
            .and_then(Telemetry::install_id)
            .map(str::to_string)
    }

    /// A user id hashed with this install's salt, as attributes named like `user.id` are;
    /// `None` when disabled.
    fn hash_user_id(&self, id: String) -> Option<String> {
        self.live().and_then(|t| t.hash_user_id(&id))
    }

    /// What this client's redactor makes of `attributes` (a `dict`), as it would send them.
    fn redact<'py>(
        &self,
        py: Python<'py>,
        attributes: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut attrs = convert::attributes(Some(attributes))?;
        match self.live().and_then(Telemetry::redactor) {
            Some(r) => {
                r.redact_attributes(&mut attrs);
            }
            None => {
                crate::privacy::default_redactor()?.redact_attributes(&mut attrs);
            }
        }
        convert::dict_of(py, &attrs)
    }

    /// A product event: a log record with `event.name`.
    #[pyo3(signature = (name, attributes=None))]
    fn track_event(&self, name: String, attributes: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let Some(t) = self.live() else { return Ok(()) };
        t.track_event(name, convert::attributes(attributes)?);
        Ok(())
    }

    /// An error: a log record of severity ERROR with `exception.type`,
    /// `exception.message` and `exception.stacktrace`, and the given attributes.
    #[pyo3(signature = (type_name, message, stacktrace=None, attributes=None))]
    fn track_error(
        &self,
        type_name: String,
        message: String,
        stacktrace: Option<String>,
        attributes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let Some(t) = self.live() else { return Ok(()) };
        let mut attrs = exception_attributes(type_name, message.clone(), stacktrace);
        attrs.extend(convert::attributes(attributes)?);
        t.track_log(Severity::Error, message, attrs);
        Ok(())
    }

    /// A metric measurement of kind `counter`, `gauge` or `histogram`.
    #[pyo3(signature = (name, value, kind, attributes=None))]
    fn track_metric(
        &self,
        name: String,
        value: f64,
        kind: String,
        attributes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let kind = metric_kind(&kind)?;
        let Some(t) = self.live() else { return Ok(()) };
        t.track_metric(name, value, kind, convert::attributes(attributes)?);
        Ok(())
    }

    /// A log record with an OTLP severity number (1-24).
    #[pyo3(signature = (severity_number, body, attributes=None))]
    fn track_log(
        &self,
        severity_number: i64,
        body: String,
        attributes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let severity = severity(severity_number)?;
        let Some(t) = self.live() else { return Ok(()) };
        t.track_log(severity, body, convert::attributes(attributes)?);
        Ok(())
    }

    /// Exports everything queued so far, waiting at most `timeout` seconds with the GIL
    /// released. True when all of it was handled in time.
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let d = deadline(timeout)?;
        let Some(t) = self.live() else {
            return Ok(true);
        };
        Ok(py.detach(move || t.flush(d)).is_ok())
    }

    /// Flushes and stops the background thread within `timeout` seconds (GIL released).
    /// Records tracked afterwards are dropped and counted. True when it finished in time.
    fn shutdown(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let d = deadline(timeout)?;
        let Some(t) = self.live() else {
            return Ok(true);
        };
        Ok(py.detach(move || t.shutdown(d)).is_ok())
    }

    /// Delivery counters: `queued`, `exported`, `spooled`, `queue_depth`, `dropped` (by
    /// reason) and `dropped_total`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.live().map(Telemetry::stats).unwrap_or_default();
        let d = PyDict::new(py);
        d.set_item("queued", s.queued)?;
        d.set_item("exported", s.exported)?;
        d.set_item("spooled", s.spooled)?;
        d.set_item("queue_depth", s.queue_depth)?;
        let dropped = PyDict::new(py);
        for reason in DropReason::ALL {
            dropped.set_item(reason.as_str(), s.dropped(reason))?;
        }
        d.set_item("dropped", dropped)?;
        d.set_item("dropped_total", s.dropped_total())?;
        Ok(d)
    }

    /// The `traceparent` of this thread's current span (Rust's view), if any.
    fn inject_traceparent(&self) -> Option<String> {
        self.live().and_then(Telemetry::inject_traceparent)
    }

    /// Starts a span of `kind` (default `internal`): a child of `parent` (a `traceparent`;
    /// `parent_is_remote` when it came from another process), a new trace with `root`,
    /// else a child of this thread's current span. It is this thread's current span until
    /// it ends.
    #[pyo3(signature = (
        name, kind=None, parent=None, parent_is_remote=false, root=false, attributes=None
    ))]
    fn start_span(
        &self,
        name: String,
        kind: Option<String>,
        parent: Option<String>,
        parent_is_remote: bool,
        root: bool,
        attributes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<NativeSpan> {
        let kind = match kind {
            Some(k) => span_kind(&k)?,
            None => SpanKind::Internal,
        };
        let parent = parent.map(|p| parse_traceparent(&p)).transpose()?;
        let Some(t) = self.live() else {
            return Ok(NativeSpan::new(None));
        };
        let attrs = convert::attributes(attributes)?;
        let mut builder = t.span_builder(name).kind(kind);
        match parent {
            Some(mut p) => {
                p.is_remote = parent_is_remote;
                builder = builder.parent(p);
            }
            None if root => builder = builder.root(),
            None => {}
        }
        for kv in attrs {
            builder = builder.attribute(kv.key, kv.value);
        }
        Ok(NativeSpan::new(Some(builder.start())))
    }

    /// Starts a run of `agent` for `prompt` (a child of this thread's current span), with
    /// the given correlation id or a new one.
    #[pyo3(signature = (agent, prompt, correlation_id=None))]
    fn agent_run(
        &self,
        agent: String,
        prompt: String,
        correlation_id: Option<String>,
    ) -> NativeAgentRun {
        let Some(t) = self.live() else {
            return NativeAgentRun::new(None);
        };
        let run = match correlation_id {
            Some(id) => t.agent_run_with_id(agent, prompt, id),
            None => t.agent_run(agent, prompt),
        };
        NativeAgentRun::new(Some(run))
    }

    /// Marks this client as a copy left by `os.fork()`: it sends nothing more, and it is
    /// leaked rather than shut down (its thread is not in this process).
    fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let Some(t) = self.telemetry.take() else {
            return;
        };
        if self.abandoned.load(Ordering::Relaxed) || self.pid != std::process::id() {
            std::mem::forget(t);
            return;
        }
        if !t.is_enabled() {
            return;
        }
        // Dropping the last handle delivers what is queued within the drop timeout: off
        // the collecting thread, so that a garbage collection never waits on the network.
        let _ = std::thread::Builder::new()
            .name("automagik-telemetry-drop".into())
            .spawn(move || drop(t));
    }
}

/// A span in progress (or a no-op one when telemetry is disabled). It belongs to the
/// thread that started it.
#[pyclass(module = "automagik_telemetry._native", name = "Span", unsendable)]
pub struct NativeSpan {
    span: Option<Span>,
    // Kept after the span ends, so that its ids can still be read.
    context: Option<SpanContext>,
    pid: u32,
}

impl NativeSpan {
    fn new(span: Option<Span>) -> Self {
        NativeSpan {
            context: span.as_ref().and_then(Span::context),
            span,
            pid: std::process::id(),
        }
    }
}

#[pymethods]
impl NativeSpan {
    /// Whether the span records anything (false when disabled or ended).
    fn is_recording(&self) -> bool {
        self.span.as_ref().is_some_and(Span::is_recording)
    }

    /// The W3C `traceparent` for calls made on behalf of this span (also once ended).
    fn traceparent(&self) -> Option<String> {
        self.context.map(|c| c.to_traceparent())
    }

    /// The trace id, 32 hexadecimal digits (also once ended).
    fn trace_id(&self) -> Option<String> {
        self.context.map(|c| c.trace_id.to_string())
    }

    /// The span id, 16 hexadecimal digits (also once ended).
    fn span_id(&self) -> Option<String> {
        self.context.map(|c| c.span_id.to_string())
    }

    /// Sets (or replaces) an attribute; `None` is ignored.
    fn set_attribute(&mut self, key: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let Some(span) = self.span.as_mut() else {
            return Ok(());
        };
        if let Some(v) = convert::value(value)? {
            span.set_attribute(key, v);
        }
        Ok(())
    }

    /// A timestamped event inside the span.
    #[pyo3(signature = (name, attributes=None))]
    fn add_event(&mut self, name: String, attributes: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let Some(span) = self.span.as_mut() else {
            return Ok(());
        };
        span.add_event(name, convert::attributes(attributes)?);
        Ok(())
    }

    /// Sets the outcome: `ok`, `error` (with a description) or `unset`.
    #[pyo3(signature = (code, description=None))]
    fn set_status(&mut self, code: String, description: Option<String>) -> PyResult<()> {
        let status = match code.trim().to_ascii_lowercase().as_str() {
            "ok" => SpanStatus::Ok,
            "error" => SpanStatus::Error(Cow::Owned(description.unwrap_or_default())),
            "unset" => SpanStatus::Unset,
            other => {
                return Err(PyValueError::new_err(format!(
                    "status: expected ok, error or unset; got {other:?}"
                )));
            }
        };
        if let Some(span) = self.span.as_mut() {
            span.set_status(status);
        }
        Ok(())
    }

    /// Records an exception as the Rust SDK records an error: an `exception` event with
    /// `exception.*` attributes, and an error status with the message.
    #[pyo3(signature = (type_name, message, stacktrace=None))]
    fn record_exception(&mut self, type_name: String, message: String, stacktrace: Option<String>) {
        let Some(span) = self.span.as_mut() else {
            return;
        };
        span.add_event(
            "exception",
            exception_attributes(type_name, message.clone(), stacktrace),
        );
        span.set_status(SpanStatus::Error(Cow::Owned(message)));
    }

    /// Ends the span now (later calls do nothing).
    fn end(&mut self) {
        if let Some(span) = take_to_end(&mut self.span, self.pid) {
            span.end();
        }
    }
}

impl Drop for NativeSpan {
    fn drop(&mut self) {
        drop(take_to_end(&mut self.span, self.pid));
    }
}

/// A run of an AI agent (a no-op one when telemetry is disabled). It belongs to the thread
/// that started it.
#[pyclass(module = "automagik_telemetry._native", name = "AgentRun", unsendable)]
pub struct NativeAgentRun {
    run: Option<AgentRun>,
    // Kept after the run ends, so that its ids can still be read.
    correlation_id: String,
    context: Option<SpanContext>,
    pid: u32,
}

impl NativeAgentRun {
    fn new(run: Option<AgentRun>) -> Self {
        let correlation_id = run
            .as_ref()
            .map(|r| r.correlation_id().to_string())
            .unwrap_or_default();
        NativeAgentRun {
            context: run.as_ref().and_then(AgentRun::span_context),
            run,
            correlation_id,
            pid: std::process::id(),
        }
    }
}

#[pymethods]
impl NativeAgentRun {
    /// The run's correlation id (empty when disabled).
    #[getter]
    fn correlation_id(&self) -> String {
        self.correlation_id.clone()
    }

    /// Whether the run was ended (or never recorded anything).
    fn is_ended(&self) -> bool {
        self.run.is_none()
    }

    /// The run span's `traceparent` (also once ended).
    fn traceparent(&self) -> Option<String> {
        self.context.map(|c| c.to_traceparent())
    }

    /// The run's trace id (also once ended).
    fn trace_id(&self) -> Option<String> {
        self.context.map(|c| c.trace_id.to_string())
    }

    /// Sets an attribute of the run's span.
    fn set_attribute(&mut self, key: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        if let Some(v) = convert::value(value)? {
            run.span().set_attribute(key, v);
        }
        Ok(())
    }

    /// Progress: a stage and a percentage (clamped to 0-100).
    fn progress(&self, stage: String, percent: f64) {
        if let Some(run) = &self.run {
            run.progress(stage, percent);
        }
    }

    /// Starts a tool call with its parameters (any value; `None` for none).
    #[pyo3(signature = (tool, params=None))]
    fn tool_call(
        &self,
        tool: String,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<NativeToolCall> {
        let params = match params {
            Some(p) => convert::value(p)?,
            None => None,
        };
        let call = self
            .run
            .as_ref()
            .map(|run| run.tool_call(tool, params.unwrap_or(Value::Map(Vec::new()))));
        Ok(NativeToolCall {
            call,
            pid: std::process::id(),
        })
    }

    /// Starts an LLM call of `model` at `provider`.
    fn llm_call(&self, provider: String, model: String) -> NativeLlmCall {
        NativeLlmCall {
            call: self.run.as_ref().map(|run| run.llm_call(provider, model)),
            pid: std::process::id(),
        }
    }

    /// Scores the run (a `gen_ai.evaluation.result` event).
    #[pyo3(signature = (name, value, comment=String::new()))]
    fn score(&self, name: String, value: f64, comment: String) {
        if let Some(run) = &self.run {
            run.score(name, value, comment);
        }
    }

    /// A decision: the choice, the alternatives, a confidence (0-1) and the reasoning.
    fn decision(
        &self,
        choice: String,
        alternatives: Vec<String>,
        confidence: f64,
        reasoning: String,
    ) {
        if let Some(run) = &self.run {
            run.decision(choice, alternatives, confidence, reasoning);
        }
    }

    /// A routing decision: the agent chosen among the candidates.
    fn routing_decision(
        &self,
        selected_agent: String,
        candidates: Vec<String>,
        confidence: f64,
        reason: String,
    ) {
        if let Some(run) = &self.run {
            run.routing_decision(selected_agent, candidates, confidence, reason);
        }
    }

    /// A manifest injected into the agent's context.
    fn manifest_injection(&self, manifest_id: String, sections: Vec<String>, size_bytes: u64) {
        if let Some(run) = &self.run {
            run.manifest_injection(manifest_id, sections, size_bytes);
        }
    }

    /// An error the agent met (the run may still succeed).
    fn error(&self, message: String, kind: String) {
        if let Some(run) = &self.run {
            run.error(message, kind);
        }
    }

    /// A success of one step.
    fn success(&self, message: String) {
        if let Some(run) = &self.run {
            run.success(message);
        }
    }

    /// Ends the run as completed with a quality score (clamped to 0-1).
    fn complete(&mut self, quality_score: f64) {
        if let Some(run) = take_to_end(&mut self.run, self.pid) {
            run.complete(quality_score);
        }
    }

    /// Ends the run as failed.
    fn fail(&mut self, error: String) {
        if let Some(run) = take_to_end(&mut self.run, self.pid) {
            run.fail(error);
        }
    }

    /// Ends the run as dropping it does in Rust: a run neither completed nor failed is
    /// recorded as failed ("the run ended without complete() or fail()").
    fn close(&mut self) {
        drop(take_to_end(&mut self.run, self.pid));
    }
}

impl Drop for NativeAgentRun {
    fn drop(&mut self) {
        drop(take_to_end(&mut self.run, self.pid));
    }
}

/// A tool call in progress; end it with `ok` or `err`.
#[pyclass(module = "automagik_telemetry._native", name = "ToolCall", unsendable)]
pub struct NativeToolCall {
    call: Option<ToolCall>,
    pid: u32,
}

#[pymethods]
impl NativeToolCall {
    /// Whether the call was ended (or never recorded anything).
    fn is_ended(&self) -> bool {
        self.call.is_none()
    }

    /// Ends the call with its result (any value).
    #[pyo3(signature = (result=None))]
    fn ok(&mut self, result: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let result = match result {
            Some(r) => convert::value(r)?,
            None => None,
        };
        if let Some(call) = take_to_end(&mut self.call, self.pid) {
            call.ok(result.unwrap_or(Value::Str(Cow::Borrowed(""))));
        }
        Ok(())
    }

    /// Ends the call with an error.
    fn err(&mut self, error: String) {
        if let Some(call) = take_to_end(&mut self.call, self.pid) {
            call.err(error);
        }
    }

    /// Ends the call as dropping it does in Rust: unfinished, it is recorded as an error.
    fn close(&mut self) {
        drop(take_to_end(&mut self.call, self.pid));
    }
}

impl Drop for NativeToolCall {
    fn drop(&mut self) {
        drop(take_to_end(&mut self.call, self.pid));
    }
}

/// An LLM call in progress; set its figures, then end it with `ok` or `err`.
#[pyclass(module = "automagik_telemetry._native", name = "LlmCall", unsendable)]
pub struct NativeLlmCall {
    call: Option<LlmCall>,
    pid: u32,
}

#[pymethods]
impl NativeLlmCall {
    /// Whether the call was ended (or never recorded anything).
    fn is_ended(&self) -> bool {
        self.call.is_none()
    }

    /// The operation when not a chat completion (`text_completion`, `embeddings`, ...).
    fn operation(&mut self, operation: String) {
        if let Some(c) = self.call.as_mut() {
            c.operation(operation);
        }
    }

    /// The model that answered, when it differs from the one asked for.
    fn response_model(&mut self, model: String) {
        if let Some(c) = self.call.as_mut() {
            c.response_model(model);
        }
    }

    /// Input tokens (cached ones included) and output tokens (reasoning included).
    fn usage(&mut self, input_tokens: u64, output_tokens: u64) {
        if let Some(c) = self.call.as_mut() {
            c.usage(input_tokens, output_tokens);
        }
    }

    /// Input tokens read from and written to the provider's cache.
    fn cache(&mut self, read: u64, write: u64) {
        if let Some(c) = self.call.as_mut() {
            c.cache(read, write);
        }
    }

    /// Output tokens spent on reasoning.
    fn reasoning(&mut self, tokens: u64) {
        if let Some(c) = self.call.as_mut() {
            c.reasoning(tokens);
        }
    }

    /// The messages sent, as JSON text in the GenAI messages shape.
    fn input_messages(&mut self, json: String) {
        if let Some(c) = self.call.as_mut() {
            c.input_messages(json);
        }
    }

    /// The messages answered, as JSON text in the GenAI messages shape.
    fn output_messages(&mut self, json: String) {
        if let Some(c) = self.call.as_mut() {
            c.output_messages(json);
        }
    }

    /// Ends the call with why the model stopped (`stop`, `length`, `tool_calls`, ...).
    fn ok(&mut self, finish_reason: String) {
        if let Some(call) = take_to_end(&mut self.call, self.pid) {
            call.ok(finish_reason);
        }
    }

    /// Ends the call with an error.
    fn err(&mut self, error: String) {
        if let Some(call) = take_to_end(&mut self.call, self.pid) {
            call.err(error);
        }
    }

    /// Ends the call as dropping it does in Rust: unfinished, it is recorded as an error.
    fn close(&mut self) {
        drop(take_to_end(&mut self.call, self.pid));
    }
}

impl Drop for NativeLlmCall {
    fn drop(&mut self) {
        drop(take_to_end(&mut self.call, self.pid));
    }
}
