#!/usr/bin/env python3
"""Checks that every `conveyor` command line the deployment files run is one the CLI accepts.

Collects the command lines of docker-compose.yml (as `docker-compose config` resolves them with
.env.example), of deploy/k8s/*.yaml (containers' args) and of the Dockerfile's CMD; for each, runs
`conveyor ARGS --help` (must exit 0) and checks that every --flag in ARGS is listed in that help
(`--help` alone would accept unknown flags). Usage: check-roles.py CONVEYOR_BINARY
"""
import glob
import json
import re
import subprocess
import sys

import yaml

binary = sys.argv[1]
commands = []  # (where, args)
grace_problems = []

compose = subprocess.run(["docker-compose", "--env-file", ".env.example", "config"], check=True, capture_output=True, text=True).stdout
for name, service in yaml.safe_load(compose)["services"].items():
    if str(service.get("image", "")).startswith("conveyor"):
        commands.append((f"docker-compose.yml service {name}", [str(word) for word in service["command"]]))

for path in sorted(glob.glob("deploy/k8s/*.yaml")):
    for document in yaml.safe_load_all(open(path)):
        spec = (document or {}).get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            if container.get("image", "").startswith("conveyor"):
                commands.append((f"{path} container {container['name']}", container["args"]))
                args = container["args"]
                if "--grace" in args:
                    grace = args[args.index("--grace") + 1]
                    seconds = int(grace[:-1]) if grace.endswith("s") and not grace.endswith("ms") else None
                    period = spec.get("terminationGracePeriodSeconds", 30)
                    if seconds is None or period <= seconds:
                        grace_problems.append(f"{path}: terminationGracePeriodSeconds {period} must be above --grace {grace}")

cmd = re.search(r"^CMD (\[.*\])$", open("Dockerfile").read(), re.M)
commands.append(("Dockerfile CMD", json.loads(cmd.group(1))))
healthcheck = re.search(r"^HEALTHCHECK .* CMD (\[.*\])$", open("Dockerfile").read(), re.M)
commands.append(("Dockerfile HEALTHCHECK", json.loads(healthcheck.group(1))[1:]))

roles = {"serve", "worker", "promoter", "history"}
failures = list(grace_problems)
for where, args in commands:
    if args[0] not in roles | {"health"}:
        failures.append(f"{where}: {args[0]} is not a role")
        continue
    result = subprocess.run([binary, *args, "--help"], capture_output=True, text=True)
    if result.returncode != 0:
        failures.append(f"{where}: `conveyor {' '.join(args)} --help` exited {result.returncode}: {result.stderr.strip()}")
        continue
    offered = set(re.findall(r"--[a-z][a-z0-9-]*", result.stdout))
    unknown = [word for word in args if word.startswith("--") and word.split("=")[0] not in offered]
    if unknown:
        failures.append(f"{where}: conveyor {args[0]} has no {', '.join(unknown)}")
if failures:
    print("\n".join("check-roles: " + line for line in failures))
    sys.exit(1)
print(f"check-roles: {len(commands)} command lines accepted: " + "; ".join(f"{where}: {' '.join(args)}" for where, args in commands))
