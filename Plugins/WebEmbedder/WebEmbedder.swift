import Foundation
import PackagePlugin

/// Generates Swift source holding every file under `Web/` (templates, message catalogues, static
/// files), so the server binary carries its pages wherever it is copied, and a file added to
/// `Web/` is picked up on the next build.
@main
struct WebEmbedder: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let webDir = context.package.directoryURL.appending(path: "Web")
        var files: [URL] = []
        if let walker = FileManager.default.enumerator(at: webDir, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker
            where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
                && !url.lastPathComponent.hasPrefix(".")
            {
                files.append(url)
            }
        }
        files.sort { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedWebFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) web files",
                executable: try context.tool(named: "web-embed").url,
                arguments: [output.path, webDir.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
