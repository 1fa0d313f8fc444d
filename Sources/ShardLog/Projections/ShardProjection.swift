import CommandLog
import Crypto
import Foundation
import GRDB
import GRDBSQLite

/// One shard's SQLite projection (Specs/ProjectionSchema.md): a GRDB `DatabasePool`
/// (WAL, one writer, a bounded pool of readers).
final class ShardProjection: Sendable {
    let id: String
    let path: String
    let pool: DatabasePool
    let checkpoint: WALCheckpoint

    /// Readers per shard (GRDB's pool bound).
    static let readerCountMax = 4

    init(id: String, path: String) throws {
        self.id = id
        self.path = path
        checkpoint = WALCheckpoint(path: path)
        pool = try DatabasePool(path: path, configuration: checkpoint.poolConfiguration(label: "shard \(id)", readers: Self.readerCountMax))
        try pool.write { db in try ShardSchema.create(db, shardID: id, withIndexes: true) }
    }

    func close() throws {
        checkpoint.close()
        try pool.close()
    }

    /// PROJ-002: the LSN whose effects are in the rows.
    func appliedLSN() throws -> LSN {
        try pool.read { db in LSN(UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'applied_lsn'") ?? 0)) }
    }

    /// Applies effects and records `lsn` in the same transaction (PROJ-002). A
    /// `reportPersonaDigest` effect pins a snapshot of the database as of this transaction,
    /// from which the migration driver computes the digest without holding up the writes
    /// that follow (WF-024).
    func apply(_ effects: [ShardEffect], through lsn: LSN) throws {
        try pool.write { db in
            for effect in effects { try Self.apply(effect, in: db) }
            try Self.setAppliedLSN(lsn, in: db)
        }
        for case .reportPersonaDigest(let personaID, let staged, let reportLSN) in effects {
            reports.put(lsn: reportLSN, staged: staged, report: DigestReports.Report(personaID: personaID, snapshot: try pool.makeSnapshot()))
        }
    }

    static func setAppliedLSN(_ lsn: LSN, in db: Database) throws {
        try db.cachedStatement(sql: "UPDATE meta SET value = ? WHERE key = 'applied_lsn'").execute(arguments: [Int64(lsn.rawValue)])
    }

    // MARK: - Effects → SQL

    /// The table names effects write to: a shard's own, or its staging tables (WF-021).
    struct Tables: Sendable {
        var personas: String
        var memories: String
        var conversations: String
        var messages: String
        static let main = Tables(personas: "personas", memories: "memories", conversations: "conversations", messages: "messages")
        static let staged = Tables(
            personas: "staged_personas", memories: "staged_memories", conversations: "staged_conversations", messages: "staged_messages")
    }

    /// Digests reported by `reportPersonaDigest` effects, by LSN and side (WF-024).
    let reports = DigestReports()

    /// Applies one effect to `db` (`reportPersonaDigest` is the instance method's business).
    static func apply(_ effect: ShardEffect, in db: Database, tables t: Tables = .main) throws {
        switch effect {
        case .insertPersona(let p):
            try db.cachedStatement(sql: """
                INSERT INTO \(t.personas) (id, name, description, personality, memory_configuration, privacy_settings,
                  is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    p.id, p.name, p.description, JSONText.encode(p.personality), JSONText.encode(p.memoryConfiguration),
                    JSONText.encode(p.privacySettings), p.isActive, p.createdAt.rawValue, p.updatedAt.rawValue,
                ])
        case .updatePersona(let patch, let at):
            if let name = patch.name { try db.execute(sql: "UPDATE \(t.personas) SET name = ? WHERE id = ?", arguments: [name, patch.id]) }
            if let description = patch.description {
                try db.execute(sql: "UPDATE \(t.personas) SET description = ? WHERE id = ?", arguments: [description, patch.id])
            }
            if let value = patch.personality {
                try db.execute(sql: "UPDATE \(t.personas) SET personality = ? WHERE id = ?", arguments: [JSONText.encode(value), patch.id])
            }
            if let value = patch.memoryConfiguration {
                try db.execute(sql: "UPDATE \(t.personas) SET memory_configuration = ? WHERE id = ?", arguments: [JSONText.encode(value), patch.id])
            }
            if let value = patch.privacySettings {
                try db.execute(sql: "UPDATE \(t.personas) SET privacy_settings = ? WHERE id = ?", arguments: [JSONText.encode(value), patch.id])
            }
            try db.execute(sql: "UPDATE \(t.personas) SET updated_at = ? WHERE id = ?", arguments: [at.rawValue, patch.id])
        case .setPersonaActive(let id, let active, let at):
            try db.execute(sql: "UPDATE \(t.personas) SET is_active = ?, updated_at = ? WHERE id = ?", arguments: [active, at.rawValue, id])
        case .deletePersona(let id):
            try db.execute(sql: "DELETE FROM \(t.messages) WHERE conversation_id IN (SELECT id FROM \(t.conversations) WHERE persona_id = ?)", arguments: [id])
            try db.execute(sql: "DELETE FROM \(t.conversations) WHERE persona_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM \(t.memories) WHERE persona_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM \(t.personas) WHERE id = ?", arguments: [id])
        case .insertMemory(let m):
            // The hottest insert (imports, rebuilds): bound through SQLite's C API, which skips
            // building an argument array of DatabaseValues for every row.
            let statement = try db.cachedStatement(sql: """
                INSERT INTO \(t.memories) (id, persona_id, type, name, content, summary, tags, importance, tier, embedding,
                  embedding_model, access_count, last_accessed_at, created_at, updated_at, deleted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var binder = RawBinder(statement.sqliteStatement)
            binder.text(m.id)
            binder.text(m.personaId)
            binder.text(m.type.rawValue)
            binder.text(m.name)
            binder.text(m.content)
            binder.text(m.summary)
            binder.text(JSONText.strings(m.tags))
            binder.int(Int64(m.importance))
            binder.text(m.tier.rawValue)
            binder.floats(m.embedding)
            binder.text(m.embeddingModel)
            binder.int(Int64(m.accessCount))
            binder.int(m.lastAccessedAt?.rawValue)
            binder.int(m.createdAt.rawValue)
            binder.int(m.updatedAt.rawValue)
            binder.int(m.deletedAt?.rawValue)
            try binder.step(db)
        case .updateMemory(let patch, let at):
            if let type = patch.type { try db.execute(sql: "UPDATE \(t.memories) SET type = ? WHERE id = ?", arguments: [type.rawValue, patch.id]) }
            if let name = patch.name { try db.execute(sql: "UPDATE \(t.memories) SET name = ? WHERE id = ?", arguments: [name, patch.id]) }
            if let content = patch.content { try db.execute(sql: "UPDATE \(t.memories) SET content = ? WHERE id = ?", arguments: [content, patch.id]) }
            if let summary = patch.summary { try db.execute(sql: "UPDATE \(t.memories) SET summary = ? WHERE id = ?", arguments: [summary, patch.id]) }
            if let tags = patch.tags {
                try db.execute(sql: "UPDATE \(t.memories) SET tags = ? WHERE id = ?", arguments: [JSONText.strings(tags), patch.id])
            }
            if let importance = patch.importance {
                try db.execute(sql: "UPDATE \(t.memories) SET importance = ? WHERE id = ?", arguments: [importance, patch.id])
            }
            try db.execute(sql: "UPDATE \(t.memories) SET updated_at = ? WHERE id = ?", arguments: [at.rawValue, patch.id])
        case .setMemoryTier(let id, let tier, let at):
            try db.execute(sql: "UPDATE \(t.memories) SET tier = ?, updated_at = ? WHERE id = ?", arguments: [tier.rawValue, at.rawValue, id])
        case .markMemoryAccessed(let id, let at):
            try db.execute(sql: "UPDATE \(t.memories) SET access_count = access_count + 1, last_accessed_at = ?, updated_at = ? WHERE id = ?",
                           arguments: [at.rawValue, at.rawValue, id])
        case .setMemoryAccess(let id, let accessCount, let lastAccessedAt, let at):
            try db.execute(sql: "UPDATE \(t.memories) SET access_count = ?, last_accessed_at = ?, updated_at = ? WHERE id = ?",
                           arguments: [accessCount, lastAccessedAt?.rawValue, at.rawValue, id])
        case .updateMemoryEmbedding(let id, let embedding, let model, let at):
            if let model {
                try db.execute(sql: "UPDATE \(t.memories) SET embedding = ?, embedding_model = ?, updated_at = ? WHERE id = ?",
                               arguments: [EmbeddingBlob.encode(embedding), model, at.rawValue, id])
            } else {
                try db.execute(sql: "UPDATE \(t.memories) SET embedding = ?, updated_at = ? WHERE id = ?",
                               arguments: [EmbeddingBlob.encode(embedding), at.rawValue, id])
            }
        case .softDeleteMemory(let id, let at):
            try db.execute(sql: "UPDATE \(t.memories) SET deleted_at = ?, updated_at = ? WHERE id = ?", arguments: [at.rawValue, at.rawValue, id])
        case .insertConversation(let c):
            try db.execute(sql: "INSERT INTO \(t.conversations) (id, persona_id, title, message_count, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
                           arguments: [c.id, c.personaId, c.title, c.createdAt.rawValue, c.updatedAt.rawValue])
        case .insertMessage(let conversationID, let message):
            try db.cachedStatement(sql: "INSERT INTO \(t.messages) (conversation_id, sequence, role, content, created_at) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [conversationID, message.sequence, message.role.rawValue, message.content, message.createdAt.rawValue])
            try db.cachedStatement(sql: "UPDATE \(t.conversations) SET message_count = ?, updated_at = ? WHERE id = ?")
                .execute(arguments: [message.sequence, message.createdAt.rawValue, conversationID])
        case .deleteConversation(let id):
            try db.execute(sql: "DELETE FROM \(t.messages) WHERE conversation_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM \(t.conversations) WHERE id = ?", arguments: [id])
        case .staged(let inner):
            try apply(inner, in: db, tables: .staged)
        case .putRows(let rows):
            try putRows(rows, in: db, tables: t)
        case .promoteStaged(let personaID):
            let s = Tables.staged
            for (from, to) in [(s.personas, "personas"), (s.memories, "memories"), (s.conversations, "conversations")] {
                let key = from == s.personas ? "id" : "persona_id"
                try db.execute(sql: "INSERT OR REPLACE INTO \(to) SELECT * FROM \(from) WHERE \(key) = ?", arguments: [personaID])
            }
            try db.execute(sql: """
                INSERT OR REPLACE INTO messages SELECT * FROM \(s.messages)
                WHERE conversation_id IN (SELECT id FROM \(s.conversations) WHERE persona_id = ?)
                """, arguments: [personaID])
            try apply(.dropStaged(personaID: personaID), in: db, tables: t)
        case .dropStaged(let personaID):
            try apply(.deletePersona(id: personaID), in: db, tables: .staged)
        case .removeMemory(let id):
            try db.execute(sql: "DELETE FROM \(t.memories) WHERE id = ?", arguments: [id])
        case .reportPersonaDigest:
            break  // see `apply(_:through:)`; a replay skips it: the logged verification carries the digests
        }
    }

    /// WF-022: rows as a copy step carries them, replacing rows with the same keys.
    static func putRows(_ rows: RowSet, in db: Database, tables t: Tables) throws {
        if let p = rows.persona {
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO \(t.personas) (id, name, description, personality, memory_configuration, privacy_settings,
                  is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    p.id, p.name, p.description, JSONText.encode(p.personality), JSONText.encode(p.memoryConfiguration),
                    JSONText.encode(p.privacySettings), p.isActive, p.createdAt.rawValue, p.updatedAt.rawValue,
                ])
        }
        for m in rows.memories {
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO \(t.memories) (id, persona_id, type, name, content, summary, tags, importance, tier, embedding,
                  embedding_model, access_count, last_accessed_at, created_at, updated_at, deleted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    m.id, m.personaId, m.type.rawValue, m.name, m.content, m.summary, JSONText.strings(m.tags), m.importance,
                    m.tier.rawValue, m.embedding.map(EmbeddingBlob.encode), m.embeddingModel, m.accessCount,
                    m.lastAccessedAt?.rawValue, m.createdAt.rawValue, m.updatedAt.rawValue, m.deletedAt?.rawValue,
                ])
        }
        for c in rows.conversations {
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO \(t.conversations) (id, persona_id, title, message_count, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [c.id, c.personaId, c.title, c.messageCount, c.createdAt.rawValue, c.updatedAt.rawValue])
        }
        for m in rows.messages {
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO \(t.messages) (conversation_id, sequence, role, content, created_at) VALUES (?, ?, ?, ?, ?)
                """).execute(arguments: [m.conversationId, m.message.sequence, m.message.role.rawValue, m.message.content, m.message.createdAt.rawValue])
        }
    }

    /// PROJ-012: the digest of one persona's rows, read from `tables`, fed under the main
    /// table names so both sides of a migration hash the same bytes for the same rows.
    static func personaDigest(_ db: Database, personaID: String, tables t: Tables) throws -> String {
        let columns = Dictionary(uniqueKeysWithValues: ShardSchema.digestTables.map { ($0.name, $0.columns) })
        var hasher = DigestEncoder()
        let queries: [(name: String, sql: String)] = [
            ("personas", "SELECT \(columns["personas"]!) FROM \(t.personas) WHERE id = ?1 ORDER BY id"),
            ("memories", memoriesInKeyOrder(columns["memories"]!, table: t.memories, where: "persona_id = ?1", limited: false)),
            ("conversations", "SELECT \(columns["conversations"]!) FROM \(t.conversations) WHERE persona_id = ?1 ORDER BY id"),
            ("messages", "SELECT \(columns["messages"]!) FROM \(t.messages) WHERE conversation_id IN (SELECT id FROM \(t.conversations) WHERE persona_id = ?1) ORDER BY conversation_id, sequence"),
        ]
        for (name, sql) in queries {
            let count = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(sql))", arguments: [personaID]) ?? 0
            hasher.byte(0xFF)
            hasher.text(name)
            hasher.integer(count)
            let statement = try db.makeStatement(sql: sql)
            try statement.setArguments([personaID])
            try hasher.rows(of: statement, db)
        }
        return hasher.finalize()
    }

    // MARK: - Digest (PROJ-010)

    static func digest(_ db: Database) throws -> String { try digest(db, tables: ShardSchema.digestTables) }

    /// SHA-256 over `tables` encoded as PROJ-010 says: each table's marker, name and row
    /// count, then its rows in `order`, column by column.
    static func digest(_ db: Database, tables: [(name: String, columns: String, order: String)]) throws -> String {
        var hasher = DigestEncoder()
        for table in tables {
            let count = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table.name)") ?? 0
            hasher.byte(0xFF)
            hasher.text(table.name)
            hasher.integer(count)
            try hasher.rows(of: try db.makeStatement(sql: "SELECT \(table.columns) FROM \(table.name) ORDER BY \(table.order)"), db)
        }
        return hasher.finalize()
    }

    func digest() throws -> String { try pool.read { try Self.digest($0) } }
}
