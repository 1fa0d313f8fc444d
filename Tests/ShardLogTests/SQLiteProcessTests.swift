import Foundation
import Testing

@testable import ShardLog

/// PROJ-006: ShardLog turns SQLite's memory statistics off before its first connection (one
/// process-wide mutex fewer on every SQLite allocation), and leaves them as they were when the
/// process used SQLite first. Each case runs in a process of its own (the setting is per
/// process and this test process has long since opened SQLite).
@Suite struct SQLiteProcessTests {
    /// SQLite's count of its memory in use after the child wrote 100 memories.
    func memoryUsed(storeFirst: Bool) throws -> Int {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent("shardstore-crash-child")
        process.arguments = [dir.store, "sqlite-memory-statistics", storeFirst ? "store" : "app"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        let line = output.split(separator: "\n").first { $0.hasPrefix("memory-used ") }
        return try #require(line.flatMap { Int($0.dropFirst("memory-used ".count)) }, "\(output)")
    }

    @Test func theStoreTurnsSQLiteMemoryStatisticsOffWhenItIsFirst() throws {
        #expect(try memoryUsed(storeFirst: true) == 0)
    }

    /// The control: the same child with SQLite opened by the app first counts its memory,
    /// so the check above can tell the two apart.
    @Test func anAppThatOpenedSQLiteFirstKeepsItsStatistics() throws {
        #expect(try memoryUsed(storeFirst: false) > 0)
    }
}
