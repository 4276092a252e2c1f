#!/usr/bin/env python3
"""Writes deploy/grafana/conveyor.json, the Grafana dashboard over Conveyor's /metrics.

Every API replica reports the same cluster figures (read from Redis at scrape time), so cluster
series are combined across replicas with max, never summed. Run: python3 scripts/grafana-dashboard.py
"""
import json
import os

RATE = "$__rate_interval"


def quantiles(metric, by):
    return [
        (f"histogram_quantile({q}, sum by (le, {by}) (max by (le, queue, type) (rate({metric}_bucket[{RATE}]))))", f"p{int(q * 100)} {{{{{by}}}}}")
        for q in (0.5, 0.95, 0.99)
    ]


PANELS = [
    ("Throughput: jobs succeeded /s by queue", "ops", [
        (f"sum by (queue) (max by (queue, type) (rate(conveyor_jobs_succeeded_total[{RATE}])))", "{{queue}}")]),
    ("Failed attempts /s by queue and type", "ops", [
        (f"max by (queue, type) (rate(conveyor_jobs_failed_total[{RATE}]))", "{{queue}} {{type}}")]),
    ("Enqueued /s by queue and type", "ops", [
        (f"max by (queue, type) (rate(conveyor_jobs_enqueued_total[{RATE}]))", "{{queue}} {{type}}")]),
    ("Dead letters: new /s by queue and type, and in the dead set", "short", [
        (f"max by (queue, type) (rate(conveyor_jobs_dead_total[{RATE}]))", "new {{queue}} {{type}}"),
        ("max by (queue) (conveyor_dead_jobs)", "in dead set {{queue}}")]),
    ("Queue depth by queue", "short", [
        ("sum by (queue) (max by (queue, priority) (conveyor_queue_depth))", "waiting {{queue}}"),
        ("max by (queue) (conveyor_delayed_jobs)", "delayed {{queue}}"),
        ("max by (queue) (conveyor_running_jobs)", "running {{queue}}")]),
    ("Enqueue-to-start latency by queue", "s", quantiles("conveyor_job_wait_seconds", "queue")),
    ("Run time by type", "s", quantiles("conveyor_job_duration_seconds", "type")),
    ("History writer lag (events) and event stream length", "short", [
        ("max(conveyor_history_lag_events)", "lag"),
        ("max(conveyor_history_pending_events)", "pending"),
        ("max(conveyor_event_stream_length)", "stream length")]),
    ("Live workers and promoter overdue", "short", [
        ("max(conveyor_workers_live)", "live workers"),
        ("max(conveyor_promoter_overdue_seconds)", "promoter overdue (s)")]),
    ("API requests /s by route and status", "reqps", [
        (f"sum by (route, status) (rate(conveyor_http_requests_total[{RATE}]))", "{{route}} {{status}}")]),
    ("API errors /s (5xx) and rate-limited (429)", "reqps", [
        (f"sum by (route) (rate(conveyor_http_requests_total{{status=~\"5..\"}}[{RATE}]))", "5xx {{route}}"),
        (f"sum(rate(conveyor_http_rate_limited_total[{RATE}]))", "429")]),
    ("API latency p99 by route", "s", [
        (f"histogram_quantile(0.99, sum by (le, route) (rate(conveyor_http_request_duration_seconds_bucket[{RATE}])))", "{{route}}")]),
]


def panel(index, title, unit, targets):
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(65 + n), "expr": expr, "legendFormat": legend, "datasource": {"type": "prometheus", "uid": "${datasource}"}}
            for n, (expr, legend) in enumerate(targets)
        ],
    }


dashboard = {
    "uid": "conveyor",
    "title": "Conveyor",
    "description": "Jobs, queues, latency, history lag and the REST API, from Conveyor's /metrics.",
    "tags": ["conveyor"],
    "timezone": "utc",
    "schemaVersion": 39,
    "version": 1,
    "refresh": "10s",
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]},
    "panels": [panel(i, *p) for i, p in enumerate(PANELS)],
}

path = os.path.join(os.path.dirname(__file__), "..", "deploy", "grafana", "conveyor.json")
with open(path, "w") as file:
    json.dump(dashboard, file, indent=2)
    file.write("\n")
