// ShardLog side by side with what a user would pick instead (issue 6, Specs/Benchmarks.md):
//   durable writes (BENCH-010)  ShardLog (1, 2, 4, 8 shards × durability) against one SQLite
//                               database at synchronous=FULL, N SQLite databases without a
//                               log, and the machine's group-commit ceiling
//   bulk import (BENCH-020)     ShardLog against N SQLite databases without a log
//   hot migration (BENCH-070)   write latency to a persona during its migration against
//                               the same writes without one
// Each figure is the median of 5 runs (1 with --quick), with the smallest and largest.
//
//   swift run -c release compare [--quick] [--output FILE]
//
// One figure alone, for profiling and A/B runs (each prints its result and exits):
//   --writes-profile WRITERS always|none [--window S] [--shards N] [--probe-reads]
//   --ceiling-profile THREADS [--window S]     the group-commit ceiling
//   --migration-profile [--quick]              BENCH-070's rounds, one line each
//   --make-store MEMORIES DIR, --persona-profile DIR
import CommandLog
import Foundation
import GRDB
import GRDBSQLite
import ShardLog
import BenchmarkSupport

let arguments = CommandLine.arguments
if let index = arguments.firstIndex(of: "--child"), arguments.count > index + 3 {
    // BENCH-070: a task whose peak resident memory the parent measures (Stores.swift).
    try await childMain(arguments[index + 1], directory: arguments[index + 2], output: arguments[index + 3])
    exit(0)
}
if let index = arguments.firstIndex(of: "--render"), arguments.count > index + 1 {
    // BENCH-090: charts and the section of Benchmarks/README.md from a run's JSON (Render.swift).
    let path = arguments[index + 1]
    let report = try Report(contentsOf: path)
    try report.writeCharts(into: (path as NSString).deletingLastPathComponent)
    let section = report.markdown(jsonPath: "results/" + (path as NSString).lastPathComponent)
    if let readme = arguments.firstIndex(of: "--readme").map({ arguments[$0 + 1] }) {
        try Report.replaceSection(in: readme, with: section)
        print("updated the performance section of \(readme)")
    } else {
        print(section)
    }
    exit(0)
}
let quick = arguments.contains("--quick")
let outputPath = arguments.firstIndex(of: "--output").map { arguments[$0 + 1] } ?? "compare.json"
let runs = quick ? 1 : 5
let window: Duration = arguments.firstIndex(of: "--window").map { .seconds(Int(arguments[$0 + 1])!) } ?? (quick ? .seconds(1) : .seconds(2))
let personaCount = 64
let work = NSTemporaryDirectory() + "/shardlog-compare-\(getpid())"
try? FileManager.default.removeItem(atPath: work)
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }

let figures = Figures(nameWidth: 52, valueFormat: "%12.0f")
/// Reports the median of `samples` with its spread, against a baseline's median.
/// `key` names the figure for the charts and the README (Specs/Benchmarks.md, BENCH-090).
func report(
    _ name: String, _ samples: [Double], _ unit: String, baseline: [Double]? = nil, baselineName: String? = nil, goal: String? = nil,
    key: String
) {
    figures.report(
        name, median(samples), unit, baseline: baseline.map(median), baselineName: baselineName, goal: goal,
        extra: ["samples": samples, "min": samples.min()!, "max": samples.max()!, "runs": samples.count, "key": key])
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
/// With `probeReads`, a thread of its own also reads a persona every 2 ms meanwhile (each read
/// waits for the writes acknowledged before it to be applied, ENG-003) and the latencies of
/// those reads are printed.
func shardLogWrites(shards: Int, durability: Durability, writers: Int, run: Int, probeReads: Bool = false) async throws -> Double {
    var configuration = StoreConfiguration()
    configuration.shardCount = shards
    configuration.durability = durability
    let store = try await ShardStore.open(at: fresh("store"), configuration: configuration)
    try await store.execute((0..<personaCount).map { (.createPersona(PersonaCreation(id: "persona-\($0)", shard: "", name: "P\($0)")), Envelope()) })
    let deadline = ContinuousClock.now + window
    let start = ContinuousClock.now
    let probe = probeReads ? ReadProbe(store: store, until: deadline) : nil
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
    if let probe {
        let (latencies, failures) = probe.finish()
        print(String(format: "reads during the writes: p50 %.0f µs, p99 %.0f µs, max %.0f µs (%d reads, %d failed)",
                     percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.max() ?? 0, latencies.count, failures))
    }
    try await store.close()
    return rate
}

/// `--probe-reads`: a thread that reads the first writer's persona every 2 ms until `deadline`,
/// timing each read that succeeds and counting those that fail (a failed read is not timed).
final class ReadProbe: @unchecked Sendable {
    // @unchecked Sendable: `latencies` and `failures` are written by the thread and read
    // after `done` is signalled.
    private var latencies: [Double] = []
    private var failures = 0
    private let done = DispatchSemaphore(value: 0)

    init(store: ShardStore, until deadline: ContinuousClock.Instant) {
        let thread = Thread { [self] in
            while ContinuousClock.now < deadline {
                let start = ContinuousClock.now
                do {
                    _ = try store.persona(id: personaID(0))
                    latencies.append(seconds(ContinuousClock.now - start) * 1e6)
                } catch {
                    failures += 1
                }
                Thread.sleep(forTimeInterval: 0.002)
            }
            done.signal()
        }
        thread.start()
    }

    /// The successful reads' latencies in µs and the number of failed reads, once the thread
    /// has ended.
    func finish() -> (latencies: [Double], failures: Int) {
        done.wait()
        return (latencies, failures)
    }
}

if let index = arguments.firstIndex(of: "--writes-profile") {
    // For perf: one ShardLog durable-write figure alone,
    // `--writes-profile WRITERS always|none [--window S] [--shards N] [--probe-reads]` (4 shards
    // unless given; `--probe-reads` also times a read every 2 ms meanwhile).
    let writers = Int(arguments[index + 1])!
    let durability: Durability = arguments[index + 2] == "none" ? .none : .always
    let shards = arguments.firstIndex(of: "--shards").map { Int(arguments[$0 + 1])! } ?? 4
    let rate = try await shardLogWrites(
        shards: shards, durability: durability, writers: writers, run: 0, probeReads: arguments.contains("--probe-reads"))
    print(String(format: "%.0f ops/s", rate))
    exit(0)
}

if let index = arguments.firstIndex(of: "--ceiling-profile") {
    // The group-commit ceiling alone, to put `--writes-profile` beside: `--ceiling-profile
    // THREADS [--window S]`.
    print(String(format: "%.0f ops/s", GroupCommitCeiling.run(threads: Int(arguments[index + 1])!, duration: window, directory: work)))
    try? FileManager.default.removeItem(atPath: work)
    exit(0)
}

/// BENCH-070's rounds (`runs` of them) on a store of their own; `each` sees every round as it ends.
func hotMigrationRounds(_ each: (Int, HotMigration.Round) -> Void = { _, _ in }) async throws -> [HotMigration.Round] {
    let hot = try await HotMigration(directory: fresh("hot"), hotMemories: quick ? 2_000 : 10_000, baselineSeconds: quick ? 1 : 3)
    var rounds: [HotMigration.Round] = []
    for index in 0..<runs {
        rounds.append(try await hot.round(index))
        each(index, rounds[index])
    }
    try await hot.close()
    return rounds
}

if arguments.contains("--migration-profile") {
    // BENCH-070 alone, five rounds (one with --quick), each round's figures on a line.
    _ = try await hotMigrationRounds { index, round in
        print(String(format: "round %d: write p99 %.2f ms during, %.2f ms without (%.2f×), p50 %.2f / %.2f ms, %.1f s, %d failed",
                     index, round.p99During, round.p99Without, round.ratio, round.p50During, round.p50Without, round.seconds, round.failures))
    }
    try? FileManager.default.removeItem(atPath: work)
    exit(0)
}

if let index = arguments.firstIndex(of: "--make-store") {
    // For profiling verify and rebuild: the read figures' store, `--make-store MEMORIES DIR`.
    let memories = Int(arguments[index + 1])!
    try await loadStore(at: arguments[index + 2], GeneratedWorkload.Parameters(
        personas: memories / 1_000, memoriesPerPersona: 1_000, conversationsPerPersona: 2, seed: 7))
    exit(0)
}

if let index = arguments.firstIndex(of: "--persona-profile") {
    // For perf: getPersona on a store made by --make-store, `--persona-profile DIR`.
    let store = try await ShardStore.open(at: arguments[index + 1])
    let ids = try store.allPersonas().map(\.id)
    let start = ContinuousClock.now
    var found = 0
    for i in 0..<200_000 { found += try store.persona(id: ids[i % ids.count]) == nil ? 0 : 1 }
    print(String(format: "%.1f µs per getPersona (%d found)", seconds(ContinuousClock.now - start) / 200_000 * 1e6, found))
    try await store.close()
    exit(0)
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
    report("group-commit ceiling, \(writers) threads", c, "ops/s", key: "writes/ceiling/\(writers)")
    report("sqlite FULL (one database), \(writers) writers", s, "ops/s", key: "writes/sqlite-full/\(writers)")
}
for writers in quick ? [16] : writerCounts {
    var samples: [Double] = []
    for _ in 0..<runs { samples.append(try sqliteWrites(databases: 4, writers: writers, run: 0)) }
    report("sqlite ×4, no log, \(writers) writers", samples, "ops/s", baseline: sqliteFull[writers], baselineName: "sqlite FULL", key: "writes/sqlite-4/\(writers)")
}
for shards in quick ? [1, 4] : [1, 2, 4, 8] {
    for writers in writerCounts {
        var samples: [Double] = []
        for run in 0..<runs { samples.append(try await shardLogWrites(shards: shards, durability: .always, writers: writers, run: run)) }
        shardLogAlways[shards, default: [:]][writers] = samples
        let goal = writers >= 16 ? "≥ 8× sqlite FULL" : nil
        report("shardlog \(shards) shard\(shards == 1 ? "" : "s"), always, \(writers) writers", samples, "ops/s",
               baseline: sqliteFull[writers], baselineName: "sqlite FULL", goal: goal, key: "writes/shardlog-always/\(shards)/\(writers)")
        if shards == 4 {
            report("shardlog 4 shards, always, \(writers) writers, against the ceiling", samples, "ops/s", baseline: ceiling[writers], baselineName: "ceiling",
                   goal: writers >= 16 ? "≥ 0.7" : nil, key: "writes/shardlog-always-vs-ceiling/\(shards)/\(writers)")
        }
    }
}
for (label, durability) in [("interval(10 ms)", Durability.interval(.milliseconds(10))), ("none", Durability.none)] {
    for writers in quick ? [16] : [1, 16, 64] {
        var samples: [Double] = []
        for run in 0..<runs { samples.append(try await shardLogWrites(shards: 4, durability: durability, writers: writers, run: run)) }
        report("shardlog 4 shards, \(label), \(writers) writers", samples, "ops/s",
               baseline: shardLogAlways[4]?[writers], baselineName: "shardlog always", key: "writes/shardlog-\(label.prefix { $0 != "(" })/4/\(writers)")
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
        let rows = try SQLiteBaseline.rows(of: directory, shards: [shard])
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
report("sqlite ×4, no log: bulk import of \(parameters.commandCount) commands", baselineSamples, "rows/s", key: "import/sqlite-4")
report("shardlog 4 shards: the same import (log + projections)", importSamples, "rows/s",
       baseline: baselineSamples, baselineName: "sqlite ×4, no log", goal: "≥ 0.5", key: "import/shardlog")

// MARK: - BENCH-030 rebuild of all shards

do {
    let directory = work + "/import"  // the last import's store
    let allRows = try SQLiteBaseline.rows(of: directory, shards: Router.defaultShardIDs(count: 4))
    let store = try await ShardStore.open(at: directory)
    var rebuild: [Double] = []
    var ceilingLoad: [Double] = []
    for _ in 0..<runs {
        ceilingLoad.append(try SQLiteBaseline.bulkLoad(allRows, path: fresh("ceiling.sqlite")))
        let start = ContinuousClock.now
        try await store.rebuild()
        rebuild.append(Double(allRows.count) / seconds(ContinuousClock.now - start))
    }
    try await store.close()
    report("sqlite bulk-load ceiling: \(allRows.count) rows, one file", ceilingLoad, "rows/s", key: "rebuild/ceiling")
    report("shardlog: rebuild of all 4 shards from the log", rebuild, "rows/s",
           baseline: ceilingLoad, baselineName: "bulk-load ceiling", goal: "≥ 0.8", key: "rebuild/shardlog")
}

// MARK: - BENCH-040 reads, BENCH-050 verification, BENCH-060 memory

/// Microseconds `body` takes.
func microseconds<T>(_ body: () throws -> T) rethrows -> (Double, T) {
    let start = ContinuousClock.now
    let value = try body()
    return (seconds(ContinuousClock.now - start) * 1e6, value)
}

// MARK: - BENCH-070 hot migration under concurrent writes (BenchmarkSupport/HotMigration.swift)

do {
    let rounds = try await hotMigrationRounds()
    let failed = rounds.reduce(0) { $0 + $1.failures }
    precondition(failed == 0, "\(failed) writes failed during the hot migrations")
    report("hot migration of \(rounds[0].rowsCopied) rows: write p99 during it", rounds.map { $0.p99During * 1e3 }, "µs",
           baseline: rounds.map { $0.p99Without * 1e3 }, baselineName: "the same writes without one (lower is better)",
           key: "migration/p99")
    // Issue 4's figure: each round against its own baseline, the median of those ratios.
    report("  p99 during / p99 without, per round: median", rounds.map(\.ratio), "×", goal: "≤ 2.0", key: "migration/p99-ratio")
    report("  write p50 during it", rounds.map { $0.p50During * 1e3 }, "µs", baseline: rounds.map { $0.p50Without * 1e3 },
           baselineName: "without one", key: "migration/p50")
    report("  the migration itself (\(rounds.reduce(0) { $0 + $1.writesDuring }) writes meanwhile, none failed)", rounds.map(\.seconds), "s",
           key: "migration/seconds")
}

var readSizes: [Int] = []
for memoriesTotal in quick ? [100_000] : [100_000, 1_000_000] {
    readSizes.append(memoriesTotal)
    let readParameters = GeneratedWorkload.Parameters(
        personas: memoriesTotal / 1_000, memoriesPerPersona: 1_000, conversationsPerPersona: 2, seed: 7)
    let directory = fresh("reads-\(memoriesTotal)")
    let loadStart = ContinuousClock.now
    try await loadStore(at: directory, readParameters)
    let unshardedPath = fresh("unsharded.sqlite")
    try unshardedCopy(of: directory, shards: Router.defaultShardIDs(count: 4), to: unshardedPath)
    print("  (\(memoriesTotal) memories: \(readParameters.commandCount) commands loaded and copied into one database in \(Int(seconds(ContinuousClock.now - loadStart))) s)")

    // getPersonaMemories and getPersona, alternating which side goes first; `runs` rounds.
    let store = try await ShardStore.open(at: directory)
    let pool = try DatabasePool(path: unshardedPath)
    let personaIDs = try store.allPersonas().map(\.id)
    var rng = SeededGenerator(seed: 11)
    let perRound = quick ? 400 : 1_000
    var rounds: [String: [Double]] = [:]  // "<read>/<side>/<percentile>" → one value per round
    for round in -1..<runs {  // round -1 warms both up
        var latencies: [String: [Double]] = [:]
        for i in 0..<perRound {
            let id = personaIDs[Int(rng.next() % UInt64(personaIDs.count))]
            let reads: [(String, () throws -> Int)] = [
                ("getPersonaMemories/shardlog", { try store.personaMemories(id, query: MemoryQuery(limit: 50)).count }),
                ("getPersonaMemories/sqlite", { try pool.read { db in try MemoryRecord.personaMemories(db, id, limit: 50).count } }),
                ("getPersona/shardlog", { try store.persona(id: id) == nil ? 0 : 1 }),
                ("getPersona/sqlite", { try pool.read { db in try PersonaRecord.persona(db, id) == nil ? 0 : 1 } }),
            ]
            var counts: [Substring: Int] = [:]
            for (name, read) in i % 2 == 0 ? reads : reads.reversed() {
                let (us, count) = try microseconds(read)
                latencies[name, default: []].append(us)
                if let other = counts.updateValue(count, forKey: name.split(separator: "/")[0]) {
                    precondition(other == count, "\(name): both sides return the same rows")
                }
            }
        }
        guard round >= 0 else { continue }
        for (name, values) in latencies {
            rounds[name + "/p50", default: []].append(percentile(values, 0.5))
            rounds[name + "/p99", default: []].append(percentile(values, 0.99))
        }
    }
    try pool.close()
    try await store.close()
    for read in ["getPersonaMemories", "getPersona"] {
        for p in ["p50", "p99"] {
            let goal = read == "getPersonaMemories" && p == "p50" && memoriesTotal == 1_000_000 ? "≤ 1.0" : nil
            report("\(read) \(p), shardlog, \(memoriesTotal) memories", rounds["\(read)/shardlog/\(p)"]!, "µs",
                   baseline: rounds["\(read)/sqlite/\(p)"]!, baselineName: "one sqlite db (lower is faster)", goal: goal,
                   key: "reads/\(memoriesTotal)/\(read)/shardlog/\(p)")
            report("  \(read) \(p), one sqlite db", rounds["\(read)/sqlite/\(p)"]!, "µs", key: "reads/\(memoriesTotal)/\(read)/sqlite/\(p)")
        }
    }
    let ratio = median(rounds["getPersonaMemories/shardlog/p50"]!) / median(rounds["getPersonaMemories/sqlite/p50"]!)
    print(String(format: "  the original design promised persona queries 60–80%% faster than one database; measured: %.0f%% %@",
                 abs(1 - ratio) * 100, ratio <= 1 ? "faster" : "slower"))

    // BENCH-050: verification of the whole log; BENCH-060: peak resident memory, each in a
    // process of its own.
    var verifyRates: [Double] = []
    var verifyResident: [Double] = []
    var commands = 0
    _ = try runChild("verify", directory: directory, scratch: work)  // BENCH-050: reads the log into the page cache
    for _ in 0..<runs {
        let child = try runChild("verify", directory: directory, scratch: work)
        commands = child.count
        verifyRates.append(Double(child.count) / child.seconds)
        verifyResident.append(Double(child.maxResidentBytes) / 1_048_576)
    }
    let rebuildChild = try runChild("rebuild", directory: directory, scratch: work)
    report("verification of the whole log (\(commands) commands)", verifyRates, "cmds/s", goal: memoriesTotal == 1_000_000 ? "≥ 1,000,000" : nil,
           key: "verify/\(memoriesTotal)")
    report("peak resident memory of verify (\(commands) commands)", verifyResident, "MB", goal: memoriesTotal == 1_000_000 ? "< 300" : nil,
           key: "memory/\(memoriesTotal)/verify")
    report("peak resident memory of rebuild, all shards (\(commands) commands)", [Double(rebuildChild.maxResidentBytes) / 1_048_576], "MB",
           goal: memoriesTotal == 1_000_000 ? "< 300" : nil, key: "memory/\(memoriesTotal)/rebuild")
    try? FileManager.default.removeItem(atPath: directory)
}

var uts = utsname()
uname(&uts)
let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
#if compiler(>=6.3)
let swiftVersion = "6.3"
#elseif compiler(>=6.2)
let swiftVersion = "6.2"
#else
let swiftVersion = "older than 6.2"
#endif
let document: [String: Any] = [
    "mode": quick ? "quick" : "full", "runs": runs, "windowSeconds": seconds(window),
    "date": ISO8601DateFormatter().string(from: Date()),
    "machine": ["cpu": cpu, "cores": ProcessInfo.processInfo.activeProcessorCount, "memoryBytes": ProcessInfo.processInfo.physicalMemory, "kernel": release],
    "sqliteVersion": String(cString: sqlite3_libversion()), "swiftVersion": swiftVersion,
    "readSizes": readSizes,
    "workload": ["personas": parameters.personas, "memoriesPerPersona": parameters.memoriesPerPersona, "conversationsPerPersona": parameters.conversationsPerPersona, "seed": parameters.seed],
]
try figures.write(to: outputPath, document)
// BENCH-090: the charts, next to the JSON.
try Report(contentsOf: outputPath).writeCharts(into: (outputPath as NSString).deletingLastPathComponent.isEmpty ? "." : (outputPath as NSString).deletingLastPathComponent)
