import CMongoc
import Conveyor
import Foundation
import RedisClient
import Testing

@Suite("Parsing and validation")
struct ParsingTests {
    @Test(
        "redis URLs",
        arguments: [
            ("redis://127.0.0.1:6379", RedisConfiguration.Endpoint.tcp(host: "127.0.0.1", port: 6379), nil as String?, nil as String?, 0),
            ("redis://localhost", .tcp(host: "localhost", port: 6379), nil, nil, 0),
            ("redis://user:p%40ss@db.example:6380/3", .tcp(host: "db.example", port: 6380), "user", "p@ss", 3),
            ("redis://:secret@10.0.0.1:7000/0", .tcp(host: "10.0.0.1", port: 7000), nil, "secret", 0),
            ("unix:///var/run/redis.sock", .unix(path: "/var/run/redis.sock"), nil, nil, 0),
            ("unix://:pw@/tmp/r.sock?db=5", .unix(path: "/tmp/r.sock"), nil, "pw", 5),
        ])
    func redisURLs(text: String, endpoint: RedisConfiguration.Endpoint, user: String?, password: String?, database: Int) throws {
        let configuration = try RedisConfiguration(url: text)
        #expect(configuration.endpoint == endpoint)
        #expect(configuration.username == user)
        #expect(configuration.password == password)
        #expect(configuration.database == database)
        #expect(!configuration.redactedDescription.contains(password ?? "\u{0}"))
    }

    @Test(
        "bad redis URLs are rejected", arguments: ["http://x", "redis://h:99999", "redis://h/x", "unix://", "nonsense", "redis://h?db=-1"])
    func badRedisURLs(text: String) {
        #expect(throws: RedisError.self) { try RedisConfiguration(url: text) }
    }

    @Test("durations")
    func durations() throws {
        #expect(try DurationParser.milliseconds("500ms") == 500)
        #expect(try DurationParser.milliseconds("5s") == 5_000)
        #expect(try DurationParser.milliseconds("1.5s") == 1_500)
        #expect(try DurationParser.milliseconds("2m") == 120_000)
        #expect(try DurationParser.milliseconds("1h") == 3_600_000)
        #expect(try DurationParser.milliseconds("30d") == 2_592_000_000)
        #expect(try DurationParser.milliseconds("250") == 250)
        for bad in ["", "-1s", "abc", "5x", "ms", "nan", "99999d"] {
            #expect(throws: ConveyorError.self) { try DurationParser.milliseconds(bad) }
        }
    }

    @Test("retry policies parse, encode and compute delays")
    func retryPolicies() throws {
        let fixed = try RetryPolicy.parse("fixed:1s")
        #expect(fixed == .fixed(milliseconds: 1_000))
        #expect(fixed.encoded == "fixed:1000")
        let exponential = try RetryPolicy.parse("exponential:100ms:30s")
        #expect(exponential.encoded == "exponential:100:30000")
        #expect(exponential.delay(afterAttempt: 1, random: 0.5) == 100)
        #expect(exponential.delay(afterAttempt: 4, random: 0.5) == 800)
        #expect(exponential.delay(afterAttempt: 40, random: 0.5) == 30_000)
        let jittered = try RetryPolicy.parse("exponential:100ms:30s:jitter")
        #expect(jittered.jitter == 0.5)
        #expect(jittered.delay(afterAttempt: 2, random: 0) == 100)
        #expect(jittered.delay(afterAttempt: 2, random: 0.999) == 199)
        #expect(try RetryPolicy.parse("exponential:1s:1m:0.25").jitter == 0.25)
        #expect(try RetryPolicy.parse("none") == .none)
        for policy in [fixed, exponential, jittered, .none, .standard] {
            #expect(RetryPolicy(encoded: policy.encoded) == policy)
        }
        for bad in ["fixed", "fixed:x", "exponential:1s", "exponential:10s:1s", "exponential:1s:2s:2", "linear:1s", ""] {
            #expect(throws: ConveyorError.self) { try RetryPolicy.parse(bad) }
        }
    }

    @Test("job ids are UUIDv7 strings that sort by time")
    func jobIDs() {
        let early = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let late = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(early.count == 36)
        #expect(UUID(uuidString: early) != nil)
        #expect(Array(early)[14] == "7")
        #expect(early < late)
        #expect(JobID.isValid(early))
        #expect(!JobID.isValid(""))
        #expect(!JobID.isValid("a b"))
        #expect(!JobID.isValid("{x}"))
        #expect(Set((0..<1_000).map { _ in JobID.make() }).count == 1_000)
    }

    @Test("enqueue requests are validated field by field")
    func enqueueValidation() throws {
        let limit = 1_024
        try EnqueueRequest(type: "echo", payload: #"{"a":[1,2]}"#).validate(maxPayloadBytes: limit)
        try EnqueueRequest(type: "echo", payload: "42").validate(maxPayloadBytes: limit)
        let bad: [(EnqueueRequest, String)] = [
            (EnqueueRequest(type: ""), "type"),
            (EnqueueRequest(type: "x", payload: "{nope"), "JSON"),
            (EnqueueRequest(type: "x", payload: "\"" + String(repeating: "a", count: 2_000) + "\""), "over the limit"),
            (EnqueueRequest(type: "x", queue: "bad queue"), "queue"),
            (EnqueueRequest(type: "x", queue: ""), "queue"),
            (EnqueueRequest(type: "x", delayMilliseconds: -5), "delay"),
            (EnqueueRequest(type: "x", maxAttempts: 0), "max_attempts"),
            (EnqueueRequest(type: "x", timeoutMilliseconds: -1), "timeout"),
            (EnqueueRequest(type: "x", retryPolicy: RetryPolicy(kind: .exponential, baseMilliseconds: 10, maxMilliseconds: 5)), "backoff"),
            (EnqueueRequest(type: "x", uniqueKey: ""), "unique_key"),
            (EnqueueRequest(type: "x", id: "has:colon"), "id"),
        ]
        for (request, word) in bad {
            do {
                try request.validate(maxPayloadBytes: limit)
                Issue.record("accepted a bad request: \(request)")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains(word), "\(error.message) should mention \(word)")
            }
        }
    }

    @Test("configuration from the environment")
    func environment() throws {
        let configuration = try BrokerConfiguration.fromEnvironment([
            "CONVEYOR_NAMESPACE": "prod", "CONVEYOR_KEEP_FINISHED": "10m", "CONVEYOR_DEAD_MAX": "50", "CONVEYOR_MAX_PAYLOAD": "64k",
            "CONVEYOR_MAX_CRASHES": "5", "CONVEYOR_EVENTS_MAXLEN": "20000",
        ])
        #expect(configuration.namespace == "prod")
        #expect(configuration.keepFinishedMilliseconds == 600_000)
        #expect(configuration.deadMax == 50)
        #expect(configuration.maxPayloadBytes == 65_536)
        #expect(configuration.maxCrashes == 5)
        #expect(configuration.eventsMaxLength == 20_000)
        #expect(configuration.eventsHardMaxLength == 400_000)
        #expect(configuration.functions)
        let caps = try BrokerConfiguration.fromEnvironment([
            "CONVEYOR_EVENTS_MAXLEN": "20000", "CONVEYOR_EVENTS_HARD_MAXLEN": "30000", "CONVEYOR_LUA_FUNCTIONS": "0",
        ])
        #expect(caps.eventsHardMaxLength == 30_000)
        #expect(!caps.functions)
        let defaults = try BrokerConfiguration.fromEnvironment([:])
        #expect(defaults.eventsMaxLength == 100_000 && defaults.eventsHardMaxLength == 2_000_000)
        #expect(defaults == BrokerConfiguration())
        #expect(defaults.keepFinishedMilliseconds == 3_600_000)
        #expect(defaults.deadMax == 100_000)
        for bad in [
            ["CONVEYOR_NAMESPACE": "a{b}"], ["CONVEYOR_DEAD_MAX": "-1"], ["CONVEYOR_KEEP_FINISHED": "soon"], ["CONVEYOR_MAX_PAYLOAD": "1g"],
            ["CONVEYOR_EVENTS_MAXLEN": "20000", "CONVEYOR_EVENTS_HARD_MAXLEN": "10000"], ["CONVEYOR_LUA_FUNCTIONS": "maybe"],
        ] {
            #expect(throws: ConveyorError.self) { try BrokerConfiguration.fromEnvironment(bad) }
        }
    }

    @Test("every Lua script is embedded, documented, and declares the keys its name counts")
    func luaScripts() throws {
        let names = BrokerScripts.embeddedNames
        #expect(Set(names) == Set(BrokerScripts().all.map(\.name) + ["rate-limit-1"]))
        for script in BrokerScripts.embedded {
            let header = script.source.split(separator: "\n").prefix { $0.hasPrefix("--") }.joined(separator: "\n")
            #expect(header.hasPrefix("-- "), "\(script.name) has no header comment")
            #expect(header.contains("KEYS[1]") && header.contains("ARGV[1]") && header.contains("Returns"), "\(script.name) header")
            let declared = Int(script.name.split(separator: "-").last!)!
            var highest = 0
            for index in 1...20 where script.source.contains("KEYS[\(index)]") { highest = index }
            #expect(highest == declared, "\(script.name) uses KEYS up to \(highest)")
            #expect(!script.source.contains("@include"), "\(script.name) still has an include line")
        }
    }

    @Test("libmongoc links (the history issue builds on it)")
    func mongocLinks() {
        // No mongoc_init()/mongoc_cleanup() here: cleanup frees libmongoc's process-wide handshake data
        // while ConveyorHistory's clients in the same test process use it (their hello turned to
        // garbage). ConveyorHistory calls mongoc_init() once and never cleans up.
        #expect(String(cString: mongoc_get_version()).hasPrefix("1."))
    }
}

@Suite("JSON syntax check")
struct JSONValidationTests {
    @Test(
        "accepts every kind of JSON value",
        arguments: [
            "{}", "[]", "0", "-1.5e+10", "\"a\\u00e9\\n\"", "true", "false", "null", " {\"a\": [1, 2.0, {\"b\": null}], \"c\": \"\\\"\"} ",
            "[[[[[]]]]]", "\"émoji 🎉\"",
        ])
    func accepts(text: String) throws {
        try JSONText.validate(text)
    }

    @Test(
        "rejects malformed JSON",
        arguments: [
            "", " ", "{", "}", "[1,]", "{\"a\":}", "{a:1}", "01", "1.", "-", "tru", "nul", "\"open", "\"bad \\x escape\"", "[1 2]",
            "{\"a\" 1}", "1 2", "\"tab\there\"", String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        ])
    func rejects(text: String) {
        #expect(throws: ConveyorError.self) { try JSONText.validate(text) }
    }

    @Test(
        "rawMember: a top-level member's text as sent, nil when absent, repeated, possibly escaped or not one object",
        arguments: [
            (#"{"type":"x","payload":{"b":1,"a":[1, 2]}}"#, #"{"b":1,"a":[1, 2]}"#),
            (#" { "payload" :  "a \"quoted\" }" , "x": 1 } "#, #""a \"quoted\" }""#),
            (#"{"payload":null}"#, "null"), (#"{"payload":-1.5e3}"#, "-1.5e3"),
            (#"{"x":{"payload":1},"payload":2}"#, "2"),
            (#"{"x":"\"payload\":3","payload":[]}"#, "[]"),
            (#"{"x":{"payload":1}}"#, nil), (#"{"payload":1,"payload":2}"#, nil), (#"{"pay\u006coad":1}"#, nil),
            (#"{"payload":1"#, nil), (#"{"payload":1} x"#, nil), (#"[{"payload":1}]"#, nil), ("", nil), ("{}", nil),
        ] as [(String, String?)])
    func rawMember(text: String, expected: String?) {
        var text = text
        let found = text.withUTF8 { JSONText.rawMember("payload", in: UnsafeRawBufferPointer($0)) }
        #expect(found == expected)
    }
}

@Suite("JSON output: numbers as written")
struct JSONWriterTests {
    @Test func rawJSONKeepsNumbersAndStringsAndTakesTheWritersLayout() throws {
        let raw = try #require(RawJSON(#" { "n" : 9007199254740993 , "z":-0, "s":"a\u0000 \"{,}\"", "e":[ ], "o":{} , "l":[1.10,2E5] } "#))
        #expect(
            JSONText.string(["payload": raw, "id": "x"])
                == #"{"id":"x","payload":{"n":9007199254740993,"z":-0,"s":"a\u0000 \"{,}\"","e":[],"o":{},"l":[1.10,2E5]}}"#)
        #expect(
            JSONText.string(["p": try #require(RawJSON("[1,{\"a\":2}]"))], pretty: true)
                == "{\n  \"p\" : [\n    1,\n    {\n      \"a\" : 2\n    }\n  ]\n}")
        #expect(RawJSON("{") == nil && JSONText.object("{") as? String == "{")
    }

    @Test func foundationValuesAreWrittenLikeJSONSerialization() throws {
        let parsed = try JSONSerialization.jsonObject(with: Data(#"{"t":true,"f":false,"i":7,"d":2.5}"#.utf8))
        #expect(JSONText.string(parsed) == #"{"d":2.5,"f":false,"i":7,"t":true}"#)
        #expect(JSONText.string([1.0, 0.5, -3, Double.nan, "é\n", NSNull()] as [Any]) == #"[1,0.5,-3,null,"é\n",null]"#)
        #expect(JSONText.string(["b": 2, "a": [true]] as [String: Any]) == #"{"a":[true],"b":2}"#)
    }

    @Test func nonFiniteNumbersAreNamedByPath() {
        #expect(JSONText.nonFiniteNumberPath(#"{"a":[1,{"b":1e400}]}"#, root: "payload") == "payload.a[1].b")
        #expect(JSONText.nonFiniteNumberPath(#"{"a":1e300,"b":-1e-400}"#) == nil)
        #expect(throws: ConveyorError.self) { try JSONText.validate(#"{"e":1E400}"#) }
    }
}

@Suite("Parsing: RFC 3339")
struct RFC3339Tests {
    @Test(arguments: [
        ("2026-11-22T10:00:00Z", 1_795_341_600.0), ("2026-11-22T10:00:00.250Z", 1_795_341_600.25),
        ("2026-11-22t11:30:00+01:30", 1_795_341_600.0), ("2026-11-22T08:00:00-02:00", 1_795_341_600.0),
        ("2024-02-29T00:00:00Z", 1_709_164_800.0), ("1969-12-31T23:59:59Z", -1.0), ("0001-01-01T00:00:00Z", -62_135_596_800.0),
        ("2016-12-31T23:59:60Z", 1_483_228_799.0),
    ])
    func valid(text: String, seconds: Double) {
        #expect(RFC3339.date(text, requireOffset: true)?.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: [
        "", "2026-11-22", "2026-11-22T10:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z",
        "2026-11-22T24:00:00Z", "2024-01-01T12:99:00Z", "2026-11-22T10:00:61Z", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00+1:00",
        "2026-11-22T10:00:00+24:00", "2026-11-22T10:00:00Zjunk", "２０２６-11-22T10:00:00Z", "2026-11-22T10:00:00",
    ])
    func invalid(text: String) {
        #expect(RFC3339.date(text, requireOffset: true) == nil)
    }

    @Test func withoutAnOffsetMeansUTCUnlessRequired() {
        #expect(RFC3339.date("2026-11-22T10:00:00")?.timeIntervalSince1970 == 1_795_341_600)
        #expect(RFC3339.string(RFC3339.date("2026-11-22T10:00:00.5Z")!) == "2026-11-22T10:00:00.500Z")
    }
}
