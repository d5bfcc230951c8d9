import Foundation
import Hummingbird
import Logging
import NIOCore
import OutpostCore
import OutpostStore

/// Export formats.
public enum ExportFormat: String, CaseIterable, Sendable {
    case ndjson, csv, geojson
}

/// The work behind `outpost-server` subcommands; the executable only parses arguments.
public enum ServerCommands {
    /// `serve`: runs until SIGTERM/SIGINT, then finishes in-flight requests and stops; with
    /// `tls`, over HTTPS.
    public static func serve(
        databasePath: String, host: String, port: Int, limits: ServerLimits = ServerLimits(), tls: ServerTLS? = nil,
        queryIndexes: Bool = true
    ) async throws {
        var configuration = ServerConfiguration(databasePath: databasePath, host: host, port: port)
        configuration.queryIndexes = queryIndexes
        configuration.limits = limits
        configuration.tls = tls
        let scheme = tls == nil ? "http" : "https"
        configuration.onListening = { host, port in
            let shown = host.contains(":") ? "[\(host)]" : host
            FileHandle.standardOutput.write(Data("outpost-server listening on \(scheme)://\(shown):\(port)\n".utf8))
        }
        let app = try buildApplication(configuration: configuration)
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            throw bindFailure(error, host: host, port: port) ?? error
        }
    }

    /// What to tell the operator when the server could not listen (port taken, address not
    /// here, port reserved), or nil for other errors.
    public static func bindFailure(_ error: any Error, host: String, port: Int) -> ServerCommandError? {
        let errno = (error as? IOError)?.errnoCode
        let text = String(describing: error)
        if errno == EADDRINUSE || text.contains("Address already in use") {
            return ServerCommandError(
                "port \(port) on \(host) is already in use; stop the other server or pick another --port")
        }
        if errno == EADDRNOTAVAIL || text.contains("Cannot assign requested address") {
            return ServerCommandError("\(host) is not an address of this machine; pick another --host")
        }
        if errno == EACCES || text.contains("Permission denied") {
            return ServerCommandError("port \(port) on \(host) needs more privileges; pick a --port above 1023")
        }
        return nil
    }

    /// `enroll`: makes a token (printed once by the caller) for a reporter.
    public static func enroll(databasePath: String, reporter: String, role: Role) throws -> String {
        try SQLiteBackend(databasePath: databasePath, create: true).enroll(reporter: reporter, role: role)
    }

    /// `enroll`, with `device` (replica and public key) enrolled by its key: the token, and the
    /// server's roster key the device pins. `teams`: a reporter's one team, an analyst's teams.
    public static func enroll(
        databasePath: String, reporter: String, role: Role, device: (replica: ReplicaID, key: [UInt8])?, teams: [String] = []
    ) throws -> (token: String, rosterKey: [UInt8]) {
        let backend = try SQLiteBackend(databasePath: databasePath, create: true)
        return (try backend.enroll(reporter: reporter, role: role, device: device, teams: teams), backend.rosterKey.publicKey)
    }

    /// `move`: moves an incident to another team (the operator, every team); the team it left.
    public static func move(databasePath: String, incident: String, team: String) throws -> String {
        do {
            return try existingBackend(databasePath).moveNow(incident: incident, to: team, by: .allTeams)
        } catch let error as MoveError {
            throw ServerCommandError(error.description)
        }
    }

    /// `revoke`: ends every token of a reporter; returns how many were active.
    public static func revoke(databasePath: String, reporter: String) throws -> Int {
        try existingBackend(databasePath).revoke(reporter: reporter)
    }

    /// `export`: writes every visible incident in `format` through `write`.
    public static func export(databasePath: String, format: ExportFormat, write: (String) -> Void) throws {
        let store = try existingBackend(databasePath).store
        try IncidentExport.write(store: store, format: format, to: write)
    }

    /// `backup`: writes a consistent copy of the server database to a new file at `outputPath`
    /// (mode 0600), also while a server is serving from it; returns the copy's size in bytes.
    @discardableResult
    public static func backup(databasePath: String, outputPath: String) throws -> Int64 {
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw ServerCommandError("no server database at \(databasePath); nothing was backed up (give the server's --db)")
        }
        do {
            try Store.open(databasePath: databasePath).backup(to: outputPath)
        } catch {
            throw ServerCommandError(error.message)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: outputPath)[.size] as? NSNumber)?.int64Value
        return size ?? 0
    }

    static func existingBackend(_ path: String) throws -> SQLiteBackend {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ServerCommandError("no server database at \(path) (run `outpost-server serve --db \(path)` or `enroll` first)")
        }
        return try SQLiteBackend(databasePath: path, create: false)
    }
}

/// Incident export in the CLI's shapes: ndjson of `IncidentRecord.json`, RFC 4180 CSV, GeoJSON.
public enum IncidentExport {
    /// Writes every visible incident `scope` may read (the operator's export: every team);
    /// `write` receives chunks of text.
    public static func write(
        store: Store, format: ExportFormat, readableBy scope: AccessScope = .allTeams, to write: (String) -> Void
    ) throws {
        let readable = try scope.teams.map { try store.incidentIDs(inTeams: $0) }
        try self.write(
            each: { body in
                try store.forEachIncident { incident in
                    if readable?.contains(incident.id) ?? true { try body(incident) }
                }
            }, format: format, to: write)
    }

    /// Writes `records` (the web workspace's current filter), in the same shapes.
    public static func write(records: [IncidentRecord], format: ExportFormat, to write: (String) -> Void) throws {
        try self.write(each: { body in for record in records { try body(record) } }, format: format, to: write)
    }

    /// Writes each incident `each` hands over.
    static func write(
        each: ((IncidentRecord) throws -> Void) throws -> Void, format: ExportFormat, to output: (String) -> Void
    ) throws {
        // `each` calls back synchronously; `write` never outlives this call.
        try withoutActuallyEscaping(output) { sink in try Self.write(each: each, format: format, escapingTo: sink) }
    }

    private static func write(
        each: ((IncidentRecord) throws -> Void) throws -> Void, format: ExportFormat, escapingTo write: @escaping (String) -> Void
    ) throws {
        switch format {
        case .ndjson:
            try each { write($0.json.serialized() + "\n") }
        case .csv:
            write((["id"] + IncidentSchema.fieldNames).map(csvField).joined(separator: ",") + "\r\n")
            try each { incident in
                let cells = [CSVFormula.neutralized(incident.id)] + IncidentSchema.fieldNames.map { csvText(incident.fields[$0]) }
                write(cells.map(csvField).joined(separator: ",") + "\r\n")
            }
        case .geojson:
            write("{\"type\":\"FeatureCollection\",\"features\":[")
            var first = true
            try each { incident in
                var geometry: JSONValue = .null
                if let lat = incident.fields["lat"], let lon = incident.fields["lon"], lat.doubleValue != nil,
                    lon.doubleValue != nil
                {
                    geometry = .object(["type": "Point", "coordinates": .array([lon, lat])])
                }
                var properties = incident.fields
                properties["id"] = .string(incident.id)
                properties["conflict"] = .bool(incident.conflict)
                properties["created_at"] = .string(DateText.rfc3339(epochMilliseconds: incident.createdMs))
                properties["updated_at"] = .string(DateText.rfc3339(epochMilliseconds: incident.updatedMs))
                let feature = JSONValue.object([
                    "type": "Feature", "id": .string(incident.id), "geometry": geometry, "properties": .object(properties),
                ])
                write((first ? "\n" : ",\n") + feature.serialized())
                first = false
            }
            write("\n]}\n")
        }
    }

    /// A cell's text: numbers, booleans and lists as JSON, text neutralized (`CSVFormula.neutralized`).
    static func csvText(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let s)?: return CSVFormula.neutralized(s)
        case let v?: return v.serialized()
        }
    }

    /// Quotes a CSV field when it holds a comma, quote, CR or LF (RFC 4180).
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
