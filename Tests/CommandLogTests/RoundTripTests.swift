import Foundation
import Testing

@testable import CommandLog

@Suite struct RoundTripTests {
    /// Random batches round-trip exactly, through close and reopen, across segment rolls.
    @Test(arguments: testSeeds(default: 3))
    func randomBatchesRoundTrip(seed: UInt64) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var rng = SeededRandom(seed: seed)
        var units: [[CommandDraft]] = []
        var index = 0
        for _ in 0..<Int.random(in: 20...60, using: &rng) {
            let count = Int.random(in: 1...50, using: &rng)
            units.append((0..<count).map { _ in defer { index += 1 }; return randomDraft(&rng, index: index) })
        }
        let config = CommandLog.Configuration(segmentSizeMax: Limits.segmentSizeMin)
        let half = units.count / 2
        var expected = try await writeLog(at: dir.logPath, units: Array(units[..<half]), configuration: config)
        // Reopen after a clean close: LSNs continue where they stopped.
        let log = try CommandLog.open(directory: dir.logPath, configuration: config)
        #expect(log.recoveryReport.wasCleanlyClosed)
        #expect(log.lastLSN == LSN(UInt64(expected.count)))
        for unit in units[half...] {
            let range = try await log.append(unit)
            #expect(range.lowerBound == LSN(UInt64(expected.count + 1)))
            expected += unit
        }
        try log.close()

        let read = try LogReader(directory: dir.logPath).commands()
        #expect(read.count == expected.count)
        for (i, command) in read.enumerated() {
            #expect(command.lsn == LSN(UInt64(i + 1)))
            #expect(command.draft == expected[i])
        }
        let summary = try LogReader(directory: dir.logPath).verify()
        #expect(summary.commandCount == expected.count)
        #expect(summary.lastLSN == LSN(UInt64(expected.count)))
        #expect(summary.lastSegmentSealed)
        #expect(summary.segmentCount > 1, "the small segment size should have rolled")
    }

    /// Reading from any LSN, with and without an upper bound.
    @Test func readsFromAnyLSN() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let units = (0..<40).map { u in (0..<25).map { simpleDraft(u * 25 + $0, size: 300) } }
        let all = try await writeLog(at: dir.logPath, units: units, configuration: .init(segmentSizeMax: Limits.segmentSizeMin))
        let reader = LogReader(directory: dir.logPath)
        for from in [1, 2, 25, 26, 333, 999, 1000] {
            let got = try reader.commands(from: LSN(UInt64(from)))
            #expect(got.count == all.count - from + 1)
            #expect(got.first?.lsn == LSN(UInt64(from)))
            #expect(got.first?.payload == all[from - 1].payload)
        }
        let middle = try reader.commands(from: 100, through: 180)
        #expect(middle.map(\.lsn.rawValue) == Array(100...180))
        #expect(try reader.commands(from: 1001).isEmpty)
    }

    /// A unit larger than a frame is split over CONTINUED frames and read back whole (LOG-070).
    @Test func largeUnitSpansFrames() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let big = (0..<10_000).map { simpleDraft($0, size: 600) }  // ~6.5 MB raw: at least two frames
        try await writeLog(at: dir.logPath, units: [[simpleDraft(-1)], big, [simpleDraft(-2)]])
        let bytes = readFile(dir.logPath + "/" + segmentFiles(dir.logPath)[0])
        let offsets = frameOffsets(bytes)
        #expect(offsets.count >= 4)
        let continued = offsets.filter { bytes[$0 + 6] & 2 != 0 }
        #expect(!continued.isEmpty)
        let read = try LogReader(directory: dir.logPath).commands()
        #expect(read.count == 10_002)
        #expect(read[1].payload == big[0].payload && read[10_000].payload == big[9_999].payload)
    }

    /// Many concurrent appenders get dense, unique LSNs and every acknowledged command reads back.
    @Test(arguments: [Durability.always, .none, .interval(.milliseconds(5))])
    func concurrentAppendersGetDenseLSNs(durability: Durability) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try CommandLog.open(directory: dir.logPath, configuration: .init(durability: durability))
        let tasks = 64
        let perTask = 40
        let results = try await withThrowingTaskGroup(of: [(ClosedRange<LSN>, [CommandDraft])].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var acks: [(ClosedRange<LSN>, [CommandDraft])] = []
                    for i in 0..<perTask {
                        let unit = (0..<(1 + i % 3)).map { simpleDraft(task * 10_000 + i * 10 + $0, size: 100 + i) }
                        acks.append((try await log.append(unit), unit))
                    }
                    return acks
                }
            }
            var all: [(ClosedRange<LSN>, [CommandDraft])] = []
            for try await acks in group { all += acks }
            return all
        }
        try log.close()
        var seen = Set<UInt64>()
        for (range, unit) in results {
            #expect(range.count == unit.count)
            for lsn in range { #expect(seen.insert(lsn.rawValue).inserted, "LSN \(lsn) given twice") }
        }
        #expect(seen == Set(1...UInt64(seen.count)), "LSNs are dense from 1")
        let read = try LogReader(directory: dir.logPath).commands()
        #expect(read.count == seen.count)
        for (range, unit) in results {
            for (offset, lsn) in range.enumerated() { #expect(read[Int(lsn.rawValue) - 1].draft == unit[offset]) }
        }
    }

    /// Bad appends are rejected with typed errors and write nothing (LOG-140).
    @Test func invalidAppendsWriteNothing() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try CommandLog.open(directory: dir.logPath)
        _ = try await log.append(simpleDraft(0))
        var bad = simpleDraft(1)
        bad.typeTag = 0
        await #expect(throws: CommandLogError.self) { _ = try await log.append([simpleDraft(2), bad]) }
        bad = simpleDraft(1)
        bad.actor = String(repeating: "x", count: Limits.actorSizeMax + 1)
        await #expect(throws: CommandLogError.self) { _ = try await log.append(bad) }
        bad = simpleDraft(1)
        bad.payload = [UInt8](repeating: 1, count: Limits.commandPayloadSizeMax + 1)
        await #expect(throws: CommandLogError.self) { _ = try await log.append(bad) }
        await #expect(throws: CommandLogError.self) { _ = try await log.append([]) }
        #expect(log.lastLSN == LSN(1))
        #expect(try await log.append(simpleDraft(3)) == LSN(2))
        try log.close()
        #expect(try LogReader(directory: dir.logPath).commands().count == 2)
        await #expect(throws: CommandLogError.closed) { _ = try await log.append(simpleDraft(4)) }
    }

    /// LOG-031: incompressible payloads are stored raw, and both kinds read back.
    @Test func incompressiblePayloadIsStoredRaw() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var rng = SeededRandom(seed: 9)
        let noise = (0..<2000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let draft = CommandDraft(timestamp: Timestamp(microsecondsSince1970: 0), actor: "", typeTag: 3, payload: noise)
        try await writeLog(at: dir.logPath, units: [[draft], (0..<50).map { simpleDraft($0) }])
        let bytes = readFile(dir.logPath + "/" + segmentFiles(dir.logPath)[0])
        let flags = frameOffsets(bytes).map { bytes[$0 + 6] & 1 }
        #expect(flags == [0, 1])
        let read = try LogReader(directory: dir.logPath).commands()
        #expect(read[0].payload == noise && read.count == 51)
    }
}
