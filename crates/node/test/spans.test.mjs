// Spans from Node.js: nesting through `withSpan` (across awaits, and apart for flows that
// interleave), logs inside a span carrying its ids, W3C traceparent in and out, and
// errors recorded on the span.

import assert from 'node:assert/strict';
import test from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AutomagikTelemetry,
  LogSeverity,
  SpanKind,
  extractTraceparent,
} from '@automagik/telemetry';
import { clientOptions, logsOfTrace, startServer, waitFor, waitForTrace } from './helpers.mjs';

test('withSpan nests spans across awaits; logs inside carry the span; traceparent is injected', async (t) => {
  const { base } = await startServer(t);
  const telemetry = new AutomagikTelemetry(clientOptions(t, base, { projectName: 'node-spans' }));
  t.after(() => telemetry.shutdown(5000));
  const ids = {};
  const returned = await telemetry.withSpan(
    'GET /cart',
    { kind: SpanKind.SERVER, attributes: { 'http.route': '/cart' } },
    async (parent) => {
      const ctx = parent.spanContext();
      ids.trace = ctx.traceId;
      ids.parent = ctx.spanId;
      assert.equal(telemetry.injectTraceparent(), `00-${ctx.traceId}-${ctx.spanId}-01`);
      assert.deepEqual(telemetry.inject({ accept: 'json' }), {
        accept: 'json',
        traceparent: ctx.traceparent,
      });
      await sleep(5);
      await telemetry.withSpan('load-cart', async (child) => {
        ids.child = child.spanContext().spanId;
        assert.equal(telemetry.currentSpan(), child, 'the current span is the innermost');
        child.setAttribute('cart.items', 3);
        child.addEvent('cache.miss', { key: 'cart:42' });
        telemetry.trackLog('loading cart', LogSeverity.INFO);
        await sleep(5);
      });
      return 'done';
    },
  );
  assert.equal(returned, 'done', "withSpan returns the callback's value");
  assert.equal(telemetry.currentSpan(), undefined, 'no current span outside withSpan');
  assert.equal(await telemetry.flush(10000), true);

  const spans = await waitForTrace(base, ids.trace, 2);
  const parent = spans.find((s) => s.name === 'GET /cart');
  const child = spans.find((s) => s.name === 'load-cart');
  assert.equal(parent.span_id, ids.parent);
  assert.equal(parent.parent_span_id, null, 'the outer span is the root');
  assert.equal(parent.kind, 2, 'SERVER');
  assert.equal(parent.attributes['http.route'], '/cart');
  assert.equal(parent.service_name, 'node-spans');
  assert.equal(child.span_id, ids.child);
  assert.equal(child.parent_span_id, ids.parent, 'the inner span is a child of the outer');
  assert.equal(child.attributes['cart.items'], 3);
  assert.equal(child.events[0].name, 'cache.miss');
  assert.equal(child.events[0].attributes.key, 'cart:42');
  assert.ok(
    BigInt(child.end_time_unix_nano) <= BigInt(parent.end_time_unix_nano),
    'the child ended before its parent',
  );

  const logs = await waitFor(
    async () => {
      const items = await logsOfTrace(base, ids.trace);
      return items.length ? items : undefined;
    },
    { what: 'the log of the trace' },
  );
  assert.equal(logs[0].body, 'loading cart');
  assert.equal(logs[0].span_id, ids.child, 'the log carries the span it was tracked in');
});

test('flows that interleave keep their own parents', async (t) => {
  const { base } = await startServer(t);
  const telemetry = new AutomagikTelemetry(clientOptions(t, base));
  t.after(() => telemetry.shutdown(5000));
  const requests = {};
  const queries = {};
  await Promise.all(
    ['a', 'b'].map((name) =>
      telemetry.withSpan(`request ${name}`, { root: true }, async (span) => {
        requests[name] = span.spanContext();
        // Both requests are open here: the later one is the thread's latest span.
        await sleep(20);
        telemetry.withSpan(`query ${name}`, (q) => {
          queries[name] = q.spanContext();
        });
      }),
    ),
  );
  assert.notEqual(requests.a.traceId, requests.b.traceId, 'two traces');
  assert.equal(await telemetry.flush(10000), true);
  for (const name of ['a', 'b']) {
    assert.equal(queries[name].traceId, requests[name].traceId, `query ${name} is in its request's trace`);
    const spans = await waitForTrace(base, requests[name].traceId, 2);
    const query = spans.find((s) => s.name === `query ${name}`);
    assert.equal(query.parent_span_id, requests[name].spanId, `query ${name}'s parent is request ${name}`);
  }
});

test('a traceparent from another process is continued; an invalid one starts a new trace', async (t) => {
  const { base } = await startServer(t);
  const telemetry = new AutomagikTelemetry(clientOptions(t, base));
  t.after(() => telemetry.shutdown(5000));
  const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  assert.deepEqual(extractTraceparent(incoming), {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
    sampled: true,
    traceparent: incoming,
  });
  assert.deepEqual(AutomagikTelemetry.extractTraceparent([incoming]), extractTraceparent(incoming));
  assert.equal(extractTraceparent('00-nonsense'), null);
  assert.equal(extractTraceparent(undefined), null);

  const handled = telemetry.startSpan('handle', { parent: incoming, kind: SpanKind.SERVER });
  assert.equal(handled.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  handled.end();
  const fresh = telemetry.startSpan('fresh', { parent: '00-nonsense' });
  const freshTrace = fresh.spanContext().traceId;
  assert.notEqual(freshTrace, '4bf92f3577b34da6a3ce929d0e0e4736');
  fresh.end();
  fresh.end();
  assert.equal(fresh.isRecording(), false, 'an ended span records nothing more');
  assert.equal(await telemetry.flush(10000), true);

  const [span] = await waitForTrace(base, '4bf92f3577b34da6a3ce929d0e0e4736', 1);
  assert.equal(span.name, 'handle');
  assert.equal(span.parent_span_id, '00f067aa0ba902b7', 'the remote span is the parent');
  const [other] = await waitForTrace(base, freshTrace, 1);
  assert.equal(other.name, 'fresh');
  assert.equal(other.parent_span_id, null);
  assert.equal(telemetry.stats().exported, 2, 'two spans, each exported once');
});

test('an error thrown in withSpan is recorded on the span and passed on', async (t) => {
  const { base } = await startServer(t);
  const telemetry = new AutomagikTelemetry(clientOptions(t, base));
  t.after(() => telemetry.shutdown(5000));
  let ctx;
  await assert.rejects(
    telemetry.withSpan('charge', async (span) => {
      ctx = span.spanContext();
      await sleep(1);
      throw new RangeError('card declined');
    }),
    { name: 'RangeError', message: 'card declined' },
  );
  assert.throws(
    () =>
      telemetry.withSpan('sync charge', () => {
        throw new Error('sync failure');
      }),
    { message: 'sync failure' },
  );
  assert.equal(await telemetry.flush(10000), true);
  const [span] = await waitForTrace(base, ctx.traceId, 1);
  assert.equal(span.status_code, 2, 'ERROR');
  assert.equal(span.status_message, 'card declined');
  assert.equal(span.events[0].name, 'exception');
  assert.equal(span.events[0].attributes['exception.type'], 'RangeError');
  assert.equal(span.events[0].attributes['exception.message'], 'card declined');
});
