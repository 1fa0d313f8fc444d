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
            directory: dir.logPath, configuration: .init(durability: .none, segmentSizeMax: 1 << 20))
        // Units of 1…5 commands of 40 KB: those of 4 and 5 span two frames (LOG-070), so a
        // reader that delivered frame by frame would end inside a unit.
        let units = (0..<120).map { u in (0..<(1 + u % 5)).map { noisyDraft(u * 10 + $0, size: 40_000) } }
        let drafts = units.flatMap { $0 }
        let unitEnds = Set(units.reduce(into: [0]) { ends, unit in ends.append(ends.last! + unit.count) })
        #expect(units.contains { $0.count * 40_000 > Limits.frameRawSizeTarget }, "some units span frames")
        let writer = Task {
            for unit in units { _ = try await log.append(unit) }
        }
        var lastSeen = 0
        var reads = 0
        var partial = 0
        while true {
            let done = log.lastLSN.rawValue >= UInt64(drafts.count)
            let read = try LogReader(directory: dir.logPath).commands()
            // Dense from 1, the commands appended in their order, whole units only, never shrinking.
            #expect(read.enumerated().allSatisfy { $0.element.lsn.rawValue == UInt64($0.offset + 1) })
            #expect(read.enumerated().allSatisfy { $0.element.commandID == drafts[$0.offset].commandID }, "read \(read.count)")
            if !unitEnds.contains(read.count) { partial += 1 }
            #expect(read.count >= lastSeen)
            if read.count > lastSeen && read.count < drafts.count { reads += 1 }
            lastSeen = read.count
            if done || reads > 2000 { break }
        }
        #expect(partial == 0, "\(partial) reads ended inside a unit")
        try await writer.value
        try log.close()
        let all = try LogReader(directory: dir.logPath).commands()
        #expect(all.count == drafts.count && zip(all, drafts).allSatisfy { $0.commandID == $1.commandID }, "\(all.count) of \(drafts.count)")
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
