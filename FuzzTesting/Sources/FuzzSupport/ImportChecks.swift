/// Where two import results first differ, for a finding's message; nil when they are equal.
public func firstDifference<Row: Equatable, Problem: Equatable>(
    rows a: [Row], _ b: [Row], problems pa: [Problem], _ pb: [Problem]
) -> String? {
    if a.count != b.count { return "\(a.count) rows vs \(b.count)" }
    if let i = a.indices.first(where: { a[$0] != b[$0] }) { return "row \(i): \(a[i]) vs \(b[i])" }
    if pa.count != pb.count { return "\(pa.count) problems vs \(pb.count): \(pa) vs \(pb)" }
    if let i = pa.indices.first(where: { pa[$0] != pb[$0] }) { return "problem \(i): \(pa[i]) vs \(pb[i])" }
    return nil
}
