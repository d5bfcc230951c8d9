import Foundation
import OutpostCore
import Testing

/// Real `outpost-server` and `outpost` processes over TLS on 127.0.0.1, with a self-signed
/// certificate from `outpost-server cert` pinned on the devices.
@Suite("end to end over TLS", .serialized)
struct TLSEndToEndTests {
    let folder = TemporaryFolder()

    func outpost(_ name: String, _ arguments: [String]) throws -> ProcessResult {
        try run(Binaries.outpost, ["--store", folder.sub(name)] + arguments)
    }

    @discardableResult
    func ok(_ name: String, _ arguments: [String]) throws -> String {
        let r = try outpost(name, arguments)
        guard r.status == 0 else {
            throw HarnessError("\(name): outpost \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)")
        }
        return r.stdout
    }

    func serverOK(_ arguments: [String]) throws -> String {
        let r = try run(Binaries.server, arguments)
        guard r.status == 0 else {
            throw HarnessError("outpost-server \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)")
        }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The incidents the analyst reads from the server (`GET /v1/incidents`), fetched by curl with the pin.
    func analystSees(_ url: String, token: String, pin: String) throws -> String {
        // -k only lifts CA verification: curl still refuses a key other than the pinned one (as `outpost`).
        let r = try run(
            "/usr/bin/curl",
            ["-sS", "-k", "--pinnedpubkey", pin, "-H", "Authorization: Bearer \(token)", url + "/v1/incidents?limit=1000"])
        guard r.status == 0 else { throw HarnessError("curl exited \(r.status): \(r.stderr)") }
        return r.stdout
    }

    @Test func rightPinSyncsWrongPinFailsClearlyAndHTTPToANameIsRefused() throws {
        let db = folder.sub("server.db")
        let pin = try serverOK(["cert", "--out", folder.sub("tls")])
        // Another key's pin: what a device would hold if the server it reaches were an impostor.
        let wrongPin = try serverOK(["cert", "--out", folder.sub("other-tls")])
        #expect(pin.hasPrefix("sha256//") && wrongPin.hasPrefix("sha256//") && pin != wrongPin)
        let tokens = try ["alice", "bob"].map { try serverOK(["enroll", "--db", db, "--reporter", $0]) }
        let desk = try serverOK(["enroll", "--db", db, "--reporter", "desk", "--role", "analyst"])
        let server = try ServerProcess(
            db: db, log: folder.sub("server.log"),
            serveArguments: ["--tls-cert", folder.sub("tls/cert.pem"), "--tls-key", folder.sub("tls/key.pem")])
        defer { server.stop() }
        #expect(server.url.hasPrefix("https://"))

        // The right pin: alice's report reaches the analyst.
        try ok("alice", ["init", "--reporter", "alice", "--server", server.url, "--token=" + tokens[0], "--pin", pin])
        try ok("alice", ["new", "--title", "Checkpoint closed at Kidal, over TLS"])
        #expect(try ok("alice", ["sync"]).contains("sent 1"))
        #expect(try analystSees(server.url, token: desk, pin: pin).contains("Checkpoint closed at Kidal, over TLS"))

        // A wrong pin: exit 16, a message that says so, nothing sent or changed.
        try ok("bob", ["init", "--reporter", "bob", "--server", server.url, "--token=" + tokens[1], "--pin", wrongPin])
        try ok("bob", ["new", "--title", "Market fire in Gao"])
        let refused = try outpost("bob", ["sync"])
        #expect(refused.status == 16, "\(refused.stderr)")
        #expect(refused.stderr.contains("does not match the pinned key"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--pin"), "the message says what to check: \(refused.stderr)")
        #expect(try JSONParser.parse(Array(try ok("bob", ["status", "--json"]).utf8))["unsynced_changes"] == 1)
        #expect(!(try analystSees(server.url, token: desk, pin: pin).contains("Market fire in Gao")))
        // Positive control: bob with the right pin gets through.
        try ok("bob", ["config", "--pin", pin])
        #expect(try ok("bob", ["sync"]).contains("sent 1"))

        // No pin: the self-signed certificate fails CA verification (not a pin mismatch).
        try ok("carol", ["init", "--reporter", "carol", "--server", server.url, "--token=" + tokens[0]])
        let unpinned = try outpost("carol", ["sync", "--attempts", "1"])
        #expect(unpinned.status != 0 && unpinned.status != 16, "\(unpinned.status): \(unpinned.stderr)")
        #expect(unpinned.stderr.contains("self-signed") && unpinned.stderr.contains("--pin"), "\(unpinned.stderr)")

        // http:// to a name other than loopback is refused, even one that would resolve here;
        // the same URL passes the check on purpose. Nothing connects to it.
        let port = server.url.split(separator: ":").last.map(String.init) ?? "1"
        let insecure = "http://outpost.test:\(port)"
        let http = try outpost("dave", ["init", "--reporter", "dave", "--server", insecure])
        #expect(http.status == 6)
        #expect(http.stderr.contains("outpost.test") && http.stderr.contains("--allow-insecure-http"), "\(http.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.sub("dave")))
        try ok("dave", ["init", "--reporter", "dave", "--server", insecure, "--allow-insecure-http"])
    }

    @Test func serveRefusesHalfOrMismatchedTLSSettingsByName() throws {
        let pin = try serverOK(["cert", "--out", folder.sub("a")])
        #expect(SPKIPinForm.matches(pin), "cert prints the pin alone on stdout: \(pin)")
        _ = try serverOK(["cert", "--out", folder.sub("b")])
        let again = try run(Binaries.server, ["cert", "--out", folder.sub("a")])
        #expect(again.status != 0 && again.stderr.contains("already exists"), "\(again.stderr)")
        let db = folder.sub("server.db")
        let half = try run(Binaries.server, ["serve", "--db", db, "--port", "0", "--tls-cert", folder.sub("a/cert.pem")])
        #expect(half.status != 0 && half.stderr.contains("--tls-key"), "\(half.stderr)")
        let mismatched = try run(
            Binaries.server,
            ["serve", "--db", db, "--port", "0", "--tls-cert", folder.sub("a/cert.pem"), "--tls-key", folder.sub("b/key.pem")])
        #expect(mismatched.status != 0 && mismatched.stderr.contains("does not belong"), "\(mismatched.stderr)")
        let missing = try run(
            Binaries.server,
            ["serve", "--db", db, "--port", "0", "--tls-cert", folder.sub("none.pem"), "--tls-key", folder.sub("b/key.pem")])
        #expect(missing.status != 0 && missing.stderr.contains("none.pem"), "\(missing.stderr)")
    }
}

/// The shape of a pin line: `sha256//` and 44 base64 characters.
enum SPKIPinForm {
    static func matches(_ text: String) -> Bool {
        text.hasPrefix("sha256//") && text.utf8.count == 52 && Data(base64Encoded: String(text.dropFirst(8)))?.count == 32
    }
}
