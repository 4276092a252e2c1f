// Build tool plugin: embeds the project's non-Swift files into the target that serves them, so one
// executable carries everything: `Lua/*.lua` (broker scripts, includes expanded) into `Conveyor`, and
// `API/*` (the OpenAPI document, plus its JSON form converted from YAML at build time) and
// `Dashboard/*` (the web UI; text files only) into `ConveyorServer`.
import Foundation
import PackagePlugin

@main
struct EmbedPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let root = context.package.directoryURL
        let tool = try context.tool(named: "Embed").url
        switch target.name {
        case "Conveyor":
            let lua = root.appending(path: "Lua")
            let inputs = files(in: lua, suffix: ".lua") + files(in: lua.appending(path: "includes"), suffix: ".lua")
            let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedLua.swift")
            return [
                .buildCommand(
                    displayName: "Embedding \(inputs.count) Lua scripts", executable: tool,
                    arguments: ["lua", lua.path(), output.path()], inputFiles: inputs, outputFiles: [output])
            ]
        case "ConveyorServer":
            let folders = ["API", "Dashboard"]
            let inputs = folders.flatMap { files(in: root.appending(path: $0), suffix: "", recursive: true) }
            let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFiles.swift")
            return [
                .buildCommand(
                    displayName: "Embedding \(inputs.count) files", executable: tool,
                    arguments: ["files", root.path(), output.path()] + folders, inputFiles: inputs, outputFiles: [output])
            ]
        default:
            return []
        }
    }

    func files(in directory: URL, suffix: String, recursive: Bool = false) -> [URL] {
        let manager = FileManager.default
        var found: [URL] = []
        for name in ((try? manager.contentsOfDirectory(atPath: directory.path())) ?? []).sorted() where !name.hasPrefix(".") {
            let url = directory.appending(path: name)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: url.path(), isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                if recursive { found += files(in: url, suffix: suffix, recursive: true) }
            } else if name.hasSuffix(suffix) {
                found.append(url)
            }
        }
        return found
    }
}
