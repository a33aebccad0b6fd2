#!/usr/bin/env node
// The dashboard's page weight and first paint: loads each page of a running server in
// headless Chromium (playwright-core) with a cold cache, and prints per page the
// requests made, the bytes transferred (every response's headers and body as sent,
// compressed where the server compressed it), the first contentful paint and the time
// until the page's data is in, the median of a few loads.
//
//   NODE_PATH="$(scripts/setup-node)" node scripts/dashboard-perf.cjs BASE_URL [TOKEN] [--runs N] [--json]
//
// BASE_URL is the server (http://127.0.0.1:4318); TOKEN a token with the read scope when
// the server has tokens. AUTOMAGIK_TELEMETRY_TEST_CHROMIUM names the browser
// (/usr/bin/chromium unless told; scripts/setup-browser installs it).
"use strict";

const { chromium } = require("playwright-core");

/** The pages measured: [label, path, what shows the page is ready]. */
const PAGES = [
  ["overview", "/", "#main[data-ready=true]"],
  ["traces", "/#/traces", "#main[data-ready=true]"],
  ["service map", "/#/service-map", "#main[data-ready=true]"],
  ["metrics", "/#/metrics", "#main[data-ready=true]"],
  ["runs", "/#/runs", "#main[data-ready=true]"],
  ["usage", "/#/usage", "#main[data-ready=true]"],
  ["status", "/status", "#status[data-ready=true]"],
];

function usage(message) {
  if (message) process.stderr.write(message + "\n");
  process.stderr.write("usage: node scripts/dashboard-perf.cjs BASE_URL [TOKEN] [--runs N] [--json]\n");
  process.exit(2);
}

function options(argv) {
  const o = { runs: 3, json: false, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if (a === "--runs") {
      o.runs = Number(argv[++i]);
      if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 50) usage("--runs: a whole number from 1 to 50");
    } else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("--")) usage("unknown option " + a);
    else o.positional.push(a);
  }
  if (o.positional.length < 1 || o.positional.length > 2) usage();
  [o.base, o.token] = o.positional;
  o.base = o.base.replace(/\/+$/, "");
  if (!/^https?:\/\//.test(o.base)) usage("BASE_URL: an http:// or https:// address");
  return o;
}

function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** One cold load of `path`: its requests, bytes, first contentful paint and readiness. */
async function load(browser, o, path, ready) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  if (o.token) await context.addInitScript((t) => sessionStorage.setItem("automagik-telemetry.token", t), o.token);
  const page = await context.newPage();
  const sizes = [];
  let requests = 0;
  let failed = 0;
  page.on("requestfinished", (r) => {
    requests++;
    sizes.push(r.sizes().then((s) => s.responseHeadersSize + s.responseBodySize, () => 0));
  });
  page.on("requestfailed", () => { requests++; failed++; });
  try {
    await page.goto(o.base + path);
    await page.waitForSelector(ready, { timeout: 30000 });
    await page.waitForFunction(() => !document.body.innerText.includes("Loading chart"), null, { timeout: 30000, polling: "raf" });
    const readyMs = await page.evaluate(() => performance.now());
    await page.waitForLoadState("networkidle", { timeout: 30000 }).catch(() => {});
    const fcp = await page.evaluate(() => {
      const paint = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
      return paint ? paint.startTime : null;
    });
    const signIn = await page.$("#token");
    const bytes = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
    return { requests, failed, bytes, fcp, ready: readyMs, signIn: !!signIn };
  } finally {
    await context.close();
  }
}

function kib(n) {
  return n === null ? "–" : (n / 1024).toFixed(1) + " KiB";
}

function ms(n) {
  return n === null ? "–" : Math.round(n) + " ms";
}

async function main() {
  const o = options(process.argv.slice(2));
  const browser = await chromium.launch({
    executablePath: process.env.AUTOMAGIK_TELEMETRY_TEST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const rows = [];
  try {
    for (const [label, path, ready] of PAGES) {
      const runs = [];
      for (let i = 0; i < o.runs; i++) runs.push(await load(browser, o, path, ready));
      if (runs.some((r) => r.signIn)) throw new Error(path + " asks for a token: give one with the read scope");
      rows.push({
        page: label, path, requests: median(runs.map((r) => r.requests)), failed: Math.max(...runs.map((r) => r.failed)),
        bytes: median(runs.map((r) => r.bytes)), fcp_ms: median(runs.map((r) => r.fcp)), ready_ms: median(runs.map((r) => r.ready)),
      });
    }
  } finally {
    await browser.close();
  }
  if (o.json) {
    console.log(JSON.stringify({ base: o.base, runs: o.runs, pages: rows }));
    return;
  }
  const table = [["Page", "Path", "Requests", "Transferred", "First paint", "Data in"],
    ...rows.map((r) => [r.page, r.path, String(r.requests) + (r.failed ? " (" + r.failed + " failed)" : ""), kib(r.bytes), ms(r.fcp_ms), ms(r.ready_ms)])];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const line = (r) => "| " + r.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ") + " |";
  console.log(line(table[0]));
  console.log("|" + widths.map((w, i) => (i >= 2 ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|") + "|");
  for (const r of table.slice(1)) console.log(line(r));
  console.log("\nMedian of " + o.runs + (o.runs === 1 ? " cold load" : " cold loads") + " per page against " + o.base
    + "; transferred: every response's headers and body as sent; first paint: first-contentful-paint; data in: until the page shows its data.");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
