import Foundation
import Testing

@testable import CommandLog

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
