// Drives Debian's Chromium (headless, through playwright-core) over every page of the
// dashboard of a running `serve` filled by `send-test`, checks what each page shows
// (in the light theme and the dark one, and from the keyboard), saves screenshots of
// every page in both themes (`<page>.png` and `<page>-dark.png`), and prints one JSON
// line of findings and measurements.
//
// node dashboard.cjs BASE_URL TOKEN SCREENSHOT_DIR
// Environment: AUTOMAGIK_TELEMETRY_TEST_CHROMIUM (default /usr/bin/chromium),
// DASHBOARD_SECRETS: JSON list of internal identifiers /status must not show,
// DASHBOARD_PYTHON: what tests/python/otel_dashboard.py sent (its JSON output),
// DASHBOARD_GENAI: what tests/python/genai_openai.py otel sent (its JSON summary).
"use strict";

const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");

const [base, token, shots] = process.argv.slice(2);
const secrets = JSON.parse(process.env.DASHBOARD_SECRETS || "[]");
const py = JSON.parse(process.env.DASHBOARD_PYTHON || "{}");
const genai = JSON.parse(process.env.DASHBOARD_GENAI || "{}");
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
    await themes(browser);
    await narrow(browser);
    await status(browser);
    await darkPages(browser);
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
  page.on("pageerror", (e) => {
    page.problems.push(label + ": exception: " + e.message);
    process.stderr.write(label + ": exception: " + (e.stack || e.message) + "\n");
  });
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

/**
 * Table cells of the page that show JSON text (a map or a list, or a fragment such as
 * `{"key":`), which the dashboard must never do: values are shown with their structure.
 */
async function jsonCells(page) {
  return page.$$eval("#main td, #main th", (cells) => cells.map((c) => c.textContent.trim()).filter((t) => {
    if (/\{"[^"]*"\s*:/.test(t)) return true;
    if (!/^[[{]/.test(t)) return false;
    try {
      const v = JSON.parse(t);
      return v !== null && typeof v === "object";
    } catch (_) {
      return false;
    }
  }).map((t) => t.slice(0, 120)).slice(0, 5));
}

async function noJsonText(page, label) {
  const found = await jsonCells(page);
  check(found.length === 0, label + ": table cells show JSON text " + JSON.stringify(found));
}

/** Opens every log or event row of the page (each row opens to everything it holds). */
async function openAllRows(page) {
  await page.$$eval("#main tr.log-row[aria-expanded=false]", (rows) => rows.forEach((r) => r.click()));
}

/** A read of the query API from the page, with the token. */
async function apiGet(page, path) {
  return page.evaluate(async ([p, t]) => (await fetch(p, { headers: { Authorization: "Bearer " + t } })).json(), [path, token]);
}

/** The relative luminance (0 black, 1 white) of a computed CSS colour "rgb(r, g, b)". */
function luminance(css) {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(css || "");
  return m ? (0.2126 * m[1] + 0.7152 * m[2] + 0.0722 * m[3]) / 255 : -1;
}

/** The computed background colour of the page's body. */
async function bodyBackground(page) {
  return page.evaluate(() => getComputedStyle(document.body).backgroundColor);
}

/** The centre of the first of `selector`'s elements that no other covers there (a dot of a
 * chart, where dots may overlap), with the attribute `attr` of it; null when none is. */
async function clickable(page, selector, attr) {
  return page.evaluate(([sel, a]) => {
    for (const el of document.querySelectorAll(sel)) {
      const r = (el.querySelector("circle") || el).getBoundingClientRect();
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      const hit = document.elementFromPoint(x, y);
      if (hit && hit.closest(sel) === el) return { x, y, value: el.getAttribute(a) };
    }
    return null;
  }, [selector, attr]);
}

/** Waits until the trace `id` is open with its waterfall. */
async function traceOpened(page, id, what) {
  await page.waitForFunction((t) => location.hash.split("?")[0] === "#/traces/" + t && document.querySelector("#main[data-ready=true] #waterfall .wf-row"), id, { timeout: 15000 })
    .catch(() => failures.push(what + " did not open the trace " + id + " (at " + page.url() + ")"));
}

/** The pages shot in the light theme that darkPages shoots again in the dark one, with
 * the address each was shot at. */
const DARK_PAGES = ["overview", "traces", "service-map", "trace-waterfall", "logs", "events", "metrics", "metrics-percentiles",
  "metrics-heatmap", "runs", "run", "genai-run", "usage", "sessions", "session", "health", "fleet"];
const darkRoutes = new Map();

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });
  if (DARK_PAGES.includes(name) && !darkRoutes.has(name)) darkRoutes.set(name, page.url());
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
  const serviceLinks = await page.$$eval('#main a[href^="#/traces?service="]', (els) => els.map((e) => e.textContent));
  check(serviceLinks.includes("send-test") && serviceLinks.includes("py-shop"), "overview: the services that sent data are listed " + JSON.stringify(serviceLinks));
  check(!serviceLinks.includes("automagik-telemetry"), "overview: the server's own metrics make no service " + JSON.stringify(serviceLinks));
  await noJsonText(page, "overview");
  await shot(page, "overview");

  // Traces: the list, then the trace with the most spans as a waterfall.
  await open(page, "#/traces");
  const traces = await page.evaluate(async (t) => (await (await fetch("/api/v1/traces?from=-1h", { headers: { Authorization: "Bearer " + t } })).json()).items, token);
  const rows = await page.$$("#main tbody tr");
  check(rows.length === traces.length && rows.length > 0, "traces: " + rows.length + " rows for " + traces.length + " traces");
  const startCell = await page.textContent("#main tbody tr td");
  check(/ago|just now/.test(startCell), "traces: start times say how long ago " + JSON.stringify(startCell));
  await noJsonText(page, "traces");
  await shot(page, "traces");
  // The scatter plot of the traces listed: a dot each, the failed ones in red.
  const dots = await page.$$eval("#trace-scatter a.dot", (els) => els.map((a) => ({
    id: a.dataset.traceId, error: a.classList.contains("error"), fill: getComputedStyle(a.querySelector("circle")).fill,
  })));
  report.pages.scatter_dots = dots.length;
  check(dots.length === traces.length && traces.every((t) => dots.filter((d) => d.id === t.trace_id).length === 1),
    "traces: the scatter has one dot per trace listed, " + dots.length + " for " + traces.length);
  const failedTraces = new Set(traces.filter((t) => t.status_code === 2).map((t) => t.trace_id));
  check(failedTraces.size > 0 && dots.every((d) => d.error === failedTraces.has(d.id)), "traces: the failed traces' dots, and only theirs, are errors");
  const redDot = dots.find((d) => d.error);
  const okDot = dots.find((d) => !d.error);
  check(redDot && okDot && redDot.fill !== okDot.fill && /^rgb\((\d{3}), (\d{1,2}), (\d{1,2})\)$/.test(redDot.fill),
    "traces: errors are red on the scatter " + JSON.stringify([redDot, okDot]));
  // A click on a dot opens its trace.
  const dot = await clickable(page, "#trace-scatter a.dot", "data-trace-id");
  check(dot, "traces: no dot of the scatter can be clicked");
  if (dot) {
    await page.mouse.click(dot.x, dot.y);
    await traceOpened(page, dot.value, "traces: a click on the scatter's dot");
  }
  // From the keyboard: "/" comes to the filters; a focused row, with its focus ring, opens on Enter.
  await open(page, "#/traces");
  await page.keyboard.press("/");
  const slash = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute("name"));
  check(slash === "name", "traces: / focuses the filter box, not " + slash);
  const firstRow = await page.$eval("#trace-list tbody tr", (r) => r.dataset.traceId);
  await page.focus("#trace-list tbody tr");
  const ring = await page.$eval("#trace-list tbody tr", (r) => getComputedStyle(r).outlineStyle + " " + getComputedStyle(r).outlineWidth);
  check(/^solid [1-9]/.test(ring), "traces: a focused row shows a focus ring, got " + ring);
  await page.keyboard.press("Enter");
  await traceOpened(page, firstRow, "traces: Enter on a focused row");
  // The scatter is one stop of the Tab key: the arrow keys go from dot to dot, Enter opens one.
  await open(page, "#/traces");
  check((await page.$$("#trace-scatter a.dot[tabindex='0']")).length === 1, "traces: the scatter's dots are one stop of the Tab key");
  await page.focus("#trace-scatter a.dot[tabindex='0']");
  await page.keyboard.press("ArrowRight");
  const moved = await page.evaluate(() => (document.activeElement.matches("#trace-scatter a.dot") ? document.activeElement.getAttribute("data-trace-id") : null));
  check(moved && (traces.length < 2 || (await page.$eval("#trace-scatter a.dot[tabindex='0']", (a) => a.getAttribute("data-trace-id"))) === moved),
    "traces: the arrow key moves to the next dot, focused " + moved);
  if (moved) {
    await page.keyboard.press("Enter");
    await traceOpened(page, moved, "traces: Enter on a focused dot");
  }
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
  await page.click(`#trace-list a[href="#/traces/${deep.trace_id}"]`);
  await page.waitForSelector("#waterfall .wf-row", { timeout: 15000 });
  const wf = await page.$$eval("#waterfall .wf-row", (els) => els.map((e) => ({
    id: e.dataset.spanId, parent: e.dataset.parentId, depth: Number(e.dataset.depth),
    left: parseFloat(e.querySelector(".wf-bar").style.left), name: e.querySelector(".wf-name").textContent,
    service: e.dataset.service, kind: e.dataset.kind, shownKind: (e.querySelector(".wf-kind") || {}).textContent || "",
    critical: e.dataset.critical === "true",
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
  await waterfallMarks(page, wf, "waterfall");
  await noJsonText(page, "waterfall");
  await shot(page, "trace-waterfall");
  await pythonTraces(page, context);

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

  // A row opens to every field of its record: the Python SDK's exception with its stack trace.
  await open(page, "#/logs?q=" + encodeURIComponent(py.failure));
  const failed = await page.$$("#main tr.log-row");
  check(failed.length === 1, "logs: the Python SDK's failure is found, " + failed.length + " rows");
  check((await page.$$("#main tr.log-detail:not([hidden])")).length === 0, "logs: rows start closed");
  await page.click("#main tr.log-row td:first-child");
  await page.waitForSelector("#main tr.log-detail:not([hidden]) pre.stack", { timeout: 15000 })
    .catch(() => failures.push("logs: the opened row shows no stack trace"));
  const opened = await page.$eval("#main tr.log-detail:not([hidden])", (d) => ({
    stack: (d.querySelector('tr[data-key="exception.stacktrace"] pre.stack') || {}).textContent || "",
    type: (d.querySelector('tr[data-key="exception.type"] .kv-value') || {}).textContent || "",
    kind: (d.querySelector('tr[data-key="exception.type"] .kv-type') || {}).textContent || "",
    line: (d.querySelector('tr[data-key="code.line.number"] .kv-type') || {}).textContent || "",
    trace: (d.querySelector("a.trace-id-link") || {}).textContent || "",
  })).catch((e) => ({ error: String(e) }));
  report.pages.log_opened = opened;
  check(opened.stack && opened.stack.includes("Traceback (most recent call last)") && opened.stack.includes(py.exception),
    "logs: the opened row shows the stack trace " + JSON.stringify(opened));
  check(opened.type === "ValueError" && opened.kind === "string" && opened.line === "int", "logs: attributes with their types " + JSON.stringify(opened));
  check(opened.trace === py.checkout_trace_id, "logs: the opened row links to its trace " + JSON.stringify(opened));
  // And closes from the keyboard.
  await page.focus("#main tr.log-row");
  await page.keyboard.press("Enter");
  check(await page.$eval("#main tr.log-row", (r) => r.getAttribute("aria-expanded")) === "false"
    && (await page.$$("#main tr.log-detail:not([hidden])")).length === 0, "logs: Enter closes the opened row");
  await open(page, "#/logs");
  await openAllRows(page);
  await noJsonText(page, "logs (every row open)");

  // Events.
  await open(page, "#/events");
  const events = await page.$$eval("#main tr.log-row", (els) => els.map((e) => e.textContent).join("\n"));
  check(events.includes("user.signup") && events.includes("agent.decision"), "events: send-test's events are listed");
  check(events.includes("order.abandoned"), "events: the Python SDK's event is listed");
  // Events as tables of their attributes, nested values folded.
  const shipping = await page.$eval('#main tr.log-row td table.kv tr[data-key="order.shipping"]', (r) => ({
    type: r.querySelector(".kv-type").textContent, folded: !!r.querySelector("details.nested:not([open])"), text: r.querySelector(".kv-value").textContent,
  })).catch((e) => ({ error: String(e) }));
  check(shipping.type === "map" && shipping.folded && shipping.text.includes("express"), "events: a nested attribute is a folded table " + JSON.stringify(shipping));
  await openAllRows(page);
  const body = await page.$$eval("#main tr.log-detail:not([hidden]) .log-detail-body", (els) => els.map((e) => e.textContent).filter((t) => t.includes("o-42")));
  check(body.length === 1 && body[0].includes("lid-bamboo"), "events: the structured body is shown as a table " + JSON.stringify(body));
  await noJsonText(page, "events (every row open)");
  await shot(page, "events");

  // Metrics with a chosen aggregation.
  await open(page, "#/metrics?name=http.server.request.duration_ms&agg=max");
  check(await page.$("#main .chart-box svg polyline, #main .chart-box svg circle"), "metrics: the chart draws the series");
  const title = await page.textContent("#main .chart-box svg title");
  check(title.includes("max"), "metrics: the chart uses the chosen aggregation: " + title);
  await noJsonText(page, "metrics");
  await shot(page, "metrics");
  await open(page, "#/metrics?name=http.server.request.duration_ms&group_by=http.route");
  const groups = await page.$$eval("#main tbody tr td:first-child", (els) => els.map((e) => e.textContent));
  check(groups.includes("http.route = /checkout"), "metrics: groups as attribute = value " + JSON.stringify(groups));
  await noJsonText(page, "metrics grouped");
  // A histogram's percentiles over time: p50, p90 and p99, in order at every step.
  await open(page, "#/metrics?name=http.server.request.duration_ms");
  const percentiles = await page.$$eval("#metric-percentiles g.series", (gs) => Object.fromEntries(gs.map((g) => [g.dataset.series,
    [...g.querySelectorAll("circle")].map((c) => [c.dataset.time, Number(c.dataset.value)])])));
  report.pages.percentiles = percentiles;
  check((percentiles.p50 || []).length > 0 && (percentiles.p99 || []).length > 0, "metrics: a histogram shows p50 and p99 lines " + JSON.stringify(percentiles));
  check((percentiles.p50 || []).every(([t, v]) => (percentiles.p99 || []).some(([t2, v2]) => t2 === t && v2 >= v)),
    "metrics: p99 is at or above p50 at each step " + JSON.stringify(percentiles));
  const percentileLegend = await page.$$eval("#percentile-legend li", (els) => els.map((e) => e.dataset.series));
  check(["p50", "p90", "p99"].every((p) => percentileLegend.includes(p)), "metrics: the percentiles' legend " + JSON.stringify(percentileLegend));
  await noJsonText(page, "metrics percentiles");
  await shot(page, "metrics-percentiles");
  await samplePages(page);
  await serviceMapPage(page);

  // Opened without a name: the applications' first metric, the server's own apart.
  await open(page, "#/metrics");
  const listing = await page.evaluate(async (t) => (await (await fetch("/api/v1/metrics", { headers: { Authorization: "Bearer " + t } })).json()).items, token);
  const firstApp = listing.find((m) => m.origin === "application");
  const chosen = await page.$eval("#main select[name=name]", (el) => el.value);
  check(firstApp && chosen === firstApp.name, "metrics: opens on the applications' first metric " + (firstApp && firstApp.name) + ", not " + chosen);
  check(!chosen.startsWith("fleet.") && chosen !== "up" && chosen !== "probe_latency_ms", "metrics: opens on the server's own metric " + chosen);
  check(listing.length && listing[0].origin === "application", "metrics: the API lists the applications' metrics first " + JSON.stringify(listing.slice(0, 3)));
  check(await page.$("#main .chart-box svg"), "metrics: the default metric is drawn");
  const own = await page.$$eval("#server-metrics tr.own-metric", (els) => els.map((e) => [e.dataset.origin, e.querySelector("a").textContent]));
  report.pages.server_metrics = own;
  check(own.some(([o, n]) => o === "fleet" && n.startsWith("fleet.")) && own.some(([o, n]) => o === "probes" && n === "up"),
    "metrics: the server's own metrics are listed apart " + JSON.stringify(own));
  check(own.every(([, n]) => n.startsWith("fleet.") || n === "up" || n === "probe_latency_ms"), "metrics: only the server's own are apart " + JSON.stringify(own));
  await noJsonText(page, "metrics (default)");

  // Agent runs: the list, then send-test's run with its timeline of four kinds of action.
  await open(page, "#/runs");
  check((await page.$$('#main tr.run-row[data-agent="planner"]')).length === 1, "runs: send-test's run is listed");
  await shot(page, "runs");
  await page.click('#main tr.run-row[data-agent="planner"] td:first-child');
  await page.waitForSelector("#run-timeline", { timeout: 15000 });
  const kinds = await page.$$eval("#run-timeline .tl-mark", (els) => [...new Set(els.map((e) => e.dataset.actionType))].sort());
  report.pages.run_action_types = kinds;
  check(JSON.stringify(kinds) === JSON.stringify(["decision", "error", "success", "tool_call"]), "run: four action types on the timeline, got " + kinds);
  const listed = await page.$$eval("#main tr.action-row", (els) => [...new Set(els.map((e) => e.dataset.actionType))].sort());
  check(listed.length === 4, "run: four action types in the list, got " + listed);
  check((await page.textContent("#quality-score")) === "0.92", "run: quality score 0.92");
  check(await page.$("#main tr.action-row details.nested table.kv"), "run: each action's details as a folded table");
  await noJsonText(page, "run");
  await shot(page, "run");
  await genaiPages(page);

  // Health: the target that is down, the one it blocks, and the dependency view.
  await open(page, "#/health");
  const probes = await page.$$eval("#main tr.probe-row", (els) => els.map((e) => [e.dataset.target, e.dataset.state]));
  report.pages.health = probes;
  check(probes.some(([, s]) => s === "down"), "health: a target is down " + JSON.stringify(probes));
  check(probes.some(([, s]) => s === "blocked"), "health: a target is blocked by it " + JSON.stringify(probes));
  check(probes.some(([, s]) => s === "up"), "health: a target is up " + JSON.stringify(probes));
  await noJsonText(page, "health");
  check(await page.$('#main svg.graph .node[data-state="down"]'), "health: the dependency view marks the target down");
  check(await page.$("#main svg.graph line.edge"), "health: the dependency view draws an edge");
  await probeSeries(page, probes);
  await shot(page, "health");

  // Fleet.
  await open(page, "#/fleet");
  const fleetText = await page.textContent("#main");
  check(fleetText.includes("Chain position"), "fleet: the newest snapshot is shown");
  check(fleetText.includes("research-agent-eu1") && fleetText.includes("night-batch-agent"), "fleet: the agents are listed");
  check(await page.$("#fleet-origin"), "fleet: the page says the server collects this itself");
  await noJsonText(page, "fleet");
  await shot(page, "fleet");

  check(page.problems.length === 0, "dashboard: " + JSON.stringify(page.problems));
  await context.close();
}

/**
 * The Python SDK's traces: GenAI messages as a conversation, typed and folded
 * attributes, an exception event with its stack trace, a link that opens the linked
 * trace, and the trace id copied to the clipboard.
 */
async function pythonTraces(page, context) {
  await open(page, "#/traces/" + py.checkout_trace_id);
  await page.waitForSelector("#waterfall .wf-row", { timeout: 15000 });

  await page.click(`.wf-row[data-span-id="${py.llm_span_id}"]`);
  await page.waitForSelector("#span-detail .chat", { timeout: 15000 }).catch(() => failures.push("trace: the LLM span shows no conversation"));
  const chat = await page.$$eval("#span-detail tr[data-key] .chat .msg", (els) => els.map((e) => [
    e.closest("tr[data-key]").dataset.key, e.dataset.role, e.querySelector(".msg-body").textContent]));
  report.pages.chat = chat;
  const said = (key, role, text) => chat.some(([k, r, t]) => k === key && r === role && t.includes(text));
  check(said("gen_ai.input.messages", "system", "choose products") && said("gen_ai.input.messages", "user", py.question),
    "trace: the input messages as a conversation " + JSON.stringify(chat));
  check(said("gen_ai.output.messages", "assistant", py.answer), "trace: the output messages as a conversation " + JSON.stringify(chat));
  check(said("gen_ai.prompt", "user", py.question) && said("gen_ai.completion", "assistant", py.answer),
    "trace: the deprecated prompt and completion as a conversation " + JSON.stringify(chat));
  const model = await page.$eval('#span-detail tr[data-key="gen_ai.request.model"]', (r) => [r.querySelector(".kv-type").textContent, r.querySelector(".kv-value").textContent])
    .catch((e) => [String(e)]);
  check(model[0] === "string" && model[1] === "gpt-4o-mini", "trace: an attribute with its type " + JSON.stringify(model));
  await noJsonText(page, "trace (LLM span)");

  await page.click('.wf-row[data-depth="0"]');
  await page.waitForSelector('#span-detail tr[data-key="cart.summary"]', { timeout: 15000 }).catch(() => failures.push("trace: the root span shows no cart.summary"));
  const summary = await page.$eval('#span-detail tr[data-key="cart.summary"]', (r) => ({
    type: r.querySelector(".kv-type").textContent, folded: !!r.querySelector("details.nested:not([open])"), text: r.querySelector(".kv-value").textContent,
  })).catch((e) => ({ error: String(e) }));
  check(summary.type === "map" && summary.folded && summary.text.includes("WELCOME"), "trace: a nested map attribute is a folded table " + JSON.stringify(summary));
  const skus = await page.$$eval('#span-detail tr[data-key="cart.skus"] li', (els) => els.map((e) => e.textContent));
  check(JSON.stringify(skus) === JSON.stringify(["mug-large", "lid-bamboo"]), "trace: a list attribute as its items " + JSON.stringify(skus));
  const started = await page.textContent("#span-detail .facts time");
  check(/ago|just now/.test(started), "trace: the span's start in local time with how long ago " + JSON.stringify(started));
  await noJsonText(page, "trace (root span)");

  await page.click(`.wf-row[data-span-id="${py.charge_span_id}"]`);
  await page.waitForSelector("#span-detail tr.event-row", { timeout: 15000 }).catch(() => failures.push("trace: the failing span shows no event"));
  const events = await page.$$eval("#span-detail tr.event-row", (rows) => rows.map((r) => ({
    name: r.children[1].textContent, stack: (r.querySelector('tr[data-key="exception.stacktrace"] pre.stack') || {}).textContent || "",
    message: (r.querySelector('tr[data-key="exception.message"] .kv-value') || {}).textContent || "",
  })));
  check(events.some((e) => e.name === "exception" && e.stack.includes("Traceback") && e.message === py.exception),
    "trace: the exception event as a table of its attributes, with its stack trace " + JSON.stringify(events));
  await noJsonText(page, "trace (failing span)");

  // The trace id copied by its button.
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base }).catch(() => {});
  await page.click("#main h1 button.copy");
  await page.waitForFunction(() => document.querySelector("#main h1 button.copy").textContent !== "copy", null, { timeout: 5000 }).catch(() => {});
  const copied = await page.textContent("#main h1 button.copy");
  const clipboard = await page.evaluate(() => navigator.clipboard.readText().catch((e) => "unreadable: " + e.message));
  check(copied === "copied" && clipboard === py.checkout_trace_id, "trace: the copy button copies the trace id: " + copied + ", " + clipboard);

  // A span's link opens the linked trace.
  await open(page, "#/traces/" + py.consumer_trace_id);
  await page.waitForSelector("#waterfall .wf-row", { timeout: 15000 });
  await page.click(`.wf-row[data-span-id="${py.consumer_span_id}"]`);
  const link = `#span-detail tr.link-row a.trace-id-link[href="#/traces/${py.checkout_trace_id}"]`;
  await page.waitForSelector(link, { timeout: 15000 }).catch(() => failures.push("trace: the consumer's link to the checkout is not shown"));
  const linkAttrs = await page.$$eval("#span-detail tr.link-row table.kv tr[data-key]", (els) => els.map((e) => e.dataset.key));
  check(linkAttrs.includes("messaging.operation.type"), "trace: the link's attributes as a table " + JSON.stringify(linkAttrs));
  await noJsonText(page, "trace (linked span)");
  if (await page.$(link)) {
    await page.click(link);
    await page.waitForFunction((id) => {
      const heading = document.querySelector("#main[data-ready=true] h1");
      return location.hash === "#/traces/" + id && heading && heading.textContent.includes(id) && document.querySelector("#main #waterfall");
    }, py.checkout_trace_id, { timeout: 15000 })
      .catch(() => failures.push("trace: the link did not open the linked trace"));
    const heading = await page.textContent("#main h1");
    check(heading.includes(py.checkout_trace_id), "trace: the linked trace is shown: " + heading);
  }
}

/**
 * The marks of a waterfall (`wf`: its rows as read by the caller): a time axis with
 * ticks, a legend entry per service, each span's kind, and the critical path as a chain
 * from a root down, parent to child.
 */
async function waterfallMarks(page, wf, label) {
  const ticks = await page.$$eval("#wf-axis .wf-tick", (els) => els.map((e) => e.textContent));
  check(ticks.length >= 2 && ticks[0] === "0" && ticks.slice(1).every((t) => / (ms|s)$/.test(t)), label + ": a time axis with ticks " + JSON.stringify(ticks));
  const services = [...new Set(wf.map((r) => r.service))].sort();
  const legend = await page.$$eval("#wf-legend li[data-service]", (els) => els.map((e) => e.dataset.service));
  check(JSON.stringify(legend.slice().sort()) === JSON.stringify(services), label + ": a legend entry per service " + JSON.stringify([legend, services]));
  check(wf.every((r) => (r.kind === "unspecified" ? r.shownKind === "" : r.shownKind === r.kind)), label + ": each span shows its kind " + JSON.stringify(wf.map((r) => [r.kind, r.shownKind])));
  const path = wf.filter((r) => r.critical).sort((a, b) => a.depth - b.depth);
  check(path.length >= 1 && path[0].depth === 0 && path.every((r, i) => i === 0 || (r.parent === path[i - 1].id && r.depth === i)),
    label + ": the critical path is a chain from a root " + JSON.stringify(path.map((r) => [r.depth, r.name])));
  check(!!(await page.$("#wf-legend li.legend-critical")) === (wf.length > 1), label + ": the legend names the critical path");
}

/**
 * Telemetry sent from the page: a trace across two services (the first a server, the
 * second a client and a producer under it, one failing), a histogram whose points carry
 * exemplars of that trace's spans, and a summary. The waterfall colours each service
 * apart; the histogram's percentiles come with the exemplars as dots that open the trace
 * at their span; the summary shows the quantiles it carries.
 */
async function samplePages(page) {
  const ids = await page.evaluate(async (t) => {
    const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const ms = 1000000n;
    const now = BigInt(Date.now()) * ms;
    const trace = hex(16);
    const [root, call, remote, publish] = [hex(8), hex(8), hex(8), hex(8)];
    const resource = (name) => ({ attributes: [{ key: "service.name", value: { stringValue: name } }] });
    const span = (id, parent, name, kind, from, to, failed) => ({
      traceId: trace, spanId: id, parentSpanId: parent || undefined, name, kind,
      startTimeUnixNano: String(now - from * ms), endTimeUnixNano: String(now - to * ms), status: failed ? { code: 2, message: "stock unknown" } : undefined,
    });
    const post = async (path, body) => (await fetch(path, {
      method: "POST", headers: { Authorization: "Bearer " + t, "Content-Type": "application/json" }, body: JSON.stringify(body),
    })).status;
    const traces = await post("/v1/traces", { resourceSpans: [
      { resource: resource("send-test"), scopeSpans: [{ spans: [span(root, null, "GET /stock-check", 2, 120n, 0n), span(call, root, "call inventory", 3, 110n, 15n)] }] },
      { resource: resource("py-shop"), scopeSpans: [{ spans: [span(remote, call, "GET /inventory", 2, 100n, 20n, true), span(publish, remote, "publish stock.checked", 4, 30n, 22n)] }] },
    ] });
    const bounds = [10, 25, 50, 100, 250, 500];
    const minute = 60000n * ms;
    const histogram = [0n, 1n, 2n].map((k) => ({
      startTimeUnixNano: String(now - (k + 1n) * minute), timeUnixNano: String(now - k * minute), count: "12", sum: 960,
      bucketCounts: ["1", "2", "3", "3", "2", "1", "0"], explicitBounds: bounds, min: 4, max: 420,
      exemplars: [{ timeUnixNano: String(now - k * minute - 1000n), asDouble: 100 + Number(k) * 50, traceId: trace, spanId: k === 0n ? remote : root }],
    }));
    // A cumulative summary: its counts grow, oldest first.
    const summary = [2n, 1n, 0n].map((k) => ({
      startTimeUnixNano: String(now - 5n * minute), timeUnixNano: String(now - k * minute), count: String(10n * (3n - k)), sum: 60 * Number(10n * (3n - k)),
      quantileValues: [{ quantile: 0.5, value: 40 }, { quantile: 0.9, value: 90 }, { quantile: 0.99, value: 150 }],
    }));
    const metrics = await post("/v1/metrics", { resourceMetrics: [{ resource: resource("send-test"), scopeMetrics: [{ metrics: [
      { name: "dashboard.sample.duration_ms", unit: "ms", histogram: { aggregationTemporality: 1, dataPoints: histogram } },
      { name: "dashboard.sample.wait_ms", unit: "ms", summary: { dataPoints: summary } },
    ] }] }] });
    return { traces, metrics, trace, root, remote };
  }, token);
  check(ids.traces === 200 && ids.metrics === 200, "sample: sent from the page " + JSON.stringify(ids));

  // The waterfall of two services: each its own colour in the bars and the legend.
  await open(page, "#/traces/" + ids.trace);
  await page.waitForSelector("#waterfall .wf-row", { timeout: 15000 }).catch(() => failures.push("sample: the trace sent has no waterfall"));
  const wf = await page.$$eval("#waterfall .wf-row", (els) => els.map((e) => ({
    id: e.dataset.spanId, parent: e.dataset.parentId, depth: Number(e.dataset.depth), name: e.querySelector(".wf-name").textContent,
    service: e.dataset.service, kind: e.dataset.kind, shownKind: (e.querySelector(".wf-kind") || {}).textContent || "",
    critical: e.dataset.critical === "true", colour: getComputedStyle(e.querySelector(".wf-bar")).backgroundColor,
  })));
  report.pages.sample_waterfall = wf;
  await waterfallMarks(page, wf, "sample waterfall");
  const colourOf = (svc) => [...new Set(wf.filter((r) => r.service === svc).map((r) => r.colour))];
  check(colourOf("send-test").length === 1 && colourOf("py-shop").length === 1 && colourOf("send-test")[0] !== colourOf("py-shop")[0],
    "sample waterfall: each service its own colour " + JSON.stringify([colourOf("send-test"), colourOf("py-shop")]));
  const legendColours = await page.$$eval("#wf-legend li[data-service] .swatch", (els) => els.map((e) => getComputedStyle(e).backgroundColor));
  check(legendColours.length === 2 && legendColours.every((c) => wf.some((r) => r.colour === c)), "sample waterfall: the legend shows the bars' colours " + JSON.stringify(legendColours));
  check(JSON.stringify(wf.map((r) => r.shownKind)) === JSON.stringify(["server", "client", "server", "producer"]), "sample waterfall: the span kinds " + JSON.stringify(wf.map((r) => r.shownKind)));
  check(JSON.stringify(wf.filter((r) => r.critical).map((r) => r.depth)) === JSON.stringify([0, 1, 2, 3]), "sample waterfall: the critical path runs down to the publish " + JSON.stringify(wf.map((r) => [r.name, r.critical])));
  await noJsonText(page, "sample waterfall");

  // The histogram: its percentiles, and its exemplars opening the trace at their span.
  await open(page, "#/metrics?name=dashboard.sample.duration_ms");
  const exemplars = await page.$$eval("#metric-percentiles a.exemplar", (els) => els.map((a) => [a.dataset.traceId, a.dataset.spanId, Number(a.dataset.value)]));
  report.pages.exemplars = exemplars;
  check(exemplars.length === 3 && exemplars.every(([t]) => t === ids.trace), "sample metric: three exemplars of the trace " + JSON.stringify(exemplars));
  check((await page.$$("#metric-percentiles g.series[data-series=p50] circle")).length >= 1 && (await page.$$("#metric-percentiles g.series[data-series=p99] circle")).length >= 1,
    "sample metric: the histogram's p50 and p99");
  const exemplar = await clickable(page, `#metric-percentiles a.exemplar[data-span-id="${ids.remote}"]`, "data-span-id");
  check(exemplar, "sample metric: the exemplar of the failing span cannot be clicked");
  if (exemplar) {
    await page.mouse.click(exemplar.x, exemplar.y);
    await traceOpened(page, ids.trace, "sample metric: a click on the exemplar");
    const selected = await page.$eval("#waterfall .wf-row.selected", (r) => r.dataset.spanId).catch(() => "");
    check(selected === ids.remote, "sample metric: the exemplar opens the trace at its span, selected " + selected);
    check((await page.textContent("#span-detail")).includes("stock unknown"), "sample metric: the exemplar's span is shown");
  }
  await heatmapPage(page);
  // The summary: the quantiles it carries.
  await open(page, "#/metrics?name=dashboard.sample.wait_ms");
  const quantiles = await page.$$eval("#metric-percentiles g.series", (gs) => Object.fromEntries(gs.map((g) => [g.dataset.series,
    [...g.querySelectorAll("circle")].map((c) => Number(c.dataset.value))])));
  report.pages.summary_quantiles = quantiles;
  check(quantiles.p50 && quantiles.p50.includes(40) && quantiles.p90 && quantiles.p90.includes(90) && quantiles.p99 && quantiles.p99.includes(150),
    "sample metric: the summary's quantiles " + JSON.stringify(quantiles));
  await noJsonText(page, "sample summary");
}

/**
 * The histogram sent by samplePages as a heatmap: its bucket bounds up the side, its
 * points merged per step into cells (three points of 12: 36 in all, none in the
 * unbounded bucket), a colour legend, the p95 over it (350: the 95th percentile falls 40%
 * into the bucket from 250 to 500, so it is drawn inside that bucket's cells), and the
 * counts as a table.
 */
async function heatmapPage(page) {
  await open(page, "#/metrics?name=dashboard.sample.duration_ms");
  const state = await page.getAttribute("#metric-heatmap", "data-state").catch(() => null);
  const why = await page.textContent("#metric-heatmap").catch(() => "");
  check(state === "drawn", "heatmap: drawn for the histogram, got " + state + ": " + why.slice(0, 200));
  const cells = await page.$$eval("#metric-heatmap rect.heat-cell", (els) => els.map((r) => ({
    time: r.dataset.time, bucket: Number(r.dataset.bucket), count: Number(r.dataset.count), y: Number(r.getAttribute("y")), h: Number(r.getAttribute("height")),
    level: [...r.classList].find((c) => /^heat-\d$/.test(c)), fill: getComputedStyle(r).fill,
  })));
  report.pages.heatmap_cells = cells.length;
  const total = cells.reduce((sum, c) => sum + c.count, 0);
  const steps = new Set(cells.map((c) => c.time));
  check(cells.length > 0 && total === 36 && steps.size >= 1 && steps.size <= 3, "heatmap: the three points' 36 counts in cells " + JSON.stringify([total, steps.size]));
  check(cells.every((c) => c.bucket >= 0 && c.bucket <= 5), "heatmap: no point above 500 " + JSON.stringify(cells.map((c) => c.bucket)));
  check(new Set(cells.map((c) => c.fill)).size >= 2, "heatmap: more points, another colour");
  const bounds = await page.$$eval("#metric-heatmap text.bound", (els) => els.map((e) => e.textContent));
  check(JSON.stringify(bounds) === JSON.stringify(["10", "25", "50", "100", "250", "500"]), "heatmap: the bucket bounds up the side " + JSON.stringify(bounds));
  const legend = await page.$$eval("#heatmap-legend li[data-level]", (els) => els.map((e) => e.textContent));
  check(legend.length >= 2 && legend[0].startsWith("1"), "heatmap: a legend of the colours " + JSON.stringify(legend));
  const p95 = await page.$$eval("#metric-heatmap g.series[data-series=p95] circle", (els) => els.map((c) => ({ v: Number(c.dataset.value), cy: Number(c.getAttribute("cy")) })));
  report.pages.heatmap_p95 = p95;
  check(p95.length >= 1 && p95.every((p) => Math.abs(p.v - 350) < 1e-6), "heatmap: the p95 line over it, 350 at each step " + JSON.stringify(p95));
  const band = cells.find((c) => c.bucket === 5);
  check(band && p95.every((p) => p.cy >= band.y && p.cy <= band.y + band.h), "heatmap: the p95 drawn in the bucket from 250 to 500 " + JSON.stringify([band, p95]));
  check(await page.$('#heatmap-legend li[data-series="p95"]'), "heatmap: the legend names the p95");
  const rows = await page.$$eval("#heatmap-counts tbody tr", (trs) => trs.map((r) => [...r.children].slice(1).reduce((sum, c) => sum + Number(c.textContent.replace(/[^0-9]/g, "")), 0)));
  check(rows.length === steps.size && rows.reduce((a, b) => a + b, 0) === 36, "heatmap: the counts as a table " + JSON.stringify(rows));
  // The drawing's helpers on known values: the log scale's levels and the buckets' positions.
  const unit = await page.evaluate(() => ({
    levels: [1, 2, 10, 100].map((c) => heatLevel(c, 100)), legend: heatLegend(12).map((l) => [l.level, l.from, l.to]),
    positions: [5, 25, 37.5, 900].map((v) => bucketPosition([10, 25, 50, null], v)),
  }));
  check(JSON.stringify(unit.levels) === "[1,1,4,6]", "heatmap: levels on a log scale " + JSON.stringify(unit.levels));
  check(JSON.stringify(unit.legend) === "[[1,1,1],[2,2,2],[3,3,3],[4,4,5],[5,6,7],[6,8,12]]", "heatmap: the legend's ranges " + JSON.stringify(unit.legend));
  check(JSON.stringify(unit.positions) === "[0.5,2,2.5,3.5]", "heatmap: values placed within their bucket " + JSON.stringify(unit.positions));
  await noJsonText(page, "metrics heatmap");
  await shot(page, "metrics-heatmap");
}

/**
 * The calls between services of the range's most recent traces, worked out here from
 * the API (each span whose parent is in another service), against the service map: the
 * arrow from send-test to py-shop of samplePages' trace with its calls, errors and error
 * rate, in the drawing and in the table beside it; the map from the keyboard; an arrow
 * opening the newest trace with a failed call; and serviceGraph on known spans.
 */
async function serviceMapPage(page) {
  const expected = await page.evaluate(async (t) => {
    const get = async (p) => (await fetch(p, { headers: { Authorization: "Bearer " + t } })).json();
    const list = (await get("/api/v1/traces?from=-1h&limit=50")).items;
    const edges = {};
    for (const item of list) {
      const spans = (await get("/api/v1/traces/" + item.trace_id)).spans;
      const byId = Object.fromEntries(spans.map((s) => [s.span_id, s]));
      for (const s of spans) {
        const p = byId[s.parent_span_id];
        if (!p || p.service_name === s.service_name) continue;
        const e = edges[p.service_name + " > " + s.service_name] = edges[p.service_name + " > " + s.service_name] || { calls: 0, errors: 0, failed_trace: null };
        e.calls++;
        if (s.status_code === 2) { e.errors++; e.failed_trace = e.failed_trace || item.trace_id; }
      }
    }
    return { traces: list.length, edges };
  }, token);
  report.pages.service_map_expected = expected;
  await open(page, "#/service-map");
  check(await page.$eval('#nav a[data-page="traces"]', (a) => a.classList.contains("active")), "service map: in the Traces area of the navigation");
  check(await page.$('#main nav.tabs a.active[data-tab="map"][aria-current="page"]'), "service map: its tab is the current one");
  const source = await page.$eval("#service-map-source", (p) => ({ traces: Number(p.dataset.traces), text: p.textContent })).catch((e) => ({ error: String(e) }));
  check(source.traces === expected.traces && source.text.includes("Computed from the " + expected.traces + " most recent traces"), "service map: says it is computed from the most recent traces " + JSON.stringify(source));
  const drawn = await page.$$eval("#service-map a.map-edge", (els) => Object.fromEntries(els.map((a) => [a.dataset.from + " > " + a.dataset.to,
    { calls: Number(a.dataset.calls), errors: Number(a.dataset.errors), label: a.querySelector("text.edge-label").textContent, href: a.getAttribute("href"), failing: a.classList.contains("failing") }])));
  report.pages.service_map = drawn;
  check(JSON.stringify(Object.keys(drawn).sort()) === JSON.stringify(Object.keys(expected.edges).sort()), "service map: an arrow per pair of services that call each other " + JSON.stringify([Object.keys(drawn), Object.keys(expected.edges)]));
  const want = expected.edges["send-test > py-shop"];
  const got = drawn["send-test > py-shop"];
  check(want && want.errors >= 1, "service map: the sample trace calls py-shop from send-test and fails " + JSON.stringify(want));
  if (want && got) {
    const rate = (want.errors / want.calls * 100).toFixed(1) + "% err";
    check(got.calls === want.calls && got.errors === want.errors && got.failing, "service map: the arrow's calls and errors " + JSON.stringify([got, want]));
    check(got.label.startsWith(want.calls + (want.calls === 1 ? " call · " : " calls · ") + rate + " · p95 "), "service map: the arrow's label " + JSON.stringify([got.label, rate]));
    check(got.href === "#/traces/" + want.failed_trace, "service map: the arrow opens the newest trace with a failed call " + JSON.stringify([got.href, want.failed_trace]));
    const row = await page.$eval('#service-map-edges tr.map-edge-row[data-from="send-test"][data-to="py-shop"]', (r) => [...r.children].map((c) => c.textContent)).catch(() => []);
    check(row[2] === String(want.calls) && row[3] === String(want.errors) && row[4] === (want.errors / want.calls * 100).toFixed(1) + " %" && / m?s$/.test(row[5] || ""),
      "service map: the table beside it " + JSON.stringify(row));
  } else check(false, "service map: no arrow from send-test to py-shop " + JSON.stringify(Object.keys(drawn)));
  const services = await page.$$eval("#service-map a.map-node", (els) => els.map((a) => a.dataset.service));
  check(services.includes("send-test") && services.includes("py-shop"), "service map: the services as boxes " + JSON.stringify(services));
  // From the keyboard: one stop of the Tab key, the arrow keys from box to box and on to the arrows, Enter opens.
  check((await page.$$("#service-map a[tabindex='0']")).length === 1, "service map: one stop of the Tab key");
  await page.focus("#service-map a[tabindex='0']");
  await page.keyboard.press("End");
  const last = await page.evaluate(() => (document.activeElement.matches("#service-map a.map-edge, #service-map a.map-node") ? document.activeElement.getAttribute("aria-label") : null));
  check(last, "service map: End moves the focus along the map");
  const edgeSel = '#service-map a.map-edge[data-from="send-test"][data-to="py-shop"]';
  if (await page.$(edgeSel)) {
    await page.focus(edgeSel);
    const focused = await page.evaluate(() => ({ label: document.activeElement.getAttribute("aria-label"), row: !!document.querySelector("#service-map-edges tr.highlight") }));
    check(/send-test → py-shop: \d+ calls?, \d+ errors? \(/.test(focused.label || "") && focused.row, "service map: a focused arrow says what it is and marks its row " + JSON.stringify(focused));
    await page.keyboard.press("Enter");
    if (want) await traceOpened(page, want.failed_trace, "service map: Enter on the arrow");
    await open(page, "#/service-map");
  }
  // serviceGraph on known spans: a call that fails half the time, a loop back, a span whose parent is missing.
  const unit = await page.evaluate(() => {
    const sp = (id, parent, svc, st, a, b) => ({ span_id: id, parent_span_id: parent, service_name: svc, status_code: st, start_time_unix_nano: String(a * 1e6), end_time_unix_nano: String(b * 1e6) });
    const g = serviceGraph([
      { trace_id: "t2", spans: [sp("a", null, "web", 1, 0, 100), sp("b", "a", "web", 0, 1, 90), sp("c", "b", "api", 2, 2, 50), sp("d", "c", "db", 0, 3, 10)] },
      { trace_id: "t1", spans: [sp("a", null, "web", 1, 0, 100), sp("c", "a", "api", 0, 2, 30), sp("e", "c", "web", 0, 3, 4), sp("x", "zz", "api", 0, 1, 2)] },
    ]);
    const layout = mapLayout(g.services.map((s) => s.name), g.edges, new Map(g.services.map((s) => [s.name, s.roots])));
    return { edges: g.edges.map((e) => [e.from, e.to, e.calls, e.errors, e.error_rate, e.p95_ms, e.trace_id, e.error_trace_id]), layers: [...layout].map(([n, p]) => [n, p.layer]), p95: nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 0.95) };
  });
  check(JSON.stringify(unit.edges) === JSON.stringify([["web", "api", 2, 1, 0.5, 48, "t2", "t2"], ["api", "db", 1, 0, 0, 7, "t2", null], ["api", "web", 1, 0, 0, 1, "t1", null]]),
    "service map: serviceGraph on known spans " + JSON.stringify(unit.edges));
  check(JSON.stringify(unit.layers) === JSON.stringify([["api", 1], ["db", 2], ["web", 0]]) && unit.p95 === 19, "service map: layers from the caller that starts the traces " + JSON.stringify(unit));
  await noJsonText(page, "service map");
  await shot(page, "service-map");
}

/**
 * Health: every probe target its own series, none drawn over another: a lane of up and
 * down each (its cells red where the target is down or blocked, green where up), a line
 * of latency each in a colour of its own for the targets that answer, a legend of them,
 * and since when each is in its state.
 */
async function probeSeries(page, probes) {
  const lanes = await page.$$eval("#up-lanes g.lane", (gs) => gs.map((g) => ({
    target: g.dataset.target, up: g.querySelectorAll("rect.cell.up").length, down: g.querySelectorAll("rect.cell.down").length,
    last: ([...g.querySelectorAll("rect.cell")].pop() || { classList: [] }).classList[1] || "",
    colour: getComputedStyle(g.querySelector(".lane-swatch")).fill,
  })));
  report.pages.up_lanes = lanes;
  const names = probes.map(([n]) => n).sort();
  check(names.length === 4 && JSON.stringify(lanes.map((l) => l.target).sort()) === JSON.stringify(names), "health: four targets, four lanes " + JSON.stringify([lanes, names]));
  check(new Set(lanes.map((l) => l.colour)).size === lanes.length, "health: each target its own colour " + JSON.stringify(lanes));
  // The last step as the target is now (a target up may have failed its first probe, as the server started: flapping).
  for (const [name, state] of probes) {
    const lane = lanes.find((l) => l.target === name) || {};
    check(state === "up" ? lane.last === "up" || lane.last === "flapping" : lane.last === "down", "health: the lane of " + name + " ends " + state + " " + JSON.stringify(lane));
  }
  const lines = await page.$$eval("#latency-lines g.series", (gs) => gs.map((g) => [g.dataset.target, getComputedStyle(g).stroke, g.querySelectorAll("circle").length]));
  report.pages.latency_lines = lines;
  const answering = probes.filter(([, s]) => s === "up").map(([n]) => n).sort();
  check(JSON.stringify(lines.map((l) => l[0]).sort()) === JSON.stringify(answering) && lines.every((l) => l[2] > 0), "health: a latency line per target that answers " + JSON.stringify([lines, answering]));
  check(new Set(lines.map((l) => l[1])).size === lines.length, "health: the latency lines in colours of their own " + JSON.stringify(lines));
  const legend = await page.$$eval("#latency-legend li", (els) => els.map((e) => e.dataset.series).sort());
  check(JSON.stringify(legend) === JSON.stringify(answering), "health: the latency legend names the lines " + JSON.stringify(legend));
  const since = await page.$$eval("#main tr.probe-row", (trs) => trs.map((r) => r.children[2].textContent));
  check(since.length === 4 && since.every((t) => /ago|just now|all of the last/.test(t)), "health: since when each target is in its state " + JSON.stringify(since));
}

/**
 * Every page again in the dark theme (the system's preference), where it was shot in the
 * light one: a dark body, no console error, no JSON text, and `<page>-dark.png`.
 */
async function darkPages(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "dark" });
  await context.addInitScript((t) => sessionStorage.setItem("automagik-telemetry.token", t), token);
  const problems = [];
  for (const name of DARK_PAGES) {
    const url = darkRoutes.get(name);
    check(url, "dark: the page " + name + " was not shot in the light theme");
    if (!url) continue;
    // A page of its own each: a change of the hash alone would not load the page anew.
    const page = await watched(context, "dark " + name);
    await page.goto(url);
    await page.waitForSelector("#main[data-ready=true]", { timeout: 15000 }).catch(() => failures.push("dark: " + name + " did not load"));
    await page.waitForFunction(() => !document.body.innerText.includes("Loading chart"), null, { timeout: 15000 }).catch(() => {});
    if (name === "genai-run") await page.$$eval("#llm-calls tr.llm-call-row[aria-expanded=false]", (rows) => rows.forEach((r) => r.click()));
    check(luminance(await bodyBackground(page)) < 0.2, "dark: " + name + " has a dark body");
    await noJsonText(page, "dark " + name);
    await page.screenshot({ path: path.join(shots, name + "-dark.png"), fullPage: true });
    problems.push(...page.problems);
    await page.close();
  }
  check(problems.length === 0, "dark pages: " + JSON.stringify(problems));
  await context.close();
}

/**
 * The dark theme: the system's preference followed, and the header's toggle, remembered
 * in the browser, over it; the body, the charts' text and the scatter's dots in colours
 * readable on it; the overview and a trace in both themes.
 */
async function themes(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "dark" });
  await context.addInitScript((t) => sessionStorage.setItem("automagik-telemetry.token", t), token);
  const page = await watched(context, "themes");
  await open(page, "#/overview");
  const systemDark = await bodyBackground(page);
  check(luminance(systemDark) < 0.2, "theme: the system's dark preference gives a dark body, got " + systemDark);
  check(await page.getAttribute("#theme-toggle", "aria-pressed") === "true", "theme: the toggle shows the dark theme pressed");
  await page.click("#theme-toggle");
  const chosenLight = await bodyBackground(page);
  check(luminance(chosenLight) > 0.8, "theme: the toggle turns a dark system's page light, got " + chosenLight);
  await context.close();

  const light = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  await light.addInitScript((t) => sessionStorage.setItem("automagik-telemetry.token", t), token);
  const lit = await watched(light, "themes");
  await open(lit, "#/overview");
  const before = await bodyBackground(lit);
  check(luminance(before) > 0.8, "theme: light by default, got " + before);
  const lightText = await lit.$eval("#main svg.chart text", (e) => getComputedStyle(e).fill).catch(() => "");
  await lit.click("#theme-toggle");
  const after = await bodyBackground(lit);
  report.pages.theme = { before, after };
  check(luminance(after) < 0.2, "theme: the toggle makes the body dark, got " + after);
  check(await lit.getAttribute("#theme-toggle", "aria-pressed") === "true", "theme: the toggle is pressed in the dark theme");
  // Remembered: the next visit is dark too.
  await open(lit, "#/overview");
  check(luminance(await bodyBackground(lit)) < 0.2, "theme: the dark theme is remembered");
  const darkText = await lit.$eval("#main svg.chart text", (e) => getComputedStyle(e).fill).catch(() => "");
  check(luminance(darkText) > 0.45 && luminance(lightText) < 0.55, "theme: the chart's text is readable in both themes " + JSON.stringify([lightText, darkText]));
  await shot(lit, "overview-dark");
  const listed = await apiGet(lit, "/api/v1/traces?from=-1h");
  const deep = (listed.items || []).slice().sort((a, b) => b.span_count - a.span_count)[0];
  if (deep) {
    await open(lit, "#/traces");
    const dotFill = await lit.$eval("#trace-scatter a.dot:not(.error) circle", (c) => getComputedStyle(c).fill).catch(() => "");
    check(luminance(dotFill) > 0.35, "theme: the scatter's dots stand out of the dark panel " + dotFill);
    await open(lit, "#/traces/" + deep.trace_id);
    await lit.waitForSelector("#waterfall .wf-row", { timeout: 15000 }).catch(() => failures.push("theme: the trace shows no waterfall"));
    await shot(lit, "trace-waterfall-dark");
    await lit.click("#theme-toggle");
    check(luminance(await bodyBackground(lit)) > 0.8, "theme: the toggle turns the page light again");
    await shot(lit, "trace-waterfall-light");
  }
  await open(lit, "#/overview");
  await shot(lit, "overview-light");
  check(lit.problems.length === 0 && page.problems.length === 0, "themes: " + JSON.stringify([...page.problems, ...lit.problems]));
  await light.close();
}

/**
 * The openai-v2 instrumentation's run of the weather agent: listed with its model, tokens,
 * cost and session; its page with the totals, the LLM calls (model, tokens, cost) and a
 * call's conversation as a chat (the user's message, the tool call get_weather, the
 * tool's answer); the usage page's charts with a series for the model; the session.
 */
async function genaiPages(page) {
  const listed = await apiGet(page, "/api/v1/agents/runs?from=-1h&agent=" + encodeURIComponent(genai.agent_name));
  const run = (listed.items || []).find((r) => r.trace_id === genai.trace_id);
  check(run, "genai: the weather agent's run is in the API " + JSON.stringify(listed).slice(0, 300));
  if (!run) return;
  const model = genai.response_model;
  await open(page, "#/runs");
  const rowSelector = `#main tr.run-row[data-correlation-id="${run.correlation_id}"]`;
  const row = await page.$eval(rowSelector, (r) => ({
    text: r.textContent, models: [...r.querySelectorAll(".models li")].map((e) => e.textContent),
    cost: (r.querySelector(".cost") || {}).textContent || "", session: (r.querySelector("a.session-link") || {}).textContent || "",
  })).catch((e) => ({ error: String(e) }));
  report.pages.genai_run_row = row;
  const served = genai.served || {};
  check(row.models && row.models.includes(model), "runs: the weather agent's row names its model " + JSON.stringify(row));
  check(row.text && row.text.includes(served.input_tokens + " in / " + served.output_tokens + " out"), "runs: the row shows the tokens in and out " + JSON.stringify(row));
  check(/^\$0\.\d+$/.test(row.cost || ""), "runs: the row shows the cost in USD " + JSON.stringify(row));
  check(row.session === genai.conversation_id, "runs: the row links its session " + JSON.stringify(row));
  // Enter on the focused row opens the run.
  await page.focus(rowSelector);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#main[data-ready=true] #llm-calls tr.llm-call-row", { timeout: 15000 })
    .catch(() => failures.push("genai run: Enter on its row did not open the run with its LLM calls"));
  const totals = await page.$$eval("#run-totals [data-total]", (els) => Object.fromEntries(els.map((e) => [e.dataset.total, e.textContent])));
  report.pages.genai_run_totals = totals;
  check(totals.llm_calls === "3" && totals.tool_calls === "1", "genai run: the totals count three LLM calls and one tool call " + JSON.stringify(totals));
  check(/^\$0\.\d+$/.test(totals.cost_usd || ""), "genai run: the totals show the cost " + JSON.stringify(totals));
  check(totals.input_tokens === String(served.input_tokens) && totals.output_tokens === String(served.output_tokens),
    "genai run: the totals show the tokens the stub served " + JSON.stringify([totals, served]));
  const calls = await page.$$eval("#llm-calls tr.llm-call-row", (rows) => rows.map((r) => ({
    span: r.dataset.spanId, model: (r.querySelector(".call-model code") || {}).textContent || "",
    tokens: (r.querySelector(".tokens") || {}).textContent || "", cost: (r.querySelector(".cost") || {}).textContent || "",
  })));
  report.pages.genai_llm_calls = calls;
  check(calls.length === genai.llm_calls.length, "genai run: " + calls.length + " LLM calls shown of " + genai.llm_calls.length);
  for (const sent of genai.llm_calls) {
    const shown = calls.find((c) => c.span === sent.span_id);
    check(shown && shown.model === model && shown.tokens === sent.input_tokens + " in / " + sent.output_tokens + " out" && /^\$0\.\d+$/.test(shown.cost),
      "genai run: the " + sent.answer + " call with its model, tokens and cost " + JSON.stringify([shown, sent]));
  }
  // The call that asked for the tool opens to its conversation as a chat.
  const asking = genai.llm_calls.find((c) => c.answer === "tool_call") || {};
  await page.click(`#llm-calls tr.llm-call-row[data-span-id="${asking.span_id}"] td:first-child`);
  const opened = `#llm-calls tr.llm-call-row[data-span-id="${asking.span_id}"] + tr.llm-call-detail:not([hidden])`;
  await page.waitForSelector(opened + " .chat", { timeout: 15000 }).catch(() => failures.push("genai run: the LLM call opens to no conversation"));
  const chat = await page.$eval(opened, (d) => ({
    user: [...d.querySelectorAll('.conversation-input .msg[data-role="user"] .msg-body')].map((e) => e.textContent),
    system: [...d.querySelectorAll('.msg[data-role="system"] .msg-body')].map((e) => e.textContent),
    tools: [...d.querySelectorAll('.conversation-output .msg[data-role="assistant"] .msg-tool.tool-call')].map((e) => e.dataset.toolName),
    city: (d.querySelector('.msg-tool.tool-call table.kv tr[data-key="city"] .kv-value') || {}).textContent || "",
  })).catch((e) => ({ error: String(e) }));
  report.pages.genai_chat = chat;
  check(chat.user && chat.user.some((t) => t.includes(genai.question)), "genai run: the user's message as a bubble " + JSON.stringify(chat));
  check(chat.system && chat.system.some((t) => t.includes("weather assistant")), "genai run: the system message " + JSON.stringify(chat));
  check(chat.tools && chat.tools.includes(genai.tool_name) && chat.city === "Paris", "genai run: the tool call get_weather with its arguments " + JSON.stringify(chat));
  // Every call open: the tool's answer in the next call's input, and no JSON text anywhere.
  await page.$$eval("#llm-calls tr.llm-call-row[aria-expanded=false]", (rows) => rows.forEach((r) => r.click()));
  const answered = await page.$$eval('#llm-calls .msg[data-role="tool"] .msg-tool.tool-result', (els) => els.map((e) => e.textContent));
  check(answered.some((t) => t.includes("sunny")), "genai run: the tool's answer in the conversation " + JSON.stringify(answered));
  // Enter closes an opened call.
  await page.focus(`#llm-calls tr.llm-call-row[data-span-id="${asking.span_id}"]`);
  await page.keyboard.press("Enter");
  check(await page.$eval(`#llm-calls tr.llm-call-row[data-span-id="${asking.span_id}"]`, (r) => r.getAttribute("aria-expanded")) === "false",
    "genai run: Enter closes an opened LLM call");
  await page.keyboard.press("Enter");
  await noJsonText(page, "genai run (every call open)");
  await shot(page, "genai-run");

  // Usage: cost and tokens over time by model, then by provider.
  check((await page.textContent('#nav a[data-page="usage"]')) === "Usage", "usage: the navigation has a Usage entry");
  await open(page, "#/usage");
  for (const box of ["#usage-cost", "#usage-tokens"]) {
    check(await page.$(`${box} svg g.series[data-series="${model}"] rect`), "usage: " + box + " draws a series for " + model);
  }
  const usageRow = await page.$eval(`#usage-table tr.usage-row[data-group="${model}"]`, (r) => [...r.children].map((c) => c.textContent))
    .catch((e) => [String(e)]);
  report.pages.usage_row = usageRow;
  check(Number(usageRow[1]) >= genai.llm_calls.length && /^\$0\.\d+$/.test(usageRow[8] || ""), "usage: the totals table has the model's calls and cost " + JSON.stringify(usageRow));
  await noJsonText(page, "usage");
  await shot(page, "usage");
  await page.selectOption("#main form.filters select[name=group_by]", "provider");
  await page.click("#main form.filters button[type=submit]");
  await page.waitForSelector(`#main[data-ready=true] #usage-cost svg g.series[data-series="${genai.provider}"] rect`, { timeout: 15000 })
    .catch(() => failures.push("usage: grouped by provider, no series for " + genai.provider));
  check(await page.$eval("#main form.filters select[name=group_by]", (el) => el.value) === "provider", "usage: the selector shows the grouping chosen");
  await noJsonText(page, "usage by provider");

  // Sessions: the conversation listed, then its turns in order with the run among them.
  await open(page, "#/sessions");
  const sessionRow = `#session-list tr.session-row[data-session="${genai.conversation_id}"]`;
  check(await page.$(sessionRow), "sessions: the conversation " + genai.conversation_id + " is listed");
  await noJsonText(page, "sessions");
  await shot(page, "sessions");
  if (await page.$(sessionRow)) {
    await page.focus(sessionRow);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#main[data-ready=true] #session-turns", { timeout: 15000 }).catch(() => failures.push("sessions: Enter did not open the session"));
    const turns = await page.$$eval("#session-turns tr.turn-row", (rows) => rows.map((r) => [r.dataset.kind, r.dataset.correlationId]));
    report.pages.session_turns = turns;
    check(turns.some(([kind, id]) => kind === "run" && id === run.correlation_id), "session: the run is one of its turns " + JSON.stringify(turns));
    const llm = await page.textContent('#session-totals [data-total="llm_calls"]').catch(() => "");
    check(Number(llm) >= genai.llm_calls.length, "session: the totals count the run's LLM calls " + llm);
    await noJsonText(page, "session");
    await shot(page, "session");
  }
}

/** A phone-sized screen: no page scrolls sideways. */
async function narrow(browser) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await context.addInitScript((t) => sessionStorage.setItem("automagik-telemetry.token", t), token);
  const page = await watched(context, "narrow");
  for (const route of ["#/overview", "#/traces", "#/service-map", "#/logs", "#/metrics?name=dashboard.sample.duration_ms", "#/runs", "#/sessions", "#/usage", "#/health"]) {
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
  // Each dependency's state, latency and since when, where the server publishes them.
  const published = await page.evaluate(async () => (await (await fetch("/telemetry/public")).json()).probes || {}).catch(() => ({}));
  const rows = await page.$$eval("#probe-targets tr.probe-target", (trs) => trs.map((r) => [r.dataset.state, r.children[2].textContent, r.children[3].textContent]));
  report.pages.status_targets = rows;
  check(/dependenc/.test(await page.textContent("#probes-summary").catch(() => "")), "status: says how many dependencies are up");
  if (Array.isArray(published.targets)) {
    check(rows.length === published.targets.length && rows.every(([st], i) => st === published.targets[i].state),
      "status: a row per published dependency with its state " + JSON.stringify([rows, published.targets]));
    check(rows.every(([st, ms]) => (st === "up") === / m?s$/.test(ms)), "status: the latency of the dependencies that answered " + JSON.stringify(rows));
  }
  check(page.problems.length === 0, "status: " + JSON.stringify(page.problems));
  await shot(page, "status");
  await context.close();
  // And in the dark theme, the system's.
  const dark = await browser.newContext({ viewport: { width: 1000, height: 760 }, colorScheme: "dark" });
  const night = await watched(dark, "status (dark)");
  await night.goto(base + "/status");
  await night.waitForSelector("#status[data-ready=true]", { timeout: 15000 });
  check(luminance(await bodyBackground(night)) < 0.2, "status: dark in the dark theme");
  await night.screenshot({ path: path.join(shots, "status-dark.png"), fullPage: true });
  check(night.problems.length === 0, "status (dark): " + JSON.stringify(night.problems));
  await dark.close();
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
