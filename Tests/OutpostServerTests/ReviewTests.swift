import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostSync
import Testing

@testable import OutpostServer
@testable import OutpostStore

/// Review in the web workspace (issue 15, item 4): status with a note, conflict resolution,
/// each a change signed by the analyst's server-held replica, conflicts kept when concurrent.
@Suite struct ReviewTests {
    typealias Browser = WebTests.Browser

    /// A server with "Clash at the market" made by alice, `killed` in conflict between alice and
    /// bob, and "Far away" by alice; alice's store and token for later syncs.
    struct Seeded {
        let ids: [String: String]
        let alice: Store
        let aliceToken: String
    }

    static func seed(_ fixture: ServerFixture, client: any TestClientProtocol) async throws -> Seeded {
        let alice = try fixture.replica("alice")
        let bob = try fixture.replica("bob")
        let aliceToken = try fixture.token("alice", for: alice)
        let bobToken = try fixture.token("bob", for: bob)
        let clash = try alice.create(
            fields: ["title": "Clash at the market", "event_type": "battle", "status": "submitted", "killed": 1],
            wallMs: 1_709_000_000_000
        ).record.id
        let far = try alice.create(fields: ["title": "Far away", "event_type": "riot"], wallMs: 1_709_000_000_001).record.id
        _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken)).run()
        _ = try await ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken)).run()
        _ = try alice.update(id: clash, fields: ["killed": 3], wallMs: 1_709_100_000_000)
        _ = try bob.update(id: clash, fields: ["killed": 5], wallMs: 1_709_100_000_001)
        _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken)).run()
        _ = try await ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken)).run()
        return Seeded(ids: ["clash": clash, "far": far], alice: alice, aliceToken: aliceToken)
    }

    /// The value of the first `name="…" value="…"` in a page.
    static func field(_ name: String, in response: TestResponse) -> String? {
        let html = WebTests.text(response)
        guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    /// The csrf and seen fields of the incident page of `id`.
    static func form(_ browser: Browser, _ id: String) async throws -> (csrf: String, seen: String) {
        let page = try await browser.request("/web/incidents/\(id)")
        #expect(page.status == .ok)
        return (try #require(field("csrf", in: page)), try #require(field("seen", in: page)))
    }

    static func review(
        _ browser: Browser, _ id: String, _ form: (csrf: String, seen: String), status: String, note: String,
        duplicateOf: String = ""
    ) async throws -> TestResponse {
        try await browser.request(
            "/web/incidents/\(id)/review", .post,
            form: [
                ("csrf", form.csrf), ("seen", form.seen), ("status", status), ("note", note), ("duplicate_of", duplicateOf),
            ])
    }

    static func status(_ fixture: ServerFixture, _ id: String) throws -> [JSONValue] {
        let state = try #require(try fixture.store.recordState(id: id))
        return (state.fields["status"] ?? []).sorted { $0.order > $1.order }.map(\.value)
    }

    @Test func reviewIsSignedByTheAnalystReplicaAndReachesReporters() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let seeded = try await ReviewTests.seed(fixture, client: client)
            let id = seeded.ids["clash"]!
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            let form = try await ReviewTests.form(browser, id)
            let done = try await ReviewTests.review(browser, id, form, status: "verified", note: "Two witnesses agree.")
            #expect(done.status == .seeOther)
            #expect(done.headers[.location] == "/web/incidents/\(id)")
            let incident = try #require(try fixture.store.incident(id: id))
            #expect(incident.fields["status"] == "verified")
            #expect(incident.fields["review_note"] == "Two witnesses agree.")
            // Signed by the analyst's replica, whose roster entry the roster key signed.
            let replica = try #require(try fixture.store.analystReplica(of: "ana"))
            let entry = try #require(try fixture.store.signedRosterEntry(of: replica))
            #expect(entry.reporter == "ana" && entry.status == .active)
            #expect(entry.isValid(rosterPublicKey: fixture.backend.rosterKey.publicKey))
            #expect(ReplicaID.derived(fromPublicKey: entry.key) == replica)
            let change = try #require(try fixture.store.history(id: id).last?.change)
            #expect(change.dot.replica == replica && change.dot.counter == 1)
            #expect(SignatureCheck.isValid(change, publicKey: entry.key))
            // The page shows it.
            let page = WebTests.text(try await browser.request("/web/incidents/\(id)"))
            #expect(page.contains("Two witnesses agree."))
            // A reporter's sync brings it, verified and attributed to the analyst.
            _ = try await ServerSyncClient(store: seeded.alice, link: RouterLink(client: client, token: seeded.aliceToken))
                .run()
            #expect(try seeded.alice.incident(id: id)?.fields["status"] == "verified")
            let held = try #require(try seeded.alice.attributedHistory(id: id).last { $0.entry.change.dot.replica == replica })
            #expect(held.verified == true && held.author == "ana")
            // A second review counts on: counter 2, clock not backwards.
            let again = try await ReviewTests.review(
                browser, id, try await ReviewTests.form(browser, id), status: "disputed", note: "A third says otherwise.")
            #expect(again.status == .seeOther)
            let second = try #require(try fixture.store.history(id: id).last?.change)
            #expect(second.dot == Dot(replica: replica, counter: 2) && second.tag > change.tag)
            // Revoked with their tokens, then enrolled again: a new analyst replica carries on.
            _ = try fixture.backend.revoke(reporter: "ana")
            #expect(try fixture.store.signedRosterEntry(of: replica)?.status == .revoked)
            let back = Browser(client)
            _ = try await back.signIn(try fixture.token("ana", .analyst))
            let after = try await ReviewTests.review(
                back, id, try await ReviewTests.form(back, id), status: "verified", note: "Confirmed again.")
            #expect(after.status == .seeOther)
            let renewed = try #require(try fixture.store.analystReplica(of: "ana"))
            #expect(renewed != replica)
            #expect(try fixture.store.history(id: id).last?.change.dot == Dot(replica: renewed, counter: 1))
            #expect(try fixture.store.incident(id: id)?.fields["review_note"] == "Confirmed again.")
        }
    }

    @Test func twoReviewsFromOneVersionAreAConflictNeverALoss() async throws {
        let fixture = try ServerFixture()
        let ana = try fixture.token("ana", .analyst)
        let ben = try fixture.token("ben", .analyst)
        try await fixture.test { client in
            let id = try await ReviewTests.seed(fixture, client: client).ids["far"]!
            let first = Browser(client)
            let second = Browser(client)
            _ = try await first.signIn(ana)
            _ = try await second.signIn(ben)
            let seenByAna = try await ReviewTests.form(first, id)
            let seenByBen = try await ReviewTests.form(second, id)
            #expect(try await ReviewTests.review(first, id, seenByAna, status: "verified", note: "ok").status == .seeOther)
            #expect(try await ReviewTests.review(second, id, seenByBen, status: "rejected", note: "no").status == .seeOther)
            #expect(Set(try ReviewTests.status(fixture, id)) == ["verified", "rejected"])
            let page = WebTests.text(try await first.request("/web/incidents/\(id)"))
            #expect(page.contains("data-field=\"status\""))
            // Positive control: from the page as it is now, a review replaces both.
            let fresh = try await ReviewTests.form(first, id)
            #expect(try await ReviewTests.review(first, id, fresh, status: "disputed", note: "both").status == .seeOther)
            #expect(try ReviewTests.status(fixture, id) == ["disputed"])
        }
    }

    @Test func refusedReviewsStoreNothing() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let outsider = try fixture.backend.enroll(reporter: "olga", role: .analyst, device: nil, teams: ["Elsewhere"])
        try await fixture.test { client in
            let ids = try await ReviewTests.seed(fixture, client: client).ids
            let id = ids["clash"]!
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            let form = try await ReviewTests.form(browser, id)
            let before = try fixture.store.lastSeq()
            for note in ["", "  \n\t "] {
                let refused = try await ReviewTests.review(browser, id, form, status: "verified", note: note)
                #expect(refused.status == .badRequest)
                #expect(WebTests.text(refused).contains("A review needs a note"))
            }
            let badStatus = try await ReviewTests.review(browser, id, form, status: "draft", note: "n")
            #expect(badStatus.status == .badRequest)
            for other in ["", id, "no-such-incident", "bad id"] {
                let refused = try await ReviewTests.review(browser, id, form, status: "duplicate", note: "n", duplicateOf: other)
                #expect(refused.status == .badRequest, "\(other)")
                #expect(WebTests.text(refused).contains("A duplicate must name another incident"))
            }
            let tooLong = try await ReviewTests.review(
                browser, id, form, status: "verified", note: String(repeating: "x", count: 2001))
            #expect(tooLong.status == .badRequest)
            let forged = try await ReviewTests.review(
                browser, id, (csrf: "forged", seen: form.seen), status: "verified", note: "n")
            #expect(forged.status == .forbidden)
            let crossSite = try await browser.request(
                "/web/incidents/\(id)/review", .post,
                form: [("csrf", form.csrf), ("seen", form.seen), ("status", "verified"), ("note", "n")],
                origin: "http://evil.example")
            #expect(crossSite.status == .forbidden)
            let replica = Array(repeating: "ab", count: 16).joined()
            for seen in [
                "", "!!!", "a", Base64URL.encode(Array("zz:1".utf8)), Base64URL.encode(Array("\(replica):0".utf8)),
                Base64URL.encode(Array("\(replica):1,\(replica):2".utf8)), Base64URL.encode(Array("\(replica):+1".utf8)),
                Base64URL.encode(Array("\(replica):1,".utf8)),
            ] {
                let refused = try await ReviewTests.review(
                    browser, id, (csrf: form.csrf, seen: seen), status: "verified", note: "n")
                #expect(refused.status == .badRequest, "\(seen)")
                #expect(WebTests.text(refused).contains("valid version"), "\(seen)")
            }
            // Well formed, but naming a change the server does not hold.
            let unknown = try await ReviewTests.review(
                browser, id, (csrf: form.csrf, seen: Base64URL.encode(Array("\(replica):9".utf8))), status: "verified",
                note: "n")
            #expect(unknown.status == .conflict)
            #expect(try fixture.store.lastSeq() == before)
            #expect(try fixture.store.incident(id: id)?.fields["status"] == "submitted")
            #expect(try fixture.store.analystReplica(of: "ana") == nil)
            // An analyst of another team: the incident is not there for them.
            let other = Browser(client)
            _ = try await other.signIn(outsider)
            #expect(try await other.request("/web/incidents/\(id)").status == .notFound)
            let page = try await other.request("/web/incidents")
            let otherForm = (csrf: try #require(WebTests.Browser.csrf(page)), seen: form.seen)
            #expect(try await ReviewTests.review(other, id, otherForm, status: "verified", note: "n").status == .notFound)
            #expect(try fixture.store.lastSeq() == before)
            // A duplicate naming another readable incident is taken.
            let duplicate = try await ReviewTests.review(
                browser, id, form, status: "duplicate", note: "same event", duplicateOf: ids["far"]!)
            #expect(duplicate.status == .seeOther)
            #expect(try fixture.store.incident(id: id)?.fields["duplicate_of"] == .string(ids["far"]!))
        }
    }

    @Test func resolveByPickOrByWriteEndsTheConflict() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        try await fixture.test { client in
            let id = try await ReviewTests.seed(fixture, client: client).ids["clash"]!
            let browser = Browser(client)
            _ = try await browser.signIn(analyst)
            func killed() throws -> [JSONValue] {
                (try fixture.store.recordState(id: id)?.fields["killed"] ?? []).map(\.value)
            }
            #expect(Set(try killed()) == [3, 5])
            let page = try await browser.request("/web/incidents/\(id)")
            let html = WebTests.text(page)
            #expect(html.contains("action=\"/web/incidents/\(id)/resolve\""))
            let form = try await ReviewTests.form(browser, id)
            let before = try fixture.store.lastSeq()
            func resolve(_ pairs: [(String, String)]) async throws -> TestResponse {
                try await browser.request(
                    "/web/incidents/\(id)/resolve", .post,
                    form: [("csrf", form.csrf), ("seen", form.seen), ("field", "killed")] + pairs)
            }
            // Invalid: a written value the field refuses, a choice of no sibling, no choice.
            let invalid = try await resolve([("choice", "write"), ("value", "lots")])
            #expect(invalid.status == .badRequest)
            #expect(WebTests.text(invalid).contains("Killed"))
            #expect(try await resolve([("choice", "write"), ("value", "-1")]).status == .badRequest)
            #expect(try await resolve([("choice", "pick:abcd:1")]).status == .conflict)
            #expect(try await resolve([]).status == .badRequest)
            #expect(try fixture.store.lastSeq() == before)
            #expect(Set(try killed()) == [3, 5])
            // Pick bob's value.
            let state = try #require(try fixture.store.recordState(id: id))
            let five = try #require(state.fields["killed"]?.first { $0.value == 5 })
            #expect(try await resolve([("choice", "pick:" + SeenVersion.dotText(five.dot))]).status == .seeOther)
            #expect(try killed() == [5])
            // Writing a value resolves too (a new conflict first, from two reporters' versions).
            let conflicted = try await ReviewTests.form(browser, id)
            let written = try await browser.request(
                "/web/incidents/\(id)/resolve", .post,
                form: [
                    ("csrf", conflicted.csrf), ("seen", conflicted.seen), ("field", "killed"), ("choice", "write"),
                    ("value", "4"),
                ])
            #expect(written.status == .seeOther)
            #expect(try killed() == [4])
            let after = WebTests.text(try await browser.request("/web/incidents/\(id)"))
            #expect(after.contains("id=\"no-conflicts\""))
        }
    }
}
