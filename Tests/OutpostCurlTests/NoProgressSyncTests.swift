import Foundation
import OutpostCore
import OutpostStore
import OutpostSync
import OutpostTestSupport
import Testing

@testable import OutpostCurl

/// A sync answer as a misbehaving server would send it: no changes, the given position.
private func syncAnswer(acked: UInt64, cursor: Int64, more: Bool) -> ServerAction {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let body = JSONValue.object([
        "server_time_ms": .int(now), "acked_counter": .int(Int64(acked)), "applied": 0, "duplicates": 0,
        "held_back": 0, "changes": [], "cursor": .int(cursor), "more": .bool(more),
    ]).serialized()
    return .respond(status: 200, headers: [HTTPField("Content-Type", "application/json")], body: Array(body.utf8))
}

/// Past this many requests the scripted server answers 500 for good, so a client that loops
/// fails with a server error instead of running until the suite's time limit.
private let requestCeiling = 50

/// A fresh reporter store in a temporary folder.
private struct ReporterStore {
    let folder: String
    let store: Store

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-noprogress-\(UUID().uuidString)").path
        store = try Store.create(at: folder, reporter: "tester")
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// A link to `server` with one attempt per request (a 500 is final).
private func link(_ server: TestHTTPServer) throws -> CurlServerLink {
    try CurlServerLink(
        serverURL: server.baseURL, token: "token", options: CurlOptions(connectTimeout: .seconds(2), noProxy: "127.0.0.1"),
        retryPolicy: .none)
}

@Suite("A sync against a server that makes no progress stops", .timeLimit(.minutes(2)))
struct NoProgressSyncTests {
    @Test func moreFromTheSameCursorForeverStopsAfterTheIdleLimit() async throws {
        let reporter = try ReporterStore()
        defer { reporter.remove() }
        let server = try TestHTTPServer { request in
            request.index >= requestCeiling ? .respond(status: 500) : syncAnswer(acked: 0, cursor: 7, more: true)
        }
        defer { server.stop() }
        let client = ServerSyncClient(store: reporter.store, link: try link(server))
        let error = try #require(await noProgress { try await client.run() })
        #expect(error.answers == ServerSyncClient.idleAnswerLimit)
        #expect(error.cursor == 7)
        #expect(error.description.contains("made no progress"))
        // The first answer moved the cursor from 0 to 7; then three answers moved nothing.
        #expect(server.requests.count == 1 + ServerSyncClient.idleAnswerLimit)
        // The position the server gave was kept, as for any answer.
        #expect(try reporter.store.integerSetting(ServerSyncClient.pullCursorKey) == 7)
    }

    @Test func aServerThatNeverAcknowledgesWhileSayingMoreStops() async throws {
        let reporter = try ReporterStore()
        defer { reporter.remove() }
        try reporter.store.create(fields: ["title": "Bridge closed"])
        let server = try TestHTTPServer { request in
            request.index >= requestCeiling ? .respond(status: 500) : syncAnswer(acked: 0, cursor: 0, more: true)
        }
        defer { server.stop() }
        let client = ServerSyncClient(store: reporter.store, link: try link(server))
        let error = try #require(await noProgress { try await client.run() })
        #expect(error.counter == 0)
        #expect(server.requests.count == ServerSyncClient.idleAnswerLimit)
        // Nothing was acknowledged, so the change is still waiting to be sent.
        #expect(try reporter.store.integerSetting(ServerSyncClient.ackedCounterKey) == 0)
        #expect(try reporter.store.ownChangeCount == 1)
    }

    @Test func aCursorThatGoesBackAndForthIsNoProgress() async throws {
        let reporter = try ReporterStore()
        defer { reporter.remove() }
        let server = try TestHTTPServer { request in
            request.index >= requestCeiling
                ? .respond(status: 500) : syncAnswer(acked: 0, cursor: request.index % 2 == 0 ? 9 : 8, more: true)
        }
        defer { server.stop() }
        let client = ServerSyncClient(store: reporter.store, link: try link(server))
        let error = try #require(await noProgress { try await client.run() })
        #expect(error.cursor == 9)
        #expect(server.requests.count == 1 + ServerSyncClient.idleAnswerLimit)
    }

    /// Positive control: empty pages that move the cursor are progress, however many there are.
    @Test func emptyPagesThatMoveTheCursorAreProgress() async throws {
        let reporter = try ReporterStore()
        defer { reporter.remove() }
        let pages = 12
        let server = try TestHTTPServer { request in
            syncAnswer(acked: 0, cursor: Int64(request.index + 1) * 10, more: request.index + 1 < pages)
        }
        defer { server.stop() }
        let report = try await ServerSyncClient(store: reporter.store, link: try link(server)).run()
        #expect(report.batches == pages)
        #expect(server.requests.count == pages)
        #expect(try reporter.store.integerSetting(ServerSyncClient.pullCursorKey) == Int64(pages) * 10)
    }

    /// The `outpost` binary stops too, with exit 14 and a message saying why.
    @Test func theCLIExitsWithItsOwnCode() throws {
        let binary = try #require(OutpostBinary.path, "build the outpost binary first: swift build --build-tests")
        let server = try TestHTTPServer { request in
            request.index >= requestCeiling ? .respond(status: 500) : syncAnswer(acked: 0, cursor: 3, more: true)
        }
        defer { server.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outpost-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = try OutpostBinary.run(
            binary, ["--store", folder, "init", "--reporter", "r", "--server", server.baseURL, "--token", "t"])
        #expect(made.status == 0, "\(made.stderr)")
        let synced = try OutpostBinary.run(binary, ["--store", folder, "sync", "--attempts", "1"])
        #expect(synced.status == 14)
        #expect(synced.stderr.contains("outpost: error: the server made no progress"), "\(synced.stderr)")
        #expect(server.requests.count == 1 + ServerSyncClient.idleAnswerLimit)
    }
}

/// The ServerSyncNoProgress `body` throws (fails the test for anything else).
private func noProgress(_ body: () async throws -> ServerSyncReport) async -> ServerSyncNoProgress? {
    do {
        let report = try await body()
        Issue.record("expected the sync to stop, it ended with \(report)")
        return nil
    } catch let error as ServerSyncNoProgress {
        return error
    } catch {
        Issue.record("expected ServerSyncNoProgress, got \(error)")
        return nil
    }
}

/// The built `outpost` executable, found next to the test bundle.
enum OutpostBinary {
    static let path: String? = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.appendingPathComponent("outpost").path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
            url.deleteLastPathComponent()
        }
        return nil
    }()

    /// Runs the binary to completion (no input; environment without OUTPOST_STORE).
    static func run(_ binary: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OUTPOST_STORE"] = nil
        for (k, v) in TestPassphrase.environment { environment[k] = v }
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: text, as: UTF8.self))
    }
}
