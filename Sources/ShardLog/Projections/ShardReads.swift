import CommandLog
import Foundation
import GRDB

/// Filters and order for a persona's memories (`getPersonaMemories`).
public struct MemoryQuery: Hashable, Sendable {
    public enum Order: String, Hashable, Sendable, CaseIterable {
        /// Most important first, then oldest first (the default).
        case importanceDescending
        case createdAscending
        case createdDescending
        case lastAccessedDescending
    }
    public var type: MemoryType?
    public var tier: MemoryTier?
    public var minimumImportance: Int?
    public var includeDeleted = false
    public var order: Order = .importanceDescending
    public var limit: Int?
    public var offset = 0

    public init(
        type: MemoryType? = nil, tier: MemoryTier? = nil, minimumImportance: Int? = nil, includeDeleted: Bool = false,
        order: Order = .importanceDescending, limit: Int? = nil, offset: Int = 0
    ) {
        self.type = type
        self.tier = tier
        self.minimumImportance = minimumImportance
        self.includeDeleted = includeDeleted
        self.order = order
        self.limit = limit
        self.offset = offset
    }

    /// The order of `orderSQL`, for merging the rows of several shards (WF-040).
    func areInIncreasingOrder(_ a: MemoryEntity, _ b: MemoryEntity) -> Bool {
        func idLess() -> Bool { Router.utf8Less(a.id, b.id) }
        switch order {
        case .importanceDescending:
            if a.importance != b.importance { return a.importance > b.importance }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return idLess()
        case .createdAscending:
            return a.createdAt != b.createdAt ? a.createdAt < b.createdAt : idLess()
        case .createdDescending:
            return a.createdAt != b.createdAt ? a.createdAt > b.createdAt : idLess()
        case .lastAccessedDescending:
            switch (a.lastAccessedAt, b.lastAccessedAt) {
            case (let x?, let y?) where x != y: return x > y
            case (.some, .none): return true
            case (.none, .some): return false
            default: return idLess()
            }
        }
    }

    var orderSQL: String {
        switch order {
        case .importanceDescending: return "importance DESC, created_at, id"
        case .createdAscending: return "created_at, id"
        case .createdDescending: return "created_at DESC, id"
        case .lastAccessedDescending: return "last_accessed_at DESC NULLS LAST, id"
        }
    }
}

extension ShardProjection {
    static func persona(_ row: Row) throws -> Persona {
        Persona(
            id: row["id"], name: row["name"], description: row["description"],
            personality: try JSONText.decode(Personality.self, row["personality"]),
            memoryConfiguration: try JSONText.decode(MemoryConfiguration.self, row["memory_configuration"]),
            privacySettings: try JSONText.decode(PrivacySettings.self, row["privacy_settings"]),
            isActive: row["is_active"], createdAt: Timestamp(rawValue: row["created_at"]),
            updatedAt: Timestamp(rawValue: row["updated_at"]))
    }

    /// Columns by position, in the order of `memoryColumns` (name lookups cost a lowercasing each).
    static let memoryColumns = "id, persona_id, type, name, content, summary, tags, importance, tier, embedding, embedding_model, access_count, last_accessed_at, created_at, updated_at, deleted_at"

    /// `columns` of the memories of `table` that match `filter`, in key order (at most the
    /// last argument's count with `limited`): the matching ids are sorted first — keys
    /// only — and the rows then read through the primary key in that order. Asked as
    /// `WHERE filter ORDER BY id`, SQLite finds the rows through the filter's index and
    /// sorts whole rows, embeddings and all (WF-022).
    /// Without a limit the ids are not sorted inside: the outer query reads them in key
    /// order anyway, and SQLite would sort them for nothing.
    static func memoriesInKeyOrder(_ columns: String = memoryColumns, table: String = "memories", where filter: String, limited: Bool) -> String {
        "SELECT \(columns) FROM \(table) WHERE id IN (SELECT id FROM \(table) WHERE \(filter)\(limited ? " ORDER BY id LIMIT ?" : "")) ORDER BY id"
    }

    static func memory(_ row: Row) throws -> MemoryEntity {
        MemoryEntity(
            id: row[0], personaId: row[1], type: MemoryType(rawValue: row[2]) ?? .text,
            name: row[3], content: row[4], summary: row[5],
            tags: try JSONText.decodeStrings(row[6]), importance: row[7],
            tier: MemoryTier(rawValue: row[8]) ?? .hot, embedding: (row[9] as Data?).map(EmbeddingBlob.decode),
            embeddingModel: row[10], accessCount: row[11],
            lastAccessedAt: (row[12] as Int64?).map(Timestamp.init(rawValue:)),
            createdAt: Timestamp(rawValue: row[13]), updatedAt: Timestamp(rawValue: row[14]),
            deletedAt: (row[15] as Int64?).map(Timestamp.init(rawValue:)))
    }

    static func conversation(_ row: Row) -> Conversation {
        Conversation(
            id: row["id"], personaId: row["persona_id"], title: row["title"], messageCount: row["message_count"],
            createdAt: Timestamp(rawValue: row["created_at"]), updatedAt: Timestamp(rawValue: row["updated_at"]))
    }

    func persona(id: String) throws -> Persona? {
        try pool.read { db in try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM personas WHERE id = ?"), arguments: [id]).map(Self.persona) }
    }

    func personas() throws -> [Persona] {
        try pool.read { db in try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM personas ORDER BY created_at, id")).map(Self.persona) }
    }

    func memory(id: String) throws -> MemoryEntity? {
        try pool.read { db in try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.memoryColumns) FROM memories WHERE id = ?"), arguments: [id]).map(Self.memory) }
    }

    func memories(personaID: String, query: MemoryQuery) throws -> [MemoryEntity] {
        var sql = "SELECT \(Self.memoryColumns) FROM memories WHERE persona_id = ?"
        var arguments: StatementArguments = [personaID]
        if !query.includeDeleted { sql += " AND deleted_at IS NULL" }
        if let type = query.type {
            sql += " AND type = ?"
            arguments += [type.rawValue]
        }
        if let tier = query.tier {
            sql += " AND tier = ?"
            arguments += [tier.rawValue]
        }
        if let minimum = query.minimumImportance {
            sql += " AND importance >= ?"
            arguments += [minimum]
        }
        sql += " ORDER BY \(query.orderSQL) LIMIT ? OFFSET ?"
        arguments += [query.limit ?? -1, query.offset]
        let statement = sql
        let boundArguments = arguments
        return try pool.read { db in try Row.fetchAll(db.cachedStatement(sql: statement), arguments: boundArguments).map(Self.memory) }
    }

    func memories(tier: MemoryTier, limit: Int?) throws -> [MemoryEntity] {
        try pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: Self.memoriesInKeyOrder(where: "tier = ? AND deleted_at IS NULL", limited: true)),
                             arguments: [tier.rawValue, limit ?? -1]).map(Self.memory)
        }
    }

    func conversation(id: String, withMessages: Bool) throws -> Conversation? {
        try pool.read { db in
            guard var conversation = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM conversations WHERE id = ?"), arguments: [id]).map(Self.conversation) else {
                return nil
            }
            if withMessages {
                conversation.messages = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM messages WHERE conversation_id = ? ORDER BY sequence"), arguments: [id]
                ).map { row in
                    Message(sequence: row["sequence"], role: MessageRole(rawValue: row["role"]) ?? .user, content: row["content"],
                            createdAt: Timestamp(rawValue: row["created_at"]))
                }
            }
            return conversation
        }
    }

    func conversations(personaID: String) throws -> [Conversation] {
        try pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM conversations WHERE persona_id = ? ORDER BY created_at, id"), arguments: [personaID])
                .map(Self.conversation)
        }
    }

    struct Counts: Sendable {
        var personas = 0
        var memories = 0
        var conversations = 0
        var messages = 0
    }

    func counts() throws -> Counts {
        try pool.read { db in
            Counts(
                personas: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM personas") ?? 0,
                memories: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memories") ?? 0,
                conversations: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conversations") ?? 0,
                messages: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages") ?? 0)
        }
    }

    /// Bytes of the database file and its WAL.
    func bytesOnDisk() -> Int {
        [path, path + "-wal"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
        }
    }
}
