/// OWASP's rule against CSV injection, for every CSV export (`outpost export`, `outpost-server
/// export`): text a spreadsheet would run as a formula is made inert.
public enum CSVFormula {
    /// The first bytes that make a spreadsheet read a cell as a formula: `=`, `+`, `-`, `@`, tab
    /// and carriage return.
    public static let startBytes: [UInt8] = [
        UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D,
    ]

    /// `text` with a leading `'` when it starts with one of `startBytes` (`=HYPERLINK(…)` becomes
    /// `'=HYPERLINK(…)`), else unchanged. For text cells only: numbers (a longitude of -0.04) are
    /// written as numbers.
    public static func neutralized(_ text: String) -> String {
        guard let first = text.utf8.first, startBytes.contains(first) else { return text }
        return "'" + text
    }
}
