// Build-time tool behind EmbedPlugin. Two modes:
//   Embed lua LUA_DIRECTORY OUTPUT   every `*.lua` with `-- @include "name"` lines inlined from
//                                    `includes/name.lua` (each once), as `EmbeddedLua.scripts[name]`,
//                                    and all of them as one Redis function library, `EmbeddedLua.library`
//   Embed files ROOT OUTPUT FOLDER…  every file under ROOT/FOLDER as `EmbeddedFiles.files["FOLDER/…"]`;
//                                    a `.yaml` file is also converted to JSON (same path, `.json`), in
//                                    document order, so a YAML error fails the build
import Foundation
import Yams

struct EmbedError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A Swift raw string literal holding `text` exactly.
func literal(_ text: String) -> String {
    var hashes = "#"
    while text.contains("\"\"\"" + hashes) || text.contains("\\" + hashes) { hashes += "#" }
    return "\(hashes)\"\"\"\n\(text)\n\"\"\"\(hashes)"
}

/// `source` with every `-- @include "name"` line replaced by `includes/name.lua` (itself expanded),
/// each include at most once (`seen` holds those already in), so an include's dependencies come
/// before it and shared helpers are defined once.
func expandIncludes(_ source: String, from file: String, directory: URL, seen: inout Set<String>, depth: Int = 0) throws -> String {
    guard depth < 8 else { throw EmbedError("include nesting too deep in \(file)") }
    var lines: [String] = []
    for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
        guard let name = includeName(line) else {
            lines.append(String(line))
            continue
        }
        guard seen.insert(name).inserted else { continue }
        let url = directory.appendingPathComponent("includes").appendingPathComponent(name + ".lua")
        guard let included = try? String(contentsOf: url, encoding: .utf8) else {
            throw EmbedError("\(file): cannot read include \(name)")
        }
        lines.append(try expandIncludes(included, from: name, directory: directory, seen: &seen, depth: depth + 1))
    }
    return lines.joined(separator: "\n")
}

/// The include a `-- @include "name"` line names, nil for any other line.
func includeName(_ line: Substring) -> String? {
    let trimmed = line.trimmingCharacters(in: .whitespaces)
    guard trimmed.hasPrefix("-- @include ") else { return nil }
    return trimmed.dropFirst("-- @include ".count).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
}

/// Checks a script's key count, the number its file name ends with (`claim-4`): every `KEYS[i]` it
/// mentions has i <= that count, and its header documents `KEYS[count]`; FCALL and EVALSHA take the
/// count from the name, so a wrong one would hand the script arguments as keys.
func checkKeyCount(_ name: String, _ source: String) throws {
    guard let count = name.split(separator: "-").last.flatMap({ Int($0) }) else {
        throw EmbedError("Lua/\(name).lua: the name must end with -<number of keys>")
    }
    var rest = Substring(source)
    while let range = rest.range(of: "KEYS[") {
        let digits = rest[range.upperBound...].prefix { $0.isNumber }
        if let index = Int(digits), index > count {
            throw EmbedError("Lua/\(name).lua uses KEYS[\(index)] but its name declares \(count) keys")
        }
        rest = rest[range.upperBound...]
    }
    if count > 0 && !source.contains("KEYS[\(count)]") {
        throw EmbedError("Lua/\(name).lua declares \(count) keys but never names KEYS[\(count)]")
    }
}

/// FNV-1a (64 bit) of `text`, in hex: names the function library after its contents, so two builds
/// with different scripts never replace each other's functions on a shared Redis (a rolling upgrade).
/// Not a security hash, and none is needed here.
func fnv1a(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    return String(hash, radix: 16)
}

/// A script's body between begin_call(ARGV[1]) and end_call() (Lua/includes/call_state.lua): the body
/// runs as a function of its own under pcall, so end_call() also follows a `return` in its middle, and
/// an error: Redis keeps the writes a script made before it failed, so their events, counts and
/// metrics are written too (under pcall, so a failure there cannot replace the first error) before
/// the error is raised again.
func wrapped(_ body: String) -> String {
    "begin_call(ARGV[1])\nlocal ok, reply = pcall(function()\n\(body)\nend)\nif not ok then\n  pcall(end_call)\n  error(reply, 0)\nend\nend_call()\nreturn reply"
}

/// `EmbeddedLua`: `scripts` (each script with its includes inlined, for EVALSHA on Redis before 7.0)
/// and `library`, every script as a function of one Redis function library (FUNCTION LOAD, Redis 7.0+):
/// the includes defined once at load, each script's body registered as `<library>_<name>` (dashes as
/// underscores) taking (KEYS, ARGV), between begin_call() and end_call() (`wrapped`).
func embedLua(directory: URL) throws -> String {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".lua") }.sorted()
    var scripts: [(String, String)] = []
    var prelude: [String] = []
    var bodies: [(String, String)] = []
    var librarySeen: Set<String> = ["call_state"]
    let callState = directory.appendingPathComponent("includes/call_state.lua")
    prelude.append(try String(contentsOf: callState, encoding: .utf8))
    for file in names {
        let name = String(file.dropLast(".lua".count))
        let source = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        var seen: Set<String> = ["call_state"]
        var includes = [try String(contentsOf: callState, encoding: .utf8)]
        for line in lines where includeName(line) != nil {
            includes.append(try expandIncludes(String(line), from: file, directory: directory, seen: &seen))
            prelude.append(try expandIncludes(String(line), from: file, directory: directory, seen: &librarySeen))
        }
        let header = lines.prefix { $0.hasPrefix("--") && includeName($0) == nil }.joined(separator: "\n")
        let body = lines.filter { includeName($0) == nil }.joined(separator: "\n")
        let statements = lines.dropFirst(lines.prefix { $0.hasPrefix("--") }.count).joined(separator: "\n")
        let expanded = ([header] + includes).filter { !$0.isEmpty }.joined(separator: "\n") + "\n" + wrapped(statements)
        try checkKeyCount(name, expanded)
        scripts.append((name, expanded))
        bodies.append((name, body))
    }
    var code = prelude.filter { !$0.isEmpty }.joined(separator: "\n")
    let hash = fnv1a(code + bodies.map { $0.0 + $0.1 }.joined())
    let library = "conveyor_" + hash
    for (name, body) in bodies {
        let function = library + "_" + name.replacingOccurrences(of: "-", with: "_")
        code += "\nredis.register_function('\(function)', function(KEYS, ARGV)\n\(wrapped(body))\nend)\n"
    }
    var swift = "// Generated by Embed from Lua/*.lua at build time. Do not edit.\n"
    swift += "enum EmbeddedLua {\n"
    swift += "    static let libraryName = \"\(library)\"\n"
    swift += "    static let library = \(literal("#!lua name=" + library + "\n" + code))\n"
    swift += "    static let scripts: [String: String] = [\n"
    for (name, expanded) in scripts { swift += "        \"\(name)\": \(literal(expanded)),\n" }
    if scripts.isEmpty { swift += "        :\n" }
    return swift + "    ]\n}\n"
}

/// JSON text of a YAML node, mappings in document order.
func json(_ node: Node, in file: String) throws -> String {
    switch node {
    case .mapping(let mapping):
        var members: [String] = []
        for (key, value) in mapping {
            guard let name = key.string else { throw EmbedError("\(file): a mapping key is not a string") }
            members.append(try jsonString(name) + ":" + json(value, in: file))
        }
        return "{" + members.joined(separator: ",") + "}"
    case .sequence(let sequence):
        return "[" + (try sequence.map { try json($0, in: file) }).joined(separator: ",") + "]"
    case .scalar:
        switch node.any {
        case is NSNull: return "null"
        case let value as Bool: return value ? "true" : "false"
        case let value as Int: return String(value)
        case let value as Double:
            guard value.isFinite else { throw EmbedError("\(file): \(value) has no JSON form") }
            return String(value)
        default: return try jsonString(node.string ?? "")
        }
    case .alias:
        throw EmbedError("\(file): YAML aliases are not supported")
    }
}

func jsonString(_ text: String) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed, .withoutEscapingSlashes])
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}

func embedFiles(root: URL, folders: [String]) throws -> String {
    var entries: [(String, String)] = []
    for folder in folders {
        let base = root.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(atPath: base.path) else { continue }
        for case let relative as String in walker {
            let url = base.appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") })
            else { continue }
            let key = folder + "/" + relative
            let text = try String(contentsOf: url, encoding: .utf8)
            entries.append((key, text))
            if relative.hasSuffix(".yaml") {
                guard let node = try Yams.compose(yaml: text) else { throw EmbedError("\(key) is empty") }
                entries.append((String(key.dropLast(".yaml".count)) + ".json", try json(node, in: key)))
            }
        }
    }
    var swift = "// Generated by Embed from \(folders.joined(separator: ", ")) at build time. Do not edit.\n"
    swift += "enum EmbeddedFiles {\n    static let files: [String: String] = [\n"
    for (key, text) in entries.sorted(by: { $0.0 < $1.0 }) { swift += "        \(try jsonString(key)): \(literal(text)),\n" }
    if entries.isEmpty { swift += "        :\n" }
    return swift + "    ]\n}\n"
}

let arguments = CommandLine.arguments
do {
    let swift: String
    let output: URL
    switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
    case (4, "lua"):
        output = URL(fileURLWithPath: arguments[3])
        swift = try embedLua(directory: URL(fileURLWithPath: arguments[2]))
    case (4..., "files"):
        output = URL(fileURLWithPath: arguments[3])
        swift = try embedFiles(root: URL(fileURLWithPath: arguments[2]), folders: Array(arguments.dropFirst(4)))
    default:
        throw EmbedError("usage: Embed lua LUA_DIRECTORY OUTPUT | Embed files ROOT OUTPUT FOLDER...")
    }
    if (try? String(contentsOf: output, encoding: .utf8)) != swift {
        try swift.write(to: output, atomically: true, encoding: .utf8)
    }
} catch {
    FileHandle.standardError.write(Data("Embed: \(error)\n".utf8))
    exit(1)
}
