import CommandLog
import Foundation
import GRDB
import Synchronization
import Testing

@testable import ShardLog

/// `shardlog log`'s JSON form (CMD-200 … CMD-202), and the workflow steps nothing else
/// produces — `migrationFailed` and `rebalanceStopped` — made by what a user can run and
/// read back through the log, a rebuild and `verify`.
@Suite struct LogJSONTests {
    /// The envelope keeps its microseconds; a step's reason has a key of its own.
    @Test func theEnvelopeKeepsMicrosecondsAndEveryFieldHasItsKey() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(try runShardLog(["init", "--data-dir", dir.store]).status == 0)
        let input = """
            {"op":"createPersona","id":"ada","name":"Ada","timestamp":"2026-01-02T03:04:05.000006Z","reason":"onboarding"}
            {"op":"addMemory","id":"m1","personaId":"ada","content":"tea","timestamp":1767323045123457}
            {"op":"setMemoryAccess","id":"m1","accessCount":2,"lastAccessedAt":"2026-01-02T03:04:05.999999Z"}

            """
        #expect(try runShardLog(["apply", "--data-dir", dir.store, "-"], input: input).status == 0)
        let log = try jsonLines(try runShardLog(["log", "--data-dir", dir.store]).stdout)
        #expect(log[1]["timestamp"] as? String == "2026-01-02T03:04:05.000006Z" && log[1]["reason"] as? String == "onboarding")
        #expect(log[2]["timestamp"] as? String == "2026-01-02T03:04:05.123457Z")
        #expect(log[2]["name"] as? String == "", "a memory's name may be empty (CMD-011)")
        #expect(log[3]["lastAccessedAt"] as? String == "2026-01-02T03:04:05.999999Z")
        // What log prints, apply reads back to the same microsecond.
        let second = dir.path + "/second"
        #expect(try runShardLog(["init", "--data-dir", second]).status == 0)
        let again = #"{"op":"createPersona","id":"ada","name":"Ada","timestamp":"\#(log[1]["timestamp"] as! String)"}"#
        #expect(try runShardLog(["apply", "--data-dir", second, "-"], input: again).status == 0)
        #expect(try jsonLines(try runShardLog(["log", "--data-dir", second]).stdout)[1]["timestamp"] as? String == "2026-01-02T03:04:05.000006Z")
    }

    /// A migration whose copy was damaged fails its verification: `migrate persona
    /// --stop-after copied`, a changed staged row, `migration resume` — exit 1, and the log
    /// shows `migrationFailed` with both digests and its own reason.
    @Test func aMigrationWhoseCopyWasDamagedFailsFromTheCLI() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(try runShardLog(["init", "--data-dir", dir.store]).status == 0)
        let input = #"{"op":"createPersona","id":"ada","name":"Ada"}"# + "\n" + #"{"op":"addMemory","id":"m1","personaId":"ada","content":"tea"}"# + "\n"
        #expect(try runShardLog(["apply", "--data-dir", dir.store, "-"], input: input).status == 0)
        let source = try jsonLines(try runShardLog(["persona", "get", "ada", "--data-dir", dir.store, "--json"]).stdout)[0]["shard"] as! String
        let target = ["shard_00", "shard_01"].first { $0 != source }!
        let copied = try runShardLog(["migrate", "persona", "ada", "--to", target, "--stop-after", "copied", "--data-dir", dir.store])
        #expect(copied.status == 0 && copied.stdout.hasPrefix("mig-1\tcopied\tada"), "\(copied.stdout) \(copied.stderr)")
        let staged = try DatabaseQueue(path: StoreLayout(dataDirectory: dir.store).shardPath(target))
        try staged.write { db in try db.execute(sql: "UPDATE staged_memories SET content = 'damaged' WHERE id = 'm1'") }
        try staged.close()
        let resumed = try runShardLog(["migration", "resume", "mig-1", "--data-dir", dir.store])
        #expect(resumed.status == 1 && resumed.stdout.hasPrefix("mig-1\tfailed\tada"), "\(resumed.stdout) \(resumed.stderr)")
        let failed = try jsonLines(try runShardLog(["log", "--type", "migrationFailed", "--data-dir", dir.store]).stdout)
        #expect(failed.count == 1)
        let step = try #require(failed.first)
        let sourceDigest = try #require(step["sourceDigest"] as? String)
        let targetDigest = try #require(step["targetDigest"] as? String)
        #expect(sourceDigest.count == 64 && targetDigest.count == 64 && sourceDigest != targetDigest)
        #expect((step["stepReason"] as? String)?.contains("differ") == true && step["migrationId"] as? String == "mig-1")
        // The persona stayed home, and the log replays to the same shards.
        #expect(try jsonLines(try runShardLog(["persona", "get", "ada", "--data-dir", dir.store, "--json"]).stdout)[0]["shard"] as? String == source)
        let live = try runShardLog(["digest", "--data-dir", dir.store]).stdout
        #expect(try runShardLog(["rebuild", "--all", "--data-dir", dir.store]).status == 0)
        #expect(try runShardLog(["digest", "--data-dir", dir.store]).stdout == live)
        #expect(try runShardLog(["verify", "--data-dir", dir.store]).status == 0)
        #expect(try runShardLog(["migrate", "persona", "ada", "--to", target, "--stop-after", "started", "--data-dir", dir.store]).status == 2)
    }

    /// A plan that a crash left executing is stopped with `rebalance stop`, rolled back, and
    /// replays; a plan being executed stops, by request, after the move in progress.
    @Test func aRebalanceIsStoppedByRequest() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let child = try runProcess(productsDirectory.appendingPathComponent("shardstore-crash-child"), [dir.store, "interrupted-rebalance"])
        #expect(child.status == 9 && child.stdout.contains("interrupted during mig-1"), "\(child.stdout) \(child.stderr)")
        let stop = try runShardLog(["rebalance", "stop", "plan-1", "--reason", "maintenance window over", "--data-dir", dir.store])
        #expect(stop.status == 0 && stop.stdout == "plan-1 stopped: maintenance window over\n", "\(stop.stdout) \(stop.stderr)")
        let again = try runShardLog(["rebalance", "stop", "plan-1", "--data-dir", dir.store])
        #expect(again.status == 2 && again.stderr.contains("plan-1 is stopped; only an executing plan can be stopped"), "\(again.stderr)")
        let stopped = try jsonLines(try runShardLog(["log", "--type", "rebalanceStopped", "--data-dir", dir.store]).stdout)
        #expect(stopped.count == 1 && stopped[0]["stepReason"] as? String == "maintenance window over" && stopped[0]["planId"] as? String == "plan-1")
        #expect(stopped[0]["reason"] as? String == "stop requested", "the envelope's reason, apart from the step's")
        // The move the crash interrupted was ended with the plan (before its cut-over: aborted).
        let migration = try jsonLines(try runShardLog(["migration", "show", "mig-1", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect(migration["phase"] as? String == "aborted" && (migration["reason"] as? String)?.contains("maintenance window over") == true, "\(migration)")
        let rollback = try runShardLog(["rebalance", "rollback", "plan-1", "--data-dir", dir.store])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        let live = try runShardLog(["digest", "--data-dir", dir.store]).stdout
        #expect(try runShardLog(["rebuild", "--all", "--data-dir", dir.store]).status == 0)
        #expect(try runShardLog(["digest", "--data-dir", dir.store]).stdout == live)
        #expect(try runShardLog(["verify", "--data-dir", dir.store]).status == 0)

        // In one process: a stop asked for while the plan executes takes effect between moves.
        var configuration = smallConfiguration()
        configuration.durability = .none
        let store = try await ShardStore.open(at: dir.path + "/live", configuration: configuration)
        _ = try await populate(store, personas: 40, memories: 1)
        try await store.addShard("shard_04")
        let asked = Mutex(false)
        let plan = try #require(try await store.applyRebalance { _ in
            guard asked.withLock({ let first = !$0; $0 = true; return first }) else { return }
            Task { try await store.stopRebalance("plan-1", reason: "asked during the first move") }
        })
        #expect(plan.phase == .stopped, "\(plan.phase)")
        let completed = store.migrations().filter { $0.planId == plan.id && $0.phase == .completed }.count
        #expect(completed >= 1 && completed < plan.moves.count, "\(completed) of \(plan.moves.count) moves made before the stop")
        var logged: [String] = []
        try store.forEachLoggedCommand { entry in
            if case .workflow(.rebalanceStopped(_, let reason)) = entry.command { logged.append(reason) }
        }
        #expect(logged == ["asked during the first move"])
        try await store.rollbackRebalance(plan.id)
        try await expectOneHome(store, "after the stopped plan's rollback")
        try await expectRebuildEqualsLive(store, dir, "after stop and rollback")
        try await store.close()
    }
}
