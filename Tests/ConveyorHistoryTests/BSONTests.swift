import CMongoc
import Foundation
import Testing

@testable import ConveyorHistory

@Suite("History: BSON and JSON")
struct BSONTests {
    static let everyType: Document = [
        "null": .null, "true": true, "false": false, "int32": .int32(-7), "int64": .int64(1 << 40), "double": 2.5,
        "string": "héllo, 世界 🚀", "empty": "", "date": .date(milliseconds: 1_700_000_000_123),
        "document": ["nested": ["deeper": [1, 2, ["x": "y"]]]], "array": [1, "two", 3.0, .null, [4]],
        "objectID": .objectID(ObjectID("65a1b2c3d4e5f60718293a4b")!), "binary": .binary(BSONBinary(subtype: 4, data: Array(0..<16))),
        "timestamp": .timestamp(seconds: 1_700_000_000, increment: 3), "regex": .regex(pattern: "^a.*z$", options: "im"),
        "decimal": .decimal128(low: 1, high: 0x3040_0000_0000_0000), "min": .minKey, "max": .maxKey,
    ]

    @Test func everyTypeRoundTripsThroughBytes() throws {
        let bytes = try Self.everyType.bsonBytes()
        #expect(try Document(bsonBytes: bytes) == Self.everyType)
        #expect(Array(try Document(bsonBytes: bytes).keys) == Self.everyType.keys)
    }

    @Test func everyTypeRoundTripsThroughLibbson() throws {
        let copy = try withBSON(Self.everyType) { bson -> Document in
            #expect(bson_validate(bson, BSON_VALIDATE_NONE, nil))
            // A copy made by libbson, read back in Swift.
            let duplicate = bson_copy(bson)!
            defer { bson_destroy(duplicate) }
            return try Document(bson: duplicate)
        }
        #expect(copy == Self.everyType)
    }

    @Test func bytesMatchLibbsonsOwnEncoding() throws {
        let json = #"{"a": 1, "b": [true, null, "x"], "c": {"d": "é", "e": 2.5, "f": 5000000000}}"#
        var error = bson_error_t()
        let bson = try #require(bson_new_from_json(json, -1, &error))
        defer { bson_destroy(bson) }
        let theirs = Array(UnsafeBufferPointer(start: bson_get_data(bson), count: Int(conveyor_bson_length(bson))))
        let ours = try BSONValue(jsonText: json).documentValue!.bsonBytes()
        #expect(ours == theirs)
    }

    @Test func datesKeepMilliseconds() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.123)
        let document: Document = ["at": .date(date)]
        let back = try Document(bsonBytes: document.bsonBytes())
        #expect(back["at"]?.dateValue == date)
        #expect(back["at"]?.jsonText == #"{"$date":"2023-11-14T22:13:20.123Z"}"#)
        // Sub-millisecond parts round to the nearest millisecond.
        let fine = Date(timeIntervalSince1970: 1_700_000_000.1236)
        #expect(
            try Document(bsonBytes: (["at": .date(fine)] as Document).bsonBytes())["at"]?.dateValue
                == Date(timeIntervalSince1970: 1_700_000_000.124))
    }

    @Test func jsonPayloadBecomesNestedDocumentAndBack() throws {
        let text =
            #"{"to":"a@b.example","n":[1,-2,2147483648,2.5,1e3,-0.125],"ok":true,"none":null,"#
            + #""text":"line\nbreak \"quoted\" \\ tab\t é 世界 \ud83d\ude80","deep":{"a":{"b":{"c":[{}, []]}}},"$odd":1}"#
        let value = try BSONValue(jsonText: text)
        let document = try #require(value.documentValue)
        #expect(document.keys == ["to", "n", "ok", "none", "text", "deep", "$odd"])
        #expect(document["n"] == [.int32(1), .int32(-2), .int64(2_147_483_648), .double(2.5), .double(1000), .double(-0.125)])
        #expect(document["text"]?.stringValue == "line\nbreak \"quoted\" \\ tab\t é 世界 🚀")
        let back = value.jsonText
        #expect(try BSONValue(jsonText: back) == value)
        // Same meaning as the original, by Foundation's reading of both.
        let original = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
        let written = try JSONSerialization.jsonObject(with: Data(back.utf8)) as? NSDictionary
        #expect(original == written)
        // And through BSON bytes.
        #expect(try Document(bsonBytes: document.bsonBytes()) == document)
    }

    @Test func jsonScalarsAndArraysAreValuesToo() throws {
        #expect(try BSONValue(jsonText: " 42 ") == .int32(42))
        #expect(try BSONValue(jsonText: #""x""#) == "x")
        #expect(try BSONValue(jsonText: "[1,[2]]") == [1, [2]])
        #expect(BSONValue.double(3).jsonText == "3.0")
    }

    @Test func invalidJSONIsRejected() {
        for text in ["", "{", #"{"a":}"#, "[1,]", "01", "tru", #""\x""#, "{} x", #"{"a" 1}"#] {
            #expect(throws: HistoryError.self, "\(text)") { try BSONValue(jsonText: text) }
            do { _ = try BSONValue(jsonText: text) } catch let error as HistoryError {
                #expect(error.code == HistoryError.invalidJSONCode)
            } catch {}
        }
    }

    @Test func malformedBSONIsRejected() throws {
        let bytes = try (["a": "b"] as Document).bsonBytes()
        #expect(throws: HistoryError.self) { try Document(bsonBytes: bytes.dropLast()) }
        var bad = bytes
        bad[0] = 200
        #expect(throws: HistoryError.self) { try Document(bsonBytes: bad) }
        #expect(throws: HistoryError.self) { try (["a\u{0}b": 1] as Document).bsonBytes() }
    }

    @Test func largeDocumentsRoundTrip() throws {
        var document = Document((0..<10_000).map { index in ("field\(index)", .string(String(repeating: "x", count: index % 50))) })
        document["big"] = .string(String(repeating: "é", count: 1_000_000))
        let bytes = try document.bsonBytes()
        #expect(bytes.count > 2_000_000)
        #expect(try Document(bsonBytes: bytes) == document)
    }

    @Test func documentSubscriptKeepsOrder() {
        var document: Document = ["b": 1, "a": 2]
        document["c"] = 3
        document["b"] = 4
        document["a"] = nil
        #expect(document.keys == ["b", "c"])
        #expect(document["b"] == 4)
        #expect(document["missing"] == nil)
        #expect(IndexModel(keys: ["state": 1, "updated": -1]).name == "state_1_updated_-1")
    }

    @Test func plainJSONHasRFC3339DatesHexObjectIDsAndNestedValues() throws {
        let object = Self.everyType.plainJSONObject
        #expect(JSONSerialization.isValidJSONObject(object))
        #expect(object["null"] is NSNull)
        #expect(object["true"] as? Bool == true)
        #expect(object["int32"] as? Int == -7)
        #expect(object["int64"] as? Int == 1 << 40)
        #expect(object["double"] as? Double == 2.5)
        #expect(object["string"] as? String == "héllo, 世界 🚀")
        #expect(object["date"] as? String == "2023-11-14T22:13:20.123Z")
        #expect(object["objectID"] as? String == "65a1b2c3d4e5f60718293a4b")
        #expect(object["binary"] as? String == Data(Array(0..<16)).base64EncodedString())
        #expect(object["timestamp"] as? String == "2023-11-14T22:13:20.000Z")
        #expect(object["regex"] as? String == "/^a.*z$/im")
        #expect(object["decimal"] as? String == "1")
        #expect(object["min"] is NSNull && object["max"] is NSNull)
        let nested = try #require((object["document"] as? [String: Any])?["nested"] as? [String: Any])
        let deeper = try #require(nested["deeper"] as? [Any])
        #expect(deeper.count == 3 && deeper[0] as? Int == 1 && (deeper[2] as? [String: Any])?["x"] as? String == "y")
        let array = try #require(object["array"] as? [Any])
        #expect(array.count == 5 && array[1] as? String == "two" && array[3] is NSNull && (array[4] as? [Any])?.first as? Int == 4)

        // As text: no extended-JSON wrapper anywhere.
        let text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        #expect(!text.contains("$date") && !text.contains("$oid") && !text.contains("$binary"))
    }

    @Test func rfc3339KeepsEveryMillisecond() {
        // Milliseconds that a Double of seconds cannot hold exactly are still printed as stored.
        for (milliseconds, text) in [
            (Int64(0), "1970-01-01T00:00:00.000Z"), (1_718_000_000_123, "2024-06-10T06:13:20.123Z"),
            (1_718_000_000_999, "2024-06-10T06:13:20.999Z"), (1_718_000_000_001, "2024-06-10T06:13:20.001Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"), (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            #expect(BSONValue.rfc3339(milliseconds: milliseconds) == text)
            #expect(BSONValue.date(milliseconds: milliseconds).plainJSON as? String == text)
        }
        #expect(BSONValue.double(.nan).plainJSON is NSNull)
        #expect(BSONValue.double(-.infinity).plainJSON is NSNull)
    }
}
