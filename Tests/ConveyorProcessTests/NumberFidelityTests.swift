import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

/// JSON numbers pass through Conveyor as their text: what `conveyor job` prints is what was stored.
@Suite("Numbers keep their text from enqueue to output")
struct NumberFidelityTests {
    static let payload = #"{"n":9007199254740993,"z":-0,"f":1.10,"big":123456789012345678901234567890,"e":2.5E-7,"l":[0.1,1e2]}"#
    static let numbers = ["9007199254740993", "-0", "1.10", "123456789012345678901234567890", "2.5E-7", "0.1", "1e2"]

    /// The text of `"name" : value` members in `conveyor job`'s pretty output, in order.
    static func values(_ output: String, _ key: String) -> [String] {
        output.matches(of: try! Regex("\"\(key)\"\\s*:\\s*([^,\\s\\]}]+)")).compactMap { $0.output[1].substring.map(String.init) }
    }

    @Test("echo's payload and result, read with `conveyor job`, keep every number as written")
    func echoThroughTheCLI() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        _ = try cluster.worker()
        let id = try await cluster.enqueueOne("echo", ["--payload", Self.payload])
        let job = try await cluster.waitForJob(id, "succeeded") { $0.state == .succeeded }
        #expect(job.result == Self.payload, "the result is the payload's own text")
        let shown = try await cluster.run(["job", id])
        #expect(shown.status == 0, "\(shown)")
        for (key, number) in [
            ("n", "9007199254740993"), ("z", "-0"), ("f", "1.10"), ("big", "123456789012345678901234567890"), ("e", "2.5E-7"),
        ] {
            #expect(Self.values(shown.output, key) == [number, number], "payload and result of \(key): \(shown.output)")
        }
        // As a JSON value (in the payload and the result), not inside another text: a job id is hex and
        // held "1e2" once in fresh-clone CI.
        #expect(shown.output.matches(of: try Regex(#"[\[,\s]1e2[\],\s]"#)).count == 2, "\(shown.output)")
    }

    @Test("a number that is not finite as a double is refused at enqueue, naming it")
    func infiniteNumbersAreRefused() async throws {
        let cluster = try Cluster()
        defer { cluster.close() }
        for (payload, path) in [(#"{"e":1E400}"#, "payload.e"), (#"{"a":[1,{"b":-2e999}]}"#, "payload.a[1].b"), ("1e309", "payload")] {
            let result = try await cluster.run(["enqueue", "echo", "--payload", payload])
            #expect(result.status == 2, "\(result)")
            #expect(result.error.contains("\(path) is a number too large"), "\(result)")
        }
        #expect(try await cluster.total("enqueued") == 0)
        // Large but finite: accepted.
        #expect(try await cluster.run(["enqueue", "echo", "--payload", #"{"e":1E300,"d":1e-400}"#]).status == 0)
    }
}
