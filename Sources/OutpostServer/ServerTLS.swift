import Crypto
import Foundation
import NIOSSL

/// The certificate and key `serve --tls-cert F --tls-key F` answers with, read and checked.
public struct ServerTLS: Sendable {
    /// The TLS settings handed to HummingbirdTLS: TLS 1.2 at least, 1.3 preferred (NIOSSL's maximum).
    public let configuration: TLSConfiguration
    /// The SPKI pin of the certificate's key, as clients give it to `outpost config --pin`.
    public let pin: String

    /// Reads a PEM certificate (chain, leaf first) and its PEM private key; throws a
    /// `ServerCommandError` naming the file when one is unreadable or the two do not belong together.
    public init(certificatePath: String, keyPath: String) throws(ServerCommandError) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(try Self.read(certificatePath, what: "certificate"))
        } catch let error as ServerCommandError {
            throw error
        } catch {
            throw ServerCommandError("--tls-cert \(certificatePath) holds no readable PEM certificate (\(error))")
        }
        guard let leaf = chain.first else {
            throw ServerCommandError("--tls-cert \(certificatePath) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: try Self.read(keyPath, what: "private key"), format: .pem)
        } catch let error as ServerCommandError {
            throw error
        } catch {
            throw ServerCommandError("--tls-key \(keyPath) holds no readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        // A context is what loads the key beside the certificate: it fails when they do not match.
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw ServerCommandError(
                "the private key in \(keyPath) does not belong to the certificate in \(certificatePath) (\(error))")
        }
        self.configuration = configuration
        do {
            pin = SPKIPin.pin(subjectPublicKeyInfo: try leaf.extractPublicKey().toSPKIBytes())
        } catch {
            throw ServerCommandError("cannot read the public key of the certificate in \(certificatePath) (\(error))")
        }
    }

    private static func read(_ path: String, what: String) throws(ServerCommandError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let flag = what == "certificate" ? "--tls-cert" : "--tls-key"
            throw ServerCommandError("\(flag) \(path): cannot read the \(what) file (missing or not readable)")
        }
        return Array(data)
    }
}

/// SPKI pins in libcurl's `CURLOPT_PINNEDPUBLICKEY` form.
public enum SPKIPin {
    /// `sha256//` + base64 of the SHA-256 of the DER SubjectPublicKeyInfo.
    public static func pin(subjectPublicKeyInfo der: [UInt8]) -> String {
        "sha256//" + Data(SHA256.hash(data: der)).base64EncodedString()
    }
}
