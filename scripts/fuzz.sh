#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets of Fuzz/ (their own package, in .build-fuzz, with -sanitize=fuzzer,address)
# and runs each for FUZZ_SECONDS, starting from the seed corpus in Fuzz/Corpus/<target>. Prints, per target, the
# executions, executions per second and crashes found; exits 1 if any target crashed.
#   FUZZ_SECONDS (default 60)    time per target
#   FUZZ_TARGETS (default all)   e.g. "webhook masker"
#   FUZZ_TIMEOUT (default 10)    seconds one input may take before it counts as a hang (a crash)
# Inputs that grew coverage stay in .build-fuzz/corpus/<target> for the next run (copy good ones into Fuzz/Corpus by
# hand); crashing inputs are written to .build-fuzz/artifacts/<target>/ and reproduce with
#   .build-fuzz/release/fuzz-<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"webhook signed-request rules normalizer ai-answer masker"}
timeout=${FUZZ_TIMEOUT:-10}
scratch=.build-fuzz

# The fuzz package holds only the pure sources it fuzzes: no dependency is fetched or built, and the main package's
# .build is never touched. Low priority: the machine is shared with normal builds.
# `--sanitize=fuzzer` tells SwiftPM that libFuzzer provides `main`; the sanitizers themselves come as ONE flag, since
# `--sanitize=fuzzer --sanitize=address` reaches swiftc in no fixed order, and with `address` last the binaries came
# out without coverage instrumentation (the fuzzer ran blind); the check below refuses such a binary.
echo "building fuzz targets (release, -sanitize=fuzzer,address) in $scratch…"
mkdir -p "$scratch/logs"
if ! nice -n 10 swift build --package-path Fuzz --scratch-path "$scratch" -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -j 2 \
    >"$scratch/logs/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$scratch/logs/build.log" | tail -n 40 >&2
    echo "fuzz: build failed" >&2
    exit 1
fi

results=()
failed=0
for target in $targets; do
    binary=$scratch/release/fuzz-$target
    [ -x "$binary" ] || { echo "fuzz: no target '$target' (have: $(ls $scratch/release | sed -n 's/^fuzz-\([a-z-]*\)$/\1/p' | tr '\n' ' '))" >&2; exit 2; }
    corpus=$scratch/corpus/$target
    artifacts=$scratch/artifacts/$target
    log=$scratch/logs/$target.log
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    if ! grep -q "inline 8-bit counters" <<<"$(ASAN_OPTIONS=detect_leaks=0 "$binary" -runs=0 -artifact_prefix="$artifacts/" 2>&1)"; then
        echo "fuzz: $binary has no coverage instrumentation; rebuild with rm -rf $scratch" >&2
        exit 1
    fi
    : >"$log"
    dict=()
    [ -f "Fuzz/Dictionaries/$target.dict" ] && dict=(-dict="Fuzz/Dictionaries/$target.dict")
    before=$(find "$artifacts" -type f | sort)
    executions=0
    start=$(date +%s)
    left=$seconds
    runs=0
    # A crash ends a libFuzzer run: start again for the time left (at most 20 runs), so one bug does not hide the rest.
    while [ "$left" -gt 0 ] && [ "$runs" -lt 20 ]; do
        runs=$((runs + 1))
        # Leak detection is off: the Swift runtime and _StringProcessing keep one-time caches that LeakSanitizer reports.
        # Swift's own backtracer is off too: libFuzzer reports the crash, and ASan flags the backtracer's memory reads.
        status=0
        ASAN_OPTIONS=detect_leaks=0:${ASAN_OPTIONS:-} SWIFT_BACKTRACE=enable=no nice -n 10 "$binary" "$corpus" "Fuzz/Corpus/$target" "${dict[@]}" -max_total_time="$left" -timeout="$timeout" \
            -rss_limit_mb=2048 -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$artifacts/" >>"$log" 2>&1 || status=$?
        ran=$(grep -a 'stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
        executions=$((executions + ${ran:-0}))
        sed -i 's/stat::number_of_executed_units/counted::number_of_executed_units/' "$log"
        [ "$status" = 0 ] && break
        left=$((seconds - ($(date +%s) - start)))
    done
    elapsed=$(( $(date +%s) - start ))
    found=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed '/^$/d')
    crashes=$(echo -n "$found" | grep -c . || true)
    rate=$(( executions / (elapsed > 0 ? elapsed : 1) ))
    inputs=$(find "$corpus" -type f | wc -l)
    printf '%-16s %12s executions %9s exec/s %3s crashes  (%ss, corpus %s)\n' "$target" "$executions" "$rate" "$crashes" "$elapsed" "$inputs"
    results+=("$(printf '| `fuzz-%s` | %s | %s | %s |' "$target" "$executions" "$rate" "$crashes")")
    if [ "$crashes" -gt 0 ]; then
        failed=1
        grep -a -m 3 -e 'Fatal error' -e 'ERROR:' "$log" | sed 's/^/    /' || true
        echo "$found" | head -n 5 | sed 's/^/    /'
    fi
done

echo
echo "| target | executions | exec/s | crashes |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${results[@]}"
echo "(FUZZ_SECONDS=$seconds per target; logs in $scratch/logs, crashing inputs in $scratch/artifacts)"
exit $failed
