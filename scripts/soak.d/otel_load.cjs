// A steady load from the official OpenTelemetry JavaScript SDK for scripts/soak: spans,
// logs and metrics over OTLP/HTTP JSON until a deadline, at the SDK's defaults
// (BatchSpanProcessor, BatchLogRecordProcessor, a PeriodicExportingMetricReader every
// 2 s). Counters go to DIR/status-node-http-json.json in the shape soaklib.py describes.
// Usage: node otel_load.cjs BASE_URL DEADLINE_EPOCH_SECONDS DIR SPANS_PER_SECOND
// (NODE_PATH from scripts/setup-node; the ingest token from SOAK_INGEST_TOKEN).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http');

const [base, deadlineArg, dir, rateArg] = process.argv.slice(2);
const deadline = Number(deadlineArg) * 1000;
const rate = Math.max(1, Number(rateArg));
const token = process.env.SOAK_INGEST_TOKEN || '';
const NAME = 'node-http-json';
const ROUTES = ['/products', '/products/{id}', '/basket', '/checkout', '/search'];

// ---------------------------------------------------------------- counters

const status = {
  generator: NAME, done: false, updated: 0, requests: 0,
  sent: {}, acknowledged: {}, expected: {}, retried: {}, unexpected: {}, extra: {},
};
const add = (table, key, n) => { table[key] = (table[key] || 0) + n; };
const fail = (kind, n = 1) => add(status.unexpected, kind, n);
function writeStatus() {
  status.updated = Date.now() / 1000;
  const file = path.join(dir, `status-${NAME}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(status));
  fs.renameSync(`${file}.tmp`, file);
}

const lastPrint = {};
api.diag.setLogger({
  error: (m, ...rest) => {
    const now = Date.now();
    if (now - (lastPrint.error || 0) >= 10000) {
      lastPrint.error = now;
      process.stderr.write(`${new Date().toISOString()} SDK error: ${m} ${rest.map(String).join(' ')}\n`);
    }
  },
  warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {},
}, api.DiagLogLevel.ERROR);

/** `inner` with every export counted. */
function counted(inner, signal, size) {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'export') {
        return (items, done) => {
          const n = size(items);
          status.requests += 1;
          target.export(items, (result) => {
            const ok = result.code === 0;
            add(status.sent, signal, n);
            add(status.acknowledged, signal, ok ? n : 0);
            if (!ok) fail(`${signal} export failed (see the generator's log)`);
            if (!ok && result.error) process.stderr.write(`${signal} export failed: ${result.error}\n`);
            done(result);
          });
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
const points = (rm) => rm.scopeMetrics.reduce((n, sm) => n + sm.metrics.reduce((k, m) => k + m.dataPoints.length, 0), 0);

// ---------------------------------------------------------------- providers

const headers = { Authorization: `Bearer ${token}` };
const resource = resourceFromAttributes({
  'service.name': 'soak-node-storefront',
  'service.version': '5.1.0',
  'service.instance.id': crypto.randomUUID(),
  'deployment.environment.name': 'soak',
});
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(counted(new OTLPTraceExporter({ url: `${base}/v1/traces`, headers }), 'spans', (s) => s.length))],
});
const tracer = tracerProvider.getTracer('soak-node', '1.0.0');
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor({ exporter: counted(new OTLPLogExporter({ url: `${base}/v1/logs`, headers }), 'logs', (l) => l.length) })],
});
const logger = loggerProvider.getLogger('soak-node', '1.0.0');
const meterProvider = new MeterProvider({
  resource,
  readers: [new PeriodicExportingMetricReader({
    exporter: counted(new OTLPMetricExporter({ url: `${base}/v1/metrics`, headers }), 'points', points),
    exportIntervalMillis: 2000,
    exportTimeoutMillis: 2000,
  })],
});
const meter = meterProvider.getMeter('soak-node', '1.0.0');
const requests = meter.createCounter('soak.node.requests');
const latency = meter.createHistogram('soak.node.request.duration', { unit: 'ms' });
const basket = meter.createUpDownCounter('soak.node.basket.items');
meter.createObservableGauge('soak.node.heap_ratio').addCallback((result) => {
  const m = process.memoryUsage();
  result.observe(m.heapUsed / m.heapTotal, { 'process.runtime': 'node' });
});

// ---------------------------------------------------------------- load

let produced = 0;
let traces = 0;
let basketItems = 0;

function oneTrace() {
  const route = ROUTES[Math.floor(Math.random() * ROUTES.length)];
  const durationMs = Math.exp(2.5 + Math.random() * 2);
  const end = Date.now();
  const start = end - durationMs;
  const failed = Math.random() < 0.05;
  const code = failed ? 503 : (Math.random() < 0.1 ? 404 : 200);
  const root = tracer.startSpan(`GET ${route}`, {
    kind: api.SpanKind.SERVER,
    startTime: start,
    attributes: {
      'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': code,
      'url.path': route.replace('{id}', String(Math.floor(Math.random() * 1e9))),
      'request.id': crypto.randomUUID(), 'user_agent.original': `soak/${Math.floor(Math.random() * 1000)}`,
    },
  });
  const ctx = api.trace.setSpan(api.context.active(), root);
  const children = 2 + Math.floor(Math.random() * 3);
  for (let i = 0; i < children; i++) {
    const s = start + (durationMs * i) / (children + 1);
    const child = tracer.startSpan(i === 0 ? 'fetch catalog' : `render part ${i}`, {
      kind: i === 0 ? api.SpanKind.CLIENT : api.SpanKind.INTERNAL,
      startTime: s,
      attributes: { 'soak.step': i, 'soak.operation.id': crypto.randomBytes(6).toString('hex') },
    }, ctx);
    if (failed && i === children - 1) {
      child.addEvent('exception', { 'exception.type': 'FetchError', 'exception.message': 'catalog unavailable' });
      child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'catalog unavailable' });
    }
    child.end(s + durationMs / (children + 2));
  }
  if (failed) root.setStatus({ code: api.SpanStatusCode.ERROR, message: `HTTP ${code}` });
  root.end(end);
  logger.emit({
    timestamp: end,
    severityNumber: failed ? SeverityNumber.ERROR : SeverityNumber.INFO,
    severityText: failed ? 'ERROR' : 'INFO',
    body: `GET ${route} -> ${code} in ${durationMs.toFixed(1)} ms`,
    attributes: { 'http.route': route },
    context: ctx,
  });
  requests.add(1, { 'http.route': route, 'http.response.status_code': code });
  latency.record(durationMs, { 'http.route': route });
  const delta = basketItems > 0 && Math.random() < 0.5 ? -1 : 1;
  basketItems += delta;
  basket.add(delta);
  traces += 1;
  return children + 1;
}

async function main() {
  writeStatus();
  const writer = setInterval(writeStatus, 1000);
  let origin = Date.now();
  let behind = 0;
  while (Date.now() < deadline) {
    // Make what is due since the start, then yield to the exporters for 20 ms.
    const due = ((Date.now() - origin) / 1000) * rate;
    if (due - produced > rate * 2) {
      behind += (due - produced) / rate;
      origin += ((due - produced) / rate) * 1000;
      status.extra['seconds behind the target rate'] = Math.round(behind * 10) / 10;
    }
    while (produced < ((Date.now() - origin) / 1000) * rate && Date.now() < deadline) produced += oneTrace();
    status.extra['spans created'] = produced;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const stopped = await Promise.race([
    Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]).then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), 20000)),
  ]);
  if (!stopped) fail('the SDK did not shut down within 20 s');
  clearInterval(writer);
  status.extra['spans created'] = produced;
  status.extra.traces = traces;
  const dropped = produced - (status.sent.spans || 0);
  if (dropped > 0) fail('spans dropped by the SDK before export (queue full)', dropped);
  status.done = true;
  writeStatus();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  fail(`the generator crashed: ${String(e.message || e).slice(0, 80)}`);
  status.done = true;
  try { writeStatus(); } catch (_) { /* the directory is gone */ }
  process.exit(1);
});
