import CommandLog
import Foundation
import ShardLog

/// The hot-migration measurement (issue 4's figure, BENCH-070), shared by `workflow-figures`
/// and `compare`: rounds of — a fresh persona with `hotMemories` memories (384-float
/// embeddings) is loaded; one task writes to it without pause for a few seconds alone (the
/// baseline), then during its migration to another shard. Each round gives a p99 ratio
/// against its own baseline: one window of latencies on a shared 2-core machine moves by 2×
/// on its own.
public struct HotMigration: Sendable {
    public struct Round: Sendable {
        public var source: String
        public var target: String
        public var seconds: Double
        public var rowsCopied: Int
        public var p50Without: Double, p99Without: Double  // ms
        public var p50During: Double, p99During: Double, maxDuring: Double  // ms
        public var writesDuring: Int
        public var failures: Int
        public var ratio: Double { p99During / p99Without }
    }

    public let hotMemories: Int
    public let baselineSeconds: Int
    public let dimension = 384
    public let store: ShardStore
    private let rng = Locked(SeededGenerator(seed: 5))

    /// Opens a store in `directory` (durability `always`).
    public init(directory: String, hotMemories: Int, baselineSeconds: Int) async throws {
        var configuration = StoreConfiguration()
        configuration.embeddingDimension = dimension
        configuration.durability = .always
        store = try await ShardStore.open(at: directory, configuration: configuration)
        self.hotMemories = hotMemories
        self.baselineSeconds = baselineSeconds
    }

    private func random() -> UInt64 { rng.withLock { $0.next() } }
    private func embedding() -> [Float] { (0..<dimension).map { _ in Float(Int(random() % 2001) - 1000) / 1000 } }

    /// A persona with `hotMemories` memories and a conversation.
    private func loadHotPersona(_ persona: String) async throws {
        try await store.execute(.createPersona(PersonaCreation(id: persona, shard: "", name: "Hot")))
        var unit: [(Command, Envelope)] = []
        for m in 0..<hotMemories {
            unit.append((.addMemory(MemoryCreation(
                id: String(format: "\(persona)-%06d", m), personaId: persona, name: "memory \(m)", content: "The user mentioned detail \(m) about topic \(random() % 50).",
                summary: "detail \(m)", tags: ["tag\(m % 7)"], importance: Int(random() % 101), tier: [.hot, .warm, .cold][m % 3],
                embedding: embedding(), embeddingModel: "all-MiniLM-L6-v2")), Envelope()))
            if unit.count == 1_000 {
                try await store.execute(unit)
                unit = []
            }
        }
        if !unit.isEmpty { try await store.execute(unit) }
        try await store.execute(.createConversation(id: "\(persona)-c", personaId: persona, title: "chat"))
    }

    /// Writes to the hot persona until `stop` is set: a new memory, an edit, a message, in turn.
    final class Writer: @unchecked Sendable {
        let lock = NSLock()
        var stop = false
        var latencies: [(start: ContinuousClock.Instant, seconds: Double)] = []
        var failures: [String] = []
    }

    private func runWriter(_ writer: Writer, round: String, persona: String) async {
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

    /// One round, on persona `hot<round>`. With `SHARDLOG_LATENCY_TRACE` set, prints each
    /// write slower than 3 ms during the migration.
    public func round(_ round: Int) async throws -> Round {
        let persona = "hot\(round)"
        let clock = ContinuousClock()
        try await loadHotPersona(persona)
        let baselineWriter = Writer()
        let baselineTask = Task { await runWriter(baselineWriter, round: "baseline\(round)", persona: persona) }
        try await Task.sleep(for: .seconds(baselineSeconds))
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
        return Round(
            source: source, target: target, seconds: seconds(migrationEnd - migrationStart), rowsCopied: migration.rowsCopied,
            p50Without: percentile(without, 0.5) * 1e3, p99Without: percentile(without, 0.99) * 1e3,
            p50During: percentile(during, 0.5) * 1e3, p99During: percentile(during, 0.99) * 1e3, maxDuring: (during.max() ?? 0) * 1e3,
            writesDuring: during.count, failures: duringWriter.failures.count + baselineWriter.failures.count)
    }

    public func close() async throws { try await store.close() }
}

/// A value behind a lock (the workload's random generator, shared by tasks).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
