// swift-tools-version:6.1
// libFuzzer targets for Flowtalk's parsers. Built only by scripts/fuzz.sh (`make fuzz`), in its own scratch path
// (.build-fuzz) with `--sanitize=fuzzer --sanitize=address`; the main package never sees this one.
//
// The modules below are the main package's pure sources, reached through symlinks (Sources/FlowtalkCore/*.swift,
// Sources/AIReplies/*.swift, Sources/ReplyRules, Sources/CRE2), under the same module names, so the code fuzzed is
// the code shipped and `package` declarations stay visible. Only files without swift-crypto, NIO or Hummingbird are linked in, so a
// fuzz build compiles no dependency at all.
import PackageDescription

let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

@MainActor func fuzzer(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: dependencies + ["FuzzCheck"], path: "Targets/\(name)", swiftSettings: harness)
}

let package = Package(
    name: "flowtalk-fuzz",
    targets: [
        .target(name: "FlowtalkCore", path: "Sources/FlowtalkCore"),
        // RE2 behind the main package's C interface (Debian's libre2-dev; the library itself is not instrumented).
        .target(name: "CRE2", path: "Sources/CRE2", linkerSettings: [.linkedLibrary("re2"), .linkedLibrary("stdc++")]),
        .target(name: "ReplyRules", dependencies: ["CRE2"], path: "Sources/ReplyRules"),
        .target(name: "AIReplies", dependencies: ["FlowtalkCore"], path: "Sources/AIReplies"),
        .target(name: "FuzzCheck", path: "Sources/FuzzCheck"),
        fuzzer("fuzz-webhook", ["FlowtalkCore"]),
        fuzzer("fuzz-signed-request", ["FlowtalkCore"]),
        fuzzer("fuzz-rules", ["ReplyRules"]),
        fuzzer("fuzz-normalizer", ["ReplyRules"]),
        fuzzer("fuzz-ai-answer", ["AIReplies", "FlowtalkCore"]),
        fuzzer("fuzz-masker", ["AIReplies"]),
    ]
)
