import Foundation
import OutpostTestSupport
import Testing

@testable import OutpostCLI

/// `--pin` and the http:// rule of `init` and `config`, on the real binary (no connection is made).
@Suite("server URL rule and pin")
struct ServerURLRuleTests {
    static let pin = "sha256//" + Data(repeating: 7, count: 32).base64EncodedString()

    @discardableResult
    private func ok(_ arguments: [String], store: String) throws -> String {
        let result = try CLIRunner.run(arguments, store: store)
        #expect(result.status == 0, "outpost \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    @Test func plainHTTPToAHostOtherThanLoopbackIsRefusedUnlessAllowed() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        for (index, url) in [
            "http://outpost.test:8080", "http://127.0.0.1@outpost.test", "http://10.1.2.3", "http://[fe80::1]:9",
        ]
        .enumerated() {
            let store = folder.path + "/refused\(index)"
            let refused = try CLIRunner.run(["init", "--reporter", "alice", "--server", url], store: store)
            #expect(refused.status == 6, "\(url): \(refused.stderr)")
            #expect(refused.stderr.contains("--allow-insecure-http"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: store), "a refused init made a store")
        }
        let refused = try CLIRunner.run(
            ["init", "--reporter", "alice", "--server", "http://outpost.test:8080"], store: folder.store)
        #expect(refused.stderr.contains("outpost.test"), "the message names the host: \(refused.stderr)")
        // The same URL, on purpose.
        try ok(
            ["init", "--reporter", "alice", "--server", "http://outpost.test:8080", "--allow-insecure-http"], store: folder.store)
    }

    @Test func loopbackAndHTTPSNeedNoFlag() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try ok(["init", "--reporter", "alice"], store: folder.store)
        for url in [
            "http://127.0.0.1:8080", "http://127.8.9.10", "http://localhost:9", "http://LOCALHOST.", "http://[::1]:8080",
            "https://outpost.test", "https://10.1.2.3:8443",
        ] {
            try ok(["config", "--server", url], store: folder.store)
        }
    }

    @Test func configForgetsTheInsecureChoiceWithANewServer() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try ok(["init", "--reporter", "alice"], store: folder.store)
        try ok(["config", "--server", "http://outpost.test", "--allow-insecure-http"], store: folder.store)
        // A later --server without the flag is checked afresh.
        #expect(try CLIRunner.run(["config", "--server", "http://other.test"], store: folder.store).status == 6)
        // Moving to https:// and back to http:// needs the flag again.
        try ok(["config", "--server", "https://outpost.test"], store: folder.store)
        #expect(try CLIRunner.run(["config", "--server", "http://outpost.test"], store: folder.store).status == 6)
    }

    @Test func syncChecksTheStoredURLAgain() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        // A store configured before the rule: an http:// URL to a name, and no choice recorded.
        _ = try StoreKeyAccess.createStore(
            at: folder.store, reporter: "alice", passphrase: TestPassphrase.text,
            settings: ["server_url": "http://outpost.test:9", "server_token": "t"])
        let refused = try CLIRunner.run(["sync", "--attempts", "1"], store: folder.store)
        #expect(refused.status == 6, "\(refused.stderr)")
        #expect(refused.stderr.contains("outpost.test") && refused.stderr.contains("--allow-insecure-http"), "\(refused.stderr)")
        // The choice made for the stored URL.
        try ok(["config", "--allow-insecure-http"], store: folder.store)
    }

    @Test func pinsMustHaveCurlsForm() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try ok(["init", "--reporter", "alice", "--server", "https://outpost.test", "--pin", Self.pin], store: folder.store)
        let other = "sha256//" + Data(repeating: 9, count: 32).base64EncodedString()
        try ok(["config", "--pin", Self.pin + ";" + other], store: folder.store)
        for bad in [
            "sha256//", String(Self.pin.dropLast(2)), "sha1//" + Data(repeating: 7, count: 32).base64EncodedString(),
            "sha256//" + Data(repeating: 7, count: 31).base64EncodedString(), Self.pin + ";", "/etc/passwd",
            "sha256//" + String(repeating: "!", count: 44),
        ] {
            let result = try CLIRunner.run(["config", "--pin=" + bad], store: folder.store)
            #expect(result.status == 6, "\(bad.debugDescription): \(result.stderr)")
            #expect(result.stderr.contains("sha256//"), "\(result.stderr)")
        }
    }

    @Test func aPinNeedsHTTPS() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let refused = try CLIRunner.run(
            ["init", "--reporter", "alice", "--server", "http://127.0.0.1:8080", "--pin", Self.pin], store: folder.store)
        #expect(refused.status == 6)
        #expect(refused.stderr.contains("https://"), "\(refused.stderr)")
        try ok(["init", "--reporter", "alice", "--server", "http://127.0.0.1:8080"], store: folder.store)
        #expect(try CLIRunner.run(["config", "--pin", Self.pin], store: folder.store).status == 6)
        try ok(["config", "--server", "https://127.0.0.1:8443", "--pin", Self.pin], store: folder.store)
    }

    @Test func theExitCodeTableNamesThePinMismatch() throws {
        let help = try CLIRunner.run(["--help"])
        #expect(help.stdout.contains("16  sync: the server's TLS key does not match the pinned key"), "\(help.stdout)")
    }
}
