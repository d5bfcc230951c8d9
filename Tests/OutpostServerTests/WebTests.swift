import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Mustache
import OutpostCore
import OutpostSync
import Testing

@testable import OutpostServer
@testable import OutpostStore

/// The analysts' web workspace through the router: sign-in, sessions, CSRF, CSP, escaping,
/// languages, the incidents page and the incident page.
@Suite struct WebTests {
    static let origin = "http://localhost"
    static let script = "<script>alert(1)</script>"

    /// A browser's cookie jar, enough for these routes (one path, no expiry but Max-Age=0).
    final class Browser: @unchecked Sendable {
        // @unchecked Sendable: used by one test task at a time.
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]
        var language: String?

        init(_ client: any TestClientProtocol, language: String? = nil) {
            self.client = client
            self.language = language
        }

        func request(
            _ uri: String, _ method: HTTPRequest.Method = .get, form: [(String, String)]? = nil, origin: String? = WebTests.origin
        ) async throws -> TestResponse {
            var headers: HTTPFields = [:]
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            if let language { headers[.acceptLanguage] = language }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                if let origin { headers[.origin] = origin }
                body = ByteBuffer(string: form.map { "\(WebTests.encode($0.0))=\(WebTests.encode($0.1))" }.joined(separator: "&"))
            }
            let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
            for field in response.headers where field.name == .setCookie {
                let pair = field.value.split(separator: ";")[0].split(
                    separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if field.value.contains("Max-Age=0") {
                    cookies[String(pair[0])] = nil
                } else {
                    cookies[String(pair[0])] = String(pair[1])
                }
            }
            return response
        }

        /// The csrf field of the page's first form.
        static func csrf(_ response: TestResponse) -> String? {
            let html = WebTests.text(response)
            guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
            return String(html[range.upperBound...].prefix { $0 != "\"" })
        }

        /// Signs in with `token` from the sign-in page.
        func signIn(_ token: String) async throws -> TestResponse {
            let page = try await request("/web/signin")
            return try await request("/web/signin", .post, form: [("csrf", Browser.csrf(page) ?? ""), ("token", token)])
        }
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    /// Seeds incidents in the Sahel (one with a script in its narrative and title, two in conflict).
    static func seed(_ fixture: ServerFixture, client: any TestClientProtocol) async throws -> [String: String] {
        let alice = try fixture.replica("alice")
        let bob = try fixture.replica("bob")
        let aliceToken = try fixture.token("alice", for: alice)
        let bobToken = try fixture.token("bob", for: bob)
        var ids: [String: String] = [:]
        func add(_ store: Store, _ fields: [String: JSONValue], at ms: Int64) throws {
            ids[fields["title"]!.stringValue!] = try store.create(fields: fields, wallMs: ms).record.id
        }
        try add(
            alice,
            [
                "title": "Clash at the market", "event_type": "battle", "lat": 12.65, "lon": -8.0, "status": "submitted",
                "occurred_at": "2024-03-01", "killed": 1234, "narrative": "Shots at dawn.",
            ], at: 1_709_000_000_000)
        try add(
            alice,
            [
                "title": .string("Protest in Gao " + script), "event_type": "protest", "lat": 16.27, "lon": -0.04,
                "status": "verified",
                "occurred_at": "2024-03-12T10:30:00Z", "narrative": .string("Crowd said " + script + " & \"left\""),
            ], at: 1_710_000_000_000)
        try add(alice, ["title": "Far away", "event_type": "riot", "lat": -17.7, "lon": 178.0], at: 1_711_000_000_000)
        _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken)).run()
        _ = try await ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken)).run()
        _ = try alice.update(id: ids["Clash at the market"]!, fields: ["killed": 3], wallMs: 1_709_100_000_000)
        _ = try bob.update(id: ids["Clash at the market"]!, fields: ["killed": 5], wallMs: 1_709_100_000_001)
        _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken)).run()
        _ = try await ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken)).run()
        return ids
    }

    @Test func signInGivesAStrictSessionCookieStoredHashed() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let browser = Browser(client)
            let page = try await browser.request("/web/signin")
            #expect(page.status == .ok)
            let formCookie = page.headers[values: .setCookie].first { $0.hasPrefix("outpost_form=") } ?? ""
            #expect(formCookie.contains("HttpOnly") && formCookie.contains("SameSite=Strict") && !formCookie.contains("Secure"))
            let signedIn = try await browser.signIn(analyst)
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == "/web/incidents")
            let cookie = signedIn.headers[values: .setCookie].first { $0.hasPrefix("outpost_session=") } ?? ""
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/web"))
            let id = try #require(browser.cookies["outpost_session"])
            // Only the id's hash is stored.
            let web = try WebWorkspace(databasePath: fixture.configuration.databasePath, secureCookies: false)
            #expect(try await web.sessions.storedHashes() == [DeviceToken.hash(id)])
            let incidents = try await browser.request("/web/incidents")
            #expect(incidents.status == .ok)
            #expect(WebTests.text(incidents).contains("ana"))
        }
    }

    @Test func onlyAnalystAndAdminTokensSignIn() async throws {
        let fixture = try ServerFixture()
        let reporter = try fixture.token("rep", .reporter)
        let admin = try fixture.token("root", .admin)
        try await fixture.test { client in
            for bad in [reporter, "not-a-token-at-all-0123456789", ""] {
                let browser = Browser(client)
                let refused = try await browser.signIn(bad)
                #expect(refused.status == .unauthorized)
                #expect(browser.cookies["outpost_session"] == nil)
                #expect(WebTests.text(refused).contains("not an analyst"))
            }
            let browser = Browser(client)
            #expect(try await browser.signIn(admin).status == .seeOther)
            #expect(try await browser.request("/web/incidents").status == .ok)
        }
    }

    @Test func pagesNeedASession() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let browser = Browser(client)
            for path in ["/web/incidents", "/web/incidents.csv", "/web/incidents.geojson", "/web/incidents/abc"] {
                let r = try await browser.request(path)
                #expect(r.status == .seeOther, "\(path)")
                #expect(r.headers[.location] == "/web/signin")
            }
            // A made-up session id is no session.
            browser.cookies["outpost_session"] = DeviceToken.generate()
            #expect(try await browser.request("/web/incidents").status == .seeOther)
        }
    }

    @Test func signOutAndRevocationEndTheSession() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let other = try fixture.token("bea", .analyst)
        try await fixture.test { client in
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            let id = try #require(browser.cookies["outpost_session"])
            let page = try await browser.request("/web/incidents")
            let out = try await browser.request("/web/signout", .post, form: [("csrf", Browser.csrf(page) ?? "")])
            #expect(out.status == .seeOther)
            #expect(browser.cookies["outpost_session"] == nil)
            // The old cookie no longer opens anything.
            browser.cookies["outpost_session"] = id
            #expect(try await browser.request("/web/incidents").status == .seeOther)

            let second = Browser(client)
            _ = try await second.signIn(other)
            #expect(try await second.request("/web/incidents").status == .ok)
            #expect(try fixture.backend.revoke(reporter: "bea") == 1)
            #expect(try await second.request("/web/incidents").status == .seeOther)
        }
    }

    @Test func expiredSessionsEnd() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let now = Clock()
        let web = try WebWorkspace(
            databasePath: fixture.configuration.databasePath, secureCookies: false, sessionClock: { now.ms })
        let device = try #require(try await fixture.backend.authenticate(token: analyst))
        let id = try await web.sessions.start(for: device)
        #expect(try await web.sessions.session(id: id)?.reporter == "ana")
        now.ms += web.sessions.lifetimeMs
        #expect(try await web.sessions.session(id: id) == nil)
    }

    final class Clock: @unchecked Sendable {
        // @unchecked Sendable: moved by one test task only.
        var ms: Int64 = 1_800_000_000_000
    }

    @Test func postsWithoutTheFormTokenOrFromAnotherOriginAreRefused() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let browser = Browser(client)
            let page = try await browser.request("/web/signin")
            let csrf = try #require(Browser.csrf(page))
            // Sign-in: no token field, a wrong one, another origin, no origin.
            for (form, origin) in [
                ([("token", analyst)], WebTests.origin), ([("csrf", "x" + csrf), ("token", analyst)], WebTests.origin),
                ([("csrf", csrf), ("token", analyst)], "http://evil.example"), ([("csrf", csrf), ("token", analyst)], nil),
            ] as [([(String, String)], String?)] {
                let r = try await browser.request("/web/signin", .post, form: form, origin: origin)
                #expect(r.status == .forbidden)
                #expect(browser.cookies["outpost_session"] == nil)
            }
            // The positive control: the same form with its token and this origin signs in.
            #expect(
                try await browser.request("/web/signin", .post, form: [("csrf", csrf), ("token", analyst)]).status == .seeOther)
            // Signed in: sign-out and the language switch need the session's token (not the pre-sign-in one).
            let signedInPage = try await browser.request("/web/incidents")
            let sessionCSRF = try #require(Browser.csrf(signedInPage))
            #expect(sessionCSRF != csrf)
            #expect(try await browser.request("/web/signout", .post, form: [("csrf", csrf)]).status == .forbidden)
            #expect(try await browser.request("/web/language", .post, form: [("lang", "fr")]).status == .forbidden)
            #expect(try await browser.request("/web/incidents").status == .ok)
            // GET never signs out or switches.
            #expect(try await browser.request("/web/signout").status != .seeOther)
            #expect(try await browser.request("/web/incidents").status == .ok)
        }
    }

    @Test func everyWebResponseCarriesTheStrictPolicy() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            for path in ["/web/signin", "/web/incidents", "/web/incidents/nope", "/web/static/app.css", "/web/static/sahel.svg"] {
                let r = try await browser.request(path)
                let csp = r.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
                #expect(csp.hasPrefix("default-src 'self'"), "\(path)")
                #expect(!csp.contains("unsafe-inline"))
                #expect(r.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                // Not no-referrer: browsers would then send `Origin: null` with every form.
                #expect(r.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin")
            }
            // No inline script or style anywhere in the pages.
            let html = WebTests.text(try await browser.request("/web/incidents"))
            #expect(!html.contains("style="))
            #expect(!html.contains("<style"))
            #expect(!html.contains("onclick") && !html.contains("onload"))
            let scripts = html.components(separatedBy: "<script").dropFirst()
            #expect(scripts.count == 1)
            #expect(scripts.allSatisfy { $0.hasPrefix(" src=\"/web/static/app.js\" defer></script>") })
        }
    }

    /// The marks `SVGMarks` writes are what Mustache rendered from the templates they replaced,
    /// byte for byte, hostile text included (escaped alike).
    @Test func svgMarksAreWhatMustacheRendered() throws {
        let hostile = [
            WebTests.script, "\"><script>alert(1)</script>", "O'Brien & <b>", "Marché de Gao", "الفاشر", "", "a\"b'c<d>e&f",
            "&lt;already&gt;",
        ]
        var random = SplitMix64(seed: 77)
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        let points = (0..<40).map { n in
            SahelMap.Point(id: pick(hostile) + "\(n)", x: Double(n) * 1.5, y: 400 - Double(n) / 3, title: pick(hostile))
        }
        let bins = (0..<20).map { n in SahelMap.Bin(x: Double(n) * 10.25, y: Double(n), count: n * 7 + 1) }
        let bars = (0..<30).map { n in
            SVGMarks.Bar(x: Double(n) * 3.1, y: 70.5 - Double(n), width: 2.4, height: Double(n), count: n, title: pick(hostile))
        }
        let pointTemplate = try MustacheTemplate(
            string:
                #"{{#points}}<a href="/web/incidents/{{id}}"><circle class="point" cx="{{x}}" cy="{{y}}" r="5"><title>{{label}}</title></circle></a>{{/points}}"#
        )
        let binTemplate = try MustacheTemplate(
            string:
                #"{{#bins}}<circle class="bin" cx="{{x}}" cy="{{y}}" r="{{r}}" data-count="{{count}}"><title>{{countText}}</title></circle>{{/bins}}"#
        )
        let barTemplate = try MustacheTemplate(
            string:
                #"{{#bars}}<rect class="bar" x="{{x}}" y="{{y}}" width="{{w}}" height="{{h}}" data-count="{{count}}"><title>{{title}}</title></rect>{{/bars}}"#
        )
        let mustachePoints = pointTemplate.render([
            "points": points.map { ["id": $0.id, "x": $0.x, "y": $0.y, "label": $0.title] as [String: Any] }
        ])
        #expect(SVGMarks.points(points) == mustachePoints)
        #expect(!mustachePoints.contains("<script") && mustachePoints.contains("&lt;script&gt;"))
        func radius(_ count: Int) -> Double { Double(count) / 3 }
        func countText(_ count: Int) -> String { "<\(count) & more>" }
        let mustacheBins = binTemplate.render([
            "bins": bins.map {
                ["x": $0.x, "y": $0.y, "r": radius($0.count), "count": $0.count, "countText": countText($0.count)]
                    as [String: Any]
            }
        ])
        #expect(SVGMarks.bins(bins, radius: radius, countText: countText) == mustacheBins)
        let mustacheBars = barTemplate.render([
            "bars": bars.map {
                ["x": $0.x, "y": $0.y, "w": $0.width, "h": $0.height, "count": $0.count, "title": $0.title] as [String: Any]
            }
        ])
        #expect(SVGMarks.bars(bars) == mustacheBars)
    }

    @Test func reporterTextIsEscapedAndConflictsAndHistoryShow() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let ids = try await WebTests.seed(fixture, client: client)
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            let list = WebTests.text(try await browser.request("/web/incidents"))
            #expect(!list.contains(WebTests.script))
            #expect(list.contains("Protest in Gao &lt;script&gt;alert(1)&lt;/script&gt;"))
            // The map's point too (its tooltip).
            #expect(list.contains("<title>Protest in Gao &lt;script&gt;alert(1)&lt;/script&gt;"))
            let gao = try #require(ids.first { $0.key.hasPrefix("Protest in Gao") }?.value)
            let page = WebTests.text(try await browser.request("/web/incidents/" + gao))
            #expect(!page.contains(WebTests.script))
            #expect(page.contains("Crowd said &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;left&quot;"))

            let clash = WebTests.text(try await browser.request("/web/incidents/" + ids["Clash at the market"]!))
            #expect(clash.contains("data-field=\"killed\""))
            #expect(clash.contains(">alice<") && clash.contains(">bob<"))
            #expect(clash.contains("shown now"))
            // History: every change with its author and deliverer.
            let history = try #require(clash.components(separatedBy: "id=\"history\"").last)
            #expect(history.components(separatedBy: "<tr").count - 2 == 3)
            #expect(history.contains("1,234"))
        }
    }

    @Test func incidentsPageFiltersMapsChartsAndPages() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            _ = try await WebTests.seed(fixture, client: client)
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            let all = WebTests.text(try await browser.request("/web/incidents"))
            #expect(all.contains("data-total=\"3\""))
            // Two are in the Sahel, one is not on the map.
            #expect(all.contains("data-points=\"2\""))
            #expect(all.components(separatedBy: "class=\"point\"").count - 1 == 2)
            #expect(all.contains("<span id=\"unplaced\">1</span>"))
            // Two dated incidents, two weeks apart: three weekly bars, two of them drawn.
            #expect(all.components(separatedBy: "class=\"bar\"").count - 1 == 2)

            let battles = WebTests.text(try await browser.request("/web/incidents?event_type=battle"))
            #expect(battles.contains("data-total=\"1\""))
            #expect(battles.contains("Clash at the market") && !battles.contains("Far away"))
            let conflicts = WebTests.text(try await browser.request("/web/incidents?has_conflicts=1"))
            #expect(conflicts.contains("data-total=\"1\"") && conflicts.contains("Clash at the market"))
            let march = WebTests.text(try await browser.request("/web/incidents?from=2024-03-10&to=2024-03-31"))
            #expect(march.contains("data-total=\"1\"") && march.contains("Protest in Gao"))
            // The reporter is the creator's enrolled name, as the API's `reporter`: Bob only edited.
            let byBob = WebTests.text(try await browser.request("/web/incidents?reporter=bob"))
            #expect(byBob.contains("data-total=\"0\""))
            let byAlice = WebTests.text(try await browser.request("/web/incidents?reporter=alice"))
            #expect(byAlice.contains("data-total=\"3\"") && byAlice.contains("Clash at the market"))
            #expect(all.contains("id=\"f-reporter-help\""))
            // Teams: a select of the analyst's teams (every team: those enrolled), as the API's `team`.
            #expect(all.contains("<option value=\"default\">default</option>"))
            let team = WebTests.text(try await browser.request("/web/incidents?team=default&event_type=battle"))
            #expect(team.contains("data-total=\"1\"") && team.contains("<option value=\"default\" selected>"))
            let otherTeam = WebTests.text(try await browser.request("/web/incidents?team=elsewhere"))
            #expect(otherTeam.contains("data-total=\"0\""))
            // The page's counts are the API's for the same filters.
            for (web, api) in [
                ("reporter=alice&has_conflicts=1", "reporter=alice&has_conflicts=true"),
                ("team=default&q=dawn", "team=default&q=dawn"),
                ("from=2024-03-01&to=2024-03-11", "occurred_from=2024-03-01&occurred_to=2024-03-11"),
            ] {
                let page = WebTests.text(try await browser.request("/web/incidents?" + web))
                let json = try responseJSON(
                    try await client.executeRequest(
                        uri: "/v1/incidents?" + api, method: .get, headers: bearer(analyst), body: nil))
                let total = json["total"]?.intValue ?? -1
                #expect(page.contains("data-total=\"\(total)\""), "\(web)")
            }
            let area = WebTests.text(try await browser.request("/web/incidents?west=-10&south=10&east=-5&north=14"))
            #expect(area.contains("data-total=\"1\"") && area.contains("Clash at the market"))
            let text = WebTests.text(try await browser.request("/web/incidents?q=dawn"))
            #expect(text.contains("data-total=\"1\""))

            for bad in ["?from=2024-13-01", "?event_type=picnic", "?west=1", "?page=0", "?west=x&south=1&east=2&north=3"] {
                let r = try await browser.request("/web/incidents" + bad)
                #expect(r.status == .badRequest, "\(bad)")
                #expect(WebTests.text(r).contains("A filter is not valid"))
            }

            let csv = try await browser.request("/web/incidents.csv?event_type=battle")
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = WebTests.text(csv).split(separator: "\r\n")
            #expect(lines.count == 2 && lines[1].contains("Clash at the market"))
            let geojson = try await browser.request("/web/incidents.geojson?has_conflicts=1")
            let features = try JSONParser.parse(Array(WebTests.text(geojson).utf8))["features"]?.arrayValue ?? []
            #expect(features.count == 1)
        }
    }

    @Test func frenchFromAcceptLanguageOrTheSwitch() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let ids = try await WebTests.seed(fixture, client: client)
            let browser = Browser(client, language: "fr-ML, fr;q=0.9, en;q=0.5")
            let signin = WebTests.text(try await browser.request("/web/signin"))
            #expect(signin.contains("<html lang=\"fr\""))
            #expect(signin.contains("Jeton d’analyste") && !signin.contains("Analyst token"))
            _ = try await browser.signIn(analyst)
            let list = WebTests.text(try await browser.request("/web/incidents"))
            #expect(list.contains("Appliquer les filtres") && list.contains("Combat"))
            #expect(list.contains("01/03/2024"))
            #expect(!list.contains("Apply filters") && !list.contains(">Battle<") && !list.contains("Matching incidents"))
            let clash = WebTests.text(try await browser.request("/web/incidents/" + ids["Clash at the market"]!))
            #expect(clash.contains("1 234") && clash.contains("Historique") && !clash.contains("History"))

            // The switch, remembered in a cookie, wins over Accept-Language.
            let page = try await browser.request("/web/incidents")
            let switched = try await browser.request(
                "/web/language", .post,
                form: [("csrf", Browser.csrf(page) ?? ""), ("lang", "en"), ("back", "/web/incidents?q=x")])
            #expect(switched.status == .seeOther)
            #expect(switched.headers[.location] == "/web/incidents?q=x")
            #expect(WebTests.text(try await browser.request("/web/incidents")).contains("Apply filters"))
            // `back` never leads off the site.
            let away = try await browser.request(
                "/web/language", .post, form: [("csrf", Browser.csrf(page) ?? ""), ("lang", "fr"), ("back", "//evil.example/")])
            #expect(away.headers[.location] == "/web/incidents")
        }
    }

    @Test func catalogueHaveTheSameKeysAndEveryEventType() throws {
        let assets = try WebAssets()
        let english = try #require(assets.catalogue("en"))
        #expect(assets.catalogues.map(\.code) == ["en", "fr"])
        for catalogue in assets.catalogues {
            #expect(Set(catalogue.messages.keys) == Set(english.messages.keys), "\(catalogue.code)")
            #expect(Set(catalogue.eventTypes.keys) == Set(IncidentSchema.eventTypes))
            #expect(Set(catalogue.fields.keys).isSuperset(of: IncidentSchema.fieldNames))
        }
        // Every template escapes what it prints: no triple mustache, no unescaped `{{&…}}`, but
        // for the incidents page's marks, markup made and escaped by `SVGMarks` (tested against
        // Mustache's own rendering in `svgMarksAreWhatMustacheRendered`).
        let templates = embeddedWebFiles.filter { $0.key.hasPrefix("templates/") }
        #expect(templates.count >= 6)
        for (name, text) in templates {
            var rest = text
            if name == "templates/incidents.mustache" {
                for made in ["{{{map.points}}}", "{{{map.bins}}}", "{{{chart.bars}}}"] {
                    #expect(rest.contains(made))
                    rest = rest.replacingOccurrences(of: made, with: "")
                }
            }
            #expect(!rest.contains("{{{") && !rest.contains("{{&"), "\(name)")
            #expect(!text.contains("style=") && !text.contains("<style") && !text.contains(" on"), "\(name)")
        }
        #expect(assets.language(cookie: nil, acceptLanguage: "de, fr;q=0.3").code == "fr")
        #expect(assets.language(cookie: nil, acceptLanguage: "de").code == "en")
        #expect(assets.language(cookie: "fr", acceptLanguage: "en").code == "fr")
        #expect(assets.language(cookie: "xx", acceptLanguage: "fr;q=0, en").code == "en")
    }

    @Test func onTLSCookiesAreSecureAndOnlyAnHTTPSOriginPosts() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        var logger = Logger(label: "outpost-web-tests")
        logger.logLevel = .warning
        let router = buildRouter(
            sync: fixture.backend, incidents: fixture.backend, devices: fixture.backend, parcels: fixture.backend,
            parcelKey: nil, logger: logger,
            web: try WebWorkspace(databasePath: fixture.configuration.databasePath, secureCookies: true))
        try await Application(router: router).test(.router) { client in
            let browser = Browser(client)
            let page = try await browser.request("/web/signin")
            #expect(page.headers[values: .setCookie].allSatisfy { $0.hasSuffix("; Secure") })
            let csrf = try #require(Browser.csrf(page))
            // The plain-HTTP origin of the same host is another origin.
            let plain = try await browser.request("/web/signin", .post, form: [("csrf", csrf), ("token", analyst)])
            #expect(plain.status == .forbidden)
            let secure = try await browser.request(
                "/web/signin", .post, form: [("csrf", csrf), ("token", analyst)], origin: "https://localhost")
            #expect(secure.status == .seeOther)
            #expect(secure.headers[values: .setCookie].contains { $0.hasPrefix("outpost_session=") && $0.hasSuffix("; Secure") })
        }
    }

    @Test func dateFormatsFillTheirPlaceholdersAndKeepOtherText() {
        #expect(DateFormat("{dd}/{mm}/{yyyy}").fill(year: 2026, month: 3, day: 5, hour: 0, minute: 0) == "05/03/2026")
        #expect(
            DateFormat("{yyyy}-{mm}-{dd} {HH}:{MM} UTC").fill(year: 987, month: 12, day: 31, hour: 7, minute: 9)
                == "987-12-31 07:09 UTC")
        // Braces that open no placeholder stay as written.
        #expect(DateFormat("{d} {yyyy}{").fill(year: 2026, month: 1, day: 1, hour: 0, minute: 0) == "{d} 2026{")
        #expect(DateFormat("").parts.isEmpty)
    }

    @Test func beyondTwoThousandPointsTheMapBins() throws {
        func incident(_ id: String, lat: Double, lon: Double) -> (IncidentOverview.Match, IncidentRecord) {
            (
                IncidentOverview.Match(lat: lat, lon: lon, occurredMs: nil),
                IncidentRecord(
                    id: id, fields: ["lat": .double(lat), "lon": .double(lon)], deleted: false, conflict: false, createdMs: 0,
                    updatedMs: 0, updatedSeq: 0)
            )
        }
        func incidents(_ count: Int) -> [(IncidentOverview.Match, IncidentRecord)] {
            var out: [(IncidentOverview.Match, IncidentRecord)] = []
            for i in 0..<count {
                let lat = 10 + Double(i % 100) * 0.1
                let lon = -5 + Double(i / 100) * 0.2
                out.append(incident("i\(i)", lat: lat, lon: lon))
            }
            out.append(incident("far", lat: -30, lon: 0))
            return out
        }
        func layout(_ items: [(IncidentOverview.Match, IncidentRecord)]) -> SahelMap.Layout {
            var labels: [Int: IncidentLabel] = [:]
            for (index, item) in items.enumerated() {
                labels[index] = IncidentLabel(id: item.1.id, title: item.1.fields["title"]?.stringValue)
            }
            return SahelMap.layout(items.map(\.0), labels: labels)
        }
        let few = layout(incidents(2_000))
        #expect(few.points.count == 2_000 && few.bins.isEmpty && few.placed == 2_000 && few.unplaced == 1)
        #expect(!few.points.contains { $0.id == "far" })
        let many = layout(incidents(2_001))
        #expect(many.points.isEmpty && !many.bins.isEmpty && many.placed == 2_001 && many.unplaced == 1)
        // Every placed incident is in exactly one bin.
        #expect(many.bins.map(\.count).reduce(0, +) == 2_001)
        #expect(many.bins.allSatisfy { $0.x > 0 && $0.y > 0 && $0.x < Double(SahelMap.width) && $0.y < Double(SahelMap.height) })
    }

    /// Past 2,000 placed matches the page draws bins from the index entries alone; points plus
    /// binned counts are the API's total less the unplaced ones, whatever the filter.
    @Test func theBinnedMapCountsWhatTheAPICounts() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        var inputs: [IncidentInput] = []
        for i in 0..<2_150 {
            var fields: [String: JSONValue] = [
                "title": .string(i % 3 == 0 ? "Ambush \(i)" : "Report \(i)"), "event_type": i % 2 == 0 ? "battle" : "riot",
                "occurred_at": .string("2024-0\(1 + i % 9)-1\(i % 10)"),
            ]
            if i % 50 != 0 {
                fields["lat"] = .double(10 + Double(i % 100) * 0.1)
                fields["lon"] = .double(-5 + Double(i / 100) * 0.2)
            }
            inputs.append(IncidentInput(id: nil, fields: fields))
        }
        _ = try fixture.store.importIncidents(inputs, wallMs: 1_700_000_000_000)
        try await fixture.test { client in
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            for (web, api, expectBins) in [
                ("", "", true), ("event_type=battle", "event_type=battle", false), ("q=ambush", "q=ambush", false),
                ("from=2024-01-01&to=2024-12-31", "occurred_from=2024-01-01&occurred_to=2024-12-31", true),
            ] {
                let page = WebTests.text(try await browser.request("/web/incidents" + (web.isEmpty ? "" : "?" + web)))
                let json = try responseJSON(
                    try await client.executeRequest(
                        uri: "/v1/incidents" + (api.isEmpty ? "" : "?" + api), method: .get, headers: bearer(analyst),
                        body: nil))
                let total = Int(json["total"]?.intValue ?? -1)
                #expect(page.contains("data-total=\"\(total)\""), "\(web)")
                let points = page.components(separatedBy: "class=\"point\"").count - 1
                let binned = page.matches(of: /class="bin" [^>]*data-count="([0-9]+)"/).map { Int($0.1)! }.reduce(0, +)
                let unplaced = page.firstMatch(of: /<span id="unplaced">([0-9]+)<\/span>/).map { Int($0.1)! } ?? -1
                #expect(points + binned + unplaced == total, "\(web)")
                #expect((binned > 0) == expectBins && (points > 0) == !expectBins, "\(web)")
            }
        }
    }

    @Test func theTableIsPagedAndThePagerKeepsTheFilter() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let store = try fixture.replica("alice")
            let token = try fixture.token("alice", for: store)
            for i in 0..<60 {
                let type: JSONValue = i % 2 == 0 ? "battle" : "riot"
                _ = try store.create(
                    fields: ["title": .string("Report \(i)"), "event_type": type, "lat": 14, "lon": -4],
                    wallMs: 1_700_000_000_000 + Int64(i))
            }
            _ = try await ServerSyncClient(store: store, link: RouterLink(client: client, token: token)).run()
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            let first = WebTests.text(try await browser.request("/web/incidents"))
            #expect(first.components(separatedBy: "<tr><td>").count - 1 == 50)
            #expect(
                first.contains("Page 1 of 2") && first.contains("href=\"/web/incidents?page=2\"")
                    && !first.contains("id=\"prev\""))
            // Every incident is on the map, whichever page the table shows.
            #expect(first.contains("data-points=\"60\""))
            let second = WebTests.text(try await browser.request("/web/incidents?page=2"))
            #expect(second.components(separatedBy: "<tr><td>").count - 1 == 10)
            #expect(second.contains("Report 59") && !second.contains("id=\"next\"") && second.contains("id=\"prev\""))
            let battles = WebTests.text(try await browser.request("/web/incidents?event_type=battle"))
            #expect(battles.contains("data-total=\"30\"") && battles.contains("Page 1 of 1"))
            let filtered = WebTests.text(try await browser.request("/web/incidents?q=Report&page=2"))
            #expect(
                filtered.contains("href=\"/web/incidents?q=Report&amp;page=1\"")
                    || filtered.contains("href=\"/web/incidents?q=Report\""))
        }
    }
}
