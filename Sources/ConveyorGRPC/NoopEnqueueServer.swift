import Foundation
import GRPCCore
import Logging
import ServiceLifecycle

/// `conveyor.v1.Conveyor/Enqueue` answered without doing anything (a fixed id, state QUEUED) on the
/// same server stack as `serve` (`GRPCHTTP2Server`, a handler in a task of its own), without access
/// checks: only for `make bench-grpc`, which loads it to print what that stack costs by itself. No
/// other method is served. Prints `listening on 127.0.0.1:<port>` once it listens.
public struct NoopEnqueueServer: Service {
    let server: GRPCHTTP2Server

    static let response = Conveyor_V1_EnqueueResponse.with {
        $0.id = "00000000-0000-7000-8000-000000000000"
        $0.state = .queued
    }

    public init(port: Int, logger: Logger) {
        var routes = GRPCRoutes()
        routes.unary(Conveyor_V1_Conveyor.Method.Enqueue.descriptor, checked: false) { (_: Conveyor_V1_EnqueueRequest, _) in
            Self.response
        }
        server = GRPCHTTP2Server(methods: routes.methods, host: "127.0.0.1", port: port, logger: logger)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            let port = try await server.bind()
            FileHandle.standardOutput.write(Data("listening on 127.0.0.1:\(port)\n".utf8))
            try await server.waitUntilStopped()
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
