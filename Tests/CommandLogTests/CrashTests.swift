import Foundation
import Testing

@testable import CommandLog

/// The payload the crash child gives command `index` of append `sequence` of `task`
/// (mirrors `payload(task:sequence:index:)` in Sources/commandlog-crash-child).
func crashChildPayload(task: Int, sequence: Int, index: Int) -> [UInt8] {
    let text = "t\(task)-s\(sequence)-i\(index)-"
    return Array(text.utf8) + (0..<(100 + (sequence * 7 + index) % 200)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ task) }
}

@Suite struct CrashTests {
    /// The payload the child gave the command with id `t<task>s<sequence>i<index>`.
    static func expectedPayload(commandID: String) -> [UInt8]? {
        let numbers = commandID.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count == 3 else { return nil }
        return crashChildPayload(task: numbers[0], sequence: numbers[1], index: numbers[2])
    }

    /// LOG-102 and INV-1: a writer killed with SIGKILL during heavy appending,
    /// round after round on the same log, loses no acknowledged command; the log verifies.
    @Test func sigkillLosesNoAcknowledgedCommand() async throws {
        var dir = TemporaryDirectory()
        defer { dir.remove() }
        let rounds = ProcessInfo.processInfo.environment["SHARDLOG_CRASH_ROUNDS"].flatMap(Int.init) ?? 8
        var rng = SeededRandom(seed: 42)
        var acknowledged: [UInt64: [UInt8]] = [:]
        let child = productsDirectory.appendingPathComponent("commandlog-crash-child")
        #expect(FileManager.default.isExecutableFile(atPath: child.path), "the crash child is built with the tests")
        for round in 0..<rounds {
            // A fresh log every 10 rounds keeps a long run linear (each round verifies the whole log).
            if round > 0 && round % 10 == 0 {
                dir.remove()
                dir = TemporaryDirectory()
                acknowledged = [:]
            }
            let process = Process()
            process.executableURL = child
            process.arguments = [dir.logPath, String(Int.random(in: 1...32, using: &rng)), String(Limits.segmentSizeMin * 2)]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let delay = Int.random(in: 100...600, using: &rng)
            // The kill timer starts once the child is ready (it prints "open …" first), so a slow
            // start on a loaded machine cannot leave a round with nothing written.
            let firstLine = readLine(from: pipe.fileHandleForReading)
            #expect(firstLine.hasPrefix("open"), "round \(round): the child started: \(firstLine)")
            try await Task.sleep(for: .milliseconds(delay / 2))
            // While the child appends: a second writer (this process) is locked out, naming
            // the child, and a reader sees a dense, committed prefix whose payloads are right.
            if round % 2 == 0 {
                #expect {
                    _ = try CommandLog.open(directory: dir.logPath)
                } throws: { error in
                    guard case .locked(_, let holder) = error as? CommandLogError else { return false }
                    return holder.contains("pid \(process.processIdentifier)")
                }
            }
            var expectedLSN: UInt64 = 1
            try LogReader(directory: dir.logPath).forEach { view in
                #expect(view.lsn.rawValue == expectedLSN)
                expectedLSN += 1
                if let id = view.commandID, let payload = Self.expectedPayload(commandID: id) {
                    #expect(Array(view.payload) == payload, "LSN \(view.lsn) read during appends")
                }
            }
            try await Task.sleep(for: .milliseconds(delay - delay / 2))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the child was killed, it did not fail")
            let output = firstLine + String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            var acks = 0
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.first == "error" { Issue.record("round \(round): child failed: \(line)") }
                guard parts.count == 5, parts[0] == "ack", let first = UInt64(parts[1]), let count = Int(parts[2]),
                    let task = Int(parts[3]), let sequence = Int(parts[4])
                else { continue }
                acks += 1
                for index in 0..<count {
                    acknowledged[first + UInt64(index)] = crashChildPayload(task: task, sequence: sequence, index: index)
                }
            }
            // Reopen as the writer (recovery), then check every acknowledged command.
            let log = try CommandLog.open(directory: dir.logPath)
            let last = log.lastLSN
            try log.close()
            var found = 0
            try LogReader(directory: dir.logPath).forEach { view in
                if let payload = acknowledged[view.lsn.rawValue] {
                    found += 1
                    #expect(Array(view.payload) == payload, "LSN \(view.lsn) has the acknowledged payload")
                }
            }
            #expect(found == acknowledged.count, "round \(round): \(acknowledged.count - found) acknowledged commands lost")
            #expect(acknowledged.keys.max().map { LSN($0) <= last } ?? true)
            #expect(acks > 0, "round \(round): the child acknowledged something before it was killed")
            let summary = try LogReader(directory: dir.logPath).verify()
            #expect(summary.lastLSN == last)
        }
    }
}
