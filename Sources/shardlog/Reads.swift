import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// The CLI's reads: `persona`, `memories`, `conversation`, `dump`, `log`, `shards`,
/// `digest`, and `rebuild`.
struct PersonaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persona", abstract: "Read personas.",
        discussion: "Examples:\n  shardlog persona list --data-dir ./shardlog-data\n  shardlog persona get p1 --data-dir ./shardlog-data --json",
        subcommands: [Get.self, List.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one persona.", discussion: "Example:\n  shardlog persona get p1 --data-dir ./shardlog-data --json")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The persona id.") var id: String

        func run() async throws {
            try await withStore(store) { store in
                guard let persona = try store.persona(id: id) else { throw ShardLogError.notFound(kind: "persona", id: id) }
                var object = CommandJSON.object(persona)
                object["shard"] = store.shardForPersona(id)
                if self.store.json {
                    printJSON(object)
                } else {
                    print("\(persona.id)  \(persona.name)\(persona.isActive ? "  (active)" : "")  shard \(object["shard"] ?? "")")
                    if !persona.description.isEmpty { print("  \(persona.description)") }
                    print("  personality: \(persona.personality.traits.joined(separator: ", ")) · \(persona.personality.temperament) · \(persona.personality.communicationStyle)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every persona, oldest first.", discussion: "Example:\n  shardlog persona list --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withStore(store) { store in
                for persona in try store.allPersonas() {
                    let shard = store.shardForPersona(persona.id) ?? ""
                    if self.store.json {
                        var object = CommandJSON.object(persona)
                        object["shard"] = shard
                        printJSON(object)
                    } else {
                        print("\(persona.id)\t\(persona.name)\t\(shard)\(persona.isActive ? "\tactive" : "")")
                    }
                }
            }
        }
    }
}

struct MemoriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memories", abstract: "List a persona's memories, most important first.",
        discussion: "Example:\n  shardlog memories --persona p1 --tier hot --limit 10 --data-dir ./shardlog-data")
    @OptionGroup var store: StoreOptions
    @Option(help: "The persona id.") var persona: String
    @Option(help: "Only this tier: hot, warm or cold.") var tier: String?
    @Option(help: "Only this type: text, image, audio, video or file.") var type: String?
    @Option(name: .customLong("min-importance"), help: "Only memories at least this important (0…100).") var minimumImportance: Int?
    @Flag(name: .customLong("include-deleted"), help: "Include soft-deleted memories.") var includeDeleted = false
    @Option(help: "Order: importanceDescending, createdAscending, createdDescending, lastAccessedDescending.")
    var order = "importanceDescending"
    @Option(help: "At most this many.") var limit: Int?
    @Option(help: "Skip this many first.") var offset = 0

    func run() async throws {
        var query = MemoryQuery(minimumImportance: minimumImportance, includeDeleted: includeDeleted, limit: limit, offset: offset)
        if let tier {
            guard let value = MemoryTier(rawValue: tier) else { throw fail("unknown tier \"\(tier)\" (hot, warm, cold)", code: ExitStatus.invalidInput) }
            query.tier = value
        }
        if let type {
            guard let value = MemoryType(rawValue: type) else { throw fail("unknown type \"\(type)\"", code: ExitStatus.invalidInput) }
            query.type = value
        }
        guard let order = MemoryQuery.Order(rawValue: order) else { throw fail("unknown order \"\(self.order)\"", code: ExitStatus.invalidInput) }
        query.order = order
        if let limit, limit < 0 { throw fail("--limit must not be negative", code: ExitStatus.invalidInput) }
        try await withStore(store) { store in
            for memory in try store.personaMemories(persona, query: query) {
                if self.store.json {
                    printJSON(CommandJSON.object(memory))
                } else {
                    print("\(memory.id)\t\(memory.importance)\t\(memory.tier.rawValue)\t\(memory.name)")
                }
            }
        }
    }
}

struct ConversationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversation", abstract: "Read conversations.",
        discussion: "Example:\n  shardlog conversation get c1 --data-dir ./shardlog-data", subcommands: [Get.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a conversation with its messages.",
            discussion: "Example:\n  shardlog conversation get c1 --data-dir ./shardlog-data")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The conversation id.") var id: String

        func run() async throws {
            try await withStore(store) { store in
                guard let conversation = try store.conversation(id: id) else { throw ShardLogError.notFound(kind: "conversation", id: id) }
                if self.store.json {
                    printJSON(CommandJSON.object(conversation, withMessages: true))
                } else {
                    print("\(conversation.id)  \(conversation.title)  (persona \(conversation.personaId), \(counted(conversation.messageCount, "message")))")
                    for message in conversation.messages { print("  \(message.sequence). \(message.role.rawValue): \(message.content)") }
                }
            }
        }
    }
}

struct DumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "Every live entity as one JSON object per line, with its kind and shard.",
        discussion: "Example:\n  shardlog dump --data-dir ./shardlog-data > everything.jsonl")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await withStore(store) { store in
            try store.forEachEntity { entity in
                var object: [String: Any]
                switch entity {
                case .persona(let p, let shard):
                    object = CommandJSON.object(p)
                    object["kind"] = "persona"
                    object["shard"] = shard
                case .memory(let m, let shard):
                    object = CommandJSON.object(m)
                    object["kind"] = "memory"
                    object["shard"] = shard
                case .conversation(let c, let shard):
                    object = CommandJSON.object(c, withMessages: false)
                    object["kind"] = "conversation"
                    object["shard"] = shard
                case .message(let m, let conversationID, let shard):
                    object = CommandJSON.object(m, conversationID: conversationID)
                    object["kind"] = "message"
                    object["shard"] = shard
                }
                printJSON(object)
            }
        }
    }
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "The audit trail: one JSON object per command.",
        discussion: """
            Reads the log without taking the writer's lock. Each line has lsn, timestamp, actor,
            reason, commandId, op and the command's fields.

            Example:
              shardlog log --persona p1 --data-dir ./shardlog-data
            """)
    @OptionGroup var store: StoreOptions
    @Option(help: "First LSN.") var from: UInt64 = 1
    @Option(help: "Last LSN.") var to: UInt64?
    @Option(help: "Only commands about this persona (its memories and conversations included).") var persona: String?
    @Option(name: .customLong("type"), help: "Only this op (e.g. addMemory, migrationCutOver).") var op: String?

    func run() throws {
        try store.requireStore()
        if let op, !(CommandJSON.ops + CommandJSON.workflowOps + ["initializeStore"]).contains(op) {
            throw fail("unknown op \"\(op)\"", code: ExitStatus.invalidInput)
        }
        // Memory and conversation ids name their persona only in the commands that created
        // them, so the whole log is read to follow them, and only the range is printed.
        var owner: [String: String] = [:]
        do {
            try ShardStore.forEachLoggedCommand(logDirectory: store.logDirectory, through: to.map { LSN($0) }) { entry in
                let command = entry.command
                var concerned = CommandJSON.personaID(command)
                switch command {
                case .addMemory(let m): owner["m:" + m.id] = m.personaId
                case .createConversation(let id, let personaID, _): owner["c:" + id] = personaID
                case .updateMemory(let m): concerned = owner["m:" + m.id]
                case .setMemoryTier(let id, _), .markMemoryAccessed(let id), .updateMemoryEmbedding(let id, _, _), .deleteMemory(let id):
                    concerned = owner["m:" + id]
                case .addMessage(let id, _, _), .deleteConversation(let id): concerned = owner["c:" + id]
                default: break
                }
                guard entry.lsn.rawValue >= from else { return }
                if let persona, concerned != persona { return }
                if let op, command.op != op { return }
                var object = CommandJSON.fields(command)
                object["lsn"] = entry.lsn.rawValue
                object["timestamp"] = ISO8601.format(entry.timestamp)
                object["actor"] = entry.actor
                object["reason"] = entry.reason ?? NSNull()
                object["commandId"] = entry.commandID ?? NSNull()
                printJSON(object)
            }
        } catch {
            throw exitFor(error)
        }
    }
}

struct ShardsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shards", abstract: "Each shard: id, path, counts, applied LSN, bytes on disk.",
        discussion: "Example:\n  shardlog shards --data-dir ./shardlog-data --json")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await withStore(store) { store in
            for s in try store.statistics() {
                if self.store.json {
                    printJSON([
                        "id": s.id, "path": s.path, "personas": s.personas, "memories": s.memories, "conversations": s.conversations,
                        "messages": s.messages, "appliedLSN": s.appliedLSN.rawValue, "bytes": s.bytesOnDisk,
                    ])
                } else {
                    print("\(s.id)\t\(counted(s.personas, "persona"))\t\(counted(s.memories, "memory"))\t\(counted(s.conversations, "conversation"))\tLSN \(s.appliedLSN)\t\(s.bytesOnDisk) bytes\t\(s.path)")
                }
            }
        }
    }
}

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest", abstract: "Each shard's content digest (Specs/ProjectionSchema.md, PROJ-010).",
        discussion: "Example:\n  shardlog digest --data-dir ./shardlog-data")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await withStore(store) { store in
            for (shard, digest) in try store.digests().sorted(by: { $0.key < $1.key }) {
                if self.store.json { printJSON(["shard": shard, "digest": digest]) } else { print("\(shard)\t\(digest)") }
            }
        }
    }
}

struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Rebuild shard databases from the log.",
        discussion: """
            In place (the new file is swapped in atomically), or as of an LSN or a time into
            another directory (point-in-time restore; the store is not touched).

            Examples:
              shardlog rebuild --all --data-dir ./shardlog-data
              shardlog rebuild --shard shard_01 --data-dir ./shardlog-data
              shardlog rebuild --as-of 2026-11-29T12:00:00Z --into ./restore --data-dir ./shardlog-data
            """)
    @OptionGroup var store: StoreOptions
    @Option(help: "Rebuild only this shard.") var shard: String?
    @Flag(help: "Rebuild every shard (the default when neither --shard nor --as-of is given).") var all = false
    @Option(name: .customLong("as-of"), help: "An LSN or an ISO-8601 time; needs --into.") var asOf: String?
    @Option(help: "Directory for an as-of rebuild.") var into: String?

    func run() async throws {
        if shard != nil && all { throw fail("give --shard or --all, not both", code: ExitStatus.invalidInput) }
        if asOf != nil && into == nil {
            throw fail("--as-of rebuilds into another directory: add --into DIR (an in-place as-of rebuild would drop newer data)",
                       code: ExitStatus.invalidInput)
        }
        try await withStore(store) { store in
            var digests: [String: String]
            if let into {
                var lsn = store.lastLSN
                if let asOf {
                    if let number = UInt64(asOf) {
                        lsn = LSN(number)
                    } else if let time = ISO8601.timestamp(asOf) {
                        lsn = try store.lsn(atOrBefore: time)
                    } else {
                        throw fail("--as-of must be an LSN or an ISO-8601 time, not \"\(asOf)\"", code: ExitStatus.invalidInput)
                    }
                }
                digests = try store.rebuild(asOf: lsn, into: into, progress: TerminalProgress.rebuild)
                if let shard { digests = digests.filter { $0.key == shard } }
                TerminalProgress.finish()
                if !self.store.json { print("rebuilt as of LSN \(lsn) into \(into)") }
            } else {
                try await store.rebuild(shards: shard.map { [$0] }, progress: TerminalProgress.rebuild)
                digests = try store.digests().filter { shard == nil || $0.key == shard }
            }
            TerminalProgress.finish()
            for (id, digest) in digests.sorted(by: { $0.key < $1.key }) {
                if self.store.json { printJSON(["shard": id, "digest": digest]) } else { print("\(id)\t\(digest)") }
            }
        }
    }
}

/// Progress on standard error when it is a terminal; nothing when piped (scripts read stdout).
enum TerminalProgress {
    static let enabled = isatty(2) == 1

    static let rebuild: RebuildProgress = { lsn, last in
        guard enabled, last.rawValue > 0 else { return }
        let percent = Int(Double(lsn.rawValue) / Double(last.rawValue) * 100)
        FileHandle.standardError.write(Data("\rrebuilding: LSN \(lsn) of \(last) (\(percent)%)".utf8))
    }

    static func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

