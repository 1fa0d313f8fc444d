import CommandLog

/// A status of a shard (Specs/Workflows.md §2).
public enum ShardStatus: String, CaseIterable, Hashable, Sendable {
    case active, draining, removed
}

/// Rows of one persona, as they travel in a copy step (WF-001, WF-022).
public struct RowSet: Hashable, Sendable {
    public var persona: Persona?
    public var memories: [MemoryEntity]
    public var conversations: [Conversation]
    /// Messages with the conversation they belong to.
    public var messages: [ConversationMessage]

    public init(persona: Persona? = nil, memories: [MemoryEntity] = [], conversations: [Conversation] = [], messages: [ConversationMessage] = []) {
        self.persona = persona
        self.memories = memories
        self.conversations = conversations
        self.messages = messages
    }

    public var rowCount: Int { (persona == nil ? 0 : 1) + memories.count + conversations.count + messages.count }
}

/// A message row: its conversation and the message.
public struct ConversationMessage: Hashable, Sendable {
    public var conversationId: String
    public var message: Message

    public init(conversationId: String, message: Message) {
        self.conversationId = conversationId
        self.message = message
    }
}

/// Where a migration's copy stands: the last row copied, in the order persona, memories by id,
/// conversations by id, messages by conversation id and sequence (WF-022).
public struct CopyCursor: Hashable, Sendable, Comparable {
    public enum Table: UInt8, Hashable, Sendable, Comparable {
        case persona = 0, memories, conversations, messages, done
            public static func < (a: Table, b: Table) -> Bool { a.rawValue < b.rawValue }
        public var name: String {
            switch self {
            case .persona: "persona"
            case .memories: "memories"
            case .conversations: "conversations"
            case .messages: "messages"
            case .done: "done"
            }
        }
    }
    public var table: Table
    public var key: String
    public var sequence: Int

    public init(table: Table, key: String = "", sequence: Int = 0) {
        self.table = table
        self.key = key
        self.sequence = sequence
    }

    /// Before the first row.
    public static let start = CopyCursor(table: .persona)
    public static let done = CopyCursor(table: .done)

    public static func < (a: CopyCursor, b: CopyCursor) -> Bool {
        if a.table != b.table { return a.table < b.table }
        if a.key != b.key { return Router.utf8Less(a.key, b.key) }
        return a.sequence < b.sequence
    }
}

/// One persona move of a rebalance plan (WF-053).
public struct RebalanceMove: Hashable, Sendable {
    public var personaId: String
    public var source: String
    public var target: String
    public var records: Int
    public var bytes: Int

    public init(personaId: String, source: String, target: String, records: Int, bytes: Int) {
        self.personaId = personaId
        self.source = source
        self.target = target
        self.records = records
        self.bytes = bytes
    }
}

/// The steps of the workflows (Specs/Workflows.md, tags 32 and up). The engine's workflow
/// drivers append them; `execute` refuses them from callers (WF-003).
public enum WorkflowCommand: Hashable, Sendable {
    case addShard(id: String)
    case drainShard(id: String)
    case removeShard(id: String)
    case migrationStarted(migrationId: String, personaId: String, source: String, target: String, batchSize: Int, reverseOf: String?, planId: String?)
    case migrationCopied(migrationId: String, rows: RowSet, cursor: CopyCursor)
    case migrationVerify(migrationId: String)
    case migrationVerified(migrationId: String, sourceDigest: String, targetDigest: String, atLSN: LSN)
    case migrationCutOver(migrationId: String)
    case migrationCompleted(migrationId: String)
    case migrationAborted(migrationId: String, reason: String)
    case migrationFailed(migrationId: String, reason: String, sourceDigest: String, targetDigest: String)
    case memoryMoved(migrationId: String, memoryId: String, source: String, target: String, row: MemoryEntity)
    case rebalancePlanned(planId: String, moves: [RebalanceMove], analysis: String)
    case rebalanceCompleted(planId: String, validation: String)
    case rebalanceRollbackStarted(planId: String)
    case rebalanceRolledBack(planId: String)
    case rebalanceStopped(planId: String, reason: String)

    public var typeTag: UInt16 {
        switch self {
        case .addShard: return 32
        case .drainShard: return 33
        case .removeShard: return 34
        case .migrationStarted: return 35
        case .migrationCopied: return 36
        case .migrationVerify: return 37
        case .migrationVerified: return 38
        case .migrationCutOver: return 39
        case .migrationCompleted: return 40
        case .migrationAborted: return 41
        case .migrationFailed: return 42
        case .memoryMoved: return 43
        case .rebalancePlanned: return 44
        case .rebalanceCompleted: return 45
        case .rebalanceRollbackStarted: return 46
        case .rebalanceRolledBack: return 47
        case .rebalanceStopped: return 48
        }
    }

    public var op: String {
        switch self {
        case .addShard: return "addShard"
        case .drainShard: return "drainShard"
        case .removeShard: return "removeShard"
        case .migrationStarted: return "migrationStarted"
        case .migrationCopied: return "migrationCopied"
        case .migrationVerify: return "migrationVerify"
        case .migrationVerified: return "migrationVerified"
        case .migrationCutOver: return "migrationCutOver"
        case .migrationCompleted: return "migrationCompleted"
        case .migrationAborted: return "migrationAborted"
        case .migrationFailed: return "migrationFailed"
        case .memoryMoved: return "memoryMoved"
        case .rebalancePlanned: return "rebalancePlanned"
        case .rebalanceCompleted: return "rebalanceCompleted"
        case .rebalanceRollbackStarted: return "rebalanceRollbackStarted"
        case .rebalanceRolledBack: return "rebalanceRolledBack"
        case .rebalanceStopped: return "rebalanceStopped"
        }
    }

    /// The migration a step belongs to, if any.
    public var migrationId: String? {
        switch self {
        case .migrationStarted(let id, _, _, _, _, _, _), .migrationCopied(let id, _, _), .migrationVerify(let id),
            .migrationVerified(let id, _, _, _), .migrationCutOver(let id), .migrationCompleted(let id),
            .migrationAborted(let id, _), .migrationFailed(let id, _, _, _), .memoryMoved(let id, _, _, _, _):
            return id
        default: return nil
        }
    }
}

// MARK: - Codecs (Specs/Workflows.md)

extension PayloadWriter {
    mutating func timestamp(_ t: Timestamp) { u64(UInt64(bitPattern: t.rawValue)) }

    mutating func personaRow(_ p: Persona) {
        string(p.id)
        string(p.name)
        string(p.description)
        personality(p.personality)
        memoryConfiguration(p.memoryConfiguration)
        privacySettings(p.privacySettings)
        bool(p.isActive)
        timestamp(p.createdAt)
        timestamp(p.updatedAt)
    }

    mutating func memoryRow(_ m: MemoryEntity) {
        string(m.id)
        string(m.personaId)
        u8(m.type.code)
        string(m.name)
        string(m.content)
        optional(m.summary) { $0.string($1) }
        strings(m.tags)
        u8(UInt8(clamping: m.importance))
        u8(m.tier.code)
        optional(m.embedding) { $0.vector($1) }
        optional(m.embeddingModel) { $0.string($1) }
        u32(UInt32(clamping: m.accessCount))
        optional(m.lastAccessedAt) { $0.timestamp($1) }
        timestamp(m.createdAt)
        timestamp(m.updatedAt)
        optional(m.deletedAt) { $0.timestamp($1) }
    }

    mutating func conversationRow(_ c: Conversation) {
        string(c.id)
        string(c.personaId)
        string(c.title)
        u32(UInt32(clamping: c.messageCount))
        timestamp(c.createdAt)
        timestamp(c.updatedAt)
    }

    mutating func messageRow(_ m: ConversationMessage) {
        string(m.conversationId)
        u32(UInt32(clamping: m.message.sequence))
        u8(m.message.role.code)
        string(m.message.content)
        timestamp(m.message.createdAt)
    }

    mutating func rowSet(_ rows: RowSet) {
        optional(rows.persona) { $0.personaRow($1) }
        list(rows.memories) { $0.memoryRow($1) }
        list(rows.conversations) { $0.conversationRow($1) }
        list(rows.messages) { $0.messageRow($1) }
    }

    mutating func cursor(_ c: CopyCursor) {
        u8(c.table.rawValue)
        string(c.key)
        u32(UInt32(clamping: c.sequence))
    }
}

extension PayloadReader {
    mutating func timestamp(_ what: @autoclosure () -> String) throws(PayloadError) -> Timestamp {
        Timestamp(rawValue: Int64(bitPattern: try u64(what())))
    }

    mutating func personaRow() throws(PayloadError) -> Persona {
        Persona(
            id: try string("id"), name: try string("name"), description: try string("description"),
            personality: try personality(), memoryConfiguration: try memoryConfiguration(), privacySettings: try privacySettings(),
            isActive: try bool("isActive"), createdAt: try timestamp("createdAt"), updatedAt: try timestamp("updatedAt"))
    }

    mutating func memoryRow() throws(PayloadError) -> MemoryEntity {
        MemoryEntity(
            id: try string("id"), personaId: try string("personaId"), type: try MemoryType(code: u8("type")),
            name: try bulkString("name"), content: try bulkString("content"),
            summary: try optional("summary") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("summary") },
            tags: try bulkStrings("tags"), importance: Int(try u8("importance")), tier: try MemoryTier(code: u8("tier")),
            embedding: try optional("embedding") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkVector("embedding") },
            embeddingModel: try optional("embeddingModel") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("embeddingModel") },
            accessCount: Int(try u32("accessCount")),
            lastAccessedAt: try optional("lastAccessedAt") { (r: inout PayloadReader) throws(PayloadError) in try r.timestamp("lastAccessedAt") },
            createdAt: try timestamp("createdAt"), updatedAt: try timestamp("updatedAt"),
            deletedAt: try optional("deletedAt") { (r: inout PayloadReader) throws(PayloadError) in try r.timestamp("deletedAt") })
    }

    mutating func conversationRow() throws(PayloadError) -> Conversation {
        Conversation(
            id: try string("id"), personaId: try string("personaId"), title: try string("title"),
            messageCount: Int(try u32("messageCount")), createdAt: try timestamp("createdAt"), updatedAt: try timestamp("updatedAt"))
    }

    mutating func messageRow() throws(PayloadError) -> ConversationMessage {
        ConversationMessage(
            conversationId: try string("conversationId"),
            message: Message(
                sequence: Int(try u32("sequence")), role: try MessageRole(code: u8("role")), content: try bulkString("content"),
                createdAt: try timestamp("createdAt")))
    }

    mutating func rowSet() throws(PayloadError) -> RowSet {
        RowSet(
            persona: try optional("persona") { (r: inout PayloadReader) throws(PayloadError) in try r.personaRow() },
            memories: try list("memories") { (r: inout PayloadReader) throws(PayloadError) in try r.memoryRow() },
            conversations: try list("conversations") { (r: inout PayloadReader) throws(PayloadError) in try r.conversationRow() },
            messages: try list("messages") { (r: inout PayloadReader) throws(PayloadError) in try r.messageRow() })
    }

    mutating func cursor() throws(PayloadError) -> CopyCursor {
        let code = try u8("cursor table")
        guard let table = CopyCursor.Table(rawValue: code) else { throw PayloadError("cursor table \(code) is unknown") }
        return CopyCursor(table: table, key: try string("cursor key"), sequence: Int(try u32("cursor sequence")))
    }

    mutating func optionalString(_ what: @autoclosure () -> String) throws(PayloadError) -> String? {
        try optional(what()) { (r: inout PayloadReader) throws(PayloadError) in try r.string(what()) }
    }
}

extension WorkflowCommand {
    func encode(into w: inout PayloadWriter) {
        switch self {
        case .addShard(let id), .drainShard(let id), .removeShard(let id):
            w.string(id)
        case .migrationStarted(let id, let persona, let source, let target, let batchSize, let reverseOf, let planId):
            w.string(id)
            w.string(persona)
            w.string(source)
            w.string(target)
            w.u32(UInt32(clamping: batchSize))
            w.optional(reverseOf) { $0.string($1) }
            w.optional(planId) { $0.string($1) }
        case .migrationCopied(let id, let rows, let cursor):
            w.string(id)
            w.rowSet(rows)
            w.cursor(cursor)
        case .migrationVerify(let id), .migrationCutOver(let id), .migrationCompleted(let id):
            w.string(id)
        case .migrationVerified(let id, let sourceDigest, let targetDigest, let atLSN):
            w.string(id)
            w.string(sourceDigest)
            w.string(targetDigest)
            w.u64(atLSN.rawValue)
        case .migrationAborted(let id, let reason):
            w.string(id)
            w.string(reason)
        case .migrationFailed(let id, let reason, let sourceDigest, let targetDigest):
            w.string(id)
            w.string(reason)
            w.string(sourceDigest)
            w.string(targetDigest)
        case .memoryMoved(let id, let memory, let source, let target, let row):
            w.string(id)
            w.string(memory)
            w.string(source)
            w.string(target)
            w.memoryRow(row)
        case .rebalancePlanned(let planId, let moves, let analysis):
            w.string(planId)
            w.list(moves) { w, move in
                w.string(move.personaId)
                w.string(move.source)
                w.string(move.target)
                w.u64(UInt64(max(0, move.records)))
                w.u64(UInt64(max(0, move.bytes)))
            }
            w.string(analysis)
        case .rebalanceCompleted(let planId, let text), .rebalanceStopped(let planId, let text):
            w.string(planId)
            w.string(text)
        case .rebalanceRollbackStarted(let planId), .rebalanceRolledBack(let planId):
            w.string(planId)
        }
    }

    static func decode(typeTag: UInt16, _ r: inout PayloadReader) throws(PayloadError) -> WorkflowCommand {
        switch typeTag {
        case 32: return .addShard(id: try r.string("id"))
        case 33: return .drainShard(id: try r.string("id"))
        case 34: return .removeShard(id: try r.string("id"))
        case 35:
            return .migrationStarted(
                migrationId: try r.string("migrationId"), personaId: try r.string("personaId"), source: try r.string("source"),
                target: try r.string("target"), batchSize: Int(try r.u32("batchSize")), reverseOf: try r.optionalString("reverseOf"),
                planId: try r.optionalString("planId"))
        case 36: return .migrationCopied(migrationId: try r.string("migrationId"), rows: try r.rowSet(), cursor: try r.cursor())
        case 37: return .migrationVerify(migrationId: try r.string("migrationId"))
        case 38:
            return .migrationVerified(
                migrationId: try r.string("migrationId"), sourceDigest: try r.string("sourceDigest"),
                targetDigest: try r.string("targetDigest"), atLSN: LSN(try r.u64("atLSN")))
        case 39: return .migrationCutOver(migrationId: try r.string("migrationId"))
        case 40: return .migrationCompleted(migrationId: try r.string("migrationId"))
        case 41: return .migrationAborted(migrationId: try r.string("migrationId"), reason: try r.string("reason"))
        case 42:
            return .migrationFailed(
                migrationId: try r.string("migrationId"), reason: try r.string("reason"), sourceDigest: try r.string("sourceDigest"),
                targetDigest: try r.string("targetDigest"))
        case 43:
            return .memoryMoved(
                migrationId: try r.string("migrationId"), memoryId: try r.string("memoryId"), source: try r.string("source"),
                target: try r.string("target"), row: try r.memoryRow())
        case 44:
            return .rebalancePlanned(
                planId: try r.string("planId"),
                moves: try r.list("moves") { (r: inout PayloadReader) throws(PayloadError) in
                    RebalanceMove(
                        personaId: try r.string("personaId"), source: try r.string("source"), target: try r.string("target"),
                        records: Int(clamping: try r.u64("records")), bytes: Int(clamping: try r.u64("bytes")))
                },
                analysis: try r.string("analysis"))
        case 45: return .rebalanceCompleted(planId: try r.string("planId"), validation: try r.string("validation"))
        case 46: return .rebalanceRollbackStarted(planId: try r.string("planId"))
        case 47: return .rebalanceRolledBack(planId: try r.string("planId"))
        case 48: return .rebalanceStopped(planId: try r.string("planId"), reason: try r.string("reason"))
        default: throw PayloadError("type tag \(typeTag) is unknown to this ShardLog (written by a newer one?)")
        }
    }
}
