// Dead letters: the dead-letter set (GET /v1/dead, cursor-paged), inspect a job, retry one,
// the selected ones or all, delete one. New dead jobs appear live (feed, states=dead).
import { get, post, del, query } from "./api.js";
import { openFeed } from "./feed.js";
import { el, attempt, notify, time, jobLink } from "./ui.js";

export function dead(main) {
  const body = el("tbody", { id: "dead-body" });
  const status = el("p", { class: "muted", id: "dead-status" }, "Loading…");
  const pager = el("div", { class: "pager" });
  const selected = () => [...body.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
  main.append(el("h1", {}, "Dead letters"),
    el("div", { class: "toolbar" },
      el("button", { type: "button", id: "dead-retry-selected", onclick: () => retry(selected()) }, "Retry selected"),
      el("button", { type: "button", id: "dead-retry-all", class: "danger", onclick: retryAll }, "Retry all")),
    status,
    el("div", { class: "panel" }, el("table", { "aria-label": "Dead jobs" },
      el("thead", {}, el("tr", {}, ["", "Id", "Type", "Queue", "Attempts", "Died", "Error", ""].map((h) => el("th", { scope: "col" }, h)))), body)),
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
