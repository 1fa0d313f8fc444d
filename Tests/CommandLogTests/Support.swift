import Foundation
import Testing

@testable import CommandLog
@_exported import ShardLogTestSupport

/// A realistic-looking random command: JSON-ish text payloads compress like the engine's.
func randomDraft(_ rng: inout SeededRandom, index: Int) -> CommandDraft {
    let words = ["persona", "memory", "conversation", "likes", "tea", "hiking", "prefers", "summary", "fact", "learning", "émoji 🙂", "日本語"]
    var text = "{\"op\":\"addMemory\",\"id\":\"m-\(index)\",\"content\":\""
    for _ in 0..<Int.random(in: 0...40, using: &rng) { text += words.randomElement(using: &rng)! + " " }
    text += "\",\"importance\":\(Int.random(in: 0...100, using: &rng))}"
    var payload = Array(text.utf8)
    if Int.random(in: 0..<10, using: &rng) == 0 {
        payload += (0..<Int.random(in: 0...3000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }
    return CommandDraft(
        timestamp: Timestamp(microsecondsSince1970: 1_700_000_000_000_000 + Int64(index)),
        actor: Bool.random(using: &rng) ? "app" : "user-\(index % 7)",
        reason: Int.random(in: 0..<3, using: &rng) == 0 ? "because \(index)" : nil,
        commandID: Bool.random(using: &rng) ? "cmd-\(index)" : nil,
        typeTag: UInt16.random(in: 1...40, using: &rng), typeVersion: 1, payload: payload)
}

func simpleDraft(_ index: Int, size: Int = 200) -> CommandDraft {
    var payload = Array("command \(index) ".utf8)
    while payload.count < size { payload.append(UInt8(ascii: "a") + UInt8(payload.count % 26)) }
    return CommandDraft(
        timestamp: Timestamp(microsecondsSince1970: Int64(index)), actor: "test", commandID: "c\(index)",
        typeTag: 1, payload: payload)
}

/// Appends `units` (each an append call) and closes; returns the drafts in LSN order.
@discardableResult
func writeLog(
    at directory: String, units: [[CommandDraft]], configuration: CommandLog.Configuration = .init(), close: Bool = true
) async throws -> [CommandDraft] {
    let log = try CommandLog.open(directory: directory, configuration: configuration)
    var all: [CommandDraft] = []
    for unit in units {
        _ = try await log.append(unit)
        all += unit
    }
    if close { try log.close() }
    return all
}

func segmentFiles(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".log") }.sorted()
}

func readFile(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }
func writeFile(_ path: String, _ bytes: [UInt8]) { _ = FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

/// Copies a directory tree (for tests that damage a copy per case).
func copyDirectory(_ from: String, _ to: String) {
    try? FileManager.default.removeItem(atPath: to)
    try! FileManager.default.copyItem(atPath: from, toPath: to)
}

/// Frame offsets in a segment, found by walking headers (the test's own small reader of §3.2).
func frameOffsets(_ bytes: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var offset = 64
    while offset + 64 <= bytes.count {
        let magic = bytes[offset..<offset + 4]
        if Array(magic) != Array("SLFR".utf8) { break }
        let stored = Int(bytes[offset + 20]) | Int(bytes[offset + 21]) << 8 | Int(bytes[offset + 22]) << 16 | Int(bytes[offset + 23]) << 24
        offsets.append(offset)
        offset += 64 + ((stored + 7) & ~7)
    }
    return offsets
}


/// A draft whose payload is pseudo-random bytes: barely compressible, so small
/// segment sizes roll after a predictable number of commands.
func noisyDraft(_ index: Int, size: Int = 300) -> CommandDraft {
    var rng = SeededRandom(seed: UInt64(index) &+ 1)
    var draft = simpleDraft(index, size: 0)
    draft.payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
    return draft
}
