// @ts-check
// The host's REST API, with the bearer token this tab was given (kept in
// sessionStorage, so it is gone when the tab closes).

const TOKEN_KEY = "perfwatch.token";

/** Thrown when the host asks for a token; the page shows its dialog. */
export class AuthRequired extends Error {}

/** @type {Set<() => void>} */
const authListeners = new Set();

/** The token this tab uses, or "". */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

/** @param {string} value */
export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Called when a request or the stream is refused for want of a token.
 * @param {() => void} listener
 */
export function onAuthRequired(listener) {
  authListeners.add(listener);
}

export function authRequired() {
  for (const listener of authListeners) listener();
}

/**
 * A JSON request; the answer's `error` becomes the thrown message.
 * @param {string} path
 * @param {{method?: string, body?: unknown}} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(path, {
    method: options.method ?? "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 401) {
    authRequired();
    throw new AuthRequired("this monitor needs a token");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const reason = data && typeof data.error === "string" ? data.error : `${response.status} ${response.statusText}`;
    throw new Error(reason);
  }
  return data;
}
