import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import Testing

@testable import OutpostServer

@Suite struct RateLimitTests {
    /// 60 bad tokens in a row from one address: 401 until the address's bucket is empty, then 429
    /// with Retry-After (even for a good token from there); a good token from another address
    /// still works; once the bucket refills, the address may try again.
    @Test func failedAuthenticationsPerAddress() async throws {
        let fixture = try ServerFixture()
        let clock = ManualClock()
        var configuration = fixture.configuration
        configuration.rateLimitClock = clock.read
        let analyst = try fixture.token("ana", .analyst)
        let burst = configuration.limits.authFailureBurst
        try await withLiveServer(fixture, configuration: configuration) { port in
            var statuses: [Int] = []
            var retryAfter: [String?] = []
            for i in 0..<60 {
                let response = try await RawConnection.request(
                    port: port, path: "/v1/incidents", headers: ["Authorization": "Bearer bad-token-\(i)-xxxxxxxxxxxxxxxx"])
                statuses.append(statusCode(response))
                retryAfter.append(headerValue(response, "Retry-After"))
            }
            #expect(statuses.prefix(burst).allSatisfy { $0 == 401 }, "\(statuses)")
            #expect(statuses.dropFirst(burst).allSatisfy { $0 == 429 }, "\(statuses)")
            #expect(retryAfter.dropFirst(burst).allSatisfy { ($0.flatMap { Int($0) } ?? 0) >= 1 }, "\(retryAfter)")
            // The address is refused before any lookup, so a good token from there is refused too.
            let blocked = try await RawConnection.request(
                port: port, path: "/v1/incidents", headers: ["Authorization": "Bearer \(analyst)"])
            #expect(statusCode(blocked) == 429)
            #expect(blocked.contains("\"rate_limited\""))
            let elsewhere = try await RawConnection.request(
                port: port, from: "127.0.0.2", path: "/v1/incidents", headers: ["Authorization": "Bearer \(analyst)"])
            #expect(statusCode(elsewhere) == 200, "\(elsewhere)")
            // /healthz needs no token and is not limited.
            #expect(statusCode(try await RawConnection.request(port: port, path: "/healthz")) == 200)
            // A minute refills the address's bucket by its per-minute rate: a bad token is a 401 again.
            clock.advance(ms: 60_000)
            let again = try await RawConnection.request(
                port: port, path: "/v1/incidents", headers: ["Authorization": "Bearer still-bad-xxxxxxxxxxxxxxxxxx"])
            #expect(statusCode(again) == 401)
            let good = try await RawConnection.request(
                port: port, path: "/v1/incidents", headers: ["Authorization": "Bearer \(analyst)"])
            #expect(statusCode(good) == 200)
        }
    }

    /// One token asking faster than its rate: 429 with Retry-After past the burst; other tokens
    /// are not affected; the bucket refills with time.
    @Test func requestsPerToken() async throws {
        var limits = ServerLimits()
        limits.tokenBurst = 5
        limits.tokenRequestsPerSecond = 1
        let fixture = try ServerFixture(limits: limits)
        let clock = ManualClock()
        fixture.configuration.rateLimitClock = clock.read
        let busy = try fixture.token("busy", .analyst)
        let other = try fixture.token("other", .analyst)
        try await fixture.test { client in
            for _ in 0..<5 {
                let r = try await client.executeRequest(uri: "/v1/incidents", method: .get, headers: bearer(busy), body: nil)
                #expect(r.status == .ok)
            }
            let refused = try await client.executeRequest(uri: "/v1/incidents", method: .get, headers: bearer(busy), body: nil)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(errorCode(refused) == "rate_limited")
            let fine = try await client.executeRequest(uri: "/v1/incidents", method: .get, headers: bearer(other), body: nil)
            #expect(fine.status == .ok)
            clock.advance(ms: 2_000)
            for _ in 0..<2 {
                let r = try await client.executeRequest(uri: "/v1/incidents", method: .get, headers: bearer(busy), body: nil)
                #expect(r.status == .ok)
            }
            let again = try await client.executeRequest(uri: "/v1/incidents", method: .get, headers: bearer(busy), body: nil)
            #expect(again.status == .tooManyRequests)
        }
    }

    /// The bucket arithmetic: burst, refill by elapsed time up to the burst, the wait it names.
    @Test func tokenBucket() {
        let clock = ManualClock()
        let limiter = RateLimiter(burst: 3, perSecond: 0.5, clock: clock.read)
        #expect(limiter.take("a") == nil)
        #expect(limiter.take("a") == nil)
        #expect(limiter.take("a") == nil)
        #expect(limiter.take("a") == 2)
        #expect(limiter.retryAfter("a") == 2)
        #expect(limiter.retryAfter("b") == nil)
        clock.advance(ms: 1_000)
        #expect(limiter.take("a") == 1)
        clock.advance(ms: 1_000)
        #expect(limiter.take("a") == nil)
        clock.advance(ms: 3_600_000)
        #expect(limiter.take("a") == nil)
        #expect(limiter.take("a") == nil)
        #expect(limiter.take("a") == nil)
        #expect(limiter.take("a") != nil)
    }
}
