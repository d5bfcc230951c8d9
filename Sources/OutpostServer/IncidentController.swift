import Foundation
import HTTPTypes
import Hummingbird
import OutpostCore
import OutpostStore

/// `GET /v1/incidents`, `GET /v1/incidents/{id}` and `GET /v1/roster` for analyst and admin tokens.
struct IncidentController: Sendable {
    let repository: any IncidentRepository
    let auth: Authenticator
    let limits: ServerLimits

    static let queryKeys: Set<String> = [
        "since", "bbox", "event_type", "status", "q", "limit", "offset", "cursor", "include_deleted",
        "occurred_from", "occurred_to", "has_conflicts", "reporter", "team",
    ]

    func list(_ request: Request, context: OutpostRequestContext) async throws -> Response {
        let device = try await auth.require(
            request, from: context.clientAddress, \.mayRead, action: "read incidents (it needs an analyst or admin token)")
        let query = try parseQuery(request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        let page = try await repository.incidents(matching: query, readableBy: device.scope)
        var out: [String: JSONValue] = [
            "incidents": .array(page.incidents.map(\.json)), "total": .int(Int64(page.total)),
            "limit": .int(Int64(query.limit)), "next_cursor": page.next.map { .string($0.token) } ?? .null,
            "total_exact": .bool(page.totalIsExact),
        ]
        if query.after == nil { out["offset"] = .int(Int64(query.offset)) }
        return HTTPSupport.json(JSONValue.object(out).serializedBytes(), request: request)
    }

    func detail(_ request: Request, context: OutpostRequestContext) async throws -> Response {
        let device = try await auth.require(
            request, from: context.clientAddress, \.mayRead, action: "read incidents (it needs an analyst or admin token)")
        let raw = context.parameters.get("id") ?? ""
        let id = raw.removingPercentEncoding ?? raw
        guard RecordKey.isValidID(id) else {
            throw APIError.badRequest("invalid_id", "the incident id \(RecordKey.idRule)", field: "id")
        }
        // Not readable by this token: the same 404 as an unknown id (its existence is never confirmed).
        guard let detail = try await repository.incidentDetail(id: id, readableBy: device.scope) else {
            throw APIError(.notFound, "unknown_incident", "no incident with that id")
        }
        let conflicts: [JSONValue] = detail.conflicts.map { conflict in
            .object([
                "field": .string(conflict.field),
                "siblings": .array(
                    conflict.siblings.enumerated().map { i, s in
                        .object([
                            "value": s.value, "replica": .string(s.dot.replica.hex), "counter": .int(Int64(s.dot.counter)),
                            "reporter": detail.reporterJSON(of: s.dot.replica),
                            "time": .string(DateText.rfc3339(epochMilliseconds: s.tag.ms)), "visible": .bool(i == 0),
                        ])
                    }),
            ])
        }
        let body = JSONValue.object([
            "incident": detail.incident.json, "conflicts": .array(conflicts),
            "kept_alive_by_concurrent_edit": .bool(detail.keptAliveByConcurrentEdit),
            "history": .array(detail.history.map(detail.historyJSON)),
        ])
        return HTTPSupport.json(body.serializedBytes(), request: request)
    }

    /// `POST /v1/incidents/{id}/move` `{"team": T}`: moves the incident to team T for an analyst
    /// (or admin) token that reads both its team and T; 200 `{"incident", "team", "previous_team"}`.
    func move(_ request: Request, context: OutpostRequestContext) async throws -> Response {
        let device = try await auth.require(
            request, from: context.clientAddress, \.mayRead, action: "move incidents (it needs an analyst or admin token)")
        let raw = context.parameters.get("id") ?? ""
        let id = raw.removingPercentEncoding ?? raw
        guard RecordKey.isValidID(id) else {
            throw APIError.badRequest("invalid_id", "the incident id \(RecordKey.idRule)", field: "id")
        }
        let body = try await HTTPSupport.readJSON(
            request, maxBytes: 4096, maxDecoded: 4096)
        guard case .object(let members) = body else {
            throw APIError.badRequest("invalid_request", "the body must be a JSON object {\"team\": name}")
        }
        for key in members.keys where key != "team" {
            throw APIError.badRequest(
                "invalid_request", "unknown key \"\(key.prefix(40))\" (known: team)", field: String(key.prefix(40)))
        }
        guard case .string(let team)? = members["team"], TeamName.isValid(team) else {
            throw APIError.badRequest("invalid_team", "team: \(TeamName.rule)", field: "team")
        }
        let previous: String
        do {
            previous = try await repository.move(incident: id, to: team, by: device.scope)
        } catch let error as MoveError {
            switch error {
            case .badTeam(let message): throw APIError.badRequest("invalid_team", message, field: "team")
            case .notFound: throw APIError(.notFound, "unknown_incident", "no incident with that id")
            case .forbidden(let message): throw APIError.forbidden("forbidden", message)
            }
        }
        let out = JSONValue.object(["incident": .string(id), "team": .string(team), "previous_team": .string(previous)])
        return HTTPSupport.json(out.serializedBytes(), request: request)
    }

    /// `GET /v1/roster`: `{"roster_key": b64u, "roster": [entry…]}`, every entry the server signed.
    func roster(_ request: Request, context: OutpostRequestContext) async throws -> Response {
        _ = try await auth.require(
            request, from: context.clientAddress, \.mayRead, action: "read the roster (it needs an analyst or admin token)")
        return HTTPSupport.json(try await repository.roster().json.serializedBytes(), request: request)
    }

    func parseQuery(_ parameters: [(String, String)]) throws(APIError) -> IncidentQuery {
        var query = IncidentQuery()
        query.limit = limits.defaultPageSize
        for (key, _) in parameters where !IncidentController.queryKeys.contains(key) {
            throw APIError.badRequest(
                "invalid_query",
                "unknown query parameter \"\(key.prefix(40))\" (known: \(IncidentController.queryKeys.sorted().joined(separator: ", ")))",
                field: String(key.prefix(40)))
        }
        func single(_ key: String) throws(APIError) -> String? {
            let values = parameters.filter { $0.0 == key }.map { $0.1 }
            guard values.count <= 1 else { throw APIError.badRequest("invalid_query", "\(key) given more than once", field: key) }
            return values.first
        }
        func list(_ key: String, allowed: [String]) throws(APIError) -> Set<String>? {
            let values = parameters.filter { $0.0 == key }.flatMap {
                $0.1.split(separator: ",", omittingEmptySubsequences: false)
            }
            .map(String.init)
            guard !values.isEmpty else { return nil }
            for v in values where !allowed.contains(v) {
                throw APIError.badRequest(
                    "invalid_query", "\(key) \"\(v.prefix(40))\" is not one of \(allowed.joined(separator: ", "))", field: key)
            }
            return Set(values)
        }
        func count(_ key: String, _ range: ClosedRange<Int>) throws(APIError) -> Int? {
            guard let text = try single(key) else { return nil }
            guard let n = Int(text), range.contains(n) else {
                throw APIError.badRequest(
                    "invalid_query", "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)", field: key)
            }
            return n
        }
        if let since = try single("since") {
            if (1...15).contains(since.utf8.count), since.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let ms = Int64(since)
            {
                query.updatedAfterMs = ms
            } else if let ms = DateText.epochMilliseconds(since) {
                query.updatedAfterMs = ms
            } else {
                throw APIError.badRequest(
                    "invalid_query",
                    "since must be milliseconds since the epoch (1–15 digits) or an RFC 3339 date-time or date, years 1900–2100",
                    field: "since")
            }
        }
        if let bbox = try single("bbox") {
            let parts = bbox.split(separator: ",", omittingEmptySubsequences: false).map {
                HTTPSupport.decimalNumber($0.trimmingCharacters(in: .whitespaces))
            }
            guard parts.count == 4, let minLon = parts[0], let minLat = parts[1], let maxLon = parts[2], let maxLat = parts[3],
                (-180...180).contains(minLon), (-180...180).contains(maxLon), (-90...90).contains(minLat),
                (-90...90).contains(maxLat), minLat <= maxLat
            else {
                throw APIError.badRequest(
                    "invalid_query",
                    "bbox must be minLon,minLat,maxLon,maxLat in degrees (lon −180…180, lat −90…90, minLat ≤ maxLat)",
                    field: "bbox")
            }
            query.bbox = BoundingBox(minLon: minLon, minLat: minLat, maxLon: maxLon, maxLat: maxLat)
        }
        query.eventTypes = try list("event_type", allowed: IncidentSchema.eventTypes)
        if case .choice(let statuses)? = IncidentSchema.byName["status"]?.kind {
            query.statuses = try list("status", allowed: statuses)
        }
        if let q = try single("q") {
            guard q.utf8.count <= 200 else {
                throw APIError.badRequest("invalid_query", "q must be at most 200 bytes (UTF-8)", field: "q")
            }
            query.text = q
        }
        if let flag = try single("include_deleted") {
            switch flag {
            case "true": query.includeDeleted = true
            case "false": query.includeDeleted = false
            default: throw APIError.badRequest("invalid_query", "include_deleted must be true or false", field: "include_deleted")
            }
        }
        try parseIndexedFilters(single: single, into: &query)
        if let limit = try count("limit", 1...limits.maxPageSize) { query.limit = limit }
        if let offset = try count("offset", 0...Int(Int32.max)) { query.offset = offset }
        if let cursor = try single("cursor") {
            guard let c = IncidentCursor(token: cursor) else {
                throw APIError.badRequest("invalid_query", "cursor is not one this server made", field: "cursor")
            }
            query.after = c
        }
        return query
    }
}
