import Foundation
import Testing

@testable import CommandLog

/// Counts syncs; injects nothing unless told to fail the next one.
final class SyncCounter: FaultInjector, @unchecked Sendable {
    // @unchecked Sendable: the lock guards every field.
    private let lock = NSLock()
    private var count = 0
    private var failNext = false
    var syncs: Int { lock.withLock { count } }
    func failNextSync() { lock.withLock { failNext = true } }
    func beforeWrite(path: String, offset: Int, count: Int) -> InjectedFault { .none }
    func beforeSync(path: String) -> InjectedFault {
        lock.withLock {
            count += 1
            if failNext {
                failNext = false
                return .fail(errno: EIO)
            }
            return .none
        }
    }
}

/// LOG-095: a deferred unit's sync waits for another unit's, its promise unchanged.
@Suite struct DeferredSyncTests {
    func open(_ dir: TemporaryDirectory, window: Duration, _ faults: SyncCounter) throws -> CommandLog {
        var configuration = CommandLog.Configuration()
        configuration.faults = faults
        configuration.deferredSyncWindow = window
        return try CommandLog.open(directory: dir.logPath, configuration: configuration)
    }

    /// A held unit is neither acknowledged nor published until a unit that syncs arrives;
    /// then one sync covers both.
    @Test func aHeldUnitSharesTheNextSync() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let syncs = SyncCounter()
        let log = try open(dir, window: .seconds(30), syncs)
        _ = try await log.append(simpleDraft(0))
        let before = syncs.syncs
        let held = try log.submit([simpleDraft(1), simpleDraft(2)], deferSync: true)
        let waiter = Task { try await held.wait() }
        #expect(await waitUntil { log.unitsHeldSoFar == 1 }, "the unit is held")
        #expect(log.lastLSN == LSN(1), "a held unit is not published")
        #expect(log.durableLSN == LSN(1))
        #expect(syncs.syncs == before, "nothing synced while the window is open")
        let last = try await log.append(simpleDraft(3))
        #expect(try await waiter.value == LSN(2)...LSN(3))
        #expect(last == LSN(4))
        #expect(syncs.syncs == before + 1, "one sync for the held unit and the one that came after it")
        #expect(log.durableLSN == LSN(4))
        try log.close()
        #expect(try LogReader(directory: dir.logPath).commands().map(\.draft) == (0..<4).map { simpleDraft($0) })
    }

    /// With ordinary appenders active, a held unit is synced when its window ends even if
    /// none comes along in it. A unit is held only while an ordinary appender synced within
    /// the last four windows; on a machine so busy that the deferred unit reaches the flusher
    /// later than that, it is synced at once instead, and the test tries again (at most 5 times).
    @Test func aHeldUnitIsSyncedWhenTheWindowEnds() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let syncs = SyncCounter()
        let log = try open(dir, window: .milliseconds(200), syncs)
        var lsn: UInt64 = 0
        var heldOnce = false
        for _ in 0..<5 where !heldOnce {
            lsn += 1
            let ordinary = try log.submit([simpleDraft(Int(lsn))])
            // Not `await`: on a busy machine a task resumes seconds after its append is
            // acknowledged. Watching the durable LSN on this thread, the deferred unit follows
            // the ordinary unit's sync at once.
            while log.durableLSN < LSN(lsn) { sched_yield() }
            let heldBefore = log.unitsHeldSoFar
            let before = syncs.syncs
            lsn += 1
            let deferred = try log.submit([simpleDraft(Int(lsn))], deferSync: true)
            _ = try await ordinary.wait()
            let range = try await deferred.wait()
            #expect(range == LSN(lsn)...LSN(lsn))
            #expect(log.durableLSN >= range.upperBound, "acknowledged means synced in durability always")
            #expect(syncs.syncs == before + 1, "one sync for it: its own, at once or at the window's end (no other unit came)")
            heldOnce = log.unitsHeldSoFar == heldBefore + 1
        }
        #expect(heldOnce, "in 5 tries the deferred unit was never held for its window")
        try log.close()
        #expect(try LogReader(directory: dir.logPath).commands().count == Int(lsn))
    }

    /// With no ordinary appender around (none synced in the last four windows), nobody would
    /// share the sync: a deferred unit is synced at once, never held.
    @Test func aDeferredUnitWithNoOneToShareIsSyncedAtOnce() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let syncs = SyncCounter()
        let log = try open(dir, window: .seconds(30), syncs)
        for i in 0..<10 {
            let range = try await log.submit([simpleDraft(i)], deferSync: true).wait()
            #expect(range == LSN(UInt64(i + 1))...LSN(UInt64(i + 1)))
            #expect(log.durableLSN >= range.upperBound)
        }
        #expect(log.unitsHeldSoFar == 0, "no unit waited for its window")
        #expect(syncs.syncs >= 10, "one sync each")
        try log.close()
        #expect(try LogReader(directory: dir.logPath).commands().count == 10)
    }

    /// Closing syncs a held unit and acknowledges it; it is there after reopening.
    @Test func closingSyncsAHeldUnit() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try open(dir, window: .seconds(30), SyncCounter())
        _ = try await log.append(simpleDraft(6))  // an ordinary appender is active
        let held = try log.submit([simpleDraft(7)], deferSync: true)
        #expect(await waitUntil { log.unitsHeldSoFar == 1 })
        #expect(log.lastLSN == LSN(1), "held")
        try log.close()
        #expect(try await held.wait() == LSN(2)...LSN(2))
        let reopened = try CommandLog.open(directory: dir.logPath)
        #expect(reopened.lastLSN == LSN(2))
        #expect(reopened.recoveryReport.wasCleanlyClosed)
        try reopened.close()
    }

    /// A failed sync fails the held unit too (LOG-141): nothing unsynced is acknowledged.
    @Test func aFailedSyncFailsTheHeldUnit() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let syncs = SyncCounter()
        let log = try open(dir, window: .seconds(30), syncs)
        _ = try await log.append(simpleDraft(0))
        let held = try log.submit([simpleDraft(1)], deferSync: true)
        #expect(await waitUntil { log.unitsHeldSoFar == 1 })
        #expect(log.lastLSN == LSN(1), "held")
        syncs.failNextSync()
        await #expect(throws: CommandLogError.self) { _ = try await log.append(simpleDraft(2)) }
        await #expect(throws: CommandLogError.self) { _ = try await held.wait() }
        #expect(log.durableLSN == LSN(1))
        try log.close()
    }

    /// Deferred and ordinary appenders at once: dense LSNs, every unit read back, all synced.
    @Test func mixedAppendersGetDenseLSNs() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try open(dir, window: Limits.deferredSyncWindow, SyncCounter())
        let ranges = try await withThrowingTaskGroup(of: [ClosedRange<LSN>].self) { group in
            for task in 0..<32 {
                group.addTask {
                    var mine: [ClosedRange<LSN>] = []
                    for i in 0..<20 {
                        let unit = [simpleDraft(task * 100 + i)]
                        if task % 2 == 0 {
                            mine.append(try await log.submit(unit, deferSync: true).wait())
                        } else {
                            mine.append(try await log.append(unit))
                        }
                        #expect(log.durableLSN >= mine.last!.upperBound)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(ranges.map(\.lowerBound.rawValue).sorted() == Array(1...640))
        #expect(log.durableLSN == LSN(640))
        try log.close()
        #expect(try LogReader(directory: dir.logPath).verify().commandCount == 640)
    }
}
