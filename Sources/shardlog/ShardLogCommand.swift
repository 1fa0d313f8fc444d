import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// The `shardlog` command: its subcommands, the options every one takes, the exit codes,
/// and how errors become one line on standard error.
@main
struct ShardLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shardlog",
        abstract: "An event-sourced, sharded store: every change is a command in a checksummed, hash-chained log.",
        discussion: """
            Examples:
              shardlog init --data-dir ./shardlog-data --shards 4
              shardlog apply --data-dir ./shardlog-data commands.jsonl
              shardlog persona list --data-dir ./shardlog-data
              shardlog migrate persona p1 --to shard_02 --data-dir ./shardlog-data
              shardlog verify --data-dir ./shardlog-data
              shardlog demo

            Exit codes: 0 success, 1 failure, 2 invalid input or usage (nothing written),
            3 the log is not sound (verify).
            """,
        subcommands: [
            InitCommand.self, ApplyCommand.self, GenerateCommand.self, PersonaCommand.self, MemoriesCommand.self, ConversationCommand.self,
            DumpCommand.self, LogCommand.self, ShardsCommand.self, RebuildCommand.self, DigestCommand.self,
            ImportCommand.self, ExportCommand.self,
            ShardCommand.self, MigrateCommand.self, MigrationCommand.self, RebalanceCommand.self,
            VerifyCommand.self, DemoCommand.self,
        ]
    )

    /// ArgumentParser's usage errors exit 64; the documented code for a usage error is 2.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error).rawValue == 64 {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.invalidInput)
            }
            exit(withError: error)
        }
    }
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
    var logDirectory: String { StoreLayout(dataDirectory: resolvedDataDirectory).logDirectory }

    /// Exit 2 with a clear line unless the data directory holds a store.
    func requireStore() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolvedDataDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw fail(
                "no data directory at \(resolvedDataDirectory): pass --data-dir, set SHARDLOG_DATA_DIR, or run `shardlog init`",
                code: ExitStatus.invalidInput)
        }
        guard FileManager.default.fileExists(atPath: logDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw fail("\(resolvedDataDirectory) is not a ShardLog store (it has no log/ directory); run `shardlog init` to create one",
                       code: ExitStatus.invalidInput)
        }
    }

    /// Opens the existing store as its writer. `recovery` says what happens to a workflow a
    /// crash interrupted (WF-060): resumed, unless a `migration` command opens it to look.
    func openStore(recovery: WorkflowRecovery = .resume) async throws -> ShardStore {
        try requireStore()
        var configuration = StoreConfiguration()
        configuration.createIfMissing = false
        configuration.workflowRecovery = recovery
        do {
            return try await ShardStore.open(at: resolvedDataDirectory, configuration: configuration)
        } catch {
            throw exitFor(error)
        }
    }
}

/// The documented exit codes.
enum ExitStatus {
    static let failure: Int32 = 1
    static let invalidInput: Int32 = 2
    static let unsound: Int32 = 3
}

/// Prints one line to standard error and returns the exit to throw: what was wrong and what to do.
func fail(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data(("shardlog: " + message + "\n").utf8))
    return ExitCode(code)
}

/// Maps an error to its one-line message and exit code (never a stack trace).
func exitFor(_ error: any Error) -> ExitCode {
    if let exit = error as? ExitCode { return exit }
    if case .log(let logError)? = error as? ShardLogError { return exitFor(logError) }
    switch error {
    case let error as ShardLogError:
        switch error {
        case .invalidCommand, .invalidConfiguration, .notFound, .notAStore, .invalidLegacyValue: return fail(error.description, code: ExitStatus.invalidInput)
        default: return fail(error.description, code: ExitStatus.failure)
        }
    case CommandLogError.locked(_, let holder):
        return fail(
            "the store is open in another process (\(holder)); wait for it to finish or stop it — meanwhile `shardlog log` and `shardlog verify` can read its log",
            code: ExitStatus.failure)
    case let error as CommandLogError:
        return fail(error.description, code: ExitStatus.failure)
    default:
        return fail(String(describing: error), code: ExitStatus.failure)
    }
}

func printJSON(_ object: [String: Any]) {
    print(CommandJSON.line(object))
}

/// Runs `body` with the store open and closes it whatever happens; errors become exits.
func withStore<T>(
    _ options: StoreOptions, recovery: WorkflowRecovery = .resume, _ body: (ShardStore) async throws -> T
) async throws -> T {
    let store = try await options.openStore(recovery: recovery)
    do {
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw exitFor(error)
    }
}
