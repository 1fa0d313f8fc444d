import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog migration list|show|abort|reverse|resume`: the migrations and their steps.
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
