import ArgumentParser
import CommandLog
import Foundation
import ShardLog

// The workflow subcommands (Specs/Workflows.md): shard, migrate, migration, rebalance.

/// A workflow's progress on standard error when it is a terminal (rows, rate, time left);
/// nothing when piped.
final class WorkflowProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private var started: [String: ContinuousClock.Instant] = [:]

    var handler: WorkflowProgressHandler {
        { [self] progress in
            guard TerminalProgress.enabled else { return }
            let now = ContinuousClock.now
            let start = lock.withLock { started[progress.migrationId, default: now] }
            lock.withLock { started[progress.migrationId] = start }
            let elapsed = (now - start).seconds
            let rate = elapsed > 0 ? Double(progress.rowsCopied) / elapsed : 0
            let left = rate > 0 ? Double(max(0, progress.rowsTotal - progress.rowsCopied)) / rate : 0
            let line = String(
                format: "\r\u{1B}[K%@ %@: %d of %d rows (%.0f rows/s, %.0f s left)", progress.migrationId, progress.phase.rawValue,
                progress.rowsCopied, progress.rowsTotal, rate, left)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// A migration's steps as the log has them, in order: each command's fields (`op`, and
/// `rows` for a copy step) with its `lsn` and `time`.
func loggedSteps(of m: MigrationWorkflow, in store: ShardStore) throws -> [[String: Any]] {
    var steps: [[String: Any]] = []
    try store.forEachLoggedCommand(from: m.startedLSN) { entry in
        guard case .workflow(let step) = entry.command, step.migrationId == m.id else { return }
        var o = CommandJSON.fields(entry.command)
        o["lsn"] = Int(entry.lsn.rawValue)
        o["time"] = ISO8601.format(entry.timestamp)
        steps.append(o)
    }
    return steps
}

/// "1 row", "2 rows".
/// Prints a migration as `--json` asks: its object, or its line.
func report(_ m: MigrationWorkflow, json: Bool) {
    if json { printJSON(migrationObject(m)) } else { print(migrationLine(m)) }
}

/// A migration command's end: the progress line cleared, the migration reported, and exit 1
/// unless it reached one of `phases` (completed, unless the command asked to stop earlier).
func reportEnded(_ m: MigrationWorkflow, json: Bool, reaching phases: Set<MigrationWorkflow.Phase> = [.completed]) throws {
    TerminalProgress.finish()
    report(m, json: json)
    if !phases.contains(m.phase) { throw ExitCode(ExitStatus.failure) }
}

/// "1 memory", "2 memories": a count and its noun in English.
func counted(_ n: Int, _ noun: String) -> String {
    guard n != 1 else { return "\(n) \(noun)" }
    if noun.hasSuffix("y") && !["ay", "ey", "oy", "uy"].contains(where: noun.hasSuffix) { return "\(n) \(noun.dropLast())ies" }
    return "\(n) \(noun)s"
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func migrationObject(_ m: MigrationWorkflow) -> [String: Any] {
    var o: [String: Any] = [
        "id": m.id, "kind": m.kind.rawValue, "personaId": m.personaId, "source": m.source, "target": m.target,
        "phase": m.phase.rawValue, "rowsCopied": m.rowsCopied, "batchSize": m.batchSize,
        "startedLSN": Int(m.startedLSN.rawValue), "updatedLSN": Int(m.updatedLSN.rawValue),
        "startedAt": ISO8601.format(m.startedAt), "updatedAt": ISO8601.format(m.updatedAt),
    ]
    if let v = m.memoryId { o["memoryId"] = v }
    if let v = m.reverseOf { o["reverseOf"] = v }
    if let v = m.planId { o["planId"] = v }
    if let v = m.sourceDigest { o["sourceDigest"] = v }
    if let v = m.targetDigest { o["targetDigest"] = v }
    if let v = m.reason { o["reason"] = v }
    return o
}

func migrationLine(_ m: MigrationWorkflow) -> String {
    let what = m.memoryId.map { "memory \($0) of \(m.personaId)" } ?? m.personaId
    var line = "\(m.id)\t\(m.phase.rawValue)\t\(what)\t\(m.source) -> \(m.target)\t\(counted(m.rowsCopied, "row"))"
    if let reverseOf = m.reverseOf { line += "\treverses \(reverseOf)" }
    if let planId = m.planId { line += "\t\(planId)" }
    if let reason = m.reason { line += "\t\(reason)" }
    return line
}

func moveObject(_ move: RebalanceMove) -> [String: Any] {
    ["personaId": move.personaId, "source": move.source, "target": move.target, "records": move.records, "bytes": move.bytes]
}

// MARK: - shard

struct ShardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard", abstract: "Add, remove (or drain) and list shards.",
        discussion: """
            Examples:
              shardlog shard add shard_04 --data-dir ./shardlog-data
              shardlog shard remove shard_01 --drain --data-dir ./shardlog-data
              shardlog shard list --data-dir ./shardlog-data --json
            """,
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an active shard; print the personas the ring now places on it (a plan: nothing moves).",
            discussion: "Example:\n  shardlog shard add shard_04 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The new shard's id (1…64 of A-Z a-z 0-9 _ . -, never used before).") var id: String

        func run() async throws {
            try await withStore(store) { store in
                let addition = try await store.addShard(id)
                if self.store.json {
                    printJSON(["shard": id, "ringPlan": addition.ringPlan, "personas": addition.personaCount, "share": addition.share])
                } else {
                    print(String(
                        format: "added %@; the ring now places %d of %@ on it (%.1f%%; ideal %.1f%%): `shardlog rebalance plan` shows the moves",
                        id, addition.ringPlan.count, counted(addition.personaCount, "persona"), addition.share * 100,
                        100 / Double(store.shards().filter { $0.status == .active }.count)))
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a shard; refused while it owns data, unless --drain moves everything away first.",
            discussion: "Example:\n  shardlog shard remove shard_01 --drain --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The shard's id.") var id: String
        @Flag(help: "Migrate every persona and memory off the shard, then remove it.") var drain = false

        func run() async throws {
            let progress = WorkflowProgressLine()
            try await withStore(store) { store in
                if drain { try await store.drainShard(id, progress: progress.handler) } else { try await store.removeShard(id) }
                TerminalProgress.finish()
                if self.store.json { printJSON(["shard": id, "status": "removed"]) } else { print("removed \(id)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every shard with its status (active, draining, removed) and the personas placed on it.",
            discussion: "Example:\n  shardlog shard list --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withStore(store, recovery: .leave) { store in
                for shard in store.shards() {
                    if self.store.json {
                        printJSON(["id": shard.id, "status": shard.status.rawValue, "personas": shard.personas])
                    } else {
                        print("\(shard.id)\t\(shard.status.rawValue)\t\(counted(shard.personas, "persona"))")
                    }
                }
            }
        }
    }
}

// MARK: - migrate

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Move a persona (hot: writes keep working) or one memory to another shard.",
        discussion: """
            Examples:
              shardlog migrate persona p1 --to shard_02 --batch-size 500 --data-dir ./shardlog-data
              shardlog migrate memory m7 --to shard_03 --data-dir ./shardlog-data
            """,
        subcommands: [Persona.self, Memory.self])

    struct Persona: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Migrate a persona: copy in batches, verify by digest, cut over, complete (WF-020 … WF-026).",
            discussion: "Example:\n  shardlog migrate persona p1 --to shard_02 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The persona's id.") var id: String
        @Option(help: "The target shard.") var to: String
        @Option(name: .customLong("batch-size"), help: "Rows per copy batch (\(EngineLimits.migrationBatchSizeRange.lowerBound)…\(EngineLimits.migrationBatchSizeRange.upperBound); default \(StoreConfiguration().migrationBatchSize)).") var batchSize: Int?
        @Option(name: .customLong("stop-after"),
                help: "Leave the migration at this phase: copied or verified (an addition, for recovery drills: inspect the copy, then `migration resume` or `abort`).")
        var stopAfter: String?

        func run() async throws {
            let stopPhase: MigrationWorkflow.Phase?
            switch stopAfter {
            case nil: stopPhase = nil
            case "copied"?: stopPhase = .copied
            case "verified"?: stopPhase = .verified
            case let other?: throw fail("--stop-after must be copied or verified, not \"\(other)\"", code: ExitStatus.invalidInput)
            }
            let progress = WorkflowProgressLine()
            // A migration left at a phase must stay there when the store closes: no resume on open.
            try await withStore(store, recovery: stopPhase == nil ? .resume : .leave) { store in
                var migration: MigrationWorkflow
                if let stopPhase {
                    migration = try await store.startMigration(id, to: to, batchSize: batchSize)
                    while migration.isUnfinished && migration.phase != stopPhase { migration = try await store.stepMigration(migration.id) }
                } else {
                    migration = try await store.migratePersona(id, to: to, batchSize: batchSize, progress: progress.handler)
                }
                try reportEnded(migration, json: self.store.json, reaching: [.completed, stopPhase ?? .completed])
            }
        }
    }

    struct Memory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move one memory to another shard; it is detached, and its persona's reads still return it (WF-040).",
            discussion: "Example:\n  shardlog migrate memory m7 --to shard_03 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The memory's id.") var id: String
        @Option(help: "The target shard.") var to: String

        func run() async throws {
            try await withStore(store) { store in
                let migration = try await store.migrateMemory(id, to: to)
                report(migration, json: self.store.json)
            }
        }
    }
}

// MARK: - migration

struct MigrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migration", abstract: "List, show, abort, reverse or resume migrations.",
        discussion: """
            These open the store without resuming an interrupted migration, so one can be
            aborted instead (`resume` continues it).

            Examples:
              shardlog migration list --data-dir ./shardlog-data
              shardlog migration show mig-1 --data-dir ./shardlog-data --json
              shardlog migration reverse mig-1 --data-dir ./shardlog-data
            """,
        subcommands: [List.self, Show.self, Abort.self, Reverse.self, Resume.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every migration, oldest first: id, phase, what, source -> target, rows copied.",
            discussion: "Example:\n  shardlog migration list --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withStore(store, recovery: .leave) { store in
                for m in store.migrations() {
                    report(m, json: self.store.json)
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One migration, and each of its steps from the log (LSN, time, step).",
            discussion: "Example:\n  shardlog migration show mig-1 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The migration's id (mig-N).") var id: String

        func run() async throws {
            try await withStore(store, recovery: .leave) { store in
                guard let m = store.migration(id: id) else { throw ShardLogError.notFound(kind: "migration", id: id) }
                let steps = try loggedSteps(of: m, in: store)
                if self.store.json {
                    var o = migrationObject(m)
                    o["steps"] = steps
                    printJSON(o)
                } else {
                    print(migrationLine(m))
                    for step in steps {
                        let extra = (step["rows"] as? Int).map { " (\(counted($0, "row")))" } ?? ""
                        print("  LSN \(step["lsn"]!)\t\(step["time"]!)\t\(step["op"]!)\(extra)")
                    }
                }
            }
        }
    }

    struct Abort: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Abort a migration before its cut-over: the target's copy is dropped (WF-027).",
            discussion: "Example:\n  shardlog migration abort mig-2 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The migration's id.") var id: String

        func run() async throws {
            try await withStore(store, recovery: .leave) { store in
                try await store.abortMigration(id, reason: "aborted with shardlog migration abort")
                report(store.migration(id: id)!, json: self.store.json)
            }
        }
    }

    struct Reverse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a completed migration's persona back, as a new migration linked to it (a rollback).",
            discussion: "Example:\n  shardlog migration reverse mig-1 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The completed migration's id.") var id: String

        func run() async throws {
            let progress = WorkflowProgressLine()
            try await withStore(store) { store in
                let m = try await store.reverseMigration(id, progress: progress.handler)
                try reportEnded(m, json: self.store.json)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Continue an interrupted migration from its last logged step (an addition to the issue's contract).",
            discussion: "Example:\n  shardlog migration resume mig-2 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The migration's id.") var id: String

        func run() async throws {
            let progress = WorkflowProgressLine()
            try await withStore(store, recovery: .leave) { store in
                let m = try await store.resumeMigration(id, progress: progress.handler)
                try reportEnded(m, json: self.store.json)
            }
        }
    }
}

// MARK: - rebalance

struct RebalanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance", abstract: "Analyse the shards' load and move personas until it is under the thresholds.",
        discussion: """
            Thresholds (Specs/Workflows.md, WF-051): at most 1,000,000 records and 1 GiB per shard,
            and every shard's records within 0.8–1.2 of the mean (an imbalance of at most 1.2).
            A plan moves personas from the most to the least loaded shard, those whose ring
            position now names the shard they move to first.

            Examples:
              shardlog rebalance plan --data-dir ./shardlog-data
              shardlog rebalance apply --max-moves 10 --data-dir ./shardlog-data
              shardlog rebalance stop plan-1 --data-dir ./shardlog-data
              shardlog rebalance rollback plan-1 --data-dir ./shardlog-data
            """,
        subcommands: [Plan.self, Apply.self, Stop.self, Rollback.self])

    struct Thresholds: ParsableArguments {
        @Option(name: .customLong("max-records"), help: "Records a shard may hold (default 1000000).") var maxRecords: Int?
        @Option(name: .customLong("max-bytes"), help: "Bytes a shard may take on disk (default 1 GiB).") var maxBytes: Int?
        @Option(name: .customLong("max-imbalance"), help: "How far a shard's records may be from the mean: 1.2 keeps every shard within 0.8–1.2 of it (default 1.2).") var maxImbalance: Double?

        var value: RebalanceThresholds {
            var t = RebalanceThresholds()
            if let maxRecords { t.maxRecordsPerShard = maxRecords }
            if let maxBytes { t.maxDiskUsagePerShard = maxBytes }
            if let maxImbalance { t.maxImbalance = maxImbalance }
            return t
        }
    }

    static func printAnalysis(_ analysis: RebalanceAnalysis, _ moves: [RebalanceMove], json: Bool, thresholds: RebalanceThresholds) {
        let after = analysis.after(moves)
        if json {
            printJSON([
                "imbalance": analysis.imbalance, "problems": analysis.problems(thresholds),
                "shards": analysis.shards.map { ["id": $0.id, "personas": $0.personas, "records": $0.records, "bytesOnDisk": $0.bytesOnDisk] as [String: Any] },
                "moves": moves.map(moveObject),
                "minOverMean": analysis.minOverMean, "maxOverMean": analysis.maxOverMean, "personaImbalance": analysis.personaImbalance,
                "after": balanceObject(after),
            ])
            return
        }
        let widest = max(1, analysis.shards.map(\.records).max() ?? 1)
        for shard in analysis.shards {
            let bar = String(repeating: "#", count: Int((Double(shard.records) / Double(widest) * 40).rounded()))
            print("\(shard.id)\t\(counted(shard.personas, "persona"))\t\(counted(shard.records, "record"))\t\(shard.bytesOnDisk) bytes\t\(bar)")
        }
        let problems = analysis.problems(thresholds)
        print(problems.isEmpty ? "nothing crosses a threshold" : "over: " + problems.joined(separator: "; "))
        for move in moves { print("move \(move.personaId)\t\(move.source) -> \(move.target)\t\(counted(Int(move.records), "record"))\t\(move.bytes) bytes") }
        print("before: " + balanceLine(analysis, limit: thresholds.maxImbalance))
        print("after \(counted(moves.count, "move")): " + balanceLine(after, limit: thresholds.maxImbalance))
    }

    /// "imbalance 1.566 (records 0.434–1.150 of the mean, personas 0.450–1.125; limit 1.200)".
    static func balanceLine(_ a: RebalanceAnalysis, limit: Double) -> String {
        String(format: "imbalance %.3f (records %.3f–%.3f of the mean, personas %.3f–%.3f; limit %.3f)",
               a.imbalance, a.minOverMean, a.maxOverMean, a.personasMinOverMean, a.personasMaxOverMean, limit)
    }

    static func balanceObject(_ a: RebalanceAnalysis) -> [String: Any] {
        ["imbalance": a.imbalance, "minOverMean": a.minOverMean, "maxOverMean": a.maxOverMean,
                "personaImbalance": a.personaImbalance, "personasMinOverMean": a.personasMinOverMean, "personasMaxOverMean": a.personasMaxOverMean,
                "shards": a.shards.map { ["id": $0.id, "personas": $0.personas, "records": $0.records] as [String: Any] }]
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the load per shard and the moves a rebalance would make; nothing is written.",
            discussion: "Example:\n  shardlog rebalance plan --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @OptionGroup var thresholds: Thresholds
        @Option(name: .customLong("max-moves"), help: "At most this many moves.") var maxMoves: Int?

        func run() async throws {
            try await withStore(store, recovery: .leave) { store in
                let (analysis, moves) = try store.planRebalance(thresholds: thresholds.value, maxMoves: maxMoves)
                RebalanceCommand.printAnalysis(analysis, moves, json: self.store.json, thresholds: thresholds.value)
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a plan in the log and carry it out, move by move, then validate (WF-053, WF-054).",
            discussion: "Example:\n  shardlog rebalance apply --max-moves 10 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @OptionGroup var thresholds: Thresholds
        @Option(name: .customLong("max-moves"), help: "At most this many moves.") var maxMoves: Int?

        func run() async throws {
            let progress = WorkflowProgressLine()
            try await withStore(store) { store in
                let before = try store.rebalanceAnalysis()
                guard let plan = try await store.applyRebalance(thresholds: thresholds.value, maxMoves: maxMoves, progress: progress.handler) else {
                    if self.store.json { printJSON(["planId": NSNull(), "moves": [Any]()]) } else { print("nothing crosses a threshold: no plan") }
                    return
                }
                TerminalProgress.finish()
                let after = try store.rebalanceAnalysis()
                if self.store.json {
                    printJSON(["planId": plan.id, "phase": plan.phase.rawValue, "moves": plan.moves.map(moveObject), "imbalance": after.imbalance,
                               "before": RebalanceCommand.balanceObject(before), "after": RebalanceCommand.balanceObject(after)])
                } else {
                    print("\(plan.id) \(plan.phase.rawValue): \(counted(plan.moves.count, "move"))")
                    print("before: " + RebalanceCommand.balanceLine(before, limit: thresholds.value.maxImbalance))
                    print("after: " + RebalanceCommand.balanceLine(after, limit: thresholds.value.maxImbalance))
                }
                if plan.phase != .completed { throw ExitCode(ExitStatus.failure) }
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a plan that an interrupted rebalance left executing (an addition): its completed moves stay; `rollback` reverses them.",
            discussion: """
                Opens the store without resuming the plan, then records rebalanceStopped with the reason.
                A migration of the plan that was interrupted stays as it is (`migration resume` or `abort`).

                Example:
                  shardlog rebalance stop plan-1 --reason "maintenance window over" --data-dir ./shardlog-data
                """)
        @OptionGroup var store: StoreOptions
        @Argument(help: "The plan's id (plan-N).") var planId: String
        @Option(help: "Why it is stopped; recorded in the log.") var reason = "stopped by request"

        func run() async throws {
            try await withStore(store, recovery: .leave) { store in
                try await store.stopRebalance(planId, reason: reason)
                let phase = store.plan(id: planId)?.phase.rawValue ?? "stopped"
                if self.store.json { printJSON(["planId": planId, "phase": phase, "reason": reason]) } else { print("\(planId) \(phase): \(reason)") }
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reverse every completed move of a plan, last first, as linked migrations.",
            discussion: "Example:\n  shardlog rebalance rollback plan-1 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The plan's id (plan-N).") var planId: String

        func run() async throws {
            let progress = WorkflowProgressLine()
            try await withStore(store) { store in
                let skipped = try await store.rollbackRebalance(planId, progress: progress.handler)
                TerminalProgress.finish()
                if self.store.json {
                    printJSON(["planId": planId, "phase": "rolledBack", "notReversed": skipped.map { ["personaId": $0.move.personaId, "reason": $0.reason] }])
                } else {
                    print("\(planId) rolled back")
                    for (move, reason) in skipped { print("not reversed: \(move.personaId) (\(reason))") }
                }
            }
        }
    }
}
