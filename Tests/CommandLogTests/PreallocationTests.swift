import Foundation
import Testing

@testable import CommandLog

/// LOG-096 (preallocated space after the last segment's frames) and recovery's R12.
@Suite struct PreallocationTests {
    /// A snapshot of a log that is still open: what a crash leaves on disk.
    func crashSnapshot(_ dir: TemporaryDirectory, units: [[CommandDraft]], configuration: CommandLog.Configuration = .init())
        async throws -> (path: String, drafts: [CommandDraft], log: CommandLog)
    {
        let log = try CommandLog.open(directory: dir.logPath, configuration: configuration)
        var drafts: [CommandDraft] = []
        for unit in units {
            _ = try await log.append(unit)
            drafts += unit
        }
        let snapshot = dir.path + "/snapshot"
        copyDirectory(dir.logPath, snapshot)
        return (snapshot, drafts, log)
    }

    func contentEnd(_ bytes: [UInt8]) -> Int {
        let offsets = frameOffsets(bytes)
        return offsets.last.map { $0 + frameLength(bytes, $0) } ?? 64
    }

    @Test func theWriterKeepsZerosAheadOfItsFrames() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (snapshot, drafts, log) = try await crashSnapshot(dir, units: (0..<20).map { [simpleDraft($0)] })
        defer { try? log.close() }
        let bytes = readFile(snapshot + "/" + segmentFiles(snapshot)[0])
        let end = contentEnd(bytes)
        #expect(bytes.count == Limits.preallocationSizeDefault, "one step of preallocation: \(bytes.count) bytes")
        #expect(end > 64 && bytes[end...].allSatisfy { $0 == 0 })
        // A reader of the live log stops at the zeros, reporting no tail.
        let summary = try LogReader(directory: dir.logPath).verify()
        #expect(summary.commandCount == drafts.count && summary.tailByteCount == 0 && summary.tailReason == nil)
    }

    @Test func aCrashWithPreallocatedSpaceCutsNothingAndReusesIt() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (snapshot, drafts, log) = try await crashSnapshot(dir, units: (0..<20).map { [simpleDraft($0)] })
        try log.close()
        let segment = snapshot + "/" + segmentFiles(snapshot)[0]
        let sizeBefore = readFile(segment).count
        let reopened = try CommandLog.open(directory: snapshot)
        let report = reopened.recoveryReport
        #expect(report.tornByteCount == 0 && report.filesKeptAside.isEmpty, "\(report)")
        #expect(!report.wasCleanlyClosed)
        #expect(report.actions.contains { $0.contains("R12") }, "\(report.actions)")
        #expect(reopened.lastLSN == LSN(20))
        _ = try await reopened.append(simpleDraft(20))
        #expect(readFile(segment).count == sizeBefore, "the append went into the preallocated space")
        try reopened.close()
        let closed = readFile(segment)
        #expect(closed.count == contentEnd(closed) + 64, "close cut the zeros and sealed the file")
        let summary = try LogReader(directory: snapshot).verify()
        #expect(summary.lastSegmentSealed && summary.commandCount == 21)
        #expect(try LogReader(directory: snapshot).commands().map(\.draft) == drafts + [simpleDraft(20)])
    }

    /// A torn frame inside preallocated space is R8: cut and kept, zeros after it included.
    @Test func aTornFrameInPreallocatedSpaceIsCutWithTheZerosAfterIt() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (snapshot, drafts, log) = try await crashSnapshot(dir, units: (0..<10).map { [simpleDraft($0)] })
        _ = try await log.append(simpleDraft(10))
        try log.close()
        let segment = snapshot + "/" + segmentFiles(snapshot)[0]
        var bytes = readFile(segment)
        let end = contentEnd(bytes)
        // The first 100 bytes of the frame the live log appended next: a torn write.
        let next = readFile(dir.logPath + "/" + segmentFiles(dir.logPath)[0])
        bytes.replaceSubrange(end..<(end + 100), with: next[end..<(end + 100)])
        writeFile(segment, bytes)
        #expect(try LogReader(directory: snapshot).verify().tailByteCount == bytes.count - end)
        let reopened = try CommandLog.open(directory: snapshot)
        #expect(reopened.lastLSN == LSN(10))
        #expect(reopened.recoveryReport.tornByteCount == bytes.count - end)
        let kept = reopened.recoveryReport.filesKeptAside
        #expect(kept.count == 1)
        if let name = kept.first { #expect(readFile(snapshot + "/" + name) == Array(bytes[end...]), "the cut bytes are kept") }
        try reopened.close()
        #expect(try LogReader(directory: snapshot).commands().map(\.draft) == drafts)
    }

    /// Zeros followed by any other byte are not preallocated space: R8 decides, as without it.
    @Test func zerosFollowedByOtherBytesAreATornTail() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (snapshot, drafts, log) = try await crashSnapshot(dir, units: (0..<10).map { [simpleDraft($0)] })
        try log.close()
        let segment = snapshot + "/" + segmentFiles(snapshot)[0]
        var bytes = readFile(segment)
        let end = contentEnd(bytes)
        bytes[bytes.count - 3] = 0x01
        writeFile(segment, bytes)
        let summary = try LogReader(directory: snapshot).verify()
        #expect(summary.commandCount == 10 && summary.tailByteCount == bytes.count - end)
        let reopened = try CommandLog.open(directory: snapshot)
        #expect(reopened.recoveryReport.tornByteCount == bytes.count - end)
        try reopened.close()
        #expect(try LogReader(directory: snapshot).commands().map(\.draft) == drafts)
    }

    /// Rolls and close cut the space before they seal: every sealed segment ends with its
    /// seal; zero bytes after a segment's seal are corruption (R4), not preallocated space.
    @Test func sealedSegmentsHoldNoPreallocatedSpace() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = CommandLog.Configuration(segmentSizeMax: Limits.segmentSizeMin)
        configuration.preallocationSize = 4096
        try await writeLog(at: dir.logPath, units: (0..<600).map { [noisyDraft($0)] }, configuration: configuration)
        let segments = segmentFiles(dir.logPath)
        #expect(segments.count >= 3)
        for name in segments {
            let bytes = readFile(dir.logPath + "/" + name)
            #expect(bytes.count == contentEnd(bytes) + 64, "\(name) ends with its seal")
        }
        #expect(try LogReader(directory: dir.logPath).verify().commandCount == 600)
        let first = dir.logPath + "/" + segments[0]
        writeFile(first, readFile(first) + [UInt8](repeating: 0, count: 4096))
        #expect(throws: CommandLogError.self) { try CommandLog.open(directory: dir.logPath) }
        #expect(throws: CommandLogError.self) { try LogReader(directory: dir.logPath).verify() }
    }

    @Test func preallocationOffWritesNoZeros() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = CommandLog.Configuration()
        configuration.preallocationSize = 0
        let (snapshot, _, log) = try await crashSnapshot(dir, units: (0..<5).map { [simpleDraft($0)] }, configuration: configuration)
        try log.close()
        let bytes = readFile(snapshot + "/" + segmentFiles(snapshot)[0])
        #expect(bytes.count == contentEnd(bytes))
    }

    @Test func preallocationSizeIsChecked() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        for size in [1, 4095, Limits.preallocationSizeRange.upperBound + 1, -1] {
            var configuration = CommandLog.Configuration()
            configuration.preallocationSize = size
            #expect(throws: CommandLogError.self) { try CommandLog.open(directory: dir.logPath, configuration: configuration) }
        }
    }
}
