import Foundation
import Testing

@testable import CommandLog

/// Runs the built `shardlog` executable.
func runShardLog(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent("shardlog")
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stdout, stderr)
}

@Suite struct VerifyCLITests {
    @Test func soundLogExitsZeroWithSummary() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try await writeLog(at: dir.logPath, units: (0..<10).map { u in (0..<5).map { simpleDraft(u * 5 + $0) } })
        let result = try runShardLog(["verify", "--data-dir", dir.path])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("ok: 1 segments, 10 frames, 50 commands, last LSN 50, chain head "))
        let json = try runShardLog(["verify", "--json"], environment: ["SHARDLOG_DATA_DIR": dir.path])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["ok"] as? Bool == true)
        #expect(object?["commands"] as? Int == 50)
        #expect(object?["lastLSN"] as? Int == 50)
        #expect((object?["chainHead"] as? String)?.count == 64)
    }

    @Test func corruptLogExitsThreeNamingTheProblem() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try await writeLog(at: dir.logPath, units: (0..<4).map { [simpleDraft($0)] })
        let segment = segmentFiles(dir.logPath)[0]
        var bytes = readFile(dir.logPath + "/" + segment)
        let offset = frameOffsets(bytes)[2]
        bytes[offset + 80] ^= 0x10
        writeFile(dir.logPath + "/" + segment, bytes)
        let result = try runShardLog(["verify", "--data-dir", dir.path])
        #expect(result.status == 3)
        #expect(result.stdout.contains("segment \(segment), offset \(offset), LSN 3"))
        let json = try runShardLog(["verify", "--data-dir", dir.path, "--json"])
        #expect(json.status == 3)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["ok"] as? Bool == false)
        #expect(object?["offset"] as? Int == offset)
        #expect(object?["lsn"] as? Int == 3)
    }

    @Test func missingOrForeignDirectoryExitsTwo() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let missing = try runShardLog(["verify", "--data-dir", dir.path + "/nope"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no data directory"))
        let foreign = try runShardLog(["verify", "--data-dir", dir.path])
        #expect(foreign.status == 2)
        #expect(foreign.stderr.contains("is not a ShardLog store"))
    }
}

@Suite struct LZ4InteropTests {
    /// LOG-030: a frame's payload is a standard LZ4 frame that the `lz4` tool decodes to the records.
    @Test func payloadDecodesWithTheLZ4Tool() async throws {
        let lz4 = ["/usr/bin/lz4", "/bin/lz4"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try #require(lz4 != nil, "the lz4 tool is installed by `make test` (Debian package lz4)")
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let drafts = (0..<64).map { simpleDraft($0, size: 300) }
        try await writeLog(at: dir.logPath, units: [drafts])
        let bytes = readFile(dir.logPath + "/" + segmentFiles(dir.logPath)[0])
        let offset = frameOffsets(bytes)[0]
        #expect(bytes[offset + 6] & 1 == 1, "the frame is compressed")
        let stored = Int(bytes.withUnsafeBytes { $0.loadLE(offset + 20, as: UInt32.self) })
        let raw = Int(bytes.withUnsafeBytes { $0.loadLE(offset + 24, as: UInt32.self) })
        writeFile(dir.path + "/payload.lz4", Array(bytes[(offset + 64)..<(offset + 64 + stored)]))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: lz4!)
        process.arguments = ["-d", "-f", "-q", dir.path + "/payload.lz4", dir.path + "/payload.raw"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let decoded = readFile(dir.path + "/payload.raw")
        #expect(decoded.count == raw)
        var expected: [UInt8] = []
        for (i, draft) in drafts.enumerated() { RecordLayout.append(draft, lsn: LSN(UInt64(i + 1)), to: &expected) }
        #expect(decoded == expected, "the decoded payload is exactly the records of §3.6")
    }
}
