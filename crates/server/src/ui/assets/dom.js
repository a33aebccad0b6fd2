// DOM helpers of the dashboard and the status page: elements built from data, whose
// text only ever becomes text nodes, never markup; and the colour theme, applied as
// this file loads (before the page is drawn: it is the one script not deferred).
"use strict";

/** Where the theme chosen in the dashboard's header is kept ("dark" or "light"); without
 * one the page follows the system's (prefers-color-scheme). */
const THEME_KEY = "automagik-telemetry.theme";

/** The theme chosen, "dark" or "light", or "" when none was (the system's applies). */
function storedTheme() {
  try {
    const t = localStorage.getItem(THEME_KEY);
    return t === "dark" || t === "light" ? t : "";
  } catch (_) {
    return "";
  }
}

/** Whether the page shows the dark theme: the one chosen, else the system's. */
function darkTheme() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === "dark" || chosen === "light") return chosen === "dark";
  return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
}

/** Shows `theme` ("dark", "light", or "" for the system's); `remember` keeps the choice
 * for the next visits. Every colour is a CSS variable of the theme (app.css). */
function applyTheme(theme, remember) {
  const root = document.documentElement;
  if (theme === "dark" || theme === "light") root.dataset.theme = theme;
  else delete root.dataset.theme;
  if (!remember) return;
  try {
    if (theme === "dark" || theme === "light") localStorage.setItem(THEME_KEY, theme);
    else localStorage.removeItem(THEME_KEY);
  } catch (_) { /* storage refused: the choice lasts this page only */ }
}

applyTheme(storedTheme(), false);

/** Builds an element: h("a", {href: "#"}, "text", child, ...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  return add(el, ...children);
}

/** Appends children (nested lists flattened; null, undefined and false skipped). */
function add(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A time as a Date: from a Date, an RFC 3339 string, or nanoseconds since the epoch
 * (a string of digits, as the API gives them); null when it is none of them. */
function toDate(t) {
  if (t === null || t === undefined || t === "") return null;
  if (t instanceof Date) return isNaN(t) ? null : t;
  if (typeof t === "string" && /^\d+$/.test(t)) return new Date(Number(BigInt(t) / 1000000n));
  const d = new Date(t);
  return isNaN(d) ? null : d;
}

/** An RFC 3339 time as milliseconds since the epoch, its fraction of a millisecond kept
 * (Date.parse drops it); NaN when it is not one. */
function preciseMs(t) {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(String(t || ""));
  if (!m) return Date.parse(t);
  return Date.parse(m[1] + m[3]) + (m[2] ? Number("0." + m[2]) * 1000 : 0);
}

/** How long ago `d` was (or how far ahead): "just now", "42 s ago", "3 min ago", "in 2 h". */
function ago(d, now) {
  const s = ((now === undefined ? Date.now() : now) - d.getTime()) / 1000;
  const abs = Math.abs(s);
  if (abs < 5) return "just now";
  const [n, unit] = abs < 60 ? [abs, "s"] : abs < 3600 ? [abs / 60, "min"] : abs < 86400 ? [abs / 3600, "h"]
    : abs < 86400 * 60 ? [abs / 86400, "d"] : abs < 86400 * 730 ? [abs / (86400 * 30.44), "mo"] : [abs / (86400 * 365.25), "y"];
  const text = Math.floor(n) + " " + unit;
  return s >= 0 ? text + " ago" : "in " + text;
}

/** A time in the browser's local time zone with how long ago it was; the exact UTC time
 * in its tooltip. `precise` adds milliseconds. */
function when(t, precise) {
  const d = toDate(t);
  if (!d) return typeof t === "string" ? t : "";
  const options = precise
    ? { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3 }
    : undefined;
  return h("time", { datetime: d.toISOString(), title: d.toISOString() },
    d.toLocaleString(undefined, options), h("span", { class: "ago" }, " · " + ago(d)));
}
