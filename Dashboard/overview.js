// Overview: live throughput and failures per second over the last 5 minutes (Chart.js), queue
// depths by priority, and the cluster's running, delayed, dead and workers online — from the feed's
// stats messages (kinds=stats), once a second. The chart starts with the past 5 minutes as the
// server sampled them (GET /v1/stats/throughput), so it is not empty when the page opens.
import { get } from "./api.js";
import { openFeed } from "./feed.js";
import { el, card, number, table } from "./ui.js";

const WINDOW = 300;

export function overview(main) {
  main.append(
    el("h1", {}, "Overview"),
    el("div", { class: "cards" },
      card("Succeeded / s (10 s)", "–", "ov-succeeded-rate"), card("Failed / s (10 s)", "–", "ov-failed-rate"),
      card("Queued", "–", "ov-queued"), card("Running", "–", "ov-running"), card("Delayed", "–", "ov-delayed"),
      card("Dead", "–", "ov-dead"), card("Workers online", "–", "ov-workers"), card("Succeeded (total)", "–", "ov-total-succeeded")),
    el("section", { class: "panel", "aria-labelledby": "ov-chart-title" },
      el("h2", { id: "ov-chart-title" }, "Throughput, last 5 minutes (per second)"),
      el("div", { class: "chart-box" }, el("canvas", { id: "ov-chart", role: "img", "aria-label": "Jobs succeeded and failed per second" }))),
    el("section", { class: "panel", "aria-labelledby": "ov-queues-title" },
      el("h2", { id: "ov-queues-title" }, "Queues"), el("div", { id: "ov-queues" }, el("p", { class: "muted" }, "Waiting for the first stats…"))),
  );
  const labels = [];
  const succeeded = [];
  const failed = [];
  let chart;
  if (window.Chart) {
    chart = new window.Chart(document.getElementById("ov-chart"), {
      type: "line",
      data: { labels, datasets: [
        { label: "succeeded / s", data: succeeded, borderColor: "#1d7a3a", backgroundColor: "rgba(29,122,58,.15)", fill: true, pointRadius: 0, tension: .2 },
        { label: "failed / s", data: failed, borderColor: "#b3261e", backgroundColor: "rgba(179,38,30,.15)", fill: true, pointRadius: 0, tension: .2 },
      ] },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } }, interaction: { mode: "index", intersect: false } },
    });
  } else {
    document.getElementById("ov-chart").replaceWith(el("p", { class: "error" }, "Chart.js did not load (/vendor/chart.js/chart.min.js)."));
  }
  let previous;
  let live = false;
  // The past, unless live points came first (then the backfill would land after them).
  get("/v1/stats/throughput").then((body) => {
    if (live || !body || !Array.isArray(body.points)) return;
    for (const point of body.points.slice(-WINDOW)) {
      if (!(point.seconds > 0)) continue;
      labels.push(new Date(point.at).toLocaleTimeString());
      succeeded.push(point.succeeded / point.seconds);
      failed.push(point.failed / point.seconds);
    }
    if (chart) chart.update("none");
  }).catch((error) => {
    // The live points still come; the chart starts from now.
    document.getElementById("ov-chart-title").after(
      el("p", { class: "muted", id: "ov-chart-note" }, `The last 5 minutes could not be loaded (${error.message}); the chart starts now.`));
  });
  const feed = openFeed({ kinds: "stats" }, (message) => {
    if (message.kind !== "stats") return;
    const queues = message.queues || {};
    const queued = Object.values(queues).reduce((sum, q) => sum + q.high + q.normal + q.low, 0);
    set("ov-succeeded-rate", message.succeeded_per_second);
    set("ov-failed-rate", message.failed_per_second);
    set("ov-queued", queued);
    set("ov-running", message.running);
    set("ov-delayed", message.delayed);
    set("ov-dead", message.dead);
    set("ov-workers", message.workers_online);
    set("ov-total-succeeded", message.totals?.succeeded ?? 0);
    // Per-second points from the totals' differences; the first message only sets the baseline.
    const totals = { succeeded: message.totals?.succeeded ?? 0, failed: message.totals?.failed ?? 0, at: Date.parse(message.at) };
    if (previous && totals.at > previous.at) {
      live = true;
      const seconds = (totals.at - previous.at) / 1000;
      labels.push(new Date(totals.at).toLocaleTimeString());
      succeeded.push(Math.max(0, (totals.succeeded - previous.succeeded) / seconds));
      failed.push(Math.max(0, (totals.failed - previous.failed) / seconds));
      while (labels.length > WINDOW) { labels.shift(); succeeded.shift(); failed.shift(); }
      if (chart) chart.update("none");
    }
    previous = totals;
    const names = Object.keys(queues).sort();
    document.getElementById("ov-queues").replaceChildren(names.length === 0 ? el("p", { class: "muted" }, "No queues yet.") :
      table(["Queue", { text: "High", num: 1 }, { text: "Normal", num: 1 }, { text: "Low", num: 1 }, { text: "Delayed", num: 1 },
        { text: "Running", num: 1 }, { text: "Dead", num: 1 }, "State"],
        names.map((name) => {
          const q = queues[name];
          return el("tr", { dataset: { queue: name } }, el("td", {}, el("a", { href: "#/queues" }, name)),
            [q.high, q.normal, q.low, q.delayed, q.running, q.dead].map((v) => el("td", { class: "num" }, number(v))),
            el("td", {}, q.paused ? "paused" : "active"));
        }), { label: "Queue depths" }));
  });
  return () => { feed.close(); if (chart) chart.destroy(); };
}

function set(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = number(value);
}
