// A child process for the crash tests (Tests/CommandLogTests/CrashTests.swift).
//
// Usage: commandlog-crash-child DIR TASKS SEGMENT_SIZE
// Opens the log in DIR and appends from TASKS concurrent tasks until it is killed.
// After each acknowledged append it writes one line to standard output:
//   ack FIRST_LSN COUNT TASK SEQUENCE
// The payload of command i of that append is `payload(task, sequence, i)`, so the
// parent can check every acknowledged command after reopening the log.
import CommandLog
import Glibc

func payload(task: Int, sequence: Int, index: Int) -> [UInt8] {
    let text = "t\(task)-s\(sequence)-i\(index)-"
    return Array(text.utf8) + (0..<(100 + (sequence * 7 + index) % 200)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ task) }
}

/// Each line reaches the parent before the next step, whenever it kills this process.
func writeLine(_ line: String) { ChildOutput.line(line) }

@main
struct CrashChild {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 4, let tasks = Int(arguments[2]), let segmentSize = Int(arguments[3]) else {
            writeLine("usage: commandlog-crash-child DIR TASKS SEGMENT_SIZE")
            exit(2)
        }
        let log = try CommandLog.open(
            directory: arguments[1], configuration: .init(durability: .always, segmentSizeMax: segmentSize))
        writeLine("open \(log.lastLSN)")
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var sequence = 0
                    while true {
                        let count = 1 + (sequence + task) % 4
                        let drafts = (0..<count).map { index in
                            CommandDraft(
                                timestamp: Timestamp(microsecondsSince1970: Int64(sequence)), actor: "task-\(task)",
                                commandID: "t\(task)s\(sequence)i\(index)", typeTag: 7,
                                payload: payload(task: task, sequence: sequence, index: index))
                        }
                        do {
                            let range = try await log.append(drafts)
                            writeLine("ack \(range.lowerBound) \(count) \(task) \(sequence)")
                        } catch {
                            writeLine("error \(error)")
                            exit(3)
                        }
                        sequence += 1
                    }
                }
            }
        }
    }
}
