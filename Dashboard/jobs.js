// Jobs: the history from MongoDB (GET /v1/jobs) with filters and cursor paging; matching job events
// from the feed update rows and add new jobs at the top without a reload. Bulk retry / cancel on a
// selection or on everything matching the filter. Job detail: payload, result, the attempts
// timeline, and cancel / retry / edit (PATCH /v1/jobs/{id}, when the server has it).
import { get, post, patch, query, hasOperation } from "./api.js";
import { openFeed } from "./feed.js";
import { el, attempt, notify, time, duration, stateChip, jobLink, pretty, table } from "./ui.js";

const STATES = ["", "scheduled", "queued", "running", "retrying", "succeeded", "dead", "cancelled"];

function filtersFromHash() {
  const search = location.hash.split("?")[1] || "";
  return Object.fromEntries(new URLSearchParams(search));
}

export function jobs(main) {
  const filters = filtersFromHash();
  const field = (name, label, input) => el("div", {}, el("label", { for: "jf-" + name }, label), input);
  const form = el("form", { class: "filters", id: "job-filters" },
    field("state", "State", el("select", { id: "jf-state", name: "state" },
      STATES.map((s) => el("option", { value: s, selected: filters.state === s }, s || "any")))),
    field("type", "Type", el("input", { id: "jf-type", name: "type", value: filters.type || "", size: 12 })),
    field("queue", "Queue", el("input", { id: "jf-queue", name: "queue", value: filters.queue || "", size: 10 })),
    field("since", "From", el("input", { id: "jf-since", name: "since", type: "datetime-local", value: filters.since || "" })),
    field("until", "To", el("input", { id: "jf-until", name: "until", type: "datetime-local", value: filters.until || "" })),
    field("q", "Error text", el("input", { id: "jf-q", name: "q", value: filters.q || "", size: 14 })),
    el("button", { type: "submit", class: "primary" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    location.hash = "#/jobs" + query(values);
  });
  const status = el("p", { class: "muted", id: "jobs-status" }, "Loading…");
  const body = el("tbody", { id: "jobs-body" });
  const selectAll = el("input", { type: "checkbox", "aria-label": "Select all shown jobs" });
  selectAll.addEventListener("change", () => body.querySelectorAll("input[type=checkbox]").forEach((box) => (box.checked = selectAll.checked)));
  const selected = () => [...body.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
  const bulk = (label, action) => el("button", { type: "button", onclick: action }, label);
  const toolbar = el("div", { class: "toolbar" },
    bulk("Retry selected", () => bulkAction("retry", selected())),
    bulk("Cancel selected", () => bulkAction("cancel", selected())),
    bulk("Retry all matching", async () => bulkAction("retry", await allMatching())),
    bulk("Cancel all matching", async () => bulkAction("cancel", await allMatching())));
  const pager = el("div", { class: "pager" });
  main.append(el("h1", {}, "Jobs"), form, toolbar, status,
    el("div", { class: "panel" }, el("table", { "aria-label": "Jobs" },
      el("thead", {}, el("tr", {}, el("th", {}, selectAll), ["Id", "Type", "Queue", "Priority", "State", "Attempts", "Updated", "Last error"]
        .map((h) => el("th", { scope: "col", class: ["Priority", "Updated"].includes(h) ? "hide-narrow" : null }, h)))),
      body)), pager);

  const apiFilters = () => {
    const values = { state: filters.state, type: filters.type, queue: filters.queue, q: filters.q };
    if (filters.since) values.since = new Date(filters.since).toISOString();
    if (filters.until) values.until = new Date(filters.until).toISOString();
    return values;
  };
  const rows = new Map();
  function row(job, fresh) {
    const tr = el("tr", { class: fresh ? "new" : null, dataset: { id: job.id } },
      el("td", {}, el("input", { type: "checkbox", value: job.id, "aria-label": "Select job " + job.id })),
      el("td", {}, jobLink(job.id)), el("td", {}, job.type || ""), el("td", {}, job.queue || ""),
      el("td", { class: "hide-narrow" }, job.priority || ""), el("td", { class: "state-cell" }, stateChip(job.state)),
      el("td", { class: "num" }, job.attempts ?? Object.keys(job.attempts_detail || {}).length ?? ""),
      el("td", { class: "hide-narrow" }, time(job.updated_at)), el("td", { class: "error" }, (job.last_error || "").slice(0, 120)));
    rows.set(job.id, tr);
    return tr;
  }
  async function load(cursor) {
    const page = await attempt(() => get("/v1/jobs" + query({ ...apiFilters(), limit: 50, cursor })));
    if (!page) { status.textContent = "Could not load the history."; return; }
    if (!cursor) { body.replaceChildren(); rows.clear(); }
    for (const job of page.jobs) {
      job.attempts = typeof job.attempts === "object" ? Object.keys(job.attempts || {}).length : job.attempts;
      body.append(row(job));
    }
    status.textContent = rows.size === 0 ? "No jobs match." : `${rows.size} jobs shown; new matching jobs appear live.`;
    pager.replaceChildren(page.next_cursor ? el("button", { type: "button", onclick: () => load(page.next_cursor) }, "Older jobs") : "");
  }
  async function allMatching() {
    const ids = [];
    let cursor;
    do {
      const page = await get("/v1/jobs" + query({ ...apiFilters(), limit: 1000, cursor }));
      ids.push(...page.jobs.map((job) => job.id));
      cursor = page.next_cursor;
    } while (cursor && ids.length < 10000);
    return ids;
  }
  async function bulkAction(action, ids) {
    if (!ids.length) return notify("Select jobs first.");
    if (!confirm(`${action} ${ids.length} job(s)?`)) return;
    let done = 0;
    const failures = [];
    for (const id of ids) {
      try { await post(`/v1/jobs/${encodeURIComponent(id)}/${action}`); done += 1; } catch (error) { failures.push(`${id}: ${error.message}`); }
    }
    notify(`${action}: ${done} of ${ids.length} done` + (failures.length ? `; ${failures.length} refused (${failures[0]})` : ""),
      failures.length ? "error" : "info");
  }
  load();
  // Live: filters the feed can apply are sent with it; the rest is checked here.
  const feed = openFeed({ kinds: "job", type: filters.type, queue: filters.queue }, (message) => {
    if (message.kind !== "job") return;
    if (filters.q || filters.since || filters.until) return;
    const existing = rows.get(message.id);
    if (existing) {
      if (message.state) existing.querySelector(".state-cell").replaceChildren(stateChip(message.state));
      if (message.attempt) existing.children[6].textContent = message.attempt;
      if (message.error) existing.children[8].textContent = message.error.slice(0, 120);
      if (filters.state && message.state && message.state !== filters.state) existing.classList.add("muted");
    } else if (message.event === "enqueued" && (!filters.state || filters.state === message.state)) {
      body.prepend(row({ id: message.id, type: message.type, queue: message.queue, priority: message.priority,
        state: message.state, attempts: 0, updated_at: message.at }, true));
      status.textContent = `${rows.size} jobs shown; new matching jobs appear live.`;
    }
  });
  return () => feed.close();
}

export function jobDetail(main, id) {
  main.append(el("p", { class: "muted" }, "Loading job " + id + "…"));
  let feed;
  async function render() {
    const job = await attempt(() => get("/v1/jobs/" + encodeURIComponent(id)));
    main.replaceChildren(el("h1", {}, "Job ", el("span", { class: "mono" }, id)));
    if (!job) { main.append(el("p", { class: "error" }, "This job could not be loaded.")); return; }
    const history = job.source === "history";
    const attempts = history ? Object.entries(job.attempts || {}).sort((a, b) => a[0] - b[0]) : [];
    const actions = el("div", { class: "toolbar" },
      el("button", { type: "button", id: "job-cancel", onclick: () => act("cancel") }, "Cancel"),
      el("button", { type: "button", id: "job-retry", onclick: () => act("retry") }, "Retry"));
    main.append(
      el("div", { class: "panel" }, el("dl", { class: "props" },
        prop("State", stateChip(job.state)), prop("Type", job.type), prop("Queue", job.queue), prop("Priority", job.priority),
        prop("Attempts", history ? attempts.length : `${job.attempts} of ${job.max_attempts}`),
        prop("Run at", time(job.run_at)), prop("Created", time(job.created_at)), prop("Finished", time(job.finished_at)),
        prop("Worker", job.worker), prop("Last error", job.last_error), prop("Source", history ? "history (MongoDB)" : "live (Redis)"))),
      actions,
      el("h2", {}, "Payload"), pretty(job.payload), el("h2", {}, "Result"), pretty(job.result));
    const timeline = job.timeline || [];
    main.append(el("h2", {}, "Attempts"));
    if (attempts.length) {
      main.append(el("div", { class: "panel" }, table(["#", "Worker", "Started", "Run time", "Queue wait", "Error"],
        attempts.map(([n, a]) => el("tr", {}, el("td", {}, n), el("td", { class: "mono" }, a.worker || ""), el("td", {}, time(a.started_at)),
          el("td", {}, duration(a.duration_ms)), el("td", {}, duration(a.queued_ms)), el("td", { class: "error" }, a.error || ""))),
        { label: "Attempts" })));
    }
    main.append(el("div", { class: "panel" }, timeline.length === 0 ? el("p", { class: "muted" }, "No timeline yet (history may lag).") :
      table(["When", "Event", "Attempt", "Worker", "Details"], timeline.map((e) => el("tr", {},
        el("td", {}, time(e.ts)), el("td", {}, e.event), el("td", {}, e.attempt ?? ""), el("td", { class: "mono" }, e.worker || ""),
        el("td", { class: "error" }, e.error || e.reason || (e.duration_ms !== undefined ? "ran " + duration(e.duration_ms) : "")))),
      { label: "Timeline" })));
    if (await hasOperation("PATCH", "/v1/jobs/{id}")) main.append(editForm(job));
    else main.append(el("p", { class: "muted", id: "edit-unavailable" }, "Editing needs PATCH /v1/jobs/{id}, which this server does not offer yet."));
  }
  function prop(label, value) { return [el("dt", {}, label), el("dd", {}, value ?? "–")]; }
  async function act(action) {
    if (await attempt(() => post(`/v1/jobs/${encodeURIComponent(id)}/${action}`), `Job ${action === "cancel" ? "cancelled" : "retried"}.`)) render();
  }
  function editForm(job) {
    const payload = el("textarea", { id: "edit-payload", "aria-describedby": "edit-payload-error" }, JSON.stringify(job.payload, null, 2));
    const payloadError = el("p", { id: "edit-payload-error", class: "error", role: "status" });
    payload.addEventListener("input", () => {
      try { JSON.parse(payload.value); payload.removeAttribute("aria-invalid"); payloadError.textContent = ""; } catch (error) {
        payload.setAttribute("aria-invalid", "true"); payloadError.textContent = "Not JSON: " + error.message;
      }
    });
    const form = el("form", { class: "panel", id: "edit-form" }, el("h2", {}, "Edit (pending jobs only)"),
      el("div", { class: "grid2" },
        el("div", {}, el("label", { for: "edit-priority" }, "Priority"), el("select", { id: "edit-priority" },
          ["high", "normal", "low"].map((p) => el("option", { value: p, selected: job.priority === p }, p)))),
        el("div", {}, el("label", { for: "edit-delay" }, "Run in (ms from now, empty: unchanged)"), el("input", { id: "edit-delay", type: "number", min: 0 }))),
      el("label", { for: "edit-payload" }, "Payload (JSON)"), payload, payloadError,
      el("button", { type: "submit", class: "primary", id: "edit-save" }, "Save changes"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const change = { priority: form.querySelector("#edit-priority").value };
      const delay = form.querySelector("#edit-delay").value;
      if (delay !== "") change.delay_ms = Number(delay);
      try { change.payload = JSON.parse(payload.value); } catch (error) { return notify("The payload is not JSON: " + error.message); }
      if (await attempt(() => patch("/v1/jobs/" + encodeURIComponent(id), change), "Job updated.")) render();
    });
    return form;
  }
  render();
  feed = openFeed({ kinds: "job", job: id }, (message) => { if (message.kind === "job") render(); });
  return () => feed.close();
}
