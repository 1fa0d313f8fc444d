import ArgumentParser
import CommandLog
import Foundation

@main
struct ShardLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shardlog",
        abstract: "An event-sourced, sharded store: every change is a command in a checksummed, hash-chained log.",
        discussion: """
            Example:
              shardlog verify --data-dir ./shardlog-data

            Exit codes: 0 success, 1 failure, 2 invalid input or usage, 3 the log is not sound (verify).
            """,
        subcommands: [VerifyCommand.self]
    )
}

/// Options every subcommand shares.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: "The store's data directory (default: $SHARDLOG_DATA_DIR, else ./shardlog-data).")
    var dataDirectory: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    var resolvedDataDirectory: String {
        dataDirectory ?? ProcessInfo.processInfo.environment["SHARDLOG_DATA_DIR"] ?? "./shardlog-data"
    }

    /// The command log's directory inside the data directory.
    var logDirectory: String { resolvedDataDirectory + "/log" }
}

/// The documented exit codes.
enum ExitStatus {
    static let failure: Int32 = 1
    static let invalidInput: Int32 = 2
    static let unsound: Int32 = 3
}

/// Prints one line to standard error and exits with `code`: what was wrong and what to do.
func fail(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data(("shardlog: " + message + "\n").utf8))
    return ExitCode(code)
}

func printJSON(_ object: [String: Any]) {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    print(String(decoding: data, as: UTF8.self))
}
