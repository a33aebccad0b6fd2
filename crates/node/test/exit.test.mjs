// The process and its deadlines: a pending flush towards an endpoint that never answers
// does not keep a program alive past the flush deadline, and the flush at exit (when the
// event loop empties, or at process.exit()) delivers what was tracked within its own.

import assert from 'node:assert/strict';
import test from 'node:test';
import { AutomagikTelemetry } from '@automagik/telemetry';
import {
  blackHole,
  clientOptions,
  runFixture,
  startServer,
  tempDir,
  waitForEvents,
} from './helpers.mjs';

// The deadline the programs are given, and what starting Node.js and the addon may add.
// Without the deadlines, the request timeout (10 s) would hold them.
const FLUSH_TIMEOUT_MS = 1000;
const MARGIN_MS = 4000;

test('a flush waits off the event loop: timers keep running while it is pending', async (t) => {
  const hole = await blackHole(t);
  const telemetry = new AutomagikTelemetry(
    clientOptions(t, hole.endpoint, { flushTimeout: FLUSH_TIMEOUT_MS }),
  );
  t.after(() => telemetry.shutdown(500));
  telemetry.trackEvent('held.by.the.endpoint');
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 10);
  const delivered = await telemetry.flush();
  clearInterval(timer);
  assert.equal(delivered, false, 'the endpoint never answered: the deadline ended the flush');
  assert.ok(ticks > 0, 'timers ran while the flush waited');
  assert.ok(hole.connections() >= 1, 'the request reached the endpoint');
});

test('a pending flush to an endpoint that never answers ends by its deadline, and so does the process', async (t) => {
  const hole = await blackHole(t);
  const home = tempDir(t, 'automagik-home-');
  const out = await runFixture('pending-flush.mjs', {
    env: { ENDPOINT: hole.endpoint, HOME_DIR: home, FLUSH_TIMEOUT_MS: String(FLUSH_TIMEOUT_MS) },
  });
  assert.equal(out.code, 0, out.stderr);
  const printed = JSON.parse(out.stdout);
  assert.equal(printed.delivered, false, 'the flush resolved undelivered at its deadline');
  assert.ok(hole.connections() >= 1, 'the request did reach the endpoint');
  assert.ok(
    out.elapsedMs < FLUSH_TIMEOUT_MS + MARGIN_MS,
    `the process ran ${out.elapsedMs} ms; the deadline is ${FLUSH_TIMEOUT_MS} ms`,
  );
});

test('the flush when the event loop empties ends by its deadline whatever the endpoint does', async (t) => {
  const hole = await blackHole(t);
  const home = tempDir(t, 'automagik-home-');
  const out = await runFixture('exit-flush.mjs', {
    env: { ENDPOINT: hole.endpoint, HOME_DIR: home, FLUSH_TIMEOUT_MS: String(FLUSH_TIMEOUT_MS) },
  });
  assert.equal(out.code, 0, out.stderr);
  assert.ok(hole.connections() >= 1, 'the exit flush sent the event');
  assert.ok(
    out.elapsedMs < FLUSH_TIMEOUT_MS + MARGIN_MS,
    `the process ran ${out.elapsedMs} ms; the deadline is ${FLUSH_TIMEOUT_MS} ms`,
  );
});

test('what a program tracked before it ends, or calls process.exit(), is delivered at exit', async (t) => {
  const { base } = await startServer(t);
  for (const how of ['end', 'exit']) {
    const home = tempDir(t, 'automagik-home-');
    const out = await runFixture('exit-flush.mjs', {
      args: how === 'exit' ? ['exit'] : [],
      env: {
        ENDPOINT: base,
        HOME_DIR: home,
        FLUSH_TIMEOUT_MS: '10000',
        EVENT_NAME: `exit.${how}`,
      },
    });
    assert.equal(out.code, 0, out.stderr);
    const [event] = await waitForEvents(base, `exit.${how}`);
    assert.equal(event.attributes.how, how);
    assert.equal(event.service_name, 'exit-flush');
  }
});
