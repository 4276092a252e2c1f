// Queues (depths live from the feed's stats, pause/resume), Workers (host, pid, queues,
// concurrency, running jobs, heartbeat age) and Schedules (next fire times, last run,
// pause/resume/run now).
import { get, post } from "./api.js";
import { openFeed } from "./feed.js";
import { el, attempt, time, age, number, jobLink, stateChip, table } from "./ui.js";

export function queues(main) {
  const holder = el("div", { class: "panel", id: "queues-table" }, el("p", { class: "muted" }, "Loading…"));
  main.append(el("h1", {}, "Queues"), holder);
  function render(queues) {
    const names = Object.keys(queues).sort();
    holder.replaceChildren(names.length === 0 ? el("p", { class: "muted" }, "No queues yet.") :
      table(["Queue", { text: "High", num: 1 }, { text: "Normal", num: 1 }, { text: "Low", num: 1 }, { text: "Delayed", num: 1 },
        { text: "Running", num: 1 }, { text: "Dead", num: 1 }, "State", ""],
      names.map((name) => {
        const q = queues[name];
        const button = el("button", { type: "button", class: "pause-toggle", "aria-label": (q.paused ? "Resume " : "Pause ") + name,
          onclick: async () => {
            if (await attempt(() => post(`/v1/queues/${encodeURIComponent(name)}/${q.paused ? "resume" : "pause"}`),
              `${name} ${q.paused ? "resumed" : "paused"}.`)) refresh();
          } }, q.paused ? "Resume" : "Pause");
        return el("tr", { dataset: { queue: name } }, el("td", {}, name),
          [q.high, q.normal, q.low, q.delayed, q.running, q.dead].map((v, i) => el("td", { class: "num depth-" + i }, number(v))),
          el("td", { class: "queue-state" }, q.paused ? "paused" : "active"), el("td", {}, button));
      }), { label: "Queues" }));
  }
  async function refresh() {
    const body = await attempt(() => get("/v1/queues"));
    if (body) render(body.queues);
  }
  refresh();
  const feed = openFeed({ kinds: "stats" }, (message) => { if (message.kind === "stats") render(message.queues || {}); });
  return () => feed.close();
}

export function workers(main) {
  const holder = el("div", { class: "panel" }, el("p", { class: "muted" }, "Loading…"));
  main.append(el("h1", {}, "Workers"), holder);
  async function refresh() {
    const body = await attempt(() => get("/v1/workers"));
    if (!body) return;
    holder.replaceChildren(body.workers.length === 0 ? el("p", { class: "muted" }, "No worker is online.") :
      table(["Id", "Host", "PID", "Queues", "Concurrency", "Running jobs", "Heartbeat"],
        body.workers.map((w) => el("tr", {}, el("td", { class: "mono" }, w.id), el("td", {}, w.host), el("td", {}, w.pid),
          el("td", {}, w.queues.join(", ")), el("td", { class: "num" }, w.concurrency),
          el("td", {}, w.running.length ? w.running.map((id) => [jobLink(id), " "]) : "idle"),
          el("td", {}, age(w.heartbeat_age_ms) + " ago"))), { label: "Workers" }));
  }
  refresh();
  const timer = setInterval(refresh, 2000);
  return () => clearInterval(timer);
}

export function schedules(main) {
  const holder = el("div", { class: "panel" }, el("p", { class: "muted" }, "Loading…"));
  main.append(el("h1", {}, "Schedules"), holder);
  async function refresh() {
    const body = await attempt(() => get("/v1/schedules"));
    if (!body) return;
    const action = (s, verb, label) => el("button", { type: "button", onclick: async () => {
      if (await attempt(() => post(`/v1/schedules/${encodeURIComponent(s.name)}/${verb}`), `${s.name}: ${label.toLowerCase()} done.`)) refresh();
    } }, label);
    holder.replaceChildren(body.schedules.length === 0 ? el("p", { class: "muted" }, "No schedules (conveyor schedule add …).") :
      table(["Name", "When", "Job", "Next fire times", "Last run", "Runs", "State", ""],
        body.schedules.map((s) => el("tr", {}, el("td", {}, s.name), el("td", { class: "mono" }, s.expression + (s.tz && s.tz !== "UTC" ? " " + s.tz : "")),
          el("td", {}, `${s.type} → ${s.queue} (${s.priority})`), el("td", {}, s.next.slice(0, 3).map((t) => el("div", {}, time(t)))),
          el("td", {}, s.last_run_id ? [jobLink(s.last_run_id), " ", stateChip(s.last_run_state)] : "never", s.last_tick ? el("div", { class: "muted" }, time(s.last_tick)) : ""),
          el("td", { class: "num" }, number(s.runs)), el("td", {}, s.paused ? "paused" : "active"),
          el("td", {}, s.paused ? action(s, "resume", "Resume") : action(s, "pause", "Pause"), " ", action(s, "run", "Run now")))),
        { label: "Schedules" }));
  }
  refresh();
  const timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}
