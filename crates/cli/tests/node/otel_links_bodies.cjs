// Sends a span with a link and a log record with a map body to an OTLP/HTTP endpoint
// with the official OpenTelemetry JavaScript SDK and its OTLP/HTTP JSON exporters, then
// prints what it sent as JSON. Usage: node otel_links_bodies.cjs BASE_URL
'use strict';

const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');

async function main() {
  const base = process.argv[2];
  const failures = [];
  api.diag.setLogger(
    { error: (m) => failures.push(String(m)), warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} },
    api.DiagLogLevel.ERROR,
  );
  const resource = resourceFromAttributes({ 'service.name': 'node-links' });

  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))],
  });
  const tracer = tracerProvider.getTracer('node-links-check', '3.0.0');
  // The message this span handles was produced elsewhere: a link to that span, with the
  // producer's trace state.
  const producer = {
    traceId: '5b8aa5a2d2c872e8321cf37308d69df2',
    spanId: '051581bf3cb55c13',
    traceFlags: api.TraceFlags.SAMPLED,
    isRemote: true,
    traceState: api.createTraceState('producer=p1'),
  };
  const span = tracer.startSpan('node-handle', {
    links: [{ context: producer, attributes: { 'link.kind': 'follows_from', attempt: 2 } }],
  });
  span.end();

  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${base}/v1/logs` }) })],
  });
  loggerProvider.getLogger('node-orders', '1.1.0').emit({
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: { order: { id: 'o-9', lines: [3, 'gift'] }, paid: true },
    eventName: 'order.paid',
    context: api.trace.setSpan(api.context.active(), span),
  });

  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  if (failures.length > 0) {
    throw new Error(`export failed: ${failures.join('; ')}`);
  }
  process.stdout.write(
    JSON.stringify({
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
      link_trace_id: producer.traceId,
      link_span_id: producer.spanId,
    }),
  );
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
