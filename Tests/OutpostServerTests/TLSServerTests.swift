import Foundation
import OutpostCurl
import OutpostServer
import Testing

/// `outpost-server cert`, `serve --tls-cert/--tls-key`, and the libcurl transport's pinning
/// against the real server on 127.0.0.1.
@Suite("TLS server and pinning")
struct TLSServerTests {
    /// A fresh folder with a certificate made by `SelfSignedCertificate.make`.
    final class Certified: @unchecked Sendable {
        // @unchecked Sendable: every property is set once in init and only read afterwards.
        let folder = NSTemporaryDirectory() + "outpost-tls-" + UUID().uuidString
        let made: SelfSignedCertificate.Made
        init(hosts: [String] = []) throws { made = try SelfSignedCertificate.make(directory: folder + "/tls", hosts: hosts) }
        deinit { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// Runs a shell pipeline (openssl) and returns its standard output; nil when it failed.
    static func shell(_ script: String) throws -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    /// The pin of a PEM certificate as openssl computes it: SHA-256 of the DER SubjectPublicKeyInfo.
    static func opensslPin(_ certificate: String) throws -> String? {
        try shell(
            "openssl x509 -in '\(certificate)' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"
        )
        .map { "sha256//" + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func client(pin: String?) throws -> CurlHTTPClient {
        try CurlHTTPClient(
            options: CurlOptions(connectTimeout: .seconds(5), totalTimeout: .seconds(20), pinnedPublicKey: pin, noProxy: "*"),
            retryPolicy: RetryPolicy(maxAttempts: 1, baseDelay: .milliseconds(10), maxDelay: .milliseconds(10), jitter: 0))
    }

    /// The transport failure of a GET, or nil when it succeeded.
    static func failure(_ client: CurlHTTPClient, _ url: String) async -> TransportError? {
        do {
            _ = try await client.send(HTTPRequest(method: "GET", url: url))
            return nil
        } catch {
            return error
        }
    }

    /// Runs the real server over TLS with `certificate` and `key` for `body`.
    static func withTLSServer<T: Sendable>(
        certificate: String, key: String, _ body: @escaping @Sendable (Int) async throws -> T
    ) async throws -> T {
        let fixture = try ServerFixture()
        var configuration = fixture.configuration
        configuration.tls = try ServerTLS(certificatePath: certificate, keyPath: key)
        return try await withLiveServer(fixture, configuration: configuration, body)
    }

    @Test func certPrintsTheSPKIPinOpensslComputes() throws {
        let first = try Certified()
        let second = try Certified()
        #expect(first.made.pin.hasPrefix("sha256//"))
        #expect(SPKIPins.isValid(first.made.pin))
        #expect(try Self.opensslPin(first.made.certificatePath) == first.made.pin)
        // Positive control: another key, another pin, each matching its own certificate.
        #expect(try Self.opensslPin(second.made.certificatePath) == second.made.pin)
        #expect(first.made.pin != second.made.pin)
        // The key is the certificate's, and private to its owner.
        let keyPin = try Self.shell(
            "openssl pkey -in '\(first.made.keyPath)' -pubout -outform der | openssl dgst -sha256 -binary | base64")
        #expect(keyPin.map { "sha256//" + $0.trimmingCharacters(in: .whitespacesAndNewlines) } == first.made.pin)
        let mode = try FileManager.default.attributesOfItem(atPath: first.made.keyPath)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
    }

    @Test func certNamesLoopbackAndEachHost() throws {
        let certified = try Certified(hosts: ["outpost.test", "192.0.2.7", "2001:db8::1"])
        let text = try #require(try Self.shell("openssl x509 -in '\(certified.made.certificatePath)' -noout -ext subjectAltName"))
        for name in [
            "DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1", "DNS:outpost.test", "IP Address:192.0.2.7",
        ] {
            #expect(text.contains(name), "\(name) missing in \(text)")
        }
        #expect(throws: ServerCommandError.self) {
            try SelfSignedCertificate.make(directory: certified.folder + "/bad", hosts: ["not a host"])
        }
    }

    @Test func certNeverOverwrites() throws {
        let certified = try Certified()
        let before = try String(contentsOfFile: certified.made.keyPath, encoding: .utf8)
        #expect(throws: ServerCommandError.self) { try SelfSignedCertificate.make(directory: certified.folder + "/tls") }
        #expect(try String(contentsOfFile: certified.made.keyPath, encoding: .utf8) == before)
    }

    @Test func unreadableOrMismatchedFilesAreRefusedByName() throws {
        let first = try Certified()
        let second = try Certified()
        do {
            _ = try ServerTLS(certificatePath: first.made.certificatePath, keyPath: second.made.keyPath)
            Issue.record("a key of another certificate was accepted")
        } catch {
            #expect(error.description.contains("does not belong"), "\(error)")
        }
        do {
            _ = try ServerTLS(certificatePath: first.folder + "/missing.pem", keyPath: first.made.keyPath)
            Issue.record("a missing certificate was accepted")
        } catch {
            #expect(error.description.contains("missing.pem"), "\(error)")
        }
        do {
            _ = try ServerTLS(certificatePath: first.made.keyPath, keyPath: first.made.keyPath)
            Issue.record("a key given as the certificate was accepted")
        } catch {
            #expect(error.description.contains("--tls-cert"), "\(error)")
        }
        let positive = try ServerTLS(certificatePath: first.made.certificatePath, keyPath: first.made.keyPath)
        #expect(positive.pin == first.made.pin)
    }

    @Test func healthzOverTLSWithTheRightPinOnly() async throws {
        let certified = try Certified()
        let other = try Certified()
        let pin = certified.made.pin
        let wrong = other.made.pin
        try await Self.withTLSServer(certificate: certified.made.certificatePath, key: certified.made.keyPath) { port in
            let url = "https://127.0.0.1:\(port)/healthz"
            let response = try await Self.client(pin: pin).send(HTTPRequest(method: "GET", url: url))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self).contains("ok"))
            // Several pins joined by ";", one of them right.
            #expect(try await Self.client(pin: wrong + ";" + pin).send(HTTPRequest(method: "GET", url: url)).status == 200)
            // A wrong pin: libcurl's own error 90, its own kind.
            let mismatch = await Self.failure(try Self.client(pin: wrong), url)
            #expect(mismatch?.kind == .pinMismatch)
            #expect(mismatch?.curlCode == 90)
            // No pin: CA verification as ever, and a self-signed certificate is refused.
            let unpinned = await Self.failure(try Self.client(pin: nil), url)
            #expect(unpinned?.kind == .tls)
            #expect(unpinned?.curlCode == 60)
            // Pins that are not pins never reach libcurl (which, measured, fails closed on them too:
            // error 90), so they never stand beside VERIFYPEER off; they are named as unusable.
            for notAPin in ["", ";", "sha256//", "sha256//" + String(pin.dropFirst(9)), "/etc/ssl/certs/ca-certificates.crt"] {
                let refused = await Self.failure(try Self.client(pin: notAPin), url)
                #expect(refused?.kind == .invalidRequest, "\(notAPin.debugDescription): \(String(describing: refused))")
            }
            // Plain HTTP to a TLS port gets no answer it can read.
            #expect(await Self.failure(try Self.client(pin: nil), "http://127.0.0.1:\(port)/healthz") != nil)
        }
    }

    @Test func thePinnedServersNameIsStillChecked() async throws {
        // A certificate for another name only, made by openssl: the right pin, the wrong name.
        let folder = NSTemporaryDirectory() + "outpost-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = try Self.shell(
            "cd '\(folder)' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem "
                + "-out cert.pem -days 2 -subj /CN=other.test -addext subjectAltName=DNS:other.test")
        #expect(made != nil)
        let pin = try #require(try Self.opensslPin(folder + "/cert.pem"))
        try await Self.withTLSServer(certificate: folder + "/cert.pem", key: folder + "/key.pem") { port in
            let failure = await Self.failure(try Self.client(pin: pin), "https://127.0.0.1:\(port)/healthz")
            #expect(failure?.kind == .tls, "\(String(describing: failure))")
        }
    }

    /// Whether openssl completes a handshake with the server at `version` (an s_client flag).
    static func handshakes(port: Int, _ version: String) async throws -> Bool {
        try await offPool {
            try Self.shell("openssl s_client -connect 127.0.0.1:\(port) \(version) -cipher DEFAULT@SECLEVEL=0 </dev/null") != nil
        }
    }

    @Test func tls11IsRefusedAndTLS12Accepted() async throws {
        let certified = try Certified()
        let results = try await Self.withTLSServer(certificate: certified.made.certificatePath, key: certified.made.keyPath) {
            port in
            var results: [String: Bool] = [:]
            for version in ["-tls1", "-tls1_1", "-tls1_2", "-tls1_3"] {
                results[version] = try await Self.handshakes(port: port, version)
            }
            return results
        }
        #expect(results == ["-tls1": false, "-tls1_1": false, "-tls1_2": true, "-tls1_3": true])
    }
}
