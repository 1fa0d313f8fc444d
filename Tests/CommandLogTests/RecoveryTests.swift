import Foundation
import Testing

@testable import CommandLog

/// The recovery decision table (LOG-100) case by case.
@Suite struct RecoveryTests {
    /// R8: truncating the log at every byte offset of its last two frames recovers exactly
    /// the frames wholly before the cut, and keeps the cut bytes beside the segment.
    @Test func truncationAtEveryOffsetOfTheLastTwoFrames() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.path + "/source"
        var units = (0..<6).map { u in (0..<3).map { simpleDraft(u * 3 + $0, size: 150) } }
        units.append([simpleDraft(100, size: 90)])
        let all = try await writeLog(at: source, units: units)
        let segment = segmentFiles(source)[0]
        let original = readFile(source + "/" + segment)
        let offsets = frameOffsets(original)
        #expect(offsets.count == units.count)
        let sealStart = original.count - 64
        let cutsFrom = offsets[offsets.count - 2]
        let work = dir.path + "/work"
        for cut in cutsFrom..<sealStart {
            copyDirectory(source, work)
            let path = work + "/" + segment
            writeFile(path, Array(original[..<cut]))
            let framesKept = offsets.filter { $0 + frameLength(original, $0) <= cut }.count
            let commandsKept = units.prefix(framesKept).reduce(0) { $0 + $1.count }
            let log = try CommandLog.open(directory: work)
            #expect(log.lastLSN == LSN(UInt64(commandsKept)), "cut at \(cut)")
            let cleanCut = offsets.contains(cut)
            #expect(log.recoveryReport.tornByteCount == (cleanCut ? 0 : cut - offsets[framesKept]), "cut at \(cut)")
            if !cleanCut {
                let kept = log.recoveryReport.filesKeptAside
                #expect(kept.count == 1)
                if let name = kept.first {
                    #expect(readFile(work + "/" + name) == Array(original[offsets[framesKept]..<cut]), "the cut bytes are kept")
                }
            }
            try log.close()
            let read = try LogReader(directory: work).commands()
            #expect(read.map(\.draft) == Array(all.prefix(commandsKept)), "cut at \(cut)")
        }
    }

    /// R10: a unit split over frames whose last frame is lost is cut whole (atomic appends).
    @Test func incompleteUnitIsCutWhole() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = [simpleDraft(0)]
        let big = (0..<9_000).map { simpleDraft($0 + 1, size: 600) }
        try await writeLog(at: dir.logPath, units: [first, big])
        let segment = dir.logPath + "/" + segmentFiles(dir.logPath)[0]
        let bytes = readFile(segment)
        let offsets = frameOffsets(bytes)
        #expect(offsets.count >= 3)
        // Cut inside the last frame of the big unit: its earlier CONTINUED frames must go too.
        writeFile(segment, Array(bytes[..<(offsets.last! + 100)]))
        #expect(try LogReader(directory: dir.logPath).commands().count == 1, "readers never show half a unit")
        let log = try CommandLog.open(directory: dir.logPath)
        #expect(log.lastLSN == LSN(1))
        #expect(log.recoveryReport.tornByteCount == offsets.last! + 100 - offsets[1])
        _ = try await log.append(simpleDraft(5))
        try log.close()
        let read = try LogReader(directory: dir.logPath).commands()
        #expect(read.count == 2 && read[1].lsn == LSN(2))
    }

    /// R5: a new segment whose header never became durable is moved aside.
    @Test func tornSegmentCreationIsMovedAside() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let all = try await writeLog(at: dir.logPath, units: [(0..<10).map { simpleDraft($0) }])
        // Simulate a crash after creating the next segment but before its header was written.
        // The previous segment was sealed before the roll (LOG-092).
        writeFile(dir.logPath + "/" + SegmentName.make(LSN(11)), [UInt8](repeating: 0, count: 40))
        let log = try CommandLog.open(directory: dir.logPath)
        #expect(log.lastLSN == LSN(10))
        #expect(log.recoveryReport.filesKeptAside == ["00000000000000000011.log.0.torn"])
        #expect(try await log.append(simpleDraft(10)) == LSN(11))
        try log.close()
        #expect(try LogReader(directory: dir.logPath).commands().map(\.draft) == all + [simpleDraft(10)])
    }

    /// R3: a missing first segment, or a gap between segments, refuses to open.
    @Test func missingSegmentRefusesToOpen() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let units = (0..<60).map { u in (0..<20).map { noisyDraft(u * 20 + $0, size: 300) } }
        try await writeLog(at: dir.logPath, units: units, configuration: .init(segmentSizeMax: Limits.segmentSizeMin))
        let segments = segmentFiles(dir.logPath)
        #expect(segments.count >= 3)
        let aside = dir.path + "/aside"
        try FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: dir.logPath + "/" + segments[1], toPath: aside + "/x")
        #expect(throws: CommandLogError.self) { _ = try CommandLog.open(directory: dir.logPath) }
        #expect(throws: CommandLogError.self) { _ = try LogReader(directory: dir.logPath).verify() }
        try FileManager.default.moveItem(atPath: aside + "/x", toPath: dir.logPath + "/" + segments[1])
        try FileManager.default.moveItem(atPath: dir.logPath + "/" + segments[0], toPath: aside + "/y")
        #expect(throws: CommandLogError.self) { _ = try CommandLog.open(directory: dir.logPath) }
    }

    /// LOG-106: salvage keeps the valid prefix and moves the rest aside; nothing is deleted.
    @Test func salvageKeepsThePrefix() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let units = (0..<60).map { u in (0..<20).map { noisyDraft(u * 20 + $0, size: 300) } }
        let all = try await writeLog(at: dir.logPath, units: units, configuration: .init(segmentSizeMax: Limits.segmentSizeMin))
        let segments = segmentFiles(dir.logPath)
        #expect(segments.count >= 3)
        let victim = dir.logPath + "/" + segments[1]
        var bytes = readFile(victim)
        let offsets = frameOffsets(bytes)
        bytes[offsets[2] + 100] ^= 0x01
        writeFile(victim, bytes)
        #expect(throws: CommandLogError.self) { _ = try LogReader(directory: dir.logPath).verify() }
        let strictOpen = Result { try CommandLog.open(directory: dir.logPath) }
        // Open checks only the last segment's frames; the damage is in a sealed middle segment.
        if case .success(let log) = strictOpen { try log.close() }
        let log = try CommandLog.open(directory: dir.logPath, configuration: .init(segmentSizeMax: Limits.segmentSizeMin, recovery: .salvage))
        let report = log.recoveryReport
        #expect(report.salvagedFrom?.segment == segments[1])
        #expect(report.salvagedFrom?.offset == offsets[2])
        #expect(report.filesKeptAside.count == 1 + (segments.count - 2))
        let keptLSN = log.lastLSN
        try log.close()
        let read = try LogReader(directory: dir.logPath).commands()
        #expect(read.count == Int(keptLSN.rawValue))
        #expect(read.map(\.draft) == Array(all.prefix(read.count)))
        #expect(try LogReader(directory: dir.logPath).verify().commandCount == read.count)
    }
}

/// A frame's length on disk, read from its header (§3.2).
func frameLength(_ bytes: [UInt8], _ offset: Int) -> Int {
    let stored = Int(bytes[offset + 20]) | Int(bytes[offset + 21]) << 8 | Int(bytes[offset + 22]) << 16 | Int(bytes[offset + 23]) << 24
    return 64 + ((stored + 7) & ~7)
}
