# Conveyor: `make run` starts a local cluster, `make test` runs every test. Both install what is missing.
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps build release run test lint format bench bench-schedules bench-api bench-history bench-grpc bench-events bench-compare demo proto dashboard clean

# C libraries, redis-server, and SecantusDB (a MongoDB-protocol server) in .venv/ for history tests.
deps:
	@scripts/install-deps.sh
	@scripts/install-mongo.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# A local redis-server under .run/ (unless CONVEYOR_REDIS_URL is set), a worker and a promoter, the
# API and the dashboard on http://127.0.0.1:8080/. DEV_ARGS adds flags of `conveyor dev`, e.g.
# DEV_ARGS="--redis-port 6380 --mongo-port 27018 --api-port 8081".
run: release
	@mkdir -p .run
	.build/release/conveyor dev --data-dir .run --queues default,email,reports $(DEV_ARGS)

# A minute of realistic work (several types, priorities, delays, a schedule, failures) against a
# running `make run` (CONVEYOR_URL, CONVEYOR_API_KEY, DEMO_SECONDS, DEMO_RATE).
demo:
	python3 scripts/demo.py

test: deps
	.venv/bin/openapi-spec-validator API/openapi.yaml
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	scripts/schemathesis.sh
	scripts/grpc-tests.sh
	scripts/check-deploy.sh
	scripts/browser-tests.sh
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift Plugins

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift Plugins

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift Plugins

# Throughput, latency and memory figures against a redis-server of its own on a free port.
bench: release
	scripts/bench.sh

# Tick lateness of an every-second schedule fired by 3 promoter processes (BENCH_SECONDS=60).
bench-schedules: release
	scripts/bench-schedules.sh $(or $(BENCH_SECONDS),60)

# History writer: catch-up rate on ~200k events in SecantusDB, broker processing with and without it.
bench-history: release
	scripts/bench-history.sh

# POST /v1/jobs throughput and p99 latency at 2,000 requests/s with wrk (RUNS=5, SECONDS_PER_RUN=10).
bench-api: release
	scripts/bench-api.sh

# Sidekiq (Debian's ruby-sidekiq) and Conveyor side by side on one throwaway redis-server, the same
# job on both sides, alternating rounds (ROUNDS=3, JOBS=20000, LATENCY_SECONDS=10, PROFILE=1 adds
# Redis commandstats per job).
bench-compare: release
	scripts/bench-compare.sh

# gRPC Enqueue throughput and p99 at 2,000/s next to REST's, alternating (RUNS=5, SECONDS_PER_RUN=10).
bench-grpc: release
	scripts/bench-grpc.sh

# Regenerates Sources/ConveyorGRPC/Generated from API/**/*.proto (builds the protoc plugins the first
# time, ~10 minutes; CI never runs this: the generated code is committed and checked by a test).
proto:
	scripts/proto.sh
# Regenerates deploy/grafana/conveyor.json from scripts/grafana-dashboard.py.
dashboard:
	python3 scripts/grafana-dashboard.py

# The live event feed under load: RATE jobs/s (default 2000) for SECONDS_RUN (default 300) with 10
# unfiltered sockets, 39 filtered to one type and one that never reads (UNFILTERED, FILTERED, STALLED).
bench-events: release
	scripts/bench-events.sh

clean:
	rm -rf .build .run
