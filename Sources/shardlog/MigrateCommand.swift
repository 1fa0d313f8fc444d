import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog migrate persona|memory`: moving a persona hot, or one memory (Specs/Workflows.md §3, §4).
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
