/// Time-ordered UUIDs (RFC 9562 version 7): 48 bits of Unix milliseconds, then 74 random bits.
///
/// New incident ids are made this way: ids made later sort later, so a store's and a server's
/// indexes on record ids grow at their end instead of at random places, and the id still
/// reveals nothing but the minute-and-millisecond it was made (which the change tag carries anyway).
public enum UUIDv7 {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The id for `ms` (Unix milliseconds) with the given random bits (the low 12 of `randomA`
    /// and the low 62 of `randomB`), in lowercase 8-4-4-4-12 form.
    public static func make(ms: Int64, randomA: UInt64, randomB: UInt64) -> String {
        let time = UInt64(truncatingIfNeeded: ms) & 0xFFFF_FFFF_FFFF
        // time(48) | version 7 (4) | rand_a (12)
        let high = time << 16 | 0x7000 | (randomA & 0x0FFF)
        // variant 0b10 (2) | rand_b (62)
        let low = 0x8000_0000_0000_0000 | (randomB & 0x3FFF_FFFF_FFFF_FFFF)
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var i = 0
            func put(_ word: UInt64, nibbles: Int) {
                var shift = (nibbles - 1) * 4
                for _ in 0..<nibbles {
                    if i == 8 || i == 13 || i == 18 || i == 23 {
                        buffer[i] = UInt8(ascii: "-")
                        i += 1
                    }
                    buffer[i] = hexDigits[Int((word >> UInt64(shift)) & 0xF)]
                    i += 1
                    shift -= 4
                }
            }
            put(high, nibbles: 16)
            put(low, nibbles: 16)
            return i
        }
    }
}
