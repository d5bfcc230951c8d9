import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OutpostCore
import OutpostStore

extension HTTPField.Name {
    /// The server's clock on every response, ms since the epoch.
    public static let outpostServerTime = HTTPField.Name("X-Outpost-Server-Time")!
}

/// Milliseconds since the epoch, now.
@Sendable public func currentTimeMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

/// Turns every error into a JSON error response (404 vs 405 by the route table) and stamps
/// every response with `X-Outpost-Server-Time` and `Date`.
struct ErrorAndTimeMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: [APIRoute]
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response()
        } catch let error as any HTTPResponseError where error.status == .notFound {
            response = notFoundOrNotAllowed(request).response()
        } catch let error as any HTTPResponseError {
            let status = error.status
            let message: String
            switch status {
            case .contentTooLarge: message = "the request body is too large"
            default: message = (error as? HTTPError)?.body ?? status.reasonPhrase
            }
            response = APIError(status, defaultCode(for: status), message).response()
        } catch let error as StoreError where error.kind == .locked {
            response = APIError(.serviceUnavailable, "store_busy", "the store is busy; try again").response()
        } catch is CancellationError {
            response = APIError(.serviceUnavailable, "unavailable", "the server is shutting down").response()
        } catch {
            logger.error("unhandled error: \(String(describing: type(of: error)))")
            response = APIError(.internalServerError, "internal", "the server could not complete the request").response()
        }
        let now = currentTimeMs()
        response.headers[.outpostServerTime] = String(now)
        response.headers[.date] = HTTPDate.format(epochMilliseconds: now)
        return response
    }

    func notFoundOrNotAllowed(_ request: Request) -> APIError {
        let path = request.uri.path
        let allowed = routes.filter { $0.matches(path: path) }.map(\.method)
        if allowed.isEmpty {
            return APIError(.notFound, "not_found", "no route \(request.method.rawValue) \(APIRoute.loggablePath(path))")
        }
        var e = APIError(
            .methodNotAllowed, "method_not_allowed",
            "\(request.method.rawValue) is not allowed on \(APIRoute.loggablePath(path)); allowed: \(allowed.map(\.rawValue).joined(separator: ", "))"
        )
        e.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return e
    }
}

/// Logs one line per request: method, route path, status, duration, bytes in and out.
/// Never the query string, the body or any header (no report contents, no tokens).
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    let routes: [APIRoute]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let bytesIn = request.headers[.contentLength].flatMap { Int($0) } ?? 0
        let bytesOut = response.body.contentLength ?? 0
        // Incident ids in paths are shown as the route pattern: ids are client-made and may be telling.
        let path = routes.first { $0.matches(path: request.uri.path) }?.path ?? APIRoute.loggablePath(request.uri.path)
        logger.info(
            "\(request.method.rawValue) \(path) \(response.status.code) \(String(format: "%.1f", ms))ms in=\(bytesIn)B out=\(bytesOut)B"
        )
        return response
    }
}

/// One route of the API, as written in `Schema/openapi.yaml` (`{param}` segments).
public struct APIRoute: Hashable, Sendable {
    public var method: HTTPRequest.Method
    public var path: String

    /// Whether a concrete path matches this route's pattern.
    func matches(path concrete: String) -> Bool {
        let a = path.split(separator: "/", omittingEmptySubsequences: true)
        let b = concrete.split(separator: "/", omittingEmptySubsequences: true)
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { p, s in p.hasPrefix("{") || p == s }
    }

    /// The path for Hummingbird's router (`:param`).
    var routerPath: String {
        path.split(separator: "/").map { $0.hasPrefix("{") ? ":" + $0.dropFirst().dropLast() : String($0) }.joined(separator: "/")
    }

    /// A path safe to log or echo: bounded and printable.
    static func loggablePath(_ path: String) -> String {
        let clipped = path.prefix(120)
        return String(clipped.map { $0.isASCII && !$0.isNewline && $0 != "\"" ? $0 : "?" })
    }
}

/// RFC 9110 IMF-fixdate.
enum HTTPDate {
    static func format(epochMilliseconds ms: Int64) -> String {
        let seconds = ms / 1000
        let days = Int(seconds / 86_400)
        let rem = Int(seconds % 86_400)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let (y, m, d) = DateText.civil(daysSinceEpoch: days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return
            "\(weekdays[((days % 7) + 7) % 7]), \(two(d)) \(months[m - 1]) \(y) \(two(rem / 3600)):\(two(rem / 60 % 60)):\(two(rem % 60)) GMT"
    }
}
