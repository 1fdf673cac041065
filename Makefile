# Flowtalk: the two commands a newcomer needs are `make run` and `make test`.
.PHONY: run test bench bench-latency demo build fmt clean

run:
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

bench-latency:
	@scripts/bench-latency.sh

# While `make run` is running: a simulated customer asks the demo shop a question and the bot's answer is printed.
demo:
	@swift build --product flowtalk-dev >/dev/null 2>&1 || swift build --product flowtalk-dev
	@.build/debug/flowtalk-dev dm "$${TEXT:-Hi! Do you deliver to Porto?}"

build:
	swift build

fmt:
	@command -v swift-format >/dev/null 2>&1 && swift-format format --in-place --recursive Shared Services Tests Package.swift || swift format --in-place --recursive Shared Services Tests Package.swift

clean:
	swift package clean
	rm -rf .build
