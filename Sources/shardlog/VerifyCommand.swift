import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog verify`: the whole log checked as a reader reads it (LOG-110), exit 3 when unsound.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every frame's CRC, the hash chain, LSN continuity and the decoded commands.",
        discussion: """
            Reads the whole log without taking the writer's lock, so it can run while a writer appends.
            Prints a one-line summary and exits 0 when the log is sound; prints the first problem
            (segment, byte offset, LSN) and exits 3 when it is not.

            Example:
              shardlog verify --data-dir ./shardlog-data --json
            """
    )

    @OptionGroup var store: StoreOptions

    func run() throws {
        let directory = store.logDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: store.resolvedDataDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw fail(
                "no data directory at \(store.resolvedDataDirectory): pass --data-dir or set SHARDLOG_DATA_DIR",
                code: ExitStatus.invalidInput)
        }
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw fail(
                "\(store.resolvedDataDirectory) is not a ShardLog store (it has no log/ directory)",
                code: ExitStatus.invalidInput)
        }
        do {
            // LOG-061: every payload must decode as a command this build knows (CMD-001, CMD-002).
            let summary = try LogReader(directory: directory).verify { view in
                do {
                    _ = try Command.decode(view)
                    return nil
                } catch {
                    return String(describing: error)
                }
            }
            report(summary)
        } catch let error as CommandLogError {
            switch error {
            case .corruption(let position, let reason), .unsupported(let position, let reason):
                if store.json {
                    printJSON([
                        "ok": false, "segment": position.segment, "offset": position.offset,
                        "lsn": position.lsn.rawValue, "reason": reason,
                    ])
                } else {
                    print("NOT SOUND: segment \(position.segment), offset \(position.offset), LSN \(position.lsn): \(reason)")
                }
                throw ExitCode(ExitStatus.unsound)
            case .unexpectedFile:
                if store.json { printJSON(["ok": false, "reason": error.description]) } else { print("NOT SOUND: \(error)") }
                throw ExitCode(ExitStatus.unsound)
            default:
                throw fail(error.description, code: ExitStatus.failure)
            }
        }
    }

    private func report(_ summary: LogSummary) {
        if store.json {
            var object: [String: Any] = [
                "ok": true, "segments": summary.segmentCount, "frames": summary.frameCount,
                "commands": summary.commandCount, "lastLSN": summary.lastLSN.rawValue,
                "chainHead": summary.chainHead.description, "sealed": summary.lastSegmentSealed,
                "tailBytes": summary.tailByteCount,
                "rawPayloadBytes": summary.rawPayloadByteCount, "storedPayloadBytes": summary.storedPayloadByteCount,
            ]
            if let reason = summary.tailReason { object["tailReason"] = reason }
            printJSON(object)
            return
        }
        var line = "ok: \(counted(summary.segmentCount, "segment")), \(counted(summary.frameCount, "frame")), \(counted(summary.commandCount, "command")), last LSN \(summary.lastLSN), chain head \(summary.chainHead)"
        if summary.tailByteCount > 0 {
            line += "; \(summary.tailByteCount) bytes after the last committed frame (unfinished append, cut by the writer's next open)"
        }
        print(line)
    }
}
