import Foundation
import Testing

@testable import CommandLog

@Suite struct LockAndReaderTests {
    /// LOG-120: a second writer gets the lock error naming the holder; after close it may open.
    @Test func secondWriterIsLockedOut() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try CommandLog.open(directory: dir.logPath)
        #expect {
            _ = try CommandLog.open(directory: dir.logPath)
        } throws: { error in
            guard case .locked(_, let holder) = error as? CommandLogError else { return false }
            return holder.contains("pid \(getpid())")
        }
        try log.close()
        try CommandLog.open(directory: dir.logPath).close()
    }

    /// LOG-121: a reader opened while the writer appends sees a consistent, committed prefix.
    @Test func readerDuringAppendsSeesAPrefix() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try CommandLog.open(
            directory: dir.logPath, configuration: .init(durability: .none, segmentSizeMax: Limits.segmentSizeMin))
        let writer = Task {
            for u in 0..<400 {
                let unit = (0..<(1 + u % 5)).map { noisyDraft(u * 10 + $0, size: 200) }
                _ = try await log.append(unit)
            }
        }
        var lastSeen = 0
        var reads = 0
        while true {
            let done = writer.isCancelled || log.lastLSN.rawValue >= 1200
            let read = try LogReader(directory: dir.logPath).commands()
            // Dense from 1, whole units only, and never shrinking.
            #expect(read.enumerated().allSatisfy { $0.element.lsn.rawValue == UInt64($0.offset + 1) })
            #expect(read.count >= lastSeen)
            if let last = read.last { #expect(last.commandID.map { $0.hasPrefix("c") } == true) }
            lastSeen = read.count
            reads += 1
            if done || reads > 2000 { break }
        }
        try await writer.value
        try log.close()
        #expect(try LogReader(directory: dir.logPath).commands().count == (0..<400).reduce(0) { $0 + 1 + $1 % 5 })
    }
}

/// Deterministic I/O faults (TigerBeetle's habit): failures poison the writer (LOG-141).
final class ScriptedFaults: FaultInjector, @unchecked Sendable {
    // @unchecked Sendable: the lock guards every field.
    private let lock = NSLock()
    private var writeFault: InjectedFault = .none
    private var syncFault: InjectedFault = .none
    private var armedAfterWrites = Int.max

    func failNextWrite(_ fault: InjectedFault, afterWrites: Int = 0) {
        lock.withLock {
            writeFault = fault
            armedAfterWrites = afterWrites
        }
    }

    func failNextSync(_ fault: InjectedFault) { lock.withLock { syncFault = fault } }

    func beforeWrite(path: String, offset: Int, count: Int) -> InjectedFault {
        lock.withLock {
            if armedAfterWrites == Int.max { return .none }
            if armedAfterWrites > 0 {
                armedAfterWrites -= 1
                return .none
            }
            armedAfterWrites = Int.max
            return writeFault
        }
    }

    func beforeSync(path: String) -> InjectedFault {
        lock.withLock {
            defer { syncFault = .none }
            return syncFault
        }
    }
}

@Suite struct FaultTests {
    func open(_ dir: TemporaryDirectory, _ faults: ScriptedFaults) throws -> CommandLog {
        var configuration = CommandLog.Configuration()
        configuration.faults = faults
        return try CommandLog.open(directory: dir.logPath, configuration: configuration)
    }

    /// After a failed fdatasync the log refuses every further append until reopened.
    @Test func failedSyncPoisonsTheWriter() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let faults = ScriptedFaults()
        let log = try open(dir, faults)
        _ = try await log.append(simpleDraft(0))
        faults.failNextSync(.fail(errno: EIO))
        await #expect(throws: CommandLogError.io(operation: "fdatasync", path: dir.logPath + "/" + SegmentName.make(1), errno: EIO)) {
            _ = try await log.append(simpleDraft(1))
        }
        await #expect {
            _ = try await log.append(simpleDraft(2))
        } throws: { error in
            if case .poisoned = error as? CommandLogError { return true }
            return false
        }
        try log.close()
        // Reopen: the acknowledged command is there; the unacknowledged one may be (it was written).
        let reopened = try CommandLog.open(directory: dir.logPath)
        #expect(reopened.lastLSN >= LSN(1))
        _ = try await reopened.append(simpleDraft(3))
        try reopened.close()
        #expect(try LogReader(directory: dir.logPath).verify().commandCount >= 2)
    }

    /// A full disk mid-write is `diskFull`; the torn frame is cut on reopen and nothing acknowledged is lost.
    @Test func diskFullTearsAFrameThatRecoveryCuts() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let faults = ScriptedFaults()
        let log = try open(dir, faults)
        let acknowledged = (0..<5).map { simpleDraft($0) }
        for draft in acknowledged { _ = try await log.append(draft) }
        faults.failNextWrite(.tear(count: 100, errno: ENOSPC))
        await #expect(throws: CommandLogError.diskFull(path: dir.logPath + "/" + SegmentName.make(1))) {
            _ = try await log.append((0..<20).map { noisyDraft(100 + $0) })
        }
        await #expect(throws: CommandLogError.self) { _ = try await log.append(simpleDraft(9)) }
        try log.close()
        // The torn frame's 100 bytes went into preallocated space (LOG-096): R8 cuts them and
        // the zeros after them, to the end of the file.
        let segment = readFile(dir.logPath + "/" + SegmentName.make(1))
        let torn = frameOffsets(segment).last!
        #expect(segment[torn..<(torn + 100)].contains { $0 != 0 } && segment[(torn + 100)...].allSatisfy { $0 == 0 })
        let reopened = try CommandLog.open(directory: dir.logPath)
        #expect(reopened.lastLSN == LSN(5))
        #expect(reopened.recoveryReport.tornByteCount == segment.count - torn)
        try reopened.close()
        #expect(try LogReader(directory: dir.logPath).commands().map(\.draft) == acknowledged)
    }
}

@Suite struct LimitsTests {
    /// The relations between the limits (TigerBeetle: checked by a test, in one place).
    @Test func limitsAreConsistent() {
        #expect(Limits.frameRawSizeMax >= Limits.recordSizeMax, "every command fits a frame")
        #expect(Limits.frameStoredSizeMax == Limits.frameRawSizeMax)
        #expect(Limits.unitRawSizeMax >= Limits.frameRawSizeMax)
        #expect(Limits.unitCommandCountMax <= Limits.pendingCommandCountMax, "one unit always fits the queue")
        #expect(Limits.segmentSizeMin >= SegmentHeader.size + Seal.size + FrameHeader.size)
        #expect(Limits.segmentSizeDefault >= Limits.segmentSizeMin)
        #expect(Limits.frameCommandCountMax <= Int(UInt32.max) && Limits.frameRawSizeMax <= Int(UInt32.max))
        #expect(Limits.actorSizeMax <= Int(UInt16.max) && Limits.reasonSizeMax <= Int(UInt16.max))
        #expect(Limits.commandIDSizeMax <= Int(UInt16.max))
        #expect(Limits.readBufferSize >= FrameHeader.size)
    }
}
