import ArgumentParser
import OutpostStore

extension OutpostCommand {
    /// `outpost init --reporter NAME [--server URL --token T]`: creates the store.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new store (fails, changing nothing, when one exists).")

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("Your name, recorded with every change you make (1–100 characters).", valueName: "name"))
        var reporter: String

        @Option(help: ArgumentHelp("The sync server's URL (http:// or https://).", valueName: "url"))
        var server: String?

        // Unconditional: a token may start with "-" (URL-safe base64).
        @Option(parsing: .unconditional, help: ArgumentHelp("The sync server's access token.", valueName: "token"))
        var token: String?

        func validate() throws {
            if token != nil && server == nil { throw ValidationError("--token needs --server") }
        }

        func run() throws {
            Console.out(try create(at: storeOptions.resolvedPath()))
        }

        /// Creates the store at `path` and returns the confirmation text.
        func create(at path: String) throws(CLIError) -> String {
            var settings: [String: String] = [:]
            if let server {
                _ = try ServerURL.checked(server)
                settings["server_url"] = server
            }
            if let token { settings["server_token"] = token }
            do {
                let store = OpenedStores.shared.register(try Store.create(at: path, reporter: reporter, settings: settings))
                return "Created an Outpost store at \(path) (replica \(store.replica.hex), reporter \(try store.reporter)).\n"
            } catch {
                throw CLIError.from(error)
            }
        }
    }
}
