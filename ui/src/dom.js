// @ts-check
// Building DOM nodes from data without ever parsing it as HTML: every
// string the host sends (metric names, alert messages, plugin errors) ends
// up in a text node or an attribute value.

/**
 * An element with attributes and children. `on<event>` attributes take
 * listeners; `null`/`false` children are skipped.
 * @param {string} tag
 * @param {Record<string, any>} [attributes]
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/**
 * Replaces the children of `parent`.
 * @param {Element} parent
 * @param {...(Node|string)} children
 */
export function show(parent, ...children) {
  parent.replaceChildren(...children);
}

/** @param {number} ms */
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** @param {number} ms */
export function dateTime(ms) {
  return new Date(ms).toLocaleString([], {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/**
 * "3 min ago", for times close to now.
 * @param {number} ms
 */
export function ago(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

const BINARY_PREFIXES = ["", "Ki", "Mi", "Gi", "Ti"];

/**
 * A value in its unit, shortened for an axis or a legend.
 * @param {number|null|undefined} value
 * @param {string} unit
 */
export function formatValue(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (unit.startsWith("bytes")) {
    let scaled = value;
    let prefix = 0;
    while (Math.abs(scaled) >= 1024 && prefix < BINARY_PREFIXES.length - 1) {
      scaled /= 1024;
      prefix += 1;
    }
    return `${round(scaled)} ${BINARY_PREFIXES[prefix]}B${unit.slice("bytes".length)}`;
  }
  const suffix = unit === "%" ? "%" : unit ? ` ${unit}` : "";
  return `${round(value)}${suffix}`;
}

/** @param {number} value */
function round(value) {
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2).replace(/\.?0+$/, "") || "0";
}

/**
 * `{a: "1", b: "2"}` as `a=1, b=2`.
 * @param {Record<string, string>|undefined} labels
 */
export function labelText(labels) {
  return Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ");
}
