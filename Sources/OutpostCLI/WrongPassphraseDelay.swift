import Foundation
import OutpostStore

/// Slows down guessing: each wrong passphrase in a row waits twice as long as the one before
/// (1, 2, 4, … up to 30 s) before it is reported. The count lives beside the keyfile
/// (`outpost.key.tries`), so separate commands add up; a right passphrase resets it.
///
/// scrypt's cost (about 0.4 s a try) is what protects a copied keyfile; this delay is for the
/// device itself, where a script could otherwise try passphrases as fast as scrypt allows.
enum WrongPassphraseDelay {
    /// The counter's file name in the store folder.
    static let fileName = Keyfile.fileName + ".tries"
    /// The longest wait, in seconds.
    static let maximumSeconds: UInt32 = 30

    static func path(_ directory: String) -> String { (directory as NSString).appendingPathComponent(fileName) }

    /// Wrong tries in a row so far.
    static func failures(storeAt directory: String) -> Int {
        guard let data = FileManager.default.contents(atPath: path(directory)),
            let count = Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else { return 0 }
        return max(0, count)
    }

    /// Counts one more wrong try and returns the count.
    static func recordFailure(storeAt directory: String) -> Int {
        let count = failures(storeAt: directory) + 1
        let fd = open(path(directory), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            _ = Array("\(count)\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            fsync(fd)
            close(fd)
        }
        return count
    }

    /// Forgets the wrong tries after a right one.
    static func reset(storeAt directory: String) {
        unlink(path(directory))
    }

    /// The wait after `failures` wrong tries in a row, in seconds.
    static func seconds(afterFailures failures: Int) -> UInt32 {
        guard failures > 0 else { return 0 }
        return min(maximumSeconds, UInt32(1) << UInt32(min(failures - 1, 5)))
    }

    /// Waits as long as `failures` calls for.
    static func wait(afterFailures failures: Int) {
        let seconds = seconds(afterFailures: failures)
        if seconds > 0 { sleep(seconds) }
    }
}
