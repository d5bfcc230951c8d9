import ArgumentParser
import Foundation
import OutpostStore

extension OutpostCommand {
    /// `outpost wipe [--yes]`: destroys the store: its keys first, then its files, then its folder.
    struct Wipe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Destroy this store beyond recovery (keys first, then every file of it).",
            discussion: """
                Says how many of this store's own changes have not reached any other replica, and \
                asks you to type "wipe" on a terminal (--yes skips that; without a terminal --yes is \
                required). No passphrase is needed. Then forgets the key in the unlock agent, \
                destroys the keyfile (overwritten with random bytes, synced, removed), so nothing of \
                the store decrypts any more, even with the passphrase; then overwrites every file \
                of the store with random bytes, syncs and removes it, and removes the folder. \
                Files in the folder that are not the store's are left in place and named.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Wipe without asking.")
        var yes = false

        func run() throws {
            let path = storeOptions.resolvedPath()
            guard Store.exists(at: path) else {
                throw CLIError(.storeMissing, "no Outpost store at \(path); nothing was wiped")
            }
            Console.out(unsharedText(at: path))
            if !yes { try confirm(path) }
            Console.out(try wipe(at: path))
        }

        /// What a wipe loses; a store that cannot be opened (damaged, held by another process) is
        /// still wiped, so that is said instead of a count.
        func unsharedText(at path: String) -> String {
            // Never asks for the passphrase: a reporter under pressure wipes without it.
            let encrypted = Keyfile.exists(inStore: path)
            let cipher = StoreKeyAccess.cipherWithoutAsking(forStoreAt: path)
            if encrypted && cipher == nil {
                return "The store is locked, so the changes not yet shared cannot be counted; wiping destroys any there are.\n"
            }
            do { return Wipe.unsharedText(try Store.open(at: path, cipher: cipher).unsharedOwnChangeCount()) } catch {
                return "Cannot count the changes not yet shared (\(error.message)); wiping destroys them all.\n"
            }
        }

        /// The line saying what a wipe loses.
        static func unsharedText(_ count: Int64) -> String {
            switch count {
            case 0: return "Every change made on this store has reached another replica.\n"
            case 1: return "1 change made on this store has not reached any other replica; wiping destroys it.\n"
            default: return "\(count) changes made on this store have not reached any other replica; wiping destroys them.\n"
            }
        }

        /// Asks for "wipe" on a terminal; refuses without one (exit 2) or on any other answer (exit 1).
        func confirm(_ path: String) throws(CLIError) {
            guard isatty(STDIN_FILENO) == 1 else {
                throw CLIError(
                    .usage, "wipe: standard input is not a terminal, so it cannot ask; pass --yes to wipe \(path) without asking")
            }
            Console.out("Type \"wipe\" to destroy the store at \(path): ")
            let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces)
            guard answer == "wipe" else { throw CLIError(.failure, "wipe: not confirmed; nothing was changed") }
        }

        /// Destroys the keys, then the files and the folder; returns what was done.
        func wipe(at path: String) throws(CLIError) -> String {
            do {
                // The keys first; when the database cannot be written (damaged, held by another
                // process), overwriting its file below destroys them with everything else.
                var text: String
                let wasUnlocked = AgentClient.lock(storeAt: path)
                if try Keyfile.destroy(inStore: path) {
                    text =
                        (wasUnlocked ? "Made the unlock agent forget the key.\n" : "")
                        + "Overwrote with random bytes, synced and removed the keyfile: nothing of the store decrypts any more.\n"
                } else {
                    // A plaintext store of an older Outpost: its keys are rows of the database.
                    do {
                        let keys = try Store.open(at: path).destroyKeyMaterial()
                        text =
                            keys.contains("server_token")
                            ? "Overwrote the signing key and the server token with random bytes.\n"
                            : "Overwrote the signing key with random bytes.\n"
                    } catch {
                        text = "Could not overwrite the keys inside the database (\(error.message)); the files go with them.\n"
                    }
                }
                let report = try Shredder.shredStore(in: path)
                text +=
                    "Overwrote with random bytes, synced and removed \(report.shreddedFiles.count) "
                    + "file\(report.shreddedFiles.count == 1 ? "" : "s") "
                    + "(\(report.overwrittenBytes) bytes): \(report.shreddedFiles.joined(separator: ", ")).\n"
                if report.removedFolder {
                    text += "Removed the store folder \(path).\n"
                } else {
                    text +=
                        "Kept the folder \(path): it holds files that are not the store's (\(report.keptEntries.joined(separator: ", "))).\n"
                }
                return text
            } catch {
                throw CLIError(error)
            }
        }
    }
}
