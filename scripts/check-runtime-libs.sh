#!/usr/bin/env bash
# Checks the runtime stage of the Dockerfile against the binary: the packages between
# "# BEGIN runtime packages" and "# END runtime packages" must be exactly those that own the shared
# libraries `conveyor` (and the Swift runtime libraries that the image links statically) load
# directly, plus ca-certificates; and every library `ldd` lists must come from those packages, their
# Depends, or what debian:12-slim already has. Uses the release binary when built, else the debug one.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=.build/release/conveyor
[ -x "$binary" ] || binary=.build/debug/conveyor
[ -x "$binary" ] || { echo "check-runtime-libs: build conveyor first"; exit 1; }
python3 - "$binary" <<'PY'
import os, re, subprocess, sys
binary = sys.argv[1]
# In debian:12-slim already (Priority: required, or what apt itself needs).
base = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
extras = {"ca-certificates"}  # not a library: TLS roots for https:// job handlers and MongoDB TLS

def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout

def needed(path):
    return re.findall(r"NEEDED\s+(\S+)", run("objdump", "-p", path))

def package(path):
    for candidate in (path, os.path.realpath(path)):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].strip()
    sys.exit(f"check-runtime-libs: no Debian package owns {path}")

libraries = {}
for line in run("ldd", binary).splitlines():
    match = re.match(r"\s*(\S+) => (\S+)", line)
    if match:
        libraries[match.group(1)] = match.group(2)
swift = {name: path for name, path in libraries.items() if "/swift" in path}  # linked statically in the image
direct_names = set(needed(binary))
for path in swift.values():
    direct_names |= set(needed(path))
system = {name: path for name, path in libraries.items() if name not in swift}
required = {package(path) for name, path in system.items() if name in direct_names} - base
listed = set()
text = open("Dockerfile").read()
block = text.split("# BEGIN runtime packages", 1)[1].split("# END runtime packages", 1)[0]
install = block.split("apt-get install", 1)[1].split("&&", 1)[0]
listed = {word for word in install.replace("\\", " ").split() if not word.startswith("-")}
problems = []
for name in sorted(required - listed):
    problems.append(f"missing from the Dockerfile: {name} (the binary loads its library directly)")
for name in sorted(listed - required - extras):
    problems.append(f"not needed by the binary: {name}")
closure = set(base)
depends = run("apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
              "--no-replaces", "--no-enhances", "--no-pre-depends", *sorted(listed))
closure |= {line.strip().split(":")[-1].strip() for line in depends.splitlines()}
closure |= {line.strip() for line in depends.splitlines() if not line.startswith(" ")}
closure = {name.split(":")[0].strip("<>") for name in closure}
for name, path in sorted(system.items()):
    owner = package(path)
    if owner not in closure:
        problems.append(f"{name} ({owner}) is loaded but not installed by the runtime packages or their dependencies")
if problems:
    print("\n".join("check-runtime-libs: " + p for p in problems))
    sys.exit(1)
print(f"check-runtime-libs: {binary}: runtime packages {sorted(listed)} cover all {len(system)} system libraries it loads "
      f"(direct: {sorted(required)})")
PY
