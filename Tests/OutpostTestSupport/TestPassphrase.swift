import Foundation

/// The passphrase the test stores of `outpost` processes are made with, handed to `outpost` through
/// `$OUTPOST_PASSPHRASE_FILE`, with a low scrypt cost so each command stays quick (the format and
/// checks are those of the standard cost; `KeyfileTests` covers them).
public enum TestPassphrase {
    /// The passphrase.
    public static let text = "field test passphrase"

    /// A file holding it, written once per test process and removed when the process exits.
    public static let file: String = {
        let path = NSTemporaryDirectory() + "outpost-test-passphrase-\(getpid())"
        _ = FileManager.default.createFile(
            atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600])
        atexit { unlink(TestPassphrase.file) }
        return path
    }()

    /// The variables that let `outpost` open the test stores without a terminal.
    public static var environment: [String: String] {
        ["OUTPOST_PASSPHRASE_FILE": file, "OUTPOST_KDF_LOG2N_FOR_TESTS": "10"]
    }
}
