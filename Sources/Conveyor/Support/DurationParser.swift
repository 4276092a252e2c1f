import Foundation

/// Reads human durations: `500ms`, `5s`, `2m`, `1h`, `30d`, or a bare number of milliseconds.
public enum DurationParser {
    /// The duration in milliseconds; rejects negative, malformed and absurd (over 10 years) values.
    public static func milliseconds(_ text: String) throws(ConveyorError) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var number = Substring(trimmed)
        var factor = 1.0
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            factor = scale
            break
        }
        if number.hasPrefix("-"), let value = Double(number.dropFirst()), value.isFinite {
            throw ConveyorError(.invalidArgument, "'\(text)' is not a duration: it is negative (0 or more)")
        }
        guard !number.isEmpty, let value = Double(number), value.isFinite, value >= 0 else {
            throw ConveyorError(.invalidArgument, "'\(text)' is not a duration (examples: 500ms, 5s, 2m, 1h, 30d)")
        }
        let milliseconds = value * factor
        guard milliseconds <= 315_360_000_000 else {
            throw ConveyorError(.invalidArgument, "duration '\(text)' is too long (10 years at most)")
        }
        return Int(milliseconds.rounded())
    }
}
