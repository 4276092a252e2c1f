import ConveyorHistory
import Logging
import RedisClient
import Testing

@testable import ConveyorServer

/// Which status each kind of failure answers (through the middleware every route shares).
@Suite("API: error mapping")
struct ErrorMappingTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func aMongoDBErrorIs503OnlyWhenTheDatabaseIsUnreachable() {
        for (error, status) in [
            (HistoryError(domain: HistoryError.serverSelectionDomain, code: 13053, message: "No suitable servers found"), 503),
            (HistoryError(domain: HistoryError.streamDomain, code: 9, message: "socket error"), 503),
            (HistoryError(domain: HistoryError.conveyorDomain, code: HistoryError.closedCode, message: "closed"), 503),
            (HistoryError(domain: HistoryError.conveyorDomain, code: HistoryError.invalidBSONCode, message: "cannot encode key"), 500),
            (HistoryError(domain: HistoryError.serverDomain, code: 2, message: "unknown operator: $foo"), 500),
        ] {
            let problem = ObservingMiddleware.problem(for: error, path: "/v1/jobs", logger: logger)
            #expect(Int(problem.status.code) == status, "\(error)")
            if status == 500 { #expect(problem.detail.contains(error.message), "\(problem.detail)") }
            if status == 503 { #expect(problem.detail.contains("unavailable")) }
        }
        #expect(
            ObservingMiddleware.problem(for: RedisError(.connection, "refused"), path: "/", logger: logger).status == .serviceUnavailable)
    }
}
