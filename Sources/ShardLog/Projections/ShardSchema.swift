import GRDB

/// The shard database schema (Specs/ProjectionSchema.md §2), version 2 (version 1 had no
/// staging tables). A database of another version is rebuilt from the log on open.
enum ShardSchema {
    static let version = 2

    static let tables = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;\n" + rowTables(prefix: "")
        + rowTables(prefix: "staged_")

    /// The four row tables; with `staged_`, the staging tables of WF-021 (same columns and keys).
    static func rowTables(prefix p: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(p)personas (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
          personality TEXT NOT NULL, memory_configuration TEXT NOT NULL,
          privacy_settings TEXT NOT NULL, is_active INTEGER NOT NULL,
          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS \(p)memories (
          id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, type TEXT NOT NULL,
          name TEXT NOT NULL, content TEXT NOT NULL, summary TEXT, tags TEXT NOT NULL,
          importance INTEGER NOT NULL, tier TEXT NOT NULL, embedding BLOB,
          embedding_model TEXT, access_count INTEGER NOT NULL, last_accessed_at INTEGER,
          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER);
        CREATE TABLE IF NOT EXISTS \(p)conversations (
          id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, title TEXT NOT NULL,
          message_count INTEGER NOT NULL, created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS \(p)messages (
          conversation_id TEXT NOT NULL, sequence INTEGER NOT NULL, role TEXT NOT NULL,
          content TEXT NOT NULL, created_at INTEGER NOT NULL,
          PRIMARY KEY (conversation_id, sequence)) WITHOUT ROWID;

        """
    }

    /// Created after a bulk load (rebuild), or with the tables for a live projection.
    static let indexes = """
        CREATE INDEX IF NOT EXISTS memories_by_persona ON memories (persona_id, deleted_at, importance DESC, created_at);
        CREATE INDEX IF NOT EXISTS memories_by_tier ON memories (tier, deleted_at);
        CREATE INDEX IF NOT EXISTS conversations_by_persona ON conversations (persona_id, updated_at);
        CREATE INDEX IF NOT EXISTS staged_memories_by_persona ON staged_memories (persona_id);
        CREATE INDEX IF NOT EXISTS staged_conversations_by_persona ON staged_conversations (persona_id);
        """

    static func create(_ db: Database, shardID: String, withIndexes: Bool) throws {
        try db.execute(sql: tables)
        if withIndexes { try db.execute(sql: indexes) }
        try db.execute(sql: "INSERT OR IGNORE INTO meta (key, value) VALUES ('applied_lsn', 0), ('shard_id', ?), ('schema_version', ?)",
                       arguments: [shardID, version])
        // Version 1 differs only by the staging tables, created above: the rows stay valid.
        try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'schema_version'", arguments: [version])
    }

    /// The columns of each table in digest order (PROJ-010).
    static let digestTables: [(name: String, columns: String, order: String)] = [
        ("personas", "id, name, description, personality, memory_configuration, privacy_settings, is_active, created_at, updated_at", "id"),
        ("memories", "id, persona_id, type, name, content, summary, tags, importance, tier, embedding, embedding_model, access_count, last_accessed_at, created_at, updated_at, deleted_at", "id"),
        ("conversations", "id, persona_id, title, message_count, created_at, updated_at", "id"),
        ("messages", "conversation_id, sequence, role, content, created_at", "conversation_id, sequence"),
    ]
}
