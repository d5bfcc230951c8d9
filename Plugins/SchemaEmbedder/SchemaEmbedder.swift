import Foundation
import PackagePlugin

/// Generates Swift source holding every `Schema/*.sql` migration, so the SQL files stay the one
/// source of truth and a file added to `Schema/` is picked up on the next build.
@main
struct SchemaEmbedder: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let schemaDir = context.package.directoryURL.appending(path: "Schema")
        let files = try FileManager.default.contentsOfDirectory(
            at: schemaDir, includingPropertiesForKeys: nil
        )
        .filter { $0.pathExtension == "sql" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) schema migrations",
                executable: try context.tool(named: "schema-embed").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
