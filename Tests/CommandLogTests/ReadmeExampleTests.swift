import Foundation
import Testing

@testable import CommandLog

/// Keeps the README's Swift example true: the lines below are the README's block, run
/// against a temporary directory, and the test fails if the README's block changes
/// without this copy (every README code line but the import and the directory must appear here verbatim).
@Suite struct ReadmeExampleTests {
    @Test func readmeExampleRuns() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let directory = dir.path + "/data/log"  // the README says "data/log"

        // --- the README's block ---
        let log = try CommandLog.open(directory: directory)  // durability .always by default
        let draft = CommandDraft(
            timestamp: Timestamp(microsecondsSince1970: 1_764_000_000_000_000),
            actor: "app", reason: "user signed up", commandID: "req-42",
            typeTag: 1, payload: Array("hello".utf8))
        let lsn = try await log.append(draft)  // returns once durable
        let unit = try await log.append([draft, draft])  // atomic: all or none after a crash
        try log.forEach(from: lsn) { command in print(command.lsn, command.actor) }
        try log.close()  // syncs and seals the last segment

        let summary = try LogReader(directory: directory).verify()  // any process, no lock
        print(summary.commandCount, unit)  // 3 LSN 2...LSN 3
        // --- end ---

        #expect(lsn == LSN(1) && unit == LSN(2)...LSN(3) && summary.commandCount == 3)
    }

    @Test func readmeBlockMatchesThisTest() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        let block = try #require(blocks.first { $0.contains("CommandLog.open") }, "the README shows the log's API")
        let testLines = Set(source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for line in block.split(separator: "\n") where !["import CommandLog", #"let directory = "data/log""#].contains(line.trimmingCharacters(in: .whitespaces)) {
            #expect(testLines.contains(line.trimmingCharacters(in: .whitespaces)), "README line not exercised: \(line)")
        }
    }
}
