// Types: per job type over the last hour — jobs created, throughput, failure rate, p50/p95 run
// time and queue wait — computed from the history (GET /v1/jobs?since=1h, newest first, up to
// 5,000 jobs). When the hour holds more, the page samples the newest 5,000 and says so; "per minute"
// is then the rate over the span those jobs cover (the oldest sampled job's creation to now), not
// over the hour, which they do not reach.
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
    if (stopped) return;
    const covered = coveredSpan(jobs, Boolean(cursor), Date.parse(since));
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
    note.textContent = (cursor
      ? `More than ${number(jobs.length)} jobs were created in the last hour; these figures cover the newest ` +
        `${number(jobs.length)}, ` +
        (covered ? `created over the last ${span(covered)}, so "per minute" is their rate over that span.` : `whose creation times are missing, so no rate can be given.`)
      : `${number(jobs.length)} jobs created in the last hour; "per minute" is their average over the hour.`) + " Refreshes every 15 s.";
    const names = [...byType.keys()].sort();
    holder.replaceChildren(names.length === 0 ? el("p", { class: "muted" }, "No jobs in the last hour.") :
      table(["Type", { text: "Jobs", num: 1 }, { text: covered ? `Per minute (last ${span(covered)})` : "Per minute", num: 1 }, { text: "Succeeded", num: 1 }, { text: "Dead", num: 1 },
        { text: "Failed attempts", num: 1 }, { text: "p50 run", num: 1 }, { text: "p95 run", num: 1 }, { text: "p50 wait", num: 1 }, { text: "p95 wait", num: 1 }],
      names.map((name) => {
        const t = byType.get(name);
        return el("tr", { dataset: { type: name } }, el("td", {}, el("a", { href: "#/jobs?type=" + encodeURIComponent(name) }, name)),
          el("td", { class: "num" }, number(t.total)), el("td", { class: "num" }, covered ? perMinute(t.total, covered) : "–"),
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

/**
 * The span the figures cover, in milliseconds: the hour when every job of it was read, else from the
 * oldest sampled job's creation to now (at least a second, so a burst gives a rate, not a division by
 * zero); null when no sampled job has a readable created_at, so the span is unknown.
 */
function coveredSpan(jobs, sampled, hourStart) {
  const now = Date.now();
  if (!sampled) return now - hourStart;
  let oldest = Infinity;
  for (const job of jobs) {
    const created = Date.parse(job.created_at);
    if (created < oldest) oldest = created;
  }
  return oldest === Infinity ? null : Math.max(1000, now - oldest);
}

function perMinute(count, ms) {
  const rate = count / (ms / 60000);
  return rate >= 100 ? number(Math.round(rate)) : rate.toFixed(1);
}

/** A span in words: "42 s", "12.5 min", or "hour" for the whole hour. */
function span(ms) {
  const seconds = Math.round(ms / 1000);
  if (seconds < 90) return seconds + " s";
  if (seconds < 3570) return +(seconds / 60).toFixed(1) + " min";
  return "hour";
}

function percentile(values, p) {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
