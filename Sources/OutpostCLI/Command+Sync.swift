import ArgumentParser
import Foundation
import OutpostCore
import OutpostCurl
import OutpostStore
import OutpostSync

/// The store settings that hold the server sync position.
enum OutpostSyncKeys {
    static let pullCursor = ServerSyncClient.pullCursorKey
    static let ackedCounter = ServerSyncClient.ackedCounterKey
    static let pullCursorDot = ServerSyncClient.pullCursorDotKey
    static let rosterAfter = ServerSyncClient.rosterAfterKey
}

extension OutpostCommand {
    /// `outpost sync`: sends and receives in batches, then prints one line: sent, received, conflicts.
    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send your changes to the server and receive everyone else's.",
            discussion: """
                Works in batches, each saved as it arrives: a sync that fails or is killed loses \
                nothing, and the next one picks up where it stopped. Exit codes: 10 server \
                unreachable, 11 token rejected, 12 refused, 13 server error, 14 the server made no \
                progress (it kept answering without acknowledging anything or moving); 16 the server's \
                TLS key does not match the pinned one (`outpost config --pin`); 6 an http:// URL to a \
                host other than loopback without --allow-insecure-http; 7 the server's \
                roster key is not the one this device pinned (another server, or an impostor), or its \
                parcel key is not the pinned one or not signed by the roster key; store problems as for \
                every command. The first sync pins the server's roster key and parcel key and binds this \
                device's key to the token; each sync also sends the server the verified work of other \
                reporters it lacks (relay), never unverified work, and hands it the sealed parcels this \
                device carries (`outpost status` counts them); a parcel it does not take stays here, \
                with a warning.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(
            help:
                "Print the result as JSON (sent, received, relayed, conflicts, refused, restored_from, bytes_up, bytes_down, batches, clock_offset_ms, parcels_forwarded)."
        )
        var json = false

        @Option(help: ArgumentHelp("Most changes per batch each way (1–5000).", valueName: "n"))
        var batchSize = 1000

        @Option(help: ArgumentHelp("Seconds to wait for a connection.", valueName: "seconds"))
        var connectTimeout = 10

        @Option(help: ArgumentHelp("Attempts per batch on transient failures (1–10).", valueName: "n"))
        var attempts = 4

        func validate() throws {
            guard (1...5000).contains(batchSize) else { throw ValidationError("--batch-size must be from 1 to 5000") }
            guard (1...300).contains(connectTimeout) else { throw ValidationError("--connect-timeout must be from 1 to 300") }
            guard (1...10).contains(attempts) else { throw ValidationError("--attempts must be from 1 to 10") }
        }

        func run() throws {
            let store = try storeOptions.openStore()
            let runner = SyncRunner(
                json: json, batchSize: batchSize, connectTimeout: connectTimeout, attempts: attempts,
                showProgress: !json && isatty(2) != 0)
            Console.out(try runBlocking { try await runner.sync(store) })
        }
    }
}

/// The work of `outpost sync`, apart from argument parsing so it can run in a task.
struct SyncRunner: Sendable {
    var json: Bool
    var batchSize: Int
    var connectTimeout: Int
    var attempts: Int
    var showProgress: Bool

    /// Syncs with the configured server and returns the final line.
    func sync(_ store: Store) async throws -> String {
        guard let server = try store.setting("server_url") else {
            throw CLIError(.invalidInput, "no sync server configured: run `outpost config --server URL --token TOKEN`")
        }
        guard let token = try store.setting("server_token") else {
            throw CLIError(.invalidInput, "no token configured: run `outpost config --token TOKEN`")
        }
        let pin = try store.setting(ServerURL.pinKey).map { pin throws(CLIError) in try ServerURL.checkedPin(pin) }
        // Checked again here: a store configured before the rule, or edited by hand, must not send in clear.
        _ = try ServerURL.checked(
            server, allowInsecureHTTP: try store.setting(ServerURL.allowInsecureHTTPKey) == "1", pinned: pin != nil)
        var options = CurlOptions()
        options.connectTimeout = .seconds(connectTimeout)
        options.caFile = try store.setting("server_ca_file")
        options.pinnedPublicKey = pin
        var policy = RetryPolicy.standard
        policy.maxAttempts = attempts
        let link = try CurlServerLink(serverURL: server, token: token, options: options, retryPolicy: policy)
        let client = ServerSyncClient(store: store, link: link, token: token, pushLimit: batchSize, pullLimit: batchSize)
        var progress: (@Sendable (SyncProgress) -> Void)? = nil
        if showProgress {
            progress = { p in
                let waiting = p.remainingToSend > 0 ? ", \(p.remainingToSend) to send" : ""
                Console.progress("sync: sent \(p.sent), received \(p.received)\(waiting)…")
            }
        }
        let report = try await client.run(progress: progress)
        if showProgress { Console.progress(nil) }
        // Refused changes are left out and the rest kept: a warning, not a failed sync.
        for refusal in report.refused { Console.err("outpost: warning: \(refusal)") }
        for warning in report.parcelWarnings { Console.err("outpost: warning: \(warning)") }
        if json {
            return JSONValue.object([
                "sent": .int(Int64(report.sent)), "received": .int(Int64(report.received)),
                "relayed": .int(Int64(report.relayed)), "conflicts": .int(Int64(report.conflicts)),
                "refused": .array(report.refused.map(RefusalJSON.object)),
                "restored_from": report.restoredFrom.map { .string($0.hex) } ?? .null,
                "bytes_up": .int(Int64(link.traffic.sent)), "bytes_down": .int(Int64(link.traffic.received)),
                "batches": .int(Int64(report.batches)), "clock_offset_ms": .int(report.clockOffsetMs),
                "parcels_forwarded": .int(Int64(report.parcelsForwarded)),
            ]).serialized() + "\n"
        }
        var text = "Synced with \(server): sent \(report.sent), received \(report.received), conflicts \(report.conflicts).\n"
        if report.relayed > 0 {
            text += "Relayed \(report.relayed) change\(report.relayed == 1 ? "" : "s") of other reporters to the server.\n"
        }
        if report.parcelsForwarded > 0 {
            let plural = report.parcelsForwarded == 1 ? "" : "s"
            text += "Handed the server \(report.parcelsForwarded) sealed parcel\(plural) carried for others.\n"
        }
        if report.parcelsKept > 0 {
            let plural = report.parcelsKept == 1 ? "" : "s"
            text += "Still carrying \(report.parcelsKept) sealed parcel\(plural); they go at the next sync.\n"
        }
        if let old = report.restoredFrom {
            text +=
                "This store was restored from an older copy: it now writes as replica \(store.replica.hex) (was \(old.hex)); nothing was lost.\n"
        }
        return text
    }
}

/// A refused change as JSON: `{"dot": "replica:counter", "incident": id, "reason": code, "message": words}`.
enum RefusalJSON {
    static func object(_ refusal: RefusedChange) -> JSONValue {
        .object([
            "dot": .string(refusal.dot.description), "incident": .string(refusal.record.id),
            "reason": .string(refusal.reason.rawValue), "message": .string(refusal.description),
        ])
    }
}

/// Runs async work from a synchronous command, blocking the calling (main) thread, not the cooperative pool.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let semaphore = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        semaphore.signal()
    }
    semaphore.wait()
    return try box.result!.get()
}

/// Carries a result from a task to the thread waiting for it.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: written once by the task before it signals the semaphore, read only
    // after the waiting thread has been woken by that signal.
    var result: Result<T, any Error>?
}
