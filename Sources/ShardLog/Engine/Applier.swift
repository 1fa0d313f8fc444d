import CommandLog
import Dispatch
import Foundation

/// Applies durable commands to the projections strictly in LSN order, batching every unit
/// that is ready (ENG-004, DESIGN invariant 5), on a serial dispatch queue of its own.
///
/// A unit is handed over by its append ticket the moment it is durable (ENG-003), whether or
/// not its writer still waits, so applying never depends on a writer's task being scheduled
/// (a read that waits for the applier on a cooperative thread cannot starve it). Units finish
/// durability in any order; the applier waits for the gaps before them.
final class Applier: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is guarded by `condition`.
    struct Unit: Sendable {
        var range: ClosedRange<LSN>
        var effects: [(lsn: LSN, effects: Effects)]

        var commandCount: Int { Int(range.upperBound.rawValue - range.lowerBound.rawValue + 1) }
    }

    /// ENG-003: durable commands not yet applied past which a writer waits for its own unit
    /// to be applied before it returns, so the backlog (and the memory its effects hold)
    /// stays bounded when writes come faster than the projections take them.
    static let backlogMax = 8_192

    private let condition = NSCondition()
    private var ready: [UInt64: Unit] = [:]
    /// The first LSN not applied.
    private var nextLSN: LSN
    /// The highest LSN handed over so far (applied or not).
    private var handedOver: LSN
    /// Commands handed over and not yet applied.
    private var backlog = 0
    private var draining = false
    private var waiters: [(lsn: LSN, continuation: CheckedContinuation<Void, Never>)] = []
    private var failure: ShardLogError?
    private let queue = DispatchQueue(label: "shardlog.applier")
    private let write: @Sendable ([Unit]) throws -> Void

    /// `write` applies consecutive units to the projections (one call per batch).
    init(nextLSN: LSN, write: @escaping @Sendable ([Unit]) throws -> Void) {
        self.nextLSN = nextLSN
        self.handedOver = LSN(nextLSN.rawValue - 1)
        self.write = write
    }

    /// Hands over a durable unit. Called from its ticket's completion (any thread): quick,
    /// never waits.
    func handOver(_ unit: Unit) {
        condition.lock()
        defer { condition.unlock() }
        guard failure == nil else { return }
        ready[unit.range.lowerBound.rawValue] = unit
        backlog += unit.commandCount
        if unit.range.upperBound > handedOver { handedOver = unit.range.upperBound }
        if !draining && ready[nextLSN.rawValue] != nil {
            draining = true
            queue.async { self.drain() }
        }
    }

    /// A unit will never be handed over (its append failed): nothing after it can be applied.
    func fail(_ error: ShardLogError) {
        condition.lock()
        if failure == nil { failure = error }
        let finished = takeWaitersLocked()
        condition.broadcast()
        condition.unlock()
        for continuation in finished { continuation.resume() }
    }

    /// Whether more commands wait to be applied than `backlogMax`.
    var isBacklogged: Bool { condition.withLock { backlog > Self.backlogMax } }

    private func drain() {
        condition.lock()
        while failure == nil {
            var batch: [Unit] = []
            var cursor = nextLSN
            var count = 0
            while let unit = ready.removeValue(forKey: cursor.rawValue) {
                batch.append(unit)
                count += unit.commandCount
                cursor = unit.range.upperBound.next
            }
            if batch.isEmpty { break }
            condition.unlock()
            var outcome: ShardLogError?
            do {
                try write(batch)
            } catch let error as ShardLogError {
                outcome = error
            } catch {
                outcome = .database(String(describing: error))
            }
            condition.lock()
            if let outcome {
                if failure == nil { failure = outcome }
                break
            }
            nextLSN = cursor
            backlog -= count
            let finished = takeWaitersLocked()
            condition.broadcast()
            if !finished.isEmpty {
                condition.unlock()
                for continuation in finished { continuation.resume() }
                condition.lock()
            }
        }
        draining = false
        let finished = failure == nil ? [] : takeWaitersLocked()
        if failure != nil { ready = [:] }
        condition.broadcast()
        condition.unlock()
        for continuation in finished { continuation.resume() }
    }

    /// The waiters whose LSN is applied (every waiter once the applier failed).
    private func takeWaitersLocked() -> [CheckedContinuation<Void, Never>] {
        var finished: [CheckedContinuation<Void, Never>] = []
        waiters.removeAll { waiter in
            guard waiter.lsn < nextLSN || failure != nil else { return false }
            finished.append(waiter.continuation)
            return true
        }
        return finished
    }

    /// Returns once every LSN up to `lsn` is applied; throws what stopped the applier first.
    func waitUntilApplied(through lsn: LSN) async throws(ShardLogError) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if nextLSN > lsn || failure != nil {
                condition.unlock()
                continuation.resume()
                return
            }
            waiters.append((lsn, continuation))
            condition.unlock()
        }
        if let failure = condition.withLock({ nextLSN > lsn ? nil : failure }) { throw failure }
    }

    /// ENG-003's read barrier: blocks until everything handed over so far is applied, so a
    /// read sees every write that had returned when it began. Throws what stopped the
    /// applier, when that is why the barrier cannot be passed.
    func settle() throws(ShardLogError) {
        condition.lock()
        defer { condition.unlock() }
        let target = handedOver
        while nextLSN <= target && failure == nil { condition.wait() }
        if nextLSN <= target, let failure { throw failure }
    }
}
