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
    const err = new Error(message);
    err.status = resp.status;
    throw err;
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

/** The range chosen, in milliseconds ("15m", "1h", "6h", "24h", "7d"). */
function rangeMs() {
  const m = /^(\d+)([mhd])$/.exec(range());
  return m ? Number(m[1]) * { m: 60000, h: 3600000, d: 86400000 }[m[2]] : 3600000;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  if (ms >= 10) return ms.toFixed(0) + " ms";
  return ms.toFixed(2) + " ms";
}

/** A step as its unit: "30 s", "5 min", "2 h", "1 d". */
function fmtStep(ms) {
  const n = Number(ms) || 0;
  if (n >= 86400000 && n % 86400000 === 0) return n / 86400000 + " d";
  if (n >= 3600000 && n % 3600000 === 0) return n / 3600000 + " h";
  if (n >= 60000 && n % 60000 === 0) return n / 60000 + " min";
  return fmtMs(n);
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

/** An amount in US dollars: small ones to three significant digits ("$0.000898"). */
function fmtUsd(v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return "–";
  const n = Number(v);
  if (n === 0) return "$0";
  const options = Math.abs(n) >= 1 ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : { maximumSignificantDigits: 3 };
  return new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", ...options }).format(n);
}

/** A cost with the "unpriced" marker when some calls had no price (their cost is not in it). */
function costView(cost, unpriced) {
  const marker = unpriced > 0 ? h("span", {
    class: "badge warn unpriced", title: fmtNum(unpriced) + (unpriced === 1 ? " call" : " calls") + " of a model the price table does not know: not in the cost",
  }, "unpriced " + fmtNum(unpriced)) : null;
  return h("span", { class: "cost" }, marker && !cost ? "–" : fmtUsd(cost), marker ? " " : null, marker);
}

/** Input and output tokens: "163 in / 49 out". */
function tokensText(input, output) {
  return fmtNum(input || 0) + " in / " + fmtNum(output || 0) + " out";
}

/** Totals' tokens in and out, with their cached and reasoning parts in the tooltip. */
function tokensView(t) {
  if (!t) return "";
  const parts = [["cache read", t.cache_read_tokens], ["cache write", t.cache_write_tokens], ["reasoning", t.reasoning_tokens]]
    .filter(([, n]) => n).map(([k, n]) => k + " " + fmtNum(n));
  return h("span", { class: "tokens", title: parts.length ? parts.join(", ") : null }, tokensText(t.input_tokens, t.output_tokens));
}

/** Names (models, users) as a short list of chips. */
function chips(names, cls) {
  const list = (names || []).filter((n) => n !== null && n !== undefined && n !== "");
  if (!list.length) return h("span", { class: "muted" }, "–");
  return h("ul", { class: "inline-list " + (cls || "") }, list.map((n) => h("li", {}, String(n))));
}

/** A score's value as text: numbers to three decimals, booleans and labels as they are. */
function scoreValue(s) {
  if (s.value === null || s.value === undefined) return "–";
  if (typeof s.value === "number") return s.value.toLocaleString(undefined, { maximumFractionDigits: 3 });
  return String(s.value);
}

/** Scores as chips "name value", each with its source and comment in the tooltip. */
function scoreChips(scores) {
  if (!scores || !scores.length) return h("span", { class: "muted" }, "–");
  return h("ul", { class: "inline-list scores" }, scores.map((s) => h("li", {
    class: "score", dataset: { score: s.name }, title: [s.source, s.comment].filter(Boolean).join(": ") || null,
  }, s.name + " ", h("strong", {}, scoreValue(s)))));
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

/**
 * Rows as a table of `columns` ({title, value(row), num, narrow}). With `onClick`, a row
 * opens on a click or on Enter (rows take the focus); links, buttons and folds inside it
 * act on their own. `row.__attrs` adds attributes to a row (its classes beside "clickable").
 */
function table(columns, rows, onClick, attrs) {
  const cls = (c) => [c.num ? "num" : "", c.narrow ? "hide-narrow" : ""].filter(Boolean).join(" ") || null;
  const head = h("tr", {}, columns.map((c) => h("th", { class: cls(c), scope: "col" }, c.title)));
  const body = rows.map((r) => {
    const extra = r.__attrs || {};
    const classes = [onClick ? "clickable" : "", extra.class || ""].filter(Boolean).join(" ");
    const tr = h("tr", { ...extra, class: classes || null, tabindex: onClick ? 0 : null },
      columns.map((c) => h("td", { class: cls(c) }, c.value(r))));
    if (onClick) {
      tr.addEventListener("click", (e) => {
        if (e.target.closest("a, button, summary, input, select") || String(window.getSelection() || "")) return;
        onClick(r);
      });
      tr.addEventListener("keydown", (e) => {
        if (e.target === tr && e.key === "Enter") { e.preventDefault(); onClick(r); }
      });
    }
    return tr;
  });
  return h("div", { class: "table-wrap" }, h("table", attrs || {}, h("thead", {}, head), h("tbody", {}, body)));
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

function filterForm(fields, values, onSubmit, extra, submitLabel) {
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
    h("button", { type: "submit" }, submitLabel || "Search"), extra || null);
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
  add(main, h("h1", {}, "Traces"), tracesTabs("list"), filterForm([
    { name: "service", label: "Service", options: ["", ...services.items] },
    { name: "name", label: "Root span name" },
    { name: "status", label: "Status", options: ["", "ok", "error", "unset"] },
    { name: "min_duration_ms", label: "Min duration (ms)", size: 8 },
  ], values, (v) => setHash("#/traces", v)));
  await paged(main, "/api/v1/traces", { ...rangeParams(), limit: 50, ...values }, (items) => h("div", {}, traceScatter(items), table([
    { title: "Start", value: (t) => when(t.start_time_unix_nano || t.start_time) },
    { title: "Root span", value: (t) => h("a", { href: "#/traces/" + t.trace_id }, t.name) },
    { title: "Service", value: (t) => t.service_name },
    { title: "Duration", num: true, value: (t) => fmtMs(t.duration_ms) },
    { title: "Spans", num: true, value: (t) => t.span_count },
    { title: "Status", value: (t) => badge(["unset", "ok", "error"][t.status_code] || "unset") },
  ], items.map((t) => ({ ...t, __attrs: { class: "trace-row", "data-trace-id": t.trace_id } })),
  (t) => { location.hash = "#/traces/" + t.trace_id; }, { id: "trace-list" })), "No traces in this range.");
}

/** The tabs of the traces' pages: the list and the service map. */
function tracesTabs(current) {
  const tab = (id, href, label) => h("a", { href, class: "tab" + (id === current ? " active" : ""), "aria-current": id === current ? "page" : null, dataset: { tab: id } }, label);
  return h("nav", { class: "tabs", "aria-label": "Views of the traces" },
    tab("list", "#/traces", "Traces"), tab("map", "#/service-map", "Service map"));
}

/** The traces the service map reads: the most recent of the range, at most this many. */
const MAP_TRACES = 50;
/** Traces whose spans the service map reads at once. */
const MAP_PARALLEL = 4;
/** Services drawn on the map at most (the busiest); the tables list them all. */
const MAP_MAX_NODES = 40;

/** Runs `fn` on every item, `n` at a time: in the items' order, `{value}` or `{error}` each. */
async function inBatches(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { value: await fn(items[i]) };
      } catch (e) {
        out[i] = { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(n, 1), items.length) }, worker));
  return out;
}

/** The value at quantile `q` (0 to 1) of `values` by nearest rank; null when there are none. */
function nearestRank(values, q) {
  if (!values.length) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** A span's duration in milliseconds, null when its times are not numbers of nanoseconds. */
function spanMs(s) {
  try {
    return Number(BigInt(s.end_time_unix_nano) - BigInt(s.start_time_unix_nano)) / 1e6;
  } catch (_) {
    return null;
  }
}

/**
 * The services of `traces` (as `/api/v1/traces/{id}` gives them, the newest first) and
 * the calls between them: for every span whose parent span is in another service, an
 * edge from the parent's service to the span's, with its calls, errors (spans of status
 * error), error rate and p95 duration (nearest rank), and the newest trace holding one
 * of its calls (and one of its failed calls). Services by name; edges by calls, most
 * first, then by names.
 */
function serviceGraph(traces) {
  const services = new Map();
  const service = (name) => {
    if (!services.has(name)) services.set(name, { name, spans: 0, errors: 0, roots: 0, calls_in: 0, calls_out: 0 });
    return services.get(name);
  };
  const edges = new Map();
  let spanCount = 0;
  for (const t of traces) {
    const spans = Array.isArray(t && t.spans) ? t.spans : [];
    const byId = new Map(spans.map((s) => [s.span_id, s]));
    for (const s of spans) {
      spanCount++;
      const own = service(String(s.service_name || ""));
      own.spans++;
      if (s.status_code === 2) own.errors++;
      if (!s.parent_span_id) own.roots++;
      const parent = s.parent_span_id ? byId.get(s.parent_span_id) : null;
      if (!parent || String(parent.service_name || "") === own.name) continue;
      const from = String(parent.service_name || "");
      const key = JSON.stringify([from, own.name]);
      if (!edges.has(key)) edges.set(key, { from, to: own.name, calls: 0, errors: 0, durations: [], trace_id: t.trace_id, error_trace_id: null });
      const e = edges.get(key);
      e.calls++;
      service(from).calls_out++;
      own.calls_in++;
      if (s.status_code === 2) {
        e.errors++;
        if (!e.error_trace_id) e.error_trace_id = t.trace_id;
      }
      const ms = spanMs(s);
      if (ms !== null && Number.isFinite(ms)) e.durations.push(Math.max(ms, 0));
    }
  }
  const list = [...edges.values()].map(({ durations, ...e }) => ({ ...e, error_rate: e.calls ? e.errors / e.calls : 0, p95_ms: nearestRank(durations, 0.95) }));
  list.sort((a, b) => b.calls - a.calls || a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
  return { services: [...services.values()].sort((a, b) => a.name.localeCompare(b.name)), edges: list, traces: traces.length, spans: spanCount };
}

/**
 * Layers of the services for the map, left to right: each service one layer after the
 * furthest of its callers (the calls that close a loop left out, walking first from the
 * services nobody calls, then from those with the most root spans: `roots`, a Map of
 * name to count); in a layer, services ordered by where their callers are. A Map from
 * name to {layer, row, rows}.
 */
function mapLayout(names, edges, roots) {
  const known = new Set(names);
  const out = new Map(names.map((n) => [n, []]));
  const incoming = new Map(names.map((n) => [n, 0]));
  for (const e of edges) {
    if (!known.has(e.from) || !known.has(e.to)) continue;
    out.get(e.from).push(e.to);
    incoming.set(e.to, incoming.get(e.to) + 1);
  }
  // Calls that close a loop (found walking from the services nobody calls) are left out.
  const state = new Map();
  const back = new Set();
  const visit = (u) => {
    const stack = [[u, 0]];
    state.set(u, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top[0])[top[1]++];
      if (next === undefined) { state.set(top[0], 2); stack.pop(); continue; }
      if (state.get(next) === 1) back.add(top[0] + "\u0000" + next);
      else if (!state.has(next)) { state.set(next, 1); stack.push([next, 0]); }
    }
  };
  const rootsOf = (n) => (roots && roots.get(n)) || 0;
  const order = names.slice().sort((a, b) => (incoming.get(a) === 0 ? 0 : 1) - (incoming.get(b) === 0 ? 0 : 1) || rootsOf(b) - rootsOf(a) || a.localeCompare(b));
  for (const n of order) if (!state.has(n)) visit(n);
  const parents = new Map(names.map((n) => [n, []]));
  for (const [u, vs] of out) for (const v of vs) if (!back.has(u + "\u0000" + v)) parents.get(v).push(u);
  // The longest chain of callers, without loops now.
  const layer = new Map();
  const depth = (v) => {
    const stack = [v];
    while (stack.length) {
      const x = stack[stack.length - 1];
      if (layer.has(x)) { stack.pop(); continue; }
      const todo = parents.get(x).filter((p) => !layer.has(p));
      if (todo.length) { stack.push(...todo); continue; }
      layer.set(x, parents.get(x).reduce((m, p) => Math.max(m, layer.get(p) + 1), 0));
      stack.pop();
    }
    return layer.get(v);
  };
  names.forEach(depth);
  const layers = [];
  for (const n of names) (layers[layer.get(n)] = layers[layer.get(n)] || []).push(n);
  const row = new Map();
  layers.forEach((members, i) => {
    const at = (n) => {
      const ps = parents.get(n).filter((p) => row.has(p));
      return ps.length ? ps.reduce((s, p) => s + row.get(p), 0) / ps.length : Infinity;
    };
    const sorted = i === 0 ? members.slice().sort((a, b) => a.localeCompare(b)) : members.slice().sort((a, b) => at(a) - at(b) || a.localeCompare(b));
    sorted.forEach((n, k) => row.set(n, k));
  });
  return new Map(names.map((n) => [n, { layer: layer.get(n), row: row.get(n), rows: layers[layer.get(n)].length }]));
}

/** A name cut to `max` characters with an ellipsis. */
function shortName(name, max) {
  const chars = [...String(name)];
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : chars.join("");
}

/** An edge's figures in a line: "12 calls · 8.3% err · p95 45 ms". */
function edgeText(e) {
  return fmtNum(e.calls) + (e.calls === 1 ? " call" : " calls") + " · " + (e.error_rate * 100).toFixed(1) + "% err · p95 " + (e.p95_ms === null ? "–" : fmtMs(e.p95_ms));
}

/**
 * The service map drawn as SVG: services as boxes in layers (mapLayout), calls as
 * arrows from the caller's service to the called one's, labelled with their calls,
 * error rate and p95; a box opens the service's traces, an arrow the newest trace with
 * such a call (a failed one when there is). One stop of the Tab key (rovingLinks): the
 * arrow keys move between the services, then the calls.
 */
function serviceMapSvg(graph, width, onFocus) {
  const busiest = graph.services.slice().sort((a, b) => b.spans - a.spans || a.name.localeCompare(b.name)).slice(0, MAP_MAX_NODES);
  const drawn = new Set(busiest.map((s) => s.name));
  const names = graph.services.filter((s) => drawn.has(s.name)).map((s) => s.name);
  const edges = graph.edges.filter((e) => drawn.has(e.from) && drawn.has(e.to));
  // Services that call or are called in layers; the others in rows below them.
  const linked = new Set(edges.flatMap((e) => [e.from, e.to]));
  const connected = names.filter((n) => linked.has(n));
  const alone = new Map(names.filter((n) => !linked.has(n)).map((n, i) => [n, i]));
  const pos = mapLayout(connected, edges, new Map(graph.services.map((s) => [s.name, s.roots])));
  const layers = connected.length ? Math.max(...[...pos.values()].map((p) => p.layer + 1)) : 0;
  const maxRows = connected.length ? Math.max(...[...pos.values()].map((p) => p.rows)) : 0;
  const nodeW = 170;
  const nodeH = 46;
  const rowGap = 40;
  const pad = 16;
  const gap = layers > 1 ? Math.max(200, Math.min(320, (width - 2 * pad - layers * nodeW) / (layers - 1))) : 0;
  const backs = edges.filter((e) => pos.get(e.to).layer <= pos.get(e.from).layer).length;
  const innerH = maxRows ? maxRows * nodeH + (maxRows - 1) * rowGap : 0;
  const graphW = layers ? layers * nodeW + (layers - 1) * gap : 0;
  const graphH = innerH ? innerH + (backs ? 70 : 0) : 0;
  const cols = Math.max(1, Math.floor((width - 2 * pad + 20) / (nodeW + 20)));
  const aloneTop = pad + graphH + (alone.size ? (graphH ? 44 : 22) : 0);
  const height = alone.size ? aloneTop + Math.ceil(alone.size / cols) * (nodeH + 16) - 16 + pad : pad * 2 + graphH;
  const w = Math.max(width, pad * 2 + graphW);
  const left = pad + Math.max(0, (w - 2 * pad - graphW) / 2);
  const box = (n) => {
    if (alone.has(n)) {
      const i = alone.get(n);
      return { x: pad + (i % cols) * (nodeW + 20), y: aloneTop + Math.floor(i / cols) * (nodeH + 16) };
    }
    const p = pos.get(n);
    const colH = p.rows * nodeH + (p.rows - 1) * rowGap;
    return { x: left + p.layer * (nodeW + gap), y: pad + (innerH - colH) / 2 + p.row * (nodeH + rowGap) };
  };
  const svg = svgEl("svg", {
    width: w, height, viewBox: "0 0 " + w + " " + height, class: "service-map", role: "group", id: "service-map-svg",
    "aria-label": "Service map: " + fmtNum(names.length) + " services and " + fmtNum(edges.length) + " calls between them",
  }, svgEl("title", {}, "Service map"),
  svgEl("defs", {}, ["", "-error"].map((k) => svgEl("marker", {
    id: "svc-map-arrow" + k, class: "map-arrow" + k, viewBox: "0 0 10 10", refX: 9, refY: 5, markerUnits: "userSpaceOnUse", markerWidth: 11, markerHeight: 11, orient: "auto-start-reverse",
  }, svgEl("path", { d: "M0,0 L10,5 L0,10 z" })))));
  const maxCalls = Math.max(1, ...edges.map((e) => e.calls));
  const edgeLinks = edges.map((e) => {
    const a = box(e.from);
    const b = box(e.to);
    let d;
    let lx;
    let ly;
    if (pos.get(e.to).layer > pos.get(e.from).layer) {
      const x1 = a.x + nodeW;
      const y1 = a.y + nodeH / 2;
      const x2 = b.x - 2;
      const y2 = b.y + nodeH / 2;
      const dx = (x2 - x1) / 2;
      d = "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " + (x2 - dx) + "," + y2 + " " + x2 + "," + y2;
      // The label halfway through the first gap after the caller.
      const span = pos.get(e.to).layer - pos.get(e.from).layer;
      const t = 0.5 / span;
      const bez = (p0, p1, p2, p3) => (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t * t * p2 + t ** 3 * p3;
      lx = bez(x1, x1 + dx, x2 - dx, x2);
      ly = bez(y1, y1, y2, y2) - 6;
    } else {
      // A call back to an earlier (or the same) layer: an arc under the map.
      const x1 = a.x + nodeW / 2;
      const x2 = b.x + nodeW / 2 + (x1 === b.x + nodeW / 2 ? 12 : 0);
      const y1 = a.y + nodeH;
      const y2 = b.y + nodeH + 2;
      const low = pad + innerH + 55;
      d = "M" + x1 + "," + y1 + " C" + x1 + "," + low + " " + x2 + "," + low + " " + x2 + "," + y2;
      lx = (x1 + x2) / 2;
      ly = pad + innerH + 40;
    }
    const failing = e.errors > 0;
    const label = e.from + " → " + e.to + ": " + fmtNum(e.calls) + (e.calls === 1 ? " call, " : " calls, ") + fmtNum(e.errors)
      + (e.errors === 1 ? " error" : " errors") + " (" + (e.error_rate * 100).toFixed(1) + "%), p95 " + (e.p95_ms === null ? "unknown" : fmtMs(e.p95_ms))
      + "; opens the newest trace with " + (failing ? "a failed call" : "such a call");
    const text = edgeText(e);
    const textW = text.length * 6.1 + 8;
    return svgEl("a", {
      href: "#/traces/" + encodeURIComponent(failing ? e.error_trace_id : e.trace_id), class: "map-edge" + (failing ? " failing" : ""),
      "data-from": e.from, "data-to": e.to, "data-calls": e.calls, "data-errors": e.errors, "data-error-rate": e.error_rate, "data-p95": e.p95_ms === null ? "" : e.p95_ms,
      "aria-label": label,
    }, svgEl("title", {}, label),
    svgEl("path", { class: "edge-hit", d }),
    svgEl("path", { class: "edge-line", d, "stroke-width": (1.5 + 2.5 * Math.log(e.calls) / Math.log(Math.max(maxCalls, 2))).toFixed(2), "marker-end": "url(#svc-map-arrow" + (failing ? "-error" : "") + ")" }),
    svgEl("rect", { class: "edge-label-bg", x: (lx - textW / 2).toFixed(1), y: (ly - 11).toFixed(1), width: textW.toFixed(1), height: 15, rx: 3 }),
    svgEl("text", { class: "edge-label", x: lx.toFixed(1), y: ly.toFixed(1), "text-anchor": "middle" }, text));
  });
  const byName = new Map(graph.services.map((s) => [s.name, s]));
  const inOrder = [...connected.slice().sort((a, b) => pos.get(a).layer - pos.get(b).layer || pos.get(a).row - pos.get(b).row), ...alone.keys()];
  const nodeLinks = inOrder.map((n) => {
    const s = byName.get(n);
    const b = box(n);
    const label = (n || "(no service)") + ": " + fmtNum(s.spans) + (s.spans === 1 ? " span, " : " spans, ") + fmtNum(s.errors) + (s.errors === 1 ? " error" : " errors")
      + ", called " + fmtNum(s.calls_in) + " times, calls others " + fmtNum(s.calls_out) + " times; opens its traces";
    return svgEl("a", { href: "#/traces" + query({ service: n }), class: "map-node" + (s.errors ? " failing" : "") + (alone.has(n) ? " alone" : ""), "data-service": n, "aria-label": label },
      svgEl("title", {}, label),
      svgEl("rect", { x: b.x, y: b.y, width: nodeW, height: nodeH, rx: 6 }),
      svgEl("text", { class: "node-name", x: b.x + 10, y: b.y + 19 }, shortName(n || "(no service)", 22)),
      svgEl("text", { class: "node-facts", x: b.x + 10, y: b.y + 36 }, fmtNum(s.spans) + (s.spans === 1 ? " span" : " spans") + (s.errors ? " · " + fmtNum(s.errors) + " err" : "")));
  });
  svg.append(svgEl("g", { class: "map-edges" }, edgeLinks), svgEl("g", { class: "map-nodes" }, nodeLinks),
    alone.size ? svgEl("text", { class: "map-note", x: pad, y: aloneTop - 8 }, connected.length ? "No call to or from another service:" : "No call between services in these traces:") : null);
  const links = [...nodeLinks, ...edgeLinks];
  rovingLinks(svg, links);
  if (onFocus) {
    for (const a of links) {
      a.addEventListener("focus", () => onFocus(a, true));
      a.addEventListener("blur", () => onFocus(a, false));
    }
  }
  return { svg, hidden: graph.services.length - names.length };
}

/**
 * The service map of the range: the spans of its most recent traces (MAP_TRACES, read
 * MAP_PARALLEL at a time) as services and the calls between them (serviceGraph), drawn
 * (serviceMapSvg) with the same figures as tables beside it.
 */
async function serviceMap(main) {
  add(main, h("h1", {}, "Service map"), tracesTabs("map"));
  const list = await api("/api/v1/traces" + query({ ...rangeParams(), limit: MAP_TRACES }));
  const items = (list.items || []).slice(0, MAP_TRACES);
  if (!items.length) return add(main, h("p", { class: "muted", id: "service-map-empty" }, "No traces in this range."));
  const progress = h("p", { class: "muted", id: "service-map-progress" }, "Reading the spans of " + fmtNum(items.length) + (items.length === 1 ? " trace…" : " traces…"));
  add(main, progress);
  const reads = await inBatches(items, MAP_PARALLEL, (t) => api("/api/v1/traces/" + encodeURIComponent(t.trace_id)));
  const refused = reads.find((r) => r.error instanceof AuthError);
  if (refused) throw refused.error;
  const read = reads.filter((r) => r.value).map((r) => r.value);
  const failed = reads.length - read.length;
  const graph = serviceGraph(read);
  const rangeName = document.getElementById("range").selectedOptions[0].textContent;
  progress.replaceWith(h("p", { class: "muted", id: "service-map-source", dataset: { traces: String(read.length), spans: String(graph.spans) } },
    "Computed from the " + fmtNum(read.length) + " most recent " + (read.length === 1 ? "trace" : "traces") + " of the last " + rangeName
      + " (" + fmtNum(graph.spans) + " spans): an arrow for every span whose parent span is in another service, from the parent's service to the span's; "
      + "its errors are the called spans of status error, its p95 their duration's. A service opens its traces, an arrow the newest trace with such a call.",
    failed ? h("span", { class: "error" }, " " + fmtNum(failed) + (failed === 1 ? " trace" : " traces") + " could not be read.") : null));
  if (!graph.edges.length) {
    add(main, h("p", { class: "muted", id: "service-map-none" }, graph.services.length > 1
      ? "None of these traces crosses from one service to another."
      : "These traces are all in one service: no call between services."));
  }
  const edgeRows = new Map();
  const nodeRows = new Map();
  const highlight = (a, on) => {
    const row = a.classList.contains("map-edge") ? edgeRows.get(a.dataset.from + "\u0000" + a.dataset.to) : nodeRows.get(a.dataset.service);
    if (row) row.classList.toggle("highlight", on);
  };
  let hidden = 0;
  const box = drawnBox({ class: "panel chart-box map-box", id: "service-map" }, (width) => {
    const drawn = serviceMapSvg(graph, width, highlight);
    hidden = drawn.hidden;
    return h("div", { class: "map-scroll" }, drawn.svg,
      hidden ? h("p", { class: "muted small" }, "The " + MAP_MAX_NODES + " busiest services are drawn; " + fmtNum(hidden) + " more are in the table.") : null);
  });
  const edgeTable = table([
    { title: "From", value: (e) => h("a", { href: "#/traces" + query({ service: e.from }) }, e.from || "(no service)") },
    { title: "To", value: (e) => h("a", { href: "#/traces" + query({ service: e.to }) }, e.to || "(no service)") },
    { title: "Calls", num: true, value: (e) => fmtNum(e.calls) },
    { title: "Errors", num: true, value: (e) => fmtNum(e.errors) },
    { title: "Error rate", num: true, value: (e) => (e.error_rate * 100).toFixed(1) + " %" },
    { title: "p95", num: true, value: (e) => (e.p95_ms === null ? "–" : fmtMs(e.p95_ms)) },
    { title: "Newest trace", narrow: true, value: (e) => h("a", { href: "#/traces/" + encodeURIComponent(e.trace_id) }, h("code", {}, String(e.trace_id).slice(0, 8))) },
  ], graph.edges.map((e) => ({ ...e, __attrs: { class: "map-edge-row", "data-from": e.from, "data-to": e.to } })), null, { id: "service-map-edges" });
  for (const tr of edgeTable.querySelectorAll("tr.map-edge-row")) edgeRows.set(tr.dataset.from + "\u0000" + tr.dataset.to, tr);
  const nodeTable = table([
    { title: "Service", value: (s) => h("a", { href: "#/traces" + query({ service: s.name }) }, s.name || "(no service)") },
    { title: "Spans", num: true, value: (s) => fmtNum(s.spans) },
    { title: "Errors", num: true, value: (s) => fmtNum(s.errors) },
    { title: "Called", num: true, value: (s) => fmtNum(s.calls_in) },
    { title: "Calls others", num: true, value: (s) => fmtNum(s.calls_out) },
  ], graph.services.map((s) => ({ ...s, __attrs: { class: "map-node-row", "data-service": s.name } })), null, { id: "service-map-services" });
  for (const tr of nodeTable.querySelectorAll("tr.map-node-row")) nodeRows.set(tr.dataset.service, tr);
  add(main, box, h("div", { class: "grid2 map-tables" },
    h("section", { "aria-labelledby": "map-calls-title" }, h("h2", { id: "map-calls-title" }, "Calls between services"),
      graph.edges.length ? edgeTable : h("p", { class: "muted" }, "None.")),
    h("section", { "aria-labelledby": "map-services-title" }, h("h2", { id: "map-services-title" }, "Services"), nodeTable)));
}

/** A box whose chart `draw(width)` is drawn at the box's width once it is laid out
 * (the page's wait for "Loading chart" covers it). */
function drawnBox(attrs, draw) {
  const box = h("div", attrs, h("p", { class: "muted" }, "Loading chart…"));
  requestAnimationFrame(() => {
    const width = Math.max(280, Math.min(4000, Math.floor(box.clientWidth - 26)));
    try {
      box.replaceChildren(draw(width));
    } catch (e) {
      box.replaceChildren(errorText(e));
    }
  });
  return box;
}

/** The top of a chart's value axis at or above `v`: 1, 2, 3, 4, 5, 6 or 8 times a power
 * of ten (its quarters, the grid lines, stay round). */
function chartTop(v) {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 3, 4, 5, 6, 8, 10]) if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/** Steps of a time axis, in milliseconds. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

/** Ticks of a time axis from `t0` to `t1` (ms), about one per `px` pixels of `width`:
 * whole steps, labelled with seconds when the step is under a minute, with the day when
 * the range spans days. */
function timeTicks(t0, t1, width, px) {
  const want = Math.max(2, Math.floor(width / (px || 110)));
  const step = TIME_STEPS.find((s) => (t1 - t0) / s <= want) || TIME_STEPS[TIME_STEPS.length - 1];
  const days = t1 - t0 > 36 * 3600 * 1000;
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1 && ticks.length < 50; t += step) {
    const d = new Date(t);
    const label = step < 60000
      ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
      : days
        ? d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " " + d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
        : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    ticks.push({ t, label });
  }
  return ticks;
}

/**
 * An empty chart drawn from data as SVG (text only as text nodes, colours by class from
 * app.css): the frame of `o.width` by `o.height`, horizontal grid lines with `o.yFormat`
 * labels from 0 to `o.yMax`, time ticks from `o.t0` to `o.t1` (ms). Returns the SVG and
 * its scales `x(ms)` and `y(value)`.
 */
function plotFrame(o) {
  const width = Math.max(280, Math.floor(o.width));
  const height = o.height || 220;
  const m = { left: 64, right: 14, top: 10, bottom: 24 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const span = Math.max(o.t1 - o.t0, 1);
  const x = (t) => m.left + ((t - o.t0) / span) * pw;
  const y = (v) => m.top + ph - (Math.max(v, 0) / o.yMax) * ph;
  const svg = svgEl("svg", { width, height, viewBox: "0 0 " + width + " " + height, class: "plot " + (o.class || ""), "aria-label": o.title, role: o.role || null },
    svgEl("title", {}, o.title));
  const grid = svgEl("g", { class: "grid", "aria-hidden": "true" });
  for (let k = 0; k <= 4; k++) {
    const v = (o.yMax * k) / 4;
    grid.append(svgEl("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }),
      svgEl("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end" }, o.yFormat(v)));
  }
  const ticks = timeTicks(o.t0, o.t1, pw);
  for (const tick of ticks) {
    const tx = x(tick.t);
    grid.append(svgEl("line", { class: "x-tick", x1: tx, x2: tx, y1: m.top + ph, y2: m.top + ph + 4 }),
      svgEl("text", { x: tx, y: height - 6, "text-anchor": tx < m.left + 30 ? "start" : tx > width - m.right - 30 ? "end" : "middle" }, tick.label));
  }
  grid.append(svgEl("line", { class: "axis-line", x1: m.left, x2: width - m.right, y1: m.top + ph, y2: m.top + ph }));
  svg.append(grid);
  return { svg, x, y, width, height };
}

/** `links` drawn on a chart (`svg`), in their order, as one stop of the Tab key: the
 * arrow keys, Home and End move between them, Enter opens the one focused. */
function rovingLinks(svg, links) {
  links.forEach((a, i) => a.setAttribute("tabindex", i === 0 ? "0" : "-1"));
  svg.addEventListener("keydown", (e) => {
    const i = links.findIndex((a) => a === e.target || a.contains(e.target));
    if (i < 0) return;
    const moves = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: links.length - 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const j = Math.min(Math.max(moves[e.key], 0), links.length - 1);
    links[i].setAttribute("tabindex", "-1");
    links[j].setAttribute("tabindex", "0");
    links[j].focus();
  });
}

/** The traces listed as a scatter plot of their duration over time, errors in red; a
 * dot opens its trace (a click, or Enter once focused: the arrow keys move between them). */
function traceScatter(items) {
  const points = items.map((t) => {
    const d = toDate(t.start_time_unix_nano || t.start_time);
    return { t, time: d ? d.getTime() : NaN, ms: Math.max(Number(t.duration_ms) || 0, 0) };
  }).filter((p) => Number.isFinite(p.time)).sort((a, b) => a.time - b.time);
  const errors = points.filter((p) => p.t.status_code === 2).length;
  const caption = h("div", { class: "chart-caption" },
    h("span", {}, "Duration over time of the " + fmtNum(points.length) + (points.length === 1 ? " trace" : " traces") + " listed; a dot opens its trace"),
    h("span", { class: "legend", "aria-hidden": "true" }, h("span", { class: "trace-ok" }, "ok or unset"), h("span", { class: "error" }, "error (" + fmtNum(errors) + ")")));
  return drawnBox({ class: "panel chart-box scatter-box", id: "trace-scatter" }, (width) => {
    let t0 = points.length ? points[0].time : Date.now() - 60000;
    let t1 = points.length ? points[points.length - 1].time : Date.now();
    const pad = Math.max((t1 - t0) * 0.04, 1000);
    t0 -= pad;
    t1 += pad;
    const chart = plotFrame({
      width, height: 200, t0, t1, yMax: chartTop(Math.max(...points.map((p) => p.ms), 0)),
      yFormat: (v) => (v === 0 ? "0" : fmtMs(v)), class: "trace-scatter", role: "group",
      title: "Duration over time of the traces listed: " + fmtNum(points.length) + ", of which " + fmtNum(errors) + " failed",
    });
    // Keyboard order is time order; errors are drawn last, over the others.
    const links = points.map((p) => {
      const failed = p.t.status_code === 2;
      const label = p.t.name + " · " + p.t.service_name + " · " + fmtMs(p.ms) + (failed ? " · error" : "") + " · " + new Date(p.time).toLocaleString();
      return svgEl("a", { href: "#/traces/" + encodeURIComponent(p.t.trace_id), class: "dot" + (failed ? " error" : ""), "data-trace-id": p.t.trace_id, "aria-label": label },
        svgEl("title", {}, label), svgEl("circle", { cx: chart.x(p.time).toFixed(1), cy: chart.y(p.ms).toFixed(1), r: 4.5 }));
    });
    chart.svg.append(svgEl("g", { class: "dots" }, links.filter((a) => !a.classList.contains("error")), links.filter((a) => a.classList.contains("error"))));
    rovingLinks(chart.svg, links);
    return h("div", {}, caption, chart.svg);
  });
}

const SPAN_KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
/** Colours of the services of a waterfall (app.css `--svc-0` on): the rest reuse them. */
const SERVICE_COLOURS = 8;

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

/**
 * The critical path of spans in tree order (spanTree): the chain of spans that ends
 * last, from the root span that ends last down through, each time, its child that ends
 * last (the later start when two end together). The spans' ids.
 */
function criticalPath(rows) {
  const children = new Map();
  const roots = [];
  for (let i = 0; i < rows.length; i++) {
    const s = rows[i].span;
    if (rows[i].depth === 0) roots.push(s);
    else {
      if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
      children.get(s.parent_span_id).push(s);
    }
  }
  const later = (a, b) => {
    const ea = BigInt(a.end_time_unix_nano);
    const eb = BigInt(b.end_time_unix_nano);
    if (ea !== eb) return ea > eb ? a : b;
    return BigInt(a.start_time_unix_nano) >= BigInt(b.start_time_unix_nano) ? a : b;
  };
  const path = new Set();
  let s = roots.length ? roots.reduce(later) : null;
  while (s && !path.has(s.span_id)) {
    path.add(s.span_id);
    const kids = children.get(s.span_id) || [];
    s = kids.length ? kids.reduce(later) : null;
  }
  return path;
}

async function trace(main, id) {
  const t = await api("/api/v1/traces/" + encodeURIComponent(id));
  const rows = spanTree(t.spans || []);
  if (!rows.length) return add(main, h("h1", {}, "Trace ", h("code", {}, t.trace_id || id)), h("p", { class: "muted" }, "This trace holds no span."));
  const start = rows.reduce((m, r) => { const v = BigInt(r.span.start_time_unix_nano); return v < m ? v : m; }, BigInt(rows[0].span.start_time_unix_nano));
  const end = rows.reduce((m, r) => { const v = BigInt(r.span.end_time_unix_nano); return v > m ? v : m; }, 0n);
  const total = Number(end - start) || 1;
  // Services in the order they first appear, each with its colour.
  const services = [...new Set(rows.map((r) => r.span.service_name || ""))];
  const colour = new Map(services.map((s, i) => [s, i % SERVICE_COLOURS]));
  const critical = criticalPath(rows);
  // The time axis: whole steps of 1, 2 or 5 from the trace's start, about six of them.
  const step = niceCeil(total / 6);
  const ticks = [];
  for (let v = 0; v <= total * 1.0001 && ticks.length < 12; v += step) ticks.push(v);
  const detail = h("div", { class: "panel", id: "span-detail" }, h("p", { class: "muted" }, "Select a span to see its attributes and events."));
  const show = (s, row) => {
    main.querySelectorAll(".wf-row.selected").forEach((r) => { r.classList.remove("selected"); r.removeAttribute("aria-current"); });
    row.classList.add("selected");
    row.setAttribute("aria-current", "true");
    detail.replaceChildren();
    add(detail, spanDetail(s, start));
  };
  const rowOf = new Map();
  const axis = h("div", { class: "wf-axis", id: "wf-axis", "aria-hidden": "true" },
    h("div", { class: "wf-name" }, "Span · kind · service"),
    h("div", { class: "wf-ticks" }, ticks.map((v) => {
      const at = (v / total) * 100;
      const tick = h("span", { class: "wf-tick" + (at > 88 ? " end" : ""), dataset: { ns: String(v) } }, v === 0 ? "0" : fmtMs(v / 1e6));
      tick.style.left = at + "%";
      return tick;
    })));
  const wf = h("div", { class: "panel waterfall", id: "waterfall" }, axis, rows.map(({ span: s, depth }) => {
    const offset = Number(BigInt(s.start_time_unix_nano) - start) / total * 100;
    const width = Number(BigInt(s.end_time_unix_nano) - BigInt(s.start_time_unix_nano)) / total * 100;
    const onPath = critical.has(s.span_id);
    const bar = h("div", { class: "wf-bar svc-" + colour.get(s.service_name || "") + (s.status_code === 2 ? " error" : "") });
    bar.style.left = offset + "%";
    bar.style.width = Math.max(width, 0.2) + "%";
    // The duration after the bar, else before it, else inside it.
    const label = h("span", { class: "wf-label" }, fmtMs(Number(BigInt(s.end_time_unix_nano) - BigInt(s.start_time_unix_nano)) / 1e6));
    if (offset + width <= 85) label.style.left = offset + width + "%";
    else if (offset >= 15) { label.style.right = 100 - offset + "%"; label.classList.add("before"); }
    else { label.style.right = Math.max(100 - offset - width, 0) + "%"; label.classList.add("inside"); }
    const kind = SPAN_KINDS[s.kind] || "kind " + s.kind;
    const name = h("div", { class: "wf-name", title: s.service_name + ": " + s.name + " (" + kind + (onPath ? ", on the critical path" : "") + ")" },
      s.kind ? h("span", { class: "wf-kind kind-" + kind.replace(/[^a-z0-9]/gi, "") }, kind) : null,
      s.name, " ", h("span", { class: "muted" }, s.service_name));
    name.style.paddingLeft = 6 + depth * 16 + "px";
    const row = h("div", {
      class: "wf-row" + (onPath ? " critical" : ""), role: "button", tabindex: 0,
      dataset: { spanId: s.span_id, parentId: s.parent_span_id || "", depth: String(depth), service: s.service_name || "", kind, critical: onPath ? "true" : "false" },
    }, name, h("div", { class: "wf-track" }, bar, label));
    row.addEventListener("click", () => show(s, row));
    row.addEventListener("keydown", (e) => {
      if (e.target !== row) return;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(s, row); return; }
      // Up and down move between the spans.
      const next = e.key === "ArrowDown" ? row.nextElementSibling : e.key === "ArrowUp" ? row.previousElementSibling : null;
      if (next && next.classList.contains("wf-row")) { e.preventDefault(); next.focus(); }
    });
    rowOf.set(s.span_id, { s, row });
    return row;
  }));
  // The grid lines of the ticks, in every track.
  wf.style.setProperty("--tick", (step / total) * 100 + "%");
  const legend = h("ul", { class: "series-legend wf-legend", id: "wf-legend", "aria-label": "Services and marks of the waterfall" },
    services.map((svc) => h("li", { dataset: { service: svc } }, h("span", { class: "swatch svc-" + colour.get(svc), "aria-hidden": "true" }), svc || "(no service)")),
    rows.some((r) => r.span.status_code === 2) ? h("li", { class: "legend-error" }, h("span", { class: "swatch error-stripes", "aria-hidden": "true" }), "error") : null,
    rows.length > 1 ? h("li", { class: "legend-critical" }, h("span", { class: "swatch critical", "aria-hidden": "true" }), "critical path (the chain of spans that ends last)") : null);
  add(main, h("h1", {}, "Trace ", h("code", {}, t.trace_id), " ", copyButton(t.trace_id, "trace id")),
    h("p", { class: "muted", id: "trace-facts" }, rows.length + " spans · " + fmtMs(total / 1e6) + " · "
      + services.length + (services.length === 1 ? " service" : " services") + " · critical path of " + critical.size + (critical.size === 1 ? " span" : " spans") + " · ",
    h("a", { href: "#/logs?trace_id=" + t.trace_id }, "logs of this trace")),
    legend, wf, detail);
  // A span asked for by the address (an exemplar's) is selected.
  const wanted = rowOf.get(hashParams().span || "");
  if (wanted) {
    show(wanted.s, wanted.row);
    wanted.row.scrollIntoView({ block: "center" });
  }
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

/** The percentiles drawn over time for histograms and summaries. */
const PERCENTILES = ["p50", "p90", "p99"];

/**
 * The percentiles of metric `name` (a histogram, or a summary: `kind`) over time, one
 * line each (PERCENTILES, read as the series' `agg`), with the exemplars of its points as
 * dots that open their trace at their span; `params` gives the range and step. Drawn as
 * SVG from the series' JSON.
 */
async function percentileChart(name, kind, params) {
  const path = "/api/v1/metrics/" + encodeURIComponent(name) + "/series";
  const reads = await Promise.all(PERCENTILES.map((p) => api(path + query({ ...params, agg: p }))
    .then((r) => ({ p, r }), (e) => ({ p, e }))));
  const lines = [];
  const notes = [];
  const exemplars = [];
  let t0 = null;
  let t1 = null;
  for (const { p, r, e } of reads) {
    if (e) { notes.push(p + ": " + (e.message || e)); continue; }
    if (t0 === null) {
      t0 = Date.parse(r.from);
      t1 = Date.parse(r.to);
      // The same exemplars come with every percentile: those of the first read.
      for (const s of r.series || []) {
        for (const pt of s.points || []) {
          for (const x of pt.exemplars || []) {
            const at = toDate(x.time_unix_nano) || toDate(pt.time);
            if (at && typeof x.value === "number" && Number.isFinite(x.value)) exemplars.push({ ...x, time: at.getTime() });
          }
        }
      }
    }
    const points = ((r.series || [])[0] || { points: [] }).points
      .map((pt) => ({ time: Date.parse(pt.time), value: pt.value }))
      .filter((pt) => Number.isFinite(pt.time) && typeof pt.value === "number" && Number.isFinite(pt.value));
    if (points.length) lines.push({ p, points });
    else notes.push(p + ": " + (kind === "summary" ? "not carried by this summary in this range" : "no points in this range"));
  }
  const legend = h("ul", { class: "series-legend", id: "percentile-legend", "aria-label": "Percentiles" },
    lines.map((l) => h("li", { dataset: { series: l.p } }, h("span", { class: "swatch " + l.p, "aria-hidden": "true" }),
      l.p + " · latest " + fmtNum(l.points[l.points.length - 1].value))),
    exemplars.length ? h("li", { dataset: { series: "exemplar" } }, h("span", { class: "swatch exemplar", "aria-hidden": "true" }),
      fmtNum(exemplars.length) + (exemplars.length === 1 ? " exemplar" : " exemplars") + " (a dot opens its trace)") : null);
  const noteList = notes.length ? h("p", { class: "muted percentile-notes" }, notes.join(" · ")) : null;
  if (t0 === null || (!lines.length && !exemplars.length)) {
    return [h("div", { class: "panel", id: "metric-percentiles" }, h("p", { class: "muted" }, "No percentiles in this range.")), noteList];
  }
  const values = [...lines.flatMap((l) => l.points.map((pt) => pt.value)), ...exemplars.map((x) => x.value)];
  const box = drawnBox({ class: "panel chart-box percentile-box", id: "metric-percentiles" }, (width) => {
    const chart = plotFrame({
      width, height: 240, t0, t1, yMax: chartTop(Math.max(...values, 0)), yFormat: (v) => fmtNum(v), role: "group",
      title: PERCENTILES.join(", ") + " of " + name + " over time" + (exemplars.length ? ", with its exemplars" : ""),
    });
    for (const l of lines) {
      const g = svgEl("g", { class: "series " + l.p, "data-series": l.p }, svgEl("title", {}, l.p + " of " + name));
      if (l.points.length > 1) {
        g.append(svgEl("polyline", { class: "line", points: l.points.map((pt) => chart.x(pt.time).toFixed(1) + "," + chart.y(pt.value).toFixed(1)).join(" ") }));
      }
      for (const pt of l.points) {
        g.append(svgEl("circle", { cx: chart.x(pt.time).toFixed(1), cy: chart.y(pt.value).toFixed(1), r: l.points.length > 1 ? 2.5 : 4, "data-time": new Date(pt.time).toISOString(), "data-value": pt.value },
          svgEl("title", {}, l.p + " · " + new Date(pt.time).toLocaleString() + " · " + fmtNum(pt.value))));
      }
      chart.svg.append(g);
    }
    const links = exemplars.sort((a, b) => a.time - b.time).map((x) => {
      const label = "exemplar " + fmtNum(x.value) + " · " + new Date(x.time).toLocaleString() + (x.trace_id ? " · trace " + x.trace_id : " · no trace");
      const dot = svgEl("circle", { cx: chart.x(x.time).toFixed(1), cy: chart.y(x.value).toFixed(1), r: 4.5 });
      return x.trace_id
        ? svgEl("a", { href: "#/traces/" + encodeURIComponent(x.trace_id) + (x.span_id ? query({ span: x.span_id }) : ""), class: "exemplar", "data-trace-id": x.trace_id, "data-span-id": x.span_id || "", "data-value": x.value, "aria-label": label },
          svgEl("title", {}, label), dot)
        : svgEl("g", { class: "exemplar no-trace" }, svgEl("title", {}, label), dot);
    });
    chart.svg.append(svgEl("g", { class: "exemplars" }, links));
    rovingLinks(chart.svg, links.filter((a) => a.tagName === "a"));
    return chart.svg;
  });
  return [box, legend, noteList];
}

/** Colour levels of the heatmap's cells (app.css `.heat-1` to `.heat-6`). */
const HEAT_LEVELS = 6;

/** The level (1 to HEAT_LEVELS) of `count` among counts up to `max`, on a log scale: 1
 * for a single point, HEAT_LEVELS for the most; 0 for none. */
function heatLevel(count, max) {
  if (!(count > 0)) return 0;
  if (!(max > 1)) return HEAT_LEVELS;
  const x = Math.log(Math.min(count, max)) / Math.log(max);
  return Math.min(HEAT_LEVELS, 1 + Math.floor(x * HEAT_LEVELS));
}

/** The counts each level covers, up to `max`: [{level, from, to}], levels covering no
 * whole count left out. */
function heatLegend(max) {
  if (!(max >= 1)) return [];
  const out = [];
  for (let level = 1; level <= HEAT_LEVELS; level++) {
    let from = level === 1 ? 1 : Math.ceil(Math.pow(max, (level - 1) / HEAT_LEVELS));
    while (from <= max && heatLevel(from, max) < level) from++;
    while (from > 1 && heatLevel(from - 1, max) === level) from--;
    let to = level === HEAT_LEVELS ? max : Math.ceil(Math.pow(max, level / HEAT_LEVELS));
    while (to >= from && heatLevel(to, max) > level) to--;
    while (to < max && heatLevel(to + 1, max) === level) to++;
    if (from <= to && heatLevel(from, max) === level) out.push({ level, from, to });
  }
  return out;
}

/** A bucket's range as text from the heatmap's upper bounds: "≤ 10", "(10, 25]", "> 500". */
function bucketText(bounds, i) {
  const hi = bounds[i];
  const lo = i > 0 ? bounds[i - 1] : null;
  if (hi === null || hi === undefined) return lo === null ? "any" : "> " + fmtNum(lo);
  return lo === null ? "≤ " + fmtNum(hi) : "(" + fmtNum(lo) + ", " + fmtNum(hi) + "]";
}

/**
 * A heatmap as the API gives it (`{name, step_ms, from, to, bounds, steps: [{time,
 * counts}]}`: the upper bounds of the buckets that hold points, null for +inf), checked:
 * bounds numbers in order with null only last, every step's counts one per bucket
 * (missing ones 0), steps by time; `from` and `to` as milliseconds, NaN when absent.
 * Throws on a shape it cannot draw.
 */
function heatmapData(hm) {
  if (!hm || !Array.isArray(hm.bounds) || !Array.isArray(hm.steps)) throw new Error("the heatmap could not be read");
  const bounds = hm.bounds.slice(0, 500).map((b) => (b === null ? null : Number(b)));
  if (bounds.some((b, i) => (b === null ? i !== bounds.length - 1 : !Number.isFinite(b) || (i > 0 && b < bounds[i - 1])))) {
    throw new Error("the heatmap's bucket bounds could not be read");
  }
  const step = Math.max(Number(hm.step_ms) || 0, 1);
  const steps = hm.steps.slice(0, 5000).map((s) => ({
    time: Date.parse(s && s.time),
    counts: bounds.map((_, i) => {
      const c = Number(((s && s.counts) || [])[i]);
      return Number.isFinite(c) && c > 0 ? c : 0;
    }),
  })).filter((s) => Number.isFinite(s.time)).sort((a, b) => a.time - b.time);
  return { name: hm.name, step, bounds, steps: bounds.length ? steps : [], from: Date.parse(hm.from), to: Date.parse(hm.to) };
}

/** Where value `v` falls on the heatmap's bucket scale: the bucket's index plus how far
 * into it (0 to 1, linearly between its bounds; the middle of the last, unbounded one). */
function bucketPosition(bounds, v) {
  let i = bounds.findIndex((b) => b === null || v <= b);
  if (i < 0) i = bounds.length - 1;
  const hi = bounds[i];
  if (hi === null) return i + 0.5;
  const lo = i > 0 ? bounds[i - 1] : Math.min(0, hi - 1);
  return i + (hi > lo ? Math.min(Math.max((v - lo) / (hi - lo), 0), 1) : 1);
}

/**
 * The heatmap of histogram `name` (GET /api/v1/metrics/{name}/heatmap): the points per
 * step and bucket as cells (time across, buckets up, the colour by count on a log
 * scale), a legend, and the p95 over time drawn over it; the counts as a table too.
 * A server without the endpoint (404) or refusing the request (400) gets a message.
 */
async function heatmapChart(name, params) {
  const base = "/api/v1/metrics/" + encodeURIComponent(name);
  let data;
  try {
    data = heatmapData(await api(base + "/heatmap" + query(params)));
  } catch (e) {
    if (e instanceof AuthError) throw e;
    // A 404 without a message of the API's own: a server older than the endpoint.
    const why = e.status === 404 && /^404\b/.test(String(e.message)) ? "this server does not give histogram heatmaps (no /heatmap endpoint)" : String(e.message || e);
    return h("div", { class: "panel", id: "metric-heatmap", dataset: { state: "unavailable" } }, h("p", { class: "muted heatmap-unavailable" }, "No heatmap: " + why + "."));
  }
  const max = Math.max(0, ...data.steps.flatMap((s) => s.counts));
  if (!data.steps.length || !max) {
    return h("div", { class: "panel", id: "metric-heatmap", dataset: { state: "empty" } }, h("p", { class: "muted" }, "No histogram points in this range."));
  }
  // The p95 of the same steps, drawn over the cells.
  let p95 = [];
  let p95Note = null;
  try {
    const r = await api(base + "/series" + query({ ...params, step: data.step + "ms", agg: "p95" }));
    p95 = (((r.series || [])[0] || {}).points || []).map((pt) => ({ time: Date.parse(pt.time), value: pt.value }))
      .filter((pt) => Number.isFinite(pt.time) && typeof pt.value === "number" && Number.isFinite(pt.value));
  } catch (e) {
    if (e instanceof AuthError) throw e;
    p95Note = "p95: " + (e.message || e);
  }
  const nb = data.bounds.length;
  // The whole range across, as the other charts have it.
  const now = Date.now();
  const t0 = Math.min(data.steps[0].time, Number.isFinite(data.from) ? data.from : now - rangeMs());
  const t1 = Math.max(data.steps[data.steps.length - 1].time + data.step, Number.isFinite(data.to) ? data.to : now);
  const box = drawnBox({ class: "panel chart-box heatmap-box", id: "metric-heatmap", dataset: { state: "drawn" } }, (width) => {
    const m = { left: 86, right: 14, top: 10, bottom: 24 };
    const rowH = Math.max(10, Math.min(28, Math.floor(240 / nb)));
    const ph = nb * rowH;
    const height = m.top + ph + m.bottom;
    const w = Math.max(280, Math.floor(width));
    const pw = w - m.left - m.right;
    const span = Math.max(t1 - t0, 1);
    const x = (t) => m.left + ((t - t0) / span) * pw;
    const yOf = (pos) => m.top + ph - pos * rowH;
    const svg = svgEl("svg", {
      width: w, height, viewBox: "0 0 " + w + " " + height, class: "plot heatmap", role: "img",
      "aria-label": "Heatmap of " + name + ": points per bucket over " + fmtNum(data.steps.length) + " steps of " + fmtStep(data.step)
        + ", at most " + fmtNum(max) + " in a cell" + (p95.length ? ", with its p95" : ""),
    }, svgEl("title", {}, "Heatmap of " + name));
    const grid = svgEl("g", { class: "grid", "aria-hidden": "true" });
    // Each bound at the top of its bucket (none for +inf), every few when they are close.
    const every = Math.max(1, Math.ceil(14 / rowH));
    const labelled = data.bounds[nb - 1] === null ? nb - 1 : nb;
    for (let i = 0; i < labelled; i++) {
      if ((i + 1) % every && i !== labelled - 1) continue;
      grid.append(svgEl("line", { x1: m.left - 4, x2: m.left, y1: yOf(i + 1), y2: yOf(i + 1) }),
        svgEl("text", { x: m.left - 7, y: yOf(i + 1) + 4, "text-anchor": "end", class: "bound" }, fmtNum(data.bounds[i])));
    }
    for (const tick of timeTicks(t0, t1, pw)) {
      const tx = x(tick.t);
      grid.append(svgEl("line", { class: "x-tick", x1: tx, x2: tx, y1: m.top + ph, y2: m.top + ph + 4 }),
        svgEl("text", { x: tx, y: height - 6, "text-anchor": tx < m.left + 30 ? "start" : tx > w - m.right - 30 ? "end" : "middle" }, tick.label));
    }
    grid.append(svgEl("line", { class: "axis-line", x1: m.left, x2: w - m.right, y1: m.top + ph, y2: m.top + ph }),
      svgEl("line", { class: "axis-line", x1: m.left, x2: m.left, y1: m.top, y2: m.top + ph }));
    const cells = svgEl("g", { class: "heat-cells" });
    for (const s of data.steps) {
      const cx = x(s.time);
      const cw = Math.max(x(s.time + data.step) - cx - 1, 1);
      s.counts.forEach((c, i) => {
        if (!c) return;
        cells.append(svgEl("rect", {
          class: "heat-cell heat-" + heatLevel(c, max), x: cx.toFixed(1), y: (yOf(i + 1) + 0.5).toFixed(1), width: cw.toFixed(1), height: Math.max(rowH - 1, 1),
          "data-time": new Date(s.time).toISOString(), "data-bucket": i, "data-count": c,
        }, svgEl("title", {}, new Date(s.time).toLocaleString() + " · " + bucketText(data.bounds, i) + " · " + fmtNum(c) + (c === 1 ? " point" : " points"))));
      });
    }
    svg.append(svgEl("rect", { class: "heat-bg", x: m.left, y: m.top, width: pw, height: ph }), grid, cells);
    if (p95.length) {
      const pts = p95.map((pt) => ({ ...pt, px: x(pt.time + data.step / 2), py: yOf(bucketPosition(data.bounds, pt.value)) }));
      const g = svgEl("g", { class: "series p95", "data-series": "p95" }, svgEl("title", {}, "p95 of " + name));
      if (pts.length > 1) g.append(svgEl("polyline", { class: "line", points: pts.map((p) => p.px.toFixed(1) + "," + p.py.toFixed(1)).join(" ") }));
      for (const p of pts) {
        g.append(svgEl("circle", { cx: p.px.toFixed(1), cy: p.py.toFixed(1), r: 3, "data-time": new Date(p.time).toISOString(), "data-value": p.value },
          svgEl("title", {}, "p95 · " + new Date(p.time).toLocaleString() + " · " + fmtNum(p.value))));
      }
      svg.append(g);
    }
    return svg;
  });
  const legend = h("ul", { class: "series-legend heat-legend", id: "heatmap-legend", "aria-label": "Colours of the heatmap" },
    h("li", { class: "muted" }, "Points per cell (log scale):"),
    heatLegend(max).map((l) => h("li", { dataset: { level: String(l.level) } }, h("span", { class: "swatch heat-" + l.level, "aria-hidden": "true" }),
      l.from === l.to ? fmtNum(l.from) : fmtNum(l.from) + "–" + fmtNum(l.to))),
    p95.length ? h("li", { dataset: { series: "p95" } }, h("span", { class: "swatch p95", "aria-hidden": "true" }), "p95 · latest " + fmtNum(p95[p95.length - 1].value)) : null);
  const filled = data.steps.filter((s) => s.counts.some((c) => c > 0));
  const shown = filled.slice(-200);
  const asTable = h("details", { class: "heatmap-table" },
    h("summary", {}, "The heatmap's counts as a table (" + fmtNum(filled.length) + (filled.length === 1 ? " step" : " steps") + " with points"
      + (shown.length < filled.length ? ", the last " + shown.length + " shown" : "") + ")"),
    table([{ title: "Step", value: (s) => when(new Date(s.time).toISOString()) },
      ...data.bounds.map((_, i) => ({ title: bucketText(data.bounds, i), num: true, value: (s) => fmtNum(s.counts[i]) }))],
    shown, null, { id: "heatmap-counts" }));
  return [box, legend, p95Note ? h("p", { class: "muted percentile-notes" }, p95Note) : null, asTable];
}

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
  const form = filterForm([
    { name: "name", label: "Metric", groups: Object.entries(METRIC_ORIGINS).map(([o, label]) => ({ label, options: names.filter((m) => origin(m) === o).map((m) => m.name) })) },
    { name: "agg", label: "Aggregation", options: ["", "avg", "sum", "min", "max", "count", ...PERCENTILES] },
    { name: "group_by", label: "Group by attribute", placeholder: "service.name" },
    { name: "step", label: "Step", placeholder: "auto", size: 6 },
  ], { ...values, name }, (v) => setHash("#/metrics", v));
  // "/" comes to the metric's choice.
  form.querySelector("select[name=name]").dataset.shortcut = "";
  add(main, form);
  if (name) {
    const params = { ...rangeParams(), agg: values.agg, group_by: values.group_by, step: values.step };
    add(main,
      h("p", { class: "muted", id: "metric-origin", dataset: { origin: info ? origin(info) : "" } },
        info ? [METRIC_ORIGINS[origin(info)], " · ", info.kind, " · ", fmtNum(info.points), " points · last ", when(info.last_time)] : ""),
      chartBox("/api/v1/metrics/" + encodeURIComponent(name) + "/chart.svg" + query(params)));
    if (info && (info.kind === "histogram" || info.kind === "summary")) {
      add(main, ...section("Percentiles over time", h("p", { class: "muted" }, (info.kind === "summary" ? "The quantiles the summary carries" : "From the histogram's buckets")
        + ", all series together" + (values.group_by ? " (not grouped)" : "") + "."),
      await percentileChart(name, info.kind, { ...rangeParams(), step: values.step })));
    }
    if (info && info.kind === "histogram") {
      add(main, ...section("Distribution over time", h("p", { class: "muted" }, "The histogram's points merged per step: a cell per step and bucket, "
        + "darker for more points (log scale), with the p95 over it" + (values.group_by ? "; all series together (not grouped)" : "") + "."),
      await heatmapChart(name, { ...rangeParams(), step: values.step })));
    }
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

// ---------------------------------------------------------------- agent runs, sessions, usage

function runHref(id) {
  return "#/runs/" + encodeURIComponent(id);
}

function sessionHref(id) {
  return "#/sessions/" + encodeURIComponent(id);
}

/** Runs in tree order: each nested run right under its parent (children oldest first),
 * with its depth; a run whose parent is not among them stays where it is, at depth 0. */
function runTree(items) {
  const byId = new Map(items.map((r) => [r.correlation_id, r]));
  const children = new Map();
  const roots = [];
  for (const r of items) {
    const p = r.parent_correlation_id;
    if (p && p !== r.correlation_id && byId.has(p)) {
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(r);
    } else roots.push(r);
  }
  const out = [];
  const seen = new Set();
  const walk = (r, depth) => {
    if (seen.has(r.correlation_id)) return;
    seen.add(r.correlation_id);
    out.push({ run: r, depth });
    const kids = (children.get(r.correlation_id) || []).slice().sort((a, b) => Date.parse(a.start_time) - Date.parse(b.start_time));
    for (const c of kids) walk(c, depth + 1);
  };
  roots.forEach((r) => walk(r, 0));
  // Runs left over (a loop of parents) keep their place.
  for (const r of items) walk(r, 0);
  return out;
}

/** The agent cell of a run: its name linked, nested runs indented and marked, with a
 * link to their parent when it is not listed above them. */
function runAgentCell(r, depth, parentListed) {
  const nested = !!r.parent_correlation_id;
  const cell = h("span", { class: "run-agent" + (nested ? " nested-run" : "") },
    depth > 0 ? h("span", { class: "nest-mark", "aria-hidden": "true" }, "↳ ") : null,
    h("a", { href: runHref(r.correlation_id) }, r.agent_name || r.correlation_id),
    nested ? [" ", h("span", { class: "badge nested", title: "A run inside run " + r.parent_correlation_id }, "nested")] : null,
    nested && !parentListed ? [" ", h("span", { class: "muted" }, "in "), h("a", { href: runHref(r.parent_correlation_id), class: "parent-link" }, h("code", {}, r.parent_correlation_id.slice(0, 8)))] : null);
  if (depth > 0) cell.style.paddingLeft = Math.min(depth, 6) * 1.1 + "em";
  return cell;
}

/** How many LLM calls totals count (0 when there are no totals). */
function llmCalls(t) {
  return t ? Number(t.llm_calls || t.calls || 0) : 0;
}

/** The columns of a list of runs, whose rows are {run, depth} (runTree); `listed` holds
 * the ids of the runs shown (or whose page this is). */
function runColumns(listed) {
  return [
    { title: "Start", value: (x) => when(x.run.start_time) },
    { title: "Agent", value: (x) => runAgentCell(x.run, x.depth, listed.has(x.run.parent_correlation_id)) },
    { title: "Status", value: (x) => badge(x.run.status) },
    { title: "Models", value: (x) => chips(x.run.models || (x.run.totals || {}).models, "models") },
    { title: "Tokens (in / out)", num: true, value: (x) => llmCalls(x.run.totals) ? tokensView(x.run.totals) : h("span", { class: "muted" }, "–") },
    { title: "Cost", num: true, value: (x) => llmCalls(x.run.totals) ? costView(x.run.totals.cost_usd, x.run.totals.unpriced_calls) : h("span", { class: "muted" }, "–") },
    { title: "Scores", value: (x) => scoreChips(x.run.scores) },
    { title: "Session", value: (x) => x.run.session_id ? h("a", { href: sessionHref(x.run.session_id), class: "session-link" }, x.run.session_id) : "" },
    { title: "Duration", num: true, value: (x) => fmtMs(x.run.duration_ms) },
    { title: "Actions", num: true, narrow: true, value: (x) => fmtNum(x.run.action_count) },
    { title: "Error", narrow: true, value: (x) => x.run.error || "" },
  ];
}

/** Runs as a table, nested runs under their parents; a row opens its run. `parent`
 * names the run whose nested runs they are (its page), linked from none of them. */
function runTable(items, id, parent) {
  const tree = runTree(items);
  const listed = new Set(items.map((r) => r.correlation_id));
  if (parent) listed.add(parent);
  return table(runColumns(listed), tree.map((x) => ({
    ...x,
    __attrs: {
      class: "run-row" + (x.run.parent_correlation_id ? " nested" : "") + (x.run.status === "failed" ? " failed" : ""),
      "data-correlation-id": x.run.correlation_id, "data-agent": x.run.agent_name, "data-depth": String(x.depth),
      "data-parent": x.run.parent_correlation_id || "", "data-status": x.run.status,
    },
  })), (x) => { location.hash = runHref(x.run.correlation_id); }, id ? { id } : null);
}

async function runs(main) {
  const values = hashParams();
  add(main, h("h1", {}, "Agent runs"), filterForm([
    { name: "agent", label: "Agent" },
    { name: "status", label: "Status", options: ["", "completed", "failed"] },
    { name: "session", label: "Session" },
    { name: "user", label: "User" },
    { name: "score", label: "Has score", placeholder: "name", size: 10 },
  ], values, (v) => setHash("#/runs", v)));
  await paged(main, "/api/v1/agents/runs", { ...rangeParams(), limit: 50, ...values }, (items) => runTable(items, "run-list"), "No agent runs in this range.");
}

/** Totals of runs, sessions or usage as cards: calls, tokens by kind, cost. */
function totalCards(t, id) {
  return h("div", { class: "cards totals", id: id || null },
    card("LLM calls", fmtNum(t.llm_calls !== undefined ? t.llm_calls : t.calls), { "data-total": "llm_calls" }),
    t.tool_calls !== undefined ? card("Tool calls", fmtNum(t.tool_calls), { "data-total": "tool_calls" }) : null,
    card("Errors", fmtNum(t.errors), { "data-total": "errors" }),
    card("Cost", costView(t.cost_usd, t.unpriced_calls), { "data-total": "cost_usd", class: "value cost-value" },
      t.unpriced_calls ? "without " + fmtNum(t.unpriced_calls) + " unpriced" : null),
    card("Input tokens", fmtNum(t.input_tokens), { "data-total": "input_tokens" }, "cached ones included"),
    card("Output tokens", fmtNum(t.output_tokens), { "data-total": "output_tokens" }, "reasoning included"),
    card("Cache read", fmtNum(t.cache_read_tokens), { "data-total": "cache_read_tokens" }),
    card("Cache write", fmtNum(t.cache_write_tokens), { "data-total": "cache_write_tokens" }),
    card("Reasoning", fmtNum(t.reasoning_tokens), { "data-total": "reasoning_tokens" }));
}

/** An LLM call's model: the one that answered, with the one asked for when it differs. */
function callModel(c) {
  const answered = c.response_model || c.request_model || "";
  return h("span", { class: "call-model" }, h("code", {}, answered || "unknown"),
    c.request_model && c.response_model && c.request_model !== c.response_model ? h("span", { class: "muted" }, " asked " + c.request_model) : null);
}

/** An LLM call's tokens: in and out, then the cached and reasoning parts given. */
function callTokens(c) {
  const extra = [["cache read", c.cache_read_tokens], ["cache write", c.cache_write_tokens], ["reasoning", c.reasoning_tokens]]
    .filter(([, n]) => n !== null && n !== undefined).map(([k, n]) => k + " " + fmtNum(n));
  return [h("span", { class: "tokens" }, tokensText(c.input_tokens, c.output_tokens)),
    extra.length ? h("div", { class: "muted small" }, extra.join(" · ")) : null];
}

/**
 * The LLM calls of a run as rows that open, on a click or Enter, to the call's
 * conversation (callConversation of view.js) and its facts.
 */
function llmCallTable(calls, start) {
  const columns = [
    { title: "Start", value: (c) => [when(c.start_time, true), " ", h("span", { class: "muted" }, "+" + fmtMs(Math.max(preciseMs(c.start_time) - start, 0)))] },
    { title: "Model", value: callModel },
    { title: "Provider", narrow: true, value: (c) => c.provider || "" },
    { title: "Tokens", num: true, value: callTokens },
    { title: "Cost", num: true, value: (c) => c.cost_usd === null || c.cost_usd === undefined
      ? h("span", { class: "badge warn unpriced", title: "The price table does not know this model" }, "unpriced") : costView(c.cost_usd, 0) },
    { title: "Latency", num: true, value: (c) => fmtMs(c.duration_ms) },
    { title: "TTFT", num: true, narrow: true, value: (c) => c.time_to_first_token_ms === null || c.time_to_first_token_ms === undefined ? "–" : fmtMs(c.time_to_first_token_ms) },
    { title: "Finish", narrow: true, value: (c) => [c.is_error ? badge("error") : null, c.is_error ? " " : null, (c.finish_reasons || []).map(String).join(", ")] },
  ];
  const cls = (c) => [c.num ? "num" : "", c.narrow ? "hide-narrow" : ""].filter(Boolean).join(" ") || null;
  const rows = [];
  calls.forEach((c, i) => {
    const cell = h("td", { colspan: columns.length });
    const detailId = "llm-call-detail-" + i;
    const detail = h("tr", { class: "llm-call-detail", id: detailId, hidden: true }, cell);
    const row = h("tr", {
      class: "llm-call-row clickable" + (c.is_error ? " failed" : ""), tabindex: 0, "aria-expanded": "false", "aria-controls": detailId,
      title: "Show the conversation of this call", dataset: { spanId: c.span_id || "", model: c.response_model || c.request_model || "" },
    }, columns.map((col) => h("td", { class: cls(col) }, col.value(c))));
    const toggle = (open) => {
      if (open && !cell.firstChild) {
        cell.append(factList([
          ["Operation", c.operation || ""],
          ["Span", [idView(c.span_id, "span id"), " ", c.trace_id ? h("a", { href: "#/traces/" + c.trace_id }, "in its trace") : null]],
          c.request_model ? ["Asked for", c.request_model] : null,
          c.response_model ? ["Answered by", c.response_model] : null,
          c.finish_reasons && c.finish_reasons.length ? ["Finish reasons", c.finish_reasons.map(String).join(", ")] : null,
        ]), callConversation(c.messages));
      }
      detail.hidden = !open;
      row.setAttribute("aria-expanded", String(open));
    };
    row.addEventListener("click", (e) => {
      if (e.target.closest("a, button, summary") || String(window.getSelection() || "")) return;
      toggle(detail.hidden);
    });
    row.addEventListener("keydown", (e) => {
      if (e.target === row && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); toggle(detail.hidden); }
    });
    rows.push(row, detail);
  });
  return h("div", { class: "table-wrap" }, h("table", { class: "llm-calls", id: "llm-calls" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: cls(c), scope: "col" }, c.title)))),
    h("tbody", {}, rows)));
}

/** Scores as a table: name, value, type, source, what they score, comment, time. */
function scoreTable(scores, id) {
  if (!scores || !scores.length) return h("p", { class: "muted", id: id || null }, "No scores.");
  return table([
    { title: "Score", value: (s) => s.name },
    { title: "Value", num: true, value: (s) => scoreValue(s) },
    { title: "Type", value: (s) => s.data_type || "" },
    { title: "Source", value: (s) => s.source || "" },
    { title: "Target", value: (s) => s.target ? [s.target.kind, " ", h("code", { title: String(s.target.id || "") }, String(s.target.id || "").slice(0, 16))] : "" },
    { title: "Comment", narrow: true, value: (s) => s.comment ? longText(s.comment, false) : "" },
    { title: "Time", narrow: true, value: (s) => when(s.time) },
  ], scores.map((s) => ({ ...s, __attrs: { class: "score-row", "data-score": s.name } })), null, id ? { id } : null);
}

async function run(main, id) {
  const r = await api("/api/v1/agents/runs/" + encodeURIComponent(id));
  const start = preciseMs(r.start_time);
  const span = Math.max(preciseMs(r.end_time) - start, 1);
  const calls = r.llm_calls || [];
  const totals = r.totals || {};
  // LLM calls as bars on the top lane, tool calls as bars on the middle one; decisions,
  // errors and successes as marks on the bottom one.
  const at = (t) => Math.min(Math.max((t - start) / span * 100, 0), 100);
  const llmMarks = calls.map((c) => {
    const t = preciseMs(c.start_time);
    const mark = h("div", { class: "tl-llm" + (c.is_error ? " failed" : ""), title: "LLM call: " + (c.response_model || c.request_model || "") + " (" + fmtMs(c.duration_ms) + ")" });
    mark.style.left = at(t) + "%";
    mark.style.width = Math.max(at(t + (c.duration_ms || 0)) - at(t), 0.6) + "%";
    return mark;
  });
  const timeline = h("div", { class: "timeline" + (calls.length ? " with-llm" : ""), id: "run-timeline", role: "img", "aria-label": "LLM calls and actions over the run" },
    llmMarks,
    r.actions.map((a) => {
      const t = preciseMs(a.time);
      const mark = h("div", { class: "tl-mark " + a.action_type + (a.action_type === "tool_call" ? " tl-call" : "") + (a.is_error ? " failed" : ""),
        title: a.action_type.replace("_", " ") + ": " + a.name + (a.duration_ms ? " (" + fmtMs(a.duration_ms) + ")" : ""), dataset: { actionType: a.action_type } });
      mark.style.left = at(t) + "%";
      if (a.action_type === "tool_call") mark.style.width = Math.max(at(t + a.duration_ms) - at(t), 0.6) + "%";
      return mark;
    }));
  const counts = {};
  for (const a of r.actions) counts[a.action_type] = (counts[a.action_type] || 0) + 1;
  const nested = r.nested_runs || [];
  add(main,
    h("h1", {}, "Run of ", r.agent_name, r.parent_correlation_id ? [" ", h("span", { class: "badge nested" }, "nested")] : null),
    r.parent_correlation_id ? h("p", { id: "parent-run" }, "A run inside ", h("a", { href: runHref(r.parent_correlation_id), class: "parent-link" }, "its parent run ", h("code", {}, r.parent_correlation_id))) : null,
    h("div", { class: "cards" },
      card("Status", badge(r.status)), card("Quality score", r.quality_score === null ? "–" : r.quality_score.toFixed(2), { id: "quality-score" }),
      card("Duration", fmtMs(r.duration_ms)), card("Actions", String(r.actions.length)),
      card("Decisions", String(counts.decision || 0)), card("Successes", String(counts.success || 0))),
    r.error ? h("p", { class: "error" }, r.error) : null,
    ...section("Totals", h("p", { class: "muted" }, nested.length ? "This run and its nested runs." : "This run's LLM calls and tool calls."),
      totalCards(totals, "run-totals"),
      h("p", { class: "models-line" }, h("span", { class: "muted" }, "Models "), chips(r.models || totals.models, "models"))),
    ...section("Timeline", h("div", { class: "legend" },
      calls.length ? h("span", { class: "llm_call" }, "LLM call") : null,
      ["tool_call", "decision", "error", "success"].map((t) => h("span", { class: t }, t.replace("_", " ")))), timeline),
    h("p", { class: "muted" }, "correlation id ", idView(r.correlation_id, "correlation id"), r.trace_id ? [" · ", h("a", { href: "#/traces/" + r.trace_id }, "trace")] : "",
      r.session_id ? [" · session ", h("a", { href: sessionHref(r.session_id), class: "session-link" }, r.session_id)] : "",
      r.user_id ? [" · user ", h("code", {}, r.user_id)] : "",
      " · started ", when(r.start_time)),
    nested.length ? section("Nested runs", runTable(nested, "nested-runs", r.correlation_id)) : null,
    ...section("LLM calls", calls.length
      ? [h("p", { class: "muted" }, "Open a call to read its conversation."), llmCallTable(calls, start)]
      : h("p", { class: "muted", id: "llm-calls" }, "No LLM calls in this run.")),
    ...section("Actions", r.actions.length ? table([
      { title: "Time", value: (a) => [when(a.time, true), " ", h("span", { class: "muted" }, "+" + fmtMs(Math.max(preciseMs(a.time) - start, 0)))] },
      { title: "Type", value: (a) => badge(a.action_type) },
      { title: "Name", value: (a) => a.name },
      { title: "Duration", num: true, value: (a) => a.duration_ms ? fmtMs(a.duration_ms) : "" },
      { title: "Details", narrow: true, value: (a) => Object.keys(a.attributes || {}).length
        ? folded(preview(a.attributes, 90), kvTable(a.attributes)) : h("span", { class: "muted" }, "none") },
    ], r.actions.map((a) => ({ ...a, __attrs: { class: a.is_error ? "action-row failed" : "action-row", "data-action-type": a.action_type } }))) : h("p", { class: "muted" }, "No actions.")),
    ...section("Scores", scoreTable(r.scores, "run-scores")),
    r.attributes && Object.keys(r.attributes).length
      ? h("details", { class: "panel run-attributes" }, h("summary", {}, "Attributes of the run (" + Object.keys(r.attributes).length + ")"), kvTable(r.attributes))
      : null,
  );
}

async function sessions(main) {
  const values = hashParams();
  add(main, h("h1", {}, "Sessions"),
    h("p", { class: "muted" }, "Conversations (gen_ai.conversation.id, session.id): their runs and LLM calls, newest first."),
    filterForm([{ name: "user", label: "User" }], values, (v) => setHash("#/sessions", v)));
  const page = await api("/api/v1/sessions" + query({ ...rangeParams(), limit: 200, ...values }));
  if (!page.items.length) return add(main, h("p", { class: "muted" }, "No sessions in this range."));
  add(main, table([
    { title: "Session", value: (s) => h("a", { href: sessionHref(s.session_id), class: "session-link" }, s.session_id) },
    { title: "Last activity", value: (s) => when(s.last_time) },
    { title: "Runs", num: true, value: (s) => fmtNum(s.runs) },
    { title: "Traces", num: true, value: (s) => fmtNum(s.traces) },
    { title: "Users", value: (s) => chips(s.users) },
    { title: "Models", value: (s) => chips((s.totals || {}).models, "models") },
    { title: "Tokens (in / out)", num: true, value: (s) => tokensView(s.totals) },
    { title: "Cost", num: true, value: (s) => s.totals ? costView(s.totals.cost_usd, s.totals.unpriced_calls) : "–" },
    { title: "First activity", narrow: true, value: (s) => when(s.first_time) },
  ], page.items.map((s) => ({ ...s, __attrs: { class: "session-row", "data-session": s.session_id } })),
  (s) => { location.hash = sessionHref(s.session_id); }, { id: "session-list" }),
  page.truncated ? h("p", { class: "muted" }, "More sessions than shown: narrow the range or the user.") : null);
}

async function session(main, id) {
  const s = await api("/api/v1/sessions/" + encodeURIComponent(id));
  const turns = s.turns || [];
  const totals = s.totals || {};
  const href = (t) => (t.kind === "run" ? runHref(t.correlation_id) : "#/traces/" + t.trace_id);
  add(main,
    h("h1", {}, "Session ", h("code", {}, s.session_id), " ", copyButton(s.session_id, "session id")),
    h("p", { class: "muted" }, fmtNum(turns.length) + (turns.length === 1 ? " turn" : " turns"),
      turns.length ? [" · from ", when(turns[0].start_time), " to ", when(turns[turns.length - 1].end_time || turns[turns.length - 1].start_time)] : null,
      " · ", h("a", { href: "#/runs" + query({ session: s.session_id }) }, "its runs in the list")),
    ...section("Totals", totalCards(totals, "session-totals"),
      h("p", { class: "models-line" }, h("span", { class: "muted" }, "Models "), chips(totals.models, "models"))),
    ...section("Turns", turns.length ? table([
      { title: "#", num: true, value: (t) => String(t.__index + 1) },
      { title: "Start", value: (t) => when(t.start_time, true) },
      { title: "Turn", value: (t) => t.kind === "run"
        ? [badge("run", "turn-run"), " ", h("a", { href: href(t) }, t.agent_name || t.correlation_id)]
        : [badge("LLM calls", "turn-trace"), " ", h("a", { href: href(t) }, "trace ", h("code", {}, String(t.trace_id).slice(0, 8)))] },
      { title: "Status", value: (t) => t.status ? badge(t.status) : (t.totals && t.totals.errors ? badge("error") : "") },
      { title: "Models", value: (t) => chips((t.totals || {}).models, "models") },
      { title: "LLM calls", num: true, value: (t) => fmtNum((t.totals || {}).llm_calls) },
      { title: "Tokens (in / out)", num: true, value: (t) => tokensView(t.totals) },
      { title: "Cost", num: true, value: (t) => t.totals ? costView(t.totals.cost_usd, t.totals.unpriced_calls) : "–" },
    ], turns.map((t, i) => ({ ...t, __index: i, __attrs: { class: "turn-row " + t.kind + (t.status === "failed" ? " failed" : ""), "data-kind": t.kind, "data-correlation-id": t.correlation_id || "", "data-trace-id": t.trace_id || "" } })),
    (t) => { location.hash = href(t); }, { id: "session-turns" }) : h("p", { class: "muted" }, "No turns.")),
    ...section("Scores", scoreTable(s.scores, "session-scores")),
  );
}

/** Colours of the usage charts' series, in order. */
const SERIES_COLORS = ["#2f6fdf", "#1a9c6b", "#d08700", "#7b57c9", "#d32f2f", "#0e9bb0", "#c2417f", "#6b8e23", "#8a6d5a"];
/** Series drawn at most; the rest are added up as one. */
const MAX_SERIES = 8;
/** What the usage page can group by: the API's group_by, as the page names it. */
const USAGE_GROUPS = { model: "model", provider: "provider", agent: "agent", session: "session", user: "user" };

/** A group's name as shown: the empty group named for what it lacks. */
function groupLabel(group, by) {
  return group === null || group === undefined || group === "" ? "(no " + by + ")" : String(group);
}

/**
 * The usage's groups as series over the steps from `from` to `to`: every step present
 * (zero where nothing was called), the busiest MAX_SERIES groups by cost then calls, the
 * others added up as one.
 */
function usageSeries(u, by) {
  const from = Date.parse(u.from);
  const to = Date.parse(u.to);
  const step = Math.max(Number(u.step_ms) || 60000, 1);
  const count = Math.min(Math.max(Math.ceil((to - from) / step), 1), 2000);
  const times = Array.from({ length: count }, (_, i) => from + i * step);
  const groups = (u.groups || []).slice().sort((a, b) => (b.totals.cost_usd - a.totals.cost_usd) || (b.totals.calls - a.totals.calls));
  const values = (g) => {
    const cost = new Array(count).fill(0);
    const tokens = new Array(count).fill(0);
    for (const p of g.points || []) {
      const i = Math.floor((Date.parse(p.time) - from) / step);
      if (!(i >= 0 && i < count)) continue;
      cost[i] += p.cost_usd || 0;
      tokens[i] += (p.input_tokens || 0) + (p.output_tokens || 0);
    }
    return { cost, tokens };
  };
  const series = groups.slice(0, MAX_SERIES).map((g, i) => ({ key: g.group === null ? "" : String(g.group), label: groupLabel(g.group, by), color: SERIES_COLORS[i % SERIES_COLORS.length], ...values(g) }));
  const rest = groups.slice(MAX_SERIES);
  if (rest.length) {
    const sum = { cost: new Array(count).fill(0), tokens: new Array(count).fill(0) };
    for (const g of rest) {
      const v = values(g);
      for (let i = 0; i < count; i++) { sum.cost[i] += v.cost[i]; sum.tokens[i] += v.tokens[i]; }
    }
    series.push({ key: "__other", label: rest.length + " other " + by + "s", color: "#9ca3af", ...sum });
  }
  return { times, step, series };
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element: svgEl("rect", {x: 1}, child, "text"); text only ever as text nodes. */
function svgEl(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** The smallest 1, 2 or 5 times a power of ten at or above `v`. */
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A time on a chart's axis: the hour, with the day when the range spans days. */
function axisTime(t, days) {
  const d = new Date(t);
  return days
    ? d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " " + d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/**
 * Series stacked as bars per step, drawn as SVG from the data (no markup): a bar per
 * series and step, with its value in its tooltip, each series a `g.series` named by
 * `data-series`.
 */
function stackedBars(o) {
  const width = Math.max(280, Math.floor(o.width));
  const height = o.height || 220;
  const m = { left: 70, right: 12, top: 12, bottom: 26 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const n = o.times.length;
  const stacks = o.times.map((_, i) => o.series.reduce((sum, x) => sum + (x[o.field][i] || 0), 0));
  const top = niceCeil(Math.max(...stacks, 0));
  const y = (v) => m.top + ph - (v / top) * ph;
  const bw = pw / n;
  const gap = bw > 6 ? Math.min(bw * 0.15, 4) : 0;
  const days = o.times[n - 1] - o.times[0] > 36 * 3600 * 1000;
  const svg = svgEl("svg", { width, height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": o.title, class: "usage-chart" },
    svgEl("title", {}, o.title));
  const grid = svgEl("g", { class: "grid" });
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    grid.append(svgEl("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v), stroke: "#e5e7eb" }),
      svgEl("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7280" }, o.format(v)));
  }
  const ticks = Math.min(n, Math.max(2, Math.floor(pw / 110)));
  for (let k = 0; k < ticks; k++) {
    const i = Math.round((k * (n - 1)) / Math.max(ticks - 1, 1));
    grid.append(svgEl("text", { x: m.left + (i + 0.5) * bw, y: height - 8, "text-anchor": "middle", "font-size": 11, fill: "#6b7280" }, axisTime(o.times[i], days)));
  }
  svg.append(grid);
  const base = new Array(n).fill(0);
  for (const x of o.series) {
    const g = svgEl("g", { class: "series", "data-series": x.key, fill: x.color }, svgEl("title", {}, x.label));
    for (let i = 0; i < n; i++) {
      const v = x[o.field][i] || 0;
      if (!v) continue;
      const y0 = y(base[i]);
      const y1 = y(base[i] + v);
      base[i] += v;
      g.append(svgEl("rect", { x: m.left + i * bw + gap / 2, y: y1, width: Math.max(bw - gap, 1), height: Math.max(y0 - y1, 1), "data-time": new Date(o.times[i]).toISOString() },
        svgEl("title", {}, x.label + " · " + axisTime(o.times[i], true) + " · " + o.format(v))));
    }
    svg.append(g);
  }
  svg.append(svgEl("line", { x1: m.left, x2: width - m.right, y1: m.top + ph, y2: m.top + ph, stroke: "#9ca3af" }));
  return svg;
}

/** The series' names with their colours. */
function seriesLegend(series) {
  return h("ul", { class: "series-legend", "aria-label": "Series" }, series.map((x) => {
    const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = x.color;
    return h("li", { dataset: { series: x.key } }, swatch, x.label);
  }));
}

async function usage(main) {
  const values = hashParams();
  const by = USAGE_GROUPS[values.group_by] ? values.group_by : "model";
  add(main, h("h1", {}, "Usage"),
    h("p", { class: "muted" }, "LLM calls: their cost, tokens, errors and latency, grouped by what you choose."),
    filterForm([
      { name: "group_by", label: "Group by", options: Object.keys(USAGE_GROUPS) },
      { name: "step", label: "Step", placeholder: "auto", size: 6 },
    ], { ...values, group_by: by }, (v) => setHash("#/usage", v), null, "Show"));
  const u = await api("/api/v1/genai/usage" + query({ ...rangeParams(), group_by: by, step: values.step }));
  const groups = u.groups || [];
  const sum = (k) => groups.reduce((a, g) => a + (g.totals[k] || 0), 0);
  const all = {
    calls: sum("calls"), errors: sum("errors"), cost_usd: sum("cost_usd"), unpriced_calls: sum("unpriced_calls"),
    input_tokens: sum("input_tokens"), output_tokens: sum("output_tokens"), cache_read_tokens: sum("cache_read_tokens"),
    cache_write_tokens: sum("cache_write_tokens"), reasoning_tokens: sum("reasoning_tokens"),
  };
  add(main, h("p", { class: "muted", id: "usage-range" }, "From ", when(u.from), " to ", when(u.to), " in steps of " + fmtStep(u.step_ms)),
    totalCards(all, "usage-totals-cards"));
  if (!groups.length) return add(main, h("p", { class: "muted", id: "usage-empty" }, "No LLM calls in this range."));
  const { times, series } = usageSeries(u, by);
  const costBox = h("div", { class: "panel chart-box usage-box", id: "usage-cost" });
  const tokenBox = h("div", { class: "panel chart-box usage-box", id: "usage-tokens" });
  add(main,
    h("h2", {}, "Cost over time by " + by), costBox,
    h("h2", {}, "Tokens over time by " + by, h("span", { class: "muted small" }, " (input and output)")), tokenBox,
    seriesLegend(series));
  // Drawn at the boxes' width, now that they are laid out.
  const width = Math.min(4000, costBox.clientWidth - 26);
  costBox.append(stackedBars({ width, times, series, field: "cost", title: "Cost (USD) over time by " + by, format: fmtUsd }));
  tokenBox.append(stackedBars({ width, times, series, field: "tokens", title: "Tokens over time by " + by, format: (v) => fmtNum(v) }));
  const color = new Map(series.map((x) => [x.key, x.color]));
  add(main, ...section("Totals by " + by, table([
    { title: USAGE_GROUPS[by][0].toUpperCase() + USAGE_GROUPS[by].slice(1), value: (g) => {
      const key = g.group === null ? "" : String(g.group);
      const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = color.get(key) || "#9ca3af";
      return [swatch, groupLabel(g.group, by)];
    } },
    { title: "Calls", num: true, value: (g) => fmtNum(g.totals.calls) },
    { title: "Errors", num: true, value: (g) => fmtNum(g.totals.errors) },
    { title: "Input", num: true, value: (g) => fmtNum(g.totals.input_tokens) },
    { title: "Output", num: true, value: (g) => fmtNum(g.totals.output_tokens) },
    { title: "Cache read", num: true, narrow: true, value: (g) => fmtNum(g.totals.cache_read_tokens) },
    { title: "Cache write", num: true, narrow: true, value: (g) => fmtNum(g.totals.cache_write_tokens) },
    { title: "Reasoning", num: true, narrow: true, value: (g) => fmtNum(g.totals.reasoning_tokens) },
    { title: "Cost", num: true, value: (g) => costView(g.totals.cost_usd, g.totals.unpriced_calls) },
    { title: "p50", num: true, value: (g) => fmtMs((g.totals.latency_ms || {}).p50) },
    { title: "p95", num: true, value: (g) => fmtMs((g.totals.latency_ms || {}).p95) },
    { title: "p99", num: true, narrow: true, value: (g) => fmtMs((g.totals.latency_ms || {}).p99) },
  ], groups.slice().sort((a, b) => (b.totals.cost_usd - a.totals.cost_usd) || (b.totals.calls - a.totals.calls))
    .map((g) => ({ ...g, __attrs: { class: "usage-row", "data-group": g.group === null ? "" : String(g.group) } })), null, { id: "usage-table" })));
}

/** The colours (app.css `svc-N`) given to probe targets, in order: green and red, the
 * colours of up and down, come last. */
const TARGET_COLOURS = [0, 4, 1, 6, 5, 3, 7, 2];

/** A probe target's colour (app.css `svc-0` to `svc-7`, as the waterfall's services):
 * by its place among the targets' names in order, so it stays the same across states. */
function targetColours(names) {
  return new Map(names.slice().sort((a, b) => a.localeCompare(b)).map((n, i) => [n, TARGET_COLOURS[i % TARGET_COLOURS.length]]));
}

/** The series of a grouped read (`group_by=target`) by target: name to [{time, value}]. */
function seriesByTarget(r) {
  const out = new Map();
  for (const s of (r && r.series) || []) {
    const name = s.group && s.group.target !== undefined && s.group.target !== null ? String(s.group.target) : "";
    const points = (s.points || []).map((pt) => ({ time: Date.parse(pt.time), value: pt.value }))
      .filter((pt) => Number.isFinite(pt.time) && typeof pt.value === "number" && Number.isFinite(pt.value)).sort((a, b) => a.time - b.time);
    out.set(name, (out.get(name) || []).concat(points));
  }
  return out;
}

/** A step's state from its share of probes up (avg of `up`): up, down, or flapping between. */
function upState(v) {
  return v >= 0.999 ? "up" : v <= 0.001 ? "down" : "flapping";
}

/**
 * Since when a target has been in its last state (up, or not up), from its steps of `up`
 * over a range from `t0` in steps of `step` (ms): the start of the last run of like
 * steps; `whole` when that run covers the range from its first step, `first` when it
 * starts at the target's first probe of the range (later than the range's start).
 */
function stateSince(points, t0, step) {
  if (!points.length) return null;
  const isUp = (p) => upState(p.value) === "up";
  const last = isUp(points[points.length - 1]);
  let i = points.length - 1;
  while (i > 0 && isUp(points[i - 1]) === last) i--;
  const whole = i === 0 && points[0].time <= t0 + step;
  return { time: points[i].time, whole, first: i === 0 && !whole };
}

/**
 * Each probe target's `up` as its own lane (no target drawn over another): a cell per
 * step, green where every probe of the step found it up, red where none did, amber in
 * between; the target's name and colour at the lane's start.
 */
function upLanes(o) {
  const width = Math.max(280, Math.floor(o.width));
  const m = { left: 150, right: 14, top: 6, bottom: 24 };
  const laneH = 22;
  const ph = o.targets.length * laneH;
  const height = m.top + ph + m.bottom;
  const pw = width - m.left - m.right;
  const span = Math.max(o.t1 - o.t0, 1);
  const x = (t) => m.left + ((Math.min(Math.max(t, o.t0), o.t1) - o.t0) / span) * pw;
  const svg = svgEl("svg", { width, height, viewBox: "0 0 " + width + " " + height, class: "plot up-lanes", role: "img",
    "aria-label": "Up or down over time, a lane per target: " + o.targets.map((t) => t.name).join(", ") }, svgEl("title", {}, "Up or down over time, a lane per target"));
  const grid = svgEl("g", { class: "grid", "aria-hidden": "true" });
  for (const tick of timeTicks(o.t0, o.t1, pw)) {
    const tx = x(tick.t);
    grid.append(svgEl("line", { class: "x-tick", x1: tx, x2: tx, y1: m.top, y2: m.top + ph + 4 }),
      svgEl("text", { x: tx, y: height - 6, "text-anchor": tx < m.left + 30 ? "start" : tx > width - m.right - 30 ? "end" : "middle" }, tick.label));
  }
  svg.append(grid);
  o.targets.forEach((t, k) => {
    const y = m.top + k * laneH;
    const lane = svgEl("g", { class: "lane", "data-target": t.name, "data-series": t.name }, svgEl("title", {}, t.name),
      svgEl("rect", { class: "lane-bg", x: m.left, y: y + 2, width: pw, height: laneH - 4, rx: 2 }),
      svgEl("rect", { class: "lane-swatch svc-" + t.colour, x: 4, y: y + 6, width: 10, height: 10, rx: 2 }),
      svgEl("text", { class: "lane-name", x: 20, y: y + 15 }, shortName(t.name, 20)));
    for (const p of t.points) {
      const state = upState(p.value);
      const cx = x(p.time);
      lane.append(svgEl("rect", {
        class: "cell " + state, x: cx.toFixed(1), y: y + 3, width: Math.max(x(p.time + o.step) - cx - 0.5, 1).toFixed(1), height: laneH - 6,
        "data-time": new Date(p.time).toISOString(), "data-value": p.value,
      }, svgEl("title", {}, t.name + " · " + new Date(p.time).toLocaleString() + " · " + (state === "flapping" ? "up in " + pct(p.value) + " of the probes" : state))));
    }
    svg.append(lane);
  });
  return svg;
}

/** Lines of the targets' latency over time, each target its own colour. */
function latencyLines(o) {
  const values = o.targets.flatMap((t) => t.points.map((p) => p.value));
  const chart = plotFrame({
    width: o.width, height: 220, t0: o.t0, t1: o.t1, yMax: chartTop(Math.max(...values, 0)), yFormat: (v) => (v === 0 ? "0" : fmtMs(v)), role: "img",
    class: "latency-lines", title: "Probe latency over time, a line per target: " + o.targets.map((t) => t.name).join(", "),
  });
  for (const t of o.targets) {
    const g = svgEl("g", { class: "series svc-" + t.colour, "data-series": t.name, "data-target": t.name }, svgEl("title", {}, t.name));
    if (t.points.length > 1) g.append(svgEl("polyline", { class: "line", points: t.points.map((p) => chart.x(p.time).toFixed(1) + "," + chart.y(p.value).toFixed(1)).join(" ") }));
    for (const p of t.points) {
      g.append(svgEl("circle", { cx: chart.x(p.time).toFixed(1), cy: chart.y(p.value).toFixed(1), r: t.points.length > 1 ? 2 : 3.5, "data-time": new Date(p.time).toISOString(), "data-value": p.value },
        svgEl("title", {}, t.name + " · " + new Date(p.time).toLocaleString() + " · " + fmtMs(p.value))));
    }
    chart.svg.append(g);
  }
  return chart.svg;
}

/** The targets' names with their colours, as the lanes and lines show them. */
function targetLegend(names, colours, id) {
  return h("ul", { class: "series-legend", id, "aria-label": "Targets" }, names.map((n) => h("li", { dataset: { series: n } },
    h("span", { class: "swatch svc-" + colours.get(n), "aria-hidden": "true" }), n)));
}

/** A read of a probe metric grouped by target, or its error (a refused token thrown). */
async function targetSeries(metric, agg) {
  try {
    return await api("/api/v1/metrics/" + metric + "/series" + query({ ...rangeParams(), group_by: "target", agg }));
  } catch (e) {
    if (e instanceof AuthError) throw e;
    return { error: e };
  }
}

async function health(main) {
  const [probes, alerts] = await Promise.all([api("/api/v1/probes"), api("/api/v1/alerts")]);
  add(main, h("h1", {}, "Infrastructure health"),
    h("div", { class: "cards" }, card("Targets", String(probes.total)), card("Up", String(probes.up)),
      card("Down or blocked", String(probes.total - probes.up), { id: "probes-down" })));
  if (!probes.total) {
    add(main, h("p", { class: "muted" }, "No probes configured: start the server with --probe URL (postgres://, redis://, http://, …) or [[probe]] tables."));
  } else {
    const [up, latency] = await Promise.all([targetSeries("up", "avg"), targetSeries("probe_latency_ms", "avg")]);
    const upBy = up.error ? new Map() : seriesByTarget(up);
    const latencyBy = latency.error ? new Map() : seriesByTarget(latency);
    // Every target listed, and any other the range still holds points of.
    const names = [...new Set([...probes.items.map((p) => p.name), ...upBy.keys()])];
    const colours = targetColours(names);
    const t0 = up.error ? Date.now() - 3600000 : Date.parse(up.from);
    const t1 = up.error ? Date.now() : Date.parse(up.to);
    const step = up.error ? 60000 : Math.max(Number(up.step_seconds) * 1000 || 60000, 1);
    const since = new Map(names.map((n) => [n, stateSince(upBy.get(n) || [], t0, step)]));
    const rangeName = document.getElementById("range").selectedOptions[0].textContent;
    add(main, ...section("Targets", table([
      { title: "Target", value: (p) => [h("span", { class: "swatch svc-" + colours.get(p.name), "aria-hidden": "true" }), p.name] },
      { title: "State", value: (p) => badge(p.state) },
      { title: "Since", value: (p) => {
        const s = since.get(p.name);
        if (!s) return h("span", { class: "muted" }, "–");
        if (s.whole) return h("span", { class: "muted", title: "Since " + new Date(s.time).toISOString() + " at least" }, "all of the last " + rangeName);
        return [when(new Date(s.time).toISOString()), s.first ? h("span", { class: "muted", title: "Its first probe in this range" }, " (first probe)") : null];
      } },
      { title: "Latency", num: true, value: (p) => fmtMs(p.latency_ms) },
      { title: "Reason", value: (p) => p.reason || "" },
      { title: "Depends on", value: (p) => p.depends_on.join(", ") },
      { title: "URL", narrow: true, value: (p) => p.url },
    ], probes.items.map((p) => ({ ...p, __attrs: { class: "probe-row", "data-state": p.state, "data-target": p.name } })))),
    ...section("Dependencies", chartBox("/api/v1/probes/graph.svg")));
    const targets = names.map((n) => ({ name: n, colour: colours.get(n), points: upBy.get(n) || [] }));
    add(main, h("h2", {}, "Up or down over time", h("span", { class: "muted small" }, " (a lane per target)")),
      up.error ? h("div", { class: "panel", id: "up-lanes" }, errorText(up.error))
        : drawnBox({ class: "panel chart-box", id: "up-lanes" }, (width) => upLanes({ width, targets, t0, t1, step })),
      h("ul", { class: "series-legend lane-legend", "aria-label": "States" },
        ["up", "flapping", "down"].map((st) => h("li", { dataset: { state: st } }, h("span", { class: "swatch state-" + st, "aria-hidden": "true" }),
          st === "up" ? "up" : st === "down" ? "down or blocked" : "up in some probes of the step"))));
    const withLatency = names.filter((n) => (latencyBy.get(n) || []).length);
    add(main, h("h2", {}, "Probe latency", h("span", { class: "muted small" }, " (a line per target)")),
      latency.error ? h("div", { class: "panel", id: "latency-lines" }, errorText(latency.error))
        : withLatency.length
          ? drawnBox({ class: "panel chart-box", id: "latency-lines" }, (width) => latencyLines({
            width, t0: Date.parse(latency.from), t1: Date.parse(latency.to),
            targets: withLatency.map((n) => ({ name: n, colour: colours.get(n), points: latencyBy.get(n) })),
          }))
          : h("div", { class: "panel", id: "latency-lines" }, h("p", { class: "muted" }, "No target answered in this range.")),
      withLatency.length ? targetLegend(withLatency, colours, "latency-legend") : null);
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
  if (r.probes && Array.isArray(r.probes.targets) && r.probes.targets.length) {
    const colours = targetColours(r.probes.targets.map((t) => String(t.name)));
    add(main, ...section("Probes", h("p", { class: "muted" }, "Each target as this snapshot found it; ", h("a", { href: "#/health" }, "Health"), " draws them over time."),
      table([
        { title: "Target", value: (t) => [h("span", { class: "swatch svc-" + colours.get(String(t.name)), "aria-hidden": "true" }), String(t.name)] },
        { title: "State", value: (t) => badge(String(t.state)) },
        { title: "Latency", num: true, value: (t) => fmtMs(t.latency_ms) },
      ], r.probes.targets.map((t) => ({ ...t, __attrs: { class: "fleet-probe-row", "data-target": String(t.name), "data-state": String(t.state) } })))));
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
  overview, traces, metrics, runs, sessions, usage, health, fleet,
  "service-map": serviceMap,
  logs: (m) => logs(m, false),
  events: (m) => logs(m, true),
};

async function route() {
  stopPage();
  stopPage = () => {};
  const main = document.getElementById("main");
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  const [page, id] = [path.split("/")[0] || "overview", path.split("/").slice(1).join("/")];
  for (const a of document.querySelectorAll("#nav a[data-page]")) a.classList.toggle("active", a.dataset.page === page || ((page === "trace" || page === "service-map") && a.dataset.page === "traces"));
  main.replaceChildren();
  delete main.dataset.ready;
  main.dataset.page = page;
  main.setAttribute("aria-busy", "true");
  try {
    if (page === "traces" && id) await trace(main, decodeURIComponent(id));
    else if (page === "runs" && id) await run(main, decodeURIComponent(id));
    else if (page === "sessions" && id) await session(main, decodeURIComponent(id));
    else await (PAGES[page] || overview)(main);
  } catch (e) {
    if (e instanceof AuthError) {
      login(main, token() ? "That token was refused. Enter a token with the read scope." : "This server requires an access token with the read scope.");
    } else {
      add(main, errorText(e));
    }
  } finally {
    const box = filterBox();
    if (box) {
      box.setAttribute("aria-keyshortcuts", "/");
      if (!box.title) box.title = "Press / to come here";
    }
    main.setAttribute("aria-busy", "false");
    main.dataset.ready = "true";
  }
}

/** The page's filter box, which "/" focuses: the field marked for it (`data-shortcut`),
 * else the filters' first text field, else their first choice. */
function filterBox() {
  const form = document.querySelector("#main form.filters");
  if (!form) return null;
  return form.querySelector("[data-shortcut]") || form.querySelector("input:not([type=hidden]):not([type=checkbox])") || form.querySelector("select");
}

/** "/" focuses the page's filter box, unless typing in a field. */
function slashFocus(e) {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  const t = e.target;
  if (t && t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
  const box = filterBox();
  if (!box) return;
  e.preventDefault();
  box.focus();
  if (box.tagName === "INPUT") box.select();
}

/** The header's theme toggle: pressed while the dark theme shows; a press switches and
 * remembers the choice. */
function themeToggle() {
  const button = document.getElementById("theme-toggle");
  if (!button) return;
  const sync = () => {
    const dark = darkTheme();
    button.setAttribute("aria-pressed", String(dark));
    button.title = (dark ? "Dark" : "Light") + " theme" + (storedTheme() ? ", chosen here" : ", as the system's") + ": press for the " + (dark ? "light" : "dark") + " one (remembered in this browser)";
  };
  button.addEventListener("click", () => { applyTheme(darkTheme() ? "light" : "dark", true); sync(); });
  if (window.matchMedia) {
    const system = window.matchMedia("(prefers-color-scheme: dark)");
    if (system.addEventListener) system.addEventListener("change", sync);
  }
  sync();
}

document.addEventListener("DOMContentLoaded", () => {
  themeToggle();
  document.addEventListener("keydown", slashFocus);
  const select = document.getElementById("range");
  select.value = localStorage.getItem(RANGE_KEY) || "1h";
  select.addEventListener("change", () => { localStorage.setItem(RANGE_KEY, select.value); route(); });
  window.addEventListener("hashchange", route);
  route();
});
