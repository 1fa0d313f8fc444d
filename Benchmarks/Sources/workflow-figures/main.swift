// The workflows' figures (issue 4), each against a baseline measured in the same run:
//   write latency to a persona during its hot migration  vs  the same writes without one
//   the share of personas a fifth shard's ring position claims  vs  the ideal 1/(N+1)
//   a rebalance after adding that shard: moves, rows moved, imbalance before and after
//
//   swift run -c release workflow-figures [--quick] [--output FILE]
import CommandLog
import Foundation
import ShardLog
import BenchmarkSupport

let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let outputPath = arguments.firstIndex(of: "--output").map { arguments[$0 + 1] } ?? "workflow-figures.json"
let hotMemories = quick ? 2_000 : 10_000
let dimension = 384
let work = NSTemporaryDirectory() + "/shardlog-workflow-figures-\(getpid())"
try? FileManager.default.removeItem(atPath: work)
defer { try? FileManager.default.removeItem(atPath: work) }

let figures = Figures(nameWidth: 62, valueFormat: "%12.3f")
func report(_ name: String, _ value: Double, _ unit: String, baseline: Double? = nil, baselineName: String? = nil, goal: String? = nil, extra: [String: Any] = [:]) {
    figures.report(name, value, unit, baseline: baseline, baselineName: baselineName, goal: goal, extra: extra)
}

print("ShardLog workflow figures (\(quick ? "quick" : "full")): a persona with \(hotMemories) memories (\(dimension)-dimension embeddings), durability always")
print(String(repeating: "-", count: 110))

// 1. Hot migration under a continuous writer to the same persona.
var configuration = StoreConfiguration()
configuration.embeddingDimension = dimension
configuration.durability = .always
let store = try await ShardStore.open(at: work + "/hot", configuration: configuration)
nonisolated(unsafe) var rng = SeededGenerator(seed: 5)
func embedding() -> [Float] { (0..<dimension).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 } }
/// A persona with `hotMemories` memories and a conversation: each round migrates a fresh one,
/// so every round moves the same rows.
func loadHotPersona(_ persona: String) async throws {
    try await store.execute(.createPersona(PersonaCreation(id: persona, shard: "", name: "Hot")))
    var unit: [(Command, Envelope)] = []
    for m in 0..<hotMemories {
        unit.append((.addMemory(MemoryCreation(
            id: String(format: "\(persona)-%06d", m), personaId: persona, name: "memory \(m)", content: "The user mentioned detail \(m) about topic \(rng.next() % 50).",
            summary: "detail \(m)", tags: ["tag\(m % 7)"], importance: Int(rng.next() % 101), tier: [.hot, .warm, .cold][m % 3],
            embedding: embedding(), embeddingModel: "all-MiniLM-L6-v2")), Envelope()))
        if unit.count == 1_000 {
            try await store.execute(unit)
            unit = []
        }
    }
    try await store.execute(.createConversation(id: "\(persona)-c", personaId: persona, title: "chat"))
}

/// Writes to the hot persona until `stop` is set: a new memory, an edit, a message, in turn.
/// Returns each write's latency (s) with its start time, and the failures.
final class Writer: @unchecked Sendable {
    let lock = NSLock()
    var stop = false
    var latencies: [(start: ContinuousClock.Instant, seconds: Double)] = []
    var failures: [String] = []
}
func runWriter(_ writer: Writer, round: String, persona: String) async {
    let clock = ContinuousClock()
    var i = 0
    while !writer.lock.withLock({ writer.stop }) {
        let start = clock.now
        do {
            switch i % 3 {
            case 0: try await store.execute(.addMemory(MemoryCreation(id: "\(round)-\(i)", personaId: persona, name: "new", content: "written during \(round)")))
            case 1: try await store.execute(.updateMemory(MemoryPatch(id: String(format: "\(persona)-%06d", i * 7919 % hotMemories), content: "edited \(round) \(i)")))
            default: try await store.execute(.addMessage(conversationId: "\(persona)-c", role: .user, content: "message \(i)"))
            }
            let elapsed = seconds(clock.now - start)
            writer.lock.withLock { writer.latencies.append((start, elapsed)) }
        } catch {
            writer.lock.withLock { writer.failures.append("\(error)") }
        }
        i += 1
    }
}

// Rounds of: a fresh persona is loaded; the writer writes to it alone for a few seconds (the
// baseline), then during its migration to another shard. Each round gives a p99 ratio
// against its own baseline; the figure is the median over the rounds, with the spread,
// because one window of latencies on a shared 2-core machine moves by 2× on its own.
let rounds = quick ? 1 : 5
let clock = ContinuousClock()
var ratios: [Double] = []
var p99Without: [Double] = []
var p99During: [Double] = []
var p50Without: [Double] = []
var p50During: [Double] = []
var maxDuring: [Double] = []
var migrationSeconds: [Double] = []
var rowsCopied = 0
var writesDuring = 0
var failures = 0
for round in 0..<rounds {
    let persona = "hot\(round)"
    try await loadHotPersona(persona)
    let baselineWriter = Writer()
    let baselineTask = Task { await runWriter(baselineWriter, round: "baseline\(round)", persona: persona) }
    try await Task.sleep(for: .seconds(quick ? 2 : 3))
    baselineWriter.lock.withLock { baselineWriter.stop = true }
    await baselineTask.value

    let source = store.shardForPersona(persona)!
    let target = store.shardIDs.first { $0 != source }!
    let duringWriter = Writer()
    let duringTask = Task { await runWriter(duringWriter, round: "during\(round)", persona: persona) }
    try await Task.sleep(for: .milliseconds(200))  // the writer is in its stride when the migration starts
    let migrationStart = clock.now
    let migration = try await store.migratePersona(persona, to: target)
    let migrationEnd = clock.now
    duringWriter.lock.withLock { duringWriter.stop = true }
    await duringTask.value
    precondition(migration.phase == .completed, "the migration ended \(migration.phase)")
    let during = duringWriter.latencies.filter { $0.start >= migrationStart && $0.start < migrationEnd }.map(\.seconds)
    let without = baselineWriter.latencies.map(\.seconds)
    if ProcessInfo.processInfo.environment["SHARDLOG_LATENCY_TRACE"] != nil {
        let slow = duringWriter.latencies.filter { $0.start >= migrationStart && $0.start < migrationEnd && $0.seconds > 0.003 }
        for (start, latency) in slow { print(String(format: "slow write at %.3f s: %.1f ms", seconds(start - migrationStart), latency * 1e3)) }
    }
    p99Without.append(percentile(without, 0.99) * 1e3)
    p99During.append(percentile(during, 0.99) * 1e3)
    p50Without.append(percentile(without, 0.5) * 1e3)
    p50During.append(percentile(during, 0.5) * 1e3)
    maxDuring.append((during.max() ?? 0) * 1e3)
    ratios.append(p99During.last! / p99Without.last!)
    migrationSeconds.append(seconds(migrationEnd - migrationStart))
    rowsCopied = migration.rowsCopied
    writesDuring += during.count
    failures += duringWriter.failures.count + baselineWriter.failures.count
    print(String(format: "  round %d: %@ → %@, %.2f s, p99 %.3f ms without, %.3f ms during (%.2f×)",
                 round + 1, source, target, migrationSeconds.last!, p99Without.last!, p99During.last!, ratios.last!))
}
report("hot migration of \(rowsCopied) rows (batches of 1,000), median of \(rounds)", median(migrationSeconds), "s",
       extra: ["samples": migrationSeconds, "rowsPerSecond": Double(rowsCopied) / median(migrationSeconds)])
report("  writes to that persona during the migrations", Double(writesDuring), "writes")
report("  failed writes", Double(failures), "writes", goal: "0")
report("write latency p50 without a migration (median)", median(p50Without), "ms", extra: ["samples": p50Without])
report("write latency p99 without a migration (median)", median(p99Without), "ms", extra: ["samples": p99Without])
report("write latency p50 during the migration (median)", median(p50During), "ms", baseline: median(p50Without), baselineName: "without",
       extra: ["samples": p50During])
report("write latency p99 during the migration (median)", median(p99During), "ms", baseline: median(p99Without), baselineName: "without",
       extra: ["samples": p99During])
report("  p99 during / p99 without, per round: median", median(ratios), "×", goal: "≤ 2.0",
       extra: ["samples": ratios, "min": ratios.min()!, "max": ratios.max()!])
report("write latency max during the migration (median)", median(maxDuring), "ms", extra: ["samples": maxDuring])
try await store.close()

// 2. A fifth shard: the share of personas its ring position claims, then a rebalance.
var light = StoreConfiguration()
light.embeddingDimension = 4
light.durability = .none
let fleet = try await ShardStore.open(at: work + "/fleet", configuration: light)
let personaCount = quick ? 2_000 : 10_000
var batch: [(Command, Envelope)] = []
for p in 0..<personaCount {
    let id = "persona-\(p)"
    batch.append((.createPersona(PersonaCreation(id: id, shard: "", name: "P\(p)")), Envelope()))
    for m in 0..<Int(rng.next() % 8) { batch.append((.addMemory(MemoryCreation(id: "\(id)-m\(m)", personaId: id, name: "n", content: "c")), Envelope())) }
    if batch.count > 2_000 {
        try await fleet.execute(batch)
        batch = []
    }
}
try await fleet.execute(batch)
let addition = try await fleet.addShard("shard_04")
report("share of \(personaCount) personas the ring gives a fifth shard", addition.share, "", baseline: 0.2, baselineName: "ideal 1/(N+1)")
let before = try fleet.rebalanceAnalysis()
let rebalanceStart = clock.now
let plan = try await fleet.applyRebalance()
let rebalanceSeconds = seconds(clock.now - rebalanceStart)
let after = try fleet.rebalanceAnalysis()
let movedRecords = plan?.moves.reduce(0) { $0 + $1.records } ?? 0
let totalRecords = before.shards.reduce(0) { $0 + $1.records }
report("rebalance after adding it: imbalance (max/mean records) before", before.imbalance, "")
report("  imbalance after", after.imbalance, "", goal: "≤ 1.2 (maxImbalance)")
report("  moves / share of records moved", Double(plan?.moves.count ?? 0), "moves", extra: ["recordsMoved": movedRecords, "shareOfRecords": Double(movedRecords) / Double(max(1, totalRecords)), "seconds": rebalanceSeconds])
try await fleet.close()

try figures.write(to: outputPath, [
    "machine": ["cores": ProcessInfo.processInfo.activeProcessorCount, "memoryBytes": ProcessInfo.processInfo.physicalMemory],
    "mode": quick ? "quick" : "full",
])
