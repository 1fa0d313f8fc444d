// The engine's figures (issue 3), each against a baseline measured in the same run:
//   rebuild throughput  vs  SQLite's own bulk insert of the same rows (prepared inserts,
//                           one transaction, no journal, indexes built after)
//   getPersonaMemories  vs  the same rows in one unsharded SQLite database through GRDB
//
//   swift run -c release engine-figures [--quick] [--output FILE]
import CommandLog
import Foundation
import GRDB
import ShardLog
import BenchmarkSupport

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let outputPath = arguments.firstIndex(of: "--output").map { arguments[$0 + 1] } ?? "engine-figures.json"
let personaCount = quick ? 200 : 1_000
let memoriesPerPersona = quick ? 50 : 100
let dimension = 384
let work = NSTemporaryDirectory() + "/shardlog-engine-figures-\(getpid())"
try? FileManager.default.removeItem(atPath: work)
defer { try? FileManager.default.removeItem(atPath: work) }
let clock = ContinuousClock()

let figures = Figures(nameWidth: 58, valueFormat: "%12.1f")
func report(_ name: String, _ value: Double, _ unit: String, baseline: Double? = nil, baselineName: String? = nil, goal: String? = nil, extra: [String: Any] = [:]) {
    figures.report(name, value, unit, baseline: baseline, baselineName: baselineName, goal: goal, extra: extra)
}

print("ShardLog engine figures (\(quick ? "quick" : "full")): \(personaCount) personas × \(memoriesPerPersona) memories, \(dimension)-dimension embeddings, 4 shards")
print(String(repeating: "-", count: 110))

// 1. Load a store (bulk durability: the figures here are rebuild and reads).
var configuration = StoreConfiguration()
configuration.durability = .none
configuration.embeddingDimension = dimension
let storeDirectory = work + "/store"
let store = try await ShardStore.open(at: storeDirectory, configuration: configuration)
var rng = SeededGenerator(seed: 3)
var unit: [(Command, Envelope)] = []
let loadStart = clock.now
var commandCount = 0
for p in 0..<personaCount {
    let persona = "persona-\(p)"
    unit.append((.createPersona(PersonaCreation(id: persona, shard: "", name: "Persona \(p)", description: "generated")), Envelope()))
    for m in 0..<memoriesPerPersona {
        let embedding = (0..<dimension).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        unit.append((.addMemory(MemoryCreation(
            id: "memory-\(p)-\(m)", personaId: persona, name: "memory \(m)", content: "The user mentioned detail number \(m) about topic \(rng.next() % 50).",
            summary: "detail \(m)", tags: ["tag\(m % 7)", "topic\(m % 11)"], importance: Int(rng.next() % 101),
            tier: [MemoryTier.hot, .warm, .cold][m % 3], embedding: embedding, embeddingModel: "all-MiniLM-L6-v2")), Envelope()))
    }
    unit.append((.createConversation(id: "conversation-\(p)", personaId: persona, title: "chat"), Envelope()))
    for k in 0..<5 { unit.append((.addMessage(conversationId: "conversation-\(p)", role: k % 2 == 0 ? .user : .assistant, content: "message \(k)"), Envelope())) }
    if unit.count >= 5_000 {
        commandCount += unit.count
        try await store.execute(unit)
        unit = []
    }
}
commandCount += unit.count
try await store.execute(unit)
let loadSeconds = seconds(clock.now - loadStart)
report("bulk import through the engine (log + projections)", Double(commandCount) / loadSeconds, "cmds/s")
let statistics = try store.statistics()
let rowCount = statistics.reduce(0) { $0 + $1.personas + $1.memories + $1.conversations + $1.messages }
let largest = statistics.max { $0.memories < $1.memories }!

// 2. SQLite's own bulk insert of the same rows: read them from the shards, then time the insert.
/// SQLite's own bulk insert of the same rows (BenchmarkSupport): rows/s.
func bulkInsert(_ rows: [(String, [DatabaseValue])], path: String) throws -> Double {
    try SQLiteBaseline.bulkLoad(rows, path: path)
}

do {
    // Where a rebuild's time goes: reading and decoding the log alone.
    var count = 0
    let start = clock.now
    try store.forEachLoggedCommand { _ in count += 1 }
    let readSeconds = seconds(clock.now - start)
    report("read + check + decode the whole log (\(count) commands)", Double(count) / readSeconds, "cmds/s", extra: ["seconds": readSeconds])
}

if arguments.contains("--decode-profile") {
    for _ in 0..<20 { try store.forEachLoggedCommand { _ in } }
    try? FileManager.default.removeItem(atPath: work)  // exit skips the defer
    exit(0)
}

if arguments.contains("--rebuild-profile") {
    // For `perf record`: rebuild all shards a few times and stop.
    let one = arguments.contains("--one")
    for _ in 0..<(one ? 15 : 5) {
        let start = clock.now
        var before = rusage(); getrusage(Int32(RUSAGE_SELF.rawValue), &before)
        try await store.rebuild(shards: one ? [largest.id] : nil)
        var after = rusage(); getrusage(Int32(RUSAGE_SELF.rawValue), &after)
        func cpu(_ r: rusage) -> Double { Double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + Double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6 }
        print("rebuild took \(clock.now - start), cpu \(cpu(after) - cpu(before)) s")
    }
    try await store.close()
    try? FileManager.default.removeItem(atPath: work)
    exit(0)
}

let allRows = try SQLiteBaseline.rows(of: storeDirectory, shards: store.shardIDs)
let oneShardRows = try SQLiteBaseline.rows(of: storeDirectory, shards: [largest.id])
var bulkAll: [Double] = []
var bulkOne: [Double] = []
var rebuildAll: [Double] = []
var rebuildOne: [Double] = []
for _ in 0..<(quick ? 1 : 5) {
    bulkAll.append(try bulkInsert(allRows, path: work + "/bulk-all.sqlite"))
    bulkOne.append(try bulkInsert(oneShardRows, path: work + "/bulk-one.sqlite"))
    var start = clock.now
    try await store.rebuild()
    rebuildAll.append(Double(rowCount) / seconds(clock.now - start))
    start = clock.now
    try await store.rebuild(shards: [largest.id])
    rebuildOne.append(Double(oneShardRows.count) / seconds(clock.now - start))
}
report("SQLite bulk insert, all \(allRows.count) rows, one file", median(bulkAll), "rows/s", extra: ["samples": bulkAll])
report("SQLite bulk insert, \(oneShardRows.count) rows of \(largest.id)", median(bulkOne), "rows/s", extra: ["samples": bulkOne])
report("rebuild of one shard (\(largest.id)) from the log", median(rebuildOne), "rows/s", baseline: median(bulkOne), baselineName: "bulk insert", goal: "≥ 0.8", extra: ["samples": rebuildOne])
report("rebuild of all 4 shards in parallel from the log", median(rebuildAll), "rows/s", baseline: median(bulkAll), baselineName: "bulk insert", extra: ["samples": rebuildAll])
report("  all shards in parallel vs one shard alone", median(rebuildAll), "rows/s", baseline: median(rebuildOne), baselineName: "one shard", goal: "> 1")

// 3. getPersonaMemories against one unsharded database holding the same rows (WAL, GRDB pool).
let unshardedPath = work + "/unsharded.sqlite"
_ = try bulkInsert(allRows, path: unshardedPath)
let pool = try DatabasePool(path: unshardedPath)
let sampleCount = quick ? 500 : 3_000
var shardedLatencies: [Double] = []
var unshardedLatencies: [Double] = []
let query = MemoryQuery(limit: 50)
for i in 0..<sampleCount {
    let persona = "persona-\(Int(rng.next() % UInt64(personaCount)))"
    if i % 2 == 0 {
        var start = clock.now
        let a = try store.personaMemories(persona, query: query)
        shardedLatencies.append(seconds(clock.now - start) * 1e6)
        start = clock.now
        let b = try pool.read { db in
            try MemoryRecord.personaMemories(db, persona, limit: 50)
        }
        unshardedLatencies.append(seconds(clock.now - start) * 1e6)
        precondition(a.count == b.count)
    } else {
        var start = clock.now
        let b = try pool.read { db in
            try MemoryRecord.personaMemories(db, persona, limit: 50)
        }
        unshardedLatencies.append(seconds(clock.now - start) * 1e6)
        start = clock.now
        let a = try store.personaMemories(persona, query: query)
        shardedLatencies.append(seconds(clock.now - start) * 1e6)
        precondition(a.count == b.count)
    }
}
let memoriesTotal = personaCount * memoriesPerPersona
report("getPersonaMemories p50, ShardLog (\(memoriesTotal) memories, limit 50)", percentile(shardedLatencies, 0.5), "µs",
       baseline: percentile(unshardedLatencies, 0.5), baselineName: "one SQLite db (ratio: lower is faster)", goal: "≤ 1.0")
report("getPersonaMemories p99, ShardLog", percentile(shardedLatencies, 0.99), "µs",
       baseline: percentile(unshardedLatencies, 0.99), baselineName: "one SQLite db")
print("  (both decode the same rows into MemoryEntity values, embeddings included; the baseline is a plain GRDB record)")
try pool.close()
try await store.close()

try figures.write(to: outputPath, [
    "mode": quick ? "quick" : "full", "personas": personaCount, "memoriesPerPersona": memoriesPerPersona, "embeddingDimension": dimension,
])
