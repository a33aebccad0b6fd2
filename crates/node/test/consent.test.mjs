// Consent, decided by the Rust SDK in its order (opt-out, development, opt-in, defaults):
// the opt-out file, DO_NOT_TRACK, development environments, the library's default, and
// enable()/disable() moving the opt-out file; records of a disabled client never leave.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { AutomagikTelemetry, OPT_OUT_FILE } from '@automagik/telemetry';
import {
  clientOptions,
  events,
  runFixture,
  startServer,
  tempDir,
  waitForEvents,
} from './helpers.mjs';

function client(t, env, extra = {}) {
  const home = tempDir(t, 'automagik-home-');
  const telemetry = new AutomagikTelemetry({
    projectName: 'node-consent',
    env,
    homeDir: home,
    stateDir: home,
    flushOnExit: false,
    ...extra,
  });
  t.after(() => telemetry.shutdown(1000));
  return { telemetry, home };
}

test('the opt-out file disables a client that consented in code', async (t) => {
  const home = tempDir(t, 'automagik-home-');
  const file = path.join(home, OPT_OUT_FILE);
  fs.writeFileSync(file, '');
  const telemetry = new AutomagikTelemetry({
    env: {},
    enabled: true,
    homeDir: home,
    stateDir: home,
    flushOnExit: false,
  });
  assert.equal(telemetry.isEnabled(), false);
  assert.deepEqual(telemetry.consentDecision(), {
    enabled: false,
    rule: 'opt_out_file',
    path: file,
    reason: `disabled: opt-out file ${file} exists`,
  });
  assert.equal(telemetry.getStatus().opt_out_file_exists, true);
  telemetry.trackEvent('never.sent');
  assert.equal(telemetry.stats().queued, 0, 'a disabled client queues nothing');
});

test('DO_NOT_TRACK wins over AUTOMAGIK_TELEMETRY_ENABLED=true, from the options and from the process environment', async (t) => {
  const { telemetry } = client(t, { AUTOMAGIK_TELEMETRY_ENABLED: 'true', DO_NOT_TRACK: '1' });
  assert.deepEqual(telemetry.consentDecision(), {
    enabled: false,
    rule: 'opt_out_variable',
    variable: 'DO_NOT_TRACK',
    reason: 'disabled: opted out by DO_NOT_TRACK',
  });

  const home = tempDir(t, 'automagik-home-');
  const out = await runFixture('print-effective-config.mjs', {
    env: { AUTOMAGIK_TELEMETRY_ENABLED: 'true', DO_NOT_TRACK: '1', HOME: home, XDG_CONFIG_HOME: home },
  });
  assert.equal(out.code, 0, out.stderr);
  const printed = JSON.parse(out.stdout);
  assert.equal(printed.enabled, false, 'the process environment is read by default');
  assert.equal(printed.consent, 'disabled: opted out by DO_NOT_TRACK');
  assert.equal(printed.consent_rule, 'opt_out_variable');
});

test('development environments disable telemetry unless AUTOMAGIK_TELEMETRY_ENABLED=true', async (t) => {
  const dev = client(t, { ENVIRONMENT: 'development' }, { enabled: true }).telemetry;
  assert.deepEqual(dev.consentDecision(), {
    enabled: false,
    rule: 'development',
    variable: 'ENVIRONMENT',
    reason:
      'disabled: development environment (ENVIRONMENT); set AUTOMAGIK_TELEMETRY_ENABLED=true to send',
  });
  const ci = client(t, { CI: 'true' }, { enabled: true }).telemetry;
  assert.equal(ci.consentDecision().rule, 'development');
  assert.equal(ci.consentDecision().variable, 'CI');
  assert.equal(ci.isEnabled(), false);
  const explicit = client(t, { ENVIRONMENT: 'test', AUTOMAGIK_TELEMETRY_ENABLED: 'true' }).telemetry;
  assert.deepEqual(explicit.consentDecision(), {
    enabled: true,
    rule: 'opt_in_variable',
    reason: 'enabled: AUTOMAGIK_TELEMETRY_ENABLED=true',
  });
  assert.equal(explicit.isEnabled(), true);
});

test('nobody said anything: disabled by default; a program default or consent in code enables', async (t) => {
  const none = client(t, {}).telemetry;
  assert.deepEqual(none.consentDecision(), {
    enabled: false,
    rule: 'library_default',
    reason: 'disabled: no consent given (set AUTOMAGIK_TELEMETRY_ENABLED=true or grant it in code)',
  });
  const byDefault = client(t, {}, { defaultEnabled: true }).telemetry;
  assert.equal(byDefault.consentDecision().rule, 'program_default');
  assert.equal(byDefault.isEnabled(), true);
  const inCode = client(t, {}, { enabled: true }).telemetry;
  assert.deepEqual(inCode.consentDecision(), {
    enabled: true,
    rule: 'granted_in_code',
    reason: 'enabled: consent granted by the program',
  });
  const revoked = client(t, { AUTOMAGIK_TELEMETRY_ENABLED: 'true' }, { enabled: false }).telemetry;
  assert.deepEqual(
    revoked.consentDecision(),
    { enabled: false, rule: 'revoked_in_code', reason: 'disabled: consent revoked by the program' },
    'consent revoked in code is an opt-out, and opt-outs come before the opt-in variable',
  );
});

test("an opted-out client's records never reach the server", async (t) => {
  const { base } = await startServer(t);
  const optedOut = new AutomagikTelemetry(
    clientOptions(t, base, { env: { AUTOMAGIK_TELEMETRY_ENABLED: 'true', DO_NOT_TRACK: '1' } }),
  );
  const sending = new AutomagikTelemetry(clientOptions(t, base));
  t.after(() => Promise.all([optedOut.shutdown(1000), sending.shutdown(5000)]));
  optedOut.trackEvent('opted.out.event');
  optedOut.trackLog('opted out log');
  assert.equal(await optedOut.flush(1000), true, 'a disabled client flushes at once');
  sending.trackEvent('marker.event');
  assert.equal(await sending.flush(10000), true);
  await waitForEvents(base, 'marker.event');
  assert.deepEqual(await events(base, 'opted.out.event'), [], 'nothing from the opted-out client');
});

test('disable() writes the opt-out file and stops sending; enable() removes it and sends again', async (t) => {
  const { base } = await startServer(t);
  const options = clientOptions(t, base, { env: {}, enabled: true });
  const telemetry = new AutomagikTelemetry(options);
  t.after(() => telemetry.shutdown(5000));
  const file = path.join(options.homeDir, OPT_OUT_FILE);
  assert.equal(telemetry.consentDecision().rule, 'granted_in_code');

  telemetry.trackEvent('before.disable');
  await telemetry.disable();
  assert.equal(fs.existsSync(file), true, 'disable() writes the opt-out file');
  assert.equal(telemetry.isEnabled(), false);
  assert.equal(telemetry.consentDecision().rule, 'opt_out_file');
  telemetry.trackEvent('while.disabled');

  telemetry.enable();
  assert.equal(fs.existsSync(file), false, 'enable() removes the opt-out file');
  assert.equal(telemetry.isEnabled(), true);
  assert.equal(telemetry.consentDecision().rule, 'granted_in_code');
  telemetry.trackEvent('after.enable');
  assert.equal(await telemetry.flush(10000), true);

  await waitForEvents(base, 'before.disable');
  await waitForEvents(base, 'after.enable');
  assert.deepEqual(await events(base, 'while.disabled'), [], 'nothing tracked while disabled is sent');
});

test('enable() cannot override an opt-out variable', async (t) => {
  const { telemetry } = client(t, { DO_NOT_TRACK: 'true' });
  telemetry.enable();
  assert.equal(telemetry.isEnabled(), false);
  assert.equal(telemetry.consentDecision().variable, 'DO_NOT_TRACK');
});
