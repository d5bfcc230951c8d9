import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import Testing

/// The analyst routes refuse exactly what `Schema/openapi.yaml` refuses: each value below broke
/// the spec but was answered 200 before (found by `Tools/api-check.sh`), next to values the spec
/// allows, which keep working.
@Suite struct QueryContractTests {
    static func get(_ client: any TestClientProtocol, _ token: String, _ uri: String) async throws -> TestResponse {
        try await client.executeRequest(uri: uri, method: .get, headers: bearer(token), body: nil)
    }

    /// Asserts a 400 `code` naming `field`, for each query.
    static func expectRefused(
        _ client: any TestClientProtocol, _ token: String, _ uris: [String], code: String = "invalid_query", field: String
    ) async throws {
        for uri in uris {
            let r = try await get(client, token, uri)
            #expect(r.status == .badRequest, "\(uri)")
            #expect(errorCode(r) == code, "\(uri)")
            #expect((try? responseJSON(r))?["error"]?["field"]?.stringValue == field, "\(uri)")
            #expect(errorMessage(r).contains(field), "\(uri): \(errorMessage(r))")
        }
    }

    static func expectAccepted(_ client: any TestClientProtocol, _ token: String, _ uris: [String]) async throws {
        for uri in uris {
            let r = try await get(client, token, uri)
            #expect(r.status == .ok, "\(uri): \(errorMessage(r))")
        }
    }

    @Test func emptyListItemsAreRefused() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("desk", .analyst)
        try await fixture.test { client in
            try await Self.expectRefused(
                client, analyst, ["/v1/incidents?status=", "/v1/incidents?status=draft,", "/v1/incidents?status=draft&status="],
                field: "status")
            try await Self.expectRefused(
                client, analyst, ["/v1/incidents?event_type=", "/v1/incidents?event_type=,riot"], field: "event_type")
            try await Self.expectAccepted(
                client, analyst,
                [
                    "/v1/incidents?status=draft,verified", "/v1/incidents?status=draft&status=verified",
                    "/v1/incidents?event_type=riot",
                ])
        }
    }

    @Test func sinceIsDigitsOrADate() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("desk", .analyst)
        try await fixture.test { client in
            try await Self.expectRefused(
                client, analyst,
                [
                    "/v1/incidents?since=%2B5", "/v1/incidents?since=-0", "/v1/incidents?since=1234567890123456",
                    "/v1/incidents?since=", "/v1/incidents?since=%201", "/v1/incidents?since=2101-01-01",
                ], field: "since")
            try await Self.expectAccepted(
                client, analyst,
                [
                    "/v1/incidents?since=0", "/v1/incidents?since=999999999999999", "/v1/incidents?since=2024-02-29",
                    "/v1/incidents?since=2024-01-31T12:00:00.5%2B05:30",
                ])
        }
    }

    @Test func includeDeletedIsTrueOrFalse() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("desk", .analyst)
        try await fixture.test { client in
            try await Self.expectRefused(
                client, analyst,
                [
                    "/v1/incidents?include_deleted=", "/v1/incidents?include_deleted=1", "/v1/incidents?include_deleted=yes",
                    "/v1/incidents?include_deleted=TRUE", "/v1/incidents?include_deleted=0",
                ], field: "include_deleted")
            try await Self.expectAccepted(
                client, analyst, ["/v1/incidents?include_deleted=true", "/v1/incidents?include_deleted=false"])
        }
    }

    @Test func bboxNumbersAreDecimal() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("desk", .analyst)
        try await fixture.test { client in
            try await Self.expectRefused(
                client, analyst,
                [
                    "/v1/incidents?bbox=0x1p3,0,10,10", "/v1/incidents?bbox=nan,0,10,10", "/v1/incidents?bbox=-infinity,0,10,10",
                    "/v1/incidents?bbox=0,0,10,10,", "/v1/incidents?bbox=0,20,10,10", "/v1/incidents?bbox=1e400,0,10,10",
                ], field: "bbox")
            try await Self.expectAccepted(
                client, analyst,
                [
                    "/v1/incidents?bbox=-10,10,5,20", "/v1/incidents?bbox=-10.5,1e-05,5E1,20.0",
                    "/v1/incidents?bbox=%20-10,%2010,5%20,20", "/v1/incidents?bbox=170,-20,-170,0",
                ])
        }
    }

    @Test func detailIDFollowsTheRecordIDRule() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("desk", .analyst)
        try await fixture.test { client in
            try await Self.expectRefused(
                client, analyst,
                ["/v1/incidents/a%09b", "/v1/incidents/a%0Ab", "/v1/incidents/" + String(repeating: "a", count: 201)],
                code: "invalid_id", field: "id")
            // A well-formed id the server does not hold.
            for uri in ["/v1/incidents/x", "/v1/incidents/" + String(repeating: "a", count: 200), "/v1/incidents/%41b"] {
                let r = try await Self.get(client, analyst, uri)
                #expect(r.status == .notFound, "\(uri)")
                #expect(errorCode(r) == "unknown_incident", "\(uri)")
            }
        }
    }
}
