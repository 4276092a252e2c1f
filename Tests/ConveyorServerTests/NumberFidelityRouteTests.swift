import Conveyor
import ConveyorServer
import ConveyorTestSupport
import Foundation
import Testing

/// Over REST too, numbers keep their text: one job, a batch, and the job read back.
@Suite("API: numbers keep their text")
struct NumberFidelityRouteTests {
    static let payload = #"{"n":9007199254740993,"z":-0,"f":1.10,"big":123456789012345678901234567890}"#

    @Test func payloadsAndResultsComeBackAsSent() async throws {
        try await withAPI(worker: true) { servers in
            let api = servers[0].client
            let one = try await api.send("POST", "/v1/jobs", raw: #"{"type":"echo","payload":\#(Self.payload)}"#)
            #expect(one.status == 201, "\(one.text)")
            let batch = try await api.send(
                "POST", "/v1/jobs/batch", raw: #"{"jobs":[{"type":"echo","payload":\#(Self.payload)},{"type":"echo","payload":[1.50]}]}"#)
            #expect(batch.status == 201, "\(batch.text)")
            let ids = [try #require(one.json["id"] as? String)] + (try #require(batch.json["ids"] as? [String]))
            for id in ids {
                let job = try await servers[0].broker.pool.command("HGET", servers[0].broker.keys.job(id), "payload").string
                #expect(job == Self.payload || job == "[1.50]")
                try await eventually(timeout: 20) { try await api.get("/v1/jobs/" + id).json["state"] as? String == "succeeded" }
                let text = try await api.get("/v1/jobs/" + id).text
                let expected = job == "[1.50]" ? "[1.50]" : Self.payload
                #expect(text.contains(#""payload":\#(expected)"#) && text.contains(#""result":\#(expected)"#), "\(text)")
            }
        }
    }

    @Test func infiniteNumbersAreRefusedNamingTheField() async throws {
        try await withAPI { servers in
            let api = servers[0].client
            let one = try await api.send("POST", "/v1/jobs", raw: #"{"type":"echo","payload":{"e":1E400}}"#)
            expectProblem(one, 400, field: "payload")
            #expect((one.json["detail"] as? String)?.contains("payload.e") == true, "\(one.text)")
            let batch = try await api.send("POST", "/v1/jobs/batch", raw: #"{"jobs":[{"type":"echo"},{"type":"echo","payload":[1e999]}]}"#)
            expectProblem(batch, 400, field: "jobs[1].payload")
            #expect(try await servers[0].broker.stats().totals["enqueued"] ?? 0 == 0)
        }
    }
}
