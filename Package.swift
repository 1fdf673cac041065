// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let hummingbird: Target.Dependency = .product(name: "Hummingbird", package: "hummingbird")
let postgres: Target.Dependency = .product(name: "PostgresNIO", package: "postgres-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let tracing: Target.Dependency = .product(name: "Tracing", package: "swift-distributed-tracing")

/// Every service looks alike: the shared libraries plus whatever it needs on top.
@MainActor func service(_ target: String, folder: String, extra: [Target.Dependency] = [], resources: [Resource]? = nil) -> Target {
    .executableTarget(
        name: target,
        dependencies: ["FlowtalkCore", "FlowtalkStore", "FlowtalkHTTP", hummingbird, postgres, logging, metrics, lifecycle, tracing] + extra,
        path: "Services/\(folder)",
        resources: resources,
        swiftSettings: swiftSettings
    )
}

@MainActor func tests(_ target: String, _ dependencies: [Target.Dependency]) -> Target {
    .testTarget(
        name: target,
        dependencies: dependencies + ["FlowtalkTesting"],
        path: "Tests/\(target)",
        swiftSettings: swiftSettings
    )
}

let package = Package(
    name: "flowtalk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flowtalk-auth", targets: ["AuthService"]),
        .executable(name: "flowtalk-ingest", targets: ["IngestService"]),
        .executable(name: "flowtalk-dispatch", targets: ["DispatchService"]),
        .executable(name: "flowtalk-analytics", targets: ["AnalyticsService"]),
        .executable(name: "flowtalk-sandbox", targets: ["SandboxService"]),
        .executable(name: "flowtalk-bench-rules", targets: ["RulesBench"]),
        .executable(name: "flowtalk-bench-queue", targets: ["QueueBench"]),
        .executable(name: "flowtalk-dev", targets: ["DevTool"]),
        .executable(name: "flowtalk-admin", targets: ["AdminTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.0.0"),
        // Tracing: the API everywhere; swift-otel's OTLP/HTTP exporter in the services (not its gRPC one: build time).
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "FlowtalkCore",
            dependencies: [
                crypto, logging, tracing, .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Shared/FlowtalkCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FlowtalkContracts",
            dependencies: ["FlowtalkCore", .product(name: "NIOCore", package: "swift-nio")],
            path: "Shared/FlowtalkContracts",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FlowtalkStore",
            dependencies: ["FlowtalkCore", "FlowtalkContracts", "ReplyRules", postgres, logging, metrics, lifecycle],
            path: "Shared/FlowtalkStore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FlowtalkHTTP",
            dependencies: [
                "FlowtalkCore", "FlowtalkStore", hummingbird, postgres, logging, metrics, lifecycle, tracing,
                .product(name: "OTel", package: "swift-otel"), .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ],
            path: "Shared/FlowtalkHTTP",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "InstagramGraph",
            dependencies: ["FlowtalkCore", logging, tracing, .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Shared/InstagramGraph",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AIReplies",
            dependencies: [
                "FlowtalkCore", logging, metrics, tracing, .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Shared/AIReplies",
            swiftSettings: swiftSettings
        ),
        // RE2 (Debian's libre2-dev) behind a C interface: the linear-time engine regex rules run on.
        .target(name: "CRE2", path: "Shared/CRE2", linkerSettings: [.linkedLibrary("re2"), .linkedLibrary("stdc++")]),
        .target(
            name: "Mail",
            dependencies: [
                "FlowtalkCore", logging, .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Shared/Mail",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ReplyRules",
            dependencies: ["CRE2"],
            path: "Shared/ReplyRules",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ReplyDecision",
            dependencies: ["FlowtalkCore", "FlowtalkContracts", "FlowtalkStore", "ReplyRules"],
            path: "Shared/ReplyDecision",
            swiftSettings: swiftSettings),
        .target(
            name: "FlowtalkDevSupport",
            dependencies: ["FlowtalkCore", "FlowtalkStore", "ReplyRules", postgres, logging],
            path: "Support/DevSupport",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FlowtalkTesting",
            dependencies: [
                "FlowtalkCore", "FlowtalkStore", "FlowtalkDevSupport", "InstagramGraph", postgres, logging, .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/FlowtalkTesting",
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "RulesBench", dependencies: ["ReplyRules"], path: "Benchmarks/RulesBench", swiftSettings: swiftSettings),
        .executableTarget(
            name: "QueueBench", dependencies: ["FlowtalkCore", "FlowtalkContracts", "FlowtalkStore", postgres, logging, lifecycle],
            path: "Benchmarks/QueueBench", swiftSettings: swiftSettings),
        service("AuthService", folder: "Auth", extra: [
            "ReplyRules", "ReplyDecision", "AIReplies", "InstagramGraph", "FlowtalkContracts", "Mail", crypto, .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], resources: [.copy("Resources/common-passwords.txt"), .copy("Resources/privacy.html"), .copy("Resources/openapi.yaml")]),
        service("IngestService", folder: "Ingest"),
        service("DispatchService", folder: "Dispatch", extra: ["InstagramGraph", "ReplyRules", "ReplyDecision", "AIReplies"]),
        service("AnalyticsService", folder: "Analytics"),
        service("AdminTool", folder: "Admin", extra: ["FlowtalkContracts", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        service("DevTool", folder: "DevTool", extra: ["ReplyRules", "FlowtalkDevSupport", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        service("SandboxService", folder: "Sandbox", extra: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        tests("FlowtalkCoreTests", ["FlowtalkCore", "FlowtalkContracts"]),
        tests("DispatchServiceTests", [
            "DispatchService", "FlowtalkCore", "FlowtalkContracts", "FlowtalkStore", "FlowtalkDevSupport", "ReplyRules", "ReplyDecision", "InstagramGraph", "AIReplies",
            postgres,
            logging,
        ]),
        tests("ReplyRulesTests", ["ReplyRules"]),
        tests("AIRepliesTests", ["AIReplies", "FlowtalkCore"]),
        tests("InstagramGraphTests", ["InstagramGraph", "FlowtalkCore"]),
        tests("FlowtalkStoreTests", ["FlowtalkStore", "FlowtalkCore", postgres, logging, metrics,
                                     .product(name: "MetricsTestKit", package: "swift-metrics"),
                                     .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle")]),
        tests("IngestServiceTests", ["IngestService", "FlowtalkHTTP", "FlowtalkStore", "FlowtalkCore", postgres, logging,
                                     .product(name: "HummingbirdTesting", package: "hummingbird"),
                                     .product(name: "InMemoryLogging", package: "swift-log")]),
        tests("EndToEndTests", ["FlowtalkCore", "FlowtalkContracts", "FlowtalkStore", "FlowtalkDevSupport", postgres, logging, hummingbird,
                                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                .product(name: "HummingbirdTesting", package: "hummingbird")]),
        tests("AuthServiceTests", ["AuthService", "SandboxService", "AIReplies", "FlowtalkHTTP", "FlowtalkStore", "FlowtalkCore", "InstagramGraph", "Mail", postgres, logging, crypto,
                                   .product(name: "HummingbirdTesting", package: "hummingbird"),
                                   .product(name: "InMemoryLogging", package: "swift-log")]),
        tests("AnalyticsServiceTests", ["AnalyticsService", "FlowtalkHTTP", "FlowtalkStore", "FlowtalkDevSupport", "FlowtalkCore", postgres, logging,
                                        .product(name: "HummingbirdTesting", package: "hummingbird")]),
        tests("SandboxServiceTests", ["SandboxService", "FlowtalkCore", hummingbird, logging, lifecycle,
                                      .product(name: "HummingbirdTesting", package: "hummingbird"),
                                      .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        tests("MailTests", ["Mail", "SandboxService", "FlowtalkCore", hummingbird, logging, crypto,
                            .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "X509", package: "swift-certificates"),
                            .product(name: "SwiftASN1", package: "swift-asn1")]),
        tests("AdminToolTests", ["AdminTool", "FlowtalkCore", "FlowtalkContracts", "FlowtalkStore", postgres, logging, crypto,
                                 .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        tests("ServiceHealthTests", [.product(name: "InMemoryLogging", package: "swift-log"), "FlowtalkCore", "FlowtalkContracts", "AuthService", "DispatchService", "AnalyticsService", "IngestService", "FlowtalkHTTP", "FlowtalkStore", postgres, logging,
                                     .product(name: "HummingbirdTesting", package: "hummingbird"),
                                     .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOHTTP1", package: "swift-nio")]),
    ]
)
