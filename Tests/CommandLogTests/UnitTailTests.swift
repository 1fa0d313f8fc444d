import Foundation
import Testing

@testable import CommandLog

/// A damaged frame of an append that spans several frames (LOG-070) is a torn tail only
/// when nothing valid follows it in the last, unsealed segment (LOG-081, LOG-100 R8/R9):
/// `verify`, a reader and the writer's open agree on every frame and every kind of damage.
@Suite struct UnitTailTests {
    enum Damage: String, CaseIterable {
        case crc, magic, size, flags
        func apply(to bytes: inout [UInt8], frameAt offset: Int) {
            switch self {
            case .crc: bytes[offset + 60] ^= 0x01  // the CRC field itself
            case .magic: bytes[offset] ^= 0xFF
            case .size: bytes[offset + 23] ^= 0x40  // the stored size's high byte: far over the limit
            case .flags: bytes[offset + 6] ^= 0x02  // a flag bit
            }
        }
    }

    enum Outcome: Equatable, CustomStringConvertible {
        case corruption(LogPosition)
        case tail(committedThrough: LSN, bytes: Int)
        var description: String {
            switch self {
            case .corruption(let p): return "corruption at \(p.segment)+\(p.offset) LSN \(p.lsn)"
            case .tail(let lsn, let bytes): return "tail of \(bytes) bytes after LSN \(lsn)"
            }
        }
    }

    /// A small unit, a unit of about four frames, and (when `followed`) a small unit after it.
    func writeSource(_ path: String, followed: Bool) async throws -> (drafts: [CommandDraft], bigUnit: ClosedRange<Int>) {
        var configuration = CommandLog.Configuration()
        configuration.preallocationSize = 0
        let first = [simpleDraft(0)]
        let big = (1...40).map { noisyDraft($0, size: 10_000) }
        var units = [first, big]
        if followed { units.append([simpleDraft(41)]) }
        let drafts = try await writeLog(at: path, units: units, configuration: configuration)
        return (drafts, 1...40)
    }

    func outcomeOfOpen(_ directory: String) -> Outcome? {
        do {
            let log = try CommandLog.open(directory: directory)
            let report = log.recoveryReport
            let last = log.lastLSN
            try log.close()
            return .tail(committedThrough: last, bytes: report.tornByteCount)
        } catch CommandLogError.corruption(let position, _) {
            return .corruption(position)
        } catch {
            Issue.record("open: \(error)")
            return nil
        }
    }

    func outcomeOfVerify(_ directory: String) -> Outcome? {
        do {
            let summary = try LogReader(directory: directory).verify()
            return .tail(committedThrough: summary.lastLSN, bytes: summary.tailByteCount)
        } catch CommandLogError.corruption(let position, _) {
            return .corruption(position)
        } catch {
            Issue.record("verify: \(error)")
            return nil
        }
    }

    /// What a reader delivers: the LSNs, then its error if any.
    func outcomeOfRead(_ directory: String) -> (lsns: [UInt64], error: LogPosition?) {
        var lsns: [UInt64] = []
        do {
            try LogReader(directory: directory).forEach { lsns.append($0.lsn.rawValue) }
            return (lsns, nil)
        } catch CommandLogError.corruption(let position, _) {
            return (lsns, position)
        } catch {
            Issue.record("read: \(error)")
            return (lsns, nil)
        }
    }

    @Test(arguments: [false, true], [false, true])
    func everyFrameOfAMultiFrameAppend(sealed: Bool, followed: Bool) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.path + "/source"
        _ = try await writeSource(source, followed: followed)
        let segment = segmentFiles(source)[0]
        var original = readFile(source + "/" + segment)
        if !sealed { original.removeLast(64) }  // a crash after the last sync: no seal
        let offsets = frameOffsets(original)
        // Frame 0 is the first unit; the big unit's frames follow; then the last unit's.
        let unitFrames = Array(offsets.dropFirst().prefix(offsets.count - (followed ? 2 : 1)))
        #expect(unitFrames.count >= 3, "the append spans \(unitFrames.count) frames")
        let work = dir.path + "/work"
        var tails = 0
        for (k, frame) in unitFrames.enumerated() {
            for damage in Damage.allCases {
                let note = "sealed \(sealed), followed \(followed), frame \(k + 1) of \(unitFrames.count), \(damage)"
                var bytes = original
                damage.apply(to: &bytes, frameAt: frame)
                copyDirectory(source, work)
                writeFile(work + "/" + segment, bytes)
                let verified = outcomeOfVerify(work)
                let read = outcomeOfRead(work)
                let opened = outcomeOfOpen(work)  // last: a successful open cuts the tail
                // Only the last frame of an unsealed segment with nothing after it can be a torn tail.
                let isTail = !sealed && !followed && k == unitFrames.count - 1
                if isTail {
                    tails += 1
                    #expect(verified == .tail(committedThrough: LSN(1), bytes: original.count - unitFrames[0]), "\(note): \(String(describing: verified))")
                    #expect(opened == verified, "\(note): open \(String(describing: opened)), verify \(String(describing: verified))")
                    #expect(read.lsns == [1] && read.error == nil, "\(note): a reader delivers the committed prefix only")
                } else {
                    guard case .corruption(let position)? = verified else {
                        Issue.record("\(note): verify called it \(String(describing: verified))")
                        continue
                    }
                    #expect(position.segment == segment && position.offset == frame && position.lsn.rawValue > 1, "\(note): \(position)")
                    #expect(opened == verified, "\(note): open \(String(describing: opened)), verify \(String(describing: verified))")
                    #expect(read.error == position && read.lsns == [1], "\(note): read \(read)")
                }
            }
        }
        #expect(tails == (!sealed && !followed ? Damage.allCases.count : 0))
    }
}

/// LOG-105: the offset and LSN that name damage to a segment's header, link or seal, the
/// same from the writer's open and from `verify`.
@Suite struct SegmentDamagePositionTests {
    static func setHeaderCRC(_ bytes: inout [UInt8]) {
        let crc = bytes.withUnsafeBytes { crc32c(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
        for k in 0..<4 { bytes[60 + k] = UInt8(truncatingIfNeeded: crc >> (8 * k)) }
    }

    static func putU64(_ value: UInt64, into bytes: inout [UInt8], at offset: Int) {
        for k in 0..<8 { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }

    func refusal(_ directory: String) -> (open: LogPosition?, verify: LogPosition?) {
        var opened: LogPosition?
        var verified: LogPosition?
        do { try CommandLog.open(directory: directory).close() } catch CommandLogError.corruption(let p, _) { opened = p } catch {}
        do { _ = try LogReader(directory: directory).verify() } catch CommandLogError.corruption(let p, _) { verified = p } catch {}
        return (opened, verified)
    }

    @Test func headerLinkAndSealDamageIsNamedAlike() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.path + "/source"
        var configuration = CommandLog.Configuration()
        configuration.segmentSizeMax = 64 * 1024
        configuration.preallocationSize = 0
        try await writeLog(at: source, units: (0..<60).map { [noisyDraft($0, size: 3_000)] }, configuration: configuration)
        let segments = segmentFiles(source)
        #expect(segments.count >= 3)
        let first = readFile(source + "/" + segments[0])
        let secondLSN = UInt64(segments[1].dropLast(4))!
        let work = dir.path + "/work"
        func check(_ note: String, expected: LogPosition, _ damage: (String) -> Void) {
            copyDirectory(source, work)
            damage(work)
            let (opened, verified) = refusal(work)
            #expect(opened == expected, "\(note): open named \(String(describing: opened))")
            #expect(verified == expected, "\(note): verify named \(String(describing: verified))")
        }
        // A damaged seal of a segment before the last: where it starts, the LSN after its last frame.
        check("seal", expected: LogPosition(segment: segments[0], offset: first.count - 64, lsn: LSN(secondLSN))) { work in
            var bytes = first
            bytes[first.count - 10] ^= 0x01
            writeFile(work + "/" + segments[0], bytes)
        }
        // A header whose first LSN disagrees with the file name: the field's offset, the name's LSN.
        check("first LSN", expected: LogPosition(segment: segments[1], offset: 16, lsn: LSN(secondLSN))) { work in
            var bytes = readFile(work + "/" + segments[1])
            Self.putU64(secondLSN + 1, into: &bytes, at: 16)
            Self.setHeaderCRC(&bytes)
            writeFile(work + "/" + segments[1], bytes)
        }
        // A chain that does not continue: the chain field's offset, the segment's first LSN.
        check("chain", expected: LogPosition(segment: segments[1], offset: 24, lsn: LSN(secondLSN))) { work in
            var bytes = readFile(work + "/" + segments[1])
            bytes[30] ^= 0x01
            Self.setHeaderCRC(&bytes)
            writeFile(work + "/" + segments[1], bytes)
        }
        // A gap between segments: the next segment's offset 0, the LSN that was expected.
        let thirdLSN = UInt64(segments[2].dropLast(4))!
        let renamed = String(repeating: "0", count: 20 - String(thirdLSN + 1).count) + String(thirdLSN + 1) + ".log"
        check("gap", expected: LogPosition(segment: renamed, offset: 0, lsn: LSN(thirdLSN))) { work in
            var bytes = readFile(work + "/" + segments[2])
            Self.putU64(thirdLSN + 1, into: &bytes, at: 16)
            Self.setHeaderCRC(&bytes)
            try! FileManager.default.removeItem(atPath: work + "/" + segments[2])
            writeFile(work + "/" + renamed, bytes)
        }
    }
}
