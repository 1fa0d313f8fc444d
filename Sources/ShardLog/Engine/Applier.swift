import CommandLog
import Foundation
import ShardLogSys
import Synchronization

/// Applies durable commands to the projections strictly in LSN order, batching every unit
/// that is ready (ENG-004, INV-5), on threads of its own: a batch's shards on
/// the first, its catalog transaction on the second, one batch behind (ENG-025).
///
/// A unit is handed over by its append ticket the moment it is durable (ENG-003), whether or
/// not its writer still waits, so applying never depends on a writer's task being scheduled
/// (a read that waits for the applier on a cooperative thread cannot starve it). Units finish
/// durability in any order; the applier waits for the gaps before them.
///
/// ENG-024: the applier is off the write path (a write returns once durable), so it gathers
/// units for up to its coalescing window (`StoreConfiguration.applyCoalescingWindow`)
/// before it applies them while nobody waits for it, and its threads run at a lower
/// scheduling priority (`niceness`) than the writers and the log's flusher. Both cut the CPU and I/O a write costs on the projections' side — fewer,
/// larger transactions write each B-tree page once for many rows — and keep that work from
/// taking a core from the durable path. A reader's barrier, a writer held by backpressure,
/// or a workflow waiting for its apply ends the wait at once.
final class Applier: @unchecked Sendable {
    // @unchecked Sendable: the inbox's fields are guarded by `inboxLock`, `handedOver` and
    // `backlog` are atomic, every other mutable field is guarded by `condition`.
    struct Unit: Sendable {
        var range: ClosedRange<LSN>
        var effects: [(lsn: LSN, effects: Effects)]

        var commandCount: Int { Int(range.upperBound.rawValue - range.lowerBound.rawValue + 1) }
    }

    /// ENG-003: durable commands not yet applied past which a writer waits for its own unit
    /// to be applied before it returns, so the backlog (and the memory its effects hold)
    /// stays bounded when writes come faster than the projections take them
    /// (`StoreConfiguration.applyBacklogMax`).
    let backlogMax: Int
    /// ENG-024: how many ready commands end the wait for more (the coalescing window) early.
    static let coalesceCommandsMax = 4_096
    /// ENG-024: the applier threads' `nice` value (Linux; 0 is the default, 19 the lowest).
    static let niceness: Int32 = 10
    /// An applier thread ends after this long without work; the next unit starts another.
    static let idleExit: TimeInterval = 1

    /// What the first stage leaves for the second (ENG-025): the batch's catalog transaction.
    typealias Finish = @Sendable () throws -> Void
    /// ENG-025: batches whose shards are applied and whose catalog transaction waits, at most.
    static let finishingMax = 1

    private let condition = NSCondition()
    private var ready: [UInt64: Unit] = [:]
    /// The first LSN not applied (both stages).
    private var nextLSN: LSN
    /// The first LSN the first stage has not taken.
    private var takenLSN: LSN
    /// Batches whose shards are applied, waiting for the second stage, in LSN order.
    private var finishing: [(finish: Finish, end: LSN, count: Int)] = []
    /// Whether the second stage's thread is alive, and whether it sleeps waiting for work.
    private var finisherRunning = false
    private var finisherSleeping = false
    /// ENG-030: the hand-over's side, which never takes `condition`. Units handed over and
    /// not yet taken by the first stage; whether the first stage's thread is alive; whether
    /// the applier failed (nothing more is taken). Guarded by `inboxLock`, which is held only
    /// to append a unit, take them all, or change a flag.
    private let inboxLock = NSLock()
    private var inbox: [Unit] = []
    private var running = false
    private var inboxClosed = false
    /// The first stage's spare array, swapped with `inbox` (keeps both arrays' storage).
    private var taken: [Unit] = []
    /// ENG-030: wakes the first stage; signalled by everything that should end its sleep.
    private let event: OpaquePointer
    /// The highest LSN handed over so far (applied or not).
    private let handedOver: Atomic<UInt64>
    /// Commands handed over and not yet applied.
    private let backlog = Atomic<Int>(0)
    /// Reads blocked in `settle()`.
    private var settling = 0
    private var waiters: [(lsn: LSN, continuation: CheckedContinuation<Void, Never>)] = []
    private var failure: ShardLogError?
    /// The first failure, if any (for tests: that a late batch met a released store).
    var recordedFailure: ShardLogError? { condition.withLock { failure } }
    private let write: @Sendable ([Unit]) throws -> Finish
    /// ENG-024: how long ready units may wait for more while nobody waits for them.
    private let coalesceWindow: TimeInterval

    /// `write` applies consecutive units to the shards (one call per batch) and returns what
    /// is left to do for them — the catalog's transaction — which runs on the second stage.
    init(
        nextLSN: LSN, coalesceWindow: Duration = .zero, backlogMax: Int = StoreConfiguration.defaultApplyBacklogMax,
        write: @escaping @Sendable ([Unit]) throws -> Finish
    ) {
        self.backlogMax = backlogMax
        self.nextLSN = nextLSN
        self.takenLSN = nextLSN
        let (seconds, attoseconds) = coalesceWindow.components
        self.coalesceWindow = Double(seconds) + Double(attoseconds) / 1e18
        self.handedOver = Atomic(nextLSN.rawValue - 1)
        self.write = write
        guard let event = shardlog_event_create() else { fatalError("out of memory") }
        self.event = event
    }

    deinit { shardlog_event_destroy(event) }

    /// Hands over a durable unit. Called from its ticket's completion (any thread, mostly
    /// the log's flusher): quick, and never waits for the applier's threads (ENG-030).
    func handOver(_ unit: Unit) {
        inboxLock.lock()
        guard !inboxClosed else {
            inboxLock.unlock()
            return
        }
        inbox.append(unit)
        backlog.add(unit.commandCount, ordering: .sequentiallyConsistent)
        // Written only here, under `inboxLock`; atomic for the read barrier, which loads it.
        if unit.range.upperBound.rawValue > handedOver.load(ordering: .sequentiallyConsistent) {
            handedOver.store(unit.range.upperBound.rawValue, ordering: .sequentiallyConsistent)
        }
        let start = !running
        running = true
        inboxLock.unlock()
        if start {
            Thread.detachNewThread(named: "shardlog-apply") { [self] in run() }
        } else {
            shardlog_event_signal(event)
        }
    }

    /// Starts the second stage's thread, or wakes it when it sleeps for want of work; with
    /// the lock held. (The first stage is started and woken by `handOver`, ENG-030.)
    private func startOrWakeFinisher() {
        if !finisherRunning {
            finisherRunning = true
            Thread.detachNewThread(named: "shardlog-apply2") { [self] in finishBatches() }
        } else if finisherSleeping {
            condition.broadcast()
        }
    }

    /// A unit will never be handed over (its append failed): nothing after it can be applied.
    func fail(_ error: ShardLogError) {
        condition.lock()
        failLocked(error)
        let finished = takeWaitersLocked()
        condition.broadcast()
        condition.unlock()
        shardlog_event_signal(event)
        for continuation in finished { continuation.resume() }
    }

    /// Records the applier's first failure, with the lock held: the inbox takes nothing more.
    private func failLocked(_ error: ShardLogError) {
        if failure == nil { failure = error }
        inboxLock.withLock {
            inboxClosed = true
            inbox = []
        }
    }

    /// Runs `body` holding the applier's lock, as its threads do between batches (for tests:
    /// ENG-030 says a hand-over never waits for it).
    func withLockHeld<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// Whether the applier thread is alive (for tests).
    var threadIsRunning: Bool { inboxLock.withLock { running } }

    /// Whether more commands wait to be applied than `backlogMax` (no lock: a writer asks).
    var isBacklogged: Bool { backlog.load(ordering: .sequentiallyConsistent) > backlogMax }

    /// Moves what was handed over into `ready`, with the lock held (the first stage only).
    private func takeInboxLocked() {
        inboxLock.withLock { swap(&inbox, &taken) }
        for unit in taken { ready[unit.range.lowerBound.rawValue] = unit }
        taken.removeAll(keepingCapacity: true)
    }

    /// The first stage's wait (ENG-030): with the lock held, takes what was handed over and
    /// checks `waiting`; while it holds and nothing failed, sleeps on the event with the
    /// lock released, for at most `seconds` in all. The event's sequence is read before the
    /// checks, so a signal after them ends the sleep.
    private func sleepFirstStage(for seconds: TimeInterval, while waiting: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        while failure == nil {
            let seen = shardlog_event_sequence(event)
            takeInboxLocked()
            guard waiting() else { return }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return }
            condition.unlock()
            shardlog_event_wait(event, seen, Int64(remaining * 1e9))
            condition.lock()
        }
    }

    /// The first stage found no work for `idleExit`: ends unless a unit arrived meanwhile
    /// (then `running` stays set and the stage goes on). With the lock held.
    private func stopIfIdle() -> Bool {
        inboxLock.withLock {
            guard inbox.isEmpty else { return false }
            running = false
            return true
        }
    }

    /// Whether someone waits for the applier: a read's barrier, a writer held by
    /// backpressure, a workflow waiting for its apply, `close`.
    private var awaitedLocked: Bool { settling > 0 || !waiters.isEmpty }

    /// The applier thread, the first stage: takes batches and applies them to the shards,
    /// until there is no work for `idleExit`.
    private func run() {
        _ = shardlog_set_thread_nice(Self.niceness)
        condition.lock()
        var idle = false
        while failure == nil {
            takeInboxLocked()
            if ready[takenLSN.rawValue] == nil {
                sleepFirstStage(for: Self.idleExit) { ready[takenLSN.rawValue] == nil }
                if ready[takenLSN.rawValue] == nil && failure == nil && stopIfIdle() {
                    idle = true
                    break
                }
                continue
            }
            // ENG-024: gather more while nobody waits.
            if coalesceWindow > 0 && !awaitedLocked && backlog.load(ordering: .sequentiallyConsistent) < Self.coalesceCommandsMax {
                sleepFirstStage(for: coalesceWindow) { !awaitedLocked && backlog.load(ordering: .sequentiallyConsistent) < Self.coalesceCommandsMax }
                if failure != nil { break }
            }
            var batch: [Unit] = []
            var cursor = takenLSN
            var count = 0
            while let unit = ready.removeValue(forKey: cursor.rawValue) {
                batch.append(unit)
                count += unit.commandCount
                cursor = unit.range.upperBound.next
            }
            if batch.isEmpty { continue }
            takenLSN = cursor
            condition.unlock()
            let outcome = Self.attempt { try write(batch) }
            condition.lock()
            switch outcome {
            case .failure(let error):
                failLocked(error)
            case .success(let finish):
                // ENG-025: at most `finishingMax` batches ahead of the catalog.
                while finishing.count >= Self.finishingMax && failure == nil { condition.wait() }
                guard failure == nil else { break }
                finishing.append((finish, LSN(cursor.rawValue - 1), count))
                startOrWakeFinisher()
            }
        }
        if !idle { inboxLock.withLock { running = false } }
        endStageLocked()
    }

    /// The second stage (ENG-025): runs each batch's catalog transaction in LSN order, then
    /// the batch counts as applied; until there is no work for `idleExit`.
    private func finishBatches() {
        _ = shardlog_set_thread_nice(Self.niceness)
        condition.lock()
        while failure == nil {
            guard let (finish, end, count) = finishing.first else {
                sleepSecondStage(for: Self.idleExit) { finishing.isEmpty }
                if finishing.isEmpty && failure == nil { break }
                continue
            }
            condition.unlock()
            let outcome = Self.attempt { try finish() }
            condition.lock()
            if !finishing.isEmpty { finishing.removeFirst() }  // emptied when the first stage failed
            if case .failure(let error) = outcome {
                failLocked(error)
                shardlog_event_signal(event)
                break
            }
            nextLSN = end.next
            backlog.subtract(count, ordering: .sequentiallyConsistent)
            let finished = takeWaitersLocked()
            condition.broadcast()
            if !finished.isEmpty {
                condition.unlock()
                for continuation in finished { continuation.resume() }
                condition.lock()
            }
        }
        finisherRunning = false
        endStageLocked()
    }

    /// The second stage's wait: with the lock held and `finisherSleeping` set so that new
    /// work or a waiter wakes it, while `waiting` holds and nothing failed, for at most
    /// `seconds`.
    private func sleepSecondStage(for seconds: TimeInterval, while waiting: () -> Bool) {
        finisherSleeping = true
        let deadline = Date().addingTimeInterval(seconds)
        while waiting() && failure == nil && condition.wait(until: deadline) {}
        finisherSleeping = false
    }

    /// A stage's work, with any error as the store's (a projection's failure, ENG-005).
    private static func attempt<T>(_ body: () throws -> T) -> Result<T, ShardLogError> {
        do {
            return .success(try body())
        } catch let error as ShardLogError {
            return .failure(error)
        } catch {
            return .failure(.database(String(describing: error)))
        }
    }

    /// On the way out of either stage, with the lock held (and released here): after a
    /// failure nothing more is applied, and every waiter learns it.
    private func endStageLocked() {
        let finished = failure == nil ? [] : takeWaitersLocked()
        if failure != nil {
            ready = [:]
            finishing = []
        }
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
            shardlog_event_signal(event)  // ENG-024: someone waits now
        }
        if let failure = condition.withLock({ nextLSN > lsn ? nil : failure }) { throw failure }
    }

    /// ENG-003's read barrier: blocks until everything handed over so far is applied, so a
    /// read sees every write that had returned when it began. Throws what stopped the
    /// applier, when that is why the barrier cannot be passed.
    func settle() throws(ShardLogError) {
        condition.lock()
        defer { condition.unlock() }
        let target = LSN(handedOver.load(ordering: .sequentiallyConsistent))
        guard nextLSN <= target else { return }
        // ENG-005: writes acknowledged that the projections will never hold fail every read
        // (before, a read after the failed one passed the barrier and read the stale rows).
        if let failure { throw failure }
        settling += 1
        defer { settling -= 1 }
        shardlog_event_signal(event)  // ENG-024: someone waits now
        while nextLSN <= target && failure == nil { condition.wait() }
        if nextLSN <= target, let failure { throw failure }
    }
}
