// Every signal a Node.js program tracks (events, errors, metrics of each type, logs)
// reaches a real `serve` as the Rust SDK sends it, and the client's counters say so.

import assert from 'node:assert/strict';
import test from 'node:test';
import { AutomagikTelemetry, LogSeverity, MetricType } from '@automagik/telemetry';
import {
  clientOptions,
  getJson,
  metricKinds,
  metricSum,
  startServer,
  waitFor,
  waitForEvents,
} from './helpers.mjs';

test('every signal arrives in serve with its attributes, and the counters count it', async (t) => {
  const { base } = await startServer(t);
  // One batch, sent by the flush: the exported count is exact.
  const telemetry = new AutomagikTelemetry(
    clientOptions(t, base, { projectName: 'node-signals', flushInterval: 60000 }),
  );
  t.after(() => telemetry.shutdown(5000));
  assert.equal(telemetry.isEnabled(), true, 'consent is granted through the client environment');

  telemetry.trackEvent('checkout.completed', {
    plan: 'pro',
    seats: 3,
    trial: false,
    ratio: 0.5,
    tags: ['a', 'b'],
    skipped: undefined,
  });
  telemetry.trackError(new TypeError('card declined'), { error_code: 'PAY-1' });
  telemetry.trackMetric('jobs.done', 1, MetricType.COUNTER, { queue: 'default' });
  telemetry.trackMetric('jobs.done', 2, MetricType.COUNTER, { queue: 'default' });
  telemetry.trackMetric('jobs.done', 3, MetricType.COUNTER, { queue: 'default' });
  telemetry.trackMetric('queue.depth', 17, MetricType.GAUGE, { queue: 'emails' });
  telemetry.trackMetric('request.ms', 120, MetricType.HISTOGRAM);
  telemetry.trackLog('slow cart', LogSeverity.WARN, { ms: 250 });

  assert.equal(await telemetry.flush(10000), true, 'the flush ends before its deadline');
  const stats = telemetry.stats();
  assert.equal(stats.queued, 8, 'eight records were queued');
  assert.equal(stats.exported, 6, 'three logs and three aggregated metric points acknowledged');
  assert.equal(stats.droppedTotal, 0, 'nothing was dropped');
  assert.equal(stats.queueDepth, 0, 'the queue is empty after the flush');

  const [event] = await waitForEvents(base, 'checkout.completed');
  assert.equal(event.service_name, 'node-signals');
  assert.equal(event.event_name, 'checkout.completed');
  assert.equal(event.severity_number, 9, 'events are INFO log records');
  assert.deepEqual(
    [event.attributes.plan, event.attributes.seats, event.attributes.trial, event.attributes.ratio],
    ['pro', 3, false, 0.5],
  );
  assert.deepEqual(event.attributes.tags, ['a', 'b']);
  assert.equal('skipped' in event.attributes, false, 'undefined attributes are left out');
  assert.equal(event.resource['service.version'], '1.2.3');
  assert.equal(event.resource['telemetry.sdk.name'], 'automagik-telemetry');
  assert.equal(event.resource['process.runtime.name'], 'nodejs');
  assert.equal(event.resource['service.instance.id'], telemetry.installId);

  const errors = await getJson(`${base}/api/v1/logs?severity_min=error`);
  assert.equal(errors.items.length, 1, 'one error record');
  const error = errors.items[0];
  assert.equal(error.severity_number, 17);
  assert.equal(error.body, 'card declined');
  assert.equal(error.attributes['exception.type'], 'TypeError');
  assert.equal(error.attributes['exception.message'], 'card declined');
  assert.ok(
    error.attributes['exception.stacktrace'].startsWith('TypeError: card declined'),
    `the stack trace is the error's: ${error.attributes['exception.stacktrace']}`,
  );
  assert.equal(error.attributes.error_code, 'PAY-1');

  const logs = await getJson(`${base}/api/v1/logs?q=${encodeURIComponent('slow cart')}`);
  assert.equal(logs.items.length, 1, 'one log record says "slow cart"');
  assert.equal(logs.items[0].severity_number, 13, 'WARN');
  assert.equal(logs.items[0].body, 'slow cart');
  assert.equal(logs.items[0].attributes.ms, 250);

  const kinds = await waitFor(
    async () => {
      const k = await metricKinds(base);
      return Object.keys(k).length >= 3 ? k : undefined;
    },
    { what: 'three metrics' },
  );
  assert.deepEqual(kinds, { 'jobs.done': 'sum', 'queue.depth': 'gauge', 'request.ms': 'histogram' });
  assert.equal(await metricSum(base, 'jobs.done'), 6, 'the counter increments add up');

  const serverStats = await getJson(`${base}/api/v1/stats`);
  assert.deepEqual(
    [serverStats.spans, serverStats.logs, serverStats.events],
    [0, 3, 1],
    'three log records, one of them an event, and no span',
  );
});

test('invalid metric values are dropped and counted, never thrown', async (t) => {
  const { base } = await startServer(t);
  const telemetry = new AutomagikTelemetry(clientOptions(t, base, { flushInterval: 60000 }));
  t.after(() => telemetry.shutdown(5000));
  telemetry.trackMetric('bad.counter', -1, MetricType.COUNTER);
  telemetry.trackMetric('bad.gauge', Number.NaN, MetricType.GAUGE);
  telemetry.trackMetric('good.gauge', 1, 'gauge');
  assert.equal(await telemetry.flush(10000), true);
  const stats = telemetry.stats();
  assert.equal(stats.dropped.invalid_value, 2, 'a negative increment and a NaN');
  assert.equal(stats.queued, 1, 'only the valid measurement was queued');
  assert.equal(stats.exported, 1);
});

test('a record whose attributes cannot be read is dropped and counted, never thrown', async (t) => {
  const { base } = await startServer(t);
  const telemetry = new AutomagikTelemetry(clientOptions(t, base, { flushInterval: 60000 }));
  t.after(() => telemetry.shutdown(5000));
  const hostile = {
    plain: 'kept',
    get broken() {
      throw new Error('a getter that throws');
    },
  };
  const proxy = new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('a proxy that refuses to list its keys');
      },
    },
  );
  telemetry.trackEvent('hostile.getter', hostile);
  telemetry.trackLog('hostile proxy', LogSeverity.INFO, proxy);
  telemetry.trackMetric('hostile.metric', 1, MetricType.GAUGE, hostile);
  telemetry.trackEvent('fine.event', { plain: 'kept' });
  assert.equal(await telemetry.flush(10000), true);
  const stats = telemetry.stats();
  assert.equal(stats.dropped.invalid_value, 3, 'every unreadable record counted');
  assert.equal(stats.queued, 1, 'only the readable record was queued');
  assert.equal(stats.exported, 1);
});
