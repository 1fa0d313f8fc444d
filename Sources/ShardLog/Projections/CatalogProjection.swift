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
    let checkpoint: WALCheckpoint

    static let schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS shards (id TEXT PRIMARY KEY, status TEXT NOT NULL, created_lsn INTEGER NOT NULL,
          touched_lsn INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS placements (persona_id TEXT PRIMARY KEY, shard_id TEXT NOT NULL, placed_lsn INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS memory_index (id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, deleted INTEGER NOT NULL, home TEXT) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS memory_index_by_persona ON memory_index (persona_id);
        CREATE TABLE IF NOT EXISTS conversation_index (id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, message_count INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS conversation_index_by_persona ON conversation_index (persona_id);
        CREATE TABLE IF NOT EXISTS command_ids (command_id TEXT PRIMARY KEY, lsn INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS migrations (
          id TEXT PRIMARY KEY, kind TEXT NOT NULL, persona_id TEXT NOT NULL, memory_id TEXT, source TEXT NOT NULL,
          target TEXT NOT NULL, batch_size INTEGER NOT NULL, reverse_of TEXT, plan_id TEXT, phase TEXT NOT NULL,
          cursor_table INTEGER NOT NULL, cursor_key TEXT NOT NULL, cursor_sequence INTEGER NOT NULL,
          rows_copied INTEGER NOT NULL, source_digest TEXT, target_digest TEXT, reason TEXT,
          started_lsn INTEGER NOT NULL, updated_lsn INTEGER NOT NULL, started_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS rebalances (
          id TEXT PRIMARY KEY, phase TEXT NOT NULL, moves TEXT NOT NULL, analysis TEXT NOT NULL, outcome TEXT,
          planned_lsn INTEGER NOT NULL, updated_lsn INTEGER NOT NULL) WITHOUT ROWID;
        INSERT OR IGNORE INTO meta (key, value) VALUES ('applied_lsn', 0), ('schema_version', 3);
        """

    init(path: String) throws {
        self.path = path
        checkpoint = WALCheckpoint(path: path)
        pool = try DatabasePool(path: path, configuration: checkpoint.poolConfiguration(label: "catalog", readers: 2))
        try pool.write { db in try db.execute(sql: Self.schema) }
    }

    func close() throws {
        checkpoint.close()
        try pool.close()
    }

    func appliedLSN() throws -> LSN {
        try pool.read { db in LSN(UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'applied_lsn'") ?? 0)) }
    }

    /// Applies the catalog effects of commands `…lsn` in one transaction (PROJ-002).
    /// Applies the catalog effects of commands `…lsn` in one transaction (PROJ-002), and
    /// records `lsn` as the last LSN that touched each shard in `touched` (PROJ-004).
    func apply(_ effects: [(lsn: LSN, effect: CatalogEffect)], through lsn: LSN, touched: [String] = []) throws {
        try pool.write { db in
            for (commandLSN, effect) in effects { try Self.apply(effect, lsn: commandLSN, in: db) }
            for shard in touched {
                try db.cachedStatement(sql: "UPDATE shards SET touched_lsn = ? WHERE id = ?").execute(arguments: [Int64(lsn.rawValue), shard])
            }
            try db.cachedStatement(sql: "UPDATE meta SET value = ? WHERE key = 'applied_lsn'").execute(arguments: [Int64(lsn.rawValue)])
        }
    }

    /// Per shard, the last LSN whose effects touched it, as of `appliedLSN()` (PROJ-004).
    func touchedLSNs() throws -> [String: LSN] {
        try pool.read { db in
            var result: [String: LSN] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, touched_lsn FROM shards") { result[row[0]] = LSN(UInt64(row[1] as Int64)) }
            return result
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
            // One per memory written: bound through SQLite's C API like the shard's memory
            // insert, which skips building an array of DatabaseValues per row.
            var binder = RawBinder(try db.cachedStatement(sql: "INSERT INTO memory_index (id, persona_id, deleted) VALUES (?, ?, 0)").sqliteStatement)
            binder.text(id)
            binder.text(personaID)
            try binder.step(db)
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
            var binder = RawBinder(try db.cachedStatement(sql: "INSERT OR REPLACE INTO command_ids (command_id, lsn) VALUES (?, ?)").sqliteStatement)
            binder.text(id)
            binder.int(at)
            try binder.step(db)
        case .addShard(let id):
            try db.execute(sql: "INSERT INTO shards (id, status, created_lsn) VALUES (?, 'active', ?)", arguments: [id, at])
        case .setShardStatus(let id, let status):
            try db.execute(sql: "UPDATE shards SET status = ? WHERE id = ?", arguments: [status.rawValue, id])
        case .putMigration(let m):
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO migrations (id, kind, persona_id, memory_id, source, target, batch_size, reverse_of, plan_id,
                  phase, cursor_table, cursor_key, cursor_sequence, rows_copied, source_digest, target_digest, reason,
                  started_lsn, updated_lsn, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    m.id, m.kind.rawValue, m.personaId, m.memoryId, m.source, m.target, m.batchSize, m.reverseOf, m.planId,
                    m.phase.rawValue, Int(m.cursor.table.rawValue), m.cursor.key, m.cursor.sequence, m.rowsCopied, m.sourceDigest,
                    m.targetDigest, m.reason, Int64(m.startedLSN.rawValue), Int64(m.updatedLSN.rawValue), m.startedAt.rawValue,
                    m.updatedAt.rawValue,
                ])
        case .putPlan(let p):
            try db.execute(sql: """
                INSERT OR REPLACE INTO rebalances (id, phase, moves, analysis, outcome, planned_lsn, updated_lsn) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    p.id, p.phase.rawValue, JSONText.encode(p.moves.map(PlanMoveJSON.init)), p.analysis, p.outcome,
                    Int64(p.plannedLSN.rawValue), Int64(p.updatedLSN.rawValue),
                ])
        case .setMemoryHome(let id, let shard):
            try db.execute(sql: "UPDATE memory_index SET home = ? WHERE id = ?", arguments: [shard, id])
        case .attachMemories(let personaID, let shard):
            try db.execute(sql: "UPDATE memory_index SET home = NULL WHERE persona_id = ? AND home = ?", arguments: [personaID, shard])
        }
    }

    /// The catalog's version: a catalog of another version is rebuilt from the log on open.
    static let schemaVersion = 3

    func schemaVersion() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'") ?? 0 }
    }

    /// The tables of the catalog's digest (PROJ-011), in order.
    static let digestTables: [(name: String, columns: String, order: String)] = [
        ("shards", "id, status, created_lsn", "id"),
        ("placements", "persona_id, shard_id, placed_lsn", "persona_id"),
        ("memory_index", "id, persona_id, deleted, home", "id"),
        ("conversation_index", "id, persona_id, message_count", "id"),
        ("command_ids", "command_id, lsn", "command_id"),
        ("migrations", "id, kind, persona_id, memory_id, source, target, batch_size, reverse_of, plan_id, phase, cursor_table, cursor_key, cursor_sequence, rows_copied, source_digest, target_digest, reason, started_lsn, updated_lsn, started_at, updated_at", "id"),
        ("rebalances", "id, phase, moves, analysis, outcome, planned_lsn, updated_lsn", "id"),
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
                    shards: try String.fetchAll(db, sql: "SELECT id FROM shards WHERE created_lsn = 1 ORDER BY id"),
                    rangeBoundaries: try JSONText.decodeStrings(
                        try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'range_boundaries'") ?? "[]"))
            }
            var statuses: [String: ShardStatus] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, status FROM shards") {
                statuses[row[0]] = ShardStatus(rawValue: row[1]) ?? .active
            }
            state.shardStatus = statuses
            state.activePersona = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'active_persona'")
            for row in try Row.fetchAll(db, sql: "SELECT persona_id, shard_id FROM placements") {
                state.personas[row[0]] = StoreState.PersonaEntry(shard: row[1])
            }
            let memories = try Row.fetchCursor(db, sql: "SELECT id, persona_id, deleted, home FROM memory_index")
            while let row = try memories.next() {
                let id: String = row[0]
                let loaded: String = row[1]
                let home: String? = row[3]
                // One lookup of the persona per row; the entry keeps the persona table's copy
                // of the id, shared by all its memories (see StoreState.apply).
                let owner = state.personas.index(forKey: loaded)
                let personaID = owner.map { state.personas.keys[$0] } ?? loaded
                state.memories[id] = StoreState.MemoryEntry(personaID: personaID, deleted: row[2])
                if let home { state.detachedHomes[id] = home }
                if let owner {
                    state.personas.values[owner].memoryIDs.append(id)
                    if let home { state.personas.values[owner].detached[home, default: 0] += 1 }
                }
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, persona_id, message_count FROM conversation_index") {
                let id: String = row[0]
                let personaID: String = row[1]
                state.conversations[id] = StoreState.ConversationEntry(personaID: personaID, messageCount: row[2])
                state.personas[personaID]?.conversationIDs.insert(id)
            }
            let ids = try Row.fetchCursor(db, sql: "SELECT command_id, lsn FROM command_ids")
            while let row = try ids.next() { state.commandIDs[row[0]] = LSN(UInt64(row[1] as Int64)) }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM migrations") {
                let migration = MigrationWorkflow(
                    id: row["id"], kind: MigrationWorkflow.Kind(rawValue: row["kind"]) ?? .persona, personaId: row["persona_id"],
                    memoryId: row["memory_id"], source: row["source"], target: row["target"], batchSize: row["batch_size"],
                    reverseOf: row["reverse_of"], planId: row["plan_id"], phase: MigrationWorkflow.Phase(rawValue: row["phase"]) ?? .aborted,
                    cursor: CopyCursor(table: CopyCursor.Table(rawValue: row["cursor_table"]) ?? .done, key: row["cursor_key"], sequence: row["cursor_sequence"]),
                    rowsCopied: row["rows_copied"], sourceDigest: row["source_digest"], targetDigest: row["target_digest"], reason: row["reason"],
                    startedLSN: LSN(UInt64(row["started_lsn"] as Int64)), updatedLSN: LSN(UInt64(row["updated_lsn"] as Int64)),
                    startedAt: Timestamp(rawValue: row["started_at"]), updatedAt: Timestamp(rawValue: row["updated_at"]))
                state.migrations[migration.id] = migration
                if migration.kind == .persona, migration.isUnfinished { state.personas[migration.personaId]?.migrationID = migration.id }
            }
            state.migrationCount = state.migrations.count
            for row in try Row.fetchAll(db, sql: "SELECT * FROM rebalances") {
                let moves = try JSONText.decode([PlanMoveJSON].self, row["moves"]).map(\.move)
                let plan = RebalanceWorkflow(
                    id: row["id"], moves: moves, analysis: row["analysis"], phase: RebalanceWorkflow.Phase(rawValue: row["phase"]) ?? .stopped,
                    outcome: row["outcome"], plannedLSN: LSN(UInt64(row["planned_lsn"] as Int64)), updatedLSN: LSN(UInt64(row["updated_lsn"] as Int64)))
                state.plans[plan.id] = plan
            }
            state.planCount = state.plans.count
            return state
        }
    }
}

/// A plan's move as the catalog stores it (JSON).
struct PlanMoveJSON: Codable {
    var personaId: String
    var source: String
    var target: String
    var records: Int
    var bytes: Int

    init(_ move: RebalanceMove) {
        (personaId, source, target, records, bytes) = (move.personaId, move.source, move.target, move.records, move.bytes)
    }

    var move: RebalanceMove { RebalanceMove(personaId: personaId, source: source, target: target, records: records, bytes: bytes) }
}
