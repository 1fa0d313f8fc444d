import CommandLog
import Foundation
import GRDB
import ShardLog
import BenchmarkSupport

/// A store loaded with a generated workload (the import path: units of 1,000 commands at
/// durability none, synced by close), for the read, verification and memory figures.
func loadStore(at directory: String, _ parameters: GeneratedWorkload.Parameters) async throws {
    var configuration = StoreConfiguration()
    configuration.durability = .none
    let store = try await ShardStore.open(at: directory, configuration: configuration)
    var unit: [(Command, Envelope)] = []
    unit.reserveCapacity(1_000)
    for command in GeneratedWorkload(parameters) {
        unit.append(command)
        if unit.count == 1_000 {
            try await store.execute(unit)
            unit.removeAll(keepingCapacity: true)
        }
    }
    if !unit.isEmpty { try await store.execute(unit) }
    try await store.close()
}

/// The rows of a store's shards in one unsharded SQLite database (the schema and indexes of
/// `SQLiteBaseline`), copied by SQLite itself; not timed.
func unshardedCopy(of directory: String, shards: [String], to path: String) throws {
    let queue = try SQLiteBaseline.create(path, synchronous: "OFF")
    for shard in shards {
        try queue.inDatabase { db in
            try db.execute(sql: "ATTACH DATABASE ? AS shard", arguments: [StoreLayout(dataDirectory: directory).shardPath(shard)])
            try db.inTransaction {
                for (table, columns) in SQLiteBaseline.tables {
                    try db.execute(sql: "INSERT INTO main.\(table) (\(columns)) SELECT \(columns) FROM shard.\(table)")
                }
                return .commit
            }
            try db.execute(sql: "DETACH DATABASE shard")
        }
    }
    try queue.close()
}

// MARK: - Child processes (BENCH-070: peak resident memory)

/// What a child run reports: its seconds and count, and its peak resident set from wait4.
struct ChildResult {
    var seconds: Double
    var count: Int
    var maxResidentBytes: Int
}

/// Runs this executable again as `compare --child TASK DIRECTORY OUTPUT` and returns what it
/// wrote, with its peak resident set as the child read it from `/proc/self/status`
/// (VmHWM). Not wait4's ru_maxrss: Linux folds the spawning process's own peak into the
/// child's at exec, so that figure is never below the parent's.
func runChild(_ task: String, directory: String, scratch: String) throws -> ChildResult {
    let output = scratch + "/child-\(task).txt"
    let arguments = [CommandLine.arguments[0], "--child", task, directory, output]
    var pid: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let spawned = posix_spawn(&pid, arguments[0], nil, nil, &argv, environ)
    guard spawned == 0 else { throw BenchmarkFailure("cannot start a child: \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    guard waitpid(pid, &status, 0) == pid, status == 0 else { throw BenchmarkFailure("the \(task) child failed (status \(status))") }
    let fields = try String(contentsOfFile: output, encoding: .utf8).split(separator: " ")
    return ChildResult(seconds: Double(fields[0])!, count: Int(fields[1])!, maxResidentBytes: Int(fields[2])!)
}

/// This process's peak resident set in bytes (VmHWM of /proc/self/status).
func peakResidentBytes() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    else { throw BenchmarkFailure("no VmHWM in /proc/self/status") }
    return kilobytes * 1024
}

/// The child side: verifies the store's log, or rebuilds all its shards, and writes
/// "seconds count peak-resident-bytes" to `output`.
func childMain(_ task: String, directory: String, output: String) async throws {
    let start = ContinuousClock.now
    var count = 0
    switch task {
    case "verify":
        count = try LogReader(directory: StoreLayout(dataDirectory: directory).logDirectory).verify().commandCount
    case "rebuild":
        let store = try await ShardStore.open(at: directory)
        try await store.rebuild()
        count = Int(store.lastLSN.rawValue)
        try await store.close()
    default:
        throw BenchmarkFailure("unknown child task \(task)")
    }
    let elapsed = seconds(ContinuousClock.now - start)
    try "\(elapsed) \(count) \(try peakResidentBytes())".write(toFile: output, atomically: true, encoding: .utf8)
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
