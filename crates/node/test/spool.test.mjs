// The spool: with the endpoint down, a batch that fails is written to disk; once the
// endpoint is up, the next flush sends it, and its records arrive.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';
import { AutomagikTelemetry } from '@automagik/telemetry';
import { clientOptions, freePort, startServer, tempDir, waitForEvents } from './helpers.mjs';

test('records tracked while the endpoint is down are spooled, then delivered when it is up', async (t) => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const spoolDir = tempDir(t, 'automagik-spool-');
  const telemetry = new AutomagikTelemetry(
    clientOptions(t, endpoint, {
      spoolDir,
      maxRetries: 0,
      flushInterval: 60000,
      projectName: 'node-spool',
    }),
  );
  t.after(() => telemetry.shutdown(5000));

  telemetry.trackEvent('offline.event', { n: 1 });
  telemetry.trackEvent('offline.event', { n: 2 });
  assert.equal(await telemetry.flush(10000), true, 'a spooled batch counts as handled');
  let stats = telemetry.stats();
  assert.equal(stats.spooled, 2, 'both records are in the spool');
  assert.equal(stats.exported, 0, 'nothing was delivered');
  assert.equal(stats.droppedTotal, 0, 'nothing was lost');
  assert.ok(fs.readdirSync(spoolDir).length > 0, 'the spool directory holds the batch');

  const { base } = await startServer(t, { port });
  assert.equal(await telemetry.flush(10000), true);
  stats = telemetry.stats();
  assert.equal(stats.exported, 2, 'the spooled batch was delivered');
  const items = await waitForEvents(base, 'offline.event', 2);
  assert.deepEqual(items.map((e) => e.attributes.n).sort(), [1, 2]);
  assert.equal(items[0].service_name, 'node-spool');
});
