// package-benchmark suites for the engine's hot paths, with allocation counts, so that
// regressions show up (Specs/Benchmarks.md, BENCH-080):
//   cd Benchmarks && swift package benchmark --target HotPathBenchmarks
// Internal code is reached through `@_spi(Benchmarking)` entry points that call exactly
// what the writer, the reader and the engine call.
import Benchmark
import BenchmarkSupport
@_spi(Benchmarking) import CommandLog
import Foundation
@_spi(Benchmarking) import ShardLog

/// A memory as the generated workload writes it: a sentence, tags, a 384-float embedding.
func memoryCommand(_ i: Int, persona: String = "persona-\(0)", embedding: Bool = true) -> Command {
    .addMemory(MemoryCreation(
        id: "m-\(i)", personaId: persona, name: "memory \(i)", content: "The user likes green tea in the morning (note \(i)).",
        tags: ["fact", "work"], importance: i % 101,
        embedding: embedding ? (0..<384).map { Float(($0 * 31 + i) % 997) / 997 } : nil, embeddingModel: embedding ? "all-MiniLM-L6-v2" : nil))
}

func draft(_ command: Command) -> CommandDraft {
    CommandDraft(timestamp: Timestamp(microsecondsSince1970: 1_700_000_000_000_000), actor: "bench", reason: nil, commandID: nil,
                 typeTag: command.typeTag, typeVersion: Command.typeVersion, payload: command.encodedPayload())
}

let benchmarks: @Sendable () -> Void = {
    let micro = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(2))
    let batch = Benchmark.Configuration(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 200)
    // 64 commands with embeddings: about 100 KiB of records, one frame's worth.
    let unitDrafts = (0..<64).map { draft(memoryCommand($0)) }
    let unit = HotPaths.encodeRecords(unitDrafts, firstLSN: LSN(1))
    let records = Array(unitDrafts.map(\.payload).joined())

    Benchmark("CRC-32C of 64 KiB", configuration: micro) { benchmark in
        let bytes = Array(records.prefix(65_536))
        for _ in benchmark.scaledIterations { blackHole(bytes.withUnsafeBytes { HotPaths.crc32c($0) }) }
    }

    Benchmark("LZ4 compress one frame of 64 commands", configuration: batch) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(HotPaths.lz4Compress(records)) }
    }

    Benchmark("LZ4 decompress one frame of 64 commands", configuration: batch) { benchmark in
        let compressed = HotPaths.lz4Compress(records)
        let decompressor = HotPaths.Decompressor()
        for _ in benchmark.scaledIterations { blackHole(decompressor.decompress(compressed, rawSize: records.count)) }
    }

    Benchmark("frame encode: a unit of 64 commands (pack, LZ4, CRC, chain)", configuration: batch) { benchmark in
        let framer = HotPaths.Framer()
        for _ in benchmark.scaledIterations { blackHole(framer.frame([unit], after: .genesis)) }
    }

    // Frame decode (CRC, chain, LZ4, record checks) is `sequential read 100k commands` in
    // CommandLogBenchmarks: frames are decoded where they are read.

    Benchmark("command codec: encode addMemory with embedding", configuration: micro) { benchmark in
        let command = memoryCommand(1)
        for _ in benchmark.scaledIterations { blackHole(command.encodedPayload()) }
    }

    Benchmark("command codec: decode addMemory with embedding", configuration: micro) { benchmark in
        let command = memoryCommand(1)
        let payload = command.encodedPayload()
        for _ in benchmark.scaledIterations {
            blackHole(try payload.withUnsafeBytes { try Command.decode(typeTag: command.typeTag, typeVersion: Command.typeVersion, payload: $0) })
        }
    }

    Benchmark("ring lookup: 4 shards × 150 virtual nodes", configuration: micro) { benchmark in
        let router = Router(strategy: .hash, shards: Router.defaultShardIDs(count: 4))
        let ids = (0..<1_000).map { "persona-\($0)" }
        for i in benchmark.scaledIterations { blackHole(router.shard(for: ids[i % ids.count])) }
    }

    Benchmark("apply: 1,000 addMemory to the store's state (validate, effects)", configuration: batch) { benchmark in
        let engine = try EngineHotPaths(shardCount: 4, personas: 64, projectionPath: nil)
        var next = 0
        for _ in benchmark.scaledIterations {
            let commands = (next..<(next + 1_000)).map { memoryCommand($0, persona: "persona-\($0 % 64)") }
            next += 1_000
            benchmark.startMeasurement()
            blackHole(try engine.apply(commands))
            benchmark.stopMeasurement()
        }
    }

    Benchmark("apply: a batch of 1,000 addMemory to one shard's SQLite projection", configuration: batch) { benchmark in
        let path = NSTemporaryDirectory() + "/shardlog-hotpath-\(getpid()).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let engine = try EngineHotPaths(shardCount: 1, personas: 64, projectionPath: path)
        var next = 0
        for _ in benchmark.scaledIterations {
            _ = try engine.apply((next..<(next + 1_000)).map { memoryCommand($0, persona: "persona-\($0 % 64)") })
            next += 1_000
            benchmark.startMeasurement()
            try engine.writeProjection()
            benchmark.stopMeasurement()
        }
        try engine.close()
    }
}
