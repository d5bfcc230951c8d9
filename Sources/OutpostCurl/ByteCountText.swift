/// Byte counts in words for messages: "64 MiB", "512 KiB", "1000 bytes".
enum ByteCountText {
    /// `count` in the largest binary unit that divides it exactly.
    static func text(_ count: Int) -> String {
        if count >= 1 << 20 && count % (1 << 20) == 0 { return "\(count >> 20) MiB" }
        if count >= 1 << 10 && count % (1 << 10) == 0 { return "\(count >> 10) KiB" }
        return count == 1 ? "1 byte" : "\(count) bytes"
    }
}
