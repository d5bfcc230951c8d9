/// Every incident's searched fields in one buffer (`QueryMirror`): one byte search runs over
/// all of them, instead of one per field, and each hit is then tied to its field and incident.
///
/// Each field's bytes are followed by a 0 byte, so a needle without one never matches across two
/// fields. An incident's new fields are appended and its old ones left as garbage, until the
/// garbage outweighs the rest and the buffer is written again.
struct MirrorText {
    /// The fields' bytes, each followed by 0.
    private(set) var bytes: [UInt8] = []
    /// Where each field starts in `bytes`, and its length.
    private(set) var starts: [Int] = []
    private(set) var lengths: [Int32] = []
    /// The incident (position in `QueryMirror.entries`) holding each field; -1: replaced.
    private(set) var owners: [Int32] = []
    /// Whether each field is ASCII.
    private(set) var ascii: [Bool] = []
    /// The lowercased value of each field whose NFC form differs (by field).
    private var raws: [Int: String] = [:]
    /// Each incident's fields (by position in `QueryMirror.entries`).
    private(set) var ranges: [Range<Int>] = []
    /// Bytes of replaced fields.
    private var garbage = 0
    /// How many bytes of replaced fields are kept at least before the buffer is written again
    /// (tuning; tests).
    var compactionFloor = 1 << 20

    /// Sets the fields of the incident at `slot` (`slot == ranges.count`: a new one).
    mutating func set(slot: Int, fields: [QueryMirror.Field]) {
        if slot < ranges.count {
            for field in ranges[slot] {
                owners[field] = -1
                garbage += Int(lengths[field]) + 1
            }
        } else {
            ranges.append(0..<0)
        }
        let first = starts.count
        for field in fields {
            if let raw = field.raw { raws[starts.count] = raw }
            starts.append(bytes.count)
            lengths.append(Int32(field.bytes.count))
            owners.append(Int32(slot))
            ascii.append(field.ascii)
            bytes.append(contentsOf: field.bytes)
            bytes.append(0)
        }
        ranges[slot] = first..<starts.count
        if garbage > compactionFloor && garbage > bytes.count / 2 { compact() }
    }

    /// The lowercased value of field `field` as the text rule takes it (the text itself, or the
    /// value before NFC).
    func value(_ field: Int) -> String {
        if let raw = raws[field] { return raw }
        return bytes.withUnsafeBufferPointer {
            String(decoding: $0[starts[field]..<(starts[field] + Int(lengths[field]))], as: UTF8.self)
        }
    }

    /// Writes the buffer again without the replaced fields.
    private mutating func compact() {
        var fresh = MirrorText()
        fresh.compactionFloor = compactionFloor
        for slot in ranges.indices {
            fresh.set(
                slot: slot,
                fields: ranges[slot].map { field in
                    QueryMirror.Field(
                        bytes: Array(bytes[starts[field]..<(starts[field] + Int(lengths[field]))]), ascii: ascii[field],
                        raw: raws[field])
                })
        }
        self = fresh
    }
}
