// Sends spans, a log and metrics to an OTLP/HTTP endpoint with the official
// OpenTelemetry JavaScript SDK and its OTLP/HTTP JSON exporters, then prints the ids
// and timestamps it used as JSON. Usage: node otel_client.cjs BASE_URL
'use strict';

const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http');

const nanos = (hr) => (BigInt(hr[0]) * 1000000000n + BigInt(hr[1])).toString();

async function main() {
  const base = process.argv[2];
  const failures = [];
  api.diag.setLogger(
    { error: (m) => failures.push(String(m)), warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} },
    api.DiagLogLevel.ERROR,
  );
  const resource = resourceFromAttributes({ 'service.name': 'node-client', 'service.version': '1.2.3' });

  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))],
  });
  const tracer = tracerProvider.getTracer('crosscheck');
  const parent = tracer.startSpan('node-parent', {
    kind: api.SpanKind.SERVER,
    attributes: { 'http.route': '/node' },
  });
  const ctx = api.trace.setSpan(api.context.active(), parent);
  const child = tracer.startSpan('node-child', { attributes: { items: 4, ratio: 0.5, ok: true } }, ctx);
  child.addEvent('node-event', { step: 'one' });
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'node failure' });
  child.end();
  parent.end();

  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${base}/v1/logs` }) })],
  });
  loggerProvider.getLogger('crosscheck').emit({
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    body: 'node says hello',
    attributes: { 'order.id': 'o-17' },
    context: ctx,
  });

  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
        exportIntervalMillis: 600000,
      }),
    ],
  });
  const meter = meterProvider.getMeter('crosscheck');
  meter.createCounter('node.requests').add(7, { route: '/node' });
  meter.createHistogram('node.latency_ms').record(12.5, { route: '/node' });

  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  // Shutdown makes the final (single) export of the metrics.
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  if (failures.length > 0) {
    throw new Error(`export failed: ${failures.join('; ')}`);
  }
  process.stdout.write(
    JSON.stringify({
      trace_id: parent.spanContext().traceId,
      parent: parent.spanContext().spanId,
      child: child.spanContext().spanId,
      parent_start: nanos(parent.startTime),
      child_end: nanos(child.endTime),
    }),
  );
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
