// @ts-check
// The dashboard: wires the stream, the charts, the panels and the range
// picker together. Everything it shows comes from this host; nothing is
// fetched from anywhere else.

import { api, AuthRequired, forgetToken, onAuthRequired, setToken, token } from "./api.js";
import { ChartBoard, SPANS } from "./charts.js";
import { AlertsPanel, showBottlenecks, showHealth, showStatus } from "./panels.js";
import { Stream } from "./stream.js";

/** Panels read over REST are refreshed at most this often from stream events. */
const PANEL_REFRESH_MS = 5000;

/** @param {string} id */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

const board = new ChartBoard(byId("charts"));
const alerts = new AlertsPanel(
  byId("alerts-body"),
  /** @type {HTMLDetailsElement} */ (byId("silences")),
  /** @type {HTMLDetailsElement} */ (byId("alert-history")),
);
const bottlenecksBody = byId("bottlenecks-body");
const statusBody = byId("status-body");
const connection = byId("connection");
const health = byId("health");
/** @type {{plugins?: any[], rules?: any}} */
const status = {};

/**
 * Runs `task` now unless it ran less than `ms` ago, in which case once
 * more when that time is up.
 * @param {() => Promise<void>|void} task
 * @param {number} ms
 */
function throttled(task, ms) {
  let last = 0;
  /** @type {number|undefined} */
  let pending;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      void task();
    } else if (pending === undefined) {
      pending = window.setTimeout(() => {
        pending = undefined;
        last = Date.now();
        void task();
      }, wait);
    }
  };
}

const refreshAlerts = throttled(() => alerts.refresh(), 1000);
const refreshBottlenecks = throttled(() => showBottlenecks(bottlenecksBody), PANEL_REFRESH_MS);

async function refreshRules() {
  try {
    status.rules = await api("/api/v1/rules");
    showStatus(statusBody, status);
  } catch (error) {
    if (!(error instanceof AuthRequired)) console.warn("rules status:", error);
  }
}

/** @param {{type: string, data: any}} message */
function received(message) {
  switch (message.type) {
    case "initial_data": {
      const tick = Number(message.data.config?.update_interval);
      board.setTick(tick);
      status.plugins = message.data.plugins;
      showStatus(statusBody, status);
      void board.update(message.data.current);
      showHealth(health, message.data.current?.health);
      refreshAlerts();
      refreshBottlenecks();
      void refreshRules();
      break;
    }
    case "metrics_update":
      void board.update(message.data);
      showHealth(health, message.data.health);
      // Pending alerts and bottleneck figures change without an event.
      refreshAlerts();
      refreshBottlenecks();
      break;
    case "alert_triggered":
    case "alert_resolved":
      refreshAlerts();
      break;
    case "bottleneck_detected":
    case "bottleneck_resolved":
      refreshBottlenecks();
      break;
    case "plugin_status":
      status.plugins = message.data;
      showStatus(statusBody, status);
      break;
    case "rules_status":
      status.rules = message.data;
      showStatus(statusBody, status);
      break;
    default:
      break;
  }
}

/** @param {import("./stream.js").ConnectionStatus} state */
function connectionChanged(state) {
  document.body.dataset.connection = state.state;
  switch (state.state) {
    case "connecting":
      connection.textContent = "Connecting…";
      break;
    case "live":
      connection.textContent = "Live";
      break;
    case "reconnecting":
      // A refused upgrade looks like a host that is down; the API says
      // which (a 401 opens the token dialog).
      if (state.refused) api("/api/v1/rules").catch(() => {});
      connection.textContent = state.retryInMs === undefined
        ? `Reconnecting (attempt ${state.attempt})…`
        : `Connection lost; reconnecting in ${Math.ceil(state.retryInMs / 1000)} s`;
      break;
    case "auth":
      connection.textContent = "A token is needed";
      break;
  }
}

const stream = new Stream(received, connectionChanged);

// The token dialog: shown when the host answers 401, once at a time.
const dialog = /** @type {HTMLDialogElement} */ (byId("token-dialog"));
const tokenForm = /** @type {HTMLFormElement} */ (byId("token-form"));
const tokenError = byId("token-error");
onAuthRequired(() => {
  if (dialog.open) return;
  if (token()) {
    forgetToken();
    tokenError.hidden = false;
    tokenError.textContent = "The host refused that token.";
  }
  stream.stop();
  connectionChanged({ state: "auth" });
  dialog.showModal();
});
tokenForm.addEventListener("submit", () => {
  const value = String(new FormData(tokenForm).get("token") ?? "").trim();
  if (!value) return;
  setToken(value);
  tokenError.hidden = true;
  tokenForm.reset();
  stream.connect();
});

// The range picker.
const rangeButtons = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll("button[data-range]")]);
const rangeNote = byId("range-note");
for (const button of rangeButtons) {
  button.addEventListener("click", () => {
    const name = /** @type {keyof typeof SPANS} */ (button.dataset.range);
    for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b === button));
    rangeNote.textContent = "";
    board.setRange({ kind: "last", span: SPANS[name] });
  });
}
const customRange = /** @type {HTMLFormElement} */ (byId("custom-range"));
customRange.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(customRange);
  const start = new Date(String(data.get("start"))).getTime();
  const end = new Date(String(data.get("end"))).getTime();
  if (!(start < end)) {
    rangeNote.textContent = "The start must be before the end.";
    return;
  }
  for (const b of rangeButtons) b.setAttribute("aria-pressed", "false");
  rangeNote.textContent = "A fixed range: live points are not added.";
  board.setRange({ kind: "between", start, end });
});

stream.connect();
