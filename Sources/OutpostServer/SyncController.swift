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
    /// The server's parcel key, vouched for by its roster key: every answer carries it.
    var parcelKey: ParcelKeyVouch? = nil

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
        // Changes by any author are taken (relay); each must verify against the roster.
        let provedKey = try checkBinding(message, of: device, token: try HTTPSupport.bearerToken(request))
        switch try await devices.bind(device, to: message.replica, key: provedKey) {
        case .bound:
            break
        case .boundToOther(let bound):
            throw APIError.forbidden(
                "replica_mismatch",
                "this token is bound to replica \(bound.hex), not \(message.replica.hex); enroll the new device, or send its key and binding signature"
            )
        case .replicaTaken:
            throw APIError.forbidden("replica_taken", "replica \(message.replica.hex) belongs to another device")
        }
        let batch = SyncBatch(
            replica: message.replica, changes: message.changes, pullAfter: message.pullAfter,
            pullLimit: min(message.pullLimit, limits.maxPullLimit), pullMaxBytes: min(message.pullMaxBytes, limits.maxPullBytes),
            pullAfterDot: message.pullAfterDot, deliveredBy: device.tokenID, rosterAfter: message.rosterAfter ?? 0,
            wantsSummary: message.wantsSummary, scope: device.scope, accessAfter: message.accessAfter)
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
            case .refusedChange:
                // The code is the reason (bad_signature, unknown_author, revoked_author, unsigned_change).
                throw APIError(.unprocessableContent, error.refusal?.reason.rawValue ?? "refused_change", error.message)
            case .locked:
                throw APIError(.serviceUnavailable, "store_busy", "the store is busy; try again")
            default:
                throw APIError(.internalServerError, "storage", "the server could not store the batch; nothing was acknowledged")
            }
        }
        let answer = ServerSyncResponse.encode(
            serverTimeMs: clock(), ackedCounter: outcome.ackedCounter, applied: outcome.report.applied,
            duplicates: outcome.report.duplicates, heldBack: outcome.report.heldBack, rawChanges: outcome.pulled,
            cursor: outcome.cursor, more: outcome.more, cursorDot: outcome.cursorDot, cursorReset: outcome.cursorReset,
            rosterKey: outcome.rosterKey, roster: outcome.roster, summary: outcome.summary, access: outcome.access,
            accessCursor: outcome.accessCursor, parcelKey: parcelKey?.key, parcelKeySignature: parcelKey?.signature)
        return HTTPSupport.json(answer, request: request, compressAtLeast: 0, level: Gzip.syncLevel)
    }

    /// The device key the request proves for its replica, or nil when it needs none (the token is
    /// bound to that replica already and the request sends no key). A token's first sync, or a
    /// move to another replica, must carry `key` — whose SHA-256 begins with the replica ID — and
    /// `bind`, that key's signature over `Store.bindingMessage` for this token: a key
    /// copied from a bundle or the roster binds nothing, and a signature made for another token
    /// is useless here. Else 403 `replica_key_mismatch` or `bad_binding`.
    func checkBinding(_ message: ServerSyncRequest, of device: Device, token: String) throws(APIError) -> [UInt8]? {
        let replica = message.replica
        guard let key = message.key else {
            if device.replica == nil {
                throw APIError.forbidden(
                    "bad_binding",
                    "the first sync of a token binds it to the device: the request must carry the device's public key (key) and its binding signature (bind); update Outpost on the device, or enroll it with `outpost-server enroll --replica ID --key KEY`"
                )
            }
            return nil
        }
        let derived = ReplicaID.derived(fromPublicKey: key)
        guard derived == replica else {
            throw APIError.forbidden(
                "replica_key_mismatch",
                "replica \(replica.hex) is not the replica of key \(Base64URL.encode(key)) (a replica ID is the first 16 bytes of SHA-256 of its key: \(derived.hex)); a replica can be bound only with its own key"
            )
        }
        guard let proof = message.bind,
            SignatureCheck.isValid(proof, of: Store.bindingMessage(replica: replica, token: token), publicKey: key)
        else {
            throw APIError.forbidden(
                "bad_binding",
                "the binding signature (bind) does not verify: it must be the key's signature over \"OUTPOST-BIND-1\\n\", the replica ID and SHA-256 of this token; a key copied from elsewhere binds nothing"
            )
        }
        return key
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
