import ArgumentParser
import Conveyor
import ConveyorServer
import Foundation

/// How a listing command prints: an aligned table for people, or the REST API's JSON for programs.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// `--output table|json`: a table on a terminal, JSON when standard output is piped or redirected.
struct OutputOptions: ParsableArguments {
    @Option(name: .customLong("output"), help: "table or json (default: table on a terminal, json when piped)")
    var format: OutputFormat?

    var resolved: OutputFormat { format ?? (isatty(STDOUT_FILENO) == 1 ? .table : .json) }

    /// Prints `body` as JSON (the REST API's shape), or `table()` for `.table`.
    func print(_ body: some Encodable, table: () -> TextTable) throws {
        switch resolved {
        case .json: try printBody(body)
        case .table: Swift.print(table().rendered, terminator: "")
        }
    }
}

/// Prints a response body as the REST API writes it (pretty-printed; payloads as stored).
func printBody(_ body: some Encodable, pretty: Bool = true) throws {
    print(try JSONBodyEncoder(pretty: pretty).string(body))
}

/// Rows under a header, each column as wide as its widest cell; `footer` lines follow.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    var footer: [String] = []
    /// Shown instead of the header when there are no rows.
    var empty = "(none)"

    var rendered: String {
        var text = ""
        if rows.isEmpty {
            text = empty + "\n"
        } else {
            var widths = header.map(\.count)
            for row in rows {
                for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
            }
            for row in [header] + rows {
                let cells = row.enumerated().map { index, cell in
                    index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                }
                text += cells.joined(separator: "  ") + "\n"
            }
        }
        for line in footer { text += line + "\n" }
        return text
    }

    /// A short local-free timestamp for tables: `2026-11-30 13:45:07Z`; `-` for none.
    static func time(_ date: Date?) -> String {
        guard let date else { return "-" }
        return String(RFC3339.string(date).replacingOccurrences(of: "T", with: " ").prefix(19)) + "Z"
    }

    /// `text` cut to `width` characters with an ellipsis.
    static func cut(_ text: String?, _ width: Int = 60) -> String {
        guard let text, !text.isEmpty else { return "-" }
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count <= width ? line : String(line.prefix(width - 1)) + "…"
    }
}

/// Progress of a long operation on standard error, on a terminal only and only once it has taken
/// longer than a second (`CONVEYOR_PROGRESS_AFTER_MS` changes that, for tests): `label done/total
/// (rate/s)`, redrawn in place, with a final newline.
final class Progress {
    let label: String
    let total: Int?
    let start = Date()
    private var shown = false
    private let enabled = isatty(STDERR_FILENO) == 1
    private let after =
        Double(ProcessInfo.processInfo.environment["CONVEYOR_PROGRESS_AFTER_MS"].flatMap { Int($0) } ?? 1_000) / 1_000

    init(_ label: String, total: Int? = nil) {
        self.label = label
        self.total = total
    }

    func update(_ done: Int) {
        let elapsed = Date().timeIntervalSince(start)
        guard enabled, elapsed >= after else { return }
        shown = true
        let rate = Int(Double(done) / max(elapsed, 0.001))
        let of = total.map { "/\($0)" } ?? ""
        FileHandle.standardError.write(Data("\r\(label) \(done)\(of) (\(rate)/s)   ".utf8))
    }

    func finish(_ done: Int) {
        guard shown else { return }
        update(done)
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

extension JobPriority: ExpressibleByArgument {}
extension JobState: ExpressibleByArgument {}
extension MisfirePolicy: ExpressibleByArgument {}
