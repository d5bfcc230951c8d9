import Mustache

/// The web workspace's files, embedded from `Web/` at build time: the Mustache templates, one
/// message catalogue per language, and the static files (one script, one style sheet, the map).
public struct WebAssets: Sendable {
    /// The parsed templates, by name (`incidents` for `templates/incidents.mustache`).
    let library: MustacheLibrary
    /// Catalogues by language code, English first then by code.
    public let catalogues: [MessageCatalogue]
    /// Static files by name (`app.css`), with their content type.
    let staticFiles: [String: (type: String, body: String)]

    /// A template, catalogue or file under `Web/` that does not parse.
    public struct Broken: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The language used when neither the switch nor `Accept-Language` names one we have.
    public static let defaultLanguage = "en"

    /// Loads every embedded file.
    public init() throws { try self.init(files: embeddedWebFiles) }

    /// Loads `files` (path under `Web/` → text).
    init(files: [String: String]) throws {
        var library = MustacheLibrary()
        var catalogues: [MessageCatalogue] = []
        var staticFiles: [String: (type: String, body: String)] = [:]
        for (path, text) in files.sorted(by: { $0.key < $1.key }) {
            let parts = path.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let (folder, name) = (parts[0], parts[1])
            switch folder {
            case "templates" where name.hasSuffix(".mustache"):
                do {
                    try library.register(text, named: String(name.dropLast(".mustache".count)))
                } catch {
                    throw Broken(description: "Web/\(path) does not parse: \(error)")
                }
            case "messages" where name.hasSuffix(".json"):
                do {
                    catalogues.append(try MessageCatalogue(json: text))
                } catch {
                    throw Broken(description: "Web/\(path): \(error)")
                }
            case "static":
                let type: String
                if name.hasSuffix(".css") {
                    type = "text/css; charset=utf-8"
                } else if name.hasSuffix(".js") {
                    type = "text/javascript; charset=utf-8"
                } else if name.hasSuffix(".svg") {
                    type = "image/svg+xml"
                } else {
                    continue
                }
                staticFiles[name] = (type, text)
            default: continue
            }
        }
        guard catalogues.contains(where: { $0.code == WebAssets.defaultLanguage }) else {
            throw Broken(description: "Web/messages has no \(WebAssets.defaultLanguage).json")
        }
        self.library = library
        self.catalogues = catalogues.sorted {
            ($0.code == WebAssets.defaultLanguage ? "" : $0.code) < ($1.code == WebAssets.defaultLanguage ? "" : $1.code)
        }
        self.staticFiles = staticFiles
    }

    /// The catalogue for `code`, if we have it.
    public func catalogue(_ code: String) -> MessageCatalogue? { catalogues.first { $0.code == code } }

    /// The language to answer in: the remembered switch when it names one we have, else the
    /// best of `Accept-Language` (by q, then order; `fr-ML` matches `fr`), else English.
    public func language(cookie: String?, acceptLanguage: String?) -> MessageCatalogue {
        if let cookie, let found = catalogue(cookie) { return found }
        var best: (q: Double, index: Int, catalogue: MessageCatalogue)?
        for (index, item) in (acceptLanguage ?? "").split(separator: ",").prefix(32).enumerated() {
            let pieces = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first?.lowercased(), !tag.isEmpty else { continue }
            var q = 1.0
            for p in pieces.dropFirst() where p.hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 0 }
            guard q > 0 else { continue }
            let primary = String(tag.split(separator: "-").first ?? "")
            guard let found = catalogue(tag) ?? catalogue(primary) else { continue }
            if best == nil || q > best!.q { best = (q, index, found) }
        }
        return best?.catalogue ?? catalogue(WebAssets.defaultLanguage)!
    }

    /// Renders template `name` with `context` (Mustache escapes every `{{value}}`).
    func render(_ name: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: name) ?? ""
    }
}
