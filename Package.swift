// swift-tools-version: 6.2
// ShardLog: an embedded, event-sourced storage engine. See README.md and Specs/.
import PackageDescription

/// Our own targets treat every warning as an error (CI builds with it); SwiftPM applies
/// this to this package only, never to dependencies.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "ShardLog",
    products: [
        .library(name: "CommandLog", targets: ["CommandLog"]),
        .library(name: "ShardLog", targets: ["ShardLog"]),
        .executable(name: "shardlog", targets: ["shardlog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // `swift package generate-documentation --target ShardLog` (the DocC catalog in
        // Sources/ShardLog/ShardLog.docc); a plugin only: nothing of it links into ShardLog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // LZ4 from the system (Debian: liblz4-dev). Project-prefixed so it cannot
        // clash with another package's LZ4 module; imported `internal` only.
        .systemLibrary(
            name: "ShardLogLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        // CRC-32C (Castagnoli): SSE4.2 instruction when the CPU has it, slicing-by-8 otherwise.
        .target(name: "ShardLogCRC32C"),
        // C calls Swift cannot make: system calls Swift's Glibc module does not export
        // (sync_file_range, setpriority on a thread) and SQLite's variadic sqlite3_config.
        .target(name: "ShardLogSys", dependencies: [.product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // The command log: segments, frames, group commit, recovery, verification.
        // Knows nothing of SQLite or personas (Specs/CommandLog.md).
        .target(
            name: "CommandLog",
            dependencies: [
                "ShardLogLZ4",
                "ShardLogCRC32C",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The engine: commands, routing, SQLite projections, replay (Specs/Commands.md,
        // Specs/Routing.md, Specs/ProjectionSchema.md).
        .target(
            name: "ShardLog",
            dependencies: [
                "CommandLog",
                "ShardLogSys",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                // AutoRebalancer is a Service an app adds to its ServiceGroup (WF-055).
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "shardlog",
            dependencies: [
                "CommandLog",
                "ShardLog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // A child process for crash tests: appends from many tasks and reports each
        // acknowledged command on stdout until it is killed with SIGKILL.
        .executableTarget(
            name: "commandlog-crash-child",
            dependencies: ["CommandLog"],
            swiftSettings: strict
        ),
        // A child process for the engine's crash tests.
        .executableTarget(
            name: "shardstore-crash-child",
            dependencies: ["ShardLog", "CommandLog", .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // Helpers both test targets share (temporary directories, seeded randomness).
        .target(
            name: "ShardLogTestSupport",
            path: "Tests/ShardLogTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ShardLogTests",
            dependencies: [
                "ShardLog", "CommandLog", "ShardLogTestSupport", "shardlog", "shardstore-crash-child",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CommandLogTests",
            dependencies: ["CommandLog", "ShardLogCRC32C", "ShardLogTestSupport", "commandlog-crash-child"],
            swiftSettings: strict
        ),
    ]
)
