// swift-tools-version:6.1
// libFuzzer targets for every decoder of outside bytes. Build and run them with `Tools/fuzz.sh`;
// by hand: `swift build -c release --package-path FuzzTesting -Xswiftc -sanitize=fuzzer,address
// -Xswiftc -parse-as-library`, then `FuzzTesting/.build/release/FuzzChangeTree FuzzTesting/Corpora/FuzzChangeTree`.
import PackageDescription

/// The fuzz targets: one per decoder, each an executable whose `main` hands its input function
/// to libFuzzer (`FuzzInput.run`).
let fuzzTargets: [(name: String, products: [String])] = [
    ("FuzzChangeTree", ["OutpostCore"]),
    ("FuzzChangeWire", ["OutpostCore"]),
    ("FuzzChangeDifferential", ["OutpostCore"]),
    ("FuzzSyncBody", ["OutpostCore", "OutpostSync"]),
    ("FuzzBundle", ["OutpostCore", "OutpostSync"]),
    ("FuzzRecordState", ["OutpostCore"]),
    ("FuzzImportNDJSON", ["OutpostCore", "OutpostStore", "OutpostCLI"]),
    ("FuzzImportCSV", ["OutpostCore", "OutpostStore", "OutpostCLI"]),
    ("FuzzScenario", ["OutpostCore", "OutpostSync"]),
]

let package = Package(
    name: "FuzzTesting",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Outpost", path: ".."),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver", .product(name: "OutpostCore", package: "Outpost")]),
    ]
        + fuzzTargets.map { target in
            .executableTarget(
                name: target.name,
                dependencies: ["FuzzSupport"] + target.products.map { .product(name: $0, package: "Outpost") }
                    + (target.name == "FuzzBundle" ? [.product(name: "Crypto", package: "swift-crypto")] : []),
                // libFuzzer is linked into the fuzz targets only: the build instruments every module
                // for coverage (`Tools/fuzz.sh`), but the main package's build-time tool must not
                // get libFuzzer's `main`.
                linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])])
        },
    swiftLanguageModes: [.v6]
)
