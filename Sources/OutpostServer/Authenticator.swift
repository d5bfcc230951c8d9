import HTTPTypes
import Hummingbird

/// Checks bearer tokens and roles, within the rate limits: failed authentications per client
/// address, requests per token.
struct Authenticator: Sendable {
    let devices: any DeviceRepository
    /// Failed authentications by client address; an empty bucket refuses every token from there
    /// (before any lookup, so guessing gains nothing).
    let failuresByAddress: RateLimiter
    /// Requests by token row id.
    let requestsByToken: RateLimiter

    /// The device behind the request's token, or 401; 403 when its role is not allowed; 429 when
    /// the address has failed too often or the token has asked too often.
    func require(_ request: Request, from address: String, _ allowed: (Role) -> Bool, action: String) async throws -> Device {
        if let wait = failuresByAddress.retryAfter(address) {
            throw APIError.tooManyRequests(
                retryAfter: wait, "too many failed authentications from this address; try again in \(wait) s")
        }
        let device: Device?
        do {
            device = try await devices.authenticate(token: try HTTPSupport.bearerToken(request))
        } catch let error as APIError {
            failuresByAddress.take(address)
            throw error
        }
        guard let device else {
            failuresByAddress.take(address)
            throw APIError.unauthorized("the token is unknown or revoked")
        }
        if let wait = requestsByToken.take(String(device.tokenID)) {
            throw APIError.tooManyRequests(retryAfter: wait, "too many requests with this token; try again in \(wait) s")
        }
        guard allowed(device.role) else {
            throw APIError.forbidden("forbidden", "a \(device.role.rawValue) token may not \(action)")
        }
        return device
    }
}
