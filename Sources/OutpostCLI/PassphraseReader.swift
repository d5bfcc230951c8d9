import Foundation

/// Where passphrases come from: a file (`--passphrase-file`, `$OUTPOST_PASSPHRASE_FILE`) for
/// scripts and tests, else a prompt on the terminal with echo off.
enum PassphraseReader {
    /// The environment variable naming a file whose first line is the passphrase.
    static let environmentVariable = "OUTPOST_PASSPHRASE_FILE"
    /// The shortest new passphrase accepted.
    static let minimumLength = 8
    /// The longest passphrase read (longer input is refused, not cut).
    static let maximumBytes = 4_096

    /// `$OUTPOST_PASSPHRASE_FILE` when set and not empty.
    static func environmentFile(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether a prompt can be shown: standard input is a terminal and /dev/tty opens.
    static var canPrompt: Bool {
        guard isatty(STDIN_FILENO) == 1 else { return false }
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// The first line of `path` (its line ending removed); an unreadable or empty file is an
    /// error naming `what` (for example `--passphrase-file`).
    static func read(file path: String, what: String) throws(CLIError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CLIError(.invalidInput, "\(what): cannot read \(path)")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maximumBytes + 2)) ?? Data()
        guard var text = String(data: data, encoding: .utf8) else {
            throw CLIError(.invalidInput, "\(what): \(path) is not UTF-8 text")
        }
        if let newline = text.firstIndex(where: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            text = String(text[..<newline])
        } else if data.count > maximumBytes {
            throw CLIError(.invalidInput, "\(what): the passphrase in \(path) is longer than \(maximumBytes) bytes")
        }
        guard !text.isEmpty else {
            throw CLIError(.invalidInput, "\(what): \(path) holds no passphrase (its first line is empty)")
        }
        return text
    }

    /// A new passphrase: from `file`, else `$OUTPOST_PASSPHRASE_FILE`, else asked twice on the
    /// terminal; at least `minimumLength` characters. `purpose` names it in prompts and errors.
    static func newPassphrase(file: String?, flag: String, purpose: String, useEnvironment: Bool = true) throws(CLIError)
        -> String
    {
        let passphrase: String
        if let file {
            passphrase = try read(file: file, what: flag)
        } else if useEnvironment, let file = environmentFile() {
            passphrase = try read(file: file, what: "$\(environmentVariable)")
        } else if canPrompt {
            let first = try prompt("New \(purpose): ")
            let second = try prompt("The same \(purpose) again: ")
            guard first == second else { throw CLIError(.invalidInput, "the two \(purpose)s differ; nothing was changed") }
            passphrase = first
        } else {
            throw CLIError(
                .usage,
                "no terminal to ask for a \(purpose): pass \(flag) FILE"
                    + (useEnvironment ? " or set $\(environmentVariable)" : ""))
        }
        guard passphrase.count >= minimumLength else {
            throw CLIError(.invalidInput, "the \(purpose) must have at least \(minimumLength) characters")
        }
        return passphrase
    }

    /// Shows `label` on the terminal and reads one line with echo off; echo comes back however
    /// the read ends.
    static func prompt(_ label: String) throws(CLIError) -> String {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError(.passphraseLocked, "cannot open the terminal to ask for the passphrase") }
        defer { close(fd) }
        var saved = termios()
        let hasTerminalSettings = tcgetattr(fd, &saved) == 0
        if hasTerminalSettings {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ICANON)
            tcsetattr(fd, TCSAFLUSH, &quiet)
        }
        defer {
            if hasTerminalSettings { tcsetattr(fd, TCSAFLUSH, &saved) }
            _ = write(fd, "\n", 1)
        }
        _ = Array(label.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == 0x0A || byte == 0x0D { break }
            bytes.append(byte)
            if bytes.count > maximumBytes { throw CLIError(.invalidInput, "the passphrase is longer than \(maximumBytes) bytes") }
        }
        defer { bytes.withUnsafeMutableBytes { if let base = $0.baseAddress { memset(base, 0, $0.count) } } }
        return String(decoding: bytes, as: UTF8.self)
    }
}
