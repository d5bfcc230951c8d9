import ArgumentParser
import Foundation
import OutpostCore
import OutpostServer

@main
struct OutpostServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpost-server",
        abstract: "The Outpost sync server.",
        version: outpostVersion,
        subcommands: [Serve.self, Enroll.self, Revoke.self, Move.self, Export.self, Backup.self, Cert.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the sync API until SIGTERM or SIGINT.",
        discussion: """
            With --tls-cert and --tls-key (PEM files; `outpost-server cert` makes a self-signed pair \
            and prints its pin) it serves HTTPS, TLS 1.2 at least and 1.3 preferred; devices pin the \
            key with `outpost config --pin`.
            """)
    @Option(help: "The SQLite database (created when missing).") var db = "./outpost-server.db"
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0: any free port).") var port = 8080
    @Flag(inversion: .prefixedNo, help: "Index incidents for analysts' filters (on by default).")
    var queryIndexes = true
    @Option(help: "Seconds a request body may take to arrive (408 past it; a silent connection is closed).")
    var bodyTimeout = 30
    @Option(help: "Failed authentications one client address may make in a row before 429.")
    var authFailureBurst = ServerLimits().authFailureBurst
    @Option(help: "Failed authentications per minute an address is allowed back after its burst.")
    var authFailuresPerMinute = ServerLimits().authFailuresPerMinute
    @Option(help: "Requests one token may make in a row before 429.")
    var tokenBurst = ServerLimits().tokenBurst
    @Option(help: "Requests per second a token is allowed back after its burst.")
    var tokenRequestsPerSecond = ServerLimits().tokenRequestsPerSecond
    @Option(help: ArgumentHelp("PEM certificate (chain, leaf first) to serve HTTPS with, with --tls-key.", valueName: "file"))
    var tlsCert: String?
    @Option(help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError(
                tlsCert == nil
                    ? "--tls-key needs --tls-cert (give both or neither)" : "--tls-cert needs --tls-key (give both or neither)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535") }
        guard (1...3600).contains(bodyTimeout) else { throw ValidationError("--body-timeout must be 1–3600 seconds") }
        guard authFailureBurst >= 1, tokenBurst >= 1 else {
            throw ValidationError("--auth-failure-burst and --token-burst must be at least 1")
        }
        guard authFailuresPerMinute > 0, tokenRequestsPerSecond > 0, authFailuresPerMinute.isFinite,
            tokenRequestsPerSecond.isFinite
        else {
            throw ValidationError("--auth-failures-per-minute and --token-requests-per-second must be more than 0")
        }
    }

    func run() async throws {
        var limits = ServerLimits()
        limits.bodyTimeout = .seconds(bodyTimeout)
        limits.authFailureBurst = authFailureBurst
        limits.authFailuresPerMinute = authFailuresPerMinute
        limits.tokenBurst = tokenBurst
        limits.tokenRequestsPerSecond = tokenRequestsPerSecond
        let tls = try tlsCert.flatMap { cert in try tlsKey.map { try ServerTLS(certificatePath: cert, keyPath: $0) } }
        try await ServerCommands.serve(
            databasePath: db, host: host, port: port, limits: limits, tls: tls, queryIndexes: queryIndexes)
    }
}

extension Role: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}

struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a device token for a reporter and print it once.",
        discussion: """
            A reporter belongs to one team (--team, default "default") and pulls only
            that team's records; a restricted record reaches only its author. An
            analyst reads the teams given with --team (repeat it), or every team
            without it. A reporter already in a team is refused another.

            With --replica and --key (from `outpost identity` on the device), the
            device is enrolled by its key: it goes into the roster and the token is
            bound to it, for a device that leaves for the field before it ever syncs.
            A second line then gives the server's roster key (`outpost config
            --roster-key KEY` pins it on the device), and a third its parcel key,
            signed by the roster key (`outpost config --parcel-key KEY.SIG` pins
            it): the device seals to it what it carries but may not read.
            """
    )
    @Option(help: "The SQLite database (created when missing).") var db: String
    @Option(help: "The reporter's name.") var reporter: String
    @Option(help: "reporter, analyst or admin.") var role: Role = .reporter
    @Option(help: "The device's replica ID (hex), with --key.") var replica: String?
    // Unconditional: a base64url key may start with "-".
    @Option(parsing: .unconditional, help: "The device's public key (unpadded base64url), with --replica.")
    var key: String?
    @Option(help: ArgumentHelp("The reporter's team, or an analyst's (repeatable).", valueName: "team"))
    var team: [String] = []

    func validate() throws {
        guard (replica == nil) == (key == nil) else { throw ValidationError("--replica and --key go together") }
        if let replica, ReplicaID(hex: replica) == nil {
            throw ValidationError("--replica must be a replica ID in lowercase hex (`outpost identity` prints it)")
        }
        if let key, Base64URL.decode(key)?.count != 32 {
            throw ValidationError("--key must be a 32-byte public key in unpadded base64url (`outpost identity` prints it)")
        }
        for name in team where !TeamName.isValid(name) { throw ValidationError("--team \"\(name)\": \(TeamName.rule)") }
        if role == .reporter, Set(team).count > 1 { throw ValidationError("a reporter belongs to one team: give --team once") }
        if role == .admin, !team.isEmpty {
            throw ValidationError("an admin reads every team: --team is for reporters and analysts")
        }
    }

    func run() throws {
        let device = replica.flatMap(ReplicaID.init(hex:)).flatMap { id in key.flatMap(Base64URL.decode).map { (id, $0) } }
        let enrolled = try ServerCommands.enroll(databasePath: db, reporter: reporter, role: role, device: device, teams: team)
        print(enrolled.token)
        // Only with a device enrolled by its key, so that the token stays the whole output otherwise.
        if device != nil {
            print("roster key: \(Base64URL.encode(enrolled.rosterKey))")
            print("parcel key: \(try SQLiteBackend(databasePath: db, create: false).vouchedParcelKey().text)")
        }
    }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End every token of a reporter.")
    @Option(help: "The SQLite database.") var db: String
    @Option(help: "The reporter's name.") var reporter: String

    func run() throws {
        let count = try ServerCommands.revoke(databasePath: db, reporter: reporter)
        print("revoked \(count) token\(count == 1 ? "" : "s") of \(reporter)")
    }
}

struct Move: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move an incident to another team.",
        discussion: """
            Devices of its old team forget it at their next sync; devices of the new
            team receive it. An analyst with both teams can do the same with
            POST /v1/incidents/{id}/move.
            """)
    @Option(help: "The SQLite database.") var db: String
    @Option(help: "The incident's id.") var incident: String
    @Option(help: "The team to move it to.") var team: String

    func run() throws {
        let previous = try ServerCommands.move(databasePath: db, incident: incident, team: team)
        print(
            previous == team
                ? "incident \(incident) is already in team \(team)"
                : "moved incident \(incident) from team \(previous) to team \(team)")
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every visible incident.")
    @Option(help: "The SQLite database.") var db: String
    @Option(help: "ndjson, csv or geojson.") var format: ExportFormat = .ndjson

    func run() throws {
        var buffer: [UInt8] = []
        try ServerCommands.export(databasePath: db, format: format) { chunk in
            buffer.append(contentsOf: chunk.utf8)
            if buffer.count >= 1 << 16 {
                FileHandle.standardOutput.write(Data(buffer))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        FileHandle.standardOutput.write(Data(buffer))
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database to a new file, also while the server runs.",
        discussion: """
            To restore: stop the server, copy the backup over the --db file, remove the database's \
            -wal and -shm files, start the server. Devices send it what it lacks at their next sync.
            """)
    @Option(help: "The SQLite database.") var db = "./outpost-server.db"
    @Option(help: "The backup file to write (must not exist).") var out: String

    func run() throws {
        let bytes = try ServerCommands.backup(databasePath: db, outputPath: out)
        print("backed up \(db) to \(out) (\(bytes) bytes)")
    }
}

struct Cert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a self-signed certificate and key for `serve --tls-cert/--tls-key`; print its pin.",
        discussion: """
            Writes cert.pem and key.pem (the private key, mode 0600) into --out, never over an existing file. The \
            certificate names localhost, 127.0.0.1 and ::1, and each --host (the names devices use to \
            reach the server). Prints the key's pin (sha256//…) on standard output: give it to each \
            device with `outpost config --pin PIN`.
            """)
    @Option(help: ArgumentHelp("The folder to write cert.pem and key.pem into (made when missing).", valueName: "dir"))
    var out: String
    @Option(help: ArgumentHelp("Another DNS name or IP address devices reach the server by (repeatable).", valueName: "name"))
    var host: [String] = []

    func run() throws {
        let made = try SelfSignedCertificate.make(directory: out, hosts: host)
        FileHandle.standardError.write(
            Data(
                "wrote \(made.certificatePath) and \(made.keyPath) (mode 0600); devices pin the key with `outpost config --pin \(made.pin)`\n"
                    .utf8))
        print(made.pin)
    }
}
