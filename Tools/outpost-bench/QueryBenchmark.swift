import Foundation
import OutpostCore
import OutpostStore

#if canImport(Glibc)
    import Glibc
#endif

/// Analysts' filtered queries through a real `outpost-server serve` over a server store of
/// `incidents` incidents with its query indexes (`Store+QueryIndex`): a fixed, seeded set of
/// filter combinations, each asked `runs` times for its first page (with its total); prints p50
/// and p95 per combination and overall; then the same filters' first page of the incidents web
/// page (`GET /web/incidents`, signed in: rows, map and weekly chart). Then apply throughput of
/// the same remote edits into a store without and with the indexes (the text indexed after the
/// apply, as the server does between sync batches, timed apart).
enum QueryBenchmark: Benchmark {
    static let name = "query"
    static let usage =
        "[--incidents 100000] [--db PATH] [--runs 20] [--limit 100] [--apply-incidents 20000] [--changes 20000] [--rounds 3]  filtered first-page p50/p95 through the API and the web page, and apply throughput without/with the query indexes"

    static func run(_ arguments: BenchArguments) throws {
        let incidents = try arguments.int("incidents", 100_000)
        let runs = try arguments.int("runs", 20)
        let limit = try arguments.int("limit", 100)
        let db = arguments.string("db") ?? NSTemporaryDirectory() + "outpost-bench-query-\(incidents).db"
        let server = NewBenchmark.siblingBinary("outpost-server")
        guard FileManager.default.isExecutableFile(atPath: server) else {
            throw BenchError("\(server) is missing: build with `swift build -c release` first")
        }
        if arguments.string("apply-only") == nil {
            try buildStore(at: db, incidents: incidents)
            try measureQueries(server: server, db: db, runs: runs, limit: limit)
        }
        if arguments.string("query-only") == nil {
            try measureApply(
                incidents: try arguments.int("apply-incidents", 20_000), changes: try arguments.int("changes", 20_000),
                rounds: try arguments.int("rounds", 3))
        }
    }

    /// Makes the server store at `path` once (reused while it exists): the generator's incidents
    /// created over a year, a few thousand racing edits (conflicts) and deletes, then its indexes.
    static func buildStore(at path: String, incidents: Int) throws {
        if FileManager.default.fileExists(atPath: path) {
            print("query: reusing \(path)")
            return
        }
        print("query: building a server store of \(incidents) incidents at \(path)…")
        let store = try Store.create(databasePath: path, reporter: "server")
        var generator = IncidentGenerator()
        var ids: [String] = []
        let chunk = 5_000
        let started = Bench.now()
        for start in stride(from: 0, to: incidents, by: chunk) {
            let inputs = (start..<min(start + chunk, incidents)).map { i -> IncidentInput in
                guard case .object(let fields) = generator.incident(index: i) else { fatalError("an incident is an object") }
                return IncidentInput(id: nil, fields: fields)
            }
            // Creation times spread over a year.
            ids += try store.importIncidents(inputs, wallMs: 1_735_689_600_000 + Int64(start) * 315_000)
        }
        print(String(format: "query: imported in %.1f s", Bench.now() - started))
        // Racing edits from two signed replicas: conflicts on 2 % of the incidents; 1 % deleted.
        let keys = [DeviceKey(), DeviceKey()]
        try store.trust(
            keys.enumerated().map {
                RosterEntry(replica: $1.replicaID, key: $1.publicKey, reporter: "field-\($0)", status: .active, version: 1)
            })
        var random = SplitMix64(seed: 7)
        var changes: [Change] = []
        var counters = [UInt64](repeating: 0, count: keys.count)
        for _ in 0..<(incidents / 50) {
            let id = ids[Int(random.next() % UInt64(ids.count))]
            guard let state = try store.recordState(id: id) else { continue }
            for (k, key) in keys.enumerated() {
                counters[k] += 1
                changes.append(
                    key.signed(
                        Change(
                            dot: Dot(replica: key.replicaID, counter: counters[k]), record: RecordKey(id: id),
                            deps: state.version,
                            tag: HLCTag(ms: 1_767_225_700_000 + Int64(counters[k]), seq: 0),
                            writes: ["status": .string(k == 0 ? "verified" : "disputed")], reporter: "field-\(k)")))
            }
        }
        try store.applyRemote(changes)
        for _ in 0..<(incidents / 100) { _ = try? store.delete(id: ids[Int(random.next() % UInt64(ids.count))]) }
        let indexStart = Bench.now()
        try store.enableQueryIndexes()
        print(String(format: "query: query indexes built in %.1f s", Bench.now() - indexStart))
    }

    /// One named filter combination; `make` gives the query string of run `i` (seeded variants).
    struct Combination {
        var name: String
        var make: (inout SplitMix64) -> String
    }

    static func combinations() -> [Combination] {
        func pick(_ items: [String], _ random: inout SplitMix64) -> String { items[Int(random.next() % UInt64(items.count))] }
        let types = IncidentSchema.eventTypes
        // Boxes around the generator's places (Gao, Mopti, Goma, Maiduguri) and wider ones.
        let small = ["-0.1,16.2,0.1,16.4", "-4.3,14.4,-4.1,14.6", "29.1,-1.8,29.3,-1.6", "13.1,11.8,13.3,11.9"]
        let large = ["-20,0,45,30", "-10,10,5,20", "-5,-15,45,25"]
        let words = ["gunfire", "market", "motorcycles", "displaced", "witnesses"]
        return [
            Combination(name: "no filter") { _ in "" },
            Combination(name: "event_type") { "event_type=" + pick(types, &$0) },
            Combination(name: "status") { "status=" + pick(["verified", "disputed", "submitted"], &$0) },
            Combination(name: "bbox small") { "bbox=" + pick(small, &$0) },
            Combination(name: "bbox large") { "bbox=" + pick(large, &$0) },
            Combination(name: "bbox antimeridian") { _ in "bbox=170,-30,-170,30" },
            Combination(name: "q common word") { "q=" + pick(words, &$0) },
            Combination(name: "q rare (title #n)") { "q=%23" + String($0.next() % 100_000) },
            Combination(name: "q place (Arabic)") { _ in
                "q=" + "الفاشر".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            },
            Combination(name: "q accented") { _ in "q=Moc%C3%ADmboa" },
            Combination(name: "occurred range") {
                "occurred_from=20\(15 + $0.next() % 10)-01-01&occurred_to=20\(15 + $0.next() % 10)-06-30"
            },
            Combination(name: "has_conflicts") { _ in "has_conflicts=true" },
            Combination(name: "reporter") { "reporter=" + pick(["server", "server", "nobody"], &$0) },
            Combination(name: "bbox+q+type") {
                "bbox=" + pick(small + large, &$0) + "&q=" + pick(words, &$0) + "&event_type=" + pick(types, &$0)
            },
            Combination(name: "type+status+date") {
                "event_type=" + pick(types, &$0) + "&status=submitted&occurred_from=2020-01-01&occurred_to=2022-12-31"
            },
            Combination(name: "bbox large+q") { "bbox=" + pick(large, &$0) + "&q=" + pick(words, &$0) },
            Combination(name: "status+conflicts") { _ in "status=verified,disputed&has_conflicts=true" },
            Combination(name: "q+date+type+deleted") {
                "q=" + pick(words, &$0) + "&occurred_from=2024-01-01&event_type=" + pick(types, &$0) + "&include_deleted=true"
            },
        ]
    }

    static func measureQueries(server: String, db: String, runs: Int, limit: Int) throws {
        let token = try ChildProcess.check(server, ["enroll", "--db", db, "--reporter", "bench-desk", "--role", "analyst"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let dir = try Bench.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: server)
        process.arguments = [
            "serve", "--db", db, "--query-indexes", "--host", "127.0.0.1", "--port", "0", "--token-burst", "1000000",
            "--token-requests-per-second",
            "1000000",
        ]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        var port = 0
        for _ in 0..<600 where port == 0 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":")[1]) ?? 0
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard port > 0 else { throw BenchError("the server did not start") }
        // The server reads its query indexes into memory once it listens; the first query waits.
        let first = Bench.now()
        guard try get(port: port, path: "/v1/incidents?limit=\(limit)", token: token).0 == 200 else {
            throw BenchError("the first query failed")
        }
        print(
            String(
                format: "query: first query after start %.0f ms (the server reads its query indexes into memory)",
                (Bench.now() - first) * 1000))
        print("query: GET /v1/incidents?limit=\(limit)&… through outpost-server on port \(port), \(runs) runs per combination")
        var random = SplitMix64(seed: 0x51_0E_21)
        var all: [Double] = []
        for combination in combinations() {
            var samples: [Double] = []
            var totals: [Int] = []
            for run in -2..<runs {
                let filter = combination.make(&random)
                let path = "/v1/incidents?limit=\(limit)" + (filter.isEmpty ? "" : "&" + filter)
                let start = Bench.now()
                let (status, body) = try get(port: port, path: path, token: token)
                let ms = (Bench.now() - start) * 1000
                guard status == 200 else { throw BenchError("\(path) answered \(status): \(body.prefix(200))") }
                guard run >= 0 else { continue }  // two warm-up requests
                samples.append(ms)
                if let range = body.range(of: #""total":[0-9]+"#, options: .regularExpression) {
                    totals.append(Int(body[range].dropFirst(8)) ?? -1)
                }
            }
            samples.sort()
            all += samples
            print(
                String(
                    format: "query: %-22@ p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms  (totals %d…%d)", combination.name as NSString,
                    Bench.quantile(samples, 0.5), Bench.quantile(samples, 0.95), samples.last ?? 0, totals.min() ?? 0,
                    totals.max() ?? 0))
        }
        all.sort()
        print(
            String(
                format: "query: overall: %d requests, p50 %.1f ms, p95 %.1f ms, max %.1f ms", all.count, Bench.quantile(all, 0.5),
                Bench.quantile(all, 0.95), all.last ?? 0))
        try measurePages(port: port, token: token, runs: runs)
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") || line.hasPrefix("VmRSS:") {
            print(
                "query: server memory \(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().joined(separator: " "))"
                    + (line.hasPrefix("VmHWM:") ? " (peak resident)" : " (resident now)"))
        }
    }

    /// The web page's form parameters for an API filter (bbox as four sides, plain dates, flags
    /// as 1, the first of several statuses).
    static func webFilter(_ api: String) -> String {
        guard !api.isEmpty else { return "" }
        return api.split(separator: "&").map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let (key, value) = (parts[0], parts.count > 1 ? parts[1] : "")
            switch key {
            case "bbox":
                let sides = value.split(separator: ",")
                return zip(["west", "south", "east", "north"], sides).map { "\($0)=\($1)" }.joined(separator: "&")
            case "occurred_from": return "from=" + value
            case "occurred_to": return "to=" + value
            case "has_conflicts", "include_deleted": return value == "true" ? key + "=1" : ""
            case "status": return "status=" + (value.split(separator: ",").first.map(String.init) ?? "")
            default: return key + "=" + value
            }
        }.filter { !$0.isEmpty }.joined(separator: "&")
    }

    /// The first page of `GET /web/incidents` for each combination, signed in with the analyst's token.
    static func measurePages(port: Int, token: String, runs: Int) throws {
        let signin = try request(port: port, path: "/web/signin")
        guard let formCookie = cookie(signin.head, "outpost_form"),
            let csrf = signin.body.range(of: #"name="csrf" value="[^"]+""#, options: .regularExpression).map({
                String(signin.body[$0].dropFirst(19).dropLast())
            })
        else { throw BenchError("no sign-in form (status \(signin.status))") }
        let body = "csrf=\(csrf)&token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token)"
        let signed = try request(
            port: port, method: "POST", path: "/web/signin",
            headers: [
                "Cookie: outpost_form=\(formCookie)", "Origin: http://127.0.0.1:\(port)",
                "Content-Type: application/x-www-form-urlencoded",
            ], body: body)
        guard let session = cookie(signed.head, "outpost_session") else {
            throw BenchError("sign-in failed (status \(signed.status))")
        }
        print("query: GET /web/incidents?… (first page of 50, map, weekly chart), signed in, \(runs) runs per combination")
        var random = SplitMix64(seed: 0x51_0E_21)
        var all: [Double] = []
        var worst = (name: "", p95: 0.0)
        for combination in combinations() {
            var samples: [Double] = []
            for run in -2..<runs {
                let filter = webFilter(combination.make(&random))
                let path = "/web/incidents" + (filter.isEmpty ? "" : "?" + filter)
                let start = Bench.now()
                let page = try request(port: port, path: path, headers: ["Cookie: outpost_session=\(session)"])
                let ms = (Bench.now() - start) * 1000
                guard page.status == 200 else { throw BenchError("\(path) answered \(page.status): \(page.body.prefix(200))") }
                guard run >= 0 else { continue }
                samples.append(ms)
            }
            samples.sort()
            all += samples
            let p95 = Bench.quantile(samples, 0.95)
            if p95 > worst.p95 { worst = (combination.name, p95) }
            print(
                String(
                    format: "query: page %-22@ p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms", combination.name as NSString,
                    Bench.quantile(samples, 0.5), p95, samples.last ?? 0))
        }
        all.sort()
        print(
            String(
                format: "query: page overall: %d requests, p50 %.1f ms, p95 %.1f ms, max %.1f ms; worst p95 %.1f ms (%@)",
                all.count, Bench.quantile(all, 0.5), Bench.quantile(all, 0.95), all.last ?? 0, worst.p95, worst.name as NSString))
    }

    /// The value of cookie `name` a response sets.
    static func cookie(_ head: String, _ name: String) -> String? {
        guard let range = head.range(of: "(?i)set-cookie: \(name)=[^;\r\n]*", options: .regularExpression) else { return nil }
        return String(head[range].split(separator: "=", maxSplits: 1)[1])
    }

    /// A GET with the analyst's token over a fresh connection: the status and the response.
    static func get(port: Int, path: String, token: String) throws -> (Int, String) {
        let response = try request(port: port, path: path, headers: ["Authorization: Bearer \(token)"])
        return (response.status, response.head + "\r\n\r\n" + response.body)
    }

    /// A request over a fresh connection: the status, the head and the body.
    static func request(port: Int, method: String = "GET", path: String, headers: [String] = [], body: String = "") throws -> (
        status: Int, head: String, body: String
    ) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchError("cannot connect to the server") }
        let lines =
            ["\(method) \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: close"] + headers
            + (body.isEmpty ? [] : ["Content-Length: \(body.utf8.count)"])
        let bytes = Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: out, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        guard let end = text.range(of: "\r\n\r\n") else { return (status, text, "") }
        return (status, String(text[..<end.lowerBound]), String(text[end.upperBound...]))
    }

    /// Remote edits (text, status, numbers; one in ten racing another) and then new incidents,
    /// signed and pushed by reporters, applied in sync-sized batches into two stores of the same
    /// incidents, one with query indexes; `rounds` times, the two in turn (a machine's drift
    /// falls on both), reported per round and as the median of the rounds' ratios. The local
    /// import of the first incidents (a device's path: a device never holds the indexes) is
    /// shown beside them as the bare cost of writing every index entry.
    static func measureApply(incidents: Int, changes: Int, rounds: Int) throws {
        print(
            "query: apply throughput, \(changes) remote edits into \(incidents) incidents, then \(incidents) pushed new incidents, batches of 1000, \(rounds) rounds…"
        )
        var ratios: (edits: [Double], pushed: [Double], imports: [Double]) = ([], [], [])
        for round in 1...max(rounds, 1) {
            // Which store goes first alternates: a process runs its later work a little slower
            // (a larger heap), which would otherwise fall on one side only.
            let firstIndexed = round % 2 == 0
            let first = try applyOnce(incidents: incidents, changes: changes, indexed: firstIndexed)
            let second = try applyOnce(incidents: incidents, changes: changes, indexed: !firstIndexed)
            let (plain, indexed) = firstIndexed ? (second, first) : (first, second)
            ratios.edits.append(indexed.editsPerCPUSecond / plain.editsPerCPUSecond)
            ratios.pushed.append(indexed.pushedPerCPUSecond / plain.pushedPerCPUSecond)
            ratios.imports.append(indexed.importsPerCPUSecond / plain.importsPerCPUSecond)
            print(
                String(
                    format:
                        "query: round %d, per CPU-second without → with: edits %.0f → %.0f (%.1f %%); pushed new incidents %.0f → %.0f (%.1f %%); import %.0f → %.0f (%.1f %%); deferred text and points written afterwards: %d edited incidents in %.2f CPU-s, %d pushed in %.2f CPU-s",
                    round, plain.editsPerCPUSecond, indexed.editsPerCPUSecond, 100 * ratios.edits.last!,
                    plain.pushedPerCPUSecond, indexed.pushedPerCPUSecond, 100 * ratios.pushed.last!, plain.importsPerCPUSecond,
                    indexed.importsPerCPUSecond, 100 * ratios.imports.last!, indexed.editedDrain.count,
                    indexed.editedDrain.cpuSeconds, indexed.pushedDrain.count, indexed.pushedDrain.cpuSeconds))
        }
        func median(_ values: [Double]) -> Double { 100 * Bench.quantile(values.sorted(), 0.5) }
        print(
            String(
                format:
                    "query: apply with indexes / without (per CPU-second, median of %d rounds): edits %.1f %%, pushed new incidents %.1f %%, import %.1f %%",
                ratios.edits.count, median(ratios.edits), median(ratios.pushed), median(ratios.imports)))
    }

    /// One store's import, edits and pushed new incidents: throughput per CPU-second, and the
    /// deferred text and R*Tree entries of the edited and of the pushed incidents written
    /// afterwards (CPU seconds).
    static func applyOnce(incidents: Int, changes: Int, indexed: Bool) throws -> (
        editsPerCPUSecond: Double, pushedPerCPUSecond: Double, importsPerCPUSecond: Double,
        editedDrain: (count: Int, cpuSeconds: Double), pushedDrain: (count: Int, cpuSeconds: Double)
    ) {
        let dir = try Bench.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir + "/store", reporter: "server")
        var generator = IncidentGenerator()
        let inputs = (0..<incidents).map { i -> IncidentInput in
            guard case .object(let fields) = generator.incident(index: i) else { fatalError("an incident is an object") }
            return IncidentInput(id: nil, fields: fields)
        }
        if indexed { try store.enableQueryIndexes() }
        let importStart = Bench.cpuSeconds()
        let ids = try store.importIncidents(inputs, wallMs: 1_767_225_600_000)
        let importCPU = Bench.cpuSeconds() - importStart
        // The imported text indexed before the edits, as a server does between batches.
        while try store.drainQueryTextIndex(limit: 5_000) > 0 {}
        // Both stores start the edits with an empty WAL (the import's pages, and the text's,
        // would otherwise be copied back during the edits and counted as theirs).
        _ = try store.checkpointAndTruncate(waitMilliseconds: 5_000)
        let keys = (0..<20).map { _ in DeviceKey() }
        try store.trust(
            keys.enumerated().map {
                RosterEntry(replica: $1.replicaID, key: $1.publicKey, reporter: "r\($0)", status: .active, version: 1)
            })
        var random = SplitMix64(seed: 42)
        var counters = [UInt64](repeating: 0, count: keys.count)
        var seen: [Int: VersionVector] = [:]
        let origin = store.replica
        var remote: [Change] = []
        for n in 0..<changes {
            let a = n % keys.count
            let record = Int(random.next() % UInt64(ids.count))
            counters[a] += 1
            var deps = seen[record] ?? VersionVector([origin: UInt64(record + 1)])
            if random.next() % 10 == 0 { deps = VersionVector([origin: UInt64(record + 1)]) }
            let writes: [String: JSONValue]
            switch random.next() % 5 {
            case 0: writes = ["killed": .int(Int64(random.next() % 50))]
            case 1: writes = ["status": .string(["verified", "disputed", "submitted"][Int(random.next() % 3)])]
            case 2: writes = ["place_name": .string("Village \(random.next() % 500)")]
            case 3:
                writes = [
                    "narrative": .string("Witness account \(random.next() % 10_000): gunfire heard at dawn near the market.")
                ]
            default:
                writes = [
                    "lat": .double(14 + Double(random.next() % 1000) / 1000),
                    "lon": .double(-1 + Double(random.next() % 1000) / 1000),
                ]
            }
            remote.append(
                keys[a].signed(
                    Change(
                        dot: Dot(replica: keys[a].replicaID, counter: counters[a]), record: RecordKey(id: ids[record]),
                        deps: deps, tag: HLCTag(ms: 1_767_225_700_000 + Int64(n), seq: 0), writes: writes, reporter: "r\(a)"))
            )
            var after = seen[record] ?? VersionVector([origin: UInt64(record + 1)])
            after[keys[a].replicaID] = counters[a]
            seen[record] = after
        }
        let cpu = try cpuSecondsApplying(remote, to: store)
        let edited = try drainTimed(store)
        _ = try store.checkpointAndTruncate(waitMilliseconds: 5_000)
        // New incidents as a server meets them: signed creating changes pushed by the reporters,
        // in sync-sized batches (every index entry written; the text listed for later).
        var created: [Change] = []
        for i in 0..<incidents {
            let a = i % keys.count
            counters[a] += 1
            guard case .object(let fields) = generator.incident(index: incidents + i) else {
                fatalError("an incident is an object")
            }
            let ms = 1_767_312_000_000 + Int64(i)
            created.append(
                keys[a].signed(
                    Change(
                        dot: Dot(replica: keys[a].replicaID, counter: counters[a]),
                        record: RecordKey(id: UUIDv7.make(ms: ms, randomA: random.next(), randomB: random.next())),
                        deps: VersionVector(), tag: HLCTag(ms: ms, seq: 0), writes: fields, reporter: "r\(a)")))
        }
        let pushCPU = try cpuSecondsApplying(created, to: store)
        let pushed = try drainTimed(store)
        return (Double(changes) / cpu, Double(incidents) / pushCPU, Double(incidents) / importCPU, edited, pushed)
    }

    /// The CPU seconds (every thread) of applying `changes` in sync-sized batches of 1,000.
    static func cpuSecondsApplying(_ changes: [Change], to store: Store) throws -> Double {
        let start = Bench.cpuSeconds()
        for from in stride(from: 0, to: changes.count, by: 1000) {
            try store.applyRemote(Array(changes[from..<min(from + 1000, changes.count)]))
        }
        return Bench.cpuSeconds() - start
    }

    /// Writes the text and R*Tree entries of every pending incident, as the server does between
    /// sync batches: how many, and the CPU seconds it took.
    static func drainTimed(_ store: Store) throws -> (count: Int, cpuSeconds: Double) {
        let start = Bench.cpuSeconds()
        var count = 0
        while case let n = try store.drainQueryTextIndex(limit: 2_000), n > 0 { count += n }
        return (count, Bench.cpuSeconds() - start)
    }
}
