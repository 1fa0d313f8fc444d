import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog import` and `export`: the original app's single database in and out
/// (Specs/LegacyImport.md).
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import the original app's single SQLite database into a new store.",
        discussion: """
            The source is opened read-only. The store must be new: run `shardlog init` first (its
            options choose the shards and the strategy). Every entity is compared field by field at
            the end (Specs/LegacyImport.md).

            Example:
              shardlog init --data-dir ./shardlog-data && shardlog import legacy.sqlite --data-dir ./shardlog-data
            """)
    @OptionGroup var store: StoreOptions
    @Argument(help: "The legacy database.") var legacy: String

    func run() async throws {
        guard FileManager.default.fileExists(atPath: legacy) else { throw fail("no file at \(legacy)", code: ExitStatus.invalidInput) }
        try await withStore(store) { store in
            let summary = try await LegacyImporter.run(legacyPath: legacy, into: store)
            if self.store.json {
                printJSON([
                    "personas": summary.personas, "memories": summary.memories, "conversations": summary.conversations,
                    "messages": summary.messages, "commands": summary.commands,
                    "legacy": ["personas": summary.legacyPersonas, "memories": summary.legacyMemories,
                               "conversations": summary.legacyConversations, "messages": summary.legacyMessages],
                    "tierMappings": summary.tierMappings, "notes": summary.notes, "mismatches": summary.mismatchCount,
                    "valueMappings": summary.valueMappings,
                ])
            } else {
                print("imported \(summary.personas)/\(counted(summary.legacyPersonas, "persona")), \(summary.memories)/\(counted(summary.legacyMemories, "memory")), \(summary.conversations)/\(counted(summary.legacyConversations, "conversation")), \(summary.messages)/\(counted(summary.legacyMessages, "message")) in \(counted(summary.commands, "command"))")
                for (mapping, count) in summary.tierMappings.sorted(by: { $0.key < $1.key }) { print("  tier \(mapping): \(count)") }
                for note in summary.notes { print("  note: \(note)") }
                print(summary.mismatchCount == 0 ? "  every entity compared equal" : "  MISMATCHES: \(summary.mismatchCount) (\(summary.mismatches.joined(separator: ", ")))")
            }
            if summary.mismatchCount > 0 { throw ExitCode(ExitStatus.failure) }
        }
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export the store into one SQLite database of the original app's schema.",
        discussion: "Example:\n  shardlog export out.sqlite --data-dir ./shardlog-data")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The database to create (must not exist).") var output: String

    func run() async throws {
        if FileManager.default.fileExists(atPath: output) {
            throw fail("\(output) exists; export writes a new file", code: ExitStatus.invalidInput)
        }
        try await withStore(store) { store in
            let summary = try LegacyExporter.run(store: store, to: output)
            if self.store.json {
                printJSON(["personas": summary.personas, "memories": summary.memories, "deletedMemories": summary.deletedMemories,
                           "conversations": summary.conversations, "messages": summary.messages, "path": output])
            } else {
                print("exported \(counted(summary.personas, "persona")), \(counted(summary.memories, "memory")) (\(summary.deletedMemories) soft-deleted), \(counted(summary.conversations, "conversation")), \(counted(summary.messages, "message")) to \(output)")
            }
        }
    }
}
