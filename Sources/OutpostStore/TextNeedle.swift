import Foundation

/// A text filter's text as the byte searches over the indexed text take it (lowercased, NFC),
/// and how a searched field holding its bytes is decided: one rule for the SQL plan's rows
/// (`IndexedQueryPlan`) and the mirror's fields (`MirrorTest`).
struct TextNeedle {
    /// The lowercased NFC text, as UTF-8.
    let bytes: [UInt8]
    /// The bytes every field holding the text holds: its NFC form when beyond ASCII and it
    /// narrows by it (`IndexedQueryPlan.narrowsByNFC`), else its ASCII runs.
    let runs: [[UInt8]]
    /// Whether a byte match in an ASCII field is a match (`IndexedQueryPlan.trigramQuery`).
    let exactInASCII: Bool
    /// Whether a byte match between ASCII bytes (or ends) is a match
    /// (`IndexedQueryPlan.boundedMatchIsExact`).
    let boundedMatchIsExact: Bool
    /// Whether the NFC text is ASCII.
    let isASCII: Bool

    init(_ text: String) {
        bytes = Array(text.lowercased().precomposedStringWithCanonicalMapping.utf8)
        let composed = String(decoding: bytes, as: UTF8.self)
        boundedMatchIsExact = IndexedQueryPlan.boundedMatchIsExact(composed)
        runs =
            IndexedQueryPlan.narrowsByNFC(composed) ? [bytes] : bytes.split(whereSeparator: { $0 >= 0x80 }).map(Array.init)
        exactInASCII = IndexedQueryPlan.trigramQuery(for: text)?.exactInASCII == true
        isASCII = bytes.allSatisfy { $0 < 0x80 }
    }

    /// Whether a searched field holds the text: `text` is its index text (lowercased, NFC unless
    /// ASCII), `value` the form the text rule `textMatches` is asked about (the lowercased value
    /// before NFC), asked only when the bytes alone cannot decide.
    func holds(
        _ text: UnsafeBufferPointer<UInt8>, ascii: Bool, value: () -> String?, textMatches: (String) -> Bool
    ) -> Bool {
        // Lowercased ASCII is its own NFC: it holds no text whose NFC is beyond ASCII.
        if ascii && !isASCII { return false }
        if exactInASCII && ascii { return IndexedQueryPlan.bytes(text, contain: bytes) }
        // The bytes every field holding the text holds first (a match between ASCII bytes holds
        // them too).
        guard runs.allSatisfy({ IndexedQueryPlan.bytes(text, contain: $0) }) else { return false }
        if boundedMatchIsExact && IndexedQueryPlan.bytes(text, containBetweenASCII: bytes) { return true }
        guard let value = value() else { return false }
        return textMatches(value)
    }
}
