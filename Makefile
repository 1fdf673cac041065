# Flowtalk: the two commands a newcomer needs are `make run` and `make test`.
.PHONY: bench-drain check-deploy container-test openapi-check run run-scaled scaled-test test bench bench-burst explain-claim bench-latency bench-queue bench-stats chaos fuzz demo build fmt clean

run:
	@scripts/run.sh

test:
	@scripts/test.sh

# Every service scaled behind nginx (TLS on https://127.0.0.1:8443): 2 auth, 2 ingest, 3 dispatch, 2 analytics;
# SCALE="ingest=3 dispatch=5" to change the counts (README "Running N replicas").
run-scaled:
	@scripts/run-scaled.sh

# The scaled cluster under traffic, one replica of each service killed: nothing lost or duplicated (make test runs a
# short one). SCALED_SECONDS (40), SCALED_RATE (15 DMs/s), SCALE.
scaled-test:
	@swift build
	@python3 scripts/scaled/scaled_test.py

bench:
	@scripts/bench.sh

bench-burst:
	@scripts/bench-burst.sh

explain-claim:
	@scripts/explain-claim.sh

bench-latency:
	@scripts/bench-latency.sh

# The queue alone beside PGQueuer 1.6.0 (BENCH_QUEUE_JOBS, BENCH_QUEUE_SHAPES); the 90-day statistics. Both are in make bench.
bench-queue:
	@scripts/bench-queue.sh

bench-stats:
	@scripts/bench-stats.sh

# Real replies for one busy account: DRAIN_DMS (5000) queued DMs answered through dispatch and the sandbox (release).
bench-drain:
	@scripts/bench-drain.sh

# libFuzzer targets of Fuzz/ (their own package, built in .build-fuzz), each run FUZZ_SECONDS (60); FUZZ_TARGETS to pick.
fuzz:
	@scripts/fuzz.sh

# Fault injection over the real binaries (docs/measurements.md, "Fault injection"): CHAOS_SECONDS (600), CHAOS_BUILD=release.
chaos:
	@if [ "$${CHAOS_BUILD:-debug}" = release ]; then \
	    for p in flowtalk-ingest flowtalk-dispatch flowtalk-sandbox flowtalk-dev; do swift build -c release --product $$p || exit 1; done; \
	else swift build; fi
	@python3 scripts/chaos.py

# While `make run` is running: a simulated customer asks the demo shop a question and the bot's answer is printed. Uses
# the flowtalk-dev that make run built; builds it only when it is missing or older than its own sources.
demo:
	@if [ -x .build/debug/flowtalk-dev ] && [ -z "$$(find Services/DevTool Support/DevSupport Package.swift -newer .build/debug/flowtalk-dev 2>/dev/null | head -n 1)" ]; then \
	    echo "(using .build/debug/flowtalk-dev, built $$(date -r .build/debug/flowtalk-dev '+%F %T'); make build rebuilds it)"; \
	else echo "building flowtalk-dev (missing, or older than its sources)…"; \
	    swift build --product flowtalk-dev >/dev/null 2>&1 || swift build --product flowtalk-dev; fi
	@.build/debug/flowtalk-dev dm "$${TEXT:-Hi! Do you deliver to Porto?}"

# deploy/'s checks alone (make test runs them too).
check-deploy:
	@scripts/check-deploy.sh

# The dashboard API against docs/openapi.yaml alone (make test runs it too), on a throwaway PostgreSQL.
openapi-check: build
	@tmp=$$(mktemp -d /tmp/flowtalk-openapi.XXXXXX); chmod 755 $$tmp; port=$$(scripts/free-port.sh); \
	url=$$(scripts/pg.sh start $$tmp/pg $$port -c fsync=off) && DATABASE_URL=$$url scripts/openapi-check.sh; rc=$$?; \
	scripts/pg.sh stop $$tmp/pg >/dev/null 2>&1; rm -rf $$tmp; exit $$rc

# The container image from deploy/container/Dockerfile's runtime stage, built with podman on a debootstrap'd base (no
# registry here) around the built binaries, and each service started from it (needs podman, runc, debootstrap).
container-test:
	@scripts/container-test.sh

build:
	swift build

fmt:
	@command -v swift-format >/dev/null 2>&1 && swift-format format --in-place --recursive Shared Services Tests Package.swift || swift format --in-place --recursive Shared Services Tests Package.swift

clean:
	swift package clean
	rm -rf .build
