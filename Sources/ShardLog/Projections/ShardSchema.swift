import GRDB

/// The shard database schema (Specs/ProjectionSchema.md §2), version 1.
enum ShardSchema {
    static let version = 1

    static let tables = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS personas (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
          personality TEXT NOT NULL, memory_configuration TEXT NOT NULL,
          privacy_settings TEXT NOT NULL, is_active INTEGER NOT NULL,
          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS memories (
          id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, type TEXT NOT NULL,
          name TEXT NOT NULL, content TEXT NOT NULL, summary TEXT, tags TEXT NOT NULL,
          importance INTEGER NOT NULL, tier TEXT NOT NULL, embedding BLOB,
          embedding_model TEXT, access_count INTEGER NOT NULL, last_accessed_at INTEGER,
          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER);
        CREATE TABLE IF NOT EXISTS conversations (
          id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, title TEXT NOT NULL,
          message_count INTEGER NOT NULL, created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS messages (
          conversation_id TEXT NOT NULL, sequence INTEGER NOT NULL, role TEXT NOT NULL,
          content TEXT NOT NULL, created_at INTEGER NOT NULL,
          PRIMARY KEY (conversation_id, sequence)) WITHOUT ROWID;
        """

    /// Created after a bulk load (rebuild), or with the tables for a live projection.
    static let indexes = """
        CREATE INDEX IF NOT EXISTS memories_by_persona ON memories (persona_id, deleted_at, importance DESC, created_at);
        CREATE INDEX IF NOT EXISTS memories_by_tier ON memories (tier, deleted_at);
        CREATE INDEX IF NOT EXISTS conversations_by_persona ON conversations (persona_id, updated_at);
        """

    static func create(_ db: Database, shardID: String, withIndexes: Bool) throws {
        try db.execute(sql: tables)
        if withIndexes { try db.execute(sql: indexes) }
        try db.execute(sql: "INSERT OR IGNORE INTO meta (key, value) VALUES ('applied_lsn', 0), ('shard_id', ?), ('schema_version', ?)",
                       arguments: [shardID, version])
    }

    /// The columns of each table in digest order (PROJ-010).
    static let digestTables: [(name: String, columns: String, order: String)] = [
        ("personas", "id, name, description, personality, memory_configuration, privacy_settings, is_active, created_at, updated_at", "id"),
        ("memories", "id, persona_id, type, name, content, summary, tags, importance, tier, embedding, embedding_model, access_count, last_accessed_at, created_at, updated_at, deleted_at", "id"),
        ("conversations", "id, persona_id, title, message_count, created_at, updated_at", "id"),
        ("messages", "conversation_id, sequence, role, content, created_at", "conversation_id, sequence"),
    ]
}
