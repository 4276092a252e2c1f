// Build tool plugin: turns every `Lua/*.lua` broker script into Swift source in the target
// that uses it, so the scripts ship inside the binary.
import Foundation
import PackagePlugin

@main
struct EmbedLuaPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let luaDirectory = context.package.directoryURL.appending(path: "Lua")
        let includes = luaDirectory.appending(path: "includes")
        let manager = FileManager.default
        var inputs: [URL] = []
        for directory in [luaDirectory, includes] {
            let names = (try? manager.contentsOfDirectory(atPath: directory.path())) ?? []
            for name in names.sorted() where name.hasSuffix(".lua") {
                inputs.append(directory.appending(path: name))
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedLua.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) Lua scripts",
                executable: try context.tool(named: "EmbedLua").url,
                arguments: [luaDirectory.path(), output.path()],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
