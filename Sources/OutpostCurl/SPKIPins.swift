import Foundation

/// Public-key pins as libcurl's `CURLOPT_PINNEDPUBLICKEY` takes them: `sha256//<base64>`, several
/// joined by `;`.
public enum SPKIPins {
    /// What a pin must look like, for error messages.
    public static let rule =
        "a pin is sha256// and the base64 of a 32-byte SHA-256 (44 characters), as `outpost-server cert` prints it; several are joined by ;"

    /// Whether `text` is one or more `sha256//` pins of 32 bytes each, joined by `;`.
    public static func isValid(_ text: String) -> Bool {
        let pins = text.split(separator: ";", omittingEmptySubsequences: false)
        return !pins.isEmpty
            && pins.allSatisfy { pin in
                guard pin.hasPrefix("sha256//") else { return false }
                let encoded = pin.dropFirst("sha256//".count)
                return encoded.utf8.count == 44 && Data(base64Encoded: String(encoded))?.count == 32
            }
    }
}
