import ArgumentParser
import Foundation
import OutpostCore
import OutpostStore
import OutpostSync

extension OutpostCommand {
    /// `outpost bundle create|summary|apply`: exchange changes by file, with no network.
    struct Bundle: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exchange changes by file (USB stick, memory card) with a reporter you meet offline.",
            discussion: """
                On Bob's device: `outpost bundle summary --out bob.summary` (what Bob has). \
                On Alice's: `outpost bundle create --for bob.summary --out alice.bundle` (what Bob lacks; \
                without --for, everything). On Bob's: `outpost bundle apply alice.bundle`. A bundle is \
                checked whole (a damaged or altered one is refused and nothing applied) and applying \
                it twice changes nothing. A bundle carries the roster the server signed, so the receiver can \
                verify its changes; a change that fails verification (altered, or forged under another \
                device's name) is refused and named, everything else is applied, and `apply` then exits 6.

                Teams: once a device has synced with its server, a bundle gives the peer in the clear \
                only what the peer could pull from the server (its team's records, and restricted ones \
                only to their author). The summary is signed by the peer's device, so --for knows who \
                it is; without --for the peer is taken to be another reporter of your team. The rest \
                travels as sealed parcels that only the server opens: the peer carries them unread \
                and they go at its next sync (left out and counted if this device has no parcel key \
                yet; sync once).
                """,
            subcommands: [Create.self, Summary.self, Apply.self])

        /// `outpost bundle create --out FILE [--for SUMMARY]`.
        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Write the changes a peer lacks to a bundle file.")

            @OptionGroup var storeOptions: StoreOptions

            @Option(help: ArgumentHelp("The bundle file to write.", valueName: "file"))
            var out: String

            @Option(
                name: .customLong("for"),
                help: ArgumentHelp(
                    "The peer's summary file (default: every change, for a reporter of your team).",
                    valueName: "summary"))
            var summary: String?

            func run() throws {
                Console.out(try create(from: storeOptions.openStore()))
            }

            /// Writes the bundle and returns the confirmation text.
            func create(from store: Store) throws(CLIError) -> String {
                var peer: SignedSummary?
                if let summary {
                    let bytes = try BundleFiles.read(summary)
                    do {
                        peer = try BundleFile.decodeSummary(bytes)
                    } catch {
                        throw CLIError(.invalidInput, "\(summary): \(error)")
                    }
                }
                do {
                    let made: CarriedBundle
                    if let peer {
                        made = try store.bundle(forSigned: peer)
                    } else {
                        made = try store.bundle(for: nil, reader: try store.teammateReader())
                    }
                    try BundleFiles.write(made.file, to: out)
                    var text = "Wrote \(made.count) change\(made.count == 1 ? "" : "s")"
                    if made.parcels > 0 {
                        text +=
                            " and \(made.parcels) sealed parcel\(made.parcels == 1 ? "" : "s") for the server (\(made.sealed) change\(made.sealed == 1 ? "" : "s") the peer may not read)"
                    }
                    text += " to \(out) (\(made.file.count) bytes).\n"
                    if made.leftOut > 0 {
                        text +=
                            "\(made.leftOut) change\(made.leftOut == 1 ? "" : "s") left out: the peer may not read them and this device has no parcel key yet; sync once.\n"
                    }
                    return text
                } catch {
                    throw CLIError.from(error)
                }
            }
        }

        /// `outpost bundle summary --out FILE`.
        struct Summary: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write what this store holds, signed by this device, for a peer to bundle what it lacks.")

            @OptionGroup var storeOptions: StoreOptions

            @Option(help: ArgumentHelp("The summary file to write.", valueName: "file"))
            var out: String

            func run() throws {
                let store = try storeOptions.openStore()
                do {
                    let file = try store.summaryFile()
                    try BundleFiles.write(file, to: out)
                    Console.out("Wrote this store's summary to \(out) (\(file.count) bytes).\n")
                } catch {
                    throw CLIError.from(error)
                }
            }
        }

        /// `outpost bundle apply FILE`.
        struct Apply: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check a bundle whole, apply its changes and keep its sealed parcels.")

            @OptionGroup var storeOptions: StoreOptions

            @Argument(help: ArgumentHelp("The bundle file.", valueName: "file"))
            var file: String

            func run() throws {
                let (text, refused) = try apply(to: storeOptions.openStore())
                Console.out(text)
                guard refused.isEmpty else {
                    // The rest of the bundle is applied and kept; the refused changes fail the command.
                    let lines = refused.map { "  \($0)" }.joined(separator: "\n")
                    throw CLIError(
                        .invalidInput,
                        "\(file): \(refused.count) change\(refused.count == 1 ? " was" : "s were") refused (everything else was applied):\n\(lines)"
                    )
                }
            }

            /// Applies the bundle; returns the report text and the changes refused.
            func apply(to store: Store) throws(CLIError) -> (text: String, refused: [RefusedChange]) {
                let bytes = try BundleFiles.read(file)
                do {
                    let report = try store.applyBundle(bytes)
                    var text =
                        "Applied \(file): \(report.applied) new change\(report.applied == 1 ? "" : "s"), \(report.duplicates) already known"
                    if report.heldBack > 0 { text += ", \(report.heldBack) waiting for earlier changes" }
                    if report.unverified > 0 { text += ", \(report.unverified) unverified (author not in the roster yet)" }
                    if !report.refused.isEmpty { text += ", \(report.refused.count) refused" }
                    if report.withheld > 0 {
                        text += ", \(report.withheld) not applied (of records this device may not read"
                        text += report.sealedForServer > 0 ? "; sealed for the server)" : ")"
                    }
                    if report.parcels > 0 {
                        text += ", carrying \(report.parcels) sealed parcel\(report.parcels == 1 ? "" : "s") for the server"
                    }
                    let conflicts = try store.status().conflicts
                    text += ", \(conflicts) incident\(conflicts == 1 ? "" : "s") in conflict.\n"
                    if let old = report.restoredFrom {
                        text +=
                            "This store was restored from an older copy: it now writes as replica \(store.replica.hex) (was \(old.hex)).\n"
                    }
                    return (text, report.refused)
                } catch let error as BundleError {
                    throw CLIError(.invalidInput, "\(file): \(error.message); nothing was applied")
                } catch {
                    throw CLIError.from(error)
                }
            }
        }
    }
}

/// Reading and writing bundle files with errors that name the file.
enum BundleFiles {
    static func read(_ path: String) throws(CLIError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError(.invalidInput, "cannot read \(path)")
        }
        return [UInt8](data)
    }

    /// Writes atomically (a temporary file renamed into place), readable by the owner only.
    static func write(_ bytes: [UInt8], to path: String) throws(CLIError) {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        else {
            throw CLIError(.invalidInput, "cannot write \(path)")
        }
        if rename(temporary, path) != 0 {
            unlink(temporary)
            throw CLIError(.invalidInput, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
