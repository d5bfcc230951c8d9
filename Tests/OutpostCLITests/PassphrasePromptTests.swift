import Foundation
import OutpostTestSupport
import Testing

/// The passphrase prompts on a real terminal (a pseudo-terminal driven by Python's `pty`): the
/// passphrase is asked for, never echoed, and opens the store; `init` asks twice.
@Suite struct PassphrasePromptTests {
    /// Runs a command on a new pseudo-terminal, answering each prompt that contains a key of
    /// `answers` with its value (in order), and prints everything the terminal showed.
    static let driver = """
        import os, pty, select, sys, time
        answers = [(sys.argv[i], sys.argv[i + 1]) for i in range(2, len(sys.argv), 2)]
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp("/bin/sh", ["/bin/sh", "-c", sys.argv[1]])
        shown, deadline = b"", time.time() + 60
        while time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                shown += data
            if answers and answers[0][0].encode() in shown:
                shown += b"<answered>"
                os.write(fd, answers.pop(0)[1].encode() + b"\\n")
        _, status = os.waitpid(pid, 0)
        sys.stdout.buffer.write(shown)
        sys.exit(os.waitstatus_to_exitcode(status))
        """

    /// What the terminal showed and the command's exit status.
    private func onTerminal(_ command: String, answering answers: [(String, String)], _ folder: TempFolder) throws -> CLIResult {
        let script = folder.write("pty-driver.py", PassphrasePromptTests.driver)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, command] + answers.flatMap { [$0.0, $0.1] }
        var environment = ProcessInfo.processInfo.environment
        environment["OUTPOST_PASSPHRASE_FILE"] = nil
        environment["OUTPOST_STORE"] = nil
        environment["OUTPOST_KDF_LOG2N_FOR_TESTS"] = "10"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let shown = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdoutBytes: Array(shown), stderr: "")
    }

    private func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    @Test func initAsksTwiceAndCommandsAskOnceWithoutEchoingThePassphrase() throws {
        let binary = try CLIRunner.requireBinary()
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let passphrase = "typed at the checkpoint 7"
        let outpost = quoted(binary) + " --store " + quoted(folder.store)

        // Positive control: this terminal echoes what is typed, so the checks below could fail.
        let echoed = try onTerminal("read line; echo read", answering: [("", "visible words")], folder)
        #expect(String(decoding: echoed.stdoutBytes, as: UTF8.self).contains("visible words"))

        let made = try onTerminal(
            outpost + " init --reporter amina",
            answering: [("New passphrase: ", passphrase), ("The same passphrase again: ", passphrase)], folder)
        let madeText = String(decoding: made.stdoutBytes, as: UTF8.self)
        #expect(made.status == 0, "\(madeText)")
        #expect(madeText.contains("Created an encrypted Outpost store"))
        #expect(!madeText.contains(passphrase), "the passphrase was echoed: \(madeText)")

        let id = try onTerminal(
            outpost + " new --title 'Typed on a terminal'", answering: [("Passphrase for", passphrase)], folder)
        #expect(id.status == 0, "\(String(decoding: id.stdoutBytes, as: UTF8.self))")
        let shown = try onTerminal(outpost + " list", answering: [("Passphrase for", passphrase)], folder)
        let shownText = String(decoding: shown.stdoutBytes, as: UTF8.self)
        #expect(shown.status == 0)
        #expect(shownText.contains("Typed on a terminal"))
        #expect(!shownText.contains(passphrase), "the passphrase was echoed: \(shownText)")
    }

    @Test func initRefusesTwoDifferentPassphrasesAndCreatesNothing() throws {
        let binary = try CLIRunner.requireBinary()
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let made = try onTerminal(
            quoted(binary) + " --store " + quoted(folder.store) + " init --reporter amina",
            answering: [("New passphrase: ", "first passphrase"), ("The same passphrase again: ", "second passphrase")], folder)
        #expect(made.status == 6)
        #expect(String(decoding: made.stdoutBytes, as: UTF8.self).contains("differ"))
        #expect(!FileManager.default.fileExists(atPath: folder.store + "/outpost.db"))
    }
}
