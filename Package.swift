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
        .library(name: "ConveyorGRPC", targets: ["ConveyorGRPC"]),
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
        // The live event feed (`GET /v1/events`) and its tests' client.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        // WebSocketFrame, so one encoded event is shared by every socket (already in the build through Hummingbird).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // SHA-256 of API keys (already in the build through Hummingbird's dependencies).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // gRPC beside REST: grpc-swift 2 for the generated code (committed, scripts/proto.sh), its GRPCCore
        // types and the bench client; the server is our own (Sources/ConveyorGRPC/GRPCHTTP2Server.swift).
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        // HTTP/2 for the gRPC server (already in the build through grpc-swift-nio-transport).
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        // Build time only: the Embed tool turns API/openapi.yaml into the JSON served at /openapi.json.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
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

        // Build tool: embeds Lua/*.lua into Conveyor and API/ into ConveyorServer.
        .executableTarget(
            name: "Embed",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .plugin(
            name: "EmbedPlugin",
            capability: .buildTool(),
            dependencies: ["Embed"]
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
            plugins: ["EmbedPlugin"]
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
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedPlugin"]
        ),
        .target(
            name: "ConveyorGRPC",
            dependencies: [
                "Conveyor", "ConveyorHistory", "ConveyorServer",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                // The gRPC server's HTTP/2 (GRPCHTTP2Server: why not grpc-swift's server is written there).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Generated/SOURCES.sha256"],
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
                "Conveyor", "ConveyorHistory", "ConveyorServer", "ConveyorGRPC", "ConveyorHTTPJob",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
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
            dependencies: [
                "ConveyorServer", "Conveyor", "ConveyorHistory", "RedisClient", "ConveyorTestSupport",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConveyorGRPCTests",
            dependencies: [
                "ConveyorGRPC", "ConveyorTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
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
