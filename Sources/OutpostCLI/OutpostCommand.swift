import ArgumentParser
import OutpostCore

/// The root of `outpost`: shared `--store`, one subcommand per file (`Command+New.swift`, …).
public struct OutpostCommand: ParsableCommand {
    /// The command tree. Later commands (`sync`, `config`, `conflicts`, `resolve`, `bundle`) are
    /// added as a `Command+Name.swift` file holding `extension OutpostCommand { struct Name }` and
    /// one line in `subcommandTypes`.
    public static let configuration = CommandConfiguration(
        commandName: "outpost",
        abstract: "Record, edit and share incident reports, offline first.",
        discussion: """
            The store is a folder holding one SQLite file: --store DIR, else $OUTPOST_STORE, \
            else ~/.outpost. Errors go to standard error as `outpost: error: …`.

            \(OutpostExitCode.helpText)
            """,
        version: outpostVersion,
        subcommands: subcommandTypes)

    /// Every subcommand, in help order.
    static let subcommandTypes: [any ParsableCommand.Type] = [
        Init.self, New.self, Edit.self, Delete.self, Restore.self, List.self, Show.self, History.self, Status.self,
        Import.self, Export.self, Conflicts.self, Resolve.self, Bundle.self, Config.self, Sync.self, Identity.self,
        Roster.self, Wipe.self, Unlock.self, Lock.self, Passphrase.self, Duress.self, Encrypt.self, Agent.self,
    ]

    /// The shared store option, accepted before the subcommand too (`outpost --store DIR list`).
    @OptionGroup public var storeOptions: StoreOptions

    /// Makes the root command.
    public init() {}
}
