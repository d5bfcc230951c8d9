import HTTPTypes
import Hummingbird
import OutpostCore
import OutpostStore
import OutpostSync

/// `POST /v1/parcels`: a device hands in one sealed parcel it carried for others.
struct ParcelController: Sendable {
    let repository: any ParcelRepository
    let auth: Authenticator
    let limits: ServerLimits

    /// Takes one parcel (`application/octet-stream`, at most the request limit): 200 with a
    /// `ParcelReceipt` (`applied`, or `duplicate` when it was opened before); 400 `bad_parcel`
    /// when it does not open here; 422 when one of its changes is refused, as for a sync batch.
    func post(_ request: Request, context: OutpostRequestContext) async throws -> Response {
        let device = try await auth.require(
            request, from: context.clientAddress, \.maySync, action: "hand in sealed parcels (it needs a reporter token)")
        if let type = request.headers[.contentType]?.lowercased(), !type.hasPrefix("application/octet-stream") {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type",
                "a parcel is sent as application/octet-stream, not \(type.prefix(60))")
        }
        let body = try await HTTPSupport.readBody(
            request, maxBytes: limits.maxRequestBytes, maxDecoded: limits.maxRequestBytes, timeout: limits.bodyTimeout,
            json: false)
        let receipt: ParcelReceipt
        do {
            receipt = try await repository.openParcel(body, deliveredBy: device.tokenID)
        } catch let error as ParcelError {
            throw APIError.badRequest("bad_parcel", "the parcel was refused: \(error.message); nothing was applied")
        } catch let error as StoreError {
            switch error.kind {
            case .invalidChange, .invalidValue:
                throw APIError(.unprocessableContent, "invalid_change", "in the parcel: \(error.message)")
            case .reusedDot:
                throw APIError(.conflict, "reused_dot", "in the parcel: \(error.message)")
            case .tooManyHeldBack:
                throw APIError(.unprocessableContent, "too_many_held_back", "in the parcel: \(error.message)")
            case .refusedChange:
                throw APIError(
                    .unprocessableContent, error.refusal?.reason.rawValue ?? "refused_change",
                    "in the parcel, nothing of which was applied: \(error.message)")
            case .locked:
                throw APIError(.serviceUnavailable, "store_busy", "the store is busy; try again")
            default:
                throw APIError(.internalServerError, "storage", "the server could not store the parcel; send it again")
            }
        }
        return HTTPSupport.json(receipt.json.serializedBytes(), request: request)
    }
}
