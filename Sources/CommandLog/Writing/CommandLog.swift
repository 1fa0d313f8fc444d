import Foundation

/// The command log's writer: appends units of commands with group commit and
/// the configured durability (Specs/CommandLog.md §4).
///
/// ```swift
/// let log = try CommandLog.open(directory: "data/log")
/// let lsn = try await log.append(draft)
/// try log.close()
/// ```
///
/// One `CommandLog` per directory at a time (LOG-120). All methods are safe to
/// call from any task.
public final class CommandLog: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is either guarded by `condition`
    // (the "shared" group below) or touched only by the flusher thread (the
    // "flusher" group), which `open` starts after and `close` joins before using them.

    public let directory: String
    public let configuration: Configuration
    /// What opening found and did.
    public let recoveryReport: RecoveryReport

    private let lock: DirectoryLock
    private let condition = NSCondition()

    // Shared, guarded by `condition`.
    private var pending: [PendingUnit] = []
    private var pendingCommandCount = 0
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    private var nextLSN: LSN
    private var writtenLSN: LSN
    private var syncedLSN: LSN
    private var publishedChain: ChainHash
    private var failure: CommandLogError?
    private var closing = false
    private var closed = false
    private var flusherDone = false
    /// When the held units' sync is due (LOG-095); nil while none is held. Written by the
    /// flusher under `condition`.
    private var heldSyncDeadline: ContinuousClock.Instant?
    /// Units held for a later sync so far (LOG-095); for tests.
    private var heldUnitTotal = 0
    var unitsHeldSoFar: Int {
        condition.lock()
        defer { condition.unlock() }
        return heldUnitTotal
    }

    // Flusher-owned.
    private var tail: WriterTail
    private var encoder: FrameEncoder
    private var output: [UInt8] = []
    private var lastSync = ContinuousClock.now
    private var unsyncedLSN = LSN.zero
    /// Deferred units written but not yet synced, their tickets held (LOG-095).
    private var held: [PendingUnit] = []
    /// When a flush with a unit that is not deferred last synced (LOG-095).
    private var lastOrdinarySync = ContinuousClock.Instant.now - .seconds(3600)

    private struct PendingUnit {
        var records: [UInt8]
        var recordOffsets: [Int]
        var firstLSN: LSN
        /// Completed by the flusher with the outcome.
        var ticket: AppendTicket
        /// Its sync may wait for other units' (LOG-095).
        var deferSync: Bool
        var count: Int { recordOffsets.count }
        var range: ClosedRange<LSN> { firstLSN...firstLSN.advanced(by: count - 1) }
    }

    private init(directory: String, configuration: Configuration, lock: DirectoryLock, tail: WriterTail, report: RecoveryReport) {
        self.directory = directory
        self.configuration = configuration
        self.lock = lock
        self.tail = tail
        self.recoveryReport = report
        self.nextLSN = tail.lastLSN.next
        self.writtenLSN = tail.lastLSN
        self.syncedLSN = tail.lastLSN
        self.publishedChain = tail.chain
        self.encoder = FrameEncoder(compression: configuration.compression)
    }

    /// Opens (and recovers) the log in `directory` as its one writer (LOG-100, LOG-120).
    public static func open(directory: String, configuration: Configuration = Configuration()) throws -> CommandLog {
        try configuration.validate()
        if !Directory.exists(directory) {
            guard configuration.createIfMissing else { throw CommandLogError.notFound(path: directory) }
            try Directory.create(directory)
        }
        let lock = try DirectoryLock.acquire(directory: directory)
        do {
            var recovery = Recovery(directory: directory, configuration: configuration)
            let tail = try recovery.run()
            let log = CommandLog(directory: directory, configuration: configuration, lock: lock, tail: tail, report: recovery.report)
            Thread.detachNewThread(named: "shardlog-flush") { [log] in log.flusherLoop() }
            return log
        } catch {
            lock.release()
            throw error
        }
    }

    // MARK: - Appending

    /// Appends one command; returns its LSN once it is as durable as the configuration promises.
    public func append(_ draft: CommandDraft) async throws(CommandLogError) -> LSN {
        try await append([draft]).lowerBound
    }

    /// Appends a unit of commands atomically (LOG-070): after a crash all of them are in
    /// the log or none is. Returns their LSNs, which are consecutive.
    public func append(_ drafts: [CommandDraft]) async throws(CommandLogError) -> ClosedRange<LSN> {
        while true {
            do {
                return try await submit(drafts).wait()
            } catch .queueFull {
                await waitForSpace()  // LOG-094
            }
        }
    }

    /// Queues a unit without waiting: its LSNs are assigned now, in call order (LOG-090),
    /// and `ticket.wait()` returns once it is as durable as the configuration promises.
    /// Callers that must order their own work by LSN (the engine validates and submits
    /// under one lock) use this; others use `append`. Throws `queueFull` when the
    /// group-commit queue is full (LOG-094): wait with `append`, or retry.
    ///
    /// With `deferSync`, the unit's sync may wait up to `Limits.deferredSyncWindow` for
    /// other units to share it (LOG-095); its ticket still completes only once it is as
    /// durable as promised. For background work nobody else waits on.
    public func submit(_ drafts: [CommandDraft], deferSync: Bool = false) throws(CommandLogError) -> AppendTicket {
        // LOG-140: check and encode before queueing; nothing is written for a bad unit.
        if drafts.isEmpty { throw .invalidUnit(reason: "an append needs at least one command") }
        if drafts.count > Limits.unitCommandCountMax {
            throw .invalidUnit(reason: "\(drafts.count) commands, limit \(Limits.unitCommandCountMax) per append")
        }
        var size = 0
        for (index, draft) in drafts.enumerated() {
            if let problem = RecordLayout.validate(draft) { throw .invalidCommand(index: index, reason: problem) }
            size += RecordLayout.encodedSize(draft)
        }
        if size > Limits.unitRawSizeMax {
            throw .invalidUnit(reason: "\(size) bytes of records, limit \(Limits.unitRawSizeMax) per append")
        }
        // The LSNs are patched in when they are assigned, under the lock.
        var (records, offsets) = RecordLayout.encode(drafts, totalSize: size)
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw .poisoned(cause: failure.description) }
        if closing || closed { throw .closed }
        if pendingCommandCount > 0 && pendingCommandCount + drafts.count > Limits.pendingCommandCountMax {
            throw .queueFull
        }
        // LOG-090: LSNs in arrival order.
        let first = nextLSN
        nextLSN = nextLSN.advanced(by: drafts.count)
        RecordLayout.assignLSNs(&records, offsets: offsets, first: first)
        let ticket = AppendTicket(range: first...first.advanced(by: drafts.count - 1))
        pending.append(PendingUnit(records: records, recordOffsets: offsets, firstLSN: first, ticket: ticket, deferSync: deferSync))
        pendingCommandCount += drafts.count
        condition.signal()
        return ticket
    }

    /// Whether a unit of `commandCount` commands would be queued now rather than refused with
    /// `queueFull`. Space only grows until the next submit, so a caller that is the only
    /// submitter may check, then submit.
    public func canSubmit(commandCount: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return pendingCommandCount == 0 || pendingCommandCount + commandCount <= Limits.pendingCommandCountMax
    }

    /// Returns when the group-commit queue has room again (or the log failed or is closing).
    public func waitForQueueSpace() async { await waitForSpace() }

    private func waitForSpace() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if pendingCommandCount == 0 || failure != nil || closing {
                condition.unlock()
                continuation.resume()
                return
            }
            spaceWaiters.append(continuation)
            condition.unlock()
        }
    }

    // MARK: - State

    /// The last LSN written to the log (visible to readers of this process).
    public var lastLSN: LSN {
        condition.lock()
        defer { condition.unlock() }
        return writtenLSN
    }

    /// The last LSN known durable (synced).
    public var durableLSN: LSN {
        condition.lock()
        defer { condition.unlock() }
        return syncedLSN
    }

    /// The chain hash after the last frame written.
    public var chainHead: ChainHash {
        condition.lock()
        defer { condition.unlock() }
        return publishedChain
    }

    /// A reader over this log's directory; with `through` it reads only what was written.
    public var reader: LogReader { LogReader(directory: directory) }

    /// Commands `from…lastLSN`, streamed to `body` (LOG-122).
    @discardableResult
    public func forEach(from: LSN = LSN(1), _ body: (CommandView) throws -> Void) throws -> LogSummary {
        let end = lastLSN
        if end < from { return LogSummary() }
        return try reader.forEach(from: from, through: end, body)
    }

    // MARK: - Closing

    /// Waits for pending appends, syncs, seals the last segment (LOG-080) and releases the lock.
    /// After a failure it releases the lock without sealing, so the next open recovers the tail.
    public func close() throws {
        condition.lock()
        if closed {
            condition.unlock()
            return
        }
        closing = true
        condition.broadcast()
        while !flusherDone { condition.wait() }
        closed = true
        let failed = failure
        condition.unlock()
        defer {
            tail.file.close()
            lock.release()
        }
        if failed != nil { return }
        try writeSeal()
    }

    /// Seals the last segment (LOG-080) and syncs it: first cuts its preallocated space, so
    /// the seal is the file's last 64 bytes (LOG-096).
    private func writeSeal() throws {
        if tail.allocated > tail.size {
            try tail.file.truncate(to: tail.size)
            tail.allocated = tail.size
        }
        try tail.file.write(
            Seal(lastLSN: tail.lastLSN, frameCount: tail.frameCount, chainHead: tail.chain).encoded(), at: tail.size)
        try tail.file.sync()
    }

    // MARK: - The flusher thread (LOG-091)

    private func flusherLoop() {
        while true {
            condition.lock()
            while pending.isEmpty && !closing {
                if let deadline = heldSyncDeadline {
                    let remaining = deadline - ContinuousClock.now
                    if remaining <= .zero { break }
                    _ = condition.wait(until: Date().addingTimeInterval(remaining.seconds))
                } else if case .interval(let interval) = configuration.durability, unsyncedLSN > syncedLSN {
                    let deadline = lastSync + interval
                    let remaining = deadline - ContinuousClock.now
                    if remaining <= .zero { break }
                    _ = condition.wait(until: Date().addingTimeInterval(remaining.seconds))
                } else {
                    condition.wait()
                }
            }
            let units = pending
            pending = []
            pendingCommandCount = 0
            let waiters = spaceWaiters
            spaceWaiters = []
            let stop = closing && units.isEmpty
            let poisoned = failure
            condition.unlock()
            for waiter in waiters { waiter.resume() }

            if let poisoned {
                for unit in held + units { unit.ticket.complete(.failure(.poisoned(cause: poisoned.description))) }
                held = []
            } else if !units.isEmpty {
                flush(units)
            } else if !held.isEmpty {
                syncHeld()  // LOG-095: the window ended, or the log is closing
            } else if !stop {
                intervalSyncIfDue()
            }
            if stop {
                if failure == nil { finalSync() }
                condition.lock()
                flusherDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
        }
    }

    private func flush(_ units: [PendingUnit]) {
        do {
            try writeFrames(units)
            let last = units.last!.range.upperBound
            var synced = false
            switch configuration.durability {
            case .always:
                // LOG-095: only deferred units, and their window is open: hold them — but
                // only while other appenders are active (one synced within the last four
                // windows); with no one to share the sync, holding would only delay it.
                let now = ContinuousClock.now
                let window = configuration.deferredSyncWindow
                if units.allSatisfy(\.deferSync), heldSyncDeadline.map({ now < $0 }) ?? (now - lastOrdinarySync < window * 4) {
                    held += units
                    condition.lock()
                    if heldSyncDeadline == nil { heldSyncDeadline = now + window }
                    heldUnitTotal += units.count
                    condition.unlock()
                    return
                }
                try tail.file.sync()
                synced = true
                if !units.allSatisfy(\.deferSync) { lastOrdinarySync = .now }
            case .interval(let interval):
                if ContinuousClock.now - lastSync >= interval {
                    try tail.file.sync()
                    synced = true
                }
            case .none:
                break
            }
            let completed = held + units
            held = []
            publish(through: last, synced: synced, completing: completed)
        } catch {
            poison(error, held + units)
            held = []
        }
    }

    /// Syncs the held units (LOG-095) and completes their tickets.
    private func syncHeld() {
        let units = held
        held = []
        do {
            try tail.file.sync()
            publish(through: units.last!.range.upperBound, synced: true, completing: units)
        } catch {
            poison(error, units)
        }
    }

    /// Makes what was written through `last` visible to readers (and durable, when `synced`),
    /// ends any hold (LOG-095), and completes the tickets of `units`.
    private func publish(through last: LSN, synced: Bool, completing units: [PendingUnit]) {
        if synced { lastSync = .now }
        unsyncedLSN = last
        condition.lock()
        writtenLSN = last
        if synced { syncedLSN = last }
        publishedChain = tail.chain
        heldSyncDeadline = nil
        condition.unlock()
        for unit in units { unit.ticket.complete(.success(unit.range)) }
    }

    private func intervalSyncIfDue() {
        guard case .interval = configuration.durability, unsyncedLSN > syncedLSN else { return }
        do {
            try tail.file.sync()
            lastSync = .now
            condition.lock()
            syncedLSN = unsyncedLSN
            condition.unlock()
        } catch {
            poison(error, [])
        }
    }

    private func finalSync() {
        do {
            try tail.file.sync()
            condition.lock()
            syncedLSN = writtenLSN
            condition.unlock()
        } catch {
            poison(error, [])
        }
    }

    /// LOG-141: after a failed write or sync nothing more is appended until reopen.
    private func poison(_ error: any Error, _ units: [PendingUnit]) {
        let typed = (error as? CommandLogError) ?? .io(operation: "append", path: directory, errno: 0)
        condition.lock()
        if failure == nil { failure = typed }
        let waiters = spaceWaiters
        spaceWaiters = []
        condition.unlock()
        for waiter in waiters { waiter.resume() }
        for unit in units { unit.ticket.complete(.failure(typed)) }
    }

    /// Packs units into frames (LOG-070, LOG-091), rolls segments between units (LOG-071,
    /// LOG-093) and writes each segment's share with one write.
    private func writeFrames(_ units: [PendingUnit]) throws {
        output.removeAll(keepingCapacity: true)
        encoder.pack(units: units.map { ($0.records, $0.recordOffsets, $0.firstLSN) })
        encoder.compressAll()
        var chain = tail.chain
        var framesInOutput: UInt64 = 0
        var lastInOutput = tail.lastLSN
        var previousContinued = false
        for index in 0..<encoder.frameCount {
            let plan = encoder.plan(index)
            let frameStart = output.count
            let newChain = encoder.seal(index, chain: chain, into: &output)
            // LOG-093: roll before a unit's first frame if this frame would pass the limit.
            if !previousContinued && (tail.frameCount + framesInOutput) > 0
                && tail.size + output.count > configuration.segmentSizeMax
            {
                let frame = Array(output[frameStart...])
                output.removeLast(frame.count)
                try writeOutput(frames: framesInOutput, lastLSN: lastInOutput, chain: chain)
                framesInOutput = 0
                try roll()
                // The frame was chained to `chain`, which the new segment's header carries too.
                output.append(contentsOf: frame)
            }
            chain = newChain
            framesInOutput += 1
            lastInOutput = plan.firstLSN.advanced(by: plan.count - 1)
            previousContinued = plan.continued
        }
        try writeOutput(frames: framesInOutput, lastLSN: lastInOutput, chain: chain)
    }

    private func writeOutput(frames: UInt64, lastLSN: LSN, chain: ChainHash) throws {
        guard !output.isEmpty else { return }
        try tail.file.write(output, at: tail.size)
        let end = tail.size + output.count
        if end > tail.allocated {
            tail.allocated = end
            // LOG-096: zeros ahead of the frames, made durable by this flush's sync; a failure
            // to write them is not an error (the next flush tries again).
            let chunk = configuration.preallocationSize
            if chunk > 0 {
                let target = (end / chunk + 1) * chunk
                if tail.file.writeZeros(end..<target) { tail.allocated = target }
            }
        }
        tail.size += output.count
        tail.frameCount += frames
        tail.lastLSN = lastLSN
        tail.chain = chain
        output.removeAll(keepingCapacity: true)
    }

    /// Seals the current segment, syncs it (in every durability mode, LOG-092) and starts the next.
    private func roll() throws {
        try writeSeal()
        tail.file.close()
        tail = try Recovery.createSegment(
            directory: directory, firstLSN: tail.lastLSN.next, previousChain: tail.chain, faults: configuration.faults)
        lastSync = .now
    }
}

/// A queued append: its LSNs, and a wait for its durability (`CommandLog.submit`).
public final class AppendTicket: @unchecked Sendable {
    // @unchecked Sendable: `result` and `waiter` are guarded by `lock`.
    public let range: ClosedRange<LSN>
    private let lock = NSLock()
    private var result: Result<ClosedRange<LSN>, CommandLogError>?
    private var waiter: CheckedContinuation<Result<ClosedRange<LSN>, CommandLogError>, Never>?
    private var observer: (@Sendable (Result<ClosedRange<LSN>, CommandLogError>) -> Void)?

    init(range: ClosedRange<LSN>) { self.range = range }

    func complete(_ outcome: Result<ClosedRange<LSN>, CommandLogError>) {
        lock.lock()
        result = outcome
        let waiting = waiter
        let observing = observer
        waiter = nil
        observer = nil
        lock.unlock()
        // The observer first: whatever it records is in place when `wait()` returns.
        observing?(outcome)
        waiting?.resume(returning: outcome)
    }

    /// Calls `body` with the outcome once the unit is as durable as promised (or failed),
    /// before `wait()` returns; at once, on this thread, when it already is. Otherwise it
    /// runs on the log's writer thread, so it must be quick and must not wait. One
    /// observer per ticket.
    public func onCompletion(_ body: @escaping @Sendable (Result<ClosedRange<LSN>, CommandLogError>) -> Void) {
        lock.lock()
        if let result {
            lock.unlock()
            body(result)
            return
        }
        precondition(observer == nil, "one observer per ticket")
        observer = body
        lock.unlock()
    }

    /// Returns the LSNs once the unit is as durable as the log's configuration promises,
    /// or throws why it is not (LOG-141).
    public func wait() async throws(CommandLogError) -> ClosedRange<LSN> {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<ClosedRange<LSN>, CommandLogError>, Never>) in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(returning: result)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
        return try outcome.get()
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
