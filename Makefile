# Flowtalk: the two commands a newcomer needs are `make run` and `make test`.
.PHONY: run test bench build fmt clean

run:
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

build:
	swift build

fmt:
	@command -v swift-format >/dev/null 2>&1 && swift-format format --in-place --recursive Shared Services Tests Package.swift || swift format --in-place --recursive Shared Services Tests Package.swift

clean:
	swift package clean
	rm -rf .build
