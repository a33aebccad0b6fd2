/**
 * `@automagik/telemetry`: privacy-first telemetry for Node.js.
 *
 * The Automagik Telemetry Rust SDK runs inside a native addon and does the work:
 * consent, configuration (defaults < environment < code), PII redaction, batching on one
 * background thread, retries with backoff, the on-disk spool and the exporters (OTLP/HTTP
 * protobuf or JSON, ClickHouse, file, stdout). Track calls only queue; `flush()`,
 * `shutdown()` and `disable()` run on the libuv thread pool and resolve by their
 * deadline, so the event loop never waits for the network.
 *
 * The public API is a superset of `@automagik/telemetry` 0.1.3: a program written for it
 * runs unchanged.
 *
 * @example
 * ```ts
 * import { AutomagikTelemetry, MetricType } from '@automagik/telemetry';
 *
 * const telemetry = new AutomagikTelemetry({ projectName: 'my-app', version: '1.0.0' });
 * telemetry.trackEvent('user.login', { method: 'oauth' });
 * telemetry.trackMetric('api.requests', 1, MetricType.COUNTER, { endpoint: '/api/users' });
 * await telemetry.withSpan('checkout', async () => { ... });
 * await telemetry.shutdown();
 * ```
 *
 * @packageDocumentation
 */

/** An attribute value: strings, numbers and booleans, and arrays and objects of them. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | AttributeValue[]
  | { [key: string]: AttributeValue };

/**
 * Attributes of a record. Values are sent as they are when they are strings, booleans or
 * finite numbers; other values are converted (dates to ISO text, `bigint` and non-finite
 * numbers to text, `Map`, `Set` and typed arrays to objects and arrays) and `undefined`,
 * functions and symbols are left out. Every string passes the redactor before it is
 * queued.
 */
export type Attributes = Record<string, unknown>;

/** Options of {@link AutomagikTelemetry}: every 0.1.3 option, and the SDK's. */
export interface TelemetryConfig {
  /** `service.name` of everything sent (default: `OTEL_SERVICE_NAME`, else `unknown_service`). */
  projectName?: string;
  /** `service.version` of everything sent (default: none). */
  version?: string;
  /**
   * Where records go: `otlp` (OTLP/HTTP protobuf, the default), `otlp-json`,
   * `clickhouse`, `file` or `stdout` (`kafka` is not in this build). Default:
   * `AUTOMAGIK_TELEMETRY_BACKEND`, else `otlp`.
   */
  backend?: 'otlp' | 'otlp-json' | 'clickhouse' | 'kafka' | 'file' | 'stdout' | string;
  /**
   * OTLP base URL; `/v1/traces`, `/v1/metrics` and `/v1/logs` are derived (a trailing
   * `/v1/traces` is dropped, as 0.1.3 did). Default: `AUTOMAGIK_TELEMETRY_ENDPOINT`, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://127.0.0.1:4318`.
   */
  endpoint?: string;
  /** Sent as the resource attribute `service.organization` when given. */
  organization?: string;
  /** Per-request timeout in **seconds**, as in 0.1.3 (default: `AUTOMAGIK_TELEMETRY_TIMEOUT`, else 10). */
  timeout?: number;
  /** Records per export (default: `AUTOMAGIK_TELEMETRY_BATCH_SIZE`, else 100). */
  batchSize?: number;
  /** Longest wait before a partial batch is sent, in milliseconds (default: `AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL`, else 5000). */
  flushInterval?: number;
  /** `false` sends bodies uncompressed (same as `compression: 'none'`). */
  compressionEnabled?: boolean;
  /** Body compression: `gzip` (default), `zstd` or `none` (default: `AUTOMAGIK_TELEMETRY_COMPRESSION`). */
  compression?: 'gzip' | 'zstd' | 'none';
  /** Bodies smaller than this many bytes are sent plain (default: `AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD`, else 1024). */
  compressionThreshold?: number;
  /** Retries after the first attempt (default: `AUTOMAGIK_TELEMETRY_MAX_RETRIES`, else 3). */
  maxRetries?: number;
  /** Base delay of the exponential backoff with full jitter, in milliseconds (default: `AUTOMAGIK_TELEMETRY_RETRY_BACKOFF`, else 1000). */
  retryBackoffBase?: number;
  /** Accepted for 0.1.3 compatibility; the metrics URL is always `endpoint` + `/v1/metrics`. */
  metricsEndpoint?: string;
  /** Accepted for 0.1.3 compatibility; the logs URL is always `endpoint` + `/v1/logs`. */
  logsEndpoint?: string;
  /** ClickHouse HTTP interface URL, backend `clickhouse` (default: `AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT`, else `http://127.0.0.1:8123`). */
  clickhouseEndpoint?: string;
  /** ClickHouse database (default: `AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE`, else `automagik`). */
  clickhouseDatabase?: string;
  /** ClickHouse user (default: `AUTOMAGIK_TELEMETRY_CLICKHOUSE_USER`, else `default`). */
  clickhouseUsername?: string;
  /** ClickHouse password (default: `AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD`, else empty). */
  clickhousePassword?: string;

  /**
   * Consent given (`true`) or revoked (`false`) by the program, for example after asking
   * the user. Opt-outs (`AUTOMAGIK_TELEMETRY_ENABLED=false`, `DO_NOT_TRACK`,
   * `OTEL_SDK_DISABLED=true`, the file `~/.automagik-no-telemetry`) and development
   * environments (`ENVIRONMENT=development|dev|test`, `CI`) still win.
   */
  enabled?: boolean;
  /** What to do when nobody has said anything (the library's own default: disabled). */
  defaultEnabled?: boolean;
  /** Records held in memory before new ones are dropped (default: `AUTOMAGIK_TELEMETRY_QUEUE_SIZE`, else 10000). */
  queueSize?: number;
  /** Longest single backoff delay, in milliseconds (default 30000). */
  maxBackoff?: number;
  /** Total time one batch may spend in retries, in milliseconds (default 60000). */
  retryBudget?: number;
  /** Where undeliverable batches wait on disk until the endpoint is back (default: `AUTOMAGIK_TELEMETRY_SPOOL_DIR`, else off). */
  spoolDir?: string;
  /** Most bytes the spool may hold; the oldest batches go first (default 64 MiB). */
  spoolMaxBytes?: number;
  /** Print each request sent to stderr (default: `AUTOMAGIK_TELEMETRY_VERBOSE`, else false). */
  verbose?: boolean;
  /** Output file of the `file` backend (default: `AUTOMAGIK_TELEMETRY_FILE_PATH`, else `automagik-telemetry.jsonl`). */
  filePath?: string;
  /** Extra request headers (also `OTEL_EXPORTER_OTLP_HEADERS`). */
  headers?: Record<string, string>;
  /** Extra resource attributes (also `OTEL_RESOURCE_ATTRIBUTES`). */
  resourceAttributes?: Record<string, string>;
  /**
   * Default deadline, in milliseconds, of `flush()`, `shutdown()`, `disable()` and of the
   * flush at process exit (default 5000).
   */
  flushTimeout?: number;
  /**
   * Whether the client is shut down (what it queued flushed within `flushTimeout`) when
   * the event loop empties (`beforeExit`) or at `process.exit()` (default true). With
   * `false`, call `shutdown()` yourself: the client then lives as long as the program
   * holds it, and one collected or left at exit unshut is shut down on a thread of its own,
   * which the process does not wait for.
   */
  flushOnExit?: boolean;
  /** The home directory where the opt-out file is looked for (default: `HOME`, else the user's). */
  homeDir?: string;
  /** Where the anonymous install id and salt are kept (default: the user's config directory). */
  stateDir?: string;
  /** The environment to read instead of `process.env`. */
  env?: Record<string, string | undefined>;
}

/** Log severity levels (OTLP severity numbers). */
export declare enum LogSeverity {
  TRACE = 1,
  DEBUG = 5,
  INFO = 9,
  WARN = 13,
  ERROR = 17,
  FATAL = 21,
}

/** Metric types: a counter's values are increments (>= 0), a gauge's the latest value, a histogram's are bucketed. */
export declare enum MetricType {
  GAUGE = 'gauge',
  COUNTER = 'counter',
  HISTOGRAM = 'histogram',
}

/** Span kinds (OTLP). */
export declare enum SpanKind {
  INTERNAL = 'internal',
  SERVER = 'server',
  CLIENT = 'client',
  PRODUCER = 'producer',
  CONSUMER = 'consumer',
}

/** Standard event names shared by the Automagik projects. */
export declare class StandardEvents {
  /** A feature was used: `{ feature_name, feature_category }`. */
  static readonly FEATURE_USED = 'automagik.feature.used';
  /** An API request: `{ endpoint, method, status }`. */
  static readonly API_REQUEST = 'automagik.api.request';
  /** A CLI command ran: `{ command, subcommand }`. */
  static readonly COMMAND_EXECUTED = 'automagik.cli.command';
  /** How long an operation took: `{ operation_type, duration_ms }`. */
  static readonly OPERATION_LATENCY = 'automagik.performance.latency';
  /** An error: `{ error_code, error_category, severity }`. */
  static readonly ERROR_OCCURRED = 'automagik.error';
  /** Service health. */
  static readonly SERVICE_HEALTH = 'automagik.health';
}

/** A trace context: a span's identity as it travels between processes. */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** W3C trace flags (bit 0: sampled). */
  traceFlags: number;
  /** Whether the sampled flag is set. */
  sampled: boolean;
  /** The W3C `traceparent` header value. */
  traceparent: string;
}

/** Why the client is enabled or disabled. */
export interface ConsentDecision {
  /** Whether anything may be sent. */
  enabled: boolean;
  /** The rule that decided, first match wins: opt-out, development, opt-in, defaults. */
  rule:
    | 'opt_out_variable'
    | 'opt_out_file'
    | 'revoked_in_code'
    | 'development'
    | 'opt_in_variable'
    | 'granted_in_code'
    | 'program_default'
    | 'library_default';
  /** The variable that decided (`opt_out_variable`, `development`). */
  variable?: string;
  /** The opt-out file's path (`opt_out_file`). */
  path?: string;
  /** The decision in words, e.g. `disabled: opted out by DO_NOT_TRACK`. */
  reason: string;
}

/** Delivery counters. */
export interface DeliveryStats {
  /** Records accepted into the queue. */
  queued: number;
  /** Items the receiver accepted (metrics count as the data points they were aggregated into). */
  exported: number;
  /** Items written to the spool (exported, and counted again, later). */
  spooled: number;
  /** Records waiting in the queue now. */
  queueDepth: number;
  /** Items dropped, by reason. */
  dropped: {
    queue_full: number;
    after_shutdown: number;
    oversize: number;
    invalid_value: number;
    non_retryable: number;
    retries_exhausted: number;
    partial_success_rejected: number;
  };
  /** Items dropped for any reason. */
  droppedTotal: number;
}

/**
 * The effective configuration and consent, as the Rust SDK describes them in every language
 * that embeds it (Python's `effective_config()` prints the same object): snake_case keys,
 * durations in milliseconds, header names only and never a password.
 */
export interface EffectiveConfig {
  /** Whether consent was given. */
  enabled: boolean;
  /** The rule that decided: `opt_out_variable`, `opt_out_file`, `revoked_in_code`, `development`, `opt_in_variable`, `granted_in_code`, `program_default` or `library_default`. */
  consent_rule: string;
  /** The consent decision in words. */
  consent: string;
  /** `service.name`. */
  project_name: string;
  /** `service.version` (empty: not sent). */
  version: string;
  /** OTLP base URL. */
  endpoint: string;
  /** The traces, metrics and logs URLs. */
  traces_endpoint: string;
  metrics_endpoint: string;
  logs_endpoint: string;
  /** `otlp`, `otlp-json`, `clickhouse`, `kafka`, `file` or `stdout`. */
  backend: string;
  /** Records per export. */
  batch_size: number;
  /** Longest wait before a partial batch is sent, in milliseconds. */
  flush_interval_ms: number;
  queue_size: number;
  compression: 'gzip' | 'zstd' | 'none';
  /** Bodies smaller than this many bytes are sent plain. */
  compression_threshold: number;
  /** Retries after the first attempt. */
  max_retries: number;
  retry_backoff_ms: number;
  max_backoff_ms: number;
  retry_budget_ms: number;
  timeout_ms: number;
  /** The spool directory, or `null` when off. */
  spool_dir: string | null;
  spool_max_bytes: number;
  verbose: boolean;
  file_path: string;
  kafka_brokers: string;
  clickhouse_endpoint: string;
  clickhouse_database: string;
  clickhouse_user: string;
  clickhouse_create_schema: boolean;
  header_names: string[];
  /** `[key, value]` pairs, in order. */
  resource_attributes: [string, string][];
  drop_timeout_ms: number;
}

/** The whole effective configuration (the same object as {@link EffectiveConfig}). */
export type FullConfig = EffectiveConfig;

/** What `getStatus()` returns: the 0.1.3 fields, and more. */
export interface TelemetryStatus {
  enabled: boolean;
  /** The anonymous install id (`service.instance.id`), when enabled. */
  user_id: string | null;
  /** A random id of this client. */
  session_id: string;
  project_name: string;
  project_version: string;
  /** The traces URL. */
  endpoint: string;
  /** The metrics URL. */
  metricsEndpoint: string;
  /** The logs URL. */
  logsEndpoint: string;
  opt_out_file_exists: boolean;
  /** `AUTOMAGIK_TELEMETRY_ENABLED` as read. */
  env_var: string | undefined;
  verbose: boolean;
  backend: string;
  consent: ConsentDecision;
  config: FullConfig;
  stats: DeliveryStats;
  [key: string]: unknown;
}

/** What a span's parent can be. */
export type SpanParent = Span | AgentRun | TraceContext | string | null;

/** Options of a new span. */
export interface SpanOptions {
  /** The span's kind (default `internal`). */
  kind?: SpanKind | 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /**
   * The parent: a span, an agent run, a trace context or a `traceparent` (an invalid one
   * starts a new trace, as W3C Trace Context asks); `null` for a new trace. Default: the
   * span of the current `withSpan` callback, else the latest span started and not ended.
   */
  parent?: SpanParent;
  /** Starts a new trace whatever the current span. */
  root?: boolean;
  /** Attributes known at start. */
  attributes?: Attributes;
}

/** A span in progress; it is exported when it ends. */
export declare class Span {
  private constructor();
  /** The name it was started with. */
  readonly name: string;
  /** Whether the span records anything (false when telemetry is disabled, or once ended). */
  isRecording(): boolean;
  /** The span's identity, or `null` when it records nothing. */
  spanContext(): TraceContext | null;
  /** The W3C `traceparent` for calls made on behalf of this span, or `undefined`. */
  readonly traceparent: string | undefined;
  /** Sets (or replaces) an attribute; the value passes the redactor. */
  setAttribute(key: string, value: unknown): this;
  /** Sets several attributes. */
  setAttributes(attributes: Attributes): this;
  /** Records a timestamped event inside the span. */
  addEvent(name: string, attributes?: Attributes): this;
  /** Sets the outcome; an error's message passes the redactor. */
  setStatus(code: 'ok' | 'error' | 'unset', message?: string): this;
  /** Records an error: an `exception` event with `exception.*` attributes, and an error status. */
  recordException(error: unknown): this;
  /** Ends the span; later calls do nothing. A span never ended is ended when collected. */
  end(): void;
}

/** A tool call of an agent run. */
export declare class ToolCall {
  private constructor();
  /** Ends the call with its result. */
  ok(result?: unknown): void;
  /** Ends the call with an error. */
  err(error: unknown): void;
}

/** GenAI messages: `[{ role, parts: [{ type: 'text', content }] }]`, or their JSON text. */
export type GenAiMessages = string | Array<Record<string, unknown>>;

/** An LLM call of an agent run: a child span `chat <model>` with the GenAI attributes. */
export declare class LlmCall {
  private constructor();
  /** The operation when not a chat completion: `text_completion`, `generate_content`, `embeddings`. */
  operation(operation: string): this;
  /** The model that answered, when it differs from the one asked for. */
  responseModel(model: string): this;
  /** Input tokens (cached ones included) and output tokens (reasoning included). */
  usage(inputTokens: number, outputTokens: number): this;
  /** Input tokens read from and written to the provider's cache (part of the input). */
  cache(read: number, write?: number): this;
  /** Output tokens spent on reasoning (part of the output). */
  reasoning(tokens: number): this;
  /** The messages sent (redacted like any attribute). */
  inputMessages(messages: GenAiMessages): this;
  /** The messages answered. */
  outputMessages(messages: GenAiMessages): this;
  /** Ends the call, with why the model stopped (`stop`, `length`, `tool_calls`, ...; default `stop`). */
  ok(finishReason?: string): void;
  /** Ends the call with an error. */
  err(error: unknown): void;
}

/**
 * A run of an AI agent: a span `invoke_agent <agent>` with a correlation id; its tool and
 * LLM calls are child spans, its decisions, errors, successes and scores events. End it
 * with `complete()` or `fail()`; a run collected unfinished is recorded as failed.
 */
export declare class AgentRun {
  private constructor();
  /** The run's correlation id (empty when telemetry is disabled). */
  readonly correlationId: string;
  /** The run span's W3C `traceparent`, or `undefined`. */
  readonly traceparent: string | undefined;
  /** Whether the run has not ended yet. */
  readonly isOpen: boolean;
  /** The run span's identity, or `null`. */
  spanContext(): TraceContext | null;
  /** Sets an attribute on the run's span. */
  setAttribute(key: string, value: unknown): this;
  /** Reports progress: a stage and a percentage (clamped to 0-100). */
  progress(stage: string, percent: number): void;
  /** Starts a tool call with its parameters (a string or an object; redacted). */
  toolCall(tool: string, params?: unknown): ToolCall;
  /** Records a decision: the choice, the alternatives considered, a confidence (0-1) and the reasoning. */
  decision(choice: string, alternatives?: Iterable<string>, confidence?: number, reasoning?: string): void;
  /** Records a routing decision: the agent chosen among the candidates, a confidence (0-1), the reason. */
  routingDecision(selectedAgent: string, candidates?: Iterable<string>, confidence?: number, reason?: string): void;
  /** Records a manifest injected into the agent's context: its id, its sections, its size. */
  manifestInjection(manifestId: string, sections?: Iterable<string>, sizeBytes?: number): void;
  /** Records an error the agent met (the run may still succeed); `kind` is its `error.type` (default `error`). */
  error(message: unknown, kind?: string): void;
  /** Records the success of one step. */
  success(message: string): void;
  /** Starts an LLM call of `model` at `provider` (`openai`, `anthropic`, ...). */
  llmCall(provider: string, model: string): LlmCall;
  /** Scores the run: a named value (for example 0-1) with a comment. */
  score(name: string, value: number, comment?: string): void;
  /** A span that is a child of the run's span. */
  startSpan(name: string, options?: Omit<SpanOptions, 'parent'>): Span;
  /** Ends the run as completed with a quality score (clamped to 0-1; default 1). */
  complete(qualityScore?: number): void;
  /** Ends the run as failed. */
  fail(error: unknown): void;
}

/** Options of an agent run. */
export interface AgentRunOptions {
  /** The correlation id (for example one received with the request that started the run); default a new UUID. */
  correlationId?: string;
}

/**
 * Privacy-first telemetry client. Disabled unless consent is given
 * (`AUTOMAGIK_TELEMETRY_ENABLED=true` or `enabled: true`), and never in an opted-out or
 * development environment; a disabled client starts no thread and sends nothing.
 *
 * @throws Error naming the variable or option when an environment variable or option is
 * malformed (for example `AUTOMAGIK_TELEMETRY_BATCH_SIZE: ...`); track calls never throw.
 */
export declare class AutomagikTelemetry {
  constructor(config?: TelemetryConfig);

  /** Tracks a product event: a log record with `event.name`. */
  trackEvent(eventName: string, attributes?: Attributes): void;
  /**
   * Tracks an error: a log record of severity ERROR whose body is the message, with
   * `exception.type`, `exception.message` and `exception.stacktrace`, and `context`.
   */
  trackError(error: Error | unknown, context?: Attributes): void;
  /**
   * Tracks a metric measurement (default: a gauge), aggregated per batch with others of
   * the same name, type and attributes. NaN, infinities and negative counter increments
   * are dropped and counted.
   */
  trackMetric(metricName: string, value: number, metricType?: MetricType | 'gauge' | 'counter' | 'histogram', attributes?: Attributes): void;
  /** Tracks a log message (default severity INFO). */
  trackLog(message: string, severity?: LogSeverity | number | string, attributes?: Attributes): void;
  /**
   * Exports everything queued so far. Resolves by the deadline (default `flushTimeout`)
   * with `true` when it was all delivered (or spooled), `false` when the deadline came
   * first (delivery goes on in the background); never rejects and never keeps the
   * process alive past the deadline.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /**
   * Removes the opt-out file and grants consent in code. Opt-out variables and
   * development environments still win: check `isEnabled()`.
   */
  enable(): void;
  /**
   * Stops sending at once and writes the opt-out file `~/.automagik-no-telemetry`; what
   * was queued is flushed within the deadline (default `flushTimeout`).
   */
  disable(timeoutMs?: number): Promise<void>;
  /** Whether anything is sent. */
  isEnabled(): boolean;
  /** Status and configuration. */
  getStatus(): TelemetryStatus;

  /**
   * Flushes what is queued and stops the background thread within the deadline (default
   * `flushTimeout`); resolves with whether everything was delivered. Records tracked
   * afterwards are dropped and counted.
   */
  shutdown(timeoutMs?: number): Promise<boolean>;
  /** Why the client is enabled or disabled, and which rule said so. */
  consentDecision(): ConsentDecision;
  /** Delivery counters. */
  stats(): DeliveryStats;
  /** The effective configuration, with the same keys in every language of the SDK. */
  effectiveConfig(): EffectiveConfig;
  /** The anonymous install id sent as `service.instance.id`, when enabled. */
  readonly installId: string | undefined;
  /** A user id hashed with this install's salt, as `user.id` and `userId` attributes are; `undefined` when disabled. */
  hashUserId(id: string): string | undefined;
  /** `text` as this client would send it. */
  redact(text: string): string;

  /** Starts a span; end it with `span.end()`. */
  startSpan(name: string, options?: SpanOptions): Span;
  /**
   * Runs `fn(span)` in a new span: spans started inside it (across `await`s too) are its
   * children, and it ends when `fn` returns or its promise settles; an error thrown or
   * rejected is recorded on the span and passed on.
   */
  withSpan<T>(name: string, fn: (span: Span) => T): T;
  withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => T): T;
  /** The span of the current `withSpan` callback, if any. */
  currentSpan(): Span | undefined;
  /** The W3C `traceparent` of the current span, or `undefined`. */
  injectTraceparent(): string | undefined;
  /** Sets `traceparent` on `headers` when there is a current span, and returns them. */
  inject<H extends Record<string, unknown>>(headers?: H): H & { traceparent?: string };
  /** Parses a W3C `traceparent` header value; `null` when it is not a valid one. */
  static extractTraceparent(header: string | string[] | undefined): TraceContext | null;

  /** Starts a run of `agent` for `prompt`. */
  agentRun(agent: string, prompt?: string, options?: AgentRunOptions): AgentRun;
}

/** Parses a W3C `traceparent` header value; `null` when it is not a valid one. */
export declare function extractTraceparent(header: string | string[] | undefined): TraceContext | null;

/** The first-run opt-in prompt and the stored preference. */
export declare class TelemetryOptIn {
  /** `~/.automagik/telemetry_preference`. */
  static readonly PREFERENCE_FILE: string;
  /** `~/.automagik-no-telemetry`. */
  static readonly OPT_OUT_FILE: string;
  /** Whether the user has decided: the preference file, the opt-out file, or `AUTOMAGIK_TELEMETRY_ENABLED`. */
  static hasUserDecided(): boolean;
  /** `true` if opted in, `false` if opted out, `null` if not decided. */
  static getUserPreference(): boolean | null;
  /** Saves the decision: the preference file, or the opt-out file (which the SDK honours). */
  static savePreference(enabled: boolean): void;
  /** Whether standard input and output are a terminal outside CI. */
  static isInteractive(): boolean;
  /** Asks once, in an interactive terminal, and saves the answer; resolves with it. */
  static promptUser(projectName?: string): Promise<boolean>;
}

/** Whether the opt-in prompt should be shown. */
export declare function shouldPromptUser(projectName?: string): boolean;
/** Shows the opt-in prompt if needed; resolves with the decision. */
export declare function promptUserIfNeeded(projectName?: string): Promise<boolean>;

/** The 0.1.3 configuration subset of `createConfig`. */
export interface ValidatedConfig {
  projectName: string;
  version: string;
  endpoint: string;
  organization: string;
  timeout: number;
  enabled: boolean;
  verbose: boolean;
}

/** The 0.1.3 configuration defaults (with this SDK's endpoint and timeout). */
export declare const DEFAULT_CONFIG: {
  readonly endpoint: 'http://127.0.0.1:4318';
  readonly organization: 'namastex';
  readonly timeout: 10;
  readonly enabled: false;
  readonly verbose: false;
};
/** The 0.1.3 configuration variables. */
export declare const ENV_VARS: {
  readonly ENABLED: 'AUTOMAGIK_TELEMETRY_ENABLED';
  readonly ENDPOINT: 'AUTOMAGIK_TELEMETRY_ENDPOINT';
  readonly VERBOSE: 'AUTOMAGIK_TELEMETRY_VERBOSE';
  readonly TIMEOUT: 'AUTOMAGIK_TELEMETRY_TIMEOUT';
};
/** The 0.1.3 configuration variables as a partial configuration. */
export declare function loadConfigFromEnv(): Partial<TelemetryConfig>;
/** User configuration over the environment over the defaults. */
export declare function mergeConfig(userConfig: TelemetryConfig): ValidatedConfig;
/** Throws an `Error` naming the first invalid field. */
export declare function validateConfig(config: TelemetryConfig): void;
/** Validates, then merges. */
export declare function createConfig(userConfig: TelemetryConfig): ValidatedConfig;

/** Accepted for 0.1.3 compatibility; replacements are always the SDK's typed markers (`[REDACTED:email]`). */
export type SanitizationStrategy = 'hash' | 'redact' | 'truncate';
/** Options of the privacy helpers. */
export interface PrivacyConfig {
  /** Accepted for 0.1.3 compatibility. */
  strategy?: SanitizationStrategy;
  /** Strings longer than this are cut (`...`) before redaction; the SDK's own cap is 16 KiB. */
  maxStringLength?: number;
  /** What `redactSensitiveKeys` puts in place of a sensitive key's value (default `[REDACTED:secret]`). */
  redactionText?: string;
}

/** SHA-256 of a value: `sha256:` and its first 16 hex digits. */
export declare function hashValue(value: string): string;
/** Whether any redaction rule of the SDK would replace part of `value`. */
export declare function detectPII(value: string): boolean;
/** The rules that would replace parts of `value`, in the order of the text (never the text itself). */
export declare function explainRedaction(value: string): Array<{ rule: string; marker: string }>;
/** `value` with its phone numbers replaced by `[REDACTED:phone]`. */
export declare function sanitizePhone(value: string, config?: PrivacyConfig): string;
/** `value` with its e-mail addresses replaced by `[REDACTED:email]`. */
export declare function sanitizeEmail(value: string, config?: PrivacyConfig): string;
/** Cuts `value` to `maxLength` characters, ending with `...`. */
export declare function truncateString(value: string, maxLength: number): string;
/**
 * `value` (a string, an array or an object, nested) as the SDK sends attributes: every
 * sensitive part replaced by its marker (`[REDACTED:email]`, `[REDACTED:phone]`, ...),
 * the values of sensitive keys (`password`, `token`, ...) replaced whole, `null` items
 * left out.
 */
export declare function sanitizeValue(value: any, config?: PrivacyConfig): any;
/**
 * `obj` with the values of keys that contain one of `keys` (case-insensitively), or that
 * the SDK names a secret's, replaced by `config.redactionText` (default `[REDACTED:secret]`).
 */
export declare function redactSensitiveKeys(obj: Record<string, any>, keys?: readonly string[], config?: PrivacyConfig): Record<string, any>;
/** The 0.1.3 list of sensitive key words. */
export declare const SENSITIVE_KEYS: readonly string[];
/** `redactSensitiveKeys` with `SENSITIVE_KEYS`, then `sanitizeValue`. */
export declare function sanitizeTelemetryData(data: Record<string, any>, config?: PrivacyConfig): Record<string, any>;

/** Options of the 0.1.3 `ClickHouseBackend`. */
export interface ClickHouseBackendConfig {
  /** ClickHouse HTTP endpoint. */
  endpoint?: string;
  /** Database. */
  database?: string;
  /** User. */
  username?: string;
  /** Password. */
  password?: string;
  /** HTTP timeout in milliseconds. */
  timeout?: number;
  /** Records per insert. */
  batchSize?: number;
  /** Whether bodies are compressed. */
  compressionEnabled?: boolean;
  /** Retries after the first attempt. */
  maxRetries?: number;
  /** `service.name`. */
  projectName?: string;
  /** `service.version`. */
  version?: string;
  /** Consent in code (opt-outs still win). */
  enabled?: boolean;
  /** The environment to read instead of `process.env`. */
  env?: Record<string, string | undefined>;
  /** Accepted for 0.1.3 compatibility (the SDK's tables are fixed). */
  tracesTable?: string;
  /** Accepted for 0.1.3 compatibility. */
  metricsTable?: string;
  /** Accepted for 0.1.3 compatibility. */
  logsTable?: string;
}

/** The 0.1.3 ClickHouse class, on the SDK's `clickhouse` backend (consent applies). */
export declare class ClickHouseBackend {
  constructor(config?: ClickHouseBackendConfig);
  /** Records an OTLP-shaped span (`name`, `attributes`) as an event; whether it was queued. */
  sendTrace(otlpSpan: Record<string, unknown>): boolean;
  /** Same as `sendTrace`. */
  addToBatch(otlpSpan: Record<string, unknown>): void;
  /** Records a metric measurement; whether it was queued. */
  sendMetric(metricName: string, value: number, metricType?: string, unit?: string, attributes?: Record<string, unknown>): boolean;
  /** Records a log message; whether it was queued. */
  sendLog(message: string, level?: string, attributes?: Record<string, unknown>): boolean;
  /** Sends what is queued; resolves with whether it was all delivered. */
  flush(): Promise<boolean>;
}

/** The keys of `effectiveConfig()`. */
export declare const EFFECTIVE_CONFIG_KEYS: readonly (keyof EffectiveConfig)[];
/** The name of the opt-out file in the home directory. */
export declare const OPT_OUT_FILE: '.automagik-no-telemetry';
/** This package's version. */
export declare const VERSION: string;
/** The version of the Rust SDK inside the addon. */
export declare const SDK_VERSION: string;
