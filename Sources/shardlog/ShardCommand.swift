import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog shard add|remove|list`: the shard lifecycle (Specs/Workflows.md §2).
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
