import Crypto
import Foundation
import SwiftASN1
import X509

/// `outpost-server cert`: a self-signed server certificate and its P-256 key, made in-process.
public enum SelfSignedCertificate {
    /// The file names written into the `--out` folder.
    public static let certificateFileName = "cert.pem"
    /// The private key's file name (mode 0600).
    public static let keyFileName = "key.pem"
    /// How long a certificate is valid: ten years, from an hour ago (a device clock a little behind).
    static let validity: TimeInterval = 3650 * 86_400

    /// What `make` wrote.
    public struct Made: Sendable {
        /// The PEM certificate.
        public var certificatePath: String
        /// The PEM private key (mode 0600).
        public var keyPath: String
        /// The SPKI pin clients give `outpost config --pin`.
        public var pin: String
    }

    /// Writes `cert.pem` and `key.pem` into `directory` (made mode 0700 when missing) for
    /// localhost, 127.0.0.1, ::1 and each of `hosts`; never overwrites a file.
    public static func make(directory: String, hosts: [String] = [], now: Date = Date()) throws(ServerCommandError)
        -> Made
    {
        let names = try subjectAlternativeNames(hosts)
        let certificatePath = (directory as NSString).appendingPathComponent(certificateFileName)
        let keyPath = (directory as NSString).appendingPathComponent(keyFileName)
        for path in [certificatePath, keyPath] where FileManager.default.fileExists(atPath: path) {
            throw ServerCommandError("\(path) already exists; nothing was written (pick another --out folder)")
        }
        let key = P256.Signing.PrivateKey()
        let certificatePEM: String
        do {
            let signingKey = Certificate.PrivateKey(key)
            let name = try DistinguishedName { CommonName("outpost-server") }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: signingKey.publicKey,
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(validity),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
                issuerPrivateKey: signingKey)
            certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        } catch {
            throw ServerCommandError("cannot make the certificate: \(error)")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ServerCommandError("cannot create the folder \(directory): \(error.localizedDescription)")
        }
        // The key first: a failure then leaves no certificate without its key.
        try writeNew(keyPath, key.pemRepresentation + "\n", mode: 0o600)
        try writeNew(certificatePath, certificatePEM, mode: 0o644)
        return Made(
            certificatePath: certificatePath, keyPath: keyPath,
            pin: SPKIPin.pin(subjectPublicKeyInfo: Array(key.publicKey.derRepresentation)))
    }

    /// localhost, 127.0.0.1 and ::1, then each host as an IP address or a DNS name.
    static func subjectAlternativeNames(_ hosts: [String]) throws(ServerCommandError) -> [GeneralName] {
        var names: [GeneralName] = []
        for host in ["localhost", "127.0.0.1", "::1"] + hosts {
            if let address = ipAddressBytes(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))))
            } else if isDNSName(host) {
                names.append(.dnsName(host.lowercased()))
            } else {
                throw ServerCommandError(
                    "--host \(host.debugDescription) is neither an IP address nor a DNS name (letters, digits, - and .)")
            }
        }
        return names
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address, or nil.
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// A DNS name: labels of 1–63 letters, digits and hyphens (not at a label's ends), at most 253 characters.
    static func isDNSName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// Creates `path` (failing if it exists) with `mode` and writes `text` to it.
    private static func writeNew(_ path: String, _ text: String, mode: mode_t) throws(ServerCommandError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw ServerCommandError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        _ = fchmod(fd, mode)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ServerCommandError("cannot write \(path): \(String(cString: strerror(errno)))") }
            written += n
        }
        guard fsync(fd) == 0 else { throw ServerCommandError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
