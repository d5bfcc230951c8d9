import HTTPTypes
import Hummingbird
import OutpostCore
import OutpostStore
import OutpostSync

/// `POST /v1/sync`: one round trip per batch.
struct SyncController: Sendable {
    let repository: any SyncRepository
    let auth: Authenticator
    let devices: any DeviceRepository
    let limits: ServerLimits
    let clock: @Sendable () -> Int64

    func sync(_ request: Request, context: OutpostRequestContext) async throws -> Response {
        let device = try await auth.require(
            request, from: context.clientAddress, \.maySync, action: "sync (it needs a reporter token)")
        let body = try await HTTPSupport.readBody(
            request, maxBytes: limits.maxRequestBytes, maxDecoded: limits.maxDecodedBytes, timeout: limits.bodyTimeout)
        let message: ServerSyncRequest
        if let decoded = await SyncRequestDecoder.decodeValid(body, maxChanges: limits.maxChanges) {
            message = decoded
        } else {
            // Anything the fast decoder did not take is decoded whole, as one tree, for its exact error.
            message = try decodeChecked(HTTPSupport.parseJSON(body))
        }
        for (i, change) in message.changes.enumerated() where change.dot.replica != message.replica {
            throw APIError.forbidden(
                "forged_author",
                "forged author: changes[\(i)] is authored by \(change.dot.replica.hex), not the sending replica \(message.replica.hex); a device may push only its own changes"
            )
        }
        switch try await devices.bind(device, to: message.replica) {
        case .bound:
            break
        case .boundToOther(let bound):
            throw APIError.forbidden(
                "replica_mismatch",
                "this token is bound to replica \(bound.hex), not \(message.replica.hex); enroll the new device")
        case .replicaTaken:
            throw APIError.forbidden("replica_taken", "replica \(message.replica.hex) belongs to another device")
        }
        let batch = SyncBatch(
            replica: message.replica, changes: message.changes, pullAfter: message.pullAfter,
            pullLimit: min(message.pullLimit, limits.maxPullLimit), pullMaxBytes: min(message.pullMaxBytes, limits.maxPullBytes))
        let outcome: SyncOutcome
        do {
            outcome = try await repository.sync(batch)
        } catch let error as StoreError {
            switch error.kind {
            case .invalidChange, .invalidValue:
                throw APIError(.unprocessableContent, "invalid_change", error.message)
            case .reusedDot:
                throw APIError(.conflict, "reused_dot", error.message)
            case .tooManyHeldBack:
                throw APIError(.unprocessableContent, "too_many_held_back", error.message)
            case .locked:
                throw APIError(.serviceUnavailable, "store_busy", "the store is busy; try again")
            default:
                throw APIError(.internalServerError, "storage", "the server could not store the batch; nothing was acknowledged")
            }
        }
        let answer = ServerSyncResponse.encode(
            serverTimeMs: clock(), ackedCounter: outcome.ackedCounter, applied: outcome.report.applied,
            duplicates: outcome.report.duplicates, heldBack: outcome.report.heldBack, rawChanges: outcome.pulled,
            cursor: outcome.cursor, more: outcome.more)
        return HTTPSupport.json(answer, request: request, compressAtLeast: 0, level: Gzip.syncLevel)
    }

    /// Decodes a request tree and validates every change before anything is stored; errors name the problem.
    func decodeChecked(_ json: JSONValue) throws(APIError) -> ServerSyncRequest {
        if case .array(let items)? = json["changes"], items.count > limits.maxChanges {
            throw APIError(
                .contentTooLarge, "too_many_changes",
                "the request has \(items.count) changes; at most \(limits.maxChanges) per batch")
        }
        let message: ServerSyncRequest
        do {
            message = try ServerSyncRequest.decode(json)
        } catch {
            throw APIError.badRequest("invalid_request", error.message)
        }
        for (i, change) in message.changes.enumerated() {
            do {
                try IncidentSchema.validate(writes: change.writes)
            } catch {
                throw APIError(
                    .unprocessableContent, "invalid_field", "changes[\(i)] (\(change.dot)): \(error.description)",
                    field: error.field)
            }
        }
        return message
    }
}
