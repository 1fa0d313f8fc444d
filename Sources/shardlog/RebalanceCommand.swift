import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog rebalance plan|apply|stop|rollback` (Specs/Workflows.md §5).
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
