/// One field of a cron expression: the set of values it allows, as a bit set.
struct CronField: Sendable, Hashable {
    /// What a field is called, its bounds and its names.
    struct Kind: Sendable {
        let name: String
        let range: ClosedRange<Int>
        let names: [String: Int]

        static let second = Kind(name: "second", range: 0...59, names: [:])
        static let minute = Kind(name: "minute", range: 0...59, names: [:])
        static let hour = Kind(name: "hour", range: 0...23, names: [:])
        static let dayOfMonth = Kind(name: "day of month", range: 1...31, names: [:])
        static let month = Kind(
            name: "month", range: 1...12,
            names: [
                "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
                "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
            ])
        /// 0 and 7 are both Sunday.
        static let dayOfWeek = Kind(
            name: "day of week", range: 0...7, names: ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6])

        /// The end of `*` and of `n/step`: 6 for the day of week, so Sunday is not counted twice.
        var implicitUpperBound: Int { range.upperBound == 7 ? 6 : range.upperBound }
    }

    /// Bit `n` is set when value `n` is allowed.
    private(set) var bits: UInt64
    /// The field starts with `*` (`*` or `*/n`): Vixie cron's test for "unrestricted" days.
    let isStar: Bool

    init(bits: UInt64, isStar: Bool) {
        self.bits = bits
        self.isStar = isStar
    }

    /// Parses one field; errors are the reason alone, the caller adds the field's position.
    init(parsing text: Substring, as kind: Kind) throws(FieldError) {
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            bits |= try Self.parseItem(item, kind)
        }
        if kind.range.upperBound == 7, bits & (1 << 7) != 0 {  // day of week 7 is Sunday
            bits = bits & ~(1 << 7) | 1
        }
        self.init(bits: bits, isStar: text.hasPrefix("*"))
    }

    /// Whether `value` is allowed.
    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0
    }

    /// The smallest allowed value at or after `value`, if any.
    func next(from value: Int) -> Int? {
        guard value < 64 else { return nil }
        let remaining = value <= 0 ? bits : bits & ~((1 << UInt64(value)) - 1)
        return remaining == 0 ? nil : remaining.trailingZeroBitCount
    }

    /// The reason a field does not parse.
    struct FieldError: Error {
        let reason: String
    }

    /// `*`, `n`, `a-b`, each optionally followed by `/step`; `n/step` means `n-max/step`.
    private static func parseItem(_ item: Substring, _ kind: Kind) throws(FieldError) -> UInt64 {
        guard !item.isEmpty else { throw FieldError(reason: "empty list item") }
        let parts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw FieldError(reason: "'\(item)' has more than one '/'") }
        let rangeText = parts[0]
        var step = 1
        if parts.count == 2 {
            let stepText = parts[1]
            guard !stepText.isEmpty else { throw FieldError(reason: "missing step after '/' in '\(item)'") }
            guard let value = Int(stepText), stepText.allSatisfy(\.isASCII) else {
                throw FieldError(reason: "step '\(stepText)' is not a number")
            }
            let largest = kind.range.upperBound - kind.range.lowerBound
            guard (1...largest).contains(value) else { throw FieldError(reason: "step \(value) is out of range 1-\(largest)") }
            step = value
        }
        let low: Int
        let high: Int
        if rangeText == "*" {
            low = kind.range.lowerBound
            high = kind.implicitUpperBound
        } else if rangeText.isEmpty {
            throw FieldError(reason: "missing value before '/' in '\(item)'")
        } else {
            let bounds = rangeText.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count <= 2 else { throw FieldError(reason: "'\(rangeText)' has more than one '-'") }
            low = try value(bounds[0], kind)
            if bounds.count == 2 {
                high = try value(bounds[1], kind)
                guard low <= high else { throw FieldError(reason: "range \(rangeText) runs backwards (\(low) is after \(high))") }
            } else {
                high = parts.count == 2 ? kind.implicitUpperBound : low
            }
        }
        var bits: UInt64 = 0
        for value in stride(from: low, through: high, by: step) {
            bits |= 1 << UInt64(value)
        }
        return bits
    }

    private static func value(_ text: Substring, _ kind: Kind) throws(FieldError) -> Int {
        guard !text.isEmpty else { throw FieldError(reason: "missing number in range") }
        if text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let value = Int(text), kind.range.contains(value) else {
                throw FieldError(reason: "\(text) is out of range \(kind.range.lowerBound)-\(kind.range.upperBound)")
            }
            return value
        }
        if kind.names.isEmpty || !text.allSatisfy({ $0.isASCII && $0.isLetter }) {
            throw FieldError(reason: "'\(text)' is not a number")
        }
        guard let value = kind.names[text.uppercased()] else {
            let examples = kind.names.sorted { $0.value < $1.value }.map(\.key)
            throw FieldError(reason: "unknown name '\(text)' (expected \(examples.first!)...\(examples.last!))")
        }
        return value
    }
}
