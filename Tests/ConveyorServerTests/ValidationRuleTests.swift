import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import Testing

/// The rules the CLI applies, answered the same way over REST.
@Suite("API: the CLI's validation rules")
struct ValidationRuleTests {
    @Test func runAtInThePastRunsNowAndOnlyAfter9999IsRefused() async throws {
        try await withAPI { servers in
            let api = servers[0].client
            for time in ["1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z"] {
                let reply = try await api.post("/v1/jobs", ["type": "x", "run_at": time])
                #expect(reply.status == 201 && reply.json["state"] as? String == "queued", "\(time): \(reply.text)")
            }
            let late = try await api.post("/v1/jobs", ["type": "x", "run_at": "9999-12-31T23:59:59-01:00"])
            expectProblem(late, 400, field: "run_at")
            #expect((late.json["detail"] as? String)?.contains("run_at must be no later than 9999-12-31T23:59:59Z") == true)
        }
    }

    @Test func aCronExpressionThatNeverFiresIsRefused() async throws {
        try await withAPI { servers in
            for expression in ["0 0 30 2 *", "0 0 31 4 *"] {
                let reply = try await servers[0].client.post("/v1/schedules", ["name": "never", "expression": expression, "type": "noop"])
                expectProblem(reply, 400, field: "expression")
                #expect((reply.json["detail"] as? String)?.contains("never fires") == true, "\(reply.text)")
            }
            // Either day field matching is enough: February 30th or any Monday fires.
            let monday = try await servers[0].client.post(
                "/v1/schedules", ["name": "monday", "expression": "0 0 30 2 MON", "type": "noop"])
            #expect(monday.status == 201, "\(monday.text)")
        }
    }
}
