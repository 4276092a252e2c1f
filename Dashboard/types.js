// Types: per job type over the last hour — jobs finished, throughput, failure rate, p50/p95 run
// time and queue wait — computed from the history (GET /v1/jobs?since=1h, newest first, up to
// 5,000 jobs: the page says when it sampled).
import { get, query } from "./api.js";
import { el, attempt, duration, number, table } from "./ui.js";

const LIMIT = 5000;

export function types(main) {
  const holder = el("div", { class: "panel", id: "types-table" }, el("p", { class: "muted" }, "Loading the last hour…"));
  const note = el("p", { class: "muted", id: "types-note" });
  main.append(el("h1", {}, "Types (last hour)"), note, holder);
  let stopped = false;
  async function refresh() {
    const since = new Date(Date.now() - 3600 * 1000).toISOString();
    const jobs = [];
    let cursor;
    do {
      const page = await attempt(() => get("/v1/jobs" + query({ since, limit: 1000, cursor })));
      if (!page) return;
      jobs.push(...page.jobs);
      cursor = page.next_cursor;
    } while (cursor && jobs.length < LIMIT && !stopped);
    const byType = new Map();
    for (const job of jobs) {
      const entry = byType.get(job.type) || { total: 0, succeeded: 0, dead: 0, failures: 0, attempts: 0, runs: [], waits: [] };
      entry.total += 1;
      if (job.state === "succeeded") entry.succeeded += 1;
      if (job.state === "dead") entry.dead += 1;
      for (const a of Object.values(job.attempts || {})) {
        entry.attempts += 1;
        if (a.error) entry.failures += 1;
        if (typeof a.duration_ms === "number") entry.runs.push(a.duration_ms);
        if (typeof a.queued_ms === "number") entry.waits.push(a.queued_ms);
      }
      byType.set(job.type, entry);
    }
    note.textContent = `${number(jobs.length)} jobs created in the last hour` + (cursor ? ` (the newest ${number(LIMIT)} sampled)` : "") + ". Refreshes every 15 s.";
    const names = [...byType.keys()].sort();
    holder.replaceChildren(names.length === 0 ? el("p", { class: "muted" }, "No jobs in the last hour.") :
      table(["Type", { text: "Jobs", num: 1 }, { text: "Per minute", num: 1 }, { text: "Succeeded", num: 1 }, { text: "Dead", num: 1 },
        { text: "Failed attempts", num: 1 }, { text: "p50 run", num: 1 }, { text: "p95 run", num: 1 }, { text: "p50 wait", num: 1 }, { text: "p95 wait", num: 1 }],
      names.map((name) => {
        const t = byType.get(name);
        return el("tr", { dataset: { type: name } }, el("td", {}, el("a", { href: "#/jobs?type=" + encodeURIComponent(name) }, name)),
          el("td", { class: "num" }, number(t.total)), el("td", { class: "num" }, (t.total / 60).toFixed(1)),
          el("td", { class: "num" }, number(t.succeeded)), el("td", { class: "num" }, number(t.dead)),
          el("td", { class: "num" }, t.attempts ? ((100 * t.failures) / t.attempts).toFixed(1) + " %" : "–"),
          el("td", { class: "num" }, duration(percentile(t.runs, 50))), el("td", { class: "num" }, duration(percentile(t.runs, 95))),
          el("td", { class: "num" }, duration(percentile(t.waits, 50))), el("td", { class: "num" }, duration(percentile(t.waits, 95))));
      }), { label: "Job types" }));
  }
  refresh();
  const timer = setInterval(refresh, 15000);
  return () => { stopped = true; clearInterval(timer); };
}

function percentile(values, p) {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
