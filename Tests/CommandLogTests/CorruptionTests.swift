import Foundation
import Testing

@testable import CommandLog

/// Corruption is reported with its place, never skipped (LOG-021, LOG-050, LOG-081, LOG-105).
@Suite struct CorruptionTests {
    /// A flipped bit anywhere in a sealed frame — header, payload or padding — is detected by
    /// open and by verify, and named with the frame's segment, offset and LSN.
    @Test func everyFlippedBitInASealedFrameIsNamed() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.path + "/source"
        let units = (0..<5).map { u in (0..<2).map { simpleDraft(u * 2 + $0, size: 41) } }
        try await writeLog(at: source, units: units)
        let segment = segmentFiles(source)[0]
        let original = readFile(source + "/" + segment)
        let offsets = frameOffsets(original)
        let work = dir.path + "/work"
        // The middle frame and the last frame (a bit flip there must not pass for a torn tail).
        for frameIndex in [2, offsets.count - 1] {
            let start = offsets[frameIndex]
            let end = start + frameLength(original, start)
            let expected = LogPosition(segment: segment, offset: start, lsn: LSN(UInt64(frameIndex * 2 + 1)))
            for byte in start..<end {
                for bit in 0..<8 {
                    copyDirectory(source, work)
                    var bytes = original
                    bytes[byte] ^= UInt8(1 << bit)
                    writeFile(work + "/" + segment, bytes)
                    var opened: CommandLogError?
                    do { try CommandLog.open(directory: work).close() } catch let e as CommandLogError { opened = e }
                    guard case .corruption(let position, _) = opened else {
                        Issue.record("open did not refuse a flipped bit at byte \(byte) bit \(bit): \(String(describing: opened))")
                        continue
                    }
                    #expect(position == expected, "byte \(byte) bit \(bit)")
                    var verified: CommandLogError?
                    do { _ = try LogReader(directory: work).verify() } catch let e as CommandLogError { verified = e }
                    guard case .corruption(let verifyPosition, _) = verified else {
                        Issue.record("verify missed byte \(byte) bit \(bit)")
                        continue
                    }
                    #expect(verifyPosition == expected, "verify, byte \(byte) bit \(bit)")
                }
            }
        }
    }

    /// A removed frame and swapped frames break LSN continuity and the chain; a frame
    /// re-forged with a correct CRC but chained to the wrong predecessor is caught by the chain.
    @Test func removedReorderedAndForgedFramesAreDetected() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let units = (0..<6).map { [simpleDraft($0, size: 120)] }
        try await writeLog(at: dir.logPath, units: units)
        let path = dir.logPath + "/" + segmentFiles(dir.logPath)[0]
        let original = readFile(path)
        let offsets = frameOffsets(original)
        func frame(_ i: Int) -> [UInt8] { Array(original[offsets[i]..<(offsets[i] + frameLength(original, offsets[i]))]) }
        let head = Array(original[..<offsets[0]])
        let seal = Array(original[(original.count - 64)...])

        func expectCorruptAt(_ bytes: [UInt8], offset: Int, _ note: Comment) throws {
            writeFile(path, bytes)
            var found: CommandLogError?
            do { _ = try LogReader(directory: dir.logPath).verify() } catch let e as CommandLogError { found = e }
            guard case .corruption(let position, _) = found else {
                Issue.record("verify did not detect: \(note)")
                return
            }
            #expect(position.offset == offset, note)
        }
        // Removed frame 2.
        var removed = head
        for i in [0, 1, 3, 4, 5] { removed += frame(i) }
        try expectCorruptAt(removed + seal, offset: offsets[2], "removed frame")
        // Frames 2 and 3 swapped.
        var swapped = head
        for i in [0, 1, 3, 2, 4, 5] { swapped += frame(i) }
        try expectCorruptAt(swapped + seal, offset: offsets[2], "swapped frames")
        // Frame 3 re-forged: LSN and CRC right, chain hash computed from a wrong predecessor.
        var forged = frame(3)
        let wrongChain = forged.withUnsafeBytes { f in
            ChainHash.next(
                after: .genesis, headerPrefix: UnsafeRawBufferPointer(rebasing: f[0..<28]),
                payload: UnsafeRawBufferPointer(rebasing: f[64..<(64 + Int(f.loadLE(20, as: UInt32.self)))]))
        }
        forged.replaceSubrange(28..<60, with: wrongChain.bytes)
        let crc = forged.withUnsafeBytes { f in
            crc32c(UnsafeRawBufferPointer(rebasing: f[64..<(64 + Int(f.loadLE(20, as: UInt32.self)))]),
                continuing: crc32c(UnsafeRawBufferPointer(rebasing: f[0..<60])))
        }
        forged.storeLE(crc, at: 60)
        var forgedLog = head
        for i in 0..<6 { forgedLog += i == 3 ? forged : frame(i) }
        try expectCorruptAt(forgedLog + seal, offset: offsets[3], "forged chain")
        // And the writer refuses to open it too (the frame is CRC-valid, so it is no torn tail).
        #expect(throws: CommandLogError.self) { _ = try CommandLog.open(directory: dir.logPath) }
    }

    /// R9: an unsealed (crashed) last segment with damage followed by valid frames is
    /// corruption, not a torn tail.
    @Test func damageBeforeValidFramesInAnUnsealedTailIsCorruption() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try await writeLog(at: dir.logPath, units: (0..<6).map { [simpleDraft($0, size: 120)] })
        let path = dir.logPath + "/" + segmentFiles(dir.logPath)[0]
        var bytes = readFile(path)
        bytes.removeLast(64)  // no seal: as after a crash
        let offsets = frameOffsets(bytes)
        bytes[offsets[3] + 70] ^= 0x40
        writeFile(path, bytes)
        var found: CommandLogError?
        do { try CommandLog.open(directory: dir.logPath).close() } catch let e as CommandLogError { found = e }
        guard case .corruption(let position, _) = found else {
            Issue.record("expected corruption, got \(String(describing: found))")
            return
        }
        #expect(position.offset == offsets[3] && position.lsn == LSN(4))
        #expect(segmentFiles(dir.logPath).count == 1)
        #expect(readFile(path) == bytes, "a refused open changes nothing")
    }

    /// LOG-004: a stray `.log` file is reported, not ignored.
    @Test func strayLogFileIsReported() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try await writeLog(at: dir.logPath, units: [[simpleDraft(0)]])
        writeFile(dir.logPath + "/notes.log", Array("hello".utf8))
        #expect(throws: CommandLogError.self) { _ = try CommandLog.open(directory: dir.logPath) }
        #expect(throws: CommandLogError.self) { _ = try LogReader(directory: dir.logPath).verify() }
    }

    /// LOG-022 / R11: an unknown format version is reported as unsupported, never skipped.
    @Test func unknownVersionIsUnsupported() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try await writeLog(at: dir.logPath, units: [[simpleDraft(0)], [simpleDraft(1)]])
        let path = dir.logPath + "/" + segmentFiles(dir.logPath)[0]
        var bytes = readFile(path)
        let offset = frameOffsets(bytes)[1]
        bytes[offset + 4] = 2
        let stored = Int(bytes.withUnsafeBytes { $0.loadLE(offset + 20, as: UInt32.self) })
        let crc = bytes.withUnsafeBytes { b in
            crc32c(UnsafeRawBufferPointer(rebasing: b[(offset + 64)..<(offset + 64 + stored)]),
                continuing: crc32c(UnsafeRawBufferPointer(rebasing: b[offset..<(offset + 60)])))
        }
        bytes.storeLE(crc, at: offset + 60)
        writeFile(path, bytes)
        #expect {
            _ = try LogReader(directory: dir.logPath).verify()
        } throws: { error in
            if case .unsupported(let position, _) = error as? CommandLogError { return position.offset == offset }
            return false
        }
    }
}
