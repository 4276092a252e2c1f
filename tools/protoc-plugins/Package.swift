// swift-tools-version: 6.1
// The protoc plugins `make proto` uses to regenerate Sources/ConveyorGRPC/Generated from
// API/conveyor/v1/conveyor.proto: protoc-gen-swift (swift-protobuf) and protoc-gen-grpc-swift-2
// (grpc-swift-protobuf). Built only by `make proto` (about 10 minutes on 2 cores), never by the
// project's build or CI: the generated code is committed.
import PackageDescription

let package = Package(
    name: "protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    ],
    targets: [
        // SwiftPM needs a target of its own; the plugins are the dependencies' executable products.
        .target(name: "Placeholder", path: "Sources/Placeholder")
    ]
)
