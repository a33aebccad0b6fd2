// Telemetry values shown with their structure: attributes as key/value tables with
// their types, nested maps and lists folded, long text expandable, stack traces as
// preformatted text, GenAI messages as a conversation, ids with a copy button. Nothing
// here ever writes markup: every value becomes text nodes through `h` and `add` of
// dom.js.
"use strict";

/** Characters and lines of text shown before a value folds behind "show all". */
const FOLD_CHARS = 300;
const FOLD_LINES = 6;
/** Attributes that hold GenAI messages: lists of {role, content} or {role, parts}. */
const GENAI_MESSAGE_KEYS = new Set(["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt", "gen_ai.completion"]);
/** Attributes whose text keeps its lines (stack traces). */
const PREFORMATTED_KEYS = new Set(["exception.stacktrace", "code.stacktrace"]);

/** The type of a value as the API gives attributes: string, bool, int, double, list, map or null. */
function typeName(v) {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "list";
  switch (typeof v) {
    case "string": return "string";
    case "boolean": return "bool";
    case "number": return Number.isInteger(v) ? "int" : "double";
    case "object": return "map";
    default: return typeof v;
  }
}

function isScalar(v) {
  return v === null || v === undefined || typeof v !== "object";
}

/** The map or list that a string holds as JSON text, else undefined. */
function jsonInside(s) {
  if (typeof s !== "string") return undefined;
  const t = s.trim();
  if (t.length < 2 || !((t[0] === "{" && t.endsWith("}")) || (t[0] === "[" && t.endsWith("]")))) return undefined;
  try {
    const v = JSON.parse(t);
    return v !== null && typeof v === "object" ? v : undefined;
  } catch (_) {
    return undefined;
  }
}

/** The GenAI messages in `v` (a list of them, one message, or JSON text of either), else null. */
function genaiMessages(v) {
  let list = typeof v === "string" ? jsonInside(v) : v;
  if (list && !Array.isArray(list) && typeof list === "object") list = [list];
  if (!Array.isArray(list) || !list.length) return null;
  const message = (m) => m !== null && typeof m === "object" && !Array.isArray(m) && typeof m.role === "string" && ("content" in m || "parts" in m);
  return list.every(message) ? list : null;
}

/** The type shown beside a value: its type, and "JSON" for a string holding JSON text. */
function typeLabel(v, key) {
  if (typeof v === "string" && jsonInside(v) !== undefined) {
    return GENAI_MESSAGE_KEYS.has(key) && genaiMessages(v) ? "string · messages" : "string · JSON";
  }
  return typeName(v);
}

/** A scalar's text: strings as themselves, others as their literal. */
function scalarText(v) {
  if (v === null || v === undefined) return "null";
  return typeof v === "string" ? v : String(v);
}

/** A one-line preview of a value: `key=value · key=value` for a map, items for a list. */
function preview(v, max) {
  const limit = max || 160;
  const part = (x) => {
    // JSON text is previewed as what it holds, never as its text.
    const inner = jsonInside(x);
    const v = inner !== undefined ? inner : x;
    return isScalar(v) ? scalarText(v) : "(" + typeName(v) + " of " + Object.keys(v).length + ")";
  };
  let text;
  if (Array.isArray(v)) text = v.length ? v.map(part).join(", ") : "empty list";
  else if (v !== null && typeof v === "object") {
    const entries = Object.entries(v);
    text = entries.length ? entries.map(([k, x]) => k + "=" + part(x)).join(" · ") : "empty map";
  } else text = scalarText(v);
  return text.length > limit ? text.slice(0, limit - 1) + "…" : text;
}

/** Text that folds behind "show all" when long; `pre` keeps its lines. */
function longText(text, pre) {
  const el = h(pre ? "pre" : "span", { class: "text-value" + (pre ? " stack" : "") }, text);
  const lines = text.split("\n").length;
  if (text.length <= FOLD_CHARS && lines <= (pre ? FOLD_LINES * 3 : FOLD_LINES)) return el;
  el.classList.add("folded");
  const label = () => (el.classList.contains("folded")
    ? "show all (" + (lines > 1 ? lines.toLocaleString() + " lines" : text.length.toLocaleString() + " characters") + ")"
    : "show less");
  const more = h("button", { type: "button", class: "link more", "aria-expanded": "false" }, label());
  more.addEventListener("click", (e) => {
    e.stopPropagation();
    el.classList.toggle("folded");
    more.textContent = label();
    more.setAttribute("aria-expanded", String(!el.classList.contains("folded")));
  });
  return h("div", { class: "long-value" }, el, more);
}

/** A folded section: its summary always shown, its content on demand. */
function folded(summary, content, open) {
  const el = h("details", { class: "nested", open: !!open }, h("summary", {}, summary), content);
  // Opening a fold inside a clickable row opens the fold, not the row.
  el.firstChild.addEventListener("click", (e) => e.stopPropagation());
  return el;
}

/** A map or list: an empty one named, a short list of scalars inline, anything else as a
 * key/value table, folded unless `open`. */
function structure(v, open) {
  if (Array.isArray(v)) {
    if (!v.length) return h("span", { class: "muted" }, "empty list");
    if (v.every(isScalar) && v.length <= 20 && v.reduce((n, x) => n + scalarText(x).length, 0) <= 200) {
      return h("ul", { class: "inline-list" }, v.map((x) => h("li", {}, valueView(x))));
    }
    const table = kvTable(Object.fromEntries(v.map((x, i) => [String(i), x])), { keepOrder: true });
    return open ? table : folded("list of " + v.length, table);
  }
  const keys = Object.keys(v);
  if (!keys.length) return h("span", { class: "muted" }, "empty map");
  const table = kvTable(v);
  if (open) return table;
  return folded((keys.length === 1 ? "1 key: " : keys.length + " keys: ") + keys.slice(0, 5).join(", ") + (keys.length > 5 ? ", …" : ""), table);
}

/** A value with its structure: scalars as text (long text folded, stack traces
 * preformatted), maps and lists as nested tables, JSON text as what it holds, GenAI
 * messages of `key` as a conversation. */
function valueView(v, key, open) {
  if (key && GENAI_MESSAGE_KEYS.has(key)) {
    const messages = genaiMessages(v);
    if (messages) return chatView(messages);
  }
  if (v === null || v === undefined) return h("span", { class: "muted" }, "null");
  if (typeof v === "string") {
    const inner = jsonInside(v);
    if (inner !== undefined) return structure(inner, open);
    if (v === "") return h("span", { class: "muted" }, "empty string");
    return longText(v, PREFORMATTED_KEYS.has(key) || v.includes("\n"));
  }
  if (typeof v === "object") return structure(v, open);
  return h("span", { class: "v-" + typeName(v) }, String(v));
}

/** Attributes (or any map) as a table of key, type and value, keys sorted unless
 * `keepOrder`; `empty` is said when there are none. */
function kvTable(map, options) {
  const o = options || {};
  if (map !== null && map !== undefined && (typeof map !== "object" || Array.isArray(map))) return valueView(map, "", true);
  const keys = Object.keys(map || {});
  if (!o.keepOrder) keys.sort();
  if (!keys.length) return h("p", { class: "muted kv-empty" }, o.empty || "none");
  return h("table", { class: "kv" }, h("tbody", {}, keys.map((k) => h("tr", { dataset: { key: k } },
    h("th", { scope: "row" }, k),
    h("td", { class: "kv-type" }, typeLabel(map[k], k)),
    h("td", { class: "kv-value" }, valueView(map[k], k))))));
}

/** The text of a message's content: a string, a list of parts, or anything else. */
function messageContent(content) {
  if (content === null || content === undefined) return h("span", { class: "muted" }, "no content");
  if (typeof content === "string") return h("div", { class: "msg-text" }, content);
  if (Array.isArray(content)) return content.map(messagePart);
  return valueView(content, "", true);
}

/** One part of a message: text, a tool call, a tool's answer, or its fields. */
function messagePart(p) {
  if (typeof p === "string") return h("div", { class: "msg-text" }, p);
  if (p === null || typeof p !== "object" || Array.isArray(p)) return valueView(p);
  const text = typeof p.content === "string" ? p.content : typeof p.text === "string" ? p.text : null;
  if ((p.type === undefined || p.type === "text" || p.type === "reasoning") && text !== null) {
    return h("div", { class: "msg-text" + (p.type === "reasoning" ? " reasoning" : "") }, text);
  }
  if (p.type === "tool_call") {
    return h("div", { class: "msg-tool tool-call", dataset: { toolName: typeof p.name === "string" ? p.name : "" } },
      h("span", { class: "badge tool_call" }, "tool call"), " ", h("code", { class: "tool-name" }, p.name || ""),
      p.id ? h("span", { class: "muted" }, " · " + p.id) : null,
      p.arguments !== undefined ? valueView(p.arguments, "", true) : null);
  }
  if (p.type === "tool_call_response") {
    return h("div", { class: "msg-tool tool-result" }, h("span", { class: "badge" }, "tool result"),
      p.id ? h("span", { class: "muted" }, " " + p.id) : null, valueView(p.response !== undefined ? p.response : p.result, "", true));
  }
  return valueView(p, "", true);
}

/** GenAI messages as a conversation: each message's role, then its content. */
function chatView(messages) {
  return h("div", { class: "chat" }, messages.map((m) => h("div", { class: "msg role-" + String(m.role).replace(/[^a-z0-9_-]/gi, ""), dataset: { role: m.role } },
    h("div", { class: "msg-role" }, m.role, m.name ? " · " + m.name : "", m.finish_reason ? h("span", { class: "muted" }, " · " + m.finish_reason) : null),
    h("div", { class: "msg-body" }, Array.isArray(m.parts) ? m.parts.map(messagePart) : messageContent(m.content)))));
}

/** Messages as chatView takes them: objects only, each with a role. */
function asMessages(list) {
  if (!Array.isArray(list)) return [];
  return list.filter((m) => m !== null && typeof m === "object" && !Array.isArray(m))
    .map((m) => (typeof m.role === "string" ? m : { ...m, role: "unknown" }));
}

/**
 * The conversation of an LLM call as the API gives it (`{system_instructions, input,
 * output}`, or null when none was recorded): the system instructions, then the input
 * messages and the output messages as chats.
 */
function callConversation(messages) {
  if (messages === null || messages === undefined || typeof messages !== "object") {
    return h("p", { class: "muted no-conversation" }, "No conversation was recorded for this call (its instrumentation did not capture message content).");
  }
  const system = messages.system_instructions;
  let instructions = null;
  if (typeof system === "string" && system !== "") instructions = [{ role: "system", parts: [{ type: "text", content: system }] }];
  else if (Array.isArray(system) && system.length) {
    instructions = system.every((p) => p !== null && typeof p === "object" && typeof p.role === "string")
      ? asMessages(system) : [{ role: "system", parts: system }];
  } else if (system !== null && system !== undefined && typeof system === "object") instructions = [{ role: "system", parts: [system] }];
  const input = asMessages(messages.input);
  const output = asMessages(messages.output);
  return h("div", { class: "conversation" },
    instructions ? [h("h4", {}, "System instructions"), h("div", { class: "system-instructions" }, chatView(instructions))] : null,
    h("h4", {}, "Input"), input.length ? h("div", { class: "conversation-input" }, chatView(input)) : h("p", { class: "muted" }, "none recorded"),
    h("h4", {}, "Output"), output.length ? h("div", { class: "conversation-output" }, chatView(output)) : h("p", { class: "muted" }, "none recorded"));
}

/** Copies `text` the old way, for pages the Clipboard API does not serve (plain HTTP
 * on another host). */
function copyByCommand(text) {
  const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true", tabindex: -1 });
  area.value = text;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch (_) {
    copied = false;
  }
  area.remove();
  return copied;
}

/** A button that copies `text` (an id) to the clipboard; `what` names it for screen readers. */
function copyButton(text, what) {
  const b = h("button", { type: "button", class: "copy", title: "Copy the " + what, "aria-label": "Copy the " + what, dataset: { copy: text } }, "copy");
  b.addEventListener("click", async (e) => {
    e.preventDefault();
    e.stopPropagation();
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch (_) {
        copied = false;
      }
    }
    if (!copied) copied = copyByCommand(text);
    b.textContent = copied ? "copied" : "copy failed";
    setTimeout(() => { b.textContent = "copy"; }, 1500);
  });
  return b;
}

/** An id in monospace with its copy button, linked to `href` when given. */
function idView(id, what, href) {
  if (!id) return "";
  const code = h("code", {}, id);
  return h("span", { class: "id" }, href ? h("a", { href, class: what.replace(/\s+/g, "-") + "-link" }, code) : code, " ", copyButton(id, what));
}
