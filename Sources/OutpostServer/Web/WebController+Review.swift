import Foundation
import HTTPTypes
import Hummingbird
import OutpostCore
import OutpostStore

/// Review in the web workspace: an analyst sets an incident's status with a note, or resolves a
/// conflicted field by picking a value or writing one. Each is a change signed by the analyst's
/// server-held replica whose `deps` are the version the page showed, so two reviews made from
/// one version become a visible conflict.
extension WebController {
    /// The statuses a review may set.
    static let reviewStatuses = ["verified", "disputed", "rejected", "duplicate"]

    /// The review form's values: its status options and what was entered before a refusal.
    func reviewValues(_ c: MessageCatalogue, _ detail: IncidentDetail, entered: [String: String]) -> [String: Any] {
        let chosen = entered["status"] ?? detail.incident.fields["status"]?.stringValue ?? ""
        return [
            "statuses": WebController.reviewStatuses.map {
                ["value": $0, "label": c.statuses[$0] ?? $0, "selected": $0 == chosen] as [String: Any]
            },
            "note": entered["note"] ?? "", "duplicateOf": entered["duplicate_of"] ?? "",
        ]
    }

    /// A review or resolve form, checked: the session, the form's fields (CSRF and `Origin`
    /// checked), the incident as the analyst may read it (404 otherwise), and the version the page
    /// showed; nil without a session.
    func editForm(_ visit: Visit, _ request: Request, _ context: OutpostRequestContext) async throws
        -> (session: WebSession, field: @Sendable (String) -> String, detail: IncidentDetail, seen: VersionVector)?
    {
        guard let session = visit.session else { return nil }
        let form = try await checkedForm(request, visit, expected: session.csrf)
        let detail = try await readableDetail(context, session)
        let field: @Sendable (String) -> String = { name in form.first { $0.0 == name }?.1 ?? "" }
        return (session, field, detail, try seenVersion(field("seen")))
    }

    func review(_ visit: Visit, _ request: Request, _ context: OutpostRequestContext) async throws -> Response {
        guard let (session, field, detail, seen) = try await editForm(visit, request, context) else {
            return WebController.redirect(to: "/web/signin")
        }
        let c = visit.catalogue
        let status = field("status")
        let note = field("note")
        let duplicate = field("duplicate_of").trimmingCharacters(in: .whitespacesAndNewlines)
        let entered = ["status": status, "note": note, "duplicate_of": duplicate]
        func again(_ message: String) -> Response {
            incidentView(visit, detail, entered: entered, error: message, status: .badRequest)
        }
        guard WebController.reviewStatuses.contains(status) else { return again(c.text("review_error_status")) }
        guard !note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return again(c.text("review_error_note"))
        }
        var writes: [String: JSONValue] = ["status": .string(status), "review_note": .string(note)]
        if status == "duplicate" {
            guard duplicate != detail.incident.id, RecordKey.isValidID(duplicate),
                try await incidents.incidentDetail(id: duplicate, readableBy: session.scope) != nil
            else { return again(c.text("review_error_duplicate")) }
            writes["duplicate_of"] = .string(duplicate)
        } else if let held = detail.incident.fields["duplicate_of"], held != .null {
            writes["duplicate_of"] = .null
        }
        do { try IncidentSchema.validate(writes: writes) } catch {
            return again(c.text("error_invalid_value", ["field": c.fieldLabel(error.field), "rule": error.rule]))
        }
        return try await apply(writes, to: detail.incident.id, seen: seen, session)
    }

    func resolve(_ visit: Visit, _ request: Request, _ context: OutpostRequestContext) async throws -> Response {
        guard let (session, field, detail, seen) = try await editForm(visit, request, context) else {
            return WebController.redirect(to: "/web/signin")
        }
        let c = visit.catalogue
        let name = field("field")
        let choice = field("choice")
        func again(_ message: String, _ status: HTTPResponse.Status = .badRequest) -> Response {
            incidentView(visit, detail, error: message, status: status)
        }
        guard let index = IncidentSchema.fieldIndex(name) else { return again(c.text("resolve_error_field")) }
        let value: JSONValue
        if choice == "write" {
            do { value = try IncidentSchema.value(fieldAt: index, text: field("value")) } catch {
                return again(c.text("error_invalid_value", ["field": c.fieldLabel(error.field), "rule": error.rule]))
            }
        } else if choice.hasPrefix("pick:") {
            let picked = String(choice.dropFirst(5))
            let siblings = detail.conflicts.first { $0.field == name }?.siblings ?? []
            guard let sibling = siblings.first(where: { SeenVersion.dotText($0.dot) == picked }) else {
                return again(c.text("resolve_error_gone"), .conflict)
            }
            value = sibling.value
        } else {
            return again(c.text("resolve_error_choice"))
        }
        return try await apply([name: value], to: detail.incident.id, seen: seen, session)
    }

    /// The `seen` field's vector; a 400 naming the problem when it is malformed.
    func seenVersion(_ text: String) throws -> VersionVector {
        guard let seen = SeenVersion.decode(text) else { throw Refused(status: .badRequest, messageKey: "review_error_seen") }
        return seen
    }

    /// Applies the analyst's change and goes back to the incident page (POST-redirect-GET).
    func apply(_ writes: [String: JSONValue], to id: String, seen: VersionVector, _ session: WebSession) async throws
        -> Response
    {
        let edit = AnalystEdit(
            id: id, writes: writes, seen: seen, reporter: session.reporter, scope: session.scope, tokenID: session.tokenID)
        do {
            _ = try await incidents.edit(edit)
        } catch {
            if let refusal = error as? AnalystEdit.Refusal {
                switch refusal {
                case .notFound: throw Refused(status: .notFound, messageKey: "error_not_found")
                case .unknownVersion: throw Refused(status: .conflict, messageKey: "review_error_version")
                }
            }
            throw error
        }
        return WebController.redirect(to: "/web/incidents/" + WebForm.percentEncode(id))
    }
}
