// The configuration is the Rust SDK's: its defaults, its environment variables, code over
// environment, 0.1.3's units (milliseconds, and seconds for `timeout`) converted, and a
// malformed value refused with its name. The effective configuration printed here has the
// keys the other languages print.

import assert from 'node:assert/strict';
import test from 'node:test';
import { AutomagikTelemetry, EFFECTIVE_CONFIG_KEYS } from '@automagik/telemetry';
import { runFixture, tempDir } from './helpers.mjs';

// The fields these tests look at; effectiveConfig() has every key the SDK describes.
const LOOKED_AT = [
  'endpoint',
  'backend',
  'project_name',
  'version',
  'batch_size',
  'flush_interval_ms',
  'max_retries',
  'compression_threshold',
  'spool_dir',
  'enabled',
  'consent',
];

function summary(config) {
  return Object.fromEntries(LOOKED_AT.map((key) => [key, config[key]]));
}

function client(t, options) {
  const home = tempDir(t, 'automagik-home-');
  const telemetry = new AutomagikTelemetry({ homeDir: home, stateDir: home, flushOnExit: false, ...options });
  t.after(() => telemetry.shutdown(1000));
  return telemetry;
}

test('the defaults are the SDK specification', (t) => {
  assert.deepEqual(summary(client(t, { env: {} }).effectiveConfig()), {
    endpoint: 'http://127.0.0.1:4318',
    backend: 'otlp',
    project_name: 'unknown_service',
    version: '',
    batch_size: 100,
    flush_interval_ms: 5000,
    max_retries: 3,
    compression_threshold: 1024,
    spool_dir: null,
    enabled: false,
    consent: 'disabled: no consent given (set AUTOMAGIK_TELEMETRY_ENABLED=true or grant it in code)',
  });
  assert.deepEqual(Object.keys(client(t, { env: {} }).effectiveConfig()).sort(), [...EFFECTIVE_CONFIG_KEYS].sort());
  const full = client(t, { env: {} }).getStatus().config;
  assert.deepEqual(
    [full.queue_size, full.compression, full.retry_backoff_ms, full.timeout_ms, full.drop_timeout_ms],
    [10000, 'gzip', 1000, 10000, 5000],
  );
});

test('the environment is read, and code wins over it, enabled or not', (t) => {
  const spool = tempDir(t, 'automagik-spool-');
  const env = {
    AUTOMAGIK_TELEMETRY_ENDPOINT: 'http://collector.example:4318/',
    AUTOMAGIK_TELEMETRY_BACKEND: 'otlp-json',
    AUTOMAGIK_TELEMETRY_BATCH_SIZE: '7',
    AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL: '250ms',
    AUTOMAGIK_TELEMETRY_MAX_RETRIES: '5',
    AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD: '0',
    AUTOMAGIK_TELEMETRY_SPOOL_DIR: spool,
    OTEL_SERVICE_NAME: 'from-env',
  };
  const fromEnv = {
    endpoint: 'http://collector.example:4318',
    backend: 'otlp-json',
    project_name: 'from-env',
    version: '',
    batch_size: 7,
    flush_interval_ms: 250,
    max_retries: 5,
    compression_threshold: 0,
    spool_dir: spool,
  };
  assert.deepEqual(summary(client(t, { env: { ...env, AUTOMAGIK_TELEMETRY_ENABLED: 'true' } }).effectiveConfig()), {
    ...fromEnv,
    enabled: true,
    consent: 'enabled: AUTOMAGIK_TELEMETRY_ENABLED=true',
  });
  assert.deepEqual(summary(client(t, { env }).effectiveConfig()), {
    ...fromEnv,
    enabled: false,
    consent: 'disabled: no consent given (set AUTOMAGIK_TELEMETRY_ENABLED=true or grant it in code)',
  });

  const code = {
    projectName: 'from-code',
    version: '2.0.0',
    endpoint: 'http://127.0.0.1:9/v1/traces',
    batchSize: 1,
    flushInterval: 1500,
    maxRetries: 0,
  };
  const fromCode = {
    ...fromEnv,
    endpoint: 'http://127.0.0.1:9',
    project_name: 'from-code',
    version: '2.0.0',
    batch_size: 1,
    flush_interval_ms: 1500,
    max_retries: 0,
  };
  const enabled = client(t, { ...code, env: { ...env, AUTOMAGIK_TELEMETRY_ENABLED: 'true' } });
  assert.deepEqual(summary(enabled.effectiveConfig()), {
    ...fromCode,
    enabled: true,
    consent: 'enabled: AUTOMAGIK_TELEMETRY_ENABLED=true',
  });
  const disabled = client(t, { ...code, env });
  const { enabled: _e, consent: _r, consent_rule: _q, ...disabledConfig } = disabled.effectiveConfig();
  const { enabled: _e2, consent: _r2, consent_rule: _q2, ...enabledConfig } = enabled.effectiveConfig();
  assert.deepEqual(disabledConfig, enabledConfig, 'a disabled client resolves the same configuration');
});

test("0.1.3's units are converted: milliseconds, and seconds for timeout", (t) => {
  const config = client(t, {
    env: {},
    timeout: 2,
    retryBackoffBase: 250,
    flushInterval: 1500,
    compressionEnabled: false,
    maxBackoff: 4000,
    flushTimeout: 3000,
  }).getStatus().config;
  assert.deepEqual(
    [config.timeout_ms, config.retry_backoff_ms, config.flush_interval_ms, config.compression, config.max_backoff_ms, config.drop_timeout_ms],
    [2000, 250, 1500, 'none', 4000, 3000],
  );
});

test('a malformed variable or option is refused with its name', () => {
  assert.throws(
    () => new AutomagikTelemetry({ env: { AUTOMAGIK_TELEMETRY_BATCH_SIZE: 'many' }, flushOnExit: false }),
    { message: /^AUTOMAGIK_TELEMETRY_BATCH_SIZE: / },
  );
  assert.throws(
    () => new AutomagikTelemetry({ env: { AUTOMAGIK_TELEMETRY_ENABLED: 'perhaps' }, flushOnExit: false }),
    { message: /^AUTOMAGIK_TELEMETRY_ENABLED: / },
  );
  assert.throws(() => new AutomagikTelemetry({ env: {}, batchSize: -1, flushOnExit: false }), {
    message: /^batchSize: /,
  });
  assert.throws(() => new AutomagikTelemetry({ env: {}, backend: 'pigeon', flushOnExit: false }), {
    message: /^backend: /,
  });
});

test('a program prints the effective configuration its environment gives, as the client sees it', async (t) => {
  const home = tempDir(t, 'automagik-home-');
  const env = {
    AUTOMAGIK_TELEMETRY_BATCH_SIZE: '42',
    AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL: '2s',
    AUTOMAGIK_TELEMETRY_ENDPOINT: 'http://127.0.0.1:9',
    OTEL_SERVICE_NAME: 'printed',
  };
  const out = await runFixture('print-effective-config.mjs', {
    env: { ...env, HOME: home, XDG_CONFIG_HOME: home },
  });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), client(t, { env: { ...env, HOME: home } }).effectiveConfig());
  assert.equal(JSON.parse(out.stdout).batch_size, 42);
  assert.equal(JSON.parse(out.stdout).flush_interval_ms, 2000);
});
