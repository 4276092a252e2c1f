#!/usr/bin/env python3
"""`make bench-compare`: Sidekiq and Conveyor side by side on one throwaway redis-server.

Both run the same job (one Redis round trip of its own: bench/sidekiq/compare_job.rb and
`bench.compare` in Sources/conveyor/CompareBench.swift) in a separate worker process, fed by their
own client library (bench/sidekiq/client.rb, `conveyor bench-client`). Per system and round:

  enqueue one   JOBS jobs, one call each, from one client in a loop (jobs/s, Redis CPU µs/job)
  enqueue batch JOBS jobs, BATCH per call (Sidekiq's push_bulk)
  process c10   the batch drained by one worker process at concurrency 10 (jobs/s from the jobs'
                own first/last timestamps, Redis CPU µs/job from before the worker starts to the
                last job)
  process best  the same at each system's other settings (SIDEKIQ_CONFIGS, default 2x10,2x25;
                CONVEYOR_CONFIGS, default 1x100,2x50: PROCESSESxCONCURRENCY), the best of those and c10
  latency       enqueue→start delay measured by the jobs, one client enqueueing at 200/s and 1,000/s
                for LATENCY_SECONDS with a worker at concurrency 10 (p50/p99 ms)

The two systems alternate (Sidekiq first in odd rounds, Conveyor first in even ones) because this
machine's noise is larger than some differences; ROUNDS rounds (default 3), then each figure's
median and the median over rounds of the Conveyor/Sidekiq ratio. PROFILE=1 also prints Redis
`INFO commandstats` per job for each phase (calls and µs per job by command).
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import redis

from benchlib import start_redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CONVEYOR_BIN", os.path.join(ROOT, ".build/release/conveyor"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
JOBS = int(os.environ.get("JOBS", "20000"))
BATCH = int(os.environ.get("BATCH", "1000"))
LATENCY_SECONDS = float(os.environ.get("LATENCY_SECONDS", "10"))
PROFILE = os.environ.get("PROFILE", "") not in ("", "0")
CONFIGS = {"Sidekiq": os.environ.get("SIDEKIQ_CONFIGS", "2x10,2x25"), "Conveyor": os.environ.get("CONVEYOR_CONFIGS", "1x100,2x50")}
COUNTER = "bench:counter"
LATENCIES = "bench:latencies"


class Bench:
    def __init__(self, work):
        self.work = work
        self.redis_process, self.port = start_redis(work)
        self.url = f"redis://127.0.0.1:{self.port}"
        self.redis = redis.Redis(port=self.port, decode_responses=True)
        self.env = dict(os.environ, REDIS_URL=self.url, CONVEYOR_REDIS_URL=self.url, CONVEYOR_LOG_LEVEL="warning",
                        MONGOC_DISABLE_SHM="1", RUBYOPT="-W0")
        self.workers = []
        self.best_configs = {}

    def close(self):
        self.stop_workers()
        self.redis_process.terminate()
        self.redis_process.wait()

    # Redis CPU (user + sys seconds) and command statistics.
    def cpu(self):
        info = self.redis.info("cpu")
        return info["used_cpu_user"] + info["used_cpu_sys"]

    def commandstats(self):
        return {name.removeprefix("cmdstat_"): (value["calls"], value["usec"])
                for name, value in self.redis.info("commandstats").items()}

    def reset(self):
        self.redis.flushall()
        self.redis.config_resetstat()

    # The systems.
    def client(self, system, mode, rate=200, seconds=10.0):
        if system == "Sidekiq":
            command = ["ruby", os.path.join(ROOT, "bench/sidekiq/client.rb"), mode, str(JOBS), str(BATCH), str(rate),
                       str(seconds), COUNTER, LATENCIES]
        else:
            command = [BIN, "bench-client", "--mode", mode, "--jobs", str(JOBS), "--batch", str(BATCH), "--rate", str(rate),
                       "--seconds", str(seconds), "--counter", COUNTER, "--latencies", LATENCIES]
        out = subprocess.run(command, env=self.env, check=True, capture_output=True, text=True).stdout
        return float(out.strip().splitlines()[-1])

    def start_workers(self, system, processes, concurrency):
        for index in range(processes):
            log = open(os.path.join(self.work, f"{system}-{index}.log"), "ab")
            if system == "Sidekiq":
                command = ["sidekiq", "-r", os.path.join(ROOT, "bench/sidekiq/compare_job.rb"), "-c", str(concurrency),
                           "-q", "default", "-t", "5"]
            else:
                command = [BIN, "worker", "--queues", "bench", "--concurrency", str(concurrency), "--grace", "5s"]
            self.workers.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=log, cwd=self.work))

    def stop_workers(self):
        for process in self.workers:
            process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers = []

    def wait_for(self, predicate, seconds, what):
        deadline = time.time() + seconds
        while not predicate():
            if time.time() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            for process in self.workers:
                if process.poll() is not None:
                    raise SystemExit(f"a worker exited ({process.args[0]}, status {process.returncode}); logs in {self.work}")
            time.sleep(0.02)

    def profile(self, system, phase, jobs):
        if not PROFILE:
            return
        stats = sorted(self.commandstats().items(), key=lambda item: -item[1][1])
        parts = [f"{name} {calls / jobs:.2f}×/{usec / jobs:.1f}µs" for name, (calls, usec) in stats if usec / jobs >= 0.05]
        print(f"    {system} {phase} per job: " + ", ".join(parts))

    # The phases; each returns its figures.
    def enqueue(self, system, mode):
        self.reset()
        before = self.cpu()
        seconds = self.client(system, mode)
        cpu = self.cpu() - before
        self.profile(system, f"enqueue {mode}", JOBS)
        return JOBS / seconds, cpu / JOBS * 1e6

    def process(self, system, processes, concurrency):
        """Drains the JOBS enqueued by the batch phase (still in Redis)."""
        self.redis.config_resetstat()
        before = self.cpu()
        self.start_workers(system, processes, concurrency)
        self.wait_for(lambda: self.redis.get(COUNTER + ":last") is not None, 300, f"{system} to process {JOBS} jobs")
        cpu = self.cpu() - before
        self.profile(system, f"process {processes}x{concurrency}", JOBS)
        first, last = int(self.redis.get(COUNTER + ":first")), int(self.redis.get(COUNTER + ":last"))
        self.stop_workers()
        return (JOBS - 1) / ((last - first) / 1e6), cpu / JOBS * 1e6

    def latency(self, system, rate):
        """Enqueue→start delay (p50, p99 ms) with one worker at concurrency 10, warmed up first."""
        self.reset()
        self.start_workers(system, 1, 10)
        self.client(system, "latency", rate=50, seconds=0.4)
        self.wait_for(lambda: self.redis.llen(LATENCIES) >= 20, 60, f"{system} to start")
        self.redis.delete(LATENCIES)
        self.client(system, "latency", rate=rate, seconds=LATENCY_SECONDS)
        count = int(LATENCY_SECONDS * rate)
        self.wait_for(lambda: self.redis.llen(LATENCIES) >= count, 60, f"{system} to start {count} jobs")
        self.stop_workers()
        values = sorted(int(v) / 1000 for v in self.redis.lrange(LATENCIES, 0, -1))
        return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]


def round_for(bench, system):
    figures = {}
    figures["enqueue one (jobs/s)"], figures["Redis CPU enqueue one (µs/job)"] = bench.enqueue(system, "one")
    figures["enqueue batched (jobs/s)"], figures["Redis CPU enqueue batched (µs/job)"] = bench.enqueue(system, "batch")
    figures["process c10 (jobs/s)"], figures["Redis CPU process c10 (µs/job)"] = bench.process(system, 1, 10)
    best = (figures["process c10 (jobs/s)"], figures["Redis CPU process c10 (µs/job)"], "1x10")
    for config in CONFIGS[system].split(","):
        processes, concurrency = (int(x) for x in config.split("x"))
        bench.enqueue(system, "batch")
        rate, cpu = bench.process(system, processes, concurrency)
        print(f"    {system} process {config}: {rate:,.0f} jobs/s, {cpu:.1f} µs/job of Redis CPU", flush=True)
        if rate > best[0]:
            best = (rate, cpu, config)
    figures["process best (jobs/s)"], figures["Redis CPU process best (µs/job)"] = best[0], best[1]
    bench.best_configs.setdefault(system, []).append(best[2])
    for rate in (200, 1000):
        p50, p99 = bench.latency(system, rate)
        figures[f"enqueue→start p50 at {rate}/s (ms)"] = p50
        figures[f"enqueue→start p99 at {rate}/s (ms)"] = p99
    figures["Redis CPU enqueue one + process c10 (µs/job)"] = (
        figures["Redis CPU enqueue one (µs/job)"] + figures["Redis CPU process c10 (µs/job)"])
    return figures


def fmt(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def main():
    if not os.path.exists(BIN):
        raise SystemExit(f"{BIN} is missing: make release")
    if not shutil.which("sidekiq"):
        raise SystemExit("sidekiq is missing: apt-get install -y ruby-sidekiq")
    work = tempfile.mkdtemp(prefix="bench-compare-")
    bench = Bench(work)
    results = {"Sidekiq": [], "Conveyor": []}
    try:
        sidekiq_version = subprocess.run(["ruby", "-e", "require 'sidekiq'; print Sidekiq::VERSION"], capture_output=True,
                                         text=True).stdout
        redis_version = bench.redis.info("server")["redis_version"]
        print(f"Sidekiq {sidekiq_version} vs Conveyor ({BIN}), Redis {redis_version}, {JOBS} jobs, batch {BATCH}, "
              f"settings tried: Sidekiq 1x10,{CONFIGS['Sidekiq']}, Conveyor 1x10,{CONFIGS['Conveyor']}; {ROUNDS} rounds",
              flush=True)
        for number in range(1, ROUNDS + 1):
            order = ["Sidekiq", "Conveyor"] if number % 2 else ["Conveyor", "Sidekiq"]
            for system in order:
                figures = round_for(bench, system)
                results[system].append(figures)
                print(f"round {number} {system}: " + ", ".join(f"{k} {fmt(v)}" for k, v in figures.items()), flush=True)
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"| figure (median of {ROUNDS} alternating rounds) | Sidekiq | Conveyor | Conveyor/Sidekiq, median (range) |")
    print("|---|---|---|---|")
    for name in results["Sidekiq"][0]:
        sidekiq = [figures[name] for figures in results["Sidekiq"]]
        conveyor = [figures[name] for figures in results["Conveyor"]]
        ratios = [c / s if s else float("nan") for s, c in zip(sidekiq, conveyor)]
        print(f"| {name} | {fmt(statistics.median(sidekiq))} | {fmt(statistics.median(conveyor))} | "
              f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) |")
    print()
    print("best settings by round: " + "; ".join(f"{system} {', '.join(configs)}"
                                                 for system, configs in bench.best_configs.items()))


if __name__ == "__main__":
    main()
