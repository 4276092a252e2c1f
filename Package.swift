// swift-tools-version: 6.1
// Conveyor: a Redis-native job broker and worker cluster.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "conveyor",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Conveyor", targets: ["Conveyor"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "ConveyorHistory", targets: ["ConveyorHistory"]),
        .library(name: "ConveyorServer", targets: ["ConveyorServer"]),
        .library(name: "ConveyorHTTPJob", targets: ["ConveyorHTTPJob"]),
        .executable(name: "conveyor", targets: ["conveyor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // The REST server. No default traits: swift-configuration is not needed, and full Foundation
        // only adds URL-encoded forms.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The `http` job type's client (pooled connections, deadlines, streamed bodies).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // C libraries from Debian, through system-library targets.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .systemLibrary(
            name: "CMongoc",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev", "libbson-dev"])]
        ),

        // Build tool: embeds Lua/*.lua into the Conveyor library.
        .executableTarget(name: "EmbedLua", swiftSettings: swiftSettings),
        .plugin(
            name: "EmbedLuaPlugin",
            capability: .buildTool(),
            dependencies: ["EmbedLua"]
        ),

        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Conveyor",
            dependencies: [
                "RedisClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedLuaPlugin"]
        ),
        .target(
            name: "ConveyorHistory",
            dependencies: [
                "CMongoc", "Conveyor", "RedisClient",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConveyorServer",
            dependencies: [
                "Conveyor", "ConveyorHistory", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The `http` job type on async-http-client: kept out of `Conveyor` so the core does not pull in NIO.
        .target(
            name: "ConveyorHTTPJob",
            dependencies: [
                "Conveyor",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "conveyor",
            dependencies: [
                "Conveyor", "ConveyorHistory", "ConveyorServer", "ConveyorHTTPJob",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: test targets
        .target(
            name: "ConveyorTestSupport",
            dependencies: [
                "Conveyor", "RedisClient", "ConveyorHistory",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ConveyorTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConveyorTests",
            dependencies: ["Conveyor", "RedisClient", "CMongoc", "ConveyorTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConveyorHistoryTests",
            dependencies: ["ConveyorHistory", "Conveyor", "RedisClient", "CMongoc", "ConveyorTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConveyorIntegrationTests",
            dependencies: ["Conveyor", "RedisClient", "ConveyorTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConveyorServerTests",
            dependencies: ["ConveyorServer", "Conveyor", "ConveyorHistory", "RedisClient", "ConveyorTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConveyorHTTPJobTests",
            dependencies: [
                "ConveyorHTTPJob", "Conveyor", "ConveyorTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConveyorProcessTests",
            dependencies: ["Conveyor", "RedisClient", "ConveyorTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
