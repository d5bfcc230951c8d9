/// A CSV syntax error that stops reading: an unterminated quote or text after a closing quote.
public struct CSVSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The 1-based line where the problem was found.
    public var line: Int
    /// What is wrong.
    public var message: String
    /// Whether the text ended inside a quoted cell.
    public var unclosedQuote = false

    public var description: String { "line \(line): \(message)" }
}

/// An RFC 4180 reader over UTF-8 bytes: quoted cells may hold commas, quotes (`""`) and line
/// breaks; records end with CRLF, LF or CR; a leading byte-order mark is skipped.
public enum CSVReader {
    /// Calls `body` with each record's first line number and its cells (nil for a cell that is not
    /// valid UTF-8). Blank lines are skipped. `range` (default: all of `buffer` after a byte-order
    /// mark) must start at a record; lines are numbered from its start. Returns how many lines
    /// it read.
    @discardableResult
    public static func read(
        _ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>? = nil, _ body: (_ line: Int, _ cells: [String?]) throws -> Void
    ) throws -> Int {
        let n = range?.upperBound ?? buffer.count
        var i = range?.lowerBound ?? (hasBOM(buffer) ? 3 : 0)
        var line = 1
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
        var quoted: [UInt8] = []
        var cells: [String?] = []  // reused: `body` gets each record's cells and keeps no reference
        while i < n {
            let recordLine = line
            cells.removeAll(keepingCapacity: true)
            while true {
                if i < n && buffer[i] == quote {
                    let cellLine = line
                    i += 1
                    quoted.removeAll(keepingCapacity: true)
                    while true {
                        guard i < n else {
                            throw CSVSyntaxError(line: cellLine, message: "a quoted cell is not closed", unclosedQuote: true)
                        }
                        let c = buffer[i]
                        if c == quote {
                            if i + 1 < n && buffer[i + 1] == quote {
                                quoted.append(quote)
                                i += 2
                                continue
                            }
                            i += 1
                            break
                        }
                        if c == lf || (c == cr && (i + 1 >= n || buffer[i + 1] != lf)) { line += 1 }
                        quoted.append(c)
                        i += 1
                    }
                    cells.append(String(validating: quoted, as: UTF8.self))
                    if i < n && buffer[i] != comma && buffer[i] != lf && buffer[i] != cr {
                        throw CSVSyntaxError(line: line, message: "unexpected text after a closing quote")
                    }
                } else {
                    let start = i
                    while i < n {
                        let c = buffer[i]
                        if c == comma || c == lf || c == cr { break }
                        i += 1
                    }
                    cells.append(String(validating: UnsafeBufferPointer(rebasing: buffer[start..<i]), as: UTF8.self))
                }
                if i < n && buffer[i] == comma {
                    i += 1
                    continue
                }
                break
            }
            if i < n && buffer[i] == cr { i += 1 }
            if i < n && buffer[i] == lf { i += 1 }
            line += 1
            if cells.count == 1, let only = cells[0], only.isEmpty { continue }
            try body(recordLine, cells)
        }
        return line - 1
    }

    /// Whether the buffer starts with a UTF-8 byte-order mark.
    static func hasBOM(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF
    }
}
