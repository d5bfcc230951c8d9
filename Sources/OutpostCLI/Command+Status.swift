import ArgumentParser
import Foundation
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost status [--json]`: replica id, reporter, counts and changes not yet synced.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the store's replica id, reporter, incidents and changes not yet synced.",
            discussion: """
                --json prints {"replica", "reporter", "incidents", "conflicts", "unsynced_changes", \
                "own_changes", "held_back_changes", "total_changes", "server", "encrypted", \
                "kdf_log2n", "unlocked_seconds", "parcels", "parcel_bytes"} (kdf_log2n and \
                unlocked_seconds null when they do not apply). parcels and parcel_bytes count the \
                sealed parcels this device carries for the server: work of others it may not read, \
                handed on at the next sync.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Print a JSON object.")
        var json = false

        func run() throws {
            Console.out(try output(for: storeOptions.openStore()))
        }

        /// The text to print for `store`.
        func output(for store: Store) throws(CLIError) -> String {
            let status: StoreStatus
            let parcels: (count: Int, bytes: Int64)
            do {
                status = try store.status()
                parcels = try store.parcelStats()
            } catch {
                throw CLIError.from(error)
            }
            let protection = Protection(storeAt: store.directory)
            if json {
                guard case .object(var members) = status.json else { return status.json.serialized() + "\n" }
                members["encrypted"] = .bool(protection.encrypted)
                members["kdf_log2n"] = protection.log2N.map { .int(Int64($0)) } ?? .null
                members["unlocked_seconds"] = protection.unlockedSeconds.map { .int(Int64($0)) } ?? .null
                members["parcels"] = .int(Int64(parcels.count))
                members["parcel_bytes"] = .int(parcels.bytes)
                return JSONValue.object(members).serialized() + "\n"
            }
            return HumanFormat.status(status, path: store.directory) + protection.text
                + Status.parcelText(count: parcels.count, bytes: parcels.bytes)
        }

        /// The line on carried parcels, empty when there are none.
        static func parcelText(count: Int, bytes: Int64) -> String {
            guard count > 0 else { return "" }
            let size = String(format: "%.1f", Double(bytes) / 1000)
            return "Carrying \(count) sealed parcel\(count == 1 ? "" : "s") (\(size) kB) for the server; "
                + "they go at the next sync.\n"
        }

        /// How the store is protected, for `status`.
        struct Protection {
            var encrypted: Bool
            var log2N: UInt8?
            var unlockedSeconds: Int?

            init(storeAt path: String) {
                let keyfile = try? Keyfile.read(inStore: path)
                encrypted = keyfile != nil
                log2N = keyfile?.log2N
                unlockedSeconds = encrypted ? AgentClient.status(storeAt: path) : nil
            }

            var text: String {
                guard encrypted, let log2N else {
                    return "encryption        none (a store made before Outpost encrypted stores: `outpost encrypt` seals it)\n"
                }
                var text = "encryption        on (ChaChaPoly; key wrapped by scrypt N = 2^\(log2N)"
                if log2N < Keyfile.standardLog2N { text += ", below the standard 2^\(Keyfile.standardLog2N): a test setting" }
                text += ")\n"
                if let unlockedSeconds {
                    text +=
                        "unlocked          for \(unlockedSeconds / 60)m \(unlockedSeconds % 60)s more (`outpost lock` ends it)\n"
                } else {
                    text += "unlocked          no (each command asks for the passphrase; `outpost unlock` keeps it open)\n"
                }
                return text
            }
        }
    }
}
