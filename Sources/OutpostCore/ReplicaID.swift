/// A replica's identity: opaque bytes, ordered byte-wise, printed as lowercase hex.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The raw bytes (16 random bytes in production; a scenario replica's UTF-8 name in replays).
    public let bytes: [UInt8]
    /// The id as lowercase hex digits (computed once: it is written into every change and sibling).
    public let hex: String

    /// Wraps raw bytes.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
        self.hex = ReplicaID.hexString(bytes)
    }

    public static func == (lhs: ReplicaID, rhs: ReplicaID) -> Bool { lhs.bytes == rhs.bytes }

    /// Hashes the bytes as one block (an array's own `hash(into:)` feeds them one by one).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Parses lowercase hex, the only spelling of a replica id on the wire (so one replica has
    /// one spelling); nil for anything else: uppercase digits, an odd count, more than 128 digits.
    public init?(hex: String) {
        var text = hex
        guard let id = text.withUTF8({ ReplicaID(hexUTF8: $0) }) else { return nil }
        self = id
    }

    /// Parses lowercase hex digits given as UTF-8 bytes, as `init(hex:)` does.
    init?(hexUTF8 utf8: UnsafeBufferPointer<UInt8>) {
        guard !utf8.isEmpty, utf8.count % 2 == 0, utf8.count <= 128 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = ReplicaID.nibble(utf8[i]), let lo = ReplicaID.nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        bytes = out
        hex = String(decoding: utf8, as: UTF8.self)
    }

    /// Whether `c` is one of the digits `0-9a-f`.
    static func isLowercaseHexDigit(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
    }

    /// A new random 16-byte replica id.
    public static func random() -> ReplicaID {
        var g = SystemRandomNumberGenerator()
        return ReplicaID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    private static func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

/// One change's identity: its author and the author's change counter.
public struct Dot: Hashable, Sendable, CustomStringConvertible {
    /// The replica that made the change.
    public var replica: ReplicaID
    /// The author's change counter, 1, 2, 3, … over all its changes.
    public var counter: UInt64

    /// Makes a dot.
    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public var description: String { "\(replica.hex):\(counter)" }
}
