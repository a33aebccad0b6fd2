// Shared pieces of the package's tests: a real `automagik-telemetry serve` on loopback
// ports with a temporary data directory, reads through its HTTP API, and clients isolated
// from the machine (their own environment, home and state directories).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The server binary under test. */
export const BIN = process.env.AUTOMAGIK_TELEMETRY_BIN;

/** The folder of the test fixtures (programs run as child processes). */
export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

function requireBin() {
  if (!BIN || !fs.existsSync(BIN)) {
    throw new Error(
      `AUTOMAGIK_TELEMETRY_BIN must name the automagik-telemetry binary (got ${JSON.stringify(BIN)}); ` +
        'scripts/test-node sets it',
    );
  }
  return BIN;
}

/** A loopback port nothing listens on. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A fresh temporary directory, removed by `t.after`. */
export function tempDir(t, prefix = 'automagik-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment without the project's variables and the opt-outs of the machine. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('AUTOMAGIK_TELEMETRY_') || k.startsWith('OTEL_')) continue;
    if (['DO_NOT_TRACK', 'ENVIRONMENT', 'CI'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns something other than `undefined`, `null` or `false`. */
export async function waitFor(fn, { timeoutMs = 20000, intervalMs = 100, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last !== undefined && last !== null && last !== false) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await sleep(intervalMs);
  }
}

/** GET `url`; its body as JSON (an error for a status other than 200). */
export async function getJson(url) {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * `serve` on a free loopback port with a fresh data directory and `extra` flags, once
 * `/healthz` answers; stopped (SIGTERM, as an operator stops it) by `t.after`.
 */
export async function startServer(t, { extra = [], port } = {}) {
  const bin = requireBin();
  const dataDir = tempDir(t, 'automagik-serve-');
  const httpPort = port ?? (await freePort());
  const child = spawn(
    bin,
    [
      'serve',
      '--data-dir',
      dataDir,
      '--http-addr',
      `127.0.0.1:${httpPort}`,
      '--grpc-addr',
      'off',
      '--fleet-interval',
      'off',
      ...extra,
    ],
    { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
  });
  const base = `http://127.0.0.1:${httpPort}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) {
        throw new Error(`the server exited at start (port ${httpPort} taken?): ${stderr}`);
      }
      const res = await fetch(`${base}/healthz`);
      return res.status === 200;
    },
    { what: `serve on ${base}` },
  );
  return { base, port: httpPort, dataDir, child };
}

/**
 * Options of a client isolated from the machine: consent granted through its own
 * environment, its own home (no opt-out file) and state directories, short intervals.
 */
export function clientOptions(t, endpoint, extra = {}) {
  const home = tempDir(t, 'automagik-home-');
  return {
    projectName: 'node-tests',
    version: '1.2.3',
    endpoint,
    env: { AUTOMAGIK_TELEMETRY_ENABLED: 'true' },
    homeDir: home,
    stateDir: home,
    flushInterval: 200,
    flushOnExit: false,
    ...extra,
  };
}

/** The stored events named `name`. */
export async function events(base, name) {
  const body = await getJson(`${base}/api/v1/events?name=${encodeURIComponent(name)}`);
  return body.items;
}

/** Waits until at least `count` events named `name` are stored; returns them. */
export function waitForEvents(base, name, count = 1) {
  return waitFor(
    async () => {
      const items = await events(base, name);
      return items.length >= count ? items : undefined;
    },
    { what: `${count} event(s) ${name}` },
  );
}

/** The stored log records of a trace. */
export async function logsOfTrace(base, traceId) {
  const body = await getJson(`${base}/api/v1/logs?trace_id=${traceId}`);
  return body.items;
}

/** Waits until the trace `traceId` has `count` spans; returns them. */
export function waitForTrace(base, traceId, count) {
  return waitFor(
    async () => {
      const res = await fetch(`${base}/api/v1/traces/${traceId}`);
      if (res.status !== 200) return undefined;
      const body = await res.json();
      return body.spans.length >= count ? body.spans : undefined;
    },
    { what: `${count} span(s) of trace ${traceId}` },
  );
}

/** The sum of every point of the metric `name` over the last hour. */
export async function metricSum(base, name) {
  const body = await getJson(
    `${base}/api/v1/metrics/${encodeURIComponent(name)}/series?from=-1h&agg=sum`,
  );
  let sum = 0;
  for (const series of body.series) for (const p of series.points) sum += p.value ?? 0;
  return sum;
}

/** The listing of metric names: `{name: kind}`. */
export async function metricKinds(base) {
  const body = await getJson(`${base}/api/v1/metrics`);
  return Object.fromEntries(body.items.map((m) => [m.name, m.kind]));
}

/**
 * A TCP server that accepts connections and never answers: an endpoint that holds every
 * request until its client gives up. Closed by `t.after`.
 */
export async function blackHole(t) {
  const sockets = new Set();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    connections: () => connections,
  };
}

/**
 * Runs `node <fixture> ...args` with `env` (over the clean environment); resolves with its
 * exit code, what it printed, and how long it ran in milliseconds.
 */
export function runFixture(fixture, { env = {}, args = [], timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(FIXTURES, fixture), ...args], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${fixture} still ran after ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}
