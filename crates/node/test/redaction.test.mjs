// Redaction by the Rust SDK before anything leaves the process (checked against a server
// whose own redaction is off), and the 0.1.3 privacy helpers answered by the same
// redactor.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import test from 'node:test';
import {
  AutomagikTelemetry,
  LogSeverity,
  detectPII,
  explainRedaction,
  hashValue,
  redactSensitiveKeys,
  sanitizeEmail,
  sanitizePhone,
  sanitizeTelemetryData,
  sanitizeValue,
  truncateString,
} from '@automagik/telemetry';
import { clientOptions, getJson, startServer, waitFor, waitForEvents, waitForTrace } from './helpers.mjs';

test('an e-mail, a secret and a user id in attributes arrive redacted; the server redacts nothing', async (t) => {
  const { base } = await startServer(t, { extra: ['--redact', 'off'] });
  const telemetry = new AutomagikTelemetry(clientOptions(t, base));
  t.after(() => telemetry.shutdown(5000));
  telemetry.trackEvent('signup', {
    contact: 'write to jane@example.com',
    password: 'hunter2',
    userId: 'anonymous-123',
    plan: 'pro',
    nested: { owner: { email: 'ops@example.com' } },
  });
  telemetry.trackLog('mail to jane@example.com bounced', LogSeverity.WARN);
  const span = telemetry.startSpan('notify jane@example.com', { attributes: { to: 'jane@example.com' } });
  const traceId = span.spanContext().traceId;
  span.end();
  assert.equal(await telemetry.flush(10000), true);

  const [event] = await waitForEvents(base, 'signup');
  assert.equal(event.attributes.contact, 'write to [REDACTED:email]');
  assert.equal(event.attributes.password, '[REDACTED:secret]', "a secret key's value is replaced whole");
  const hashed = telemetry.hashUserId('anonymous-123');
  assert.match(hashed, /^[0-9a-f]{64}$/, 'a salted SHA-256');
  assert.equal(event.attributes.userId, hashed, 'user ids are hashed with the install salt');
  assert.equal(event.attributes.plan, 'pro', 'clean values are untouched');
  assert.equal(event.attributes.nested.owner.email, '[REDACTED:email]', 'nested values too');

  const logs = await waitFor(
    async () => {
      const body = await getJson(`${base}/api/v1/logs?severity_min=warn`);
      return body.items.length ? body.items : undefined;
    },
    { what: 'the warning' },
  );
  assert.equal(logs[0].body, 'mail to [REDACTED:email] bounced', 'log bodies pass the redactor');

  const [stored] = await waitForTrace(base, traceId, 1);
  assert.equal(stored.name, 'notify [REDACTED:email]', 'span names pass the redactor');
  assert.equal(stored.attributes.to, '[REDACTED:email]');
  assert.equal(telemetry.redact('call jane@example.com'), 'call [REDACTED:email]');
});

test('the 0.1.3 privacy helpers answer with the SDK redactor', () => {
  assert.equal(detectPII('user@example.com'), true);
  assert.equal(detectPII('Hello world'), false);
  assert.equal(detectPII(42), false, 'only strings can hold PII');
  assert.deepEqual(
    explainRedaction('mail jane@example.com').map((m) => m.marker),
    ['email'],
  );
  assert.equal(sanitizeValue('Contact: user@example.com'), 'Contact: [REDACTED:email]');
  assert.equal(sanitizeValue(42), 42);
  assert.equal(sanitizeValue(null), null);
  assert.deepEqual(sanitizeValue(['a@b.io', 'ok']), ['[REDACTED:email]', 'ok']);
  assert.equal(
    sanitizeEmail('mail test@test.com or call +1 415 555 2671'),
    'mail [REDACTED:email] or call +1 415 555 2671',
    'only the e-mail is replaced',
  );
  assert.equal(
    sanitizePhone('mail test@test.com or call +1 415 555 2671'),
    'mail test@test.com or call [REDACTED:phone]',
    'only the phone number is replaced',
  );
  assert.equal(
    hashValue('sensitive-data'),
    `sha256:${crypto.createHash('sha256').update('sensitive-data').digest('hex').slice(0, 16)}`,
  );
  assert.equal(truncateString('Very long string...', 10), 'Very lo...');
  assert.equal(truncateString('short', 10), 'short');
  assert.deepEqual(
    redactSensitiveKeys(
      { username: 'john', password: 'secret123', token: 'abc', nested: { api_key: 'k', name: 'n' } },
      ['password', 'token'],
    ),
    {
      username: 'john',
      password: '[REDACTED:secret]',
      token: '[REDACTED:secret]',
      nested: { api_key: '[REDACTED:secret]', name: 'n' },
    },
  );
  assert.deepEqual(redactSensitiveKeys({ my_pwd: 'x' }, ['pwd'], { redactionText: '***' }), {
    my_pwd: '***',
  });
  assert.deepEqual(
    sanitizeTelemetryData({
      user: { email: 'test@example.com', password: 'secret' },
      message: 'Error at /home/alice/project/file.ts',
      count: 3,
    }),
    {
      user: { email: '[REDACTED:email]', password: '[REDACTED:secret]' },
      message: 'Error at /home/[REDACTED:user]/project/file.ts',
      count: 3,
    },
  );
  assert.equal(
    sanitizeValue('x'.repeat(20), { maxStringLength: 10 }),
    'xxxxxxx...',
    'maxStringLength cuts as 0.1.3 did',
  );
});
