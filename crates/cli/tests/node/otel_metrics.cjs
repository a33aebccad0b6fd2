// Sends known metric values with the official OpenTelemetry JavaScript SDK and its
// OTLP/HTTP JSON exporter at their defaults (cumulative temporality unless
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says otherwise), in several exports.
// Usage: node otel_metrics.cjs BASE_URL first|restart
// The same instruments and values as tests/python/otel_metrics.py.
'use strict';

const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const {
  MeterProvider,
  PeriodicExportingMetricReader,
  AggregationType,
} = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http');

async function main() {
  const [base, mode] = [process.argv[2], process.argv[3]];
  const failures = [];
  api.diag.setLogger(
    { error: (m) => failures.push(String(m)), warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} },
    api.DiagLogLevel.ERROR,
  );
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
    exportIntervalMillis: 3600000,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'node-metrics' }),
    readers: [reader],
    views: [{ instrumentName: 'fid.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('fidelity');
  const counter = meter.createCounter('fid.counter');
  const exportNow = () => reader.forceFlush();

  if (mode === 'restart') {
    counter.add(3, { route: '/a' });
    await exportNow();
    await provider.shutdown();
  } else {
    const updown = meter.createUpDownCounter('fid.updown');
    const latency = meter.createHistogram('fid.latency');
    const exp = meter.createHistogram('fid.exp');
    const gauges = [41, 42, 43];
    const totals = [100, 250, 300];
    meter.createObservableGauge('fid.gauge').addCallback((r) => r.observe(gauges.length > 1 ? gauges.shift() : gauges[0]));
    meter.createObservableCounter('fid.obs_counter').addCallback((r) => r.observe(totals.length > 1 ? totals.shift() : totals[0]));
    const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);
    const phases = [
      [5, 10, range(1, 34), range(1, 334)],
      [7, 5, range(34, 67), range(334, 667)],
      [4, -3, range(67, 101), range(667, 1001)],
    ];
    for (let i = 0; i < phases.length; i++) {
      const [add, change, values, expValues] = phases[i];
      counter.add(add, { route: '/a' });
      if (i === 0) counter.add(1, { route: '/b' });
      updown.add(change);
      values.forEach((v) => latency.record(v));
      expValues.forEach((v) => exp.record(v));
      await exportNow();
    }
    await provider.shutdown();
  }
  if (failures.length > 0) {
    throw new Error(`export failed: ${failures.join('; ')}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
