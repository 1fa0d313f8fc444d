import CommandLog
import Foundation
import GRDB
import Synchronization
import Testing

@testable import ShardLog

/// ENG-004 and ENG-024: the applier's own thread, its coalescing window, and who ends it.
@Suite struct ApplierTests {
    /// With a window far longer than any step of this test takes, every way of observing the
    /// projections must end the wait itself: a read's barrier, `waitForProjections`, `close`.
    /// On code where one of them waited for the window, that step takes the window (5 min)
    /// and fails its bound, half of it — a bound no step comes near even when the whole
    /// suite runs on two cores (each step is a few writes or reads).
    @Test func readsAndCloseEndTheCoalescingWindow() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = smallConfiguration()
        configuration.applyCoalescingWindow = .seconds(300)
        let bound = Duration.seconds(150)
        func step<T>(_ label: String, _ body: () async throws -> T) async throws -> T {
            let start = ContinuousClock.now
            let result = try await body()
            #expect(ContinuousClock.now - start < bound, "\(label) waited for the window")
            return result
        }
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        try await store.execute(.createPersona(PersonaCreation(id: "alice", shard: "", name: "Alice")))
        #expect(try await step("a read right after a write") { try store.persona(id: "alice")?.name } == "Alice")
        for i in 0..<5 {
            try await store.execute(.addMemory(MemoryCreation(id: "m\(i)", personaId: "alice", name: "n\(i)", content: "c")))
        }
        #expect(try await step("a list read") { try store.personaMemories("alice").count } == 5)
        try await store.execute(.addMemory(MemoryCreation(id: "m5", personaId: "alice", name: "n5", content: "c")))
        try await step("waitForProjections") { try await store.waitForProjections() }
        #expect(try store.memory(id: "m5")?.name == "n5")
        try await store.execute(.addMemory(MemoryCreation(id: "m6", personaId: "alice", name: "n6", content: "c")))
        let digests = try await step("digests") { try store.digests() }
        try await store.execute(.addMemory(MemoryCreation(id: "m7", personaId: "alice", name: "n7", content: "c")))
        try await step("close") { try await store.close() }

        let reopened = try await ShardStore.open(at: dir.store, configuration: configuration)
        #expect(try reopened.personaMemories("alice").count == 8, "close applied the last write")
        #expect(try reopened.digests() != digests)
        try await reopened.close()
    }

    /// The applier thread ends once it has had no work for `Applier.idleExit`; the next write
    /// starts another, and what it applies is read back.
    @Test func theApplierThreadEndsWhenIdleAndComesBack() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        try await store.execute(.createPersona(PersonaCreation(id: "alice", shard: "", name: "Alice")))
        try await store.execute(.addMemory(MemoryCreation(id: "m0", personaId: "alice", name: "n", content: "c")))
        #expect(try store.memory(id: "m0") != nil)
        // Eventually, however loaded the machine: polled, not timed.
        let giveUp = ContinuousClock.now + .seconds(Applier.idleExit + 30)
        while store.applierThreadIsRunning && ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!store.applierThreadIsRunning, "no thread waits on an idle store")
        try await store.execute(.addMemory(MemoryCreation(id: "m1", personaId: "alice", name: "n", content: "c")))
        #expect(try store.personaMemories("alice").map(\.id).sorted() == ["m0", "m1"])
        try await store.close()
    }

    /// ENG-029: the store's threads carry their names where Linux tools look for them.
    /// Polled: the applier's threads end after a second without work, so each try writes
    /// and reads first, and a try that missed one (a loaded machine) is followed by another.
    @Test func theStoresThreadsAreNamed() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        try await store.execute(.createPersona(PersonaCreation(id: "alice", shard: "", name: "Alice")))
        func threadNames() -> Set<String> {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return Set(tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) })
        }
        let expected: Set<String> = ["shardlog-flush", "shardlog-apply", "shardlog-apply2", "shardlog-ckpt"]
        var seen: Set<String> = []
        for i in 0..<20 where !expected.isSubset(of: seen) {
            try await store.execute(.addMemory(MemoryCreation(id: "m\(i)", personaId: "alice", name: "n", content: "c")))
            #expect(try store.memory(id: "m\(i)") != nil)
            seen = threadNames()
        }
        #expect(expected.isSubset(of: seen), "threads named \(seen.sorted())")
        try await store.close()
    }

    /// A store released without `close` while a write waits in the window: the late batch
    /// finds no store and fails the applier instead of reaching freed memory (the process
    /// would crash here with an unowned reference).
    @Test func aStoreReleasedWithoutCloseIsNotReached() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = smallConfiguration()
        // Far longer than the test: the write below is still waiting in the window when the
        // store is released, however busy the machine; a read barrier on the applier ends it.
        configuration.applyCoalescingWindow = .seconds(3600)
        var store: ShardStore? = try await ShardStore.open(at: dir.store, configuration: configuration)
        try await store!.execute(.createPersona(PersonaCreation(id: "alice", shard: "", name: "Alice")))
        try await store!.waitForProjections()
        try await store!.execute(.addMemory(MemoryCreation(id: "m0", personaId: "alice", name: "n", content: "c")))
        weak let released = store
        let applier = store!.applierForTesting  // kept: it outlives the store
        store = nil
        // A write's completion may hold it a moment longer; then nothing does.
        #expect(await waitUntil { released == nil }, "nothing else holds the store")
        // The batch waiting in the window is taken now, after the store is gone (a barrier
        // ends the window): it must meet the released store and fail the applier, and the
        // barrier learns it (with an unowned reference the process crashed here).
        #expect(throws: ShardLogError.unavailable("the store was released before its writes were applied")) { try applier.settle() }
        #expect(applier.recordedFailure == .unavailable("the store was released before its writes were applied"))
    }
}

/// ENG-003's bound as a configuration (`StoreConfiguration.applyBacklogMax`): past it a write
/// returns only once it is applied. With a coalescing window far longer than the test, the
/// rows reach the shards before `execute` returns only when the bound makes the write wait.
@Suite struct BacklogBoundTests {
    /// Memories in the shards' files, read with connections of their own (no read barrier).
    func memoriesInShardFiles(_ store: String) throws -> Int {
        var total = 0
        for shard in Router.defaultShardIDs(count: 4) {
            // Not applied yet may mean no file yet, or no tables in it yet (ENG-003).
            let path = StoreLayout(dataDirectory: store).shardPath(shard)
            guard FileManager.default.fileExists(atPath: path) else { continue }
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            total += try queue.read { db in
                try db.tableExists("memories") ? Int.fetchOne(db, sql: "SELECT count(*) FROM memories") ?? 0 : 0
            }
            try queue.close()
        }
        return total
    }

    func memoriesAppliedWhenExecuteReturns(bound: Int) async throws -> Int {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = smallConfiguration()
        configuration.applyCoalescingWindow = .seconds(300)
        configuration.applyBacklogMax = bound
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        try await store.execute(.createPersona(PersonaCreation(id: "alice", shard: "", name: "Alice")))
        try await store.execute([
            (.addMemory(MemoryCreation(id: "m0", personaId: "alice", name: "n", content: "c")), Envelope()),
            (.addMemory(MemoryCreation(id: "m1", personaId: "alice", name: "n", content: "c")), Envelope()),
        ])
        let applied = try memoriesInShardFiles(dir.store)
        try await store.close()
        return applied
    }

    @Test func pastTheBoundAWriteReturnsApplied() async throws {
        #expect(try await memoriesAppliedWhenExecuteReturns(bound: 1) == 2)
    }

    /// The control: under the default bound the same write returns before it is applied.
    @Test func underTheBoundAWriteReturnsBeforeItIsApplied() async throws {
        #expect(try await memoriesAppliedWhenExecuteReturns(bound: StoreConfiguration.defaultApplyBacklogMax) == 0)
    }

    @Test func aBoundOutsideItsRangeIsRefusedAndNothingIsCreated() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        for bound in [0, 131_073] {
            var configuration = smallConfiguration()
            configuration.applyBacklogMax = bound
            do {
                _ = try await ShardStore.open(at: dir.store, configuration: configuration)
                Issue.record("applyBacklogMax \(bound) was accepted")
            } catch let error as ShardLogError {
                guard case .invalidConfiguration(let reason) = error else {
                    Issue.record("\(error)")
                    continue
                }
                #expect(reason.contains("applyBacklogMax"))
            }
            #expect(!FileManager.default.fileExists(atPath: dir.store))
        }
    }
}

/// ENG-005: once the applier failed to apply a batch, the read waiting for it and every read
/// after it fail with that error: the rows will never hold what was acknowledged.
@Suite struct ApplierFailureTests {
    func unit(_ lsn: UInt64) -> Applier.Unit {
        Applier.Unit(range: LSN(lsn)...LSN(lsn), effects: [(LSN(lsn), Effects())])
    }

    @Test func aFailedApplyFailsEveryLaterRead() throws {
        let applier = Applier(nextLSN: LSN(1)) { units in
            if units.contains(where: { $0.range.contains(LSN(2)) }) { throw ShardLogError.database("disk on fire") }
            return {}
        }
        func expectTheReadFails(_ read: String) {
            do {
                try applier.settle()
                Issue.record("\(read) passed a barrier that the failed apply blocks")
            } catch {
                #expect("\(error)".contains("disk on fire"), "\(read): \(error)")
            }
        }
        applier.handOver(unit(1))
        try applier.settle()
        applier.handOver(unit(2))
        expectTheReadFails("the read waiting for it")
        expectTheReadFails("a later read")
        applier.handOver(unit(3))  // refused: the applier has failed
        expectTheReadFails("a read after another write was refused")
    }
}

/// ENG-030: the log's flusher hands durable units to the applier without taking the lock the
/// applier's threads hold between batches, so a thread that holds it (preempted, on a busy
/// machine) never holds up an acknowledgement.
@Suite struct ApplierHandOverTests {
    @Test func aHandOverNeverWaitsForTheApplierLock() throws {
        let applied = Mutex<[UInt64]>([])
        let applier = Applier(nextLSN: LSN(1)) { units in
            applied.withLock { $0 += units.map(\.range.lowerBound.rawValue) }
            return {}
        }
        let done = DispatchSemaphore(value: 0)
        let backlogged = Mutex<Bool?>(nil)
        applier.withLockHeld {
            Thread.detachNewThread {
                for lsn in UInt64(1)...200 {
                    applier.handOver(Applier.Unit(range: LSN(lsn)...LSN(lsn), effects: [(LSN(lsn), Effects())]))
                }
                backlogged.withLock { $0 = applier.isBacklogged }
                done.signal()
            }
            // Before ENG-030 the hand-over took this lock: the thread could not finish until
            // the lock was released, and the wait ran out.
            #expect(done.wait(timeout: .now() + 30) == .success, "a hand-over waited for the applier's lock")
        }
        #expect(backlogged.withLock { $0 } == false)
        try applier.settle()
        #expect(applied.withLock { $0 } == Array(1...200), "every unit applied once, in LSN order")
    }
}
