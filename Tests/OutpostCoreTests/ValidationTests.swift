import OutpostCore
import Testing

@Suite struct ValidationTests {
    @Test func acceptsAFullValidIncident() throws {
        try IncidentSchema.validateNew(fields: [
            "title": "Market attack", "narrative": "Long text", "event_type": "battle", "occurred_at": "2026-03-01T10:00:00Z",
            "date_precision": "exact", "lat": 16.27, "lon": -0.04, "geo_precision": "near", "place_name": "Gao",
            "admin1": "Gao", "admin2": "Gao", "killed": 3, "injured": 0, "abducted": 10_000_000, "displaced": 120,
            "perpetrator": "unknown", "target": "market", "source_type": "witness", "confidence": "high",
            "sensitivity": "restricted", "status": "draft",
        ])
    }

    @Test(arguments: [
        ("title", JSONValue.string("   "), "empty"), ("title", .null, "title"),
        ("title", .string(String(repeating: "x", count: 201)), "at most 200"),
        ("event_type", .string("massacre"), "one of"), ("lat", .double(90.5), "from -90 to 90"),
        ("lon", .int(181), "from -180 to 180"), ("killed", .int(-1), "from 0"),
        ("killed", .double(2.5), "whole number"), ("killed", .int(10_000_001), "10000000"),
        ("occurred_at", .string("2026-02-30"), "day 30"), ("occurred_at", .string("1899-12-31"), "1900"),
        ("occurred_at", .string("2026-03-01T10:00:00"), "time zone"), ("status", .bool(true), "one of"),
        ("narrative", .string(String(repeating: "a", count: 50_001)), "50000"), ("colour", .string("red"), "unknown field"),
    ])
    func refusesBadValuesNamingFieldAndRule(field: String, value: JSONValue, rulePart: String) {
        #expect {
            try IncidentSchema.validate(field: field, value: value)
        } throws: { error in
            guard let error = error as? ValidationError else { return false }
            return error.field == field && error.rule.contains(rulePart)
        }
    }

    @Test func nullClearsAnyFieldButTitle() throws {
        try IncidentSchema.validate(field: "narrative", value: .null)
        #expect(throws: ValidationError.self) { try IncidentSchema.validate(field: "title", value: .null) }
    }

    @Test func titleLengthCountsCharactersAfterTrimming() throws {
        try IncidentSchema.validate(field: "title", value: .string("  " + String(repeating: "é", count: 200) + "  "))
    }

    @Test func parsesCommandLineText() throws {
        #expect(try IncidentSchema.value(field: "lat", text: "-12.5") == .double(-12.5))
        #expect(try IncidentSchema.value(field: "killed", text: "4") == .int(4))
        #expect(throws: ValidationError.self) { try IncidentSchema.value(field: "killed", text: "four") }
        #expect(throws: ValidationError.self) { try IncidentSchema.value(field: "lat", text: "inf") }
    }

    @Test func datesParseToEpochAndBack() {
        #expect(DateText.epochMilliseconds("2026-01-01T00:00:00Z") == 1_767_225_600_000)
        #expect(DateText.epochMilliseconds("2026-01-01T01:00:00+01:00") == 1_767_225_600_000)
        #expect(DateText.epochMilliseconds("2024-02-29") != nil)
        #expect(DateText.rfc3339(epochMilliseconds: 1_767_225_600_123) == "2026-01-01T00:00:00.123Z")
    }
}
