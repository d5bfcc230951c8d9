import Foundation
import OutpostCLI
import OutpostCore

/// Deterministic realistic incidents (SplitMix64), as NDJSON lines.
struct IncidentGenerator {
    private var state: UInt64

    init(seed: UInt64 = 0x5EED_0075) { state = seed }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    private mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    private static let places: [(String, String, String, Double, Double)] = [
        ("Kidal", "Kidal", "Kidal Cercle", 18.44, 1.41), ("Gao", "Gao", "Gao Cercle", 16.27, -0.04),
        ("Mopti", "Mopti", "Mopti Cercle", 14.49, -4.19), ("Goma", "Nord-Kivu", "Nyiragongo", -1.68, 29.22),
        ("Bunia", "Ituri", "Irumu", 1.56, 30.25), ("الفاشر", "شمال دارفور", "الفاشر", 13.63, 25.35),
        ("نيالا", "جنوب دارفور", "نيالا شمال", 12.05, 24.88), ("Maiduguri", "Borno", "Maiduguri", 11.85, 13.16),
        ("Cabo Delgado", "Cabo Delgado", "Mocímboa da Praia", -11.35, 40.35), ("Sittwe", "Rakhine", "Sittwe", 20.15, 92.9),
    ]
    private static let actors = ["unidentified armed group", "state forces", "militia", "local vigilantes", "unknown"]
    private static let targets = ["civilians", "market", "checkpoint", "health centre", "school", "convoy", "village"]
    private static let words = [
        "residents", "reported", "gunfire", "near", "the", "market", "at", "dawn", "several", "houses", "were", "burned",
        "witnesses", "said", "armed", "men", "arrived", "on", "motorcycles", "and", "fled", "towards", "the", "river",
        "families", "displaced", "to", "nearby", "camps", "local", "officials", "confirmed", "casualties",
    ]

    /// One incident object.
    mutating func incident(index: Int) -> JSONValue {
        let place = pick(Self.places)
        let eventType = pick(IncidentSchema.eventTypes)
        var narrative: [String] = []
        for _ in 0..<int(20...70) { narrative.append(pick(Self.words)) }
        let year = int(2015...2025), month = int(1...12), day = int(1...28)
        func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var fields: [String: JSONValue] = [
            "title": .string("\(eventType.replacingOccurrences(of: "_", with: " ").capitalized) in \(place.0) #\(index)"),
            "narrative": .string(narrative.joined(separator: " ").capitalized + "."),
            "event_type": .string(eventType),
            "occurred_at": .string("\(year)-\(pad(month))-\(pad(day))T\(pad(int(0...23))):\(pad(int(0...59))):00Z"),
            "date_precision": .string(pick(["exact", "day", "week"])),
            "lat": .double(place.3 + Double(int(-50_000...50_000)) / 1_000_000),
            "lon": .double(place.4 + Double(int(-50_000...50_000)) / 1_000_000),
            "geo_precision": .string(pick(["exact", "near", "district"])),
            "place_name": .string(place.0), "admin1": .string(place.1), "admin2": .string(place.2),
            "killed": .int(Int64(int(0...12))), "injured": .int(Int64(int(0...30))),
            "perpetrator": .string(pick(Self.actors)), "target": .string(pick(Self.targets)),
            "source_type": .string(pick(["witness", "victim", "media", "official", "ngo"])),
            "confidence": .string(pick(["low", "medium", "high"])), "sensitivity": .string("normal"),
            "status": .string("submitted"),
        ]
        if int(0...3) == 0 { fields["displaced"] = .int(Int64(int(0...5000))) }
        return .object(fields)
    }

    /// `count` incidents as NDJSON bytes.
    mutating func ndjson(count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 700)
        for i in 0..<count {
            incident(index: i).write(to: &out)
            out.append(0x0A)
        }
        return out
    }

    /// The same incidents as CSV bytes: a header of every field name, then one CRLF-terminated
    /// record each (as a spreadsheet of new reports would give them, without ids).
    mutating func csv(count: Int) -> [UInt8] {
        var out: [UInt8] = Array(IncidentSchema.fieldNames.joined(separator: ",").utf8) + [0x0D, 0x0A]
        out.reserveCapacity(count * 600)
        for i in 0..<count {
            guard case .object(let fields) = incident(index: i) else { continue }
            for (position, name) in IncidentSchema.fieldNames.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                Exporter.writeCSVValue(fields[name], to: &out)
            }
            out.append(contentsOf: [0x0D, 0x0A])
        }
        return out
    }
}
