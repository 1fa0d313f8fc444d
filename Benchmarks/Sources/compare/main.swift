// ShardLog side by side with what a user would pick instead (issue 6, Specs/Benchmarks.md):
//   durable writes (BENCH-010)  ShardLog (1, 2, 4, 8 shards × durability) against one SQLite
//                               database at synchronous=FULL, N SQLite databases without a
//                               log, and the machine's group-commit ceiling
//   bulk import (BENCH-020)     ShardLog against N SQLite databases without a log
// Each figure is the median of 5 runs (1 with --quick), with the smallest and largest.
//
//   swift run -c release compare [--quick] [--output FILE]
import CommandLog
import Foundation
import GRDB
import GRDBSQLite
import ShardLog
import BenchmarkSupport

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let outputPath = arguments.firstIndex(of: "--output").map { arguments[$0 + 1] } ?? "compare.json"
let runs = quick ? 1 : 5
let window: Duration = quick ? .seconds(1) : .seconds(2)
let personaCount = 64
let work = NSTemporaryDirectory() + "/shardlog-compare-\(getpid())"
try? FileManager.default.removeItem(atPath: work)
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }

let figures = Figures(nameWidth: 52, valueFormat: "%12.0f")
/// Reports the median of `samples` with its spread, against a baseline's median.
func report(_ name: String, _ samples: [Double], _ unit: String, baseline: [Double]? = nil, baselineName: String? = nil, goal: String? = nil) {
    figures.report(
        name, median(samples), unit, baseline: baseline.map(median), baselineName: baselineName, goal: goal,
        extra: ["samples": samples, "min": samples.min()!, "max": samples.max()!, "runs": samples.count])
}
func fresh(_ name: String) -> String {
    let path = work + "/" + name
    try? FileManager.default.removeItem(atPath: path)
    return path
}

print("ShardLog compared (\(quick ? "quick" : "full")): \(runs) run(s) of \(window) per figure, median (min–max); \(ProcessInfo.processInfo.activeProcessorCount) cores")
print(String(repeating: "-", count: 110))

// MARK: - BENCH-010 durable writes

let contentWords = ["likes green tea in the morning", "asked about the quarterly report", "is learning Italian", "planned a trip to Lisbon"]
func personaID(_ writer: Int) -> String { "persona-\(writer % personaCount)" }
func memory(_ writer: Int, _ i: Int, _ run: Int) -> MemoryCreation {
    MemoryCreation(
        id: "r\(run)-w\(writer)-\(i)", personaId: personaID(writer), name: "memory \(i) of writer \(writer)",
        content: "The user \(contentWords[i % contentWords.count]) (note \(i)).", tags: ["fact", "work"], importance: i % 101)
}

/// ShardLog: `writers` tasks execute one addMemory each, without pause, for `window`.
func shardLogWrites(shards: Int, durability: Durability, writers: Int, run: Int) async throws -> Double {
    var configuration = StoreConfiguration()
    configuration.shardCount = shards
    configuration.durability = durability
    let store = try await ShardStore.open(at: fresh("store"), configuration: configuration)
    try await store.execute((0..<personaCount).map { (.createPersona(PersonaCreation(id: "persona-\($0)", shard: "", name: "P\($0)")), Envelope()) })
    let deadline = ContinuousClock.now + window
    let start = ContinuousClock.now
    let counts = try await withThrowingTaskGroup(of: Int.self) { group in
        for w in 0..<writers {
            group.addTask {
                var i = 0
                while ContinuousClock.now < deadline {
                    try await store.execute(.addMemory(memory(w, i, run)))
                    i += 1
                }
                return i
            }
        }
        return try await group.reduce(0, +)
    }
    let rate = Double(counts) / seconds(ContinuousClock.now - start)
    try await store.close()
    return rate
}

/// Runs `writers` threads until `window` has passed; each calls `body(writer, i)` in turn.
/// Returns operations per second.
func threadedWrites(writers: Int, _ body: @escaping @Sendable (Int, Int) throws -> Void) -> Double {
    let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: writers)
    counts.initialize(repeating: 0)
    defer { counts.deallocate() }
    nonisolated(unsafe) let slots = counts
    let deadline = ContinuousClock.now + window
    let start = ContinuousClock.now
    let group = DispatchGroup()
    for w in 0..<writers {
        group.enter()
        Thread {
            var i = 0
            while ContinuousClock.now < deadline {
                do { try body(w, i) } catch { fatalError("a baseline write failed: \(error)") }
                i += 1
            }
            slots[w] = i
            group.leave()
        }.start()
    }
    group.wait()
    return Double(counts.reduce(0, +)) / seconds(ContinuousClock.now - start)
}

let memoryInsert = SQLiteBaseline.insertSQL("memories")
let personaInsert = SQLiteBaseline.insertSQL("personas")
func insertMemory(_ db: Database, _ m: MemoryCreation) throws {
    let now = Int64(Date().timeIntervalSince1970 * 1e6)
    try db.cachedStatement(sql: memoryInsert).execute(arguments: [
        m.id, m.personaId, "text", m.name, m.content, nil, "[\"fact\",\"work\"]", m.importance, "hot", nil, nil, 0, nil, now, now, nil,
    ])
}
func insertPersona(_ db: Database, _ id: String) throws {
    try db.cachedStatement(sql: personaInsert).execute(arguments: [id, id, "", "{}", "{}", "{}", 0, 0, 0])
}

/// N SQLite databases (N = 1: "one SQLite database"), the persona placed by the ring, one
/// queue per database, one synchronous=FULL transaction per write.
func sqliteWrites(databases: Int, writers: Int, run: Int) throws -> Double {
    let ids = Router.defaultShardIDs(count: databases)
    let router = Router(strategy: .hash, shards: ids)
    var queues: [String: DatabaseQueue] = [:]
    for id in ids { queues[id] = try SQLiteBaseline.create(fresh("\(id).sqlite")) }
    for p in 0..<personaCount {
        let id = "persona-\(p)"
        try queues[router.shard(for: id)]!.write { db in try insertPersona(db, id) }
    }
    let placed = (0..<writers).map { queues[router.shard(for: personaID($0))]! }
    let rate = threadedWrites(writers: writers) { w, i in
        try placed[w].write { db in try insertMemory(db, memory(w, i, run)) }
    }
    for queue in queues.values { try queue.close() }
    return rate
}

let writerCounts = quick ? [1, 16, 64] : [1, 4, 16, 64]
var ceiling: [Int: [Double]] = [:]
var sqliteFull: [Int: [Double]] = [:]
var shardLogAlways: [Int: [Int: [Double]]] = [:]  // shards → writers → samples

for writers in writerCounts {
    var c: [Double] = []
    var s: [Double] = []
    for _ in 0..<runs {
        c.append(GroupCommitCeiling.run(threads: writers, duration: window, directory: work))
        s.append(try sqliteWrites(databases: 1, writers: writers, run: 0))
    }
    ceiling[writers] = c
    sqliteFull[writers] = s
    report("group-commit ceiling, \(writers) threads", c, "ops/s")
    report("sqlite FULL (one database), \(writers) writers", s, "ops/s")
}
for writers in quick ? [16] : writerCounts {
    var samples: [Double] = []
    for _ in 0..<runs { samples.append(try sqliteWrites(databases: 4, writers: writers, run: 0)) }
    report("sqlite ×4, no log, \(writers) writers", samples, "ops/s", baseline: sqliteFull[writers], baselineName: "sqlite FULL")
}
for shards in quick ? [1, 4] : [1, 2, 4, 8] {
    for writers in writerCounts {
        var samples: [Double] = []
        for run in 0..<runs { samples.append(try await shardLogWrites(shards: shards, durability: .always, writers: writers, run: run)) }
        shardLogAlways[shards, default: [:]][writers] = samples
        let goal = writers >= 16 ? "≥ 8× sqlite FULL" : nil
        report("shardlog \(shards) shard\(shards == 1 ? "" : "s"), always, \(writers) writers", samples, "ops/s",
               baseline: sqliteFull[writers], baselineName: "sqlite FULL", goal: goal)
        if shards == 4 {
            report("  the same against the group-commit ceiling", samples, "ops/s", baseline: ceiling[writers], baselineName: "ceiling",
                   goal: writers >= 16 ? "≥ 0.7" : nil)
        }
    }
}
for (label, durability) in [("interval(10 ms)", Durability.interval(.milliseconds(10))), ("none", Durability.none)] {
    for writers in quick ? [16] : [1, 16, 64] {
        var samples: [Double] = []
        for run in 0..<runs { samples.append(try await shardLogWrites(shards: 4, durability: durability, writers: writers, run: run)) }
        report("shardlog 4 shards, \(label), \(writers) writers", samples, "ops/s",
               baseline: shardLogAlways[4]?[writers], baselineName: "shardlog always")
    }
}

// MARK: - BENCH-020 bulk import

let parameters = GeneratedWorkload.Parameters(
    personas: quick ? 40 : 200, memoriesPerPersona: quick ? 50 : 250, conversationsPerPersona: quick ? 2 : 10, seed: 1)
let workload = Array(GeneratedWorkload(parameters))
/// Each table's insert, prepared once per connection (GRDB's statement cache), as a
/// developer writing a bulk import would.
let inserts = Dictionary(uniqueKeysWithValues: SQLiteBaseline.tables.map { ($0.0, SQLiteBaseline.insertSQL($0.0)) })
var importSamples: [Double] = []
var baselineSamples: [Double] = []
for _ in 0..<runs {
    // ShardLog: units of 1,000 commands at durability none; close syncs the log.
    var configuration = StoreConfiguration()
    configuration.durability = .none
    let directory = fresh("import")
    let store = try await ShardStore.open(at: directory, configuration: configuration)
    var start = ContinuousClock.now
    var index = 0
    while index < workload.count {
        let end = min(index + 1_000, workload.count)
        try await store.execute(Array(workload[index..<end]))
        index = end
    }
    try await store.close()
    let shardLogSeconds = seconds(ContinuousClock.now - start)
    // The same rows, read back per shard, into N databases without a log: 1,000 rows per
    // transaction, synchronous off during the load, one sync per file at the end.
    var perShard: [(String, [(String, [DatabaseValue])])] = []
    var rowCount = 0
    for shard in Router.defaultShardIDs(count: 4) {
        let queue = try DatabaseQueue(path: directory + "/shards/\(shard).sqlite")
        var rows: [(String, [DatabaseValue])] = []
        try queue.read { db in
            for (table, columns) in SQLiteBaseline.tables {
                for row in try Row.fetchAll(db, sql: "SELECT \(columns) FROM \(table)") { rows.append((table, (0..<row.count).map { row[$0] as DatabaseValue })) }
            }
        }
        try queue.close()
        rowCount += rows.count
        perShard.append((shard, rows))
    }
    importSamples.append(Double(rowCount) / shardLogSeconds)
    var queues: [DatabaseQueue] = []
    for (shard, _) in perShard { queues.append(try SQLiteBaseline.create(fresh("bulk-\(shard).sqlite"), synchronous: "OFF")) }
    start = ContinuousClock.now
    for (queue, (_, rows)) in zip(queues, perShard) {
        var offset = 0
        while offset < rows.count {
            let end = min(offset + 1_000, rows.count)
            try queue.write { db in
                for (table, values) in rows[offset..<end] { try db.cachedStatement(sql: inserts[table]!).execute(arguments: StatementArguments(values)) }
            }
            offset = end
        }
    }
    for queue in queues { try queue.close() }
    for (shard, _) in perShard {
        let fd = open(work + "/bulk-\(shard).sqlite", O_RDONLY)
        fsync(fd)
        close(fd)
    }
    baselineSamples.append(Double(rowCount) / seconds(ContinuousClock.now - start))
}
report("sqlite ×4, no log: bulk import of \(parameters.commandCount) commands", baselineSamples, "rows/s")
report("shardlog 4 shards: the same import (log + projections)", importSamples, "rows/s",
       baseline: baselineSamples, baselineName: "sqlite ×4, no log", goal: "≥ 0.5")

var uts = utsname()
uname(&uts)
let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
try figures.write(to: outputPath, [
    "mode": quick ? "quick" : "full", "runs": runs, "windowSeconds": seconds(window),
    "machine": ["cores": ProcessInfo.processInfo.activeProcessorCount, "memoryBytes": ProcessInfo.processInfo.physicalMemory, "kernel": release],
    "sqliteVersion": String(cString: sqlite3_libversion()),
    "workload": ["personas": parameters.personas, "memoriesPerPersona": parameters.memoriesPerPersona, "conversationsPerPersona": parameters.conversationsPerPersona, "seed": parameters.seed],
])
