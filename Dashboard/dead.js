// Dead letters: the dead-letter set (GET /v1/dead, cursor-paged), inspect a job, retry one, the
// selected ones or all (POST /v1/dead/retry), delete one, the selected ones or all (DELETE
// /v1/dead/{id} per job, 8 at a time: there is no bulk delete endpoint). Destructive bulk actions ask
// first. New dead jobs appear live (feed, states=dead).
import { get, post, del, query } from "./api.js";
import { openFeed } from "./feed.js";
import { el, attempt, notify, time, jobLink, runBounded } from "./ui.js";

const DELETE_WORDS = { doing: "Deleting", done: "deleted", missing: "already gone" };

export function dead(main) {
  const body = el("tbody", { id: "dead-body" });
  const status = el("p", { class: "muted", id: "dead-status" }, "Loading…");
  const pager = el("div", { class: "pager" });
  const progress = el("p", { class: "muted", id: "dead-bulk-progress", role: "status", "aria-live": "polite" });
  const selected = () => [...body.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
  const selectAll = el("input", { type: "checkbox", id: "dead-select-all", "aria-label": "Select all shown dead jobs" });
  selectAll.addEventListener("change", () => body.querySelectorAll("input[type=checkbox]").forEach((box) => (box.checked = selectAll.checked)));
  const toolbar = el("div", { class: "toolbar" },
    el("button", { type: "button", id: "dead-retry-selected", onclick: () => retry(selected()) }, "Retry selected"),
    el("button", { type: "button", id: "dead-retry-all", class: "danger", onclick: retryAll }, "Retry all"),
    el("button", { type: "button", id: "dead-delete-selected", class: "danger bulk", onclick: () => removeMany(selected()) }, "Delete selected"),
    el("button", { type: "button", id: "dead-delete-all", class: "danger bulk", onclick: () => removeMany(null) }, "Delete all"));
  main.append(el("h1", {}, "Dead letters"), toolbar, progress, status,
    el("div", { class: "panel" }, el("table", { "aria-label": "Dead jobs" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, selectAll),
        ["Id", "Type", "Queue", "Attempts", "Died", "Error", ""].map((h) => el("th", { scope: "col" }, h)))), body)),
    pager);
  const rows = new Map();
  function row(job, fresh) {
    const tr = el("tr", { class: fresh ? "new" : null, dataset: { id: job.id } },
      el("td", {}, el("input", { type: "checkbox", value: job.id, "aria-label": "Select dead job " + job.id })),
      el("td", {}, jobLink(job.id)), el("td", {}, job.type || ""), el("td", {}, job.queue || ""),
      el("td", { class: "num" }, job.attempts ?? job.attempt ?? ""), el("td", {}, time(job.finished_at || job.at)),
      el("td", { class: "error" }, (job.last_error || job.error || "").slice(0, 160)),
      el("td", {}, el("button", { type: "button", class: "retry-one", onclick: () => retry([job.id]) }, "Retry"), " ",
        el("button", { type: "button", class: "danger", onclick: () => remove(job.id) }, "Delete")));
    rows.set(job.id, tr);
    return tr;
  }
  function updateStatus() { status.textContent = rows.size ? `${rows.size} dead jobs shown.` : "No dead jobs."; }
  async function load(cursor) {
    const page = await attempt(() => get("/v1/dead" + query({ limit: 100, cursor })));
    if (!page) return;
    if (!cursor) { body.replaceChildren(); rows.clear(); }
    page.jobs.forEach((job) => body.append(row(job)));
    updateStatus();
    pager.replaceChildren(page.next_cursor ? el("button", { type: "button", onclick: () => load(page.next_cursor) }, "More") : "");
  }
  function drop(ids) { for (const id of ids) { rows.get(id)?.remove(); rows.delete(id); } updateStatus(); }
  async function retry(ids) {
    if (!ids.length) return notify("Select dead jobs first.");
    const result = await attempt(() => post("/v1/dead/retry", { ids }));
    if (!result) return;
    const retried = Object.entries(result.results || {}).filter(([, outcome]) => outcome === "retried").map(([id]) => id);
    notify(`${result.retried} of ${ids.length} retried.`, result.retried === ids.length ? "info" : "error");
    drop(retried);
  }
  async function retryAll() {
    if (!confirm("Retry every dead job?")) return;
    const result = await attempt(() => post("/v1/dead/retry", { all: true }));
    if (result) { notify(`${result.retried} retried.`, "info"); load(); }
  }
  async function remove(id) {
    if (!confirm("Delete dead job " + id + "? Its history stays in MongoDB.")) return;
    if (await attempt(() => del("/v1/dead/" + encodeURIComponent(id)), "Deleted.")) drop([id]);
  }
  let busy = false;
  /** Deletes the given ids, or (null) every dead job, listed page by page first; asks before. */
  async function removeMany(ids) {
    if (busy) return notify("A deletion is still running; wait for it or stop it.");
    if (ids && !ids.length) return notify("Select dead jobs first.");
    busy = true;
    toolbar.querySelectorAll("button.bulk").forEach((button) => (button.disabled = true));
    try {
      if (ids === null) {
        ids = [];
        let cursor;
        do {
          progress.textContent = `Listing dead letters: ${ids.length} so far…`;
          const page = await attempt(() => get("/v1/dead" + query({ limit: 1000, cursor })));
          if (!page) { progress.textContent = "Could not list the dead letters; nothing was deleted."; return; }
          ids.push(...page.jobs.map((job) => job.id));
          cursor = page.next_cursor;
        } while (cursor);
        progress.textContent = "";
        if (!ids.length) return notify("There are no dead jobs.", "info");
      }
      const what = ids.length === 1 ? "1 dead job" : `${ids.length} dead jobs`;
      if (!confirm(`Delete ${what} for good? Their history stays in MongoDB.`)) return;
      const result = await runBounded(ids, (id) => del("/v1/dead/" + encodeURIComponent(id)), progress, DELETE_WORDS);
      drop([...result.done, ...result.missing]);
    } finally {
      busy = false;
      toolbar.querySelectorAll("button.bulk").forEach((button) => (button.disabled = false));
    }
  }
  load();
  const feed = openFeed({ kinds: "job", states: "dead,queued,deleted,dropped" }, (message) => {
    if (message.kind !== "job") return;
    if (message.state === "dead" && !rows.has(message.id)) {
      body.prepend(row({ id: message.id, type: message.type, queue: message.queue, attempt: message.attempt, at: message.at, error: message.error }, true));
      updateStatus();
    } else if (message.state !== "dead" && rows.has(message.id)) {
      drop([message.id]);
    }
  });
  return () => feed.close();
}
