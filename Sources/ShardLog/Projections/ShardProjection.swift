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

/// Persona digests reported by live `reportPersonaDigest` effects (WF-024), kept until the
/// migration driver takes them.
final class DigestReports: @unchecked Sendable {
    /// A persona and the database as of the verify step, to digest.
    struct Report {
        var personaID: String
        var snapshot: DatabaseSnapshot
    }
    private let lock = NSLock()
    private var reports: [String: Report] = [:]

    private static func key(_ lsn: LSN, _ staged: Bool) -> String { "\(lsn.rawValue)\(staged ? "s" : "")" }

    func put(lsn: LSN, staged: Bool, report: Report) {
        lock.withLock { reports[Self.key(lsn, staged)] = report }
    }

    /// The persona digest (PROJ-012) reported at `lsn`, computed now from its snapshot.
    func takeDigest(lsn: LSN, staged: Bool) throws -> String? {
        guard let report = lock.withLock({ reports.removeValue(forKey: Self.key(lsn, staged)) }) else { return nil }
        defer { try? report.snapshot.close() }
        return try report.snapshot.read { db in
            try ShardProjection.personaDigest(db, personaID: report.personaID, tables: staged ? .staged : .main)
        }
    }
}

/// The value encoding of the digest (PROJ-010), fed to SHA-256 through a buffer so that
/// small values do not each cost a hash update.
struct DigestEncoder {
    private var hasher = SHA256()
    private var buffer: [UInt8] = []
    private static let flushSize = 1 << 16

    init() { buffer.reserveCapacity(Self.flushSize + 64) }

    mutating func byte(_ value: UInt8) {
        buffer.append(value)
        flushIfFull()
    }

    /// Tag 1 and the value as 8 little-endian bytes.
    mutating func integer(_ value: Int64) {
        buffer.append(1)
        littleEndian(UInt64(bitPattern: value))
    }

    mutating func littleEndian(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
        flushIfFull()
    }

    /// Tag 2 for text and the UTF-8 bytes of `value`.
    mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { lengthPrefixed(tag: 2, UnsafeRawBufferPointer($0)) }
    }

    /// `tag`, the byte count as 4 little-endian bytes, the bytes.
    mutating func lengthPrefixed(tag: UInt8, _ bytes: UnsafeRawBufferPointer) {
        buffer.append(tag)
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { buffer.append(contentsOf: $0) }
        if bytes.count >= Self.flushSize {
            flush()
            hasher.update(bufferPointer: bytes)
        } else if bytes.count > 0 {
            buffer.append(contentsOf: bytes)
            flushIfFull()
        }
    }

    private mutating func flushIfFull() {
        if buffer.count >= Self.flushSize { flush() }
    }

    private mutating func flush() {
        buffer.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Feeds every row `statement` returns, column by column. Stepped through SQLite's C
    /// API: values go straight from SQLite's buffers into the hash, with no Row or
    /// DatabaseValue per column.
    mutating func rows(of statement: Statement, _ db: Database) throws {
        let raw = statement.sqliteStatement
        let columns = sqlite3_column_count(raw)
        while true {
            let code = sqlite3_step(raw)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            for column in 0..<columns {
                switch sqlite3_column_type(raw, column) {
                case SQLITE_NULL: byte(0)
                case SQLITE_INTEGER: integer(sqlite3_column_int64(raw, column))
                case SQLITE_FLOAT:
                    // No REAL column exists in the schema; kept total so a stray value is still hashed.
                    byte(4)
                    littleEndian(sqlite3_column_double(raw, column).bitPattern)
                case SQLITE_TEXT:
                    let bytes = sqlite3_column_text(raw, column)
                    lengthPrefixed(tag: 2, UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(raw, column))))
                default:
                    let bytes = sqlite3_column_blob(raw, column)
                    lengthPrefixed(tag: 3, UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(raw, column))))
                }
            }
        }
    }

    /// Lower-case hex of the SHA-256.
    mutating func finalize() -> String {
        flush()
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// Binds parameters 1, 2, … of a prepared statement with SQLite's C API and runs it.
/// Used for the hottest inserts only; everything else goes through GRDB's arguments.
struct RawBinder {
    private let statement: OpaquePointer
    private var index: Int32 = 0
    /// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ statement: OpaquePointer) {
        self.statement = statement
        sqlite3_reset(statement)
    }

    mutating func text(_ value: String?) {
        index += 1
        guard var value else {
            sqlite3_bind_null(statement, index)
            return
        }
        let i = index
        value.withUTF8 { utf8 in
            if let base = utf8.baseAddress, utf8.count > 0 {
                _ = sqlite3_bind_text(statement, i, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(utf8.count), Self.transient)
            } else {
                _ = sqlite3_bind_text(statement, i, "", 0, Self.transient)  // an empty string is not NULL
            }
        }
    }

    mutating func int(_ value: Int64?) {
        index += 1
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
    }

    /// An embedding as its little-endian f32 blob (Specs/ProjectionSchema.md §2).
    mutating func floats(_ value: [Float]?) {
        index += 1
        guard let value else {
            sqlite3_bind_null(statement, index)
            return
        }
        let i = index
        #if _endian(little)
        // The in-memory layout is the stored one: SQLite copies straight from the array.
        value.withUnsafeBytes { raw in bind(raw, at: i) }
        #else
        EmbeddingBlob.encode(value).withUnsafeBytes { raw in bind(raw, at: i) }
        #endif
    }

    private func bind(_ raw: UnsafeRawBufferPointer, at i: Int32) {
        if let base = raw.baseAddress, raw.count > 0 {
            _ = sqlite3_bind_blob(statement, i, base, Int32(raw.count), Self.transient)
        } else {
            _ = sqlite3_bind_zeroblob(statement, i, 0)  // an empty vector is not NULL
        }
    }

    func step(_ db: Database) throws {
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}
