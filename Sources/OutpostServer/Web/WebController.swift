import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OutpostCore
import OutpostStore

/// The analysts' web workspace under `/web`: sign-in with a token into a server-side session,
/// the incidents page (filters, map, weekly chart, paged table, exports) and the incident page,
/// server-rendered from `Web/` in the visitor's language. Every response carries a strict CSP;
/// every POST needs its form's anti-forgery token and this site's `Origin`; no GET changes anything.
struct WebController: Sendable {
    let assets: WebAssets
    let sessions: WebSessions
    let incidents: any IncidentRepository
    let devices: any DeviceRepository
    let auth: Authenticator
    /// Whether the server speaks TLS: cookies get `Secure`, and `Origin` must be https.
    let secureCookies: Bool

    static let sessionCookie = "outpost_session"
    static let formCookie = "outpost_form"
    static let languageCookie = "outpost_lang"
    static let pageSize = 50
    static let maxFormBytes = 16 * 1024
    /// The Content-Security-Policy of every web response: nothing but this origin, no inline
    /// script or style, no framing, forms only to this origin.
    static let contentSecurityPolicy =
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

    /// The web routes, for the request log (incident ids in paths are logged as the pattern).
    static let routes: [APIRoute] = [
        APIRoute(method: .get, path: "/web"),
        APIRoute(method: .get, path: "/web/signin"),
        APIRoute(method: .post, path: "/web/signin"),
        APIRoute(method: .post, path: "/web/signout"),
        APIRoute(method: .post, path: "/web/language"),
        APIRoute(method: .get, path: "/web/incidents"),
        APIRoute(method: .get, path: "/web/incidents.csv"),
        APIRoute(method: .get, path: "/web/incidents.geojson"),
        APIRoute(method: .get, path: "/web/incidents/{id}"),
        APIRoute(method: .post, path: "/web/incidents/{id}/review"),
        APIRoute(method: .post, path: "/web/incidents/{id}/resolve"),
        APIRoute(method: .get, path: "/web/static/{name}"),
    ]

    func register(on router: Router<OutpostRequestContext>) {
        router.get("/web") { _, _ in WebController.redirect(to: "/web/incidents") }
        router.get("/web/signin") { request, context in await respond(request, context) { try await signInPage($0, request) } }
        router.post("/web/signin") { request, context in
            await respond(request, context) { try await signIn($0, request, context) }
        }
        router.post("/web/signout") { request, context in await respond(request, context) { try await signOut($0, request) } }
        router.post("/web/language") { request, context in await respond(request, context) { try await language($0, request) } }
        router.get("/web/incidents") { request, context in
            await respond(request, context) { try await incidentsPage($0, request) }
        }
        router.get("/web/incidents.csv") { request, context in
            await respond(request, context) { try await export($0, request, format: .csv) }
        }
        router.get("/web/incidents.geojson") { request, context in
            await respond(request, context) { try await export($0, request, format: .geojson) }
        }
        router.get("/web/incidents/:id") { request, context in
            await respond(request, context) { try await incidentPage($0, request, context) }
        }
        router.post("/web/incidents/:id/review") { request, context in
            await respond(request, context) { try await review($0, request, context) }
        }
        router.post("/web/incidents/:id/resolve") { request, context in
            await respond(request, context) { try await resolve($0, request, context) }
        }
        router.get("/web/static/:name") { request, context in staticFile(context.parameters.get("name") ?? "") }
    }

    // MARK: Per-request state

    /// Who is asking, in which language, and the anti-forgery token their forms carry.
    struct Visit {
        var catalogue: MessageCatalogue
        var session: WebSession?
        var sessionID: String?
        /// The form cookie's value: the anti-forgery token of pages seen before signing in.
        var formToken: String
        /// Whether `formToken` is new (the response sets the cookie).
        var newFormToken: Bool
        /// The path and query of this request, for the language switch to come back to.
        var back: String
        /// The token every form of the page carries.
        var csrf: String { session?.csrf ?? formToken }
    }

    func visit(_ request: Request) async throws -> Visit {
        let cookies = WebForm.cookies(request.headers[.cookie])
        let catalogue = assets.language(
            cookie: cookies[WebController.languageCookie], acceptLanguage: request.headers[.acceptLanguage])
        var session: WebSession?
        let sessionID = cookies[WebController.sessionCookie]
        if let sessionID { session = try await sessions.session(id: sessionID) }
        let form = cookies[WebController.formCookie].flatMap { DeviceToken.isPlausible($0) ? $0 : nil }
        var back = request.uri.path
        if let query = request.uri.query, !query.isEmpty { back += "?" + query }
        return Visit(
            catalogue: catalogue, session: session, sessionID: session == nil ? nil : sessionID,
            formToken: form ?? DeviceToken.generate(), newFormToken: form == nil, back: back)
    }

    /// Runs a page's handler; any failure becomes an error page in the visitor's language.
    func respond(
        _ request: Request, _ context: OutpostRequestContext, _ body: (Visit) async throws -> Response
    ) async -> Response {
        let visit: Visit
        do {
            visit = try await self.visit(request)
        } catch {
            let english = assets.catalogue(WebAssets.defaultLanguage)!
            return errorPage(
                Visit(catalogue: english, formToken: "", newFormToken: false, back: "/web/incidents"), .serviceUnavailable,
                english.text("error_unavailable"))
        }
        do {
            return try await body(visit)
        } catch let invalid as WebFilter.Invalid {
            let c = visit.catalogue
            let field = c.text("filter_" + (invalid.field == "q" ? "text" : invalid.field))
            return errorPage(
                visit, .badRequest, c.text("error_bad_filter", ["detail": c.text(invalid.messageKey, ["field": field])]))
        } catch let refused as Refused {
            return errorPage(visit, refused.status, visit.catalogue.text(refused.messageKey))
        } catch {
            return errorPage(visit, .serviceUnavailable, visit.catalogue.text("error_unavailable"))
        }
    }

    /// A request refused with a status and a catalogue message.
    struct Refused: Error {
        var status: HTTPResponse.Status
        var messageKey: String
    }

    // MARK: Sign-in, sign-out, language

    func signInPage(_ visit: Visit, _ request: Request) async throws -> Response {
        if visit.session != nil { return WebController.redirect(to: "/web/incidents") }
        var values: [String: Any] = [:]
        if request.uri.queryParameters["signed_out"] != nil { values["notice"] = visit.catalogue.text("signed_out") }
        return page("signin", visit, title: visit.catalogue.text("signin_title"), values)
    }

    func signIn(_ visit: Visit, _ request: Request, _ context: OutpostRequestContext) async throws -> Response {
        let form = try await checkedForm(request, visit, expected: visit.newFormToken ? nil : visit.formToken)
        let c = visit.catalogue
        let address = context.clientAddress
        if auth.failuresByAddress.retryAfter(address) != nil {
            return page(
                "signin", visit, title: c.text("signin_title"), ["error": c.text("signin_throttled")], status: .tooManyRequests)
        }
        let token = (form.first { $0.0 == "token" }?.1 ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let device = try await devices.authenticate(token: token), device.role.mayRead else {
            auth.failuresByAddress.take(address)
            return page("signin", visit, title: c.text("signin_title"), ["error": c.text("signin_failed")], status: .unauthorized)
        }
        let id = try await sessions.start(for: device)
        var response = WebController.redirect(to: "/web/incidents")
        response.headers.append(
            HTTPField(name: .setCookie, value: cookie(WebController.sessionCookie, id, maxAge: Int(sessions.lifetimeMs / 1000))))
        return response
    }

    func signOut(_ visit: Visit, _ request: Request) async throws -> Response {
        guard let session = visit.session, let id = visit.sessionID else { return WebController.redirect(to: "/web/signin") }
        _ = try await checkedForm(request, visit, expected: session.csrf)
        try await sessions.end(id: id)
        var response = WebController.redirect(to: "/web/signin?signed_out=1")
        response.headers.append(HTTPField(name: .setCookie, value: cookie(WebController.sessionCookie, "", maxAge: 0)))
        return response
    }

    func language(_ visit: Visit, _ request: Request) async throws -> Response {
        let form = try await checkedForm(
            request, visit, expected: visit.session?.csrf ?? (visit.newFormToken ? nil : visit.formToken))
        let code = form.first { $0.0 == "lang" }?.1 ?? ""
        guard let chosen = assets.catalogue(code) else { throw Refused(status: .badRequest, messageKey: "error_not_found") }
        var response = WebController.redirect(to: WebController.localPath(form.first { $0.0 == "back" }?.1))
        response.headers.append(
            HTTPField(name: .setCookie, value: cookie(WebController.languageCookie, chosen.code, maxAge: 365 * 86_400)))
        return response
    }

    /// A path on this site under `/web` to go back to, else the incidents page (never another site).
    static func localPath(_ text: String?) -> String {
        guard let text, text.hasPrefix("/web"), !text.hasPrefix("//"), text.utf8.count <= 2000,
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\\" })
        else { return "/web/incidents" }
        return text
    }

    /// The form's fields, once its `Origin` is this site and its `csrf` field is `expected`
    /// (compared in constant time); a 403 otherwise.
    func checkedForm(_ request: Request, _ visit: Visit, expected: String?) async throws -> [(String, String)] {
        guard let origin = request.headers[.origin], let host = request.head.authority,
            origin == (secureCookies ? "https://" : "http://") + host
        else { throw Refused(status: .forbidden, messageKey: "error_forbidden") }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: WebController.maxFormBytes)
        } catch {
            throw Refused(status: .contentTooLarge, messageKey: "error_forbidden")
        }
        let form = WebForm.parse(String(buffer: body))
        let sent = form.first { $0.0 == "csrf" }?.1 ?? ""
        guard let expected, !expected.isEmpty, DeviceToken.constantTimeEqual(Array(sent.utf8), Array(expected.utf8)) else {
            throw Refused(status: .forbidden, messageKey: "error_forbidden")
        }
        return form
    }

    // MARK: Incidents

    /// Every incident matching the filter, in (created, id) order.
    func matches(_ filter: WebFilter, readableBy scope: AccessScope) async throws -> [IncidentRecord] {
        try await incidents.incidents(matching: filter.query, readableBy: scope).incidents
    }

    func incidentsPage(_ visit: Visit, _ request: Request) async throws -> Response {
        guard let session = visit.session else { return WebController.redirect(to: "/web/signin") }
        let c = visit.catalogue
        let filter = try WebFilter(parameters: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        // Every match by its point and date (for the map and the chart), in full only the page's
        // rows and the map's points.
        var query = filter.query
        query.offset = (filter.page - 1) * WebController.pageSize
        query.limit = WebController.pageSize
        let overview = try await incidents.incidentOverview(
            matching: query, readableBy: session.scope, region: SahelMap.region, pointLimit: SahelMap.maxPoints)
        let total = overview.matches.count
        var teams = try await incidents.teamNames(readableBy: session.scope)
        if let team = filter.team, !teams.contains(team) { teams.append(team) }
        let pages = max(1, (total + WebController.pageSize - 1) / WebController.pageSize)
        let rows: [[String: Any]] = overview.page.map { incident in
            [
                "id": incident.id,
                "title": incident.fields["title"]?.stringValue ?? c.text("untitled"),
                "occurred": incident.fields["occurred_at"].map { c.value(field: "occurred_at", $0) } ?? "",
                "eventType": incident.fields["event_type"].map { c.value(field: "event_type", $0) } ?? "",
                "status": incident.fields["status"].map { c.value(field: "status", $0) } ?? "",
                "place": incident.fields["place_name"]?.stringValue ?? "",
                "killed": incident.fields["killed"].map { c.value(field: "killed", $0) } ?? "",
                "conflict": incident.conflict, "deleted": incident.deleted,
            ]
        }
        var pager: [String: Any] = ["text": c.text("page_of", ["page": c.number(filter.page), "pages": c.number(pages)])]
        if filter.page > 1 { pager["previous"] = filter.queryString(page: filter.page - 1).ifEmpty("?page=1") }
        if filter.page < pages { pager["next"] = filter.queryString(page: filter.page + 1) }

        let layout = SahelMap.layout(overview.matches, labels: overview.labels)
        let largest = layout.bins.map(\.count).max() ?? 1
        var map: [String: Any] = [
            "width": SahelMap.width, "height": SahelMap.height, "placed": layout.placed,
            "unplacedText": c.number(layout.unplaced),
            "points": SVGMarks.points(layout.points),
            "bins": SVGMarks.bins(
                layout.bins, radius: { SahelMap.radius($0, largest: largest) }, countText: { c.number($0) }),
        ]
        if layout.binned {
            map["binned"] = true
            map["binnedText"] = c.text("map_binned", ["size": c.decimal(SahelMap.binDegrees)])
        }

        let weekly = WeeklyChart.chart(overview.matches)
        let span = Double(WeeklyChart.width - WeeklyChart.left - 4)
        let barWidth = weekly.bars.isEmpty ? 0 : span / Double(weekly.bars.count)
        let height = Double(WeeklyChart.base - WeeklyChart.top)
        func civil(_ days: Int) -> String {
            let (y, m, d) = DateText.civil(daysSinceEpoch: days)
            return c.date(year: y, month: m, day: d)
        }
        // Each bar's values made here (its title too): a chart of years has hundreds of bars,
        // and a name the template looks up in a bar's parents costs a walk of its context.
        let busiest = weekly.largest
        let tallest = max(busiest, 1)
        let (weekOf, colon) = (c.text("chart_week_of"), c.text("colon"))
        let bars: [SVGMarks.Bar] = weekly.bars.enumerated().compactMap { i, bar in
            guard bar.count > 0 else { return nil }
            let h = height * Double(bar.count) / Double(tallest)
            return SVGMarks.Bar(
                x: round1(Double(WeeklyChart.left) + Double(i) * barWidth + barWidth * 0.1),
                y: round1(Double(WeeklyChart.base) - h),
                width: round1(max(barWidth * 0.8, 0.5)), height: round1(h), count: bar.count,
                title: weekOf + " " + civil(bar.weekStart) + colon + c.number(bar.count))
        }
        let tickEvery = max(1, weekly.bars.count / 5)
        let ticks: [[String: Any]] = weekly.bars.enumerated().compactMap { i, bar in
            guard i % tickEvery == 0 else { return nil }
            return [
                "x": round1(Double(WeeklyChart.left) + (Double(i) + 0.5) * barWidth), "y": WeeklyChart.base + 16,
                "label": civil(bar.weekStart),
            ]
        }
        var chart: [String: Any] = [
            "width": WeeklyChart.width, "height": WeeklyChart.height + 4, "left": WeeklyChart.left, "base": WeeklyChart.base,
            "top": WeeklyChart.top + 4, "labelX": WeeklyChart.left - 4, "maxText": c.number(busiest), "bars": SVGMarks.bars(bars),
            "ticks": ticks,
        ]
        if weekly.undated > 0 {
            chart["undated"] = true
            chart["undatedText"] = c.number(weekly.undated)
        }
        var filterContext: [String: Any] = [
            "from": filter.from ?? "", "to": filter.to ?? "", "q": filter.text ?? "", "reporter": filter.reporter ?? "",
            "team": filter.team ?? "",
            "west": filter.bboxText[0], "south": filter.bboxText[1], "east": filter.bboxText[2], "north": filter.bboxText[3],
        ]
        filterContext["hasConflicts"] = filter.hasConflicts
        filterContext["includeDeleted"] = filter.includeDeleted
        return page(
            "incidents", visit, title: c.text("incidents_title"),
            [
                "filter": filterContext,
                "eventTypes": IncidentSchema.eventTypes.map {
                    ["value": $0, "label": c.eventTypes[$0] ?? $0, "selected": filter.eventType == $0] as [String: Any]
                },
                "statuses": WebFilter.statuses.map {
                    ["value": $0, "label": c.statuses[$0] ?? $0, "selected": filter.status == $0] as [String: Any]
                },
                "teams": teams.map { ["value": $0, "selected": filter.team == $0] as [String: Any] },
                "total": total, "totalText": c.number(total), "queryString": filter.queryString(),
                "rows": rows, "hasRows": !rows.isEmpty, "pager": pager, "map": map, "chart": chart,
            ])
    }

    func export(_ visit: Visit, _ request: Request, format: ExportFormat) async throws -> Response {
        guard let session = visit.session else { return WebController.redirect(to: "/web/signin") }
        let filter = try WebFilter(parameters: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        let all = try await matches(filter, readableBy: session.scope)
        var text = ""
        try IncidentExport.write(records: all, format: format) { text += $0 }
        var headers = WebController.securityHeaders
        headers[.contentType] = format == .csv ? "text/csv; charset=utf-8" : "application/geo+json"
        headers[.contentDisposition] = "attachment; filename=\"outpost-incidents.\(format == .csv ? "csv" : "geojson")\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func incidentPage(_ visit: Visit, _ request: Request, _ context: OutpostRequestContext) async throws -> Response {
        guard let session = visit.session else { return WebController.redirect(to: "/web/signin") }
        return incidentView(visit, try await readableDetail(context, session))
    }

    /// The incident of the path's `:id` if the session may read it; a 404 otherwise.
    func readableDetail(_ context: OutpostRequestContext, _ session: WebSession) async throws -> IncidentDetail {
        let raw = context.parameters.get("id") ?? ""
        let id = raw.removingPercentEncoding ?? raw
        guard RecordKey.isValidID(id), let detail = try await incidents.incidentDetail(id: id, readableBy: session.scope)
        else {
            throw Refused(status: .notFound, messageKey: "error_not_found")
        }
        return detail
    }

    /// The incident page of `detail`; `entered` and `error` give back a refused review or resolve.
    func incidentView(
        _ visit: Visit, _ detail: IncidentDetail, entered: [String: String] = [:], error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let c = visit.catalogue
        let incident = detail.incident
        func name(_ replica: ReplicaID) -> String { detail.enrolledReporters[replica] ?? c.text("unknown") }
        func verified(_ dot: Dot) -> String {
            switch detail.provenance[dot]?.verified {
            case true?: return c.text("yes")
            case false?: return c.text("no")
            case nil: return c.text("unknown")
            }
        }
        let conflicted = Set(detail.conflicts.map(\.field))
        let fields: [[String: Any]] = IncidentSchema.fieldNames.compactMap { field in
            guard let value = incident.fields[field], value != .null else { return nil }
            return [
                "name": field, "label": c.fieldLabel(field), "value": c.value(field: field, value),
                "conflict": conflicted.contains(field),
            ]
        }
        let conflicts: [[String: Any]] = detail.conflicts.map { conflict in
            [
                "name": conflict.field,
                "label": conflict.field == "_deleted" ? c.text("deleted_change") : c.fieldLabel(conflict.field),
                "siblings": conflict.siblings.enumerated().map { i, s in
                    [
                        "value": conflict.field == "_deleted"
                            ? c.value(field: "", s.value) : c.value(field: conflict.field, s.value),
                        "author": name(s.dot.replica), "time": c.dateTime(epochMilliseconds: s.tag.ms),
                        "verified": verified(s.dot), "visible": i == 0, "dot": SeenVersion.dotText(s.dot),
                        "index": i,
                    ] as [String: Any]
                },
                "resolvable": IncidentSchema.byName[conflict.field] != nil,
            ]
        }
        let order = Dictionary(uniqueKeysWithValues: IncidentSchema.fieldNames.enumerated().map { ($1, $0) })
        let history: [[String: Any]] = detail.history.map { entry in
            let change = entry.change
            let writes = change.writes.filter { $0.key != "_deleted" }.sorted {
                (order[$0.key] ?? 99, $0.key) < (order[$1.key] ?? 99, $1.key)
            }
            return [
                "time": c.dateTime(epochMilliseconds: change.tag.ms), "author": name(change.dot.replica),
                "deliveredBy": detail.provenance[change.dot]?.deliveredBy.flatMap { detail.deliverers[$0] } ?? c.text("unknown"),
                "verified": verified(change.dot), "applied": entry.applied,
                "deletes": change.writes["_deleted"] == .bool(true),
                "writes": writes.map {
                    ["label": c.fieldLabel($0.key), "value": c.value(field: $0.key, $0.value)] as [String: Any]
                },
            ]
        }
        let title = incident.fields["title"]?.stringValue ?? c.text("untitled")
        var values: [String: Any] = [
            "id": incident.id, "title": title, "deleted": incident.deleted, "keptAlive": detail.keptAliveByConcurrentEdit,
            "created": c.dateTime(epochMilliseconds: incident.createdMs),
            "updated": c.dateTime(epochMilliseconds: incident.updatedMs),
            "fields": fields, "conflicts": conflicts, "hasConflicts": !conflicts.isEmpty, "history": history,
            "review": reviewValues(c, detail, entered: entered), "seen": SeenVersion.encode(detail.version),
        ]
        if let error { values["formError"] = error }
        return page("incident", visit, title: title, values, status: status)
    }

    // MARK: Responses

    /// Headers every web response carries.
    static var securityHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[HTTPField.Name("Content-Security-Policy")!] = contentSecurityPolicy
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        // Not `no-referrer`: with it, browsers send `Origin: null` on form posts, which the Origin check refuses.
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[.cacheControl] = "no-store"
        return headers
    }

    static func redirect(to location: String) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/web; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secureCookies ? "; Secure" : "")
    }

    /// Renders `template` inside the common header and footer.
    func page(
        _ template: String, _ visit: Visit, title: String, _ values: [String: Any], status: HTTPResponse.Status = .ok
    ) -> Response {
        let c = visit.catalogue
        var context = values
        context["lang"] = c.code
        context["dir"] = c.direction
        context["t"] = c.messages
        context["pageTitle"] = title
        context["csrf"] = visit.csrf
        context["back"] = WebController.localPath(visit.back)
        context["languages"] = assets.catalogues.map {
            ["code": $0.code, "name": $0.name, "current": $0.code == c.code] as [String: Any]
        }
        if let session = visit.session { context["session"] = ["reporter": session.reporter, "csrf": session.csrf] }
        var headers = WebController.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        if visit.newFormToken && visit.session == nil {
            headers.append(HTTPField(name: .setCookie, value: cookie(WebController.formCookie, visit.formToken, maxAge: 86_400)))
        }
        headers[.contentLanguage] = c.code
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: assets.render(template, context))))
    }

    func errorPage(_ visit: Visit, _ status: HTTPResponse.Status, _ message: String) -> Response {
        page("error", visit, title: visit.catalogue.text("error_title"), ["message": message], status: status)
    }

    func staticFile(_ name: String) -> Response {
        var headers = WebController.securityHeaders
        guard let file = assets.staticFiles[name] else {
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "not found\n")))
        }
        headers[.contentType] = file.type
        headers[.cacheControl] = "max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: file.body)))
    }
}

private func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }

extension String {
    fileprivate func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
