// Measures the Node.js package `@automagik/telemetry` installed in a folder and prints one
// JSON line of results. scripts/bench-packages runs it once on a folder with our package
// (0.2.x) and once on one with the original 0.1.3.
//
//   node --expose-gc bench.mjs ours|theirs <folder with node_modules/@automagik/telemetry>
//
// `ours` drives the 0.2.x API, `theirs` the 0.1.3 one (the program refuses a mismatch).
// Settings, from the environment (the same as bench.py's):
//
//   BENCH_SERVER   base URL of a running `automagik-telemetry serve` (required)
//   BENCH_CALLS    trackEvent calls per timed repetition (default 2000)
//   BENCH_REPS     timed repetitions (default 5)
//   BENCH_WARMUP   calls before the first repetition (default BENCH_CALLS / 5)
//   BENCH_QUEUED   events queued for the memory figure (default 10000)
//   BENCH_BATCH    events in the captured batch (default 100)
//
// Consent is given with AUTOMAGIK_TELEMETRY_ENABLED=true (what both versions read).
//
// Figures (see bench.py): call_ns is the caller's time per trackEvent, timed in chunks of
// 100 calls between which the event loop runs (untimed) and, for 0.1.3, the requests its
// batches started complete, as in a program that does other things between events;
// cpu_ns is the process's CPU time (every thread) per call over the repetition and the
// flush that ends it; queued_bytes the RSS growth (process.memoryUsage().rss, after a
// full GC) for BENCH_QUEUED queued events; batch_* the first POST made for BENCH_BATCH
// events, and the number and size of all the POSTs they took.

import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';

const EVENT = 'bench.event';
const MARK = /batchmark(\d+)x/g;
const CHUNK = 100;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

function envInt(name, fallback) {
  const value = (process.env[name] ?? '').trim();
  return value ? Number.parseInt(value, 10) : fallback;
}

function fail(message) {
  process.stderr.write(`bench.mjs: ${message}\n`);
  process.exit(1);
}

function gc() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Five string attributes, one an e-mail address, each unique to `i`. */
function attributes(i, mark = 'feature') {
  return {
    feature_name: `${mark}${i}x`,
    user_email: `user${i}@example.com`,
    request_path: `/api/items/${i}`,
    plan: `plan-${i}`,
    region: `region-${i}`,
  };
}

/** An HTTP listener on a free loopback port: 200 to every POST, each request kept. */
async function capture() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        path: req.url,
        encoding: req.headers['content-encoding'] || 'identity',
        contentType: req.headers['content-type'] || '',
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'Content-Length': '0' });
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function decoded(request) {
  if (request.encoding === 'identity') return request.body;
  if (request.encoding === 'gzip') return zlib.gunzipSync(request.body);
  return null;
}

/** The calls the bench makes, in the API of one version. */
class Package {
  constructor(which, folder) {
    const require = createRequire(path.join(path.resolve(folder), 'package.json'));
    this.which = which;
    this.mod = require('@automagik/telemetry');
    this.version = require('@automagik/telemetry/package.json').version;
    const isOurs = !this.version.startsWith('0.1.');
    if ((which === 'ours') !== isOurs) {
      fail(`asked for ${which} but ${folder} has @automagik/telemetry ${this.version}`);
    }
  }

  client(endpoint, options = {}) {
    const config = { projectName: 'bench', version: '1.0.0', endpoint, ...options };
    if (this.which === 'ours') config.enabled = true;
    const c = new this.mod.AutomagikTelemetry(config);
    if (!c.isEnabled()) fail(`the ${this.which} client is disabled: ${JSON.stringify(c.getStatus())}`);
    if (this.which === 'theirs') {
      // 0.1.3's flush() waits only for what it sends itself; a batch that fills up is
      // sent without anyone waiting. Keep those requests so that drain() can wait for them.
      c.benchPending = new Set();
      const send = c.sendWithRetry.bind(c);
      c.sendWithRetry = (...args) => {
        const p = send(...args);
        c.benchPending.add(p);
        p.finally(() => c.benchPending.delete(p));
        return p;
      };
    }
    return c;
  }

  /** Lets the event loop run and, for 0.1.3, the requests it started finish. */
  async drain(c) {
    await tick();
    if (this.which === 'theirs') {
      while (c.benchPending.size > 0) await Promise.all([...c.benchPending]);
    }
  }

  async flush(c) {
    if (this.which === 'ours') {
      if (!(await c.flush(60000))) fail('flush did not finish within 60 s');
    } else {
      await c.flush();
      await this.drain(c);
    }
  }

  /** Stops the client without sending anything more. */
  async close(c) {
    if (this.which === 'ours') {
      await c.shutdown(5000);
    } else {
      // 0.1.3 has no shutdown: its timer is stopped, its queue emptied, the client disabled.
      c.stopFlushTimer();
      c.eventQueue = [];
      c.enabled = false;
    }
  }

  dropped(c) {
    return this.which === 'ours' ? c.stats().droppedTotal : null;
  }
}

async function benchMemory(pkg, queued) {
  const sink = await capture();
  try {
    // The garbage of building `queued` attribute objects, made once before the baselines,
    // so that the growth measured is what the client keeps rather than the heap's.
    let keys = 0;
    for (let i = 0; i < queued; i++) keys += Object.keys(attributes(-i - 1000)).length;
    if (keys !== 5 * queued) fail('unreachable');
    gc();
    const beforeClient = process.memoryUsage.rss();
    // A batch larger than everything this client is given, an interval longer than the
    // run (0.1.3's setInterval takes at most 2^31-1 ms): nothing is sent. Ours keeps its
    // default queue size; `queued_dropped` says whether anything was dropped.
    const c = pkg.client(sink.url, { batchSize: 2 * queued + 1000, flushInterval: 2e9 });
    for (let i = 0; i < 200; i++) c.trackEvent(EVENT, attributes(-i - 1));
    await sleep(100);
    gc();
    const base = process.memoryUsage.rss();
    for (let i = 0; i < queued; i++) c.trackEvent(EVENT, attributes(i));
    await sleep(200);
    gc();
    const after = process.memoryUsage.rss();
    const dropped = pkg.dropped(c);
    const sent = sink.requests.length;
    await pkg.close(c);
    return {
      queued,
      queued_bytes: after - base,
      client_bytes: base - beforeClient,
      queued_dropped: dropped,
      queued_posts_before_close: sent,
    };
  } finally {
    await sink.close();
  }
}

async function benchBatch(pkg, events) {
  const cap = await capture();
  try {
    const c = pkg.client(cap.url, { batchSize: events, flushInterval: 3600000 });
    for (let i = 0; i < events; i++) c.trackEvent(EVENT, attributes(i, 'batchmark'));
    await pkg.flush(c);
    const deadline = Date.now() + 10000;
    let seen = new Set();
    while (Date.now() < deadline) {
      seen = new Set();
      for (const r of cap.requests) {
        const body = decoded(r);
        if (body) for (const m of body.toString('latin1').matchAll(MARK)) seen.add(m[1]);
      }
      if (seen.size >= events) break;
      await sleep(50);
    }
    const requests = [...cap.requests];
    await pkg.close(c);
    if (requests.length === 0) fail('no POST reached the capture listener');
    const first = requests[0];
    const bodies = requests.map(decoded);
    return {
      batch_events: events,
      batch_events_seen: seen.size,
      batch_posts: requests.length,
      batch_bytes: first.body.length,
      batch_encoding: first.encoding,
      batch_content_type: first.contentType,
      batch_path: first.path,
      batch_total_bytes: requests.reduce((n, r) => n + r.body.length, 0),
      batch_total_decoded_bytes: bodies.reduce((n, b) => n + (b ? b.length : 0), 0),
      email_sent_in_clear: bodies.some((b) => b && b.includes('@example.com')),
    };
  } finally {
    await cap.close();
  }
}

async function benchCalls(pkg, server, calls, reps, warmup) {
  // Ours: room for a whole repetition, so that every call is queued, none dropped.
  const options = pkg.which === 'ours' ? { queueSize: Math.max(10000, calls + 100) } : {};
  const c = pkg.client(server, options);
  let next = 0;
  const batch = (n) => {
    const out = new Array(n);
    for (let k = 0; k < n; k++) out[k] = attributes(next + k);
    next += n;
    return out;
  };

  for (const a of batch(warmup)) c.trackEvent(EVENT, a);
  await pkg.flush(c);
  const callNs = [];
  const cpuNs = [];
  for (let r = 0; r < reps; r++) {
    const attrs = batch(calls);
    gc();
    const cpu0 = process.cpuUsage();
    let timed = 0n;
    for (let start = 0; start < calls; start += CHUNK) {
      const end = Math.min(calls, start + CHUNK);
      const t0 = process.hrtime.bigint();
      for (let k = start; k < end; k++) c.trackEvent(EVENT, attrs[k]);
      timed += process.hrtime.bigint() - t0;
      await pkg.drain(c);
    }
    await pkg.flush(c);
    const cpu = process.cpuUsage(cpu0);
    callNs.push(Number(timed) / calls);
    cpuNs.push(((cpu.user + cpu.system) * 1000) / calls);
  }
  const dropped = pkg.dropped(c);
  await pkg.close(c);
  return {
    calls,
    reps,
    warmup,
    call_ns: median(callNs),
    cpu_ns: median(cpuNs),
    call_ns_reps: callNs.map((v) => Math.round(v * 10) / 10),
    cpu_ns_reps: cpuNs.map((v) => Math.round(v * 10) / 10),
    calls_dropped: dropped,
  };
}

async function main() {
  const [which, folder] = process.argv.slice(2);
  if (!['ours', 'theirs'].includes(which) || !folder) {
    fail('usage: node --expose-gc bench.mjs ours|theirs <folder>');
  }
  const server = process.env.BENCH_SERVER;
  if (!server) fail('BENCH_SERVER must give the base URL of a running server');
  if (typeof globalThis.gc !== 'function') fail('run with node --expose-gc');
  const calls = envInt('BENCH_CALLS', 2000);
  const pkg = new Package(which, folder);
  const result = {
    package: `@automagik/telemetry ${pkg.version} (Node.js)`,
    which,
    language: 'node',
    runtime: process.version,
    // Memory first, while the process has done nothing else.
    ...(await benchMemory(pkg, envInt('BENCH_QUEUED', 10000))),
    ...(await benchBatch(pkg, envInt('BENCH_BATCH', 100))),
    ...(await benchCalls(
      pkg,
      server,
      calls,
      envInt('BENCH_REPS', 5),
      envInt('BENCH_WARMUP', Math.max(1, Math.floor(calls / 5))),
    )),
  };
  // 0.1.3's timers would keep the process alive: leave once the line is written.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
