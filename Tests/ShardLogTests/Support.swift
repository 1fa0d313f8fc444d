import Foundation
import Testing

@testable import ShardLog

/// A fresh temporary directory per test.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/shardlog-engine-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var store: String { path + "/store" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Seeds for randomized tests: `SHARDLOG_SEEDS` (a count) widens a local run.
func testSeeds(default count: Int) -> [UInt64] {
    let n = ProcessInfo.processInfo.environment["SHARDLOG_SEEDS"].flatMap(Int.init) ?? count
    return (0..<n).map { UInt64($0) &* 104_729 &+ 3 }
}

func smallConfiguration(shards: Int = 4, strategy: ShardingStrategy = .hash) -> StoreConfiguration {
    var configuration = StoreConfiguration()
    configuration.shardCount = shards
    configuration.strategy = strategy
    configuration.embeddingDimension = 4
    return configuration
}

/// Reads up to and including the first newline (or to end of file), one byte at a time so
/// that nothing after the line is consumed.
func readLine(from handle: FileHandle) -> String {
    var bytes: [UInt8] = []
    while true {
        let data = handle.readData(ofLength: 1)
        guard let byte = data.first else { break }
        bytes.append(byte)
        if byte == UInt8(ascii: "\n") { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}
