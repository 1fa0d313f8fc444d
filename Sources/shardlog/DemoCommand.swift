import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog demo`: the guided tour `make demo` runs (issue 5). Every step uses the same
/// public API an app would; what each cost is printed at the end.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "A guided tour on a new data directory: load, distribution, reads, a hot migration, a fifth shard and a rebalance, a recovery drill, verification.",
        discussion: """
            Examples:
              shardlog demo
              shardlog demo --personas 20 --memories-per-persona 50 --data-dir /tmp/tour

            The data directory is left in place at the end, so the other subcommands can be
            tried on it.
            """)

    @Option(name: .customLong("data-dir"), help: "Where to create the store (default: a new directory under the system's temporary directory); must not exist yet.")
    var dataDirectory: String?
    @Option(help: "Personas to generate.") var personas = 200
    @Option(help: "Memories per persona (384-dimension embeddings).") var memoriesPerPersona = 250
    @Option(help: "Conversations per persona.") var conversationsPerPersona = 10
    @Option(help: "The workload's seed.") var seed: UInt64 = 1

    func validate() throws {
        guard personas >= 2, memoriesPerPersona >= 1, conversationsPerPersona >= 0 else {
            throw ValidationError("the demo needs at least 2 personas and 1 memory per persona")
        }
    }

    func run() async throws {
        let directory = dataDirectory ?? (NSTemporaryDirectory() + "shardlog-demo-\(getpid())")
        if FileManager.default.fileExists(atPath: directory) {
            throw fail("\(directory) already exists: the demo creates a new store; pass another --data-dir", code: ExitStatus.invalidInput)
        }
        let costs = StepCosts()
        print("ShardLog demo: every change is a command in a checksummed, hash-chained log; each shard's SQLite database is rebuilt from it.")
        print("Data directory: \(directory)")
        // Each step is a method of its own (one long async function also crashed the
        // release-mode optimizer of Swift 6.3.1: CopyPropagation's ownership check).
        let store = try await createStore(directory, costs)
        let parameters = GeneratedWorkload.Parameters(
            personas: personas, memoriesPerPersona: memoriesPerPersona, conversationsPerPersona: conversationsPerPersona, seed: seed)
        try await load(parameters, into: store, costs)
        heading(3, "How the data spread over the shards")
        try printDistribution(store)
        let persona = firstPersona(parameters)
        try await readMemories(of: persona, in: store, costs)
        let migration = try await migrate(persona, in: store, costs)
        try await addShardAndRebalance(store, costs)
        try await recoveryDrill(closing: store, directory, shard: "shard_01", costs)
        try await verify(directory, costs)
        heading(9, "What each step cost")
        let width = costs.steps.map(\.step.count).max() ?? 0
        for cost in costs.steps {
            print("   " + cost.step.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: " %8.2f s   ", cost.seconds) + cost.detail)
        }
        print("\nThe store is left at \(directory). Go on with, for example:")
        print("  shardlog persona list --data-dir \(directory)")
        print("  shardlog migration show \(migration.id) --data-dir \(directory)")
        print("  shardlog log --data-dir \(directory) --type migrationCutOver")
        print("  shardlog shards --data-dir \(directory)")
    }

    func heading(_ n: Int, _ text: String) { print("\n\(n). \(text)") }

    func createStore(_ directory: String, _ costs: StepCosts) async throws -> ShardStore {
        heading(1, "Create a store with 4 shards (consistent hashing, 150 virtual nodes each)")
        var configuration = StoreConfiguration()
        configuration.shardCount = 4
        let store = try await costs.measure("create the store") { (try await ShardStore.open(at: directory, configuration: configuration), "4 shards") }
        print("   shards: \(store.shardIDs.joined(separator: ", "))")
        return store
    }

    func load(_ parameters: GeneratedWorkload.Parameters, into store: ShardStore, _ costs: StepCosts) async throws {
        let total = parameters.commandCount
        heading(2, "Load a generated workload: \(personas) personas, \(personas * memoriesPerPersona) memories (tags, tiers, 384-dimension embeddings), \(personas * conversationsPerPersona) conversations with messages — \(total) commands")
        let bar = ProgressBar(total: total)
        try await costs.measure("load \(total) commands") {
            var unit: [(Command, Envelope)] = []
            var done = 0
            for entry in GeneratedWorkload(parameters) {
                unit.append(entry)
                if unit.count == 1_000 {
                    try await store.execute(unit)
                    done += unit.count
                    unit = []
                    bar.show(done)
                }
            }
            if !unit.isEmpty { try await store.execute(unit) }
            bar.finish()
            return ((), "durability always, units of 1,000 commands")
        }
        let seconds = costs.steps.last!.seconds
        print(String(format: "   %d commands in %.1f s (%.0f commands/s), each durable in the log before it was applied", total, seconds, Double(total) / seconds))
    }

    func firstPersona(_ parameters: GeneratedWorkload.Parameters) -> String {
        for (command, _) in GeneratedWorkload(parameters) {
            if case .createPersona(let p) = command { return p.id }
        }
        preconditionFailure("the workload creates personas first")
    }

    func readMemories(of persona: String, in store: ShardStore, _ costs: StepCosts) async throws {
        heading(4, "Read a persona's memories (the 5 most important of \(persona), on \(store.shardForPersona(persona)!))")
        let memories = try await costs.measure("read 5 memories of a persona") { (try store.personaMemories(persona, query: MemoryQuery(limit: 5)), "one shard, one index range") }
        for m in memories { print("   importance \(m.importance)  \(m.tier.rawValue)\t\(m.name)") }
    }

    func migrate(_ persona: String, in store: ShardStore, _ costs: StepCosts) async throws -> MigrationWorkflow {
        let source = store.shardForPersona(persona)!
        let target = store.shardIDs.first { $0 != source }!
        heading(5, "Migrate \(persona) from \(source) to \(target), hot (copy in batches, verify by digest, cut over)")
        let progress = WorkflowProgressLine()
        let migration = try await costs.measure("migrate a persona") {
            let m = try await store.migratePersona(persona, to: target, progress: progress.handler)
            TerminalProgress.finish()
            return (m, "\(m.rowsCopied) rows")
        }
        print("   \(migrationLine(migration))")
        print("   its steps, read back from the log (consecutive copy steps on one line):")
        var copies: (first: Int, last: Int, steps: Int, rows: Int)?
        func printCopies() {
            guard let c = copies else { return }
            print("     LSN \(c.first)…\(c.last)\tmigrationCopied × \(c.steps) (\(counted(c.rows, "row")))")
            copies = nil
        }
        for step in try loggedSteps(of: migration, in: store) {
            let lsn = step["lsn"] as! Int
            if step["op"] as? String == "migrationCopied" {
                let rows = step["rows"] as? Int ?? 0
                copies = copies.map { ($0.first, lsn, $0.steps + 1, $0.rows + rows) } ?? (lsn, lsn, 1, rows)
                continue
            }
            printCopies()
            print("     LSN \(lsn)\t\(step["op"]!)")
        }
        printCopies()
        return migration
    }

    func addShardAndRebalance(_ store: ShardStore, _ costs: StepCosts) async throws {
        heading(6, "Add a fifth shard and rebalance")
        let addition = try await costs.measure("add a shard") {
            let a = try await store.addShard("shard_04")
            return (a, "ring plan of \(counted(a.ringPlan.count, "persona"))")
        }
        print(String(format: "   shard_04 created; its ring position claims %d of %d personas (%.1f%%, ideal %.1f%%)",
                     addition.ringPlan.count, addition.personaCount, addition.share * 100, 100.0 / 5))
        let before = try store.rebalanceAnalysis()
        let progress = WorkflowProgressLine()
        let plan = try await costs.measure("rebalance") {
            let plan = try await store.applyRebalance(
                thresholds: RebalanceThresholds(maxRecordsPerShard: .max, maxDiskUsagePerShard: .max, maxImbalance: 1.2),
                progress: progress.handler)
            TerminalProgress.finish()
            return (plan, "\(counted(plan?.moves.count ?? 0, "move"))")
        }
        let after = try store.rebalanceAnalysis()
        let routed = Dictionary(uniqueKeysWithValues: before.personas.map { ($0.id, $0.routedShard) })
        let what = plan.map { p in
            let onRing = p.moves.filter { routed[$0.personaId] == $0.target }.count
            return "\(p.id), \(counted(p.moves.count, "persona")) moved (\(onRing) to the shard their ring position names)"
        } ?? "no plan needed"
        print("   " + what)
        print("   before: " + RebalanceCommand.balanceLine(before, limit: 1.2))
        print("   after:  " + RebalanceCommand.balanceLine(after, limit: 1.2))
        try printDistribution(store)
    }

    /// Takes `shard`'s digest, closes `store`, deletes the shard's file and reopens.
    func recoveryDrill(closing store: ShardStore, _ directory: String, shard: String, _ costs: StepCosts) async throws {
        heading(7, "Recovery drill: delete \(shard)'s database file and rebuild it from the log")
        let digestBefore = try store.digests()[shard]!
        try await store.close()
        let path = StoreLayout(dataDirectory: directory).shardPath(shard)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        print("   deleted \(path)")
        let reopened = try await costs.measure("rebuild a lost shard (reopen)") { (try await ShardStore.open(at: directory), "replays the whole log") }
        let digestAfter = try reopened.digests()[shard]!
        try await reopened.close()
        print("   digest before: \(digestBefore)")
        print("   digest after:  \(digestAfter)")
        guard digestAfter == digestBefore else {
            throw fail("the rebuilt \(shard) differs from the one deleted", code: ExitStatus.failure)
        }
        print("   equal: the rebuilt shard holds exactly the rows it held")
    }

    func verify(_ directory: String, _ costs: StepCosts) async throws {
        heading(8, "Verify the whole log (CRC-32C of every frame, the SHA-256 hash chain, dense LSNs)")
        let summary = try await costs.measure("verify the log") {
            let s = try LogReader(directory: StoreLayout(dataDirectory: directory).logDirectory).verify()
            return (s, "\(s.commandCount) commands")
        }
        print("   sound: \(counted(summary.commandCount, "command")), LSN 1…\(summary.lastLSN), \(summary.frameCount) frames in \(counted(summary.segmentCount, "segment"))")
    }

    /// A bar per shard: personas and memories.
    func printDistribution(_ store: ShardStore) throws {
        let statistics = try store.statistics()
        let most = max(1, statistics.map(\.memories).max() ?? 1)
        for s in statistics {
            let filled = Int((Double(s.memories) / Double(most) * 40).rounded())
            let bar = String(repeating: "█", count: filled) + String(repeating: " ", count: 40 - filled)
            print("   \(s.id)  \(bar) " + String(format: "%6d memories, %4d personas, %5.1f MB", s.memories, s.personas, Double(s.bytesOnDisk) / 1e6))
        }
    }
}

/// What each step of the demo cost.
final class StepCosts {
    private(set) var steps: [(step: String, seconds: Double, detail: String)] = []

    func measure<T>(_ step: String, _ body: () async throws -> (T, String)) async rethrows -> T {
        let start = ContinuousClock.now
        let (value, detail) = try await body()
        steps.append((step, (ContinuousClock.now - start).seconds, detail))
        return value
    }
}

/// A progress bar on a terminal (standard error); quiet when piped.
final class ProgressBar {
    let total: Int
    private var lastPercent = -1
    init(total: Int) { self.total = total }

    func show(_ done: Int) {
        guard TerminalProgress.enabled, total > 0 else { return }
        let percent = min(100, done * 100 / total)
        guard percent != lastPercent else { return }
        lastPercent = percent
        let filled = percent * 30 / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
        FileHandle.standardError.write(Data("\r   [\(bar)] \(percent)%".utf8))
    }

    func finish() { TerminalProgress.finish() }
}
