import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost identity [--json]`: this device's replica ID and public key, for enrollment by key.
    struct Identity: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show this device's replica ID and public key (to enroll it by key before it leaves).",
            discussion: """
                The office enrolls a device that will not sync before it leaves with \
                `outpost-server enroll --reporter NAME --replica ID --key KEY`. The private key never \
                leaves the store and is never printed. --json prints {"replica": hex, "key": unpadded base64url}.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Print a JSON object.")
        var json = false

        func run() throws {
            Console.out(try output(for: storeOptions.openStore()))
        }

        /// The text to print for `store`.
        func output(for store: Store) throws(CLIError) -> String {
            let replica = store.replica.hex
            let key = Base64URL.encode(store.publicKey)
            if json { return JSONValue.object(["replica": .string(replica), "key": .string(key)]).serialized() + "\n" }
            let reporter: String
            do { reporter = try store.reporter } catch { throw CLIError(error) }
            return "replica   \(replica)\nkey       \(key)\nreporter  \(reporter)\n"
        }
    }
}
