// Helpers both test targets use: temporary directories, seeded randomness, child-process I/O.
import Foundation

/// A fresh temporary directory per test (GRDB's habit), removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() {
        var template = Array((NSTemporaryDirectory() + "/shardlog-test-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A log directory inside it (CommandLog tests).
    public var logPath: String { path + "/log" }
    /// A store's data directory inside it (engine tests).
    public var store: String { path + "/store" }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// SplitMix64: a small seeded generator so that every random test replays from its seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seeds for randomized tests: `SHARDLOG_SEEDS` (a count) widens a local run; CI keeps the default.
public func testSeeds(default count: Int, stride: UInt64 = 7919, offset: UInt64 = 17) -> [UInt64] {
    let n = ProcessInfo.processInfo.environment["SHARDLOG_SEEDS"].flatMap(Int.init) ?? count
    return (0..<n).map { UInt64($0) &* stride &+ offset }
}

/// The directory holding the built products (the test binary, `shardlog`, the crash children).
public var productsDirectory: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
}

/// Reads up to and including the first newline (or to end of file), one byte at a time so
/// that nothing after the line is consumed.
public func readLine(from handle: FileHandle) -> String {
    var bytes: [UInt8] = []
    while true {
        let data = handle.readData(ofLength: 1)
        guard let byte = data.first else { break }
        bytes.append(byte)
        if byte == UInt8(ascii: "\n") { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Waits until `condition` holds, checking every 10 ms, for at most `timeout` (generous:
/// a condition, not a duration, is what a test waits for). Returns whether it held.
@discardableResult
public func waitUntil(timeout: Duration = .seconds(60), _ condition: () throws -> Bool) async rethrows -> Bool {
    let giveUp = ContinuousClock.now + timeout
    while try !condition() {
        if ContinuousClock.now >= giveUp { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}
