// The public status page: built only from /telemetry/public, the aggregates anyone may
// see (counts, ratios and states; no names, addresses or identifiers).
"use strict";

const pct = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(1) + " %");

/** A latency in milliseconds as text, "–" when there is none (a target that did not answer). */
function latency(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
  return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : ms >= 10 ? ms.toFixed(0) + " ms" : ms.toFixed(2) + " ms";
}

/**
 * The probed dependencies: how many are up, then each one's state, latency and since
 * when, when the server publishes them (`probes.targets`: each a state, a latency and
 * the time of its last change, with a label only where one was made public; the
 * dependencies are otherwise numbered in the probes' order).
 */
function dependencies(probes) {
  const down = probes.total - probes.up;
  const out = [h("h2", {}, "Dependencies"),
    h("p", { id: "probes-summary" }, down === 0
      ? (probes.total === 1 ? "The dependency is up." : "All " + probes.total + " dependencies are up.")
      : down + " of " + probes.total + (probes.total === 1 ? " dependency is" : " dependencies are") + " down or blocked by one that is.")];
  const targets = Array.isArray(probes.targets) ? probes.targets.filter((t) => t !== null && typeof t === "object") : [];
  if (!targets.length) return out;
  const states = { up: "up", down: "down", blocked: "blocked" };
  out.push(h("div", { class: "table-wrap" }, h("table", { class: "targets", id: "probe-targets" },
    h("thead", {}, h("tr", {}, ["Dependency", "State", "Latency", "Since"].map((t, i) => h("th", { scope: "col", class: i === 2 ? "num" : null }, t)))),
    h("tbody", {}, targets.map((t, i) => {
      const state = states[t.state] || "unknown";
      return h("tr", { class: "probe-target", dataset: { state } },
        h("td", {}, typeof t.label === "string" && t.label ? t.label : "Dependency " + (i + 1)),
        h("td", {}, h("span", { class: "badge " + state }, state)),
        h("td", { class: "num" }, latency(t.latency_ms)),
        h("td", {}, t.since ? when(t.since) : h("span", { class: "muted" }, "–")));
    })))));
  return out;
}

function meter(label, value, ratio) {
  const fill = h("div", {});
  fill.style.width = Math.max(0, Math.min(1, ratio || 0)) * 100 + "%";
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value),
    ratio === null || ratio === undefined ? null : h("div", { class: "bar" }, fill));
}

function render(root, p) {
  root.replaceChildren(h("h1", {}, "Status"));
  if (!p.collected_at) {
    root.append(h("div", { class: "status-banner unknown" }, "No status collected yet"));
    return;
  }
  const ratios = [p.agents && p.agents.total ? p.agents.health_ratio : null, p.probes && p.probes.total ? p.probes.health_ratio : null].filter((r) => r !== null);
  const healthy = ratios.every((r) => r >= 1);
  root.append(h("div", { class: "status-banner " + (ratios.length === 0 ? "unknown" : healthy ? "ok" : "degraded"), id: "overall" },
    ratios.length === 0 ? "No services monitored" : healthy ? "All systems operational" : "Some systems are degraded"));
  const cards = h("div", { class: "cards" });
  if (p.agents) cards.append(meter("Agents healthy", p.agents.healthy + " / " + p.agents.total, p.agents.health_ratio));
  if (p.probes) cards.append(meter("Dependencies up", p.probes.up + " / " + p.probes.total, p.probes.health_ratio));
  if (p.host) {
    cards.append(meter("CPU", p.host.cpu.usage_percent === null ? "–" : p.host.cpu.usage_percent.toFixed(0) + " %", (p.host.cpu.usage_percent || 0) / 100));
    cards.append(meter("Memory used", pct(p.host.memory.used_ratio), p.host.memory.used_ratio));
    cards.append(meter("Disk used", pct(p.host.disk.used_ratio), p.host.disk.used_ratio));
  }
  if (p.containers && p.containers.available) cards.append(meter("Containers running", p.containers.running + " / " + p.containers.total, p.containers.total ? p.containers.running / p.containers.total : null));
  root.append(cards);
  if (p.probes && p.probes.total) root.append(...dependencies(p.probes));
  if (p.deployments) {
    const d = p.deployments;
    root.append(h("h2", {}, "Deployments"),
      h("p", {}, d.rollouts_complete + " of " + d.services + " rollouts complete"),
      h("div", { class: "cards" }, Object.entries(d.versions).map(([v, s]) => meter("Version " + v, s.agents + (s.agents === 1 ? " agent" : " agents"), s.share))));
  }
  root.append(h("p", { class: "muted" }, "Updated ", when(p.collected_at)));
}

async function load() {
  const root = document.getElementById("status");
  try {
    const resp = await fetch("/telemetry/public");
    if (resp.status === 429) {
      root.append(h("p", { class: "muted" }, "Refreshing too often; the next update comes shortly."));
      return;
    }
    if (!resp.ok) throw new Error(resp.status + " " + resp.statusText);
    render(root, await resp.json());
  } catch (e) {
    root.replaceChildren(h("h1", {}, "Status"), h("div", { class: "status-banner unknown" }, "Status unavailable"), h("p", { class: "muted" }, String(e.message || e)));
  } finally {
    root.dataset.ready = "true";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  load();
  setInterval(load, 60000);
});
