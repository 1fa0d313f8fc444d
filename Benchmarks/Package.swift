// swift-tools-version: 6.2
// ShardLog's benchmarks, a nested package (swift-nio's habit) so that users of the
// library never build the benchmark harness. `make bench` runs `log-figures`;
// `swift package benchmark` runs the package-benchmark suites.
import PackageDescription

let package = Package(
    name: "ShardLogBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ShardLog", path: "../"),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // package-benchmark suites: append (1, 4, 16, 64 appenders × durability) and sequential read.
        .executableTarget(
            name: "CommandLogBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "CommandLog", package: "ShardLog"),
                "BenchmarkSupport",
            ],
            path: "Benchmarks/CommandLogBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // package-benchmark suites: the engine's hot paths with allocation counts (BENCH-080).
        .executableTarget(
            name: "HotPathBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "CommandLog", package: "ShardLog"),
                .product(name: "ShardLog", package: "ShardLog"),
                "BenchmarkSupport",
            ],
            path: "Benchmarks/HotPathBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // The figures of the README: ShardLog against the machine's own ceilings, as ratios
        // measured in the same run.
        .executableTarget(
            name: "log-figures",
            dependencies: [.product(name: "CommandLog", package: "ShardLog"), "BenchmarkSupport"]
        ),
        // The engine's figures: rebuild against SQLite's own bulk insert of the same rows, and
        // getPersonaMemories against one unsharded SQLite database, measured in the same run.
        .executableTarget(
            name: "engine-figures",
            dependencies: [
                .product(name: "ShardLog", package: "ShardLog"),
                .product(name: "CommandLog", package: "ShardLog"),
                .product(name: "GRDB", package: "GRDB.swift"),
                "BenchmarkSupport",
            ]
        ),
        // The workflows' figures: write latency during a hot migration against without one,
        // the fifth shard's ring share, a rebalance.
        .executableTarget(
            name: "workflow-figures",
            dependencies: [
                .product(name: "ShardLog", package: "ShardLog"),
                .product(name: "CommandLog", package: "ShardLog"),
                "BenchmarkSupport",
            ]
        ),
        // Shared workload generation and the group-commit ceiling program.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "CommandLog", package: "ShardLog"), .product(name: "ShardLog", package: "ShardLog"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // ShardLog side by side with what a user would pick instead (Specs/Benchmarks.md).
        .executableTarget(
            name: "compare",
            dependencies: [
                .product(name: "ShardLog", package: "ShardLog"),
                .product(name: "CommandLog", package: "ShardLog"),
                .product(name: "GRDB", package: "GRDB.swift"),
                "BenchmarkSupport",
            ]
        ),
    ]
)
