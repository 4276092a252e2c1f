#!/usr/bin/env python3
"""Redis CPU per job of the broker's Lua scripts alone, without a Swift build: loads Lua/*.lua (with
their includes inlined, as the build plugin does) into a throwaway redis-server and replays a job's
life as the broker sends it: enqueue one per call, enqueue batched, then BRPOP + claim (BATCH_CLAIM
per call) + complete (same batch). MODE=functions (default: FUNCTION LOAD + FCALL) or scripts (EVALSHA). PERF=one|batch|process records that phase with perf. Prints Redis CPU µs per job (INFO cpu, syscalls included) and
INFO commandstats per job for each phase. For iterating on the scripts; `make bench-compare` gives
the figures that count. JOBS (default 20000), BATCH_CLAIM (default 10). First prints the Redis CPU of
a PING per call from a client in a loop: the floor of any one-request-per-job figure here.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

import redis

from benchlib import start_redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOBS = int(os.environ.get("JOBS", "20000"))
BATCH_CLAIM = int(os.environ.get("BATCH_CLAIM", "10"))
PREFIX = "{conveyor}:"


INCLUDE = re.compile(r'^-- @include "([^"]+)"$')


def expand(text, seen):
    """`text` with its include lines expanded, each include once (as Sources/Embed does)."""
    out = []
    for line in text.split("\n"):
        match = INCLUDE.match(line.strip())
        if not match:
            out.append(line)
        elif match.group(1) not in seen:
            seen.add(match.group(1))
            out.append(expand(open(os.path.join(ROOT, "Lua", "includes", match.group(1) + ".lua")).read(), seen))
    return "\n".join(out)


def wrapped(body):
    """A script's body between begin_call() and end_call(), as Sources/Embed's `wrapped` makes it."""
    return (f"begin_call(ARGV[1])\nlocal ok, reply = pcall(function()\n{body}\nend)\nif not ok then\n  pcall(end_call)\n"
            f"  error(reply, 0)\nend\nend_call()\nreturn reply")


def source(name):
    """A script for EVALSHA as Sources/Embed builds it: header, call_state and includes, wrapped body."""
    lines = open(os.path.join(ROOT, "Lua", name + ".lua")).read().split("\n")
    leading = 0
    while leading < len(lines) and lines[leading].startswith("--"):
        leading += 1
    header = [line for line in lines[:leading] if not INCLUDE.match(line.strip())]
    seen = {"call_state"}
    includes = [open(os.path.join(ROOT, "Lua", "includes", "call_state.lua")).read()]
    includes += [expand(line, seen) for line in lines if INCLUDE.match(line.strip())]
    return "\n".join(part for part in ["\n".join(header)] + includes if part) + "\n" + wrapped("\n".join(lines[leading:]))


def library(names):
    """The function library Sources/Embed builds (same layout; the name is fixed here)."""
    seen = {"call_state"}
    prelude = [open(os.path.join(ROOT, "Lua", "includes", "call_state.lua")).read()]
    bodies = []
    for name in names:
        text = open(os.path.join(ROOT, "Lua", name + ".lua")).read()
        for line in text.split("\n"):
            if INCLUDE.match(line.strip()):
                prelude.append(expand(line, seen))
        bodies.append((name, "\n".join(line for line in text.split("\n") if not INCLUDE.match(line.strip()))))
    code = "#!lua name=conveyor_profile\n" + "\n".join(p for p in prelude if p)
    for name, body in bodies:
        code += f"\nredis.register_function('conveyor_profile_{name.replace('-', '_')}', function(KEYS, ARGV)\n{wrapped(body)}\nend)\n"
    return code


def main():
    work = tempfile.mkdtemp()
    server, port = start_redis(work)
    r = redis.Redis(port=port)
    try:
        names = sorted(file[:-4] for file in os.listdir(os.path.join(ROOT, "Lua")) if file.endswith(".lua"))
        functions = os.environ.get("MODE", "functions") == "functions"
        if functions:
            r.execute_command("FUNCTION", "LOAD", "REPLACE", library(names))
        scripts = {name: r.script_load(source(name)) for name in names}

        def run(name, keys, args):
            if functions:
                return r.execute_command("FCALL", "conveyor_profile_" + name.replace("-", "_"), len(keys), *keys, *args)
            return r.evalsha(scripts[name], len(keys), *keys, *args)

        def cpu():
            info = r.info("cpu")
            return info["used_cpu_user"] + info["used_cpu_sys"]

        def report(phase):
            stats = sorted(((k.removeprefix("cmdstat_"), v) for k, v in r.info("commandstats").items()),
                           key=lambda item: -item[1]["usec"])
            print("   " + ", ".join(f"{k} {v['calls'] / JOBS:.2f}×/{v['usec'] / JOBS:.1f}µs" for k, v in stats
                                   if v["usec"] / JOBS >= 0.05))

        keys_enqueue = [PREFIX + "delayed", PREFIX + "stats", PREFIX + "events", PREFIX + "promoter:wake"]
        job_fields = ["bench.compare", "bench", "normal", '{"counter":"bench:counter","total":20000}', "3",
                      "exponential:1000:3600000:0.5", "1800000", "-1", "-1", ""]

        def enqueue(count):
            args = [PREFIX, "1000000", str(count)]
            for _ in range(count):
                args += [str(uuid.uuid4()), *job_fields]
            run("enqueue-4", keys_enqueue, args)

        run("rebuild-counts-4", [PREFIX + "counts", PREFIX + "delayed", PREFIX + "inflight", PREFIX + "dead"], [PREFIX])
        perf = None

        def perf_start(phase):
            nonlocal perf
            if os.environ.get("PERF") == phase:
                perf = subprocess.Popen(["perf", "record", "-F", "4000", "-g", "-p", str(server.pid), "-o",
                                         os.path.join(work, "perf.data")], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                time.sleep(0.5)

        def perf_stop():
            nonlocal perf
            if perf:
                perf.send_signal(2)
                perf.wait()
                perf = None
                children = "--children" if os.environ.get("PERF_CHILDREN") else "--no-children"
                out = subprocess.run(["perf", "report", "-i", os.path.join(work, "perf.data"), "--stdio", children,
                                      "--percent-limit", os.environ.get("PERF_LIMIT", "1.5"), "-g", "none"], capture_output=True, text=True).stdout
                print("\n".join(line for line in out.splitlines() if line.strip() and not line.startswith("#")))

        # The floor under "enqueue one": the Redis CPU of one request from a client that waits for each
        # answer (as enqueue one does), with no work in it. Most of it is Redis waking from epoll, the
        # read and the write, which every such request pays however little it does.
        r.config_resetstat()
        before = cpu()
        for _ in range(JOBS):
            r.ping()
        print(f"round trip (PING, one client in a loop): {(cpu() - before) / JOBS * 1e6:.1f} µs/call")
        for phase in ("one", "batch"):
            perf_start(phase)
            r.config_resetstat()
            before = cpu()
            if phase == "one":
                for _ in range(JOBS):
                    enqueue(1)
            else:
                for _ in range(JOBS // 1000):
                    enqueue(1000)
            print(f"enqueue {phase}: {(cpu() - before) / JOBS * 1e6:.1f} µs/job")
            report(phase)
            perf_stop()
        # Processing: the batch phase's JOBS jobs (the "one" phase's stay queued behind them... drain all).
        total = 2 * JOBS
        perf_start("process")
        r.config_resetstat()
        before = cpu()
        done = 0
        worker = "bench-worker"
        while done < total:
            # A worker with free slots claims without blocking (BRPOP comes only after an empty claim),
            # so the wake token a full claim leaves stays put, as here.
            claimed = run("claim-4", [PREFIX + "inflight", PREFIX + "stats", PREFIX + "events", PREFIX + "paused"],
                          [PREFIX, "1000000", worker, "30000", str(BATCH_CLAIM), "bench"])
            if not claimed:
                break
            args = [PREFIX, "1000000", "3600000"]
            for row in claimed:  # id, token, result, then queue, type, attempt, started_at, unique_key as claimed
                args += [row[0], row[1], "", row[3], row[2], row[6], row[12], row[13]]
            run("complete-3", [PREFIX + "inflight", PREFIX + "stats", PREFIX + "events"], args)
            done += len(claimed)
        print(f"process {done} (claim {BATCH_CLAIM}/call): {(cpu() - before) / done * 1e6:.1f} µs/job")
        perf_stop()
        stats = sorted(((k.removeprefix("cmdstat_"), v) for k, v in r.info("commandstats").items()),
                       key=lambda item: -item[1]["usec"])
        print("   " + ", ".join(f"{k} {v['calls'] / done:.2f}×/{v['usec'] / done:.1f}µs" for k, v in stats
                               if v["usec"] / done >= 0.05))
        print(f"   stream length {r.xlen(PREFIX + 'events')}, used memory {r.info('memory')['used_memory_human']}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
