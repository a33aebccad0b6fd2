// Drop-in for @automagik/telemetry 0.1.3: a program written against its README runs
// unchanged and its records arrive; every name 0.1.3 exports is here, with its values.

import assert from 'node:assert/strict';
import test from 'node:test';
import * as telemetry from '@automagik/telemetry';
import {
  getJson,
  metricKinds,
  metricSum,
  runFixture,
  startServer,
  tempDir,
  waitFor,
  waitForEvents,
} from './helpers.mjs';

test("a program written against 0.1.3's README runs unchanged and its records arrive", async (t) => {
  const { base } = await startServer(t);
  const home = tempDir(t, 'automagik-home-');
  const out = await runFixture('readme-0.1.3.mjs', {
    env: {
      AUTOMAGIK_TELEMETRY_ENABLED: 'true',
      AUTOMAGIK_TELEMETRY_ENDPOINT: base,
      HOME: home,
      XDG_CONFIG_HOME: home,
    },
  });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { enabled: true, status: 'my-app' });

  const [login] = await waitForEvents(base, 'user.login');
  assert.equal(login.service_name, 'my-app');
  assert.equal(login.resource['service.version'], '1.0.0');
  assert.equal(login.attributes.method, 'oauth');
  assert.match(login.attributes.userId, /^[0-9a-f]{64}$/, 'the user id is hashed, never sent');
  const [feature] = await waitForEvents(base, 'automagik.feature.used');
  assert.equal(feature.attributes.feature_name, 'list_contacts');

  const logs = await getJson(`${base}/api/v1/logs?q=${encodeURIComponent('User action completed')}`);
  assert.equal(logs.items.length, 1);
  assert.equal(logs.items[0].severity_number, 9);
  assert.equal(logs.items[0].attributes.file_size, 1024);

  const errors = await getJson(`${base}/api/v1/logs?severity_min=error`);
  assert.equal(errors.items.length, 1);
  assert.equal(errors.items[0].body, 'message send failed');
  assert.equal(errors.items[0].attributes['exception.type'], 'Error');
  assert.equal(errors.items[0].attributes.error_code, 'OMNI-1001');

  const kinds = await waitFor(
    async () => {
      const k = await metricKinds(base);
      return Object.keys(k).length >= 2 ? k : undefined;
    },
    { what: 'the two metrics' },
  );
  assert.deepEqual(kinds, { 'api.request.latency': 'histogram', 'api.requests': 'sum' });
  assert.equal(await metricSum(base, 'api.requests'), 1);
});

test('every name 0.1.3 exports is exported, with the same values', () => {
  const names = [
    'AutomagikTelemetry',
    'LogSeverity',
    'MetricType',
    'TelemetryOptIn',
    'promptUserIfNeeded',
    'shouldPromptUser',
    'StandardEvents',
    'DEFAULT_CONFIG',
    'ENV_VARS',
    'createConfig',
    'mergeConfig',
    'validateConfig',
    'loadConfigFromEnv',
    'hashValue',
    'detectPII',
    'sanitizePhone',
    'sanitizeEmail',
    'truncateString',
    'sanitizeValue',
    'redactSensitiveKeys',
    'sanitizeTelemetryData',
    'SENSITIVE_KEYS',
    'ClickHouseBackend',
    'VERSION',
  ];
  assert.deepEqual(
    names.filter((n) => telemetry[n] === undefined),
    [],
    'no 0.1.3 export is missing',
  );
  for (const method of ['trackEvent', 'trackError', 'trackMetric', 'trackLog', 'flush', 'enable', 'disable', 'isEnabled', 'getStatus']) {
    assert.equal(typeof telemetry.AutomagikTelemetry.prototype[method], 'function', method);
  }
  for (const method of ['hasUserDecided', 'getUserPreference', 'savePreference', 'promptUser']) {
    assert.equal(typeof telemetry.TelemetryOptIn[method], 'function', `TelemetryOptIn.${method}`);
  }
  const { LogSeverity, MetricType, StandardEvents } = telemetry;
  assert.deepEqual(
    [LogSeverity.TRACE, LogSeverity.DEBUG, LogSeverity.INFO, LogSeverity.WARN, LogSeverity.ERROR, LogSeverity.FATAL],
    [1, 5, 9, 13, 17, 21],
  );
  assert.equal(LogSeverity[13], 'WARN', 'the reverse mapping of a TypeScript enum');
  assert.deepEqual([MetricType.GAUGE, MetricType.COUNTER, MetricType.HISTOGRAM], ['gauge', 'counter', 'histogram']);
  assert.deepEqual(
    [
      StandardEvents.FEATURE_USED,
      StandardEvents.API_REQUEST,
      StandardEvents.COMMAND_EXECUTED,
      StandardEvents.OPERATION_LATENCY,
      StandardEvents.ERROR_OCCURRED,
      StandardEvents.SERVICE_HEALTH,
    ],
    [
      'automagik.feature.used',
      'automagik.api.request',
      'automagik.cli.command',
      'automagik.performance.latency',
      'automagik.error',
      'automagik.health',
    ],
  );
  assert.equal(telemetry.VERSION, '0.2.0');
  assert.throws(() => telemetry.createConfig({ projectName: '', version: '1' }), {
    message: 'TelemetryConfig: projectName is required and cannot be empty',
  });
  assert.throws(() => telemetry.validateConfig({ projectName: 'a', version: '1', endpoint: 'ftp://x' }), {
    message: 'TelemetryConfig: endpoint must use http or https protocol',
  });
});

test('a disabled client answers every 0.1.3 call without sending or throwing', async () => {
  const client = new telemetry.AutomagikTelemetry({
    projectName: 'quiet',
    version: '1.0.0',
    env: {},
    homeDir: '/nonexistent',
    flushOnExit: false,
  });
  assert.equal(client.isEnabled(), false);
  client.trackEvent('x', { a: 1 });
  client.trackError(new Error('e'));
  client.trackError('not an error');
  client.trackMetric('m', 1);
  client.trackLog('l');
  assert.equal(await client.flush(), true, 'a disabled client has nothing to flush');
  const status = client.getStatus();
  assert.equal(status.enabled, false);
  assert.equal(status.project_name, 'quiet');
  assert.equal(status.endpoint, 'http://127.0.0.1:4318/v1/traces');
  assert.equal(status.metricsEndpoint, 'http://127.0.0.1:4318/v1/metrics');
  assert.equal(status.user_id, null, 'no install id when disabled');
  assert.equal(client.stats().queued, 0);
});
