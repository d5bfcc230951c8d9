// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Outpost",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "outpost", targets: ["outpost"]),
        .executable(name: "outpost-server", targets: ["outpost-server"]),
        .executable(name: "outpost-replay", targets: ["outpost-replay"]),
        .executable(name: "outpost-bench", targets: ["outpost-bench"]),
        // Libraries for the FuzzTesting package beside this one (it depends on this package by path).
        .library(name: "OutpostCore", targets: ["OutpostCore"]),
        .library(name: "OutpostStore", targets: ["OutpostStore"]),
        .library(name: "OutpostSync", targets: ["OutpostSync"]),
        .library(name: "OutpostCLI", targets: ["OutpostCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "4.0.0"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // C system libraries: module.modulemap + shim.h only; each imported by one Swift module.
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // Build-time embedding of Schema/*.sql into OutpostStore (one source of truth).
        .executableTarget(name: "schema-embed", path: "Tools/schema-embed"),
        .plugin(
            name: "SchemaEmbedder", capability: .buildTool(),
            dependencies: ["schema-embed"], path: "Plugins/SchemaEmbedder"),
        // Build-time embedding of Web/ (templates, message catalogues, static files) into OutpostServer.
        .executableTarget(name: "web-embed", path: "Tools/web-embed"),
        .plugin(
            name: "WebEmbedder", capability: .buildTool(),
            dependencies: ["web-embed"], path: "Plugins/WebEmbedder"),

        .target(name: "OutpostCore"),
        .target(
            name: "OutpostStore",
            dependencies: [
                "OutpostCore", "CSQLite", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            plugins: ["SchemaEmbedder"]),
        .target(
            name: "OutpostSync",
            dependencies: [
                "OutpostStore", "CZlib", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(name: "OutpostCurl", dependencies: ["OutpostSync", "CCurl"]),
        .target(
            name: "OutpostServer",
            dependencies: [
                "OutpostStore", "OutpostSync",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            plugins: ["WebEmbedder"]),
        .target(
            name: "OutpostCLI",
            dependencies: [
                "OutpostStore", "OutpostSync", "OutpostCurl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),

        .executableTarget(name: "outpost", dependencies: ["OutpostCLI"]),
        .executableTarget(
            name: "outpost-server",
            dependencies: [
                "OutpostServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "outpost-replay", dependencies: ["OutpostSync"], path: "Tools/outpost-replay"),
        .executableTarget(
            name: "outpost-bench",
            dependencies: ["OutpostStore", "OutpostSync", "OutpostCurl", "OutpostCLI"],
            path: "Tools/outpost-bench"),

        .testTarget(name: "OutpostCoreTests", dependencies: ["OutpostCore"]),
        .testTarget(
            name: "OutpostStoreTests",
            dependencies: ["OutpostStore", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("TrustVectors")]),
        .testTarget(
            name: "OutpostSyncTests", dependencies: ["OutpostSync"],
            resources: [.copy("Scenarios"), .copy("MalformedScenarios")]),
        .testTarget(name: "OutpostCurlTests", dependencies: ["OutpostCurl", "OutpostTestSupport"]),
        .testTarget(
            name: "OutpostServerTests",
            dependencies: [
                "OutpostServer", "OutpostCurl",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(name: "OutpostCLITests", dependencies: ["OutpostCLI", "OutpostTestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["OutpostSync", "OutpostTestSupport"]),
        // What the test targets that run the `outpost` binary share (its test passphrase).
        .target(name: "OutpostTestSupport", path: "Tests/OutpostTestSupport"),
    ],
    swiftLanguageModes: [.v6]
)
