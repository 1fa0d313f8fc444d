import CommandLog
import Crypto
import Foundation
import GRDB

/// The catalog projection (Specs/ProjectionSchema.md §3): shards, strategy, placements,
/// the index of memories and conversations, command ids. The engine's `StoreState` is
/// loaded from it on open, so an open does not replay the log.
final class CatalogProjection: Sendable {
    let path: String
    let pool: DatabasePool

    static let schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS shards (id TEXT PRIMARY KEY, status TEXT NOT NULL, created_lsn INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS placements (persona_id TEXT PRIMARY KEY, shard_id TEXT NOT NULL, placed_lsn INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS memory_index (id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, deleted INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS memory_index_by_persona ON memory_index (persona_id);
        CREATE TABLE IF NOT EXISTS conversation_index (id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, message_count INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS conversation_index_by_persona ON conversation_index (persona_id);
        CREATE TABLE IF NOT EXISTS command_ids (command_id TEXT PRIMARY KEY, lsn INTEGER NOT NULL) WITHOUT ROWID;
        INSERT OR IGNORE INTO meta (key, value) VALUES ('applied_lsn', 0), ('schema_version', 1);
        """

    init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.maximumReaderCount = 2
        configuration.label = "catalog"
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in try db.execute(sql: Self.schema) }
    }

    func appliedLSN() throws -> LSN {
        try pool.read { db in LSN(UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'applied_lsn'") ?? 0)) }
    }

    /// Applies the catalog effects of commands `…lsn` in one transaction (PROJ-002).
    func apply(_ effects: [(lsn: LSN, effect: CatalogEffect)], through lsn: LSN) throws {
        try pool.write { db in
            for (commandLSN, effect) in effects { try Self.apply(effect, lsn: commandLSN, in: db) }
            try db.cachedStatement(sql: "UPDATE meta SET value = ? WHERE key = 'applied_lsn'").execute(arguments: [Int64(lsn.rawValue)])
        }
    }

    static func apply(_ effect: CatalogEffect, lsn: LSN, in db: Database) throws {
        let at = Int64(lsn.rawValue)
        switch effect {
        case .initialize(let s):
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('strategy', ?), ('virtual_nodes', ?), ('embedding_dimension', ?), ('range_boundaries', ?)",
                           arguments: [s.strategy.rawValue, s.virtualNodes, s.embeddingDimension, JSONText.strings(s.rangeBoundaries)])
            for shard in s.shards {
                try db.execute(sql: "INSERT INTO shards (id, status, created_lsn) VALUES (?, 'active', ?)", arguments: [shard, at])
            }
        case .place(let personaID, let shard):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO placements (persona_id, shard_id, placed_lsn) VALUES (?, ?, ?)")
                .execute(arguments: [personaID, shard, at])
        case .unplace(let personaID):
            try db.execute(sql: "DELETE FROM placements WHERE persona_id = ?", arguments: [personaID])
        case .setActivePersona(let id):
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('active_persona', ?)", arguments: [id])
        case .indexMemory(let id, let personaID):
            try db.cachedStatement(sql: "INSERT INTO memory_index (id, persona_id, deleted) VALUES (?, ?, 0)").execute(arguments: [id, personaID])
        case .markMemoryDeleted(let id):
            try db.execute(sql: "UPDATE memory_index SET deleted = 1 WHERE id = ?", arguments: [id])
        case .indexConversation(let id, let personaID):
            try db.execute(sql: "INSERT INTO conversation_index (id, persona_id, message_count) VALUES (?, ?, 0)", arguments: [id, personaID])
        case .setMessageCount(let conversationID, let count):
            try db.cachedStatement(sql: "UPDATE conversation_index SET message_count = ? WHERE id = ?").execute(arguments: [count, conversationID])
        case .unindexConversation(let id):
            try db.execute(sql: "DELETE FROM conversation_index WHERE id = ?", arguments: [id])
        case .unindexPersonaContents(let personaID):
            try db.execute(sql: "DELETE FROM memory_index WHERE persona_id = ?", arguments: [personaID])
            try db.execute(sql: "DELETE FROM conversation_index WHERE persona_id = ?", arguments: [personaID])
        case .recordCommandID(let id):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO command_ids (command_id, lsn) VALUES (?, ?)").execute(arguments: [id, at])
        }
    }

    /// The tables of the catalog's digest (PROJ-011), in order.
    static let digestTables: [(name: String, columns: String, order: String)] = [
        ("shards", "id, status, created_lsn", "id"),
        ("placements", "persona_id, shard_id, placed_lsn", "persona_id"),
        ("memory_index", "id, persona_id, deleted", "id"),
        ("conversation_index", "id, persona_id, message_count", "id"),
        ("command_ids", "command_id, lsn", "command_id"),
    ]

    /// PROJ-011.
    func digest() throws -> String { try pool.read { try ShardProjection.digest($0, tables: Self.digestTables) } }

    /// The engine's validation state as of `appliedLSN()`.
    func loadState() throws -> StoreState {
        try pool.read { db in
            var state = StoreState()
            state.lastLSN = LSN(UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'applied_lsn'") ?? 0))
            if let strategyName = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'strategy'"),
                let strategy = ShardingStrategy(rawValue: strategyName)
            {
                state.initialization = StoreInitialization(
                    strategy: strategy,
                    virtualNodes: try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'virtual_nodes'") ?? 150,
                    embeddingDimension: try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'embedding_dimension'") ?? 384,
                    shards: try String.fetchAll(db, sql: "SELECT id FROM shards WHERE status = 'active' ORDER BY id"),
                    rangeBoundaries: try JSONText.decodeStrings(
                        try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'range_boundaries'") ?? "[]"))
            }
            state.activePersona = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'active_persona'")
            for row in try Row.fetchAll(db, sql: "SELECT persona_id, shard_id FROM placements") {
                state.personas[row[0]] = StoreState.PersonaEntry(shard: row[1])
            }
            let memories = try Row.fetchCursor(db, sql: "SELECT id, persona_id, deleted FROM memory_index")
            while let row = try memories.next() {
                let id: String = row[0]
                let personaID: String = row[1]
                state.memories[id] = StoreState.MemoryEntry(personaID: personaID, deleted: row[2])
                state.personas[personaID]?.memoryIDs.insert(id)
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, persona_id, message_count FROM conversation_index") {
                let id: String = row[0]
                let personaID: String = row[1]
                state.conversations[id] = StoreState.ConversationEntry(personaID: personaID, messageCount: row[2])
                state.personas[personaID]?.conversationIDs.insert(id)
            }
            let ids = try Row.fetchCursor(db, sql: "SELECT command_id, lsn FROM command_ids")
            while let row = try ids.next() { state.commandIDs[row[0]] = LSN(UInt64(row[1] as Int64)) }
            return state
        }
    }
}
