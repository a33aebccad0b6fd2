'use strict';
/**
 * @automagik/telemetry: privacy-first telemetry for Node.js. The Automagik Telemetry
 * Rust SDK does the work (consent, configuration, redaction, batching, retries, the
 * spool, the exporters) in a native addon; this file is the JavaScript API over it:
 * the 0.1.x API, spans with AsyncLocalStorage context, the agent run API, and the flush
 * at process exit.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const readline = require('node:readline');
const { AsyncLocalStorage } = require('node:async_hooks');

const VERSION = require('./package.json').version;

/** Loads the addon built next to this file (`napi build`, with or without `--platform`). */
function loadNative() {
  const abi = { linux: ['gnu', 'musl'], win32: ['msvc'] }[process.platform] || [];
  const names = [
    ...abi.map((a) => `automagik-telemetry.${process.platform}-${process.arch}-${a}.node`),
    `automagik-telemetry.${process.platform}-${process.arch}.node`,
    'automagik-telemetry.node',
  ];
  const errors = [];
  for (const name of names) {
    const file = path.join(__dirname, name);
    if (!fs.existsSync(file)) continue;
    try {
      return require(file);
    } catch (e) {
      errors.push(`${name}: ${e.message}`);
    }
  }
  throw new Error(
    `@automagik/telemetry: no native addon could be loaded from ${__dirname} ` +
      `(looked for ${names.join(', ')})${errors.length ? `: ${errors.join('; ')}` : ''}. ` +
      'Build it with `napi build --release` in the package folder.',
  );
}

const native = loadNative();

/** The version of the Rust SDK inside the addon. */
const SDK_VERSION = native.sdkVersion();

// ---------------------------------------------------------------------------------------
// Constants of the 0.1.x API.

/** Log severity levels (OTLP severity numbers), with the reverse mapping of a TypeScript enum. */
const LogSeverity = Object.freeze({
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
  1: 'TRACE',
  5: 'DEBUG',
  9: 'INFO',
  13: 'WARN',
  17: 'ERROR',
  21: 'FATAL',
});

/** Metric types. */
const MetricType = Object.freeze({
  GAUGE: 'gauge',
  COUNTER: 'counter',
  HISTOGRAM: 'histogram',
});

/** Span kinds (OTLP). */
const SpanKind = Object.freeze({
  INTERNAL: 'internal',
  SERVER: 'server',
  CLIENT: 'client',
  PRODUCER: 'producer',
  CONSUMER: 'consumer',
});

/** Standard event names shared by the Automagik projects. */
class StandardEvents {}
Object.defineProperties(StandardEvents, {
  FEATURE_USED: { value: 'automagik.feature.used', enumerable: true },
  API_REQUEST: { value: 'automagik.api.request', enumerable: true },
  COMMAND_EXECUTED: { value: 'automagik.cli.command', enumerable: true },
  OPERATION_LATENCY: { value: 'automagik.performance.latency', enumerable: true },
  ERROR_OCCURRED: { value: 'automagik.error', enumerable: true },
  SERVICE_HEALTH: { value: 'automagik.health', enumerable: true },
});

/** The name of the opt-out file in the home directory (the SDK's). */
const OPT_OUT_FILE = '.automagik-no-telemetry';

/** The keys of `effectiveConfig()`, the same in every language of the SDK (the Rust SDK's description). */
const EFFECTIVE_CONFIG_KEYS = Object.freeze([
  'enabled',
  'consent_rule',
  'consent',
  'project_name',
  'version',
  'endpoint',
  'traces_endpoint',
  'metrics_endpoint',
  'logs_endpoint',
  'backend',
  'batch_size',
  'flush_interval_ms',
  'queue_size',
  'compression',
  'compression_threshold',
  'max_retries',
  'retry_backoff_ms',
  'max_backoff_ms',
  'retry_budget_ms',
  'timeout_ms',
  'spool_dir',
  'spool_max_bytes',
  'verbose',
  'file_path',
  'kafka_brokers',
  'clickhouse_endpoint',
  'clickhouse_database',
  'clickhouse_user',
  'clickhouse_create_schema',
  'header_names',
  'resource_attributes',
  'drop_timeout_ms',
]);

// ---------------------------------------------------------------------------------------
// Attribute values: what the addon accepts is JSON; everything else is made JSON here.

const MAX_NORMALIZE_DEPTH = 8;

function isPlainValue(v) {
  const t = typeof v;
  return t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v));
}

/** One value as JSON; `undefined` for what has none (functions, symbols, `undefined`). */
function normalizeValue(v, depth, seen) {
  if (v === null) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'bigint':
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v.toString();
    case 'object':
      break;
    default:
      return undefined;
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (depth >= MAX_NORMALIZE_DEPTH) return '[TRUNCATED:depth]';
  if (seen.has(v)) return '[Circular]';
  seen.add(v);
  try {
    if (Array.isArray(v) || v instanceof Set || ArrayBuffer.isView(v)) {
      return Array.from(v, (item) => {
        const n = normalizeValue(item, depth + 1, seen);
        return n === undefined ? null : n;
      });
    }
    if (v instanceof Map) {
      return normalizeObject(Object.fromEntries(v), depth + 1, seen);
    }
    if (typeof v.toJSON === 'function') {
      return normalizeValue(v.toJSON(), depth + 1, seen);
    }
    return normalizeObject(v, depth + 1, seen);
  } finally {
    seen.delete(v);
  }
}

function normalizeObject(obj, depth, seen) {
  const out = {};
  for (const key of Object.keys(obj)) {
    const n = normalizeValue(obj[key], depth, seen);
    if (n !== undefined) out[key] = n;
  }
  return out;
}

/**
 * Attributes for the addon: the object itself when every value is a string, a boolean or
 * a finite number (no copy), else a normalized copy.
 */
function toAttributes(obj) {
  if (obj === null || typeof obj !== 'object') return undefined;
  if (Object.getPrototypeOf(obj) === Object.prototype || Object.getPrototypeOf(obj) === null) {
    let plain = true;
    for (const key of Object.keys(obj)) {
      if (!isPlainValue(obj[key])) {
        plain = false;
        break;
      }
    }
    if (plain) return obj;
  }
  return normalizeObject(obj instanceof Map ? Object.fromEntries(obj) : obj, 0, new Set([obj]));
}

/** Attributes as the addon reads them: the JSON text of `toAttributes(obj)`, or `undefined`. */
function attributesJson(obj) {
  const attrs = toAttributes(obj);
  return attrs === undefined ? undefined : JSON.stringify(attrs);
}

function toJsonValue(v) {
  const n = normalizeValue(v, 0, new Set());
  return n === undefined ? null : n;
}

function severityNumber(severity) {
  if (typeof severity === 'number' && Number.isFinite(severity)) return severity;
  if (typeof severity === 'string') {
    const name = severity.trim().toUpperCase();
    if (name === 'WARNING') return LogSeverity.WARN;
    if (name === 'CRITICAL') return LogSeverity.FATAL;
    if (typeof LogSeverity[name] === 'number') return LogSeverity[name];
  }
  return LogSeverity.INFO;
}

function metricKind(metricType) {
  const kind = String(metricType ?? MetricType.GAUGE).toLowerCase();
  if (kind === 'counter' || kind === 'sum') return 'counter';
  if (kind === 'histogram') return 'histogram';
  return 'gauge';
}

function errorParts(error) {
  if (error instanceof Error) {
    return [error.name || 'Error', String(error.message ?? ''), error.stack];
  }
  if (error !== null && typeof error === 'object') {
    return [String(error.name ?? 'Error'), String(error.message ?? ''), error.stack];
  }
  return ['Error', String(error), undefined];
}

function optionalNumber(v) {
  return typeof v === 'number' ? v : undefined;
}

function stringMap(obj) {
  if (obj === null || typeof obj !== 'object') return undefined;
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v !== undefined && v !== null) out[k] = String(v);
  }
  return out;
}

/** The 0.1.x base URL rule: a trailing `/v1/traces` (or another signal's path) is dropped. */
function baseEndpoint(endpoint) {
  if (typeof endpoint !== 'string') return undefined;
  return endpoint
    .trim()
    .replace(/\/v1\/(traces|metrics|logs)\/?$/, '')
    .replace(/\/+$/, '');
}

/** The addon's options from the constructor's (durations in milliseconds, `timeout` in seconds). */
function nativeOptions(config) {
  const env = config.env ?? process.env;
  const resourceAttributes = {
    'process.runtime.name': 'nodejs',
    'process.runtime.version': process.versions.node,
    ...(config.organization !== undefined ? { 'service.organization': config.organization } : {}),
    ...(stringMap(config.resourceAttributes) ?? {}),
  };
  let compression = config.compression;
  if (compression === undefined && config.compressionEnabled === false) compression = 'none';
  return {
    projectName: config.projectName,
    version: config.version,
    endpoint: baseEndpoint(config.endpoint),
    backend: config.backend,
    batchSize: optionalNumber(config.batchSize),
    flushIntervalMs: optionalNumber(config.flushInterval),
    queueSize: optionalNumber(config.queueSize),
    compression,
    compressionThreshold: optionalNumber(config.compressionThreshold),
    maxRetries: optionalNumber(config.maxRetries),
    retryBackoffMs: optionalNumber(config.retryBackoffBase),
    maxBackoffMs: optionalNumber(config.maxBackoff),
    retryBudgetMs: optionalNumber(config.retryBudget),
    timeoutMs: typeof config.timeout === 'number' ? config.timeout * 1000 : undefined,
    spoolDir: config.spoolDir,
    spoolMaxBytes: optionalNumber(config.spoolMaxBytes),
    verbose: config.verbose,
    filePath: config.filePath,
    flushTimeoutMs: optionalNumber(config.flushTimeout),
    headers: stringMap(config.headers),
    resourceAttributes,
    clickhouseEndpoint: config.clickhouseEndpoint,
    clickhouseDatabase: config.clickhouseDatabase,
    clickhouseUser: config.clickhouseUsername ?? config.clickhouseUser,
    clickhousePassword: config.clickhousePassword,
    consent: config.enabled,
    defaultEnabled: config.defaultEnabled,
    homeDir: config.homeDir,
    stateDir: config.stateDir,
    env: stringMap(env) ?? {},
  };
}

// ---------------------------------------------------------------------------------------
// The flush at process exit: registered once, for every client not shut down.

const openClients = new Set();
let exitHooked = false;

function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  // The event loop has emptied: shut each open client down, each within its own flush
  // timeout. The shutdowns run on the libuv thread pool and keep the loop alive only until
  // their deadline; when they are done the loop empties again, no client is open, and the
  // process exits.
  process.on('beforeExit', () => {
    if (openClients.size === 0) return;
    const clients = [...openClients];
    openClients.clear();
    for (const client of clients) client.shutdown().catch(() => {});
  });
  // `process.exit()` or a fatal error: nothing asynchronous can run any more, so the
  // clients still open are shut down on this thread, each within its flush timeout.
  process.on('exit', () => {
    const clients = [...openClients];
    openClients.clear();
    for (const client of clients) client._shutdownNow();
  });
}

// ---------------------------------------------------------------------------------------
// Spans.

const spanStorage = new AsyncLocalStorage();

function toTraceContext(ctx) {
  if (!ctx) return null;
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceFlags: ctx.traceFlags,
    sampled: ctx.sampled,
    traceparent: ctx.traceparent,
  };
}

/**
 * Parses a W3C `traceparent` header value; `null` when it is not a valid one.
 */
function extractTraceparent(header) {
  if (Array.isArray(header)) header = header[0];
  if (typeof header !== 'string') return null;
  return toTraceContext(native.parseTraceparent(header));
}

function parentTraceparent(parent) {
  if (parent === null || parent === undefined) return undefined;
  if (typeof parent === 'string') return parent;
  if (parent instanceof Span || parent instanceof AgentRun) return parent.traceparent;
  if (typeof parent.traceparent === 'string') return parent.traceparent;
  if (typeof parent.traceId === 'string' && typeof parent.spanId === 'string') {
    const flags = Number(parent.traceFlags ?? 1) & 0xff;
    return `00-${parent.traceId}-${parent.spanId}-${flags.toString(16).padStart(2, '0')}`;
  }
  return undefined;
}

/** A span in progress; end it with `end()`. */
class Span {
  constructor(client, handle, name) {
    this._client = client;
    this._handle = handle;
    this._ended = false;
    this.name = name;
  }

  /** Whether the span records anything. */
  isRecording() {
    return !this._ended && this._handle.isRecording();
  }

  /** The span's identity, or `null` when it records nothing. */
  spanContext() {
    return toTraceContext(this._handle.context());
  }

  /** The W3C `traceparent` for calls made on behalf of this span, or `undefined`. */
  get traceparent() {
    return this._handle.context()?.traceparent ?? undefined;
  }

  /** Sets (or replaces) an attribute; the value passes the redactor. */
  setAttribute(key, value) {
    try {
      this._handle.setAttribute(String(key), toJsonValue(value));
    } catch {
      // Telemetry never throws into the program.
    }
    return this;
  }

  /** Sets several attributes. */
  setAttributes(attributes) {
    for (const [k, v] of Object.entries(attributes ?? {})) this.setAttribute(k, v);
    return this;
  }

  /** Records a timestamped event inside the span. */
  addEvent(name, attributes) {
    try {
      this._handle.addEvent(String(name), attributesJson(attributes));
    } catch {
      // Telemetry never throws into the program.
    }
    return this;
  }

  /** Sets the outcome: `'ok'`, `'error'` (with a message) or `'unset'`. */
  setStatus(code, message) {
    this._handle.setStatus(String(code), message === undefined ? undefined : String(message));
    return this;
  }

  /** Records an error: an `exception` event and an error status. */
  recordException(error) {
    const [kind, message, stack] = errorParts(error);
    this._handle.recordException(kind, message, typeof stack === 'string' ? stack : undefined);
    return this;
  }

  /** Ends the span (later calls do nothing). */
  end() {
    if (this._ended) return;
    this._ended = true;
    this._handle.end();
  }
}

// ---------------------------------------------------------------------------------------
// The agent run API.

/** A tool call in progress: end it with `ok(result)` or `err(error)`. */
class ToolCall {
  constructor(handle) {
    this._handle = handle;
  }

  /** Ends the call with its result. */
  ok(result) {
    this._handle.ok(toJsonValue(result ?? ''));
  }

  /** Ends the call with an error. */
  err(error) {
    this._handle.err(error instanceof Error ? error.message : String(error));
  }
}

function messagesJson(messages) {
  return typeof messages === 'string' ? messages : JSON.stringify(messages ?? []);
}

/** An LLM call in progress: set its figures, then end it with `ok()` or `err()`. */
class LlmCall {
  constructor(handle) {
    this._handle = handle;
  }

  /** The operation when not a chat completion (`text_completion`, `embeddings`, ...). */
  operation(operation) {
    this._handle.operation(String(operation));
    return this;
  }

  /** The model that answered, when it differs from the one asked for. */
  responseModel(model) {
    this._handle.responseModel(String(model));
    return this;
  }

  /** Input tokens (cached included) and output tokens (reasoning included). */
  usage(inputTokens, outputTokens) {
    this._handle.usage(Number(inputTokens) || 0, Number(outputTokens) || 0);
    return this;
  }

  /** Input tokens read from and written to the provider's cache. */
  cache(read, write = 0) {
    this._handle.cache(Number(read) || 0, Number(write) || 0);
    return this;
  }

  /** Output tokens spent on reasoning. */
  reasoning(tokens) {
    this._handle.reasoning(Number(tokens) || 0);
    return this;
  }

  /** The messages sent: GenAI messages (an array, or its JSON text). */
  inputMessages(messages) {
    this._handle.inputMessages(messagesJson(messages));
    return this;
  }

  /** The messages answered: GenAI messages (an array, or its JSON text). */
  outputMessages(messages) {
    this._handle.outputMessages(messagesJson(messages));
    return this;
  }

  /** Ends the call, with why the model stopped. */
  ok(finishReason = 'stop') {
    this._handle.ok(String(finishReason));
  }

  /** Ends the call with an error. */
  err(error) {
    this._handle.err(error instanceof Error ? error.message : String(error));
  }
}

/** A run of an agent: end it with `complete(score)` or `fail(error)`. */
class AgentRun {
  constructor(client, handle) {
    this._client = client;
    this._handle = handle;
    this.correlationId = handle.correlationId();
  }

  /** The run span's identity, or `null` when it records nothing. */
  spanContext() {
    return toTraceContext(this._handle.context());
  }

  /** The run span's W3C `traceparent`, or `undefined`. */
  get traceparent() {
    return this._handle.context()?.traceparent ?? undefined;
  }

  /** Whether the run has not ended yet. */
  get isOpen() {
    return this._handle.isOpen();
  }

  /** Sets an attribute on the run's span. */
  setAttribute(key, value) {
    this._handle.setAttribute(String(key), toJsonValue(value));
    return this;
  }

  /** Reports progress: a stage and a percentage (0-100). */
  progress(stage, percent) {
    this._handle.progress(String(stage), Number(percent) || 0);
  }

  /** Starts a tool call with its parameters (a string or an object). */
  toolCall(tool, params) {
    return new ToolCall(this._handle.toolCall(String(tool), toJsonValue(params ?? '')));
  }

  /** Records a decision: the choice, the alternatives, a confidence (0-1) and the reasoning. */
  decision(choice, alternatives = [], confidence = 1, reasoning = '') {
    this._handle.decision(
      String(choice),
      Array.from(alternatives, String),
      Number(confidence),
      String(reasoning),
    );
  }

  /** Records a routing decision: the agent chosen among the candidates. */
  routingDecision(selectedAgent, candidates = [], confidence = 1, reason = '') {
    this._handle.routingDecision(
      String(selectedAgent),
      Array.from(candidates, String),
      Number(confidence),
      String(reason),
    );
  }

  /** Records a manifest injected into the agent's context. */
  manifestInjection(manifestId, sections = [], sizeBytes = 0) {
    this._handle.manifestInjection(
      String(manifestId),
      Array.from(sections, String),
      Number(sizeBytes) || 0,
    );
  }

  /** Records an error the agent met (the run may still succeed). */
  error(message, kind = 'error') {
    this._handle.error(message instanceof Error ? message.message : String(message), String(kind));
  }

  /** Records the success of one step. */
  success(message) {
    this._handle.success(String(message));
  }

  /** Starts an LLM call of `model` at `provider`. */
  llmCall(provider, model) {
    return new LlmCall(this._handle.llmCall(String(provider), String(model)));
  }

  /** Scores the run: a named value with a comment. */
  score(name, value, comment = '') {
    this._handle.score(String(name), Number(value), String(comment));
  }

  /** A span that is a child of the run's span. */
  startSpan(name, options) {
    return this._client.startSpan(name, { ...(options ?? {}), parent: this });
  }

  /** Ends the run as completed with a quality score (0-1, default 1). */
  complete(qualityScore = 1) {
    const q = Number(qualityScore);
    this._handle.complete(Number.isFinite(q) ? q : 1);
  }

  /** Ends the run as failed. */
  fail(error) {
    this._handle.fail(error instanceof Error ? error.message : String(error));
  }
}

// ---------------------------------------------------------------------------------------
// The client.

/**
 * Privacy-first telemetry client. Disabled unless consent is given
 * (`AUTOMAGIK_TELEMETRY_ENABLED=true`, or `enabled: true` in code), and never in an
 * opted-out or development environment.
 */
class AutomagikTelemetry {
  constructor(config = {}) {
    this._options = nativeOptions(config);
    this._native = new native.NativeClient(this._options);
    this._enabled = this._native.isEnabled();
    this._sessionId = crypto.randomUUID();
    this._flushOnExit = config.flushOnExit !== false;
    this._shutDown = false;
    if (this._flushOnExit) {
      openClients.add(this);
      hookExit();
    }
  }

  // --- The 0.1.x API --------------------------------------------------------------------

  /** Counts a call whose record could not be made (an attribute getter threw, say). */
  _countUnconvertible() {
    try {
      this._native.countUnconvertible();
    } catch {
      // Nothing more to do.
    }
  }

  /** Tracks a product event. */
  trackEvent(eventName, attributes) {
    if (!this._enabled) return;
    try {
      this._native.trackEvent(String(eventName), attributesJson(attributes));
    } catch {
      // Telemetry never throws into the program; the call still counts, as dropped.
      this._countUnconvertible();
    }
  }

  /** Tracks an error, with context. */
  trackError(error, context) {
    if (!this._enabled) return;
    try {
      const [kind, message, stack] = errorParts(error);
      this._native.trackError(
        kind,
        message,
        typeof stack === 'string' ? stack : undefined,
        attributesJson(context),
      );
    } catch {
      // Telemetry never throws into the program; the call still counts, as dropped.
      this._countUnconvertible();
    }
  }

  /** Tracks a metric measurement (default: a gauge). */
  trackMetric(metricName, value, metricType = MetricType.GAUGE, attributes) {
    if (!this._enabled) return;
    try {
      this._native.trackMetric(
        String(metricName),
        Number(value),
        metricKind(metricType),
        attributesJson(attributes),
      );
    } catch {
      // Telemetry never throws into the program; the call still counts, as dropped.
      this._countUnconvertible();
    }
  }

  /** Tracks a log message (default severity: INFO). */
  trackLog(message, severity = LogSeverity.INFO, attributes) {
    if (!this._enabled) return;
    try {
      this._native.trackLog(severityNumber(severity), String(message), attributesJson(attributes));
    } catch {
      // Telemetry never throws into the program; the call still counts, as dropped.
      this._countUnconvertible();
    }
  }

  /**
   * Exports everything queued so far. Resolves by the deadline (default: `flushTimeout`)
   * with `true` when it was all delivered (or spooled), `false` when the deadline came
   * first; never rejects.
   */
  flush(timeoutMs) {
    let task;
    try {
      task = this._native.flush(optionalNumber(timeoutMs));
    } catch {
      return Promise.resolve(false);
    }
    return task.then(
      (outcome) => outcome === 'ok',
      () => false,
    );
  }

  /** Removes the opt-out file and grants consent in code (opt-out variables still win). */
  enable() {
    try {
      this._enabled = this._native.enable();
    } catch {
      this._enabled = this._native.isEnabled();
    }
    if (this._enabled) {
      this._shutDown = false;
      if (this._flushOnExit) {
        openClients.add(this);
        hookExit();
      }
    }
  }

  /**
   * Stops sending at once and writes the opt-out file; what was queued is flushed within
   * the deadline (default: `flushTimeout`).
   */
  disable(timeoutMs) {
    this._enabled = false;
    let task;
    try {
      task = this._native.disable(optionalNumber(timeoutMs));
    } catch {
      return Promise.resolve();
    }
    return task.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Whether anything is sent. */
  isEnabled() {
    return this._enabled;
  }

  /** Status and configuration, in the 0.1.x shape plus the consent decision, the full configuration and the counters. */
  getStatus() {
    const config = this._native.configJson();
    const optOutFile = this._native.optOutFile();
    const env = this._options.env;
    return {
      enabled: this.isEnabled(),
      user_id: this._native.installId() ?? null,
      session_id: this._sessionId,
      project_name: config.project_name,
      project_version: config.version,
      endpoint: `${config.endpoint}/v1/traces`,
      metricsEndpoint: `${config.endpoint}/v1/metrics`,
      logsEndpoint: `${config.endpoint}/v1/logs`,
      opt_out_file_exists: optOutFile ? fs.existsSync(optOutFile) : false,
      env_var: env.AUTOMAGIK_TELEMETRY_ENABLED,
      verbose: config.verbose,
      backend: config.backend,
      consent: this._native.consentDecision(),
      config,
      stats: this._native.stats(),
    };
  }

  // --- Beyond 0.1.x ---------------------------------------------------------------------

  /** Flushes and stops the client within the deadline (default: `flushTimeout`); never rejects. */
  shutdown(timeoutMs) {
    openClients.delete(this);
    this._enabled = false;
    this._shutDown = true;
    let task;
    try {
      task = this._native.shutdown(optionalNumber(timeoutMs));
    } catch {
      return Promise.resolve(false);
    }
    return task.then(
      (outcome) => outcome === 'ok',
      () => false,
    );
  }

  /** At `exit`: the shutdown on this thread. */
  _shutdownNow() {
    this._enabled = false;
    this._shutDown = true;
    try {
      this._native.shutdownNow(undefined);
    } catch {
      // Exiting anyway.
    }
  }

  /** Why the client is enabled or disabled, and which rule said so. */
  consentDecision() {
    return this._native.consentDecision();
  }

  /** Delivery counters: queued, exported, spooled, queue depth, dropped by reason. */
  stats() {
    return this._native.stats();
  }

  /** The effective configuration, with the same keys in every language of the SDK. */
  effectiveConfig() {
    return this._native.configJson();
  }

  /** The anonymous install id sent as `service.instance.id`, when enabled. */
  get installId() {
    return this._native.installId() ?? undefined;
  }

  /** A user id hashed with this install's salt (as `user.id` attributes are), when enabled. */
  hashUserId(id) {
    return this._native.hashUserId(String(id)) ?? undefined;
  }

  /** `text` as this client would send it (its redactor; the built-in one when disabled). */
  redact(text) {
    return this._native.redact(String(text)) ?? native.redactText(String(text));
  }

  /**
   * Starts a span. Its parent: `options.parent` (a span, an agent run, a `traceparent` or a
   * trace context) when given, none when `options.root`, else the span of the current
   * `withSpan` callback, else the thread's current span.
   */
  startSpan(name, options) {
    options = options ?? {};
    let parent = options.parent;
    if (parent === undefined && !options.root) parent = spanStorage.getStore();
    const handle = this._native.startSpan(
      String(name),
      options.kind,
      parentTraceparent(parent),
      options.root === true || parent === null,
      attributesJson(options.attributes),
    );
    return new Span(this, handle, String(name));
  }

  /**
   * Runs `fn(span)` in a new span, which is the parent of the spans started inside it
   * (across `await`s too) and ends when `fn` returns or its promise settles; an error
   * thrown or rejected is recorded on the span and passed on.
   */
  withSpan(name, options, fn) {
    if (typeof options === 'function') {
      fn = options;
      options = undefined;
    }
    const span = this.startSpan(name, options);
    let result;
    try {
      result = spanStorage.run(span, fn, span);
    } catch (e) {
      span.recordException(e);
      span.end();
      throw e;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (e) => {
          span.recordException(e);
          span.end();
          throw e;
        },
      );
    }
    span.end();
    return result;
  }

  /** The span of the current `withSpan` callback, if any. */
  currentSpan() {
    return spanStorage.getStore();
  }

  /** The `traceparent` of the current span (of `withSpan`, else the thread's), or `undefined`. */
  injectTraceparent() {
    const span = spanStorage.getStore();
    if (span) return span.traceparent;
    return this._native.currentTraceparent() ?? undefined;
  }

  /** Sets `traceparent` on `headers` (when there is a current span) and returns them. */
  inject(headers = {}) {
    const traceparent = this.injectTraceparent();
    if (traceparent) headers.traceparent = traceparent;
    return headers;
  }

  /** Parses a W3C `traceparent` header value; `null` when it is not a valid one. */
  static extractTraceparent(header) {
    return extractTraceparent(header);
  }

  /** Starts a run of `agent` for `prompt` (a new correlation id unless one is given). */
  agentRun(agent, prompt = '', options) {
    return new AgentRun(
      this,
      this._native.agentRun(String(agent), String(prompt), options?.correlationId),
    );
  }
}

// ---------------------------------------------------------------------------------------
// The 0.1.x configuration helpers.

const DEFAULT_CONFIG = Object.freeze({
  endpoint: 'http://127.0.0.1:4318',
  organization: 'namastex',
  timeout: 10,
  enabled: false,
  verbose: false,
});

const ENV_VARS = Object.freeze({
  ENABLED: 'AUTOMAGIK_TELEMETRY_ENABLED',
  ENDPOINT: 'AUTOMAGIK_TELEMETRY_ENDPOINT',
  VERBOSE: 'AUTOMAGIK_TELEMETRY_VERBOSE',
  TIMEOUT: 'AUTOMAGIK_TELEMETRY_TIMEOUT',
});

function parseBooleanEnv(value) {
  return ['true', '1', 'yes', 'on'].includes(value.toLowerCase().trim());
}

/** The 0.1.x configuration variables, as a partial configuration. */
function loadConfigFromEnv() {
  const config = {};
  const enabled = process.env[ENV_VARS.ENABLED];
  if (enabled !== undefined) config.enabled = parseBooleanEnv(enabled);
  const endpoint = process.env[ENV_VARS.ENDPOINT];
  if (endpoint) config.endpoint = endpoint;
  const verbose = process.env[ENV_VARS.VERBOSE];
  if (verbose !== undefined) config.verbose = parseBooleanEnv(verbose);
  const timeout = process.env[ENV_VARS.TIMEOUT];
  if (timeout) {
    const seconds = parseFloat(timeout);
    if (!Number.isNaN(seconds) && seconds > 0) config.timeout = seconds;
  }
  return config;
}

/** User configuration over the environment over the defaults. */
function mergeConfig(userConfig) {
  const env = loadConfigFromEnv();
  return {
    projectName: userConfig.projectName,
    version: userConfig.version,
    endpoint: userConfig.endpoint ?? env.endpoint ?? DEFAULT_CONFIG.endpoint,
    organization: userConfig.organization ?? DEFAULT_CONFIG.organization,
    timeout: userConfig.timeout ?? env.timeout ?? DEFAULT_CONFIG.timeout,
    enabled: userConfig.enabled ?? env.enabled ?? DEFAULT_CONFIG.enabled,
    verbose: userConfig.verbose ?? env.verbose ?? DEFAULT_CONFIG.verbose,
  };
}

/** Throws an `Error` naming the first invalid field. */
function validateConfig(config) {
  if (!config.projectName || config.projectName.trim().length === 0) {
    throw new Error('TelemetryConfig: projectName is required and cannot be empty');
  }
  if (!config.version || config.version.trim().length === 0) {
    throw new Error('TelemetryConfig: version is required and cannot be empty');
  }
  if (config.endpoint !== undefined) {
    let url;
    try {
      url = new URL(config.endpoint);
    } catch {
      throw new Error(`TelemetryConfig: endpoint must be a valid URL (got: ${config.endpoint})`);
    }
    if (!['http:', 'https:'].includes(url.protocol)) {
      throw new Error('TelemetryConfig: endpoint must use http or https protocol');
    }
  }
  if (config.timeout !== undefined) {
    if (typeof config.timeout !== 'number' || config.timeout <= 0) {
      throw new Error(
        `TelemetryConfig: timeout must be a positive number in seconds (got: ${config.timeout})`,
      );
    }
    if (config.timeout > 60) {
      throw new Error(`TelemetryConfig: timeout should not exceed 60 seconds (got: ${config.timeout})`);
    }
  }
  if (config.organization !== undefined && config.organization.trim().length === 0) {
    throw new Error('TelemetryConfig: organization cannot be empty if provided');
  }
}

/** Validates, then merges. */
function createConfig(userConfig) {
  validateConfig(userConfig);
  return mergeConfig(userConfig);
}

// ---------------------------------------------------------------------------------------
// The privacy helpers, answered by the SDK's redactor.

const SENSITIVE_KEYS = Object.freeze([
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'api_key',
  'apikey',
  'access_token',
  'refresh_token',
  'private_key',
  'credit_card',
  'ssn',
  'social_security',
]);

/** SHA-256 of a value, as `sha256:` and the first 16 hex digits. */
function hashValue(value) {
  const hash = crypto.createHash('sha256').update(String(value)).digest('hex');
  return `sha256:${hash.substring(0, 16)}`;
}

/** Whether any redaction rule would replace part of `value`. */
function detectPII(value) {
  return typeof value === 'string' && native.detectPii(value);
}

/** The redaction rules that would replace parts of `value`, in text order. */
function explainRedaction(value) {
  return typeof value === 'string' ? native.explainRedaction(value) : [];
}

/** `value` with its phone numbers replaced by `[REDACTED:phone]`. */
function sanitizePhone(value, _config) {
  return typeof value === 'string' ? native.redactOnly(value, 'phone') : value;
}

/** `value` with its e-mail addresses replaced by `[REDACTED:email]`. */
function sanitizeEmail(value, _config) {
  return typeof value === 'string' ? native.redactOnly(value, 'email') : value;
}

/** Truncates `value` to `maxLength` characters, ending with `...`. */
function truncateString(value, maxLength) {
  if (value.length <= maxLength) return value;
  return `${value.substring(0, maxLength - 3)}...`;
}

function truncateStrings(value, maxLength) {
  if (typeof value === 'string') return truncateString(value, maxLength);
  if (Array.isArray(value)) return value.map((v) => truncateStrings(v, maxLength));
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = truncateStrings(v, maxLength);
    return out;
  }
  return value;
}

/**
 * `value` (a string, an array or an object, nested) as the SDK would send it: every
 * sensitive part replaced by its marker, sensitive keys' values replaced whole.
 */
function sanitizeValue(value, config = {}) {
  if (value === null || value === undefined) return value;
  let v = toJsonValue(value);
  if (typeof config.maxStringLength === 'number') v = truncateStrings(v, config.maxStringLength);
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  return native.redactJson(v) ?? v;
}

/**
 * `obj` with the values of keys containing one of `keys` (case-insensitively), or named
 * like a secret by the SDK, replaced by `config.redactionText` (default `[REDACTED:secret]`).
 */
function redactSensitiveKeys(obj, keys = SENSITIVE_KEYS, config = {}) {
  const replacement = config.redactionText ?? '[REDACTED:secret]';
  const words = keys.map((k) => String(k).toLowerCase());
  const out = {};
  for (const [key, value] of Object.entries(obj ?? {})) {
    const lower = key.toLowerCase();
    if (words.some((w) => lower.includes(w)) || native.classifyKey(key) === 'secret') {
      out[key] = replacement;
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = redactSensitiveKeys(value, keys, config);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Sensitive keys redacted, then every value as the SDK would send it. */
function sanitizeTelemetryData(data, config = {}) {
  return sanitizeValue(redactSensitiveKeys(data, SENSITIVE_KEYS, config), config);
}

// ---------------------------------------------------------------------------------------
// The first-run opt-in prompt.

function preferenceFile() {
  return path.join(os.homedir(), '.automagik', 'telemetry_preference');
}

function optOutFile() {
  return path.join(os.homedir(), OPT_OUT_FILE);
}

/** The first-run opt-in prompt and the stored preference. */
class TelemetryOptIn {
  /** The preference file (`~/.automagik/telemetry_preference`). */
  static get PREFERENCE_FILE() {
    return preferenceFile();
  }

  /** The opt-out file (`~/.automagik-no-telemetry`). */
  static get OPT_OUT_FILE() {
    return optOutFile();
  }

  /** Whether the user has decided: a preference file, the opt-out file, or the variable. */
  static hasUserDecided() {
    return (
      fs.existsSync(preferenceFile()) ||
      fs.existsSync(optOutFile()) ||
      process.env.AUTOMAGIK_TELEMETRY_ENABLED !== undefined
    );
  }

  /** `true` if opted in, `false` if opted out, `null` if not decided. */
  static getUserPreference() {
    if (fs.existsSync(optOutFile())) return false;
    if (fs.existsSync(preferenceFile())) {
      try {
        const content = fs.readFileSync(preferenceFile(), 'utf-8').trim().toLowerCase();
        return ['true', 'yes', '1', 'enabled'].includes(content);
      } catch {
        // Unreadable: as if undecided.
      }
    }
    const env = process.env.AUTOMAGIK_TELEMETRY_ENABLED;
    if (env !== undefined) return parseBooleanEnv(env);
    return null;
  }

  /** Saves the decision: the preference file, or the opt-out file. */
  static savePreference(enabled) {
    try {
      if (enabled) {
        if (fs.existsSync(optOutFile())) fs.unlinkSync(optOutFile());
        fs.mkdirSync(path.dirname(preferenceFile()), { recursive: true });
        fs.writeFileSync(preferenceFile(), 'enabled');
      } else {
        fs.closeSync(fs.openSync(optOutFile(), 'w'));
        if (fs.existsSync(preferenceFile())) fs.unlinkSync(preferenceFile());
      }
    } catch {
      // Never breaks the program.
    }
  }

  /** Whether standard input and output are a terminal outside CI. */
  static isInteractive() {
    if (!process.stdin.isTTY || !process.stdout.isTTY) return false;
    const ci = ['CI', 'GITHUB_ACTIONS', 'TRAVIS', 'JENKINS', 'GITLAB_CI', 'CIRCLECI'];
    return !ci.some((v) => process.env[v]);
  }

  /** Asks once (in an interactive terminal) and saves the answer; resolves with it. */
  static async promptUser(projectName = 'Automagik') {
    if (this.hasUserDecided()) return this.getUserPreference() ?? false;
    if (!this.isInteractive()) return false;
    process.stdout.write(
      `\nHelp improve ${projectName}!\n\n` +
        'With your consent it sends anonymous usage: features used, performance figures and\n' +
        'errors. Never your messages, credentials or identity: personal data is redacted\n' +
        'before anything leaves this machine.\n' +
        'Opt out at any time: AUTOMAGIK_TELEMETRY_ENABLED=false or DO_NOT_TRACK=1.\n\n',
    );
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    const answer = await new Promise((resolve) => {
      rl.question('Enable telemetry? [y/N]: ', (a) => resolve(a));
      rl.on('close', () => resolve(''));
    });
    rl.close();
    const enabled = ['y', 'yes'].includes(String(answer).trim().toLowerCase());
    this.savePreference(enabled);
    return enabled;
  }
}

/** Whether the opt-in prompt should be shown. */
function shouldPromptUser(_projectName = 'Automagik') {
  return !TelemetryOptIn.hasUserDecided() && TelemetryOptIn.isInteractive();
}

/** Shows the opt-in prompt if needed; resolves with the decision. */
function promptUserIfNeeded(projectName = 'Automagik') {
  return TelemetryOptIn.promptUser(projectName);
}

// ---------------------------------------------------------------------------------------
// The 0.1.x ClickHouse backend class, on the SDK's `clickhouse` backend.

function otlpAttributes(attrs) {
  if (Array.isArray(attrs)) {
    const out = {};
    for (const a of attrs) {
      if (!a || typeof a.key !== 'string') continue;
      const v = a.value ?? {};
      out[a.key] =
        v.stringValue ?? v.boolValue ?? v.doubleValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined);
    }
    return out;
  }
  return attrs ?? {};
}

/** Records sent through the SDK's `clickhouse` backend (consent applies as for any client). */
class ClickHouseBackend {
  constructor(config = {}) {
    this._client = new AutomagikTelemetry({
      projectName: config.projectName,
      version: config.version,
      backend: 'clickhouse',
      clickhouseEndpoint: config.endpoint,
      clickhouseDatabase: config.database,
      clickhouseUsername: config.username,
      clickhousePassword: config.password,
      timeout: typeof config.timeout === 'number' ? config.timeout / 1000 : undefined,
      batchSize: config.batchSize,
      compressionEnabled: config.compressionEnabled,
      maxRetries: config.maxRetries,
      enabled: config.enabled,
      env: config.env,
    });
  }

  /** Records an OTLP-shaped span (`name`, `attributes`) as an event. */
  sendTrace(otlpSpan) {
    if (!otlpSpan || typeof otlpSpan.name !== 'string') return false;
    this._client.trackEvent(otlpSpan.name, otlpAttributes(otlpSpan.attributes));
    return this._client.isEnabled();
  }

  /** Same as `sendTrace`. */
  addToBatch(otlpSpan) {
    this.sendTrace(otlpSpan);
  }

  /** Records a metric measurement. */
  sendMetric(metricName, value, metricType = 'gauge', unit = '', attributes = {}) {
    this._client.trackMetric(metricName, value, metricType, unit ? { ...attributes, unit } : attributes);
    return this._client.isEnabled();
  }

  /** Records a log message. */
  sendLog(message, level = 'INFO', attributes = {}) {
    this._client.trackLog(message, level, attributes);
    return this._client.isEnabled();
  }

  /** Sends what is queued; resolves with whether it was all delivered. */
  flush() {
    return this._client.flush();
  }
}

module.exports = {
  AutomagikTelemetry,
  LogSeverity,
  MetricType,
  SpanKind,
  StandardEvents,
  Span,
  AgentRun,
  ToolCall,
  LlmCall,
  TelemetryOptIn,
  promptUserIfNeeded,
  shouldPromptUser,
  DEFAULT_CONFIG,
  ENV_VARS,
  createConfig,
  mergeConfig,
  validateConfig,
  loadConfigFromEnv,
  hashValue,
  detectPII,
  explainRedaction,
  sanitizePhone,
  sanitizeEmail,
  truncateString,
  sanitizeValue,
  redactSensitiveKeys,
  sanitizeTelemetryData,
  SENSITIVE_KEYS,
  ClickHouseBackend,
  extractTraceparent,
  EFFECTIVE_CONFIG_KEYS,
  OPT_OUT_FILE,
  VERSION,
  SDK_VERSION,
};
