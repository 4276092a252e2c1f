import Conveyor
import ConveyorServer
import Foundation
import Testing

/// The wire format of every response body and of the CLI's JSON output.
@Suite("JSONBodyEncoder")
struct JSONBodyEncoderTests {
    struct Sample: Encodable {
        var maxAttempts: Int
        var lastError: String?
        var payload: RawJSON
        var byQueue: [String: Int]
        var at: Date
        var ratio: Double
        var nested: [Inner]
    }

    struct Inner: Encodable {
        var heartbeatAgeMs: Int
        var flag: Bool
    }

    @Test func propertyNamesAreSnakeCaseAndDataKeysAreKept() throws {
        let sample = Sample(
            maxAttempts: 3, lastError: nil, payload: RawJSON(lenient: #"{"n":9007199254740993,"x":1.10,"z":-0,"e":1E2}"#),
            byQueue: ["mailQueue": 1, "a b": 2], at: Date(timeIntervalSince1970: 1_764_500_000.5), ratio: 0.25,
            nested: [Inner(heartbeatAgeMs: 12, flag: true)])
        let text = try JSONBodyEncoder().string(sample)
        #expect(
            text
                == #"{"max_attempts":3,"last_error":null,"payload":{"n":9007199254740993,"x":1.10,"z":-0,"e":1E2},"#
                + #""by_queue":{"a b":2,"mailQueue":1},"at":"2025-11-30T10:53:20.500Z","ratio":0.25,"#
                + #""nested":[{"heartbeat_age_ms":12,"flag":true}]}"#)
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [String: Any])
        let omitted = try JSONBodyEncoder(nilStyle: .omit).string(sample)
        #expect(!omitted.contains("last_error"))
        let pretty = try JSONBodyEncoder(pretty: true).string(Inner(heartbeatAgeMs: 1, flag: false))
        #expect(pretty == "{\n  \"heartbeat_age_ms\": 1,\n  \"flag\": false\n}")
    }

    @Test func stringsAreEscapedAndInvalidRawTextBecomesAString() throws {
        let text = try JSONBodyEncoder().string(["k\"ey": "a\u{0}b\n\u{2028}\\\""])
        #expect(text == #"{"k\"ey":"a\u0000b\n\u2028\\\""}"#)
        let decoded = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(decoded == ["k\"ey": "a\u{0}b\n\u{2028}\\\""])
        #expect(try JSONBodyEncoder().string([RawJSON(lenient: "{not json")]) == #"["{not json"]"#)
        #expect(try JSONBodyEncoder().string([RawJSON(lenient: "  [1, 2] \n")]) == "[[1, 2]]")
    }

    @Test func nonFiniteNumbersAreRefused() {
        #expect(throws: EncodingError.self) { try JSONBodyEncoder().string([Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONBodyEncoder().string(["x": Double.infinity]) }
        #expect((try? JSONBodyEncoder().string([1.5, 2.0])) == "[1.5,2]")
    }

    @Test func aJobKeepsItsPayloadAndResultAsStored() throws {
        var fields = ["id": "j1", "type": "echo", "state": "succeeded", "payload": #"{"big":12345678901234567890,"f":1.10}"#]
        fields["result"] = "-0.0"
        let job = try #require(Job(fields: fields))
        let text = try JSONBodyEncoder().string(JobBody(job))
        #expect(text.contains(#""payload":{"big":12345678901234567890,"f":1.10}"#) && text.contains(#""result":-0.0"#))
        #expect(text.contains(#""schedule":null"#) && text.contains(#""max_attempts":1"#))
    }
}
