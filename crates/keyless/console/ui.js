// Small DOM helpers. Everything the server or the user supplies goes in as text nodes, never
// as HTML.

/** h('div', {class: 'x', onclick: f}, child, ...) — children are nodes, strings or arrays. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== 'string') el[name] = value;
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces `el`'s children; null/false/undefined entries are skipped (the DOM would print "null"). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** An error banner: the server's Code in bold, then its Message verbatim. */
export function errorBanner(err, context) {
  return h('div', { class: 'banner error', role: 'alert' },
    context ? h('span', { class: 'context' }, `${context}: `) : null,
    h('strong', { class: 'code' }, err.code || err.name || 'Error'),
    ' ',
    h('span', { class: 'message' }, err.message || String(err)));
}

export const notice = (text, kind = 'info') => h('div', { class: `banner ${kind}`, role: 'status' }, text);

export function formatSize(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** A table with a header row; `rows` are arrays of cells (nodes or strings). */
export function table(headers, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

/** Saves a Blob as a file named `name` (a temporary object URL, revoked afterwards). */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
