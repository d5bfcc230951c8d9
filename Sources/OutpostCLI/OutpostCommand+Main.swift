import ArgumentParser
import OutpostCore
import OutpostStore
import OutpostSync

extension OutpostCommand {
    /// Parses `arguments` (without the program name), runs the command and returns the exit code.
    ///
    /// Usage errors exit 2; store and input failures exit with their `OutpostExitCode`.
    public static func execute(_ arguments: [String]) -> Int32 {
        // However the command ends, the stores it opened are checkpointed and their WAL truncated.
        defer { OpenedStores.shared.checkpointAll() }
        do {
            var command = try parseAsRoot(hoistingStoreOption(arguments))
            try command.run()
            return OutpostExitCode.success.rawValue
        } catch {
            return report(error)
        }
    }

    /// Prints an error (or the help it asks for) and returns its exit code.
    static func report(_ error: any Error) -> Int32 {
        switch error {
        case let e as CLIError:
            Console.error(e.message)
            return e.code.rawValue
        case is StoreError, is OutpostCore.ValidationError, is ServerLinkError, is BundleError, is ServerSyncStalled,
            is ServerSyncNoProgress:
            let e = CLIError.from(error)
            Console.error(e.message)
            return e.code.rawValue
        default:
            let code = exitCode(for: error)
            var text = fullMessage(for: error)
            if code.isSuccess {
                Console.out(text.hasSuffix("\n") ? text : text + "\n")
                return 0
            }
            if text.hasPrefix("Error: ") { text = "outpost: error: " + text.dropFirst("Error: ".count) }
            if !text.hasPrefix("outpost: error: ") { text = "outpost: error: " + text }
            Console.err(text)
            return code == .validationFailure ? OutpostExitCode.usage.rawValue : code.rawValue
        }
    }

    /// Moves `--store DIR` given before the subcommand to after it, where the subcommand reads it.
    static func hoistingStoreOption(_ arguments: [String]) -> [String] {
        var before: [String] = []
        var rest = arguments[...]
        while let first = rest.first, first.hasPrefix("-") {
            if first == "--store", rest.count >= 2 {
                before += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--store=") {
                before.append(first)
                rest = rest.dropFirst()
            } else {
                return arguments
            }
        }
        guard let subcommand = rest.first, !before.isEmpty else { return arguments }
        return [subcommand] + before + rest.dropFirst()
    }
}
