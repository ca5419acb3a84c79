// @ts-check
// The side panels: alerts (with acknowledge and silence), silences, alert
// history, bottlenecks, and the status of plugins and rule scripts.

import { api } from "./api.js";
import { ago, dateTime, h, labelText, show } from "./dom.js";

const SILENCE_DURATIONS = [
  ["30 min", 30 * 60_000],
  ["1 h", 3_600_000],
  ["4 h", 4 * 3_600_000],
  ["24 h", 24 * 3_600_000],
  ["7 d", 7 * 24 * 3_600_000],
];

/** @param {HTMLElement} place @param {unknown} error */
function failed(place, error) {
  show(place, h("p", { class: "error", role: "alert" }, error instanceof Error ? error.message : String(error)));
}

export class AlertsPanel {
  /**
   * @param {HTMLElement} body
   * @param {HTMLDetailsElement} silences
   * @param {HTMLDetailsElement} history
   */
  constructor(body, silences, history) {
    this.body = body;
    this.silences = silences;
    this.history = history;
    /** Alert id whose form is open, so a refresh keeps it. @type {string|null} */
    this.openForm = null;
    silences.addEventListener("toggle", () => { if (silences.open) void this.loadSilences(); });
    history.addEventListener("toggle", () => { if (history.open) void this.loadHistory(); });
  }

  async refresh() {
    // A form being filled in is not replaced under the user's fingers.
    if (this.openForm) return;
    try {
      this.render(await api("/api/v1/alerts"));
    } catch (error) {
      failed(this.body, error);
    }
    if (this.history.open) void this.loadHistory();
  }

  /** @param {{firing: any[], pending: any[], resolved: any[]}} alerts */
  render(alerts) {
    const resolved = [...alerts.resolved].sort((a, b) => (b.resolvedAt ?? 0) - (a.resolvedAt ?? 0));
    show(this.body,
      this.list("Firing", alerts.firing, "firing"),
      this.list("Pending", alerts.pending, "pending"),
      this.list("Recently resolved", resolved, "resolved"));
  }

  /**
   * @param {string} title
   * @param {any[]} alerts
   * @param {string} state
   */
  list(title, alerts, state) {
    const newestFirst = [...alerts].sort((a, b) => b.timestamp - a.timestamp);
    return h("div", { class: "alert-group", "data-state": state },
      h("h3", {}, `${title} (${alerts.length})`),
      alerts.length === 0
        ? h("p", { class: "muted" }, "None.")
        : h("ul", { class: "alerts" }, ...newestFirst.map((alert) => this.item(alert, state))));
  }

  /** @param {any} alert @param {string} state */
  item(alert, state) {
    const actions = state === "firing" && !alert.acknowledged
      ? h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => this.ackForm(alert, item) }, "Acknowledge"),
        h("button", { type: "button", onclick: () => this.silenceForm(alert, item) }, "Silence"))
      : state === "firing"
        ? h("div", { class: "actions" },
          h("button", { type: "button", onclick: () => this.silenceForm(alert, item) }, "Silence"))
        : null;
    const when = state === "resolved" && alert.resolvedAt ? `resolved ${ago(alert.resolvedAt)}` : `since ${ago(alert.timestamp)}`;
    const item = h("li", { class: "alert", "data-alert-id": alert.id, "data-severity": alert.severity },
      h("p", { class: "alert-head" },
        h("span", { class: `badge ${alert.severity}` }, alert.severity),
        " ",
        h("strong", {}, alert.message)),
      h("p", { class: "muted small" },
        [alert.rule, alert.metric, labelText(alert.labels)].filter(Boolean).join(" · "), ` · ${when}`),
      alert.acknowledged
        ? h("p", { class: "ack small" }, `Acknowledged${alert.acknowledged.by ? ` by ${alert.acknowledged.by}` : ""}: ${alert.acknowledged.comment}`)
        : null,
      alert.runbookUrl && /^https?:\/\//.test(alert.runbookUrl)
        ? h("p", { class: "small" }, h("a", { href: alert.runbookUrl, rel: "noreferrer noopener", target: "_blank" }, "Runbook"))
        : null,
      actions);
    return item;
  }

  /** @param {any} alert @param {HTMLElement} item */
  ackForm(alert, item) {
    const comment = h("textarea", { name: "comment", required: true, rows: 2, placeholder: "What is being done" });
    this.inlineForm(alert, item, "ack", "Acknowledge", [
      h("label", {}, "Comment", comment),
      h("label", {}, "By (optional)", h("input", { name: "by", autocomplete: "name" })),
    ], (data) => api(`/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`, {
      method: "POST",
      body: { comment: String(data.get("comment") ?? ""), by: String(data.get("by") ?? "") },
    }));
    comment.focus();
  }

  /** @param {any} alert @param {HTMLElement} item */
  silenceForm(alert, item) {
    const matchers = [`rule=${alert.rule}`, ...Object.entries(alert.labels ?? {}).map(([k, v]) => `${k}=${v}`)];
    const text = h("textarea", { name: "matchers", rows: Math.max(2, matchers.length), required: true });
    text.textContent = matchers.join("\n");
    const duration = h("select", { name: "duration" },
      ...SILENCE_DURATIONS.map(([label, ms], i) => h("option", { value: ms, selected: i === 1 }, label)));
    this.inlineForm(alert, item, "silence", "Silence", [
      h("label", {}, "Matchers, one per line (name=value or name!=value)", text),
      h("label", {}, "For", duration),
      h("label", {}, "Comment", h("input", { name: "comment", required: true })),
    ], async (data) => {
      const parsed = String(data.get("matchers") ?? "").split("\n").map((l) => l.trim()).filter(Boolean).map(parseMatcher);
      await api("/api/v1/silences", {
        method: "POST",
        body: {
          matchers: parsed,
          endsAt: Date.now() + Number(data.get("duration")),
          comment: String(data.get("comment") ?? ""),
        },
      });
      if (this.silences.open) void this.loadSilences();
    });
    text.focus();
  }

  /**
   * A form under an alert that calls `submit` with its fields; the host's
   * refusal is shown in the form, which stays open to be corrected.
   * @param {any} alert
   * @param {HTMLElement} item
   * @param {string} name
   * @param {string} action the submit button's text
   * @param {HTMLElement[]} fields
   * @param {(data: FormData) => Promise<unknown>} submit
   */
  inlineForm(alert, item, name, action, fields, submit) {
    this.openForm = alert.id;
    const error = h("p", { class: "error", hidden: true, role: "alert" });
    const form = /** @type {HTMLFormElement} */ (h("form", { class: "inline-form", "data-form": name },
      ...fields,
      error,
      h("div", { class: "actions" },
        h("button", { type: "submit" }, action),
        h("button", { type: "button", onclick: () => this.closeForm() }, "Cancel"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await submit(new FormData(form));
        this.closeForm();
      } catch (e) {
        error.hidden = false;
        error.textContent = e instanceof Error ? e.message : String(e);
      }
    });
    this.replaceForm(item, form);
  }

  /** @param {HTMLElement} item @param {HTMLElement} form */
  replaceForm(item, form) {
    this.body.querySelector("form.inline-form")?.remove();
    item.append(form);
  }

  closeForm() {
    this.openForm = null;
    void this.refresh();
  }

  async loadSilences() {
    const place = /** @type {HTMLElement} */ (this.silences.querySelector("#silences-body"));
    try {
      const { silences } = await api("/api/v1/silences");
      show(place, silences.length === 0
        ? h("p", { class: "muted" }, "No silences.")
        : h("ul", { class: "silences" }, ...silences.map((/** @type {any} */ s) => h("li", { "data-silence-id": s.id },
          h("p", {}, s.matchers.map((/** @type {any} */ m) => `${m.name}${m.op}${m.value}`).join(", ")),
          h("p", { class: "muted small" }, `${s.active ? "active" : "not active"} · until ${dateTime(s.endsAt)} · ${s.comment}`),
          h("button", { type: "button", onclick: async () => {
            try {
              await api(`/api/v1/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" });
              void this.loadSilences();
            } catch (e) { failed(place, e); }
          } }, "Expire")))));
    } catch (error) {
      failed(place, error);
    }
  }

  async loadHistory() {
    const place = /** @type {HTMLElement} */ (this.history.querySelector("#alert-history-body"));
    try {
      const { events } = await api("/api/v1/alerts/history");
      const newest = [...events].reverse().slice(0, 200);
      show(place, newest.length === 0
        ? h("p", { class: "muted" }, "Nothing in the last 24 hours.")
        : h("table", { class: "history" },
          h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Event"), h("th", {}, "Alert"))),
          h("tbody", {}, ...newest.map((/** @type {any} */ e) => h("tr", {},
            h("td", {}, dateTime(e.timestamp)),
            h("td", {}, e.event),
            h("td", {}, e.message ?? e.rule))))));
    } catch (error) {
      failed(place, error);
    }
  }
}

/**
 * `name=value` or `name!=value` as the silence API takes it.
 * @param {string} line
 */
function parseMatcher(line) {
  const match = /^([^=!]+?)\s*(!=|=)\s*(.*)$/.exec(line);
  if (!match) throw new Error(`"${line}" is not name=value or name!=value`);
  return { name: match[1], op: match[2], value: match[3] };
}

/** @param {HTMLElement} body */
export async function showBottlenecks(body) {
  try {
    const { current, resolved } = await api("/api/v1/bottlenecks");
    const byImpact = [...current].sort((a, b) => b.impact - a.impact);
    show(body,
      byImpact.length === 0
        ? h("p", { class: "muted" }, "No bottleneck now.")
        : h("ul", { class: "bottlenecks" }, ...byImpact.map(bottleneck)),
      resolved.length === 0 ? "" : h("details", {},
        h("summary", {}, `Resolved (${resolved.length})`),
        h("ul", { class: "bottlenecks" }, ...[...resolved].sort((a, b) => (b.resolvedAt ?? 0) - (a.resolvedAt ?? 0)).map(bottleneck))));
  } catch (error) {
    failed(body, error);
  }
}

/** @param {any} b */
function bottleneck(b) {
  const impact = Math.max(0, Math.min(100, b.impact));
  const bar = h("span", {});
  // Set through the CSSOM: the page's policy allows no inline style attribute.
  bar.style.width = `${impact}%`;
  return h("li", { class: "bottleneck", "data-bottleneck-id": b.id, "data-severity": b.severity },
    h("p", {}, h("span", { class: `badge ${b.severity}` }, b.severity), " ", h("strong", {}, b.description)),
    h("div", { class: "impact", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": impact.toFixed(0), "aria-label": "Impact" },
      bar,
      h("small", {}, `impact ${impact.toFixed(0)} (peak ${Number(b.peakImpact).toFixed(0)})`)),
    h("p", { class: "muted small" }, `${b.type} · ${b.component} · first seen ${dateTime(b.timestamp)} · last seen ${ago(b.lastSeen)} · ${b.occurrences} ticks`),
    h("ul", { class: "suggestions" }, ...b.suggestions.map((/** @type {string} */ s) => h("li", {}, s))));
}

/**
 * @param {HTMLElement} body
 * @param {{plugins?: any[], rules?: any}} status what the stream or the API last said
 */
export function showStatus(body, status) {
  const plugins = status.plugins ?? [];
  const rules = status.rules;
  const ruleErrors = rules ? [...rules.compile_errors.map((/** @type {any} */ e) => ({ ...e, when: "compile" })), ...rules.runtime_errors.map((/** @type {any} */ e) => ({ ...e, when: "run" }))] : [];
  show(body,
    plugins.length === 0 ? h("p", { class: "muted" }, "No plugins loaded.") : h("table", { class: "plugins" },
      h("thead", {}, h("tr", {}, h("th", {}, "Plugin"), h("th", {}, "Kind"), h("th", {}, "Status"), h("th", {}, "Calls"), h("th", {}, "Failures"))),
      h("tbody", {}, ...plugins.map((p) => h("tr", { "data-plugin": p.name, "data-status": p.stats.status },
        h("td", {}, p.name),
        h("td", {}, p.kind),
        h("td", {}, h("span", { class: `badge ${p.stats.status}` }, p.stats.status)),
        h("td", { class: "num" }, p.stats.calls),
        h("td", { class: "num" }, p.stats.failures))))),
    ...plugins.filter((p) => p.stats.last_error).map((p) => h("p", { class: "error small" }, `${p.name}: ${p.stats.last_error}`)),
    rules
      ? h("p", { class: "small" }, `${rules.scripts.length} rule script${rules.scripts.length === 1 ? "" : "s"} loaded${ruleErrors.length ? `, ${ruleErrors.length} with errors` : ", no errors"}.`)
      : "",
    ...ruleErrors.map((e) => h("p", { class: "error small", "data-rule-error": e.file },
      `${e.file}${e.line ? `:${e.line}` : ""}${e.column ? `:${e.column}` : ""} (${e.when}): ${e.message}`)));
}

/**
 * The health score of the latest tick (`metrics_update.health`), and the
 * parts that took points off, so a user sees why it is 62.
 * @param {HTMLElement} place a `<details>` with a summary and a list
 * @param {{score: number, parts: {name: string, penalty: number, detail: string}[]}|undefined} health
 */
export function showHealth(place, health) {
  if (!health || typeof health.score !== "number") {
    place.hidden = true;
    return;
  }
  place.hidden = false;
  place.dataset.level = health.score >= 80 ? "good" : health.score >= 50 ? "fair" : "poor";
  place.dataset.score = String(health.score);
  const summary = place.querySelector("summary");
  if (summary) summary.textContent = `Health ${Math.round(health.score)}`;
  const list = place.querySelector("ul");
  if (list) {
    show(list, ...health.parts.map((part) => h("li", { "data-part": part.name },
      h("strong", {}, part.penalty > 0 ? `−${part.penalty}` : "0"), ` ${part.name}: ${part.detail}`)));
  }
}
