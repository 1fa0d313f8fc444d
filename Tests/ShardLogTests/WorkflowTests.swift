import CommandLog
import Foundation
import GRDB
import Testing

@testable import ShardLog

/// Fills a store: `personas` personas, each with `memories` memories, a conversation and
/// three messages. Returns the model of what was written.
func populate(_ store: ShardStore, personas: Int, memories: Int, prefix: String = "p") async throws -> ReferenceModel {
    var model = ReferenceModel(dimension: store.embeddingDimension)
    var time: Int64 = 1_700_000_000_000_000
    func run(_ command: Command) async throws {
        time += 1000
        let t = Timestamp(microsecondsSince1970: time)
        let accepted = model.apply(command, at: t)
        #expect(accepted, "the model accepts it")
        try await store.execute(command, envelope: Envelope(timestamp: t))
    }
    for p in 0..<personas {
        let id = "\(prefix)\(p)"
        try await run(.createPersona(PersonaCreation(id: id, shard: "", name: "Persona \(p)", isActive: p == 0)))
        for m in 0..<memories {
            try await run(.addMemory(MemoryCreation(
                id: "\(id)-m\(m)", personaId: id, name: "memory \(m)", content: String(repeating: "x", count: m % 7), tags: ["t\(m % 3)"],
                importance: (m * 37) % 101, tier: [.hot, .warm, .cold][m % 3], embedding: [Float(m), 1, 2, 3])))
        }
        try await run(.createConversation(id: "\(id)-c", personaId: id, title: "chat"))
        for k in 0..<3 { try await run(.addMessage(conversationId: "\(id)-c", role: k % 2 == 0 ? .user : .assistant, content: "m\(k)")) }
    }
    return model
}

/// Every persona's reads equal the model's (placement-independent: data does not move).
func expectReadsMatch(_ store: ShardStore, _ model: ReferenceModel, _ note: String) throws {
    try PropertyTests.compareEverything(store, model, note)
}

/// Exactly one home, checked in the databases themselves (INV-7).
func expectOneHome(_ store: ShardStore, _ note: String) async throws {
    let validation = try await store.validatePlacement()
    #expect(validation.problem == nil, "\(note): \(validation.problem ?? "")")
}

/// Rebuilding every shard from the log gives the live digests, and so does an as-of rebuild
/// of the catalog (INV-6).
func expectRebuildEqualsLive(_ store: ShardStore, _ dir: TemporaryDirectory, _ note: String) async throws {
    let live = try store.digests()
    let catalog = try store.catalogDigest()
    let liveState = store.withState { $0 }
    try await store.rebuild()
    #expect(try store.digests() == live, "\(note): rebuild equals live")
    // ENG-023: the replayed state took the live one's place.
    #expect(store.withState { $0 } == liveState, "\(note): the replayed state equals the live state")
    for shard in store.shardIDs { try await store.rebuild(shards: [shard]) }
    #expect(try store.digests() == live, "\(note): each shard rebuilt alone equals live")
    #expect(store.withState { $0 } == liveState, "\(note): the state after one-shard rebuilds equals the live state")
    let asOf = dir.path + "/as-of-\(UUID().uuidString)"
    let rebuilt = try store.rebuild(asOf: store.lastLSN, into: asOf)
    #expect(rebuilt == live, "\(note): as-of the last LSN equals live")
    #expect(try ShardStore.digests(ofRebuiltDirectory: asOf)["catalog"] == catalog, "\(note): rebuilt catalog equals live")
}

@Suite struct WorkflowTests {
    func open(_ dir: TemporaryDirectory, shards: Int = 4, recovery: WorkflowRecovery = .resume, batch: Int = 1000) async throws -> ShardStore {
        var configuration = smallConfiguration(shards: shards)
        configuration.durability = .none
        configuration.workflowRecovery = recovery
        configuration.migrationBatchSize = batch
        return try await ShardStore.open(at: dir.store, configuration: configuration)
    }

    @Test func migrationMovesAPersonaAndEveryStepIsInTheLog() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        let model = try await populate(store, personas: 6, memories: 30)
        let events = store.events()
        let source = try #require(store.shardForPersona("p1"))
        let target = store.shardIDs.first { $0 != source }!
        let before = store.lastLSN
        let sourceDigestBefore = try store.digests()[source]
        let migration = try await store.migratePersona("p1", to: target, batchSize: 7)
        #expect(migration.phase == .completed && migration.rowsCopied == 1 + 30 + 1 + 3)
        #expect(store.shardForPersona("p1") == target)
        try expectReadsMatch(store, model, "after the migration")
        try await expectOneHome(store, "after the migration")
        #expect(try store.digests()[source] != sourceDigestBefore, "the source lost the persona's rows")
        let ops = try store.loggedOps(after: before)
        #expect(ops.first == "migrationStarted" && ops.suffix(4) == ["migrationVerify", "migrationVerified", "migrationCutOver", "migrationCompleted"])
        #expect(ops.filter { $0 == "migrationCopied" }.count == 6, "35 rows in batches of 7")
        try await expectRebuildEqualsLive(store, dir, "after the migration")
        // As of the LSN before the cut-over, the persona was on the source.
        let cutOver = try #require(store.loggedEntries(after: before).first { $0.op == "migrationCutOver" }?.lsn)
        let then = try store.rebuild(asOf: LSN(cutOver.rawValue - 1), into: dir.path + "/before-cut-over")
        #expect(then[source] == sourceDigestBefore, "as of the step before the cut-over the source still held the persona")
        try await store.close()
        var seen: [StoreEvent] = []
        for await event in events { seen.append(event) }
        #expect(seen == [
            .migrationStarted(id: migration.id, personaId: "p1", source: source, target: target),
            .migrationCompleted(id: migration.id, personaId: "p1", target: target),
        ])
        let reopened = try await open(dir)
        #expect(reopened.shardForPersona("p1") == target)
        try expectReadsMatch(reopened, model, "reopened")
        try await reopened.close()
    }

    @Test func writesDuringTheCopyReachTheTarget() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        var model = try await populate(store, personas: 3, memories: 20)
        let source = try #require(store.shardForPersona("p2"))
        let target = store.shardIDs.first { $0 != source }!
        var migration = try await store.startMigration("p2", to: target, batchSize: 5)
        migration = try await store.stepMigration(migration.id)  // persona row + 4 memories
        migration = try await store.stepMigration(migration.id)
        #expect(migration.phase == .copying)
        var time: Int64 = 1_800_000_000_000_000
        for command: Command in [
            .updateMemory(MemoryPatch(id: "p2-m1", content: "edited, already copied")),
            .updateMemory(MemoryPatch(id: "p2-m18", content: "edited, not copied yet")),
            .addMemory(MemoryCreation(id: "p2-m00", personaId: "p2", name: "new, before the cursor", content: "a")),
            .addMemory(MemoryCreation(id: "p2-z", personaId: "p2", name: "new, after the cursor", content: "b")),
            .deleteMemory(id: "p2-m3"), .markMemoryAccessed(id: "p2-m19"),
            .addMessage(conversationId: "p2-c", role: .user, content: "during the copy"),
            .updatePersona(PersonaPatch(id: "p2", name: "Renamed during the copy")),
            .activatePersona(id: "p2"),
        ] {
            time += 1000
            let accepted = model.apply(command, at: Timestamp(microsecondsSince1970: time))
            #expect(accepted, "the model accepts it")
            try await store.execute(command, envelope: Envelope(timestamp: Timestamp(microsecondsSince1970: time)))
        }
        await #expect(throws: ShardLogError.self, "a migrating persona cannot be deleted") {
            try await store.execute(.deletePersona(id: "p2"))
        }
        migration = try await store.resumeMigration(migration.id)
        #expect(migration.phase == .completed)
        #expect(store.shardForPersona("p2") == target)
        try expectReadsMatch(store, model, "after a migration with writes during the copy")
        try await expectOneHome(store, "after")
        try await expectRebuildEqualsLive(store, dir, "after")
        try await store.close()
    }

    @Test func abortDropsTheCopyAndReverseMovesItBack() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        let model = try await populate(store, personas: 3, memories: 12)
        let source = try #require(store.shardForPersona("p0"))
        let target = store.shardIDs.first { $0 != source }!
        let targetDigest = try store.digests()[target]
        var migration = try await store.startMigration("p0", to: target, batchSize: 4)
        migration = try await store.stepMigration(migration.id)
        await #expect(throws: ShardLogError.self, "a second migration of the same persona is refused") {
            _ = try await store.startMigration("p0", to: target)
        }
        try await store.abortMigration(migration.id, reason: "test")
        #expect(store.migration(id: migration.id)?.phase == .aborted && store.shardForPersona("p0") == source)
        #expect(try store.stagedRowCount(on: target) == 0, "the staged copy is dropped")
        #expect(try store.digests()[target] == targetDigest)
        await #expect(throws: ShardLogError.self, "an aborted migration cannot be resumed into a cut-over") {
            try await store.abortMigration(migration.id)
        }
        let moved = try await store.migratePersona("p0", to: target)
        await #expect(throws: ShardLogError.self, "past its cut-over a migration cannot be aborted") {
            try await store.abortMigration(moved.id)
        }
        let back = try await store.reverseMigration(moved.id)
        #expect(back.reverseOf == moved.id && back.phase == .completed && store.shardForPersona("p0") == source)
        try expectReadsMatch(store, model, "after abort, move and reverse")
        try await expectRebuildEqualsLive(store, dir, "after abort, move and reverse")
        try await store.close()
    }

    @Test func aMemoryMovedAwayIsStillReadWithItsPersona() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        var model = try await populate(store, personas: 2, memories: 10)
        let home = try #require(store.shardForPersona("p1"))
        let other = store.shardIDs.first { $0 != home }!
        let move = try await store.migrateMemory("p1-m4", to: other)
        #expect(move.kind == .memory && move.phase == .completed)
        #expect(store.withState { $0.shard(ofMemory: "p1-m4") } == other)
        try expectReadsMatch(store, model, "a detached memory is read with its persona")
        try await store.execute(.updateMemory(MemoryPatch(id: "p1-m4", content: "written at its new home")), envelope: Envelope(timestamp: Timestamp(microsecondsSince1970: 1_900_000_000_000_000)))
        let accepted = model.apply(.updateMemory(MemoryPatch(id: "p1-m4", content: "written at its new home")), at: Timestamp(microsecondsSince1970: 1_900_000_000_000_000))
        #expect(accepted, "the model accepts it")
        try expectReadsMatch(store, model, "a write to a detached memory")
        await #expect(throws: ShardLogError.self, "a shard holding a detached memory cannot be removed") { try await store.removeShard(other) }
        // The persona follows to where its memory is: it is attached again.
        try await store.migratePersona("p1", to: other)
        #expect(store.withState { $0.detachedHomes["p1-m4"] } == nil)
        try expectReadsMatch(store, model, "the persona moved to its detached memory")
        try await expectRebuildEqualsLive(store, dir, "after memory moves")
        let reopened = try await { try await store.close(); return try await open(dir) }()
        try expectReadsMatch(reopened, model, "reopened")
        // Deleting a persona removes its detached memories from their homes too.
        try await reopened.migrateMemory("p0-m2", to: try #require(reopened.shardIDs.first { $0 != reopened.shardForPersona("p0") }))
        try await reopened.execute(.deletePersona(id: "p0"), envelope: Envelope(timestamp: Timestamp(microsecondsSince1970: 1_900_000_000_001_000)))
        let acceptedDelete = model.apply(.deletePersona(id: "p0"), at: Timestamp(microsecondsSince1970: 1_900_000_000_001_000))
        #expect(acceptedDelete, "the model accepts it")
        try expectReadsMatch(reopened, model, "after deleting a persona with a detached memory")
        #expect(try reopened.statistics().reduce(0) { $0 + $1.memories } == model.memories.count)
        try await reopened.close()
    }

    @Test func shardLifecycleAddDrainRemove() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        let model = try await populate(store, personas: 40, memories: 2)
        let addition = try await store.addShard("shard_04")
        #expect(addition.personaCount == 40 && !addition.ringPlan.isEmpty)
        #expect(store.shards().map(\.status) == [.active, .active, .active, .active, .active])
        await #expect(throws: ShardLogError.self, "a shard id is never reused") { try await store.addShard("shard_04") }
        await #expect(throws: ShardLogError.self, "a shard that owns personas cannot be removed") { try await store.removeShard("shard_01") }
        try await store.drainShard("shard_01")
        #expect(store.shards().first { $0.id == "shard_01" }?.status == .removed)
        #expect(!store.shardIDs.contains("shard_01"))
        #expect(!FileManager.default.fileExists(atPath: StoreLayout(dataDirectory: dir.store).shardPath("shard_01")), "a removed shard's database goes")
        #expect(store.shards().allSatisfy { $0.status != .active || $0.personas > 0 || $0.id == "shard_04" })
        try expectReadsMatch(store, model, "after the drain")
        try await expectOneHome(store, "after the drain")
        // New personas go to active shards only.
        for i in 0..<20 {
            try await store.execute(.createPersona(PersonaCreation(id: "new\(i)", shard: "", name: "N")))
            #expect(store.shardForPersona("new\(i)") != "shard_01")
        }
        try await store.addShard("shard_05")
        try await store.removeShard("shard_05")
        await #expect(throws: ShardLogError.self, "removed ids stay taken") { try await store.addShard("shard_05") }
        try await expectRebuildEqualsLive(store, dir, "after the lifecycle")
        try await store.close()
        let reopened = try await open(dir)
        #expect(reopened.shards().map(\.status) == [.active, .removed, .active, .active, .active, .removed])
        try await reopened.close()
    }

    /// Issue 4: adding a fifth shard to four moves about a fifth of the personas (on the
    /// ring), and `rebalance` brings the imbalance under the configured ratio.
    @Test func aFifthShardAndARebalance() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        let model = try await populate(store, personas: 200, memories: 3)
        let addition = try await store.addShard("shard_04")
        let share = addition.share
        print("ring share claimed by a fifth shard: \(addition.ringPlan.count) of \(addition.personaCount) = \(String(format: "%.3f", share)) (ideal 0.200)")
        #expect(abs(share - 0.2) < 0.07, "about 1/(N+1)")
        let before = try store.rebalanceAnalysis()
        #expect(before.imbalance > 1.2, "an empty fifth shard unbalances the store")
        let plan = try #require(try await store.applyRebalance())
        #expect(plan.phase == .completed)
        let after = try store.rebalanceAnalysis()
        print("rebalance: \(plan.moves.count) moves; imbalance \(String(format: "%.3f", before.imbalance)) -> \(String(format: "%.3f", after.imbalance))")
        #expect(after.imbalance <= 1.2)
        try expectReadsMatch(store, model, "after the rebalance")
        try await expectOneHome(store, "after the rebalance")
        #expect(try await store.applyRebalance() == nil, "nothing more to do")
        try await store.rollbackRebalance(plan.id)
        #expect(store.plan(id: plan.id)?.phase == .rolledBack)
        for move in plan.moves { #expect(store.shardForPersona(move.personaId) == move.source) }
        try expectReadsMatch(store, model, "after the rollback")
        try await expectRebuildEqualsLive(store, dir, "after rebalance and rollback")
        try await store.close()
    }

    @Test func aDigestMismatchStopsTheMigrationWithAReport() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        _ = try await populate(store, personas: 2, memories: 5)
        let source = try #require(store.shardForPersona("p1"))
        let target = store.shardIDs.first { $0 != source }!
        var migration = try await store.startMigration("p1", to: target)
        migration = try await store.stepMigration(migration.id)
        #expect(migration.phase == .copied)
        // Damage the copy behind the engine's back.
        let damaged = try DatabaseQueue(path: StoreLayout(dataDirectory: dir.store).shardPath(target))
        try await damaged.write { db in try db.execute(sql: "UPDATE staged_memories SET content = 'damaged' WHERE id = 'p1-m2'") }
        try damaged.close()
        migration = try await store.resumeMigration(migration.id)
        #expect(migration.phase == .failed)
        #expect(migration.reason?.contains("differ") == true && migration.sourceDigest != migration.targetDigest)
        #expect(store.shardForPersona("p1") == source)
        #expect(try store.stagedRowCount(on: target) == 0)
        try await store.close()
    }

    @Test(arguments: [WorkflowRecovery.resume, .abort, .leave])
    func anUnfinishedMigrationOnReopen(policy: WorkflowRecovery) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        let model = try await populate(store, personas: 2, memories: 9)
        let source = try #require(store.shardForPersona("p1"))
        let target = store.shardIDs.first { $0 != source }!
        var migration = try await store.startMigration("p1", to: target, batchSize: 3)
        migration = try await store.stepMigration(migration.id)
        try await store.close()
        let reopened = try await open(dir, recovery: policy)
        let after = try #require(reopened.migration(id: migration.id))
        switch policy {
        case .resume: #expect(after.phase == .completed && reopened.shardForPersona("p1") == target)
        case .abort: #expect(after.phase == .aborted && reopened.shardForPersona("p1") == source)
        case .leave: #expect(after.phase == .copying && reopened.shardForPersona("p1") == source)
        }
        try expectReadsMatch(reopened, model, "reopened with \(policy)")
        try await expectOneHome(reopened, "reopened with \(policy)")
        try await expectRebuildEqualsLive(reopened, dir, "reopened with \(policy)")
        try await reopened.close()
    }

    /// WF-055: the service rebalances on its own once a threshold is crossed, and stops when cancelled.
    @Test func autoRebalancerActsWhenAThresholdIsCrossed() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir, shards: 2)
        _ = try await populate(store, personas: 30, memories: 2)
        let events = store.events()
        try await store.addShard("shard_02")
        #expect(try store.rebalanceAnalysis().imbalance > 1.2)
        let service = Task { try await AutoRebalancer(store: store, interval: .milliseconds(20)).run() }
        // The first of: the plan's completion, the service ending (an error), or a timeout.
        // Cancelling the group ends the wait on the event stream too, so a service that never
        // acts fails the test at the timeout instead of hanging the suite.
        let completed: String? = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await event in events {
                    if case .rebalanceCompleted(let planId) = event { return planId }
                }
                return nil
            }
            group.addTask {
                _ = await service.result
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(60))
                return nil
            }
            let first = await group.next() ?? nil
            service.cancel()  // the group returns only once its second task has seen the service end
            group.cancelAll()
            return first
        }
        service.cancel()
        _ = await service.result
        #expect(completed != nil, "the service applied a plan")
        #expect(try store.rebalanceAnalysis().imbalance <= 1.2)
        try await expectOneHome(store, "after the automatic rebalance")
        try await store.close()
    }

    /// WF-028: migrations of different personas run at the same time, with writes to both.
    @Test func concurrentMigrationsOfDifferentPersonas() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir, batch: 4)
        var model = try await populate(store, personas: 4, memories: 25)
        let targets = try ["p0", "p1", "p2"].map { persona in
            let source = try #require(store.shardForPersona(persona))
            return (persona, store.shardIDs.first { $0 != source }!)
        }
        async let a = store.migratePersona(targets[0].0, to: targets[0].1)
        async let b = store.migratePersona(targets[1].0, to: targets[1].1)
        async let c = store.migratePersona(targets[2].0, to: targets[2].1)
        var time: Int64 = 1_950_000_000_000_000
        for i in 0..<60 {
            let persona = "p\(i % 3)"
            let command = Command.addMemory(MemoryCreation(id: "\(persona)-during-\(i)", personaId: persona, name: "during", content: "c\(i)"))
            time += 1000
            try await store.execute(command, envelope: Envelope(timestamp: Timestamp(microsecondsSince1970: time)))
            let accepted = model.apply(command, at: Timestamp(microsecondsSince1970: time))
            #expect(accepted)
        }
        let done = try await [a, b, c]
        #expect(done.allSatisfy { $0.phase == .completed })
        #expect(Set(done.map(\.id)).count == 3, "each got its own id")
        for (persona, target) in targets { #expect(store.shardForPersona(persona) == target) }
        try expectReadsMatch(store, model, "after concurrent migrations")
        try await expectOneHome(store, "after concurrent migrations")
        try await expectRebuildEqualsLive(store, dir, "after concurrent migrations")
        try await store.close()
    }

    /// WF-022: a copy batch sorts the persona's keys, never its whole rows — asked the
    /// obvious way, SQLite sorted every row of the persona, embeddings and all, for every
    /// batch (found by profiling a hot migration: its read thread used 60% of a core).
    @Test func aCopyBatchSortsKeysNotRows() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        try await store.execute(.createPersona(PersonaCreation(id: "alice", shard: "", name: "Alice")))
        try await store.waitForProjections()
        let projection = try #require(store.projection(forShard: store.shardForPersona("alice")!))
        // The copy's read, and a tier's memories (the same pattern).
        let reads: [(sql: String, arguments: StatementArguments)] = [
            (ShardProjection.copyMemoriesSQL, ["alice", "", 1_000]),
            (ShardProjection.memoriesInKeyOrder(where: "tier = ? AND deleted_at IS NULL", limited: true), ["hot", 50]),
        ]
        for read in reads {
            let plan = try await projection.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + read.sql, arguments: read.arguments)
                    .map { (parent: $0["parent"] as Int, detail: $0["detail"] as String) }
            }
            #expect(plan.contains { $0.parent == 0 && $0.detail.contains("sqlite_autoindex_memories_1") }, "rows fetched by key: \(plan)")
            #expect(!plan.contains { $0.parent == 0 && $0.detail.contains("TEMP B-TREE") }, "no sort of whole rows: \(plan)")
        }
        // Without a limit (the persona digest) nothing is sorted at all.
        let digestRead = ShardProjection.memoriesInKeyOrder(where: "persona_id = ?", limited: false)
        let digestPlan = try await projection.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + digestRead, arguments: ["alice"]).map { $0["detail"] as String }
        }
        #expect(!digestPlan.contains { $0.contains("TEMP B-TREE") }, "no sort: \(digestPlan)")
        try await store.close()
    }

    @Test func workflowCommandsAreRefusedFromCallers() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await open(dir)
        let before = store.lastLSN
        await #expect(throws: ShardLogError.self) { try await store.execute(.workflow(.addShard(id: "x"))) }
        #expect(store.lastLSN == before)
        try await store.close()
    }
}

extension ShardStore {
    /// The op names of the logged commands after `lsn`.
    func loggedOps(after lsn: LSN) throws -> [String] { try loggedEntries(after: lsn).map(\.op) }

    func loggedEntries(after lsn: LSN) throws -> [(lsn: LSN, op: String)] {
        var result: [(lsn: LSN, op: String)] = []
        try forEachLoggedCommand(from: lsn.next) { entry in result.append((entry.lsn, entry.command.op)) }
        return result
    }

    /// Rows in a shard's staging tables.
    func stagedRowCount(on shard: String) throws -> Int {
        try projection(forShard: shard)!.pool.read { db in
            try ["staged_personas", "staged_memories", "staged_conversations", "staged_messages"].reduce(0) {
                $0 + (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($1)") ?? 0)
            }
        }
    }
}
