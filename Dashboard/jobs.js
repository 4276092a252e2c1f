// Jobs: the history from MongoDB (GET /v1/jobs) with filters and cursor paging; matching job events
// from the feed update rows and add jobs at the top without a reload. Bulk retry / cancel / delete
// from dead letters on a selection or on everything matching the filter. Job detail: payload,
// result, the attempts timeline, and cancel / retry / edit (PATCH /v1/jobs/{id}).
import { get, post, patch, del, query } from "./api.js";
import { openFeed } from "./feed.js";
import { el, attempt, notify, time, duration, stateChip, jobLink, pretty, table, runBounded } from "./ui.js";

const STATES = ["", "scheduled", "queued", "running", "retrying", "succeeded", "dead", "cancelled"];
/** Bulk actions: one request per job (there is no bulk endpoint for these), 8 at a time. */
const BULK = {
  retry: {
    ask: (n) => `Retry ${n} job(s)?`,
    request: (id) => post(`/v1/jobs/${encodeURIComponent(id)}/retry`),
    words: { doing: "Retrying", done: "retried", missing: "no longer in Redis" },
  },
  cancel: {
    ask: (n) => `Cancel ${n} job(s)?`,
    request: (id) => post(`/v1/jobs/${encodeURIComponent(id)}/cancel`),
    words: { doing: "Cancelling", done: "cancelled", missing: "no longer in Redis" },
  },
  delete: {
    ask: (n) => `Delete ${n} job(s) from dead letters for good? Their history stays in MongoDB.`,
    request: (id) => del(`/v1/dead/${encodeURIComponent(id)}`),
    words: { doing: "Deleting from dead letters", done: "deleted from dead letters", missing: "not in dead letters" },
  },
};
/** "All matching" reads at most this many ids from the history. */
const MATCHING_CAP = 10000;
/** Live checks of jobs the feed alone cannot match (error text, time range): at most this many
 * GET /v1/jobs/{id} a second, two at once; at most MAX_PENDING ids wait, the rest are counted. */
const CHECKS_PER_SECOND = 4;
const CHECKS_IN_FLIGHT = 2;
const MAX_PENDING = 200;

function filtersFromHash() {
  const search = location.hash.split("?")[1] || "";
  return Object.fromEntries(new URLSearchParams(search));
}

export function jobs(main) {
  const filters = filtersFromHash();
  const sinceMs = filters.since ? new Date(filters.since).getTime() : null;
  const untilMs = filters.until ? new Date(filters.until).getTime() : null;
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
  const progress = el("p", { class: "muted", id: "jobs-bulk-progress", role: "status", "aria-live": "polite" });
  const body = el("tbody", { id: "jobs-body" });
  const selectAll = el("input", { type: "checkbox", "aria-label": "Select all shown jobs" });
  selectAll.addEventListener("change", () => body.querySelectorAll("input[type=checkbox]").forEach((box) => (box.checked = selectAll.checked)));
  const selected = () => [...body.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
  const bulk = (id, label, action, danger) => el("button", { type: "button", id, class: danger ? "danger bulk" : "bulk", onclick: action }, label);
  const toolbar = el("div", { class: "toolbar" },
    el("span", { class: "muted" }, "Selected:"),
    bulk("jobs-retry-selected", "Retry", () => bulkAction("retry", selected())),
    bulk("jobs-cancel-selected", "Cancel", () => bulkAction("cancel", selected())),
    bulk("jobs-delete-selected", "Delete from dead letters", () => bulkAction("delete", selected()), true),
    el("span", { class: "muted" }, "All matching the filter:"),
    bulk("jobs-retry-all", "Retry", () => bulkAction("retry", null)),
    bulk("jobs-cancel-all", "Cancel", () => bulkAction("cancel", null)),
    bulk("jobs-delete-all", "Delete from dead letters", () => bulkAction("delete", null), true));
  const pager = el("div", { class: "pager" });
  main.append(el("h1", {}, "Jobs"), form, toolbar, progress, status,
    el("div", { class: "panel" }, el("table", { "aria-label": "Jobs" },
      el("thead", {}, el("tr", {}, el("th", {}, selectAll), ["Id", "Type", "Queue", "Priority", "State", "Attempts", "Updated", "Last error"]
        .map((h) => el("th", { scope: "col", class: ["Priority", "Updated"].includes(h) ? "hide-narrow" : null }, h)))),
      body)), pager);

  const apiFilters = () => {
    const values = { state: filters.state, type: filters.type, queue: filters.queue, q: filters.q };
    if (sinceMs !== null) values.since = new Date(sinceMs).toISOString();
    if (untilMs !== null) values.until = new Date(untilMs).toISOString();
    return values;
  };
  const rows = new Map();
  let skipped = 0;
  let liveProblem = "";
  function updateStatus() {
    status.textContent = (rows.size === 0 ? "No jobs match yet" : `${rows.size} jobs shown`) + "; new matching jobs appear live." +
      (skipped ? ` ${skipped} job events came faster than they could be checked against the filter; reload to see every match.` : "") +
      (liveProblem ? " " + liveProblem : "");
  }
  function row(job, fresh) {
    const tr = el("tr", { class: fresh ? "new" : null, dataset: { id: job.id } },
      el("td", {}, el("input", { type: "checkbox", value: job.id, "aria-label": "Select job " + job.id })),
      el("td", {}, jobLink(job.id)), el("td", {}, job.type || ""), el("td", {}, job.queue || ""),
      el("td", { class: "hide-narrow" }, job.priority || ""), el("td", { class: "state-cell" }, stateChip(job.state)),
      el("td", { class: "num attempts-cell" }, job.attempts ?? ""),
      el("td", { class: "hide-narrow updated-cell" }, time(job.updated_at)), el("td", { class: "error" }, (job.last_error || "").slice(0, 120)));
    rows.set(job.id, tr);
    return tr;
  }
  /** A history document's attempts are a map of attempt number to details; the table shows a count. */
  function counted(job) {
    return { ...job, attempts: job.attempts && typeof job.attempts === "object" ? Object.keys(job.attempts).length : job.attempts };
  }
  /** Shows a change on a row already there, dimming it once it no longer matches the state filter. */
  function update(tr, { state, attempts, error, at }) {
    if (state) tr.querySelector(".state-cell").replaceChildren(stateChip(state));
    if (attempts) tr.querySelector(".attempts-cell").textContent = attempts;
    if (error) tr.querySelector(".error").textContent = error.slice(0, 120);
    if (at) tr.querySelector(".updated-cell").textContent = time(at);
    if (filters.state && state) tr.classList.toggle("muted", state !== filters.state);
  }
  function addLive(job) {
    body.prepend(row(job, true));
    updateStatus();
  }
  async function load(cursor) {
    const page = await attempt(() => get("/v1/jobs" + query({ ...apiFilters(), limit: 50, cursor })));
    if (!page) { status.textContent = "Could not load the history."; return; }
    // Rows the feed added while this page loaded stay; the page skips them.
    for (const job of page.jobs) if (!rows.has(job.id)) body.append(row(counted(job)));
    updateStatus();
    pager.replaceChildren(page.next_cursor ? el("button", { type: "button", onclick: () => load(page.next_cursor) }, "Older jobs") : "");
  }
  async function allMatching(action) {
    const values = apiFilters();
    if (action === "delete") {
      // Only dead jobs are dead letters: narrow the filter rather than send requests bound to fail.
      if (values.state && values.state !== "dead") {
        notify(`Only dead jobs can be deleted from dead letters; the filter shows ${values.state} jobs.`);
        return null;
      }
      values.state = "dead";
    }
    const ids = [];
    let cursor;
    progress.textContent = "Listing the jobs that match the filter…";
    do {
      const page = await attempt(() => get("/v1/jobs" + query({ ...values, limit: 1000, cursor })));
      if (!page) { progress.textContent = "Could not list the jobs that match the filter."; return null; }
      ids.push(...page.jobs.map((job) => job.id));
      cursor = page.next_cursor;
    } while (cursor && ids.length < MATCHING_CAP);
    progress.textContent = "";
    return { ids, capped: Boolean(cursor) };
  }
  let busy = false;
  async function bulkAction(action, ids) {
    if (busy) return notify("A bulk action is still running; wait for it or stop it.");
    busy = true;
    toolbar.querySelectorAll("button.bulk").forEach((button) => (button.disabled = true));
    try {
      let capped = false;
      if (ids === null) {
        const matching = await allMatching(action);
        if (!matching) return;
        ({ ids, capped } = matching);
        if (!ids.length) return notify(action === "delete" ? "No dead job matches the filter." : "No job matches the filter.");
      } else if (!ids.length) {
        return notify("Select jobs first.");
      }
      const spec = BULK[action];
      if (!confirm(spec.ask(ids.length) + (capped ? ` (only the newest ${MATCHING_CAP.toLocaleString()} matching jobs; run it again for the rest)` : ""))) return;
      const result = await runBounded(ids, spec.request, progress, spec.words);
      if (action === "delete") for (const id of result.done) { const tr = rows.get(id); if (tr) update(tr, { state: "deleted" }); }
    } finally {
      busy = false;
      toolbar.querySelectorAll("button.bulk").forEach((button) => (button.disabled = false));
    }
  }
  load();

  // Live. The feed applies the type and queue filters; the rest is decided here. A job event adds a
  // row when it puts its job in the filtered state (without a state filter: when a job is enqueued),
  // and when the remaining filters (error text, time range) match. An enqueued job's creation time is
  // the event's and it has no error yet, so it is decided at once; for others, only the job itself
  // (GET /v1/jobs/{id}) knows its error and creation time: those ids wait in `pending` (one entry per
  // job, the newest event winning) and are checked at most CHECKS_PER_SECOND a second.
  const pending = new Map();
  let inFlight = 0;
  const inRange = (ms) => (sinceMs === null || ms >= sinceMs) && (untilMs === null || ms < untilMs);
  const matches = (job) => (!filters.state || job.state === filters.state) && (!filters.type || job.type === filters.type) &&
    (!filters.queue || job.queue === filters.queue) && (!filters.q || (job.last_error || "").toLowerCase().includes(filters.q.toLowerCase())) &&
    inRange(Date.parse(job.created_at));
  function fromMessage(message) {
    return { id: message.id, type: message.type, queue: message.queue, priority: message.priority, state: message.state,
      attempts: message.attempt ?? 0, updated_at: message.at, last_error: message.error };
  }
  async function check(id) {
    inFlight += 1;
    try {
      const job = await get("/v1/jobs/" + encodeURIComponent(id));
      liveProblem = "";
      if (rows.has(id)) update(rows.get(id), { state: job.state });
      else if (matches(job)) addLive(counted(job));
    } catch (error) {
      if (error.status !== 404) { liveProblem = `Checking job ${id} against the filter failed: ${error.message}`; updateStatus(); }
    } finally {
      inFlight -= 1;
    }
  }
  const pump = setInterval(() => {
    if (inFlight >= CHECKS_IN_FLIGHT || pending.size === 0) return;
    const [id] = pending.keys();
    pending.delete(id);
    if (!rows.has(id)) check(id);
  }, 1000 / CHECKS_PER_SECOND);
  const feed = openFeed({ kinds: "job", type: filters.type, queue: filters.queue }, (message) => {
    if (message.kind !== "job") return;
    const existing = rows.get(message.id);
    if (existing) {
      update(existing, { state: message.state, attempts: message.attempt, error: message.error, at: message.at });
      return;
    }
    if (filters.state ? message.state !== filters.state : message.event !== "enqueued") return;
    if (message.event === "enqueued") {
      // Just created: its creation time is the event's, and it has no error to match.
      if (filters.q || !inRange(Date.parse(message.at))) return;
      return addLive(fromMessage(message));
    }
    if (!filters.q && sinceMs === null && untilMs === null) return addLive(fromMessage(message));
    if (pending.has(message.id) || pending.size < MAX_PENDING) pending.set(message.id, message);
    else { skipped += 1; updateStatus(); }
  });
  return () => { feed.close(); clearInterval(pump); };
}

export function jobDetail(main, id) {
  const summary = el("div", { id: "job-summary" }, el("p", { class: "muted" }, "Loading job " + id + "…"));
  const editHolder = el("div", { id: "job-edit" });
  main.append(el("h1", {}, "Job ", el("span", { class: "mono" }, id)), summary, editHolder);
  // The edit form survives live updates: it is rebuilt from the job only while the user is not
  // editing it (no change made, focus elsewhere); otherwise it stays as typed and says what changed.
  let edit = null;
  let closed = false;
  let rendering = null;
  let again = false;

  /** Renders now, or once more after the render in progress: events coalesce, one fetch at a time. */
  function render() {
    if (rendering) { again = true; return rendering; }
    rendering = (async () => {
      do { again = false; await renderOnce(); } while (again && !closed);
      rendering = null;
    })();
    return rendering;
  }
  async function renderOnce() {
    const job = await attempt(() => get("/v1/jobs/" + encodeURIComponent(id)));
    if (closed) return;
    if (!job) {
      summary.replaceChildren(el("p", { class: "error" }, "This job could not be loaded."));
      if (!edit || !edit.inUse()) { edit = null; editHolder.replaceChildren(); }
      return;
    }
    const history = job.source === "history";
    const attempts = history ? Object.entries(job.attempts || {}).sort((a, b) => a[0] - b[0]) : [];
    // What the server allows in this state (it answers 409 otherwise): the buttons say so.
    const cancellable = ["queued", "scheduled", "retrying", "running"].includes(job.state);
    const retryable = ["dead", "cancelled"].includes(job.state);
    const actions = el("div", { class: "toolbar" },
      el("button", { type: "button", id: "job-cancel", onclick: () => act("cancel"), disabled: !cancellable,
        title: cancellable ? "Cancel this job" : `A ${job.state} job cannot be cancelled: only unfinished jobs can` }, "Cancel"),
      el("button", { type: "button", id: "job-retry", onclick: () => act("retry"), disabled: !retryable,
        title: retryable ? "Put this job back on its queue" : `A ${job.state} job cannot be retried: only dead or cancelled jobs can` }, "Retry"));
    const parts = [
      el("div", { class: "panel" }, el("dl", { class: "props" },
        prop("State", stateChip(job.state)), prop("Type", job.type), prop("Queue", job.queue), prop("Priority", job.priority),
        prop("Attempts", history ? attempts.length : `${job.attempts} of ${job.max_attempts}`),
        prop("Run at", time(job.run_at)), prop("Created", time(job.created_at)), prop("Finished", time(job.finished_at)),
        prop("Worker", job.worker), prop("Last error", job.last_error), prop("Source", history ? "history (MongoDB)" : "live (Redis)"))),
      actions,
      el("h2", {}, "Payload"), pretty(job.payload), el("h2", {}, "Result"), pretty(job.result)];
    const timeline = job.timeline || [];
    parts.push(el("h2", {}, "Attempts"));
    if (attempts.length) {
      parts.push(el("div", { class: "panel" }, table(["#", "Worker", "Started", "Run time", "Queue wait", "Error"],
        attempts.map(([n, a]) => el("tr", {}, el("td", {}, n), el("td", { class: "mono" }, a.worker || ""), el("td", {}, time(a.started_at)),
          el("td", {}, duration(a.duration_ms)), el("td", {}, duration(a.queued_ms)), el("td", { class: "error" }, a.error || ""))),
        { label: "Attempts" })));
    }
    parts.push(el("div", { class: "panel" }, timeline.length === 0 ? el("p", { class: "muted" }, "No timeline yet (history may lag).") :
      table(["When", "Event", "Attempt", "Worker", "Details"], timeline.map((e) => el("tr", {},
        el("td", {}, time(e.ts)), el("td", {}, e.event), el("td", {}, e.attempt ?? ""), el("td", { class: "mono" }, e.worker || ""),
        el("td", { class: "error" }, e.error || e.reason || (e.duration_ms !== undefined ? "ran " + duration(e.duration_ms) : "")))),
      { label: "Timeline" })));
    summary.replaceChildren(...parts);
    if (edit && edit.inUse()) edit.changedUnderneath(job);
    else {
      edit = editForm(job);
      editHolder.replaceChildren(edit.form);
    }
    const editable = ["scheduled", "queued", "retrying"].includes(job.state);
    const save = edit.form.querySelector("#edit-save");
    save.disabled = !editable;
    save.title = editable ? "" : `A ${job.state} job cannot be edited: only scheduled, queued or retrying jobs can`;
  }
  function prop(label, value) { return [el("dt", {}, label), el("dd", {}, value ?? "–")]; }
  async function act(action) {
    if (await attempt(() => post(`/v1/jobs/${encodeURIComponent(id)}/${action}`), `Job ${action === "cancel" ? "cancelled" : "retried"}.`)) render();
  }
  function editForm(job) {
    let dirty = false;
    const payload = el("textarea", { id: "edit-payload", "aria-describedby": "edit-payload-error" }, JSON.stringify(job.payload, null, 2));
    const payloadError = el("p", { id: "edit-payload-error", class: "error", role: "status" });
    payload.addEventListener("input", () => {
      try { JSON.parse(payload.value); payload.removeAttribute("aria-invalid"); payloadError.textContent = ""; } catch (error) {
        payload.setAttribute("aria-invalid", "true"); payloadError.textContent = "Not JSON: " + error.message;
      }
    });
    const stale = el("p", { id: "edit-stale", class: "muted", role: "status" });
    const form = el("form", { class: "panel", id: "edit-form" }, el("h2", {}, "Edit (scheduled, queued or retrying jobs)"),
      el("div", { class: "grid2" },
        el("div", {}, el("label", { for: "edit-priority" }, "Priority"), el("select", { id: "edit-priority" },
          ["high", "normal", "low"].map((p) => el("option", { value: p, selected: job.priority === p }, p)))),
        el("div", {}, el("label", { for: "edit-delay" }, "Run in (ms from now, empty: unchanged)"), el("input", { id: "edit-delay", type: "number", min: 0 }))),
      el("label", { for: "edit-payload" }, "Payload (JSON)"), payload, payloadError, stale,
      el("button", { type: "submit", class: "primary", id: "edit-save" }, "Save changes"));
    form.addEventListener("input", () => { dirty = true; });
    form.addEventListener("change", () => { dirty = true; });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const change = { priority: form.querySelector("#edit-priority").value };
      const delay = form.querySelector("#edit-delay").value;
      if (delay !== "") change.delay_ms = Number(delay);
      try { change.payload = JSON.parse(payload.value); } catch (error) { return notify("The payload is not JSON: " + error.message); }
      if (await attempt(() => patch("/v1/jobs/" + encodeURIComponent(id), change), "Job updated.")) {
        edit = null; // saved: the next render shows the job as it is now
        render();
      }
    });
    return {
      form,
      /** Changed by the user, or focused: a render must not replace it. */
      inUse: () => dirty || form.contains(document.activeElement),
      /** Says, without touching the user's values, what changed in the job since the form was built. */
      changedUnderneath(now) {
        const changes = [];
        if (now.state !== job.state) changes.push(`it is now ${now.state}`);
        if (now.priority && now.priority !== job.priority) changes.push(`its priority is now ${now.priority}`);
        if (JSON.stringify(now.payload) !== JSON.stringify(job.payload)) changes.push("its payload changed");
        stale.textContent = changes.length ? `While you edited, the job changed: ${changes.join(", ")}. Saving sends the values above.` : "";
      },
    };
  }
  render();
  const feed = openFeed({ kinds: "job", job: id }, (message) => { if (message.kind === "job") render(); });
  return () => { closed = true; feed.close(); };
}
