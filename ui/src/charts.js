// @ts-check
// The live charts: one card per section of `metrics_update`, and in it one
// uPlot chart per group of related metrics that share a unit, so every
// axis is in one unit. History comes from `query_range` at a step that
// fits the chart's width; live points are then appended to the same
// arrays, and only the chart that changed is redrawn.

import { api } from "./api.js";
import { formatValue, h } from "./dom.js";

/* global uPlot */

const CHART_HEIGHT = 170;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Spans at least this long read the hourly rollups. */
const HOURLY_FROM = 7 * DAY;
const CUSTOM_SELECTION_KEY = "perfwatch.customMetrics";
const DEFAULT_CUSTOM_PICKS = 4;
/** The performance mark set when the first chart has data. */
export const FIRST_CHART_MARK = "perfwatch:first-chart";

/**
 * @typedef {{title: string, fields: (field: string) => boolean}} Group
 * @typedef {{key: string, title: string, groups: Group[]}} Section
 */

/** @type {Section[]} */
const SECTIONS = [
  {
    key: "system",
    title: "System",
    groups: [
      { title: "CPU, memory and disk", fields: (f) => ["cpuUsage", "memoryUsage", "diskUsage"].includes(f) },
      { title: "Network", fields: (f) => f.startsWith("network") },
      { title: "Pressure stall", fields: (f) => f.startsWith("pressure") },
      { title: "Load average", fields: (f) => /^load\d+$/.test(f) },
      { title: "Tasks", fields: (f) => f.endsWith("Tasks") },
    ],
  },
  { key: "agents", title: "Agents", groups: [] },
  { key: "queries", title: "Queries", groups: [] },
  { key: "ui", title: "UI", groups: [] },
  { key: "tracing", title: "Monitor overhead", groups: [] },
  { key: "custom", title: "Custom metrics", groups: [] },
];

/** Spans the range picker offers, by the name its buttons carry. */
export const SPANS = { "15m": 15 * MINUTE, "1h": HOUR, "6h": 6 * HOUR, "24h": DAY, "7d": 7 * DAY };

/**
 * @typedef {{kind: "last", span: number} | {kind: "between", start: number, end: number}} Range
 *
 * @typedef {object} Chart
 * @property {string} key
 * @property {string} unit
 * @property {string[]} metrics full metric names, one per line
 * @property {HTMLElement} element
 * @property {any} plot the uPlot instance
 * @property {number[]} xs seconds
 * @property {(number|null)[][]} columns one per metric
 * @property {number} generation bumped on every history load, so a late answer is dropped
 */

/**
 * The step for a chart `widthPx` wide showing `spanMs`: about one point
 * per pixel, never finer than a tick, in whole minutes or hours once that
 * coarse, so the store answers from its rollups.
 * @param {number} spanMs
 * @param {number} widthPx
 * @param {number} tickMs
 */
export function stepFor(spanMs, widthPx, tickMs) {
  const raw = Math.max(tickMs, spanMs / Math.max(100, widthPx));
  if (spanMs >= HOURLY_FROM) return Math.ceil(raw / HOUR) * HOUR;
  if (raw >= MINUTE) return Math.ceil(raw / MINUTE) * MINUTE;
  return Math.ceil(raw / SECOND) * SECOND;
}

export class ChartBoard {
  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
    /** @type {Range} */
    this.range = { kind: "last", span: SPANS["15m"] };
    this.tickMs = 5000;
    /** @type {Map<string, string>} metric → unit */
    this.units = new Map();
    this.unitsFetchedAt = 0;
    /** @type {Map<string, Chart>} */
    this.charts = new Map();
    /** @type {Map<string, HTMLElement>} section key → card */
    this.cards = new Map();
    /** Custom metrics seen so far. @type {Set<string>} */
    this.customSeen = new Set();
    const stored = localStorage.getItem(CUSTOM_SELECTION_KEY);
    /** @type {Set<string>|null} null until the user picks */
    this.customPicked = stored ? new Set(JSON.parse(stored)) : null;
    /** @type {any} the latest snapshot, to lay charts out again */
    this.latest = null;
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(container);
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.rebuild());
  }

  /** @param {number} tickMs */
  setTick(tickMs) {
    if (Number.isFinite(tickMs) && tickMs > 0) this.tickMs = tickMs;
  }

  /** @param {Range} range */
  setRange(range) {
    this.range = range;
    for (const chart of this.charts.values()) void this.loadHistory(chart);
  }

  async refreshUnits() {
    if (Date.now() - this.unitsFetchedAt < 10 * SECOND) return;
    this.unitsFetchedAt = Date.now();
    const answer = await api("/api/v1/series");
    for (const series of answer.series) this.units.set(series.metric, series.unit);
  }

  /**
   * A snapshot (`initial_data.current` or `metrics_update`): lays out any
   * chart it needs and appends its values.
   * @param {any} snapshot
   */
  async update(snapshot) {
    if (!snapshot || typeof snapshot.timestamp !== "number") return;
    this.latest = snapshot;
    const wanted = this.layout(snapshot);
    const unknown = [...wanted.values()].some((c) => c.metrics.some((m) => !this.units.has(m)));
    if (unknown) {
      await this.refreshUnits().catch(() => {});
      // Units may have split a group differently.
      this.place(this.layout(snapshot));
    } else {
      this.place(wanted);
    }
    if (this.range.kind === "last") this.append(snapshot);
  }

  /**
   * Which charts a snapshot asks for: key → {title, unit, metrics}.
   * @param {any} snapshot
   */
  layout(snapshot) {
    /** @type {Map<string, {section: string, title: string, unit: string, metrics: string[]}>} */
    const wanted = new Map();
    for (const section of SECTIONS) {
      const values = snapshot[section.key];
      if (!values || typeof values !== "object") continue;
      for (const [field, value] of Object.entries(values)) {
        if (value === null || typeof value !== "number") continue;
        const metric = section.key === "custom" ? field : `${section.key}.${field}`;
        if (section.key === "custom") {
          this.customSeen.add(metric);
          if (!this.isPicked(metric)) continue;
        }
        const group = section.groups.find((g) => g.fields(field));
        const unit = this.units.get(metric) ?? "";
        const key = `${section.key}|${group?.title ?? ""}|${unit}`;
        let chart = wanted.get(key);
        if (!chart) {
          const title = group?.title ?? section.title;
          chart = { section: section.key, title, unit, metrics: [] };
          wanted.set(key, chart);
        }
        chart.metrics.push(metric);
      }
    }
    for (const chart of wanted.values()) {
      chart.metrics.sort();
      // A chart of one ungrouped metric is named after it.
      if (chart.metrics.length === 1 && !SECTIONS.some((s) => s.groups.some((g) => g.title === chart.title))) {
        chart.title = chart.metrics[0];
      }
    }
    return wanted;
  }

  /** @param {string} metric */
  isPicked(metric) {
    if (this.customPicked) return this.customPicked.has(metric);
    return [...this.customSeen].slice(0, DEFAULT_CUSTOM_PICKS).includes(metric);
  }

  /**
   * Creates the charts that are new or whose lines changed, and removes
   * those nothing feeds any more.
   * @param {Map<string, {section: string, title: string, unit: string, metrics: string[]}>} wanted
   */
  place(wanted) {
    for (const [key, chart] of this.charts) {
      const want = wanted.get(key);
      if (!want || want.metrics.join() !== chart.metrics.join()) {
        chart.plot.destroy();
        chart.element.remove();
        this.charts.delete(key);
      }
    }
    for (const [key, want] of wanted) {
      if (this.charts.has(key)) continue;
      const chart = this.create(key, want);
      this.charts.set(key, chart);
      void this.loadHistory(chart);
    }
    this.showSections(wanted);
  }

  /** @param {Map<string, {section: string}>} wanted */
  showSections(wanted) {
    const present = new Set([...wanted.values()].map((c) => c.section));
    for (const section of SECTIONS) {
      const card = this.card(section);
      const hasCharts = present.has(section.key);
      card.hidden = !hasCharts && !(section.key === "custom" && this.customSeen.size > 0);
    }
    const quiet = SECTIONS.filter((s) => s.key !== "custom" && !present.has(s.key)).map((s) => s.title);
    const note = this.container.querySelector(".quiet-sections") ?? h("p", { class: "quiet-sections muted" });
    note.textContent = quiet.length ? `Nothing reported yet: ${quiet.join(", ")}.` : "";
    this.container.append(note);
    this.showPicker();
  }

  /** @param {Section} section */
  card(section) {
    let card = this.cards.get(section.key);
    if (!card) {
      card = h("article", { class: "card", "data-section": section.key },
        h("h2", {}, section.title),
        h("div", { class: "card-charts" }));
      this.cards.set(section.key, card);
      // Cards keep the sections' order whatever order metrics arrive in.
      const after = SECTIONS.slice(SECTIONS.indexOf(section) + 1)
        .map((s) => this.cards.get(s.key))
        .find((c) => c !== undefined);
      this.container.insertBefore(card, after ?? this.container.querySelector(".quiet-sections"));
    }
    return card;
  }

  showPicker() {
    const card = this.cards.get("custom");
    if (!card || this.customSeen.size === 0) return;
    let picker = /** @type {HTMLDetailsElement|null} */ (card.querySelector("details.picker"));
    if (picker && picker.dataset.count === String(this.customSeen.size)) return;
    const open = picker?.open ?? false;
    const boxes = [...this.customSeen].sort().map((metric) =>
      h("label", {},
        h("input", {
          type: "checkbox", value: metric, checked: this.isPicked(metric),
          onchange: () => this.pick(card),
        }),
        ` ${metric}`));
    const fresh = /** @type {HTMLDetailsElement} */ (h("details", { class: "picker", "data-count": this.customSeen.size },
      h("summary", {}, `Pick metrics (${this.customSeen.size})`),
      h("div", { class: "picker-list" }, ...boxes)));
    fresh.open = open;
    if (picker) picker.replaceWith(fresh); else card.querySelector("h2")?.after(fresh);
  }

  /** @param {HTMLElement} card */
  pick(card) {
    const picked = [...card.querySelectorAll("details.picker input:checked")].map((i) => /** @type {HTMLInputElement} */ (i).value);
    this.customPicked = new Set(picked);
    localStorage.setItem(CUSTOM_SELECTION_KEY, JSON.stringify(picked));
    if (this.latest) this.place(this.layout(this.latest));
  }

  /**
   * @param {string} key
   * @param {{section: string, title: string, unit: string, metrics: string[]}} want
   * @returns {Chart}
   */
  create(key, want) {
    const section = SECTIONS.find((s) => s.key === want.section) ?? SECTIONS[0];
    const card = this.card(section);
    const element = h("figure", { class: "chart", "data-chart": key, "data-metrics": want.metrics.join(",") },
      h("figcaption", {}, want.unit ? `${want.title} (${want.unit})` : want.title));
    // Charts keep a stable order inside their card.
    const siblings = [...card.querySelectorAll(".card-charts > figure")];
    const next = siblings.find((s) => (/** @type {HTMLElement} */ (s).dataset.chart ?? "") > key);
    card.querySelector(".card-charts")?.insertBefore(element, next ?? null);
    const columns = want.metrics.map(() => /** @type {(number|null)[]} */ ([]));
    /** @type {number[]} */
    const xs = [];
    const plot = new uPlot(this.options(want, element), [xs, ...columns], element);
    return { key, unit: want.unit, metrics: want.metrics, element, plot, xs, columns, generation: 0 };
  }

  /**
   * @param {{section: string, unit: string, metrics: string[]}} want
   * @param {HTMLElement} element
   */
  options(want, element) {
    const style = getComputedStyle(document.documentElement);
    const color = (/** @type {string} */ name) => style.getPropertyValue(name).trim();
    const palette = [1, 2, 3, 4, 5, 6].map((i) => color(`--series-${i}`));
    const axis = {
      stroke: color("--muted"),
      grid: { stroke: color("--grid"), width: 1 },
      ticks: { stroke: color("--grid"), width: 1 },
    };
    const unit = want.unit;
    const prefix = want.section === "custom" ? "" : `${want.section}.`;
    return {
      width: Math.max(200, element.clientWidth || 300),
      height: CHART_HEIGHT,
      cursor: { drag: { x: false, y: false } },
      hooks: {
        // When the pointer leaves, the legend goes back to the newest values.
        setCursor: [(/** @type {any} */ u) => {
          if (u.cursor.idx == null && u.data[0].length) u.setLegend({ idx: u.data[0].length - 1 });
        }],
      },
      scales: { x: { time: true } },
      series: [
        { value: (/** @type {any} */ _u, /** @type {number} */ v) => (v == null ? "–" : new Date(v * 1000).toLocaleTimeString()) },
        ...want.metrics.map((metric, i) => ({
          label: metric.startsWith(prefix) ? metric.slice(prefix.length) : metric,
          stroke: palette[i % palette.length],
          width: 1.5,
          value: (/** @type {any} */ _u, /** @type {number|null} */ v) => formatValue(v, unit),
        })),
      ],
      axes: [
        axis,
        {
          ...axis,
          values: (/** @type {any} */ _u, /** @type {number[]} */ ticks) => ticks.map((v) => formatValue(v, unit)),
          // As wide as the longest label, so units are never cut off.
          size: (/** @type {any} */ _u, /** @type {string[]|null} */ labels) =>
            labels ? 20 + 8 * Math.max(4, ...labels.map((l) => l.length)) : 52,
        },
      ],
    };
  }

  /** The range as epoch ms, now. */
  bounds() {
    if (this.range.kind === "between") return { start: this.range.start, end: this.range.end };
    const end = Date.now();
    return { start: end - this.range.span, end };
  }

  /** @param {Chart} chart */
  async loadHistory(chart) {
    chart.generation += 1;
    const generation = chart.generation;
    const { start, end } = this.bounds();
    const step = stepFor(end - start, chart.element.clientWidth, this.tickMs);
    chart.element.dataset.step = String(step);
    chart.element.dataset.loading = "true";
    const answers = await Promise.all(chart.metrics.map((metric) =>
      api(`/api/v1/query_range?${new URLSearchParams({ metric, start: String(start), end: String(end), step: String(step) })}`)
        .catch(() => null)));
    if (generation !== chart.generation || !this.charts.has(chart.key)) return;
    /** @type {Map<number, (number|null)[]>} */
    const rows = new Map();
    answers.forEach((answer, column) => {
      for (const [t, v] of meanOverSeries(answer?.series ?? [])) {
        let row = rows.get(t);
        if (!row) {
          row = chart.metrics.map(() => null);
          rows.set(t, row);
        }
        row[column] = v;
      }
    });
    const historyEnd = rows.size ? Math.max(...rows.keys()) : -Infinity;
    // Live points that arrived while history was read stay, after it.
    chart.xs.forEach((x, i) => {
      const t = x * 1000;
      if (t > historyEnd && t >= start) rows.set(t, chart.columns.map((c) => c[i]));
    });
    const times = [...rows.keys()].sort((a, b) => a - b);
    chart.xs.length = 0;
    chart.columns.forEach((c) => { c.length = 0; });
    for (const t of times) {
      chart.xs.push(t / 1000);
      const row = rows.get(t) ?? [];
      chart.columns.forEach((c, i) => c.push(row[i] ?? null));
    }
    chart.element.dataset.range = this.range.kind === "last" ? String(this.range.span) : `${start}-${end}`;
    delete chart.element.dataset.loading;
    this.redraw(chart, start, end);
  }

  /** @param {any} snapshot */
  append(snapshot) {
    const t = snapshot.timestamp;
    const oldest = (t - (this.range.kind === "last" ? this.range.span : 0)) / 1000;
    for (const chart of this.charts.values()) {
      const x = t / 1000;
      if (chart.xs.length && chart.xs[chart.xs.length - 1] >= x) continue;
      chart.xs.push(x);
      chart.metrics.forEach((metric, i) => chart.columns[i].push(valueOf(snapshot, metric)));
      let drop = 0;
      while (drop < chart.xs.length && chart.xs[drop] < oldest) drop += 1;
      if (drop) {
        chart.xs.splice(0, drop);
        chart.columns.forEach((c) => c.splice(0, drop));
      }
      this.redraw(chart, t - (this.range.kind === "last" ? this.range.span : 0), t);
    }
  }

  /**
   * @param {Chart} chart
   * @param {number} start
   * @param {number} end
   */
  redraw(chart, start, end) {
    chart.plot.setData([chart.xs, ...chart.columns], false);
    // Time to first chart, for the page benchmark (and anyone's devtools).
    if (chart.xs.length && performance.getEntriesByName(FIRST_CHART_MARK).length === 0) {
      performance.mark(FIRST_CHART_MARK);
    }
    chart.plot.setScale("x", { min: start / 1000, max: end / 1000 });
    // Outside a hover the legend shows the newest values.
    if (chart.xs.length && !(chart.plot.cursor.left >= 0)) chart.plot.setLegend({ idx: chart.xs.length - 1 });
    chart.element.dataset.points = String(chart.xs.length);
    chart.element.dataset.last = chart.xs.length ? String(chart.xs[chart.xs.length - 1] * 1000) : "";
  }

  resize() {
    for (const chart of this.charts.values()) {
      const width = chart.element.clientWidth;
      if (width > 0 && width !== chart.plot.width) chart.plot.setSize({ width, height: CHART_HEIGHT });
    }
  }

  /** Every chart made anew (the colour scheme changed). */
  rebuild() {
    for (const chart of this.charts.values()) {
      chart.plot.destroy();
      chart.element.remove();
    }
    this.charts.clear();
    if (this.latest) this.place(this.layout(this.latest));
  }
}

/**
 * A metric's value in a snapshot.
 * @param {any} snapshot
 * @param {string} metric
 * @returns {number|null}
 */
function valueOf(snapshot, metric) {
  const dot = metric.indexOf(".");
  const section = metric.slice(0, dot);
  const inSection = SECTIONS.some((s) => s.key === section && s.key !== "custom");
  const value = inSection ? snapshot[section]?.[metric.slice(dot + 1)] : snapshot.custom?.[metric];
  return typeof value === "number" ? value : null;
}

/**
 * One line from a range answer's series, as the snapshot shows a metric:
 * the unlabelled series when there is one, else the mean of all series
 * at each step.
 * @param {{labels: Record<string, string>, points: [number, number][]}[]} series
 * @returns {[number, number][]}
 */
function meanOverSeries(series) {
  const plain = series.find((s) => Object.keys(s.labels).length === 0);
  if (plain) return plain.points;
  /** @type {Map<number, [number, number]>} */
  const sums = new Map();
  for (const s of series) {
    for (const [t, v] of s.points) {
      const sum = sums.get(t) ?? [0, 0];
      sum[0] += v;
      sum[1] += 1;
      sums.set(t, sum);
    }
  }
  return [...sums].map(([t, [total, count]]) => [t, total / count]);
}

