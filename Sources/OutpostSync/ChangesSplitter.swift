/// Finds the top-level `changes` array of a JSON object and the byte range of each element,
/// skipping strings and nested values without decoding them; nil when the text is not plainly
/// such an object (the strict parser is the judge of everything else).
enum ChangesSplitter {
    /// The array's range (`[` to `]` inclusive) and each element's range.
    struct Split: Equatable {
        var array: Range<Int>
        var elements: [Range<Int>]
    }

    static func split(_ b: UnsafeBufferPointer<UInt8>) -> Split? {
        var i = skipSpace(b, 0)
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var found: Split?
        while true {
            i = skipSpace(b, i)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "}") && found == nil { return nil }
            if b[i] == UInt8(ascii: "}") { break }
            guard b[i] == UInt8(ascii: "\"") else { return nil }
            let keyStart = i + 1
            guard let keyEnd = skipString(b, i) else { return nil }
            let key = UnsafeBufferPointer(rebasing: b[keyStart..<(keyEnd - 1)])
            if key.contains(UInt8(ascii: "\\")) { return nil }
            i = skipSpace(b, keyEnd)
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            i = skipSpace(b, i + 1)
            guard i < b.count else { return nil }
            if key.elementsEqual("changes".utf8) {
                guard found == nil, b[i] == UInt8(ascii: "[") else { return nil }
                guard let array = elements(b, from: i) else { return nil }
                found = array
                i = array.array.upperBound
            } else {
                guard let end = skipValue(b, i) else { return nil }
                i = end
            }
            i = skipSpace(b, i)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard b[i] == UInt8(ascii: "}") else { return nil }
            break
        }
        return skipSpace(b, i + 1) == b.count ? found : nil
    }

    /// The elements of the array opening at `start`.
    private static func elements(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> Split? {
        var ranges: [Range<Int>] = []
        var i = skipSpace(b, start + 1)
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "]") { return Split(array: start..<(i + 1), elements: []) }
        while true {
            guard let end = skipValue(b, i) else { return nil }
            ranges.append(i..<end)
            i = skipSpace(b, end)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "]") { return Split(array: start..<(i + 1), elements: ranges) }
            guard b[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(b, i + 1)
        }
    }

    private static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// The index just after the string opening at `start`.
    private static func skipString(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        var i = start + 1
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// The index just after the value starting at `start` (objects and arrays by bracket depth,
    /// scalars up to the next delimiter).
    private static func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int? {
        // A body may end anywhere, e.g. just after a comma (a fuzzer finding: this read a byte past the end).
        guard start < b.count else { return nil }
        var i = start
        switch b[i] {
        case UInt8(ascii: "\""):
            return skipString(b, i)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard let end = skipString(b, i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x0A, 0x0D, 0x09: return i == start ? nil : i
                default: i += 1
                }
            }
            return nil
        }
    }
}
