// Drives Debian's Chromium (headless, through playwright-core) over every page of the
// dashboard of a running `serve` filled by `send-test`, checks what each page shows,
// saves screenshots, and prints one JSON line of findings and measurements.
//
// node dashboard.cjs BASE_URL TOKEN SCREENSHOT_DIR
// Environment: AUTOMAGIK_TELEMETRY_TEST_CHROMIUM (default /usr/bin/chromium),
// DASHBOARD_SECRETS: JSON list of internal identifiers /status must not show.
"use strict";

const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");

const [base, token, shots] = process.argv.slice(2);
const secrets = JSON.parse(process.env.DASHBOARD_SECRETS || "[]");
const failures = [];
const report = { pages: {}, performance: {} };

function check(condition, message) {
  if (!condition) failures.push(message);
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.AUTOMAGIK_TELEMETRY_TEST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    await dashboard(browser);
    await narrow(browser);
    await status(browser);
    report.performance.dashboard = await measure(browser, base + "/#/overview", "#main[data-ready=true] .chart-box svg", true);
    report.performance.status = await measure(browser, base + "/status", "#status[data-ready=true]", false);
  } finally {
    await browser.close();
  }
}

/** A page whose console errors, uncaught exceptions and failed requests are recorded. */
async function watched(context, label) {
  const page = await context.newPage();
  page.problems = [];
  page.on("console", (m) => { if (m.type() === "error") page.problems.push(label + ": console: " + m.text()); });
  page.on("pageerror", (e) => page.problems.push(label + ": exception: " + e.message));
  page.on("requestfailed", (r) => page.problems.push(label + ": request failed: " + r.url()));
  return page;
}

/** Opens a route of the dashboard and waits until its data and charts are in. */
async function open(page, route) {
  await page.goto(base + "/" + route);
  await page.waitForSelector("#main[data-ready=true]", { timeout: 15000 });
  await page.waitForFunction(() => !document.body.innerText.includes("Loading chart"), null, { timeout: 15000 });
  const errors = await page.$$eval("#main .problem", (els) => els.map((e) => e.textContent));
  check(errors.length === 0, route + ": shows errors " + JSON.stringify(errors));
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });
}

async function dashboard(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await watched(context, "dashboard");

  // Without a token: a sign-in form, and the one refused request behind it.
  await page.goto(base + "/#/overview");
  await page.waitForSelector("#token", { timeout: 15000 });
  const refused = page.problems.splice(0);
  check(refused.every((p) => p.includes("401")), "sign-in: unexpected problems " + JSON.stringify(refused));
  await shot(page, "sign-in");
  await page.fill("#token", token);
  await page.click("form.login button");
  await page.waitForSelector("#main[data-ready=true] #ingest-rate", { timeout: 15000 });

  // Overview.
  await open(page, "#/overview");
  const cards = await page.$$eval(".card", (els) => Object.fromEntries(els.map((e) => [e.querySelector(".label").textContent, e.querySelector(".value").textContent])));
  report.pages.overview = cards;
  check(Number(cards.Services) >= 2, "overview: services " + cards.Services);
  check(cards["Error rate"] !== "0.0 %", "overview: send-test's failing payment gives an error rate, got " + cards["Error rate"]);
  check(await page.$("#main .chart-box svg polyline, #main .chart-box svg circle"), "overview: the chart draws the spans");
  await shot(page, "overview");

  // Traces: the list, then the trace with the most spans as a waterfall.
  await open(page, "#/traces");
  const traces = await page.evaluate(async (t) => (await (await fetch("/api/v1/traces?from=-1h", { headers: { Authorization: "Bearer " + t } })).json()).items, token);
  const rows = await page.$$("#main tbody tr");
  check(rows.length === traces.length && rows.length > 0, "traces: " + rows.length + " rows for " + traces.length + " traces");
  await shot(page, "traces");
  // Page by page: two at a time, then "Load more" until the cursor runs out.
  await open(page, "#/traces?limit=2");
  check((await page.$$("#main tbody tr")).length === 2, "traces: a first page of two");
  for (let i = 0; i < 10 && await page.isVisible("#load-more"); i++) {
    const before = (await page.$$("#main tbody tr")).length;
    await page.click("#load-more");
    await page.waitForFunction((n) => document.querySelectorAll("#main tbody tr").length > n, before, { timeout: 15000 });
  }
  const paged = await page.$$eval("#main tbody tr a", (els) => els.map((e) => e.getAttribute("href")));
  check(paged.length === traces.length && new Set(paged).size === traces.length, "traces: load more reaches every trace once, got " + paged.length + " of " + traces.length);
  const deep = traces.slice().sort((a, b) => b.span_count - a.span_count)[0];
  await page.click("text=" + deep.name);
  await page.waitForSelector("#waterfall .wf-row", { timeout: 15000 });
  const wf = await page.$$eval("#waterfall .wf-row", (els) => els.map((e) => ({
    id: e.dataset.spanId, parent: e.dataset.parentId, depth: Number(e.dataset.depth),
    left: parseFloat(e.querySelector(".wf-bar").style.left), name: e.querySelector(".wf-name").textContent,
  })));
  report.pages.waterfall = wf;
  check(wf.length === deep.span_count, "waterfall: " + wf.length + " rows for " + deep.span_count + " spans");
  const child = wf.find((r) => r.depth >= 1);
  const parent = child && wf.find((r) => r.id === child.parent);
  check(child && parent && parent.depth === child.depth - 1, "waterfall: a child row under its parent " + JSON.stringify(wf));
  check(child && parent && wf.indexOf(parent) < wf.indexOf(child), "waterfall: the parent comes first");
  check(child && parent && child.left >= parent.left, "waterfall: the child starts within its parent");
  await page.click(`.wf-row[data-span-id="${child.id}"]`);
  const detail = await page.textContent("#span-detail");
  check(detail.includes(child.parent), "waterfall: the selected span names its parent");
  await shot(page, "trace-waterfall");

  // Logs, with a search and the live tail picking up a record sent meanwhile.
  await open(page, "#/logs");
  check((await page.$$("#main tr.log-row")).length >= 3, "logs: send-test's records are listed");
  await page.click("#live-tail");
  const marker = "live tail marker " + Date.now();
  const sent = await page.evaluate(async ([t, body]) => {
    const now = String(Date.now() * 1e6);
    const r = await fetch("/v1/logs", {
      method: "POST", headers: { Authorization: "Bearer " + t, "Content-Type": "application/json" },
      body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "tail-test" } }] },
        scopeLogs: [{ logRecords: [{ timeUnixNano: now, severityNumber: 9, severityText: "INFO", body: { stringValue: body } }] }] }] }),
    });
    return r.status;
  }, [token, marker]);
  check(sent === 200, "logs: the live tail's record was accepted (" + sent + ")");
  await page.waitForSelector(`text=${marker}`, { timeout: 15000 }).catch(() => failures.push("logs: the live tail did not show the new record"));
  await page.click("#live-tail");
  await shot(page, "logs");
  await open(page, "#/logs?q=attempts");
  const found = await page.$$eval("#main tr.log-row", (els) => els.map((e) => e.textContent));
  check(found.length === 1 && found[0].includes("payment failed after 2 attempts"), "logs: search finds one record " + JSON.stringify(found));

  // Events.
  await open(page, "#/events");
  const events = await page.$$eval("#main tr.log-row", (els) => els.map((e) => e.textContent).join("\n"));
  check(events.includes("user.signup") && events.includes("agent.decision"), "events: send-test's events are listed");
  await shot(page, "events");

  // Metrics with a chosen aggregation.
  await open(page, "#/metrics?name=http.server.request.duration_ms&agg=max");
  check(await page.$("#main .chart-box svg polyline, #main .chart-box svg circle"), "metrics: the chart draws the series");
  const title = await page.textContent("#main .chart-box svg title");
  check(title.includes("max"), "metrics: the chart uses the chosen aggregation: " + title);
  await shot(page, "metrics");

  // Agent runs: the list, then the run's timeline with its four kinds of action.
  await open(page, "#/runs");
  check((await page.$$("#main tbody tr")).length >= 1, "runs: send-test's run is listed");
  await shot(page, "runs");
  await page.click("#main tbody tr");
  await page.waitForSelector("#run-timeline", { timeout: 15000 });
  const kinds = await page.$$eval("#run-timeline .tl-mark", (els) => [...new Set(els.map((e) => e.dataset.actionType))].sort());
  report.pages.run_action_types = kinds;
  check(JSON.stringify(kinds) === JSON.stringify(["decision", "error", "success", "tool_call"]), "run: four action types on the timeline, got " + kinds);
  const listed = await page.$$eval("#main tr.action-row", (els) => [...new Set(els.map((e) => e.dataset.actionType))].sort());
  check(listed.length === 4, "run: four action types in the list, got " + listed);
  check((await page.textContent("#quality-score")) === "0.92", "run: quality score 0.92");
  await shot(page, "run");

  // Health: the target that is down, the one it blocks, and the dependency view.
  await open(page, "#/health");
  const probes = await page.$$eval("#main tr.probe-row", (els) => els.map((e) => [e.dataset.target, e.dataset.state]));
  report.pages.health = probes;
  check(probes.some(([, s]) => s === "down"), "health: a target is down " + JSON.stringify(probes));
  check(probes.some(([, s]) => s === "blocked"), "health: a target is blocked by it " + JSON.stringify(probes));
  check(probes.some(([, s]) => s === "up"), "health: a target is up " + JSON.stringify(probes));
  check(await page.$('#main svg.graph .node[data-state="down"]'), "health: the dependency view marks the target down");
  check(await page.$("#main svg.graph line.edge"), "health: the dependency view draws an edge");
  await shot(page, "health");

  // Fleet.
  await open(page, "#/fleet");
  const fleetText = await page.textContent("#main");
  check(fleetText.includes("Chain position"), "fleet: the newest snapshot is shown");
  check(fleetText.includes("research-agent-eu1") && fleetText.includes("night-batch-agent"), "fleet: the agents are listed");
  await shot(page, "fleet");

  check(page.problems.length === 0, "dashboard: " + JSON.stringify(page.problems));
  await context.close();
}

/** A phone-sized screen: no page scrolls sideways. */
async function narrow(browser) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await context.addInitScript((t) => sessionStorage.setItem("automagik-telemetry.token", t), token);
  const page = await watched(context, "narrow");
  for (const route of ["#/overview", "#/traces", "#/logs", "#/runs", "#/health"]) {
    await open(page, route);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, route + " on a narrow screen scrolls sideways by " + overflow + "px");
  }
  await open(page, "#/overview");
  await shot(page, "narrow-overview");
  check(page.problems.length === 0, "narrow: " + JSON.stringify(page.problems));
  await context.close();
}

/** /status: open without a token, only public data, no internal identifier. */
async function status(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await watched(context, "status");
  const requested = [];
  page.on("request", (r) => requested.push(new URL(r.url()).pathname));
  await page.goto(base + "/status");
  await page.waitForSelector("#status[data-ready=true]", { timeout: 15000 });
  const html = await page.content();
  const text = await page.innerText("body");
  report.pages.status = text;
  for (const s of secrets) check(!html.includes(s), "status: shows the internal identifier " + JSON.stringify(s));
  const allowed = (p) => p === "/status" || p === "/telemetry/public" || p.startsWith("/assets/");
  check(requested.every(allowed), "status: reads more than public data: " + JSON.stringify(requested));
  check(requested.includes("/telemetry/public"), "status: reads /telemetry/public");
  check(text.includes("Dependencies up"), "status: shows the probes' public counts");
  check(text.includes("3 / 4"), "status: shows three of four agents healthy");
  check(text.includes("Version 2.4.0"), "status: shows the version shares");
  check(page.problems.length === 0, "status: " + JSON.stringify(page.problems));
  await shot(page, "status");
  await context.close();
}

/** Bytes a first visit transfers, and the time to first contentful paint and to data. */
async function measure(browser, url, ready, withToken) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  if (withToken) await context.addInitScript((t) => sessionStorage.setItem("automagik-telemetry.token", t), token);
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(url);
  await page.waitForSelector(ready, { timeout: 15000 });
  const ready_ms = Date.now() - started;
  const m = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource");
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    const assets = res.filter((r) => new URL(r.name).pathname.startsWith("/assets/"));
    const data = res.filter((r) => !new URL(r.name).pathname.startsWith("/assets/"));
    const size = (list) => list.reduce((s, r) => s + r.encodedBodySize, 0);
    return {
      html_bytes: nav.encodedBodySize,
      asset_bytes: size(assets),
      assets: assets.length,
      data_bytes: size(data),
      data_requests: data.length,
      first_contentful_paint_ms: fcp ? Math.round(fcp.startTime) : null,
      dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
    };
  });
  await context.close();
  return { ...m, page_weight_bytes: m.html_bytes + m.asset_bytes + m.data_bytes, data_ready_ms: ready_ms };
}

main()
  .catch((e) => failures.push("the browser run failed: " + (e.stack || e)))
  .finally(() => {
    report.failures = failures;
    console.log(JSON.stringify(report));
    process.exit(failures.length ? 1 : 0);
  });
