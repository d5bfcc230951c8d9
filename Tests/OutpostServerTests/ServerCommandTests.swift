import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OutpostCore
import OutpostServer
import OutpostStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ServerCommandTests {
    /// Text cells a spreadsheet would run as formulas get a leading `'`; numbers stay numbers.
    @Test func csvExportNeutralizesFormulas() throws {
        let fixture = try ServerFixture()
        let store = fixture.store
        let reporter = try fixture.replica("r")
        let change = try reporter.create(fields: [
            "title": "=HYPERLINK(\"http://evil\",\"x\")", "narrative": "+1 attacked", "place_name": "-Gao",
            "perpetrator": "@SUM(A1)", "target": "\tTab", "admin1": "\rCR", "admin2": "Plain", "lat": -0.04, "lon": -8.5,
            "killed": 3,
        ])
        _ = try store.applyRemote([change])
        var csv = ""
        try IncidentExport.write(store: store, format: .csv) { csv += $0 }
        let row = csv.components(separatedBy: "\r\n")[1]
        #expect(row.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""), "\(row)")
        #expect(row.contains(",'+1 attacked,"))
        #expect(row.contains(",'-Gao,"))
        #expect(row.contains(",'@SUM(A1),"))
        #expect(row.contains(",'\tTab,"))
        #expect(row.contains(",\"'\rCR\","))
        #expect(row.contains(",Plain,"))
        #expect(row.contains(",-0.04,"))
        #expect(row.contains(",-8.5,"))
        #expect(!row.contains("'-0.04"))
        #expect(CSVFormula.neutralized("safe = text") == "safe = text")
        #expect(CSVFormula.neutralized("") == "")
    }

    /// `q` counts UTF-8 bytes: 100 two-byte letters pass, 101 do not; one letter with 300
    /// combining marks (one character) does not either.
    @Test func queryTextLimitCountsBytes() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let queries = [
            String(repeating: "é", count: 100), String(repeating: "é", count: 101),
            "A" + String(repeating: "\u{301}", count: 300),
        ]
        let statuses = try await fixture.test { client -> [HTTPResponse.Status] in
            var out: [HTTPResponse.Status] = []
            for q in queries {
                let encoded = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                out.append(
                    try await client.executeRequest(
                        uri: "/v1/incidents?q=\(encoded)", method: .get, headers: bearer(analyst), body: nil
                    ).status)
            }
            return out
        }
        #expect(statuses == [.ok, .badRequest, .badRequest])
    }

    /// A port in use: the operator is told which port and what to do, not errno 98.
    @Test func portInUseSaysSo() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(listen(fd, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let fixture = try ServerFixture()
        var caught: (any Error)?
        do {
            try await ServerCommands.serve(databasePath: fixture.configuration.databasePath, host: "127.0.0.1", port: port)
        } catch { caught = error }
        #expect(
            "\(caught.map { String(describing: $0) } ?? "no error")"
                == "port \(port) on 127.0.0.1 is already in use; stop the other server or pick another --port")
        #expect(
            ServerCommands.bindFailure(IOError(errnoCode: EADDRINUSE, reason: "bind"), host: "0.0.0.0", port: 8080)?.description
                == "port 8080 on 0.0.0.0 is already in use; stop the other server or pick another --port")
        #expect(ServerCommands.bindFailure(IOError(errnoCode: EIO, reason: "read"), host: "h", port: 1) == nil)
    }

    /// A database in a folder that does not exist: the message names the folder.
    @Test func missingFolderIsNamed() throws {
        let folder = NSTemporaryDirectory() + "outpost-missing-" + UUID().uuidString + "/sub"
        var caught: (any Error)?
        do { _ = try SQLiteBackend(databasePath: folder + "/server.db", create: true) } catch { caught = error }
        #expect(
            "\(caught.map { String(describing: $0) } ?? "no error")"
                == "cannot create the database \(folder)/server.db: the folder \(folder) does not exist; create it or pick another --db"
        )
        #expect(!FileManager.default.fileExists(atPath: folder))
        var enrolled: (any Error)?
        do { _ = try ServerCommands.enroll(databasePath: folder + "/server.db", reporter: "a", role: .reporter) } catch {
            enrolled = error
        }
        #expect("\(enrolled.map { String(describing: $0) } ?? "")".contains("the folder \(folder) does not exist"))
    }

    /// One version string for both programs.
    @Test func versionIsSet() {
        #expect(outpostVersion.split(separator: ".").count == 3)
        #expect(outpostVersion.split(separator: ".").allSatisfy { Int($0) != nil })
    }
}
