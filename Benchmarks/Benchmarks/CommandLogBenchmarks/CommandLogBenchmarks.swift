// package-benchmark suites for the command log's hot paths:
//   cd Benchmarks && swift package benchmark
import Benchmark
import BenchmarkSupport
import CommandLog
import Foundation

let benchmarks: @Sendable () -> Void = {
    let base = NSTemporaryDirectory() + "/shardlog-bench-\(getpid())"

    // Append: 1, 4, 16 and 64 concurrent appenders, each durability mode.
    for durability in [Durability.always, .interval(.milliseconds(10)), .none] {
        for appenders in [1, 4, 16, 64] {
            let name = "append \(durability) \(appenders) appenders"
            Benchmark(
                name,
                configuration: .init(
                    metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo,
                    maxDuration: .seconds(5), maxIterations: 20)
            ) { benchmark in
                let directory = base + "/" + name.replacingOccurrences(of: " ", with: "-")
                try? FileManager.default.removeItem(atPath: directory)
                let log = try CommandLog.open(directory: directory, configuration: .init(durability: durability))
                let drafts = (0..<64).map { benchmarkDraft($0) }
                let perAppender = max(1, 1000 / appenders)
                benchmark.startMeasurement()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<appenders {
                        group.addTask {
                            for i in 0..<perAppender { _ = try await log.append(drafts[(task + i) % drafts.count]) }
                        }
                    }
                    try await group.waitForAll()
                }
                benchmark.stopMeasurement()
                try log.close()
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    // Sequential read with CRC, chain and record checks.
    Benchmark(
        "sequential read 100k commands",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident], scalingFactor: .kilo, maxIterations: 10)
    ) { benchmark in
        let directory = base + "/read"
        if !FileManager.default.fileExists(atPath: directory) {
            let log = try CommandLog.open(directory: directory, configuration: .init(durability: .none))
            var workload = Workload(seed: 1)
            for _ in 0..<(100_000 / 64) { _ = try await log.append((0..<64).map { _ in workload.nextCommand() }) }
            try log.close()
        }
        benchmark.startMeasurement()
        var count = 0
        try LogReader(directory: directory).forEach { _ in count += 1 }
        benchmark.stopMeasurement()
        blackHole(count)
    }
}
