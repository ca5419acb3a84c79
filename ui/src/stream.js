// @ts-check
// The live stream (`/ws`): reconnects with backoff after any loss, and
// treats a silent socket as lost, so a host that restarted or a network
// that dropped the connection without a close is noticed.

import { token } from "./api.js";

const FIRST_RETRY_MS = 1000;
const LONGEST_RETRY_MS = 30_000;
/** A socket with no message for this long is closed and reopened. */
const SILENCE_LIMIT_MS = 45_000;
/** How often the page says it is alive (the host answers `pong`). */
const PING_EVERY_MS = 30_000;

/**
 * @typedef {"connecting"|"live"|"reconnecting"|"auth"} ConnectionState
 * @typedef {{state: ConnectionState, retryInMs?: number, attempt?: number, reason?: string, refused?: boolean}} ConnectionStatus
 *   `refused`: the socket closed before it opened (the host is down, or
 *   refused the upgrade: a browser is not told which).
 */

export class Stream {
  /**
   * @param {(message: {type: string, data: any}) => void} onMessage
   * @param {(status: ConnectionStatus) => void} onStatus
   */
  constructor(onMessage, onStatus) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    /** @type {WebSocket|null} */
    this.socket = null;
    this.attempt = 0;
    /** @type {number|undefined} */
    this.retryTimer = undefined;
    /** @type {number|undefined} */
    this.silenceTimer = undefined;
    /** @type {number|undefined} */
    this.pingTimer = undefined;
    this.stopped = false;
  }

  connect() {
    this.stopped = false;
    window.clearTimeout(this.retryTimer);
    this.onStatus({ state: this.attempt === 0 ? "connecting" : "reconnecting", attempt: this.attempt });
    const url = new URL("/ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const bearer = token();
    // Browsers cannot set headers on a WebSocket; the token travels as a
    // second subprotocol, and the host answers with `perfwatch`.
    const socket = bearer ? new WebSocket(url, ["perfwatch", `bearer.${bearer}`]) : new WebSocket(url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("message", (event) => {
      this.heard();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "initial_data") {
        this.attempt = 0;
        this.onStatus({ state: "live" });
      }
      this.onMessage(message);
    });
    socket.addEventListener("open", () => {
      opened = true;
      this.heard();
      window.clearInterval(this.pingTimer);
      this.pingTimer = window.setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
    });
    socket.addEventListener("close", (event) => this.lost(socket, event.reason, !opened));
  }

  /** @param {unknown} message */
  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Closes for good (until `connect` is called again). */
  stop() {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    this.socket?.close();
  }

  heard() {
    window.clearTimeout(this.silenceTimer);
    this.silenceTimer = window.setTimeout(() => this.socket?.close(), SILENCE_LIMIT_MS);
  }

  /**
   * @param {WebSocket} socket
   * @param {string} reason
   * @param {boolean} refused
   */
  lost(socket, reason, refused) {
    if (socket !== this.socket) return;
    window.clearTimeout(this.silenceTimer);
    window.clearInterval(this.pingTimer);
    this.socket = null;
    if (this.stopped) return;
    this.attempt += 1;
    const backoff = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.attempt - 1));
    // Jitter, so a thousand pages do not all come back in the same second.
    const retryInMs = Math.round(backoff * (0.5 + Math.random() / 2));
    this.onStatus({ state: "reconnecting", retryInMs, attempt: this.attempt, reason, refused });
    this.retryTimer = window.setTimeout(() => this.connect(), retryInMs);
  }
}
