/// Tests on eight bytes at once (one `UInt64` read from text), for the scanners that skip plain
/// runs of text: the JSON parser and writer and the import row reader.
/// Each is exact about whether a matching byte is present; the byte order of the word is irrelevant.
public enum ByteWords {
    /// A high bit set in the first zero byte of `x` (and maybe in later ones); 0 when no byte is zero.
    @inlinable
    public static func zeroBytes(_ x: UInt64) -> UInt64 {
        (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    /// The first eight of `bytes` (fewer when there are fewer) as a little-endian word, zero-padded.
    @inlinable
    public static func littleEndianWord<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var word: UInt64 = 0
        for (i, byte) in bytes.prefix(8).enumerated() { word |= UInt64(byte) << UInt64(8 * i) }
        return word
    }

    /// Whether any of the eight bytes needs care inside a JSON string: `"`, `\` or a control
    /// character (below 0x20).
    @inlinable
    public static func hasJSONSpecialByte(_ word: UInt64) -> Bool {
        // (x - 0x20…) & ~x has a high bit set at a byte below 0x20, as (x - 0x01…) & ~x does at a zero.
        // One combined mask, no branch per test: this runs for every eight bytes of every string.
        let control = (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080
        return (control | zeroBytes(word ^ 0x2222_2222_2222_2222) | zeroBytes(word ^ 0x5C5C_5C5C_5C5C_5C5C)) != 0
    }
}
