// The Automagik Telemetry dashboard: one page per view, routed by the URL's hash,
// every figure read from the server's query API with the user's read token.
// Telemetry is untrusted input: it only ever reaches the page as text nodes (`h` and
// `add` of dom.js), and always with its structure (view.js), never as JSON text.
"use strict";

const TOKEN_KEY = "automagik-telemetry.token";
const RANGE_KEY = "automagik-telemetry.range";
let stopPage = () => {};

class AuthError extends Error {}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function request(path) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  const resp = await fetch(path, { headers });
  if (resp.status === 401) throw new AuthError("a read token is required");
  if (!resp.ok) {
    let message = resp.status + " " + resp.statusText;
    try {
      message = (await resp.json()).error || message;
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return resp;
}

async function api(path) {
  return (await request(path)).json();
}

/** An SVG chart rendered by the server, parsed (never run) and adopted. */
async function svg(path) {
  const text = await (await request(path)).text();
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (root.nodeName !== "svg") throw new Error("the chart could not be read");
  return document.importNode(root, true);
}

/** A chart drawn by the server at the box's width, once the box is laid out. */
function chartBox(path, height) {
  const box = h("div", { class: "panel chart-box" }, h("p", { class: "muted" }, "Loading chart…"));
  requestAnimationFrame(() => {
    // The dependency graph has its own size; charts take the box's width.
    const width = Math.max(200, Math.min(4000, Math.floor(box.clientWidth - 26)));
    const size = path.includes("graph.svg") ? "" : (path.includes("?") ? "&" : "?") + "width=" + width + "&height=" + (height || 240);
    svg(path + size).then((el) => box.replaceChildren(el)).catch((e) => box.replaceChildren(errorText(e)));
  });
  return box;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

function range() {
  return document.getElementById("range").value;
}

function rangeParams() {
  return { from: "-" + range() };
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  if (ms >= 10) return ms.toFixed(0) + " ms";
  return ms.toFixed(2) + " ms";
}

function fmtNum(n) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString(undefined, { maximumFractionDigits: 2 });
}

function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}

function pct(x) {
  return x === null || x === undefined ? "–" : (x * 100).toFixed(1) + " %";
}

function errorText(e) {
  return h("p", { class: "error problem", role: "alert" }, String(e.message || e));
}

function badge(text, kind) {
  return h("span", { class: "badge " + (kind || text) }, text);
}

function card(label, value, extra, note) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value", ...(extra || {}) }, value),
    note ? h("div", { class: "note muted" }, note) : null);
}

function table(columns, rows, onClick) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : (c.narrow ? "hide-narrow" : null) }, c.title)));
  const body = rows.map((r) =>
    h("tr", { class: onClick ? "clickable" : null, onclick: onClick ? () => onClick(r) : null, ...(r.__attrs || {}) },
      columns.map((c) => h("td", { class: c.num ? "num" : (c.narrow ? "hide-narrow" : null) }, c.value(r)))));
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
}

/**
 * A list read page by page: the first page, then "Load more" while the API gives a
 * cursor. `render(items)` draws everything read so far.
 */
async function paged(main, path, params, render, empty) {
  const holder = h("div", {});
  const more = h("button", { type: "button", class: "secondary", id: "load-more" }, "Load more");
  let items = [];
  let cursor = null;
  const load = async () => {
    const page = await api(path + query({ ...params, cursor }));
    items = items.concat(page.items);
    cursor = page.next_cursor;
    holder.replaceChildren(items.length ? render(items) : h("p", { class: "muted" }, empty));
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load().catch((e) => holder.append(errorText(e))));
  await load();
  add(main, holder, more);
}

function section(title, ...children) {
  return [h("h2", {}, title), ...children];
}

// ---------------------------------------------------------------- pages

async function overview(main) {
  const [stats, ov, services] = await Promise.all([
    api("/api/v1/stats"),
    api("/api/v1/overview" + query(rangeParams())),
    api("/api/v1/services"),
  ]);
  const rejected = (group) => Object.values(group || {}).reduce((sum, reasons) =>
    sum + Object.values(reasons).reduce((a, b) => a + b, 0), 0);
  // Refusals by signal and reason (a fixed set of categories), of records and of whole requests.
  const refusals = [];
  for (const [kind, group] of [["records", ov.ingest.rejected_records], ["requests", ov.ingest.rejected_requests]]) {
    for (const [signal, reasons] of Object.entries(group || {})) {
      for (const [reason, count] of Object.entries(reasons)) refusals.push({ kind, signal, reason, count });
    }
  }
  const reasonsOf = (kind) => refusals.filter((r) => r.kind === kind).map((r) => r.reason + " " + fmtNum(r.count)).join(", ");
  const accepted = Object.values(ov.ingest.accepted || {}).reduce((a, b) => a + b, 0);
  const known = new Map(ov.services.map((s) => [s.service_name, s]));
  for (const name of services.items) if (!known.has(name)) known.set(name, { service_name: name, span_count: 0, error_count: 0, error_rate: 0, p95_ms: null });
  // Both lists are bounded (the busiest 1000, the first 1000 names): say when more exist.
  const more = ov.services_truncated || services.truncated ? "+" : "";
  add(main, 
    h("h1", {}, "Overview"),
    h("div", { class: "cards" },
      card("Spans / minute", fmtNum(ov.totals.spans_per_minute), { id: "ingest-rate" }),
      card("Error rate", pct(ov.totals.error_rate), { id: "error-rate" }),
      card("Services", fmtNum(known.size) + more, { id: "service-count" }),
      card("Records accepted", fmtNum(accepted)),
      card("Records rejected", fmtNum(rejected(ov.ingest.rejected_records)), { id: "rejected-records" }, reasonsOf("records")),
      card("Requests refused", fmtNum(rejected(ov.ingest.rejected_requests)), { id: "rejected-requests" }, reasonsOf("requests"))),
    ...section("Spans and errors", chartBox("/api/v1/overview/chart.svg" + query(rangeParams()))),
    ...section("Services", table([
      { title: "Service", value: (s) => h("a", { href: "#/traces?service=" + encodeURIComponent(s.service_name) }, s.service_name) },
      { title: "Spans", num: true, value: (s) => fmtNum(s.span_count) },
      { title: "Errors", num: true, value: (s) => fmtNum(s.error_count) },
      { title: "Error rate", num: true, value: (s) => pct(s.error_rate) },
      { title: "p95", num: true, value: (s) => fmtMs(s.p95_ms) },
    ], [...known.values()])),
    ...section("Stored", h("div", { class: "cards" },
      card("Spans", fmtNum(stats.spans)), card("Logs", fmtNum(stats.logs)),
      card("Metric points", fmtNum(stats.metric_points)), card("Events", fmtNum(stats.events)),
      card("Agent actions", fmtNum(stats.agent_actions)), card("On disk", fmtBytes(stats.bytes_on_disk || 0)))),
  );
  if (refusals.length) {
    add(main, ...section("Refused since start", table([
      { title: "Refused", value: (r) => r.kind },
      { title: "Signal", value: (r) => r.signal },
      { title: "Reason", value: (r) => r.reason },
      { title: "Count", num: true, value: (r) => fmtNum(r.count) },
    ], refusals)));
  }
}

function filterForm(fields, values, onSubmit, extra) {
  const inputs = {};
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); onSubmit(Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]))); } },
    fields.map((f) => {
      const option = (o) => h("option", { value: o, selected: values[f.name] === o }, o || "any");
      const el = f.groups
        ? h("select", { name: f.name }, values[f.name] ? null : h("option", { value: "", selected: true }, "choose…"),
          f.groups.filter((g) => g.options.length).map((g) => h("optgroup", { label: g.label }, g.options.map(option))))
        : f.options
        ? h("select", { name: f.name }, f.options.map(option))
        : h("input", { name: f.name, placeholder: f.placeholder || "", value: values[f.name] || "", size: f.size || 14 });
      inputs[f.name] = el;
      return h("label", {}, f.label, el);
    }),
    h("button", { type: "submit" }, "Search"), extra || null);
  return form;
}

function hashParams() {
  const i = location.hash.indexOf("?");
  return Object.fromEntries(new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1)));
}

function setHash(path, params) {
  location.hash = path + query(params);
}

async function traces(main) {
  const values = hashParams();
  const services = await api("/api/v1/services");
  add(main, h("h1", {}, "Traces"), filterForm([
    { name: "service", label: "Service", options: ["", ...services.items] },
    { name: "name", label: "Root span name" },
    { name: "status", label: "Status", options: ["", "ok", "error", "unset"] },
    { name: "min_duration_ms", label: "Min duration (ms)", size: 8 },
  ], values, (v) => setHash("#/traces", v)));
  await paged(main, "/api/v1/traces", { ...rangeParams(), limit: 50, ...values }, (items) => table([
    { title: "Start", value: (t) => when(t.start_time_unix_nano || t.start_time) },
    { title: "Root span", value: (t) => h("a", { href: "#/traces/" + t.trace_id }, t.name) },
    { title: "Service", value: (t) => t.service_name },
    { title: "Duration", num: true, value: (t) => fmtMs(t.duration_ms) },
    { title: "Spans", num: true, value: (t) => t.span_count },
    { title: "Status", value: (t) => badge(["unset", "ok", "error"][t.status_code] || "unset") },
  ], items, (t) => { location.hash = "#/traces/" + t.trace_id; }), "No traces in this range.");
}

const SPAN_KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];

/** Spans in tree order (children by start time) with their depth. */
function spanTree(spans) {
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent_span_id && byId.has(s.parent_span_id)) {
      if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
      children.get(s.parent_span_id).push(s);
    } else roots.push(s);
  }
  const byStart = (a, b) => (BigInt(a.start_time_unix_nano) < BigInt(b.start_time_unix_nano) ? -1 : 1);
  const out = [];
  const walk = (s, depth) => {
    out.push({ span: s, depth });
    for (const c of (children.get(s.span_id) || []).sort(byStart)) walk(c, depth + 1);
  };
  roots.sort(byStart).forEach((r) => walk(r, 0));
  return out;
}

async function trace(main, id) {
  const t = await api("/api/v1/traces/" + encodeURIComponent(id));
  const rows = spanTree(t.spans);
  const start = rows.reduce((m, r) => { const v = BigInt(r.span.start_time_unix_nano); return v < m ? v : m; }, BigInt(rows[0].span.start_time_unix_nano));
  const end = rows.reduce((m, r) => { const v = BigInt(r.span.end_time_unix_nano); return v > m ? v : m; }, 0n);
  const total = Number(end - start) || 1;
  const detail = h("div", { class: "panel", id: "span-detail" }, h("p", { class: "muted" }, "Select a span to see its attributes and events."));
  const show = (s, row) => {
    main.querySelectorAll(".wf-row.selected").forEach((r) => r.classList.remove("selected"));
    row.classList.add("selected");
    detail.replaceChildren();
    add(detail, spanDetail(s, start));
  };
  const wf = h("div", { class: "panel waterfall", id: "waterfall" }, rows.map(({ span: s, depth }) => {
    const offset = Number(BigInt(s.start_time_unix_nano) - start) / total * 100;
    const width = Number(BigInt(s.end_time_unix_nano) - BigInt(s.start_time_unix_nano)) / total * 100;
    const bar = h("div", { class: "wf-bar" + (s.status_code === 2 ? " error" : "") });
    bar.style.left = offset + "%";
    bar.style.width = Math.max(width, 0.2) + "%";
    // The duration after the bar, else before it, else inside it.
    const label = h("span", { class: "wf-label" }, fmtMs(Number(BigInt(s.end_time_unix_nano) - BigInt(s.start_time_unix_nano)) / 1e6));
    if (offset + width <= 85) label.style.left = offset + width + "%";
    else if (offset >= 15) { label.style.right = 100 - offset + "%"; label.classList.add("before"); }
    else { label.style.right = Math.max(100 - offset - width, 0) + "%"; label.classList.add("inside"); }
    const name = h("div", { class: "wf-name", title: s.service_name + ": " + s.name }, s.name, " ", h("span", { class: "muted" }, s.service_name));
    name.style.paddingLeft = depth * 16 + "px";
    const row = h("div", { class: "wf-row", role: "button", tabindex: 0, dataset: { spanId: s.span_id, parentId: s.parent_span_id || "", depth: String(depth) } },
      name, h("div", { class: "wf-track" }, bar, label));
    row.addEventListener("click", () => show(s, row));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") show(s, row); });
    return row;
  }));
  add(main, h("h1", {}, "Trace ", h("code", {}, t.trace_id), " ", copyButton(t.trace_id, "trace id")),
    h("p", { class: "muted" }, rows.length + " spans · " + fmtMs(total / 1e6) + " · ",
      h("a", { href: "#/logs?trace_id=" + t.trace_id }, "logs of this trace")),
    wf, detail);
}

/** Nanoseconds from `from` to `to` (both strings of digits) as a duration. */
function offsetText(from, to) {
  try {
    const ms = Number(BigInt(to) - BigInt(from)) / 1e6;
    return (ms < 0 ? "-" : "+") + fmtMs(Math.abs(ms));
  } catch (_) {
    return "";
  }
}

/** What a span holds: its status, kind, ids, times, attributes, events, links, scope and resource. */
function spanDetail(s, traceStart) {
  const facts = [
    ["Status", [badge(["unset", "ok", "error"][s.status_code] || "unset"), s.status_message ? [" ", s.status_message] : null]],
    ["Service", s.service_name],
    ["Kind", SPAN_KINDS[s.kind] || "kind " + s.kind],
    ["Duration", fmtMs(Number(BigInt(s.end_time_unix_nano) - BigInt(s.start_time_unix_nano)) / 1e6)],
    ["Start", [when(s.start_time_unix_nano, true), " ", h("span", { class: "muted" }, offsetText(String(traceStart), s.start_time_unix_nano) + " into the trace")]],
    ["Span id", idView(s.span_id, "span id")],
    ["Parent", s.parent_span_id ? idView(s.parent_span_id, "parent span id") : h("span", { class: "muted" }, "none (a root span)")],
    s.trace_state ? ["Trace state", h("code", {}, s.trace_state)] : null,
    s.scope_name ? ["Scope", h("code", {}, s.scope_name + (s.scope_version ? " " + s.scope_version : ""))] : null,
    s.dropped_attributes_count ? ["Dropped", fmtNum(s.dropped_attributes_count) + " attributes"] : null,
    s.dropped_events_count ? ["Dropped events", fmtNum(s.dropped_events_count)] : null,
    s.dropped_links_count ? ["Dropped links", fmtNum(s.dropped_links_count)] : null,
  ];
  const events = s.events || [];
  const links = s.links || [];
  return [
    h("h2", {}, s.name),
    factList(facts),
    h("h3", {}, "Attributes"), kvTable(s.attributes, { empty: "No attributes." }),
    events.length ? [h("h3", {}, "Events"), table([
      { title: "Time", value: (e) => [when(e.time_unix_nano, true), " ", h("span", { class: "muted" }, offsetText(s.start_time_unix_nano, e.time_unix_nano))] },
      { title: "Event", value: (e) => e.name },
      { title: "Attributes", value: (e) => kvTable(e.attributes, { empty: "no attributes" }) },
    ], events.map((e) => ({ ...e, __attrs: { class: "event-row" } })))] : null,
    links.length ? [h("h3", {}, "Links"), table([
      { title: "Linked trace", value: (l) => idView(l.trace_id, "trace id", "#/traces/" + encodeURIComponent(l.trace_id)) },
      { title: "Span", value: (l) => idView(l.span_id, "span id") },
      { title: "Trace state", value: (l) => l.trace_state ? h("code", {}, l.trace_state) : "" },
      { title: "Attributes", value: (l) => kvTable(l.attributes, { empty: "no attributes" }) },
    ], links.map((l) => ({ ...l, __attrs: { class: "link-row" } })))] : null,
    (s.resource && Object.keys(s.resource).length) ? h("details", { class: "resource" }, h("summary", {}, "Resource (" + Object.keys(s.resource).length + " attributes)"), kvTable(s.resource)) : null,
  ];
}

/** Facts as a definition list: [label, value] pairs, nulls skipped. */
function factList(facts) {
  return h("dl", { class: "facts" }, facts.filter(Boolean).map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

/** Identifies a log record among those listed (for the live tail and the rows opened). */
function logKey(l) {
  const body = typeof l.body === "string" ? l.body : JSON.stringify(l.body);
  return l.time_unix_nano + "|" + l.service_name + "|" + (l.span_id || "") + "|" + body + "|" + (l.event_name || "");
}

/** A log body in one line: a string as itself (long ones folded), a structured body as a
 * preview of its keys and values. */
function bodyLine(body) {
  if (body === null || body === undefined) return null;
  if (typeof body === "string") return longText(body, false);
  return h("span", { class: "body-preview" }, preview(body));
}

/** Everything a log record holds, shown when its row is opened. */
function logDetail(l) {
  const structured = l.body !== null && typeof l.body === "object";
  return h("div", { class: "log-detail-body" },
    factList([
      ["Time", when(l.time_unix_nano, true)],
      l.observed_time_unix_nano && l.observed_time_unix_nano !== "0" ? ["Observed", when(l.observed_time_unix_nano, true)] : null,
      ["Severity", (l.severity_text || "") + " (" + l.severity_number + ")"],
      ["Service", l.service_name],
      l.event_name ? ["Event", l.event_name] : null,
      l.scope_name ? ["Scope", h("code", {}, l.scope_name + (l.scope_version ? " " + l.scope_version : ""))] : null,
      l.trace_id ? ["Trace", idView(l.trace_id, "trace id", "#/traces/" + l.trace_id)] : null,
      l.span_id ? ["Span", idView(l.span_id, "span id")] : null,
      l.dropped_attributes_count ? ["Dropped", fmtNum(l.dropped_attributes_count) + " attributes"] : null,
    ]),
    l.body !== null && l.body !== undefined
      ? [h("h4", {}, "Body ", h("span", { class: "muted" }, l.body_type || typeName(l.body))), structured ? valueView(l.body, "", true) : valueView(l.body, "")]
      : null,
    h("h4", {}, "Attributes"), kvTable(l.attributes, { empty: "No attributes." }),
    (l.resource && Object.keys(l.resource).length) ? h("details", { class: "resource" }, h("summary", {}, "Resource (" + Object.keys(l.resource).length + " attributes)"), kvTable(l.resource)) : null);
}

/**
 * Log records (or events) as rows that open, on a click or Enter, to everything the
 * record holds (logDetail). `opened` holds the keys (logKey) of the rows open, kept
 * across renderings of the live tail.
 */
function logTable(items, events, opened) {
  const columns = [
    { title: "Time", value: (l) => when(l.time_unix_nano) },
    { title: "Service", value: (l) => l.service_name },
    events
      ? { title: "Event", value: (l) => l.event_name }
      : { title: "Severity", value: (l) => h("span", { class: "sev-" + (Math.floor((l.severity_number - 1) / 4) * 4 + 1) }, l.severity_text || String(l.severity_number)) },
    events
      ? { title: "Attributes", value: (l) => kvTable(l.attributes, { empty: "no attributes" }) }
      : { title: "Message", value: (l) => bodyLine(l.body) || (l.event_name
        ? [h("span", { class: "badge" }, l.event_name), " ", h("span", { class: "body-preview" }, preview(l.attributes))]
        : h("span", { class: "body-preview muted" }, preview(l.attributes))) },
    { title: "Trace", narrow: true, value: (l) => l.trace_id ? h("a", { href: "#/traces/" + l.trace_id }, l.trace_id.slice(0, 8)) : "" },
  ];
  const cls = (c) => (c.num ? "num" : (c.narrow ? "hide-narrow" : null));
  const rows = [];
  for (const l of items) {
    const k = logKey(l);
    const cell = h("td", { colspan: columns.length });
    const detail = h("tr", { class: "log-detail", hidden: true }, cell);
    const row = h("tr", { class: "log-row clickable", tabindex: 0, "aria-expanded": "false", title: "Show everything this record holds" },
      columns.map((c) => h("td", { class: cls(c) }, c.value(l))));
    const toggle = (open) => {
      if (open && !cell.firstChild) cell.append(logDetail(l));
      detail.hidden = !open;
      row.setAttribute("aria-expanded", String(open));
      if (open) opened.add(k); else opened.delete(k);
    };
    row.addEventListener("click", (e) => {
      // Links, buttons and folds in the row act on their own; selecting text opens nothing.
      if (e.target.closest("a, button, summary") || String(window.getSelection() || "")) return;
      toggle(detail.hidden);
    });
    row.addEventListener("keydown", (e) => {
      if (e.target === row && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); toggle(detail.hidden); }
    });
    if (opened.has(k)) toggle(true);
    rows.push(row, detail);
  }
  return h("div", { class: "table-wrap" }, h("table", { class: "logs" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: cls(c) }, c.title)))),
    h("tbody", {}, rows)));
}

async function logs(main, events) {
  const values = hashParams();
  const path = events ? "/api/v1/events" : "/api/v1/logs";
  const fields = events
    ? [{ name: "name", label: "Event name" }, { name: "service", label: "Service" }]
    : [{ name: "q", label: "Search text", size: 20 }, { name: "service", label: "Service" },
      { name: "severity_min", label: "Min severity", options: ["", "debug", "info", "warn", "error", "fatal"] },
      { name: "trace_id", label: "Trace id", size: 24 }];
  const live = h("button", { type: "button", class: "secondary", "aria-pressed": "false", id: "live-tail" }, "Live tail");
  add(main, h("h1", {}, events ? "Events" : "Logs"), filterForm(fields, values, (v) => setHash(events ? "#/events" : "#/logs", v), live));
  const holder = h("div", { id: "log-list" });
  const status = h("p", { class: "muted", id: "tail-status" });
  add(main, status, holder);
  let items = (await api(path + query({ ...rangeParams(), ...values, limit: 200 }))).items;
  const opened = new Set();
  const render = () => holder.replaceChildren(items.length ? logTable(items, events, opened) : h("p", { class: "muted" }, "Nothing in this range."));
  render();
  const key = logKey;
  let timer = null;
  const poll = async () => {
    try {
      const newest = items.length ? items[0].time : new Date(Date.now() - 60000).toISOString();
      const fresh = (await api(path + query({ ...values, from: newest, limit: 200 }))).items;
      const seen = new Set(items.map(key));
      const add = fresh.filter((l) => !seen.has(key(l)));
      if (add.length) { items = [...add, ...items].slice(0, 1000); render(); }
      status.textContent = "Live: checked " + new Date().toLocaleTimeString() + (add.length ? ", " + add.length + " new" : "");
    } catch (e) {
      status.textContent = "Live tail paused: " + (e.message || e);
    }
  };
  live.addEventListener("click", () => {
    if (timer) { clearInterval(timer); timer = null; live.setAttribute("aria-pressed", "false"); status.textContent = ""; return; }
    live.setAttribute("aria-pressed", "true");
    poll();
    timer = setInterval(poll, 2000);
  });
  stopPage = () => { if (timer) clearInterval(timer); };
}

/** Where a metric's points come from (the API's `origin`), as the Metrics page names it. */
const METRIC_ORIGINS = {
  application: "Sent by applications",
  probes: "This server's probes (serve --probe)",
  fleet: "This server's fleet collection (serve --fleet-interval)",
};

async function metrics(main) {
  const values = hashParams();
  const names = (await api("/api/v1/metrics")).items;
  const origin = (m) => (METRIC_ORIGINS[m.origin] ? m.origin : "application");
  const own = names.filter((m) => origin(m) !== "application");
  add(main, h("h1", {}, "Metrics"));
  if (!names.length) return add(main, h("p", { class: "muted" }, "No metrics stored yet."));
  // The applications' metrics first: the server's own are shown only when chosen.
  const first = names.find((m) => origin(m) === "application");
  const name = values.name || (first ? first.name : "");
  const info = names.find((m) => m.name === name);
  add(main, filterForm([
    { name: "name", label: "Metric", groups: Object.entries(METRIC_ORIGINS).map(([o, label]) => ({ label, options: names.filter((m) => origin(m) === o).map((m) => m.name) })) },
    { name: "agg", label: "Aggregation", options: ["", "avg", "sum", "min", "max", "count"] },
    { name: "group_by", label: "Group by attribute", placeholder: "service.name" },
    { name: "step", label: "Step", placeholder: "auto", size: 6 },
  ], { ...values, name }, (v) => setHash("#/metrics", v)));
  if (name) {
    const params = { ...rangeParams(), agg: values.agg, group_by: values.group_by, step: values.step };
    add(main,
      h("p", { class: "muted", id: "metric-origin", dataset: { origin: info ? origin(info) : "" } },
        info ? [METRIC_ORIGINS[origin(info)], " · ", info.kind, " · ", fmtNum(info.points), " points · last ", when(info.last_time)] : ""),
      chartBox("/api/v1/metrics/" + encodeURIComponent(name) + "/chart.svg" + query(params)));
    const series = await api("/api/v1/metrics/" + encodeURIComponent(name) + "/series" + query(params));
    add(main, ...section("Latest values (" + series.agg + ", " + series.source + ")", table([
      { title: "Group", value: (s) => Object.keys(s.group).length ? Object.entries(s.group).map(([k, v]) => k + " = " + scalarText(v)).join(", ") : "all" },
      { title: "Last step", value: (s) => when(s.points[s.points.length - 1].time) },
      { title: "Value", num: true, value: (s) => fmtNum(s.points[s.points.length - 1].value) },
      { title: "Steps", num: true, value: (s) => s.points.length },
    ], series.series.filter((s) => s.points.length))));
  } else {
    add(main, h("p", { class: "muted", id: "no-application-metrics" }, "No application has sent a metric yet; the server's own metrics are below."));
  }
  if (own.length) {
    add(main, h("section", { id: "server-metrics" }, ...section("This server's own metrics",
      h("p", { class: "muted" }, "Written by the server itself, kept apart from what applications send: the probes' up and probe_latency_ms, "
        + "and the fleet collection's fleet.* gauges of this host, its containers and agents (serve --fleet-interval sets how often, off stops it)."),
      table([
        { title: "Metric", value: (m) => h("a", { href: "#/metrics" + query({ name: m.name }) }, m.name) },
        { title: "From", value: (m) => METRIC_ORIGINS[origin(m)] },
        { title: "Kind", value: (m) => m.kind },
        { title: "Points", num: true, value: (m) => fmtNum(m.points) },
        { title: "Last", value: (m) => when(m.last_time) },
      ], own.map((m) => ({ ...m, __attrs: { class: "own-metric", "data-origin": origin(m) } }))))));
  }
}

async function runs(main) {
  const values = hashParams();
  add(main, h("h1", {}, "Agent runs"), filterForm([
    { name: "agent", label: "Agent" },
    { name: "status", label: "Status", options: ["", "completed", "failed"] },
  ], values, (v) => setHash("#/runs", v)));
  await paged(main, "/api/v1/agents/runs", { ...rangeParams(), limit: 50, ...values }, (items) => table([
    { title: "Start", value: (r) => when(r.start_time) },
    { title: "Agent", value: (r) => h("a", { href: "#/runs/" + encodeURIComponent(r.correlation_id) }, r.agent_name) },
    { title: "Status", value: (r) => badge(r.status) },
    { title: "Quality", num: true, value: (r) => r.quality_score === null ? "–" : r.quality_score.toFixed(2) },
    { title: "Actions", num: true, value: (r) => r.action_count },
    { title: "Duration", num: true, value: (r) => fmtMs(r.duration_ms) },
    { title: "Error", narrow: true, value: (r) => r.error || "" },
  ], items, (r) => { location.hash = "#/runs/" + encodeURIComponent(r.correlation_id); }), "No agent runs in this range.");
}

async function run(main, id) {
  const r = await api("/api/v1/agents/runs/" + encodeURIComponent(id));
  const start = Date.parse(r.start_time);
  const span = Math.max(Date.parse(r.end_time) - start, 1);
  // Tool calls as bars over their duration on one lane; decisions, errors and
  // successes as marks on the other.
  const at = (t) => Math.min(Math.max((t - start) / span * 100, 0), 100);
  const timeline = h("div", { class: "timeline", id: "run-timeline", role: "img", "aria-label": "Actions over the run" },
    r.actions.map((a) => {
      const t = Date.parse(a.time);
      const mark = h("div", { class: "tl-mark " + a.action_type + (a.action_type === "tool_call" ? " tl-call" : "") + (a.is_error ? " failed" : ""),
        title: a.action_type.replace("_", " ") + ": " + a.name + (a.duration_ms ? " (" + fmtMs(a.duration_ms) + ")" : ""), dataset: { actionType: a.action_type } });
      mark.style.left = at(t) + "%";
      if (a.action_type === "tool_call") mark.style.width = Math.max(at(t + a.duration_ms) - at(t), 0.6) + "%";
      return mark;
    }));
  const counts = {};
  for (const a of r.actions) counts[a.action_type] = (counts[a.action_type] || 0) + 1;
  add(main, 
    h("h1", {}, "Run of ", r.agent_name),
    h("div", { class: "cards" },
      card("Status", badge(r.status)), card("Quality score", r.quality_score === null ? "–" : r.quality_score.toFixed(2), { id: "quality-score" }),
      card("Duration", fmtMs(r.duration_ms)), card("Actions", String(r.actions.length)),
      card("Tool calls", String(counts.tool_call || 0)), card("Decisions", String(counts.decision || 0)),
      card("Errors", String(counts.error || 0)), card("Successes", String(counts.success || 0))),
    r.error ? h("p", { class: "error" }, r.error) : null,
    ...section("Timeline", h("div", { class: "legend" }, ["tool_call", "decision", "error", "success"].map((t) => h("span", { class: t }, t.replace("_", " ")))), timeline),
    h("p", { class: "muted" }, "correlation id ", idView(r.correlation_id, "correlation id"), r.trace_id ? [" · ", h("a", { href: "#/traces/" + r.trace_id }, "trace")] : "",
      " · started ", when(r.start_time)),
    ...section("Actions", table([
      { title: "Time", value: (a) => [when(a.time, true), " ", h("span", { class: "muted" }, "+" + fmtMs(Math.max(Date.parse(a.time) - start, 0)))] },
      { title: "Type", value: (a) => badge(a.action_type) },
      { title: "Name", value: (a) => a.name },
      { title: "Duration", num: true, value: (a) => a.duration_ms ? fmtMs(a.duration_ms) : "" },
      { title: "Details", narrow: true, value: (a) => Object.keys(a.attributes || {}).length
        ? folded(preview(a.attributes, 90), kvTable(a.attributes)) : h("span", { class: "muted" }, "none") },
    ], r.actions.map((a) => ({ ...a, __attrs: { class: a.is_error ? "action-row failed" : "action-row", "data-action-type": a.action_type } })))),
  );
}

async function health(main) {
  const [probes, alerts] = await Promise.all([api("/api/v1/probes"), api("/api/v1/alerts")]);
  add(main, h("h1", {}, "Infrastructure health"),
    h("div", { class: "cards" }, card("Targets", String(probes.total)), card("Up", String(probes.up)),
      card("Down or blocked", String(probes.total - probes.up), { id: "probes-down" })));
  if (!probes.total) {
    add(main, h("p", { class: "muted" }, "No probes configured: start the server with --probe URL (postgres://, redis://, http://, …) or [[probe]] tables."));
  } else {
    add(main, ...section("Targets", table([
      { title: "Target", value: (p) => p.name },
      { title: "State", value: (p) => badge(p.state) },
      { title: "Latency", num: true, value: (p) => fmtMs(p.latency_ms) },
      { title: "Reason", value: (p) => p.reason || "" },
      { title: "Depends on", value: (p) => p.depends_on.join(", ") },
      { title: "URL", narrow: true, value: (p) => p.url },
    ], probes.items.map((p) => ({ ...p, __attrs: { class: "probe-row", "data-state": p.state, "data-target": p.name } })))),
    ...section("Dependencies", chartBox("/api/v1/probes/graph.svg")),
    h("div", { class: "grid2" },
      h("div", {}, h("h2", {}, "Up (1) or down (0)"), chartBox("/api/v1/metrics/up/chart.svg" + query({ ...rangeParams(), group_by: "target", agg: "min" }))),
      h("div", {}, h("h2", {}, "Probe latency"), chartBox("/api/v1/metrics/probe_latency_ms/chart.svg" + query({ ...rangeParams(), group_by: "target", agg: "avg" })))));
  }
  add(main, ...section("Alert rules", alerts.items.length ? table([
    { title: "Rule", value: (a) => a.name },
    { title: "State", value: (a) => badge(a.state, a.state === "firing" ? "error" : "ok") },
    { title: "Severity", value: (a) => a.severity },
    { title: "Condition", value: (a) => a.reduce + "(" + a.metric + (a.where ? " where " + a.where : "") + ") " + a.condition + " " + a.threshold },
    { title: "Value", num: true, value: (a) => fmtNum(a.value) },
    { title: "Since", value: (a) => when(a.since) },
  ], alerts.items) : h("p", { class: "muted" }, "No alert rules configured.")));
}

async function fleet(main) {
  const status = await api("/telemetry/status");
  add(main, h("h1", {}, "Fleet"),
    h("p", { class: "muted", id: "fleet-origin" }, "Collected by this server itself, apart from what applications send: this host's CPU, memory, disks "
      + "and network, its Docker containers, the agents of serve --agent and the probes' states, as hash-chained snapshots and fleet.* "
      + "metrics. serve --fleet-interval sets how often (60 s unless told), off stops it."));
  const snap = status.snapshot;
  if (!snap) return add(main, h("p", { class: "muted" }, "No snapshot collected yet (serve --fleet-interval; POST /telemetry/collect with an admin token)."));
  const r = snap.results || {};
  add(main, h("div", { class: "cards" },
    card("Collected", when(snap.collected_at)),
    card("Chain position", ["#" + status.chain.seq, " ", copyButton(status.chain.hash, "snapshot hash")], { title: status.chain.hash }),
    r.host ? card("CPU", fmtNum(r.host.cpu && r.host.cpu.usage_percent) + " %") : null,
    r.host && r.host.memory ? card("Memory used", pct(r.host.memory.used_bytes / r.host.memory.total_bytes)) : null,
    r.agents ? card("Agents healthy", r.agents.healthy + " / " + r.agents.total) : null,
    r.probes ? card("Probes up", r.probes.up + " / " + r.probes.total) : null));
  if (r.agents && r.agents.agents) {
    add(main, ...section("Agents", table([
      { title: "Agent", value: (a) => a.name },
      { title: "Status", value: (a) => badge(a.healthy ? (a.status || "up") : (a.reachable ? a.status || "unhealthy" : "unreachable"), a.healthy ? "up" : "down") },
      { title: "Version", value: (a) => a.version || "" },
      { title: "Service", value: (a) => a.service || "" },
      { title: "Uptime", num: true, value: (a) => a.uptime_seconds ? fmtNum(a.uptime_seconds / 3600) + " h" : "" },
      { title: "Latency", num: true, value: (a) => fmtMs(a.latency_ms) },
      { title: "Error", narrow: true, value: (a) => a.error || "" },
    ], r.agents.agents)));
  }
  if (r.deployments && r.deployments.services) {
    add(main, ...section("Deployments", table([
      { title: "Service", value: (d) => d.service },
      { title: "Agents", num: true, value: (d) => d.agents },
      { title: "Versions", value: (d) => Object.entries(d.versions).map(([v, n]) => v + " × " + n).join(", ") },
      { title: "Newest", value: (d) => d.newest_version || "" },
      { title: "Rollout", value: (d) => badge(pct(d.rollout_share), d.complete ? "ok" : "warn") },
    ], Object.entries(r.deployments.services).map(([service, d]) => ({ service, ...d })))));
  }
  add(main, h("div", { class: "grid2" },
    h("div", {}, h("h2", {}, "Host CPU"), chartBox("/api/v1/metrics/fleet.host.cpu.usage_percent/chart.svg" + query({ ...rangeParams(), agg: "avg" }))),
    h("div", {}, h("h2", {}, "Memory used (ratio)"), chartBox("/api/v1/metrics/fleet.host.memory.used_ratio/chart.svg" + query({ ...rangeParams(), agg: "avg" })))));
  if (snap.errors && Object.keys(snap.errors).length) add(main, ...section("Collectors that failed", kvTable(snap.errors)));
  add(main, h("details", { class: "panel snapshot" }, h("summary", {}, "The whole snapshot (" + snap.snapshot_id + ")"), kvTable(snap)));
}

function login(main, message) {
  const input = h("input", { type: "password", id: "token", autocomplete: "off", placeholder: "token with the read scope" });
  main.replaceChildren(h("form", { class: "panel login", onsubmit: (e) => { e.preventDefault(); sessionStorage.setItem(TOKEN_KEY, input.value.trim()); route(); } },
    h("h1", {}, "Sign in"),
    h("p", {}, message),
    h("label", { for: "token" }, "Access token"), input,
    h("button", { type: "submit" }, "Open the dashboard")));
  input.focus();
}

const PAGES = {
  overview, traces, metrics, runs, health, fleet,
  logs: (m) => logs(m, false),
  events: (m) => logs(m, true),
};

async function route() {
  stopPage();
  stopPage = () => {};
  const main = document.getElementById("main");
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  const [page, id] = [path.split("/")[0] || "overview", path.split("/").slice(1).join("/")];
  for (const a of document.querySelectorAll("#nav a[data-page]")) a.classList.toggle("active", a.dataset.page === page || (page === "trace" && a.dataset.page === "traces"));
  main.replaceChildren();
  delete main.dataset.ready;
  main.dataset.page = page;
  main.setAttribute("aria-busy", "true");
  try {
    if (page === "traces" && id) await trace(main, decodeURIComponent(id));
    else if (page === "runs" && id) await run(main, decodeURIComponent(id));
    else await (PAGES[page] || overview)(main);
  } catch (e) {
    if (e instanceof AuthError) {
      login(main, token() ? "That token was refused. Enter a token with the read scope." : "This server requires an access token with the read scope.");
    } else {
      add(main, errorText(e));
    }
  } finally {
    main.setAttribute("aria-busy", "false");
    main.dataset.ready = "true";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const select = document.getElementById("range");
  select.value = localStorage.getItem(RANGE_KEY) || "1h";
  select.addEventListener("change", () => { localStorage.setItem(RANGE_KEY, select.value); route(); });
  window.addEventListener("hashchange", route);
  route();
});
