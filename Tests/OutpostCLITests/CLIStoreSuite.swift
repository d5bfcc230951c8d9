import OutpostStore
import OutpostTestSupport
import Testing

/// What suites that drive the real binary against encrypted test stores share.
protocol CLIStoreSuite {}

extension CLIStoreSuite {
    /// Runs `outpost` on `store`, requiring success; its standard output.
    func ok(_ arguments: [String], store: String) throws -> String {
        let r = try CLIRunner.run(arguments, store: store)
        try #require(r.status == 0, "\(arguments.joined(separator: " ")) failed: \(r.stderr)")
        return r.stdout
    }

    /// The encrypted store at `path`, opened with the test passphrase.
    func openStore(_ path: String) throws -> Store {
        guard case .dataKey(let key) = try Keyfile.read(inStore: path).unlock(passphrase: TestPassphrase.text) else {
            throw StoreError(.encrypted, "the test passphrase did not open \(path)")
        }
        return try Store.open(at: path, cipher: StoreCipher(key: key))
    }
}
