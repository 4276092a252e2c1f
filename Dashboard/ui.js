// Small DOM helpers shared by the pages: element building, times, states, errors in words.

/** Creates an element: el("td", { class: "num" }, "text", child…). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Shows a message in words at the bottom right for a few seconds. */
export function notify(text, kind = "error") {
  const box = document.getElementById("errors");
  const item = el("div", { class: "message " + kind }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 3000);
}

/** Runs an action, showing its error in words. */
export async function attempt(action, success) {
  try {
    const result = await action();
    if (success) notify(success, "info");
    return result;
  } catch (error) {
    notify(error.message || String(error));
    return undefined;
  }
}

export function time(value) {
  if (!value) return "";
  const date = new Date(value);
  return isNaN(date) ? String(value) : date.toLocaleString();
}

export function age(milliseconds) {
  if (milliseconds === undefined || milliseconds === null) return "";
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.round(seconds / 60) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

export function duration(milliseconds) {
  if (milliseconds === undefined || milliseconds === null || isNaN(milliseconds)) return "–";
  if (milliseconds < 1000) return Math.round(milliseconds) + " ms";
  return (milliseconds / 1000).toFixed(milliseconds < 10000 ? 2 : 1) + " s";
}

export function stateChip(state) {
  return el("span", { class: "state state-" + (state || "unknown") }, state || "–");
}

export function jobLink(id) {
  return el("a", { href: "#/jobs/" + encodeURIComponent(id), class: "mono" }, id);
}

export function pretty(value) {
  return el("pre", {}, value === undefined || value === null ? "null" : JSON.stringify(value, null, 2));
}

/** A table with a header row; `rows` are arrays of cells (nodes or text). */
export function table(headings, rows, options = {}) {
  return el("table", { "aria-label": options.label },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col", class: h.num ? "num" : null }, h.text ?? h)))),
    el("tbody", {}, rows));
}

export function card(label, value, id) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value", id }, value));
}

export function number(value) {
  return value === undefined || value === null ? "–" : Number(value).toLocaleString();
}

/**
 * Runs one request per id, `limit` at a time (the API has no bulk endpoint for it), and reports in
 * words in `region` (an aria-live element): progress while it runs, with a Stop button, then a
 * summary that stays there and is also notified. `action(id)` returns a promise; a 404 counts as
 * `missing` (the job was not there, e.g. no longer a dead letter) rather than a failure; a 429 (rate
 * limit) waits a second and tries again, up to three times.
 * `words` = { doing: "Deleting from dead letters", done: "deleted from dead letters", missing: "were
 * not in dead letters" }. Resolves to { done: [ids], missing: [ids], failures: [[id, message]], stopped }.
 */
export async function runBounded(ids, action, region, words, limit = 8) {
  const result = { done: [], missing: [], failures: [], stopped: false };
  let next = 0;
  const stop = el("button", { type: "button", class: "stop-bulk", onclick: () => { result.stopped = true; } }, "Stop");
  const text = el("span", {});
  const show = () => {
    const finished = result.done.length + result.missing.length + result.failures.length;
    text.textContent = `${words.doing}: ${finished} of ${ids.length} answered, ${result.done.length} ${words.done}` +
      (result.missing.length ? `, ${result.missing.length} ${words.missing}` : "") +
      (result.failures.length ? `, ${result.failures.length} refused` : "") + "…";
  };
  region.replaceChildren(text, " ", stop);
  show();
  async function one(id) {
    for (let tries = 0; ; tries += 1) {
      try {
        await action(id);
        result.done.push(id);
        return;
      } catch (error) {
        if (error.status === 429 && tries < 3 && !result.stopped) { await new Promise((r) => setTimeout(r, 1000)); continue; }
        if (error.status === 404) result.missing.push(id);
        else result.failures.push([id, error.message || String(error)]);
        return;
      }
    }
  }
  async function lane() {
    while (next < ids.length && !result.stopped) {
      await one(ids[next++]);
      show();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, ids.length) }, lane));
  const untried = ids.length - result.done.length - result.missing.length - result.failures.length;
  const summary = `${result.done.length} of ${ids.length} ${words.done}` +
    (result.missing.length ? `; ${result.missing.length} ${words.missing}` : "") +
    (result.failures.length ? `; ${result.failures.length} refused (first: ${result.failures[0][0]}: ${result.failures[0][1]})` : "") +
    (result.stopped ? `; stopped, ${untried} not tried` : "") + ".";
  region.replaceChildren(summary);
  notify(summary, result.failures.length || result.stopped ? "error" : "info");
  return result;
}
