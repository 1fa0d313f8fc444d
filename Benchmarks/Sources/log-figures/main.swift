// The command log's figures (issue 2), each a ratio against a baseline measured in the
// same run on the same machine: absolute times drift on shared machines, ratios less so.
//
//   swift run -c release log-figures [--quick] [--output FILE]
//
// Prints a table and writes every measurement as JSON.
import BenchmarkSupport
import CommandLog
import Foundation

let arguments = CommandLine.arguments

// `log-figures --verify-only DIR`: verify a log and exit, so that the parent can read this
// process's peak resident memory (bounded-memory check, INV-8).
if let index = arguments.firstIndex(of: "--verify-only") {
    let summary = try LogReader(directory: arguments[index + 1]).verify()
    // VmHWM: this process's peak resident set since exec (ru_maxrss would include the
    // parent's pages copied at fork).
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?
        .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } ?? -1
    print(summary.commandCount, hwm * 1024)
    exit(0)
}

// `log-figures --make-log DIR COUNT`: write COUNT realistic commands (64 per append, durability none).
if let index = arguments.firstIndex(of: "--make-log") {
    let log = try CommandLog.open(directory: arguments[index + 1], configuration: .init(durability: .none))
    var workload = Workload(seed: 7)
    var written = 0
    while written < Int(arguments[index + 2])! {
        _ = try await log.append((0..<64).map { _ in workload.nextCommand() })
        written += 64
    }
    try log.close()
    exit(0)
}

/// Runs `log-figures --verify-only directory` as a child; returns its peak resident bytes.
func peakResidentBytesOfVerify(_ directory: String) throws -> Int {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = ["--verify-only", directory]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    precondition(process.terminationStatus == 0, "verify child failed")
    return output.split(whereSeparator: { $0 == " " || $0 == "\n" }).dropFirst().first.flatMap { Int($0) } ?? -1
}

let quick = arguments.contains("--quick")
/// `--only NAME`: run only the sections whose name contains NAME (append, modes, batch, read).
let only = arguments.firstIndex(of: "--only").map { arguments[$0 + 1] }
func runs(_ section: String) -> Bool { only.map { section.contains($0) } ?? true }
let outputPath = arguments.firstIndex(of: "--output").map { arguments[$0 + 1] } ?? "log-figures.json"
let duration: Duration = quick ? .seconds(1) : .seconds(3)
let repetitions = quick ? 1 : 3
let readCommandCount = quick ? 200_000 : 1_000_000

let work = NSTemporaryDirectory() + "/shardlog-figures-\(getpid())"
try? FileManager.default.removeItem(atPath: work)
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }

nonisolated(unsafe) var results: [[String: Any]] = []
func record(_ name: String, _ value: Double, unit: String, baseline: Double? = nil, baselineName: String? = nil, goal: Double? = nil, samples: [Double] = []) {
    var entry: [String: Any] = ["name": name, "value": value, "unit": unit, "samples": samples]
    var line = "\(name.padding(toLength: 52, withPad: " ", startingAt: 0)) \(String(format: "%12.0f", value)) \(unit)"
    if let baseline, let baselineName {
        let ratio = value / baseline
        entry["baseline"] = baselineName
        entry["baselineValue"] = baseline
        entry["ratio"] = ratio
        line += String(format: "   %.2f× %@", ratio, baselineName)
        if let goal {
            entry["goal"] = goal
            entry["met"] = ratio >= goal
            line += String(format: " (goal ≥ %.2f: %@)", goal, ratio >= goal ? "met" : "MISSED")
        }
    } else if let goal {
        entry["goal"] = goal
        entry["met"] = value >= goal
        line += String(format: " (goal ≥ %.0f: %@)", goal, value >= goal ? "met" : "MISSED")
    }
    results.append(entry)
    print(line)
}

/// `appenders` tasks each append one command at a time until the deadline; returns commands/s.
func appendThroughput(appenders: Int, durability: Durability, unitSize: Int = 1) async throws -> Double {
    let directory = work + "/append-\(appenders)-\(durability)-\(unitSize)"
    try? FileManager.default.removeItem(atPath: directory)
    let log = try CommandLog.open(directory: directory, configuration: .init(durability: durability))
    let drafts = (0..<256).map { benchmarkDraft($0) }
    let unit = (0..<unitSize).map { drafts[$0 % drafts.count] }
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + duration
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for task in 0..<appenders {
            group.addTask {
                var count = 0
                var i = task
                while clock.now < deadline {
                    if unitSize == 1 {
                        _ = try await log.append(drafts[i % drafts.count])
                    } else {
                        _ = try await log.append(unit)
                    }
                    count += unitSize
                    i += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    let elapsed = clock.now - start
    try log.close()
    try? FileManager.default.removeItem(atPath: directory)
    return Double(total) / elapsed.secondsDouble
}

print("ShardLog command log figures (\(quick ? "quick" : "full") run, \(ProcessInfo.processInfo.activeProcessorCount) cores, \(duration) per sample, median of \(repetitions))")
print(String(repeating: "-", count: 110))

// 1. Durable appends against the group-commit ceiling, interleaved so drift hits both alike.
for appenders in [1, 4, 16, 64] where runs("append") {
    var ceiling: [Double] = []
    var shardlog: [Double] = []
    for _ in 0..<repetitions {
        ceiling.append(GroupCommitCeiling.run(threads: appenders, duration: duration, directory: work))
        shardlog.append(try await appendThroughput(appenders: appenders, durability: .always))
    }
    record("group-commit ceiling, \(appenders) threads", median(ceiling), unit: "records/s", samples: ceiling)
    record("durable append (always), \(appenders) appenders", median(shardlog), unit: "cmds/s",
        baseline: median(ceiling), baselineName: "ceiling", goal: appenders >= 16 ? 0.8 : nil, samples: shardlog)
}

// 2. The other durability modes (no baseline: they are bounded by CPU, not by the disk).
for durability in [Durability.interval(.milliseconds(10)), .none] where runs("modes") {
    for appenders in [1, 16] {
        let value = try await appendThroughput(appenders: appenders, durability: durability)
        record("append (\(durability)), \(appenders) appenders", value, unit: "cmds/s")
    }
}

// 3. One caller, 1,000 commands per durable append.
if runs("batch") {
    var batch: [Double] = []
    for _ in 0..<repetitions { batch.append(try await appendThroughput(appenders: 1, durability: .always, unitSize: 1000)) }
    record("durable batch append, 1 caller × 1,000 per call", median(batch), unit: "cmds/s", goal: 500_000, samples: batch)
    if only != nil {
        let unsynced = try await appendThroughput(appenders: 1, durability: .none, unitSize: 1000)
        record("batch append without sync (none), 1 caller × 1,000 per call", unsynced, unit: "cmds/s")
    }
}

// 4. Sequential read with CRC and chain checks, and a full verify.
let readDirectory = work + "/read"
if runs("read") {
    let log = try CommandLog.open(directory: readDirectory, configuration: .init(durability: .none))
    var workload = Workload(seed: 7)
    var lines = ""
    var written = 0
    while written < readCommandCount {
        let unit = (0..<64).map { _ in workload.nextCommand() }
        if written < 100_000 { for draft in unit { lines += Workload.jsonLine(draft) + "\n" } }
        _ = try await log.append(unit)
        written += unit.count
    }
    try log.close()
    let clock = ContinuousClock()
    var reads: [Double] = []
    var verifies: [Double] = []
    var summary = LogSummary()
    for _ in 0..<repetitions {
        var start = clock.now
        var count = 0
        var checksum: UInt64 = 0
        summary = try LogReader(directory: readDirectory).forEach { view in
            count += 1
            checksum &+= view.lsn.rawValue &+ UInt64(view.payload.count)
        }
        precondition(count == written && checksum > 0)
        reads.append(Double(count) / (clock.now - start).secondsDouble)
        start = clock.now
        let verified = try LogReader(directory: readDirectory).verify()
        precondition(verified.commandCount == written)
        verifies.append(Double(written) / (clock.now - start).secondsDouble)
    }
    record("sequential read (CRC + chain + decode), \(written) cmds", median(reads), unit: "cmds/s", goal: 1_000_000, samples: reads)
    record("verify whole log, \(written) cmds", median(verifies), unit: "cmds/s", goal: 1_000_000, samples: verifies)
    let rss = try peakResidentBytesOfVerify(readDirectory)
    print(String(format: "verify of \(written) commands in a child process: peak resident memory %.1f MB", Double(rss) / 1e6))
    results.append(["name": "verify peak resident memory, \(written) cmds", "value": rss, "unit": "bytes"])

    // 5. Compression: frames of 64-command batches against the lz4 tool on the same commands as JSON lines.
    let ratio = Double(summary.rawPayloadByteCount) / Double(summary.storedPayloadByteCount)
    let jsonPath = work + "/commands.jsonl"
    try lines.write(toFile: jsonPath, atomically: false, encoding: .utf8)
    var toolRatio = Double.nan
    if let tool = ["/usr/bin/lz4", "/bin/lz4"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-q", "-f", jsonPath, jsonPath + ".lz4"]
        try process.run()
        process.waitUntilExit()
        let inSize = (try FileManager.default.attributesOfItem(atPath: jsonPath)[.size] as? Int) ?? 0
        let outSize = (try FileManager.default.attributesOfItem(atPath: jsonPath + ".lz4")[.size] as? Int) ?? 1
        toolRatio = Double(inSize) / Double(outSize)
    }
    let averageRecord = Double(summary.rawPayloadByteCount) / Double(written)
    print(String(format: "compression: log frames %.2f (records avg %.0f B, 64 per append)   lz4 tool on the same commands as one JSON-lines stream %.2f", ratio, averageRecord, toolRatio))
    results.append(["name": "compression ratio, 64-command frames", "value": ratio, "unit": "ratio", "goal": 2.0, "met": ratio >= 2.0,
                    "averageRecordBytes": averageRecord, "lz4ToolRatioJSONLines": toolRatio])
}

let machine: [String: Any] = [
    "cores": ProcessInfo.processInfo.activeProcessorCount,
    "memoryBytes": ProcessInfo.processInfo.physicalMemory,
    "os": ProcessInfo.processInfo.operatingSystemVersionString,
    "cpu": (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":")[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown",
]
let document: [String: Any] = ["mode": quick ? "quick" : "full", "machine": machine, "results": results, "sampleSeconds": duration.secondsDouble, "repetitions": repetitions]
let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
try data.write(to: URL(fileURLWithPath: outputPath))
print("wrote \(outputPath)")
