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
let work = NSTemporaryDirectory() + "/shardlog-workflow-figures-\(getpid())"
try? FileManager.default.removeItem(atPath: work)
defer { try? FileManager.default.removeItem(atPath: work) }

let figures = Figures(nameWidth: 62, valueFormat: "%12.3f")
func report(_ name: String, _ value: Double, _ unit: String, baseline: Double? = nil, baselineName: String? = nil, goal: String? = nil, extra: [String: Any] = [:]) {
    figures.report(name, value, unit, baseline: baseline, baselineName: baselineName, goal: goal, extra: extra)
}

print("ShardLog workflow figures (\(quick ? "quick" : "full")): a persona with \(hotMemories) memories (384-dimension embeddings), durability always")
print(String(repeating: "-", count: 110))

// 1. Hot migration under a continuous writer to the same persona (BenchmarkSupport/HotMigration.swift).
let hot = try await HotMigration(directory: work + "/hot", hotMemories: hotMemories, baselineSeconds: quick ? 2 : 3)
let rounds = quick ? 1 : 5
var done: [HotMigration.Round] = []
for index in 0..<rounds {
    let round = try await hot.round(index)
    done.append(round)
    print(String(format: "  round %d: %@ → %@, %.2f s, p99 %.3f ms without, %.3f ms during (%.2f×)",
                 index + 1, round.source, round.target, round.seconds, round.p99Without, round.p99During, round.ratio))
}
let ratios = done.map(\.ratio)
let p99Without = done.map(\.p99Without), p99During = done.map(\.p99During)
let p50Without = done.map(\.p50Without), p50During = done.map(\.p50During)
let maxDuring = done.map(\.maxDuring)
let migrationSeconds = done.map(\.seconds)
let rowsCopied = done.last!.rowsCopied
let writesDuring = done.reduce(0) { $0 + $1.writesDuring }
let failures = done.reduce(0) { $0 + $1.failures }
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
try await hot.close()

// 2. A fifth shard: the share of personas its ring position claims, then a rebalance.
var rng = SeededGenerator(seed: 5)
let clock = ContinuousClock()
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
report("rebalance after adding it: imbalance (max(max/mean, 2 − min/mean) of records) before", before.imbalance, "")
report("  imbalance after", after.imbalance, "", goal: "≤ 1.2 (maxImbalance)", extra: ["minOverMean": after.minOverMean, "maxOverMean": after.maxOverMean, "personaImbalance": after.personaImbalance])
report("  moves / share of records moved", Double(plan?.moves.count ?? 0), "moves", extra: ["recordsMoved": movedRecords, "shareOfRecords": Double(movedRecords) / Double(max(1, totalRecords)), "seconds": rebalanceSeconds])
try await fleet.close()

try figures.write(to: outputPath, [
    "machine": ["cores": ProcessInfo.processInfo.activeProcessorCount, "memoryBytes": ProcessInfo.processInfo.physicalMemory],
    "mode": quick ? "quick" : "full",
])
