#!/usr/bin/env python3
"""`make demo`: a realistic mix of work for a minute against a running Conveyor (`make run`), so the
dashboard has something to show: several job types, priorities, delays, a schedule every 5 s, jobs
that fail and retry, and jobs that die. Talks to the REST API only (standard library).

Environment: CONVEYOR_URL (default http://127.0.0.1:8080), CONVEYOR_API_KEY (when auth is on),
DEMO_SECONDS (default 60), DEMO_RATE (jobs per second, default 25)."""
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ.get("CONVEYOR_URL", "http://127.0.0.1:8080").rstrip("/")
KEY = os.environ.get("CONVEYOR_API_KEY")
SECONDS = int(os.environ.get("DEMO_SECONDS", "60"))
RATE = int(os.environ.get("DEMO_RATE", "25"))


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if KEY:
        request.add_header("Authorization", "Bearer " + KEY)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def job():
    """One job of the mix, as POST /v1/jobs takes it."""
    roll = random.random()
    priority = random.choices(["high", "normal", "low"], weights=[1, 6, 3])[0]
    if roll < 0.30:
        return {"type": "echo", "queue": "email", "priority": priority,
                "payload": {"to": f"user{random.randint(1, 999)}@example.com", "template": random.choice(["welcome", "receipt", "reset"])}}
    if roll < 0.50:
        return {"type": "sleep", "queue": "reports", "priority": priority, "payload": {"ms": random.randint(50, 1500)}}
    if roll < 0.65:
        return {"type": "math", "priority": priority,
                "payload": {"op": random.choice(["add", "mul", "div"]), "a": random.randint(0, 100), "b": random.randint(0, 5)}}
    if roll < 0.80:
        # Fails at random, usually recovers within its attempts.
        return {"type": "fail", "priority": priority, "payload": {"rate": 0.4}, "max_attempts": 4,
                "backoff": {"kind": "exponential", "base_ms": 500, "max_ms": 5000, "jitter": 0.5}}
    if roll < 0.85:
        # Always fails: lands in dead letters.
        return {"type": "fail", "queue": "reports", "payload": {"times": 100}, "max_attempts": 2,
                "backoff": {"kind": "fixed", "base_ms": 1000}}
    if roll < 0.95:
        # Delayed: due within the next two minutes.
        return {"type": "noop", "queue": "email", "priority": priority, "delay_ms": random.randint(5000, 120000)}
    return {"type": "http", "queue": "reports",
            "payload": {"url": BASE + "/healthz", "method": "GET", "timeout_ms": 2000}}


def main():
    status, _ = call("GET", "/v1/queues")
    if status != 200:
        sys.exit(f"{BASE} answers {status} to GET /v1/queues: start it with `make run` (or set CONVEYOR_URL / CONVEYOR_API_KEY)")
    status, body = call("PUT", "/v1/schedules/demo-digest", {
        "type": "echo", "expression": "every 5s", "queue": "email", "payload": {"digest": "every 5 s"}})
    print(f"schedule demo-digest (every 5 s): {status}")
    print(f"enqueuing about {RATE} jobs/s for {SECONDS} s at {BASE}; watch {BASE}/")
    start = time.monotonic()
    sent = failed = 0
    while time.monotonic() - start < SECONDS:
        second = time.monotonic()
        jobs = [job() for _ in range(max(1, int(random.gauss(RATE, RATE / 4))))]
        status, body = call("POST", "/v1/jobs/batch", {"jobs": jobs})
        if status in (200, 201):
            sent += len(jobs)
        else:
            failed += 1
            print(f"batch refused ({status}): {body.get('detail') if isinstance(body, dict) else body}")
        time.sleep(max(0, 1 - (time.monotonic() - second)))
    call("DELETE", "/v1/schedules/demo-digest")
    print(f"done: {sent} jobs enqueued, {failed} batches refused; the schedule was removed")


if __name__ == "__main__":
    main()
