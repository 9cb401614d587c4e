// swift-tools-version: 6.1
import PackageDescription
import class Foundation.ProcessInfo

/// One settings list for every target (see STYLE.md).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

var package = Package(
    name: "Keel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keel", targets: ["keel"]),
        .library(name: "KeelCore", targets: ["KeelCore"]),
        .library(name: "KeelPipeline", targets: ["KeelPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .target(
            name: "KeelCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelLedger",
            dependencies: [
                "KeelCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelStore",
            dependencies: [
                "KeelCore", "KeelLedger",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelGit",
            dependencies: ["KeelCore", "KeelAgents"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelAgents",
            dependencies: [
                "KeelCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelForge",
            dependencies: ["KeelCore", "KeelGit", "KeelAgents"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelPipeline",
            dependencies: [
                "KeelCore", "KeelLedger", "KeelStore", "KeelGit", "KeelAgents", "KeelForge",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelServer",
            dependencies: [
                "KeelCore", "KeelStore", "KeelPipeline",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "keel",
            dependencies: [
                "KeelCore", "KeelLedger", "KeelStore", "KeelGit", "KeelAgents", "KeelForge", "KeelPipeline", "KeelServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelTestSupport",
            dependencies: [
                "KeelCore", "KeelStore", "KeelGit", "KeelAgents",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "KeelCoreTests", dependencies: ["KeelCore", "KeelTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KeelLedgerTests",
            dependencies: ["KeelCore", "KeelLedger", "KeelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelGitTests",
            dependencies: ["keel", "KeelCore", "KeelGit", "KeelAgents", "KeelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelPipelineTests",
            dependencies: [
                "keel", "KeelCore", "KeelStore", "KeelPipeline", "KeelAgents", "KeelForge", "KeelGit", "KeelTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelStoreTests",
            dependencies: ["KeelCore", "KeelLedger", "KeelStore", "KeelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelAgentsTests",
            dependencies: ["KeelCore", "KeelAgents", "KeelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelForgeTests",
            dependencies: ["KeelCore", "KeelGit", "KeelForge", "KeelAgents", "KeelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelServerTests",
            dependencies: [
                "KeelCore", "KeelLedger", "KeelStore", "KeelPipeline", "KeelServer", "KeelTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelScenarioTests",
            dependencies: ["keel", "KeelCore", "KeelStore", "KeelPipeline", "KeelForge", "KeelGit", "KeelAgents", "KeelTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)

// Benchmarks cost a full extra dependency build; only pay for them when asked.
if ProcessInfo.processInfo.environment["KEEL_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.29.0", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "KeelBenchmarks",
            dependencies: [
                "KeelCore", "KeelLedger", "KeelStore", "KeelPipeline",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/KeelBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
