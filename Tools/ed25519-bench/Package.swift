// swift-tools-version:6.1
// Ed25519 sign/verify: swift-crypto beside libsodium (issue 12). Standalone so the main
// Package.swift is untouched. Run: Tools/ed25519-bench/run.sh
import PackageDescription

let package = Package(
    name: "ed25519-bench",
    platforms: [.macOS(.v14)],
    dependencies: [
        // The same URL and range as the main Package.swift.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0")
    ],
    targets: [
        .systemLibrary(
            name: "CSodium", pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]),
        .executableTarget(
            name: "ed25519-bench",
            dependencies: ["CSodium", .product(name: "Crypto", package: "swift-crypto")]),
    ],
    swiftLanguageModes: [.v6]
)
