import Foundation
import GRDB
import ShardLog

/// What a Swift developer would write instead of ShardLog: the same tables and indexes as
/// a ShardLog shard (Specs/ProjectionSchema.md), in plain SQLite through GRDB. Shared by
/// the benchmark executables (Specs/Benchmarks.md, BENCH-001).
public enum SQLiteBaseline {
    public static let schemaSQL = """
        CREATE TABLE personas (id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, personality TEXT NOT NULL, memory_configuration TEXT NOT NULL, privacy_settings TEXT NOT NULL, is_active INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE memories (id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, content TEXT NOT NULL, summary TEXT, tags TEXT NOT NULL, importance INTEGER NOT NULL, tier TEXT NOT NULL, embedding BLOB, embedding_model TEXT, access_count INTEGER NOT NULL, last_accessed_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER);
        CREATE TABLE conversations (id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, title TEXT NOT NULL, message_count INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE messages (conversation_id TEXT NOT NULL, sequence INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (conversation_id, sequence)) WITHOUT ROWID;
        """
    public static let indexSQL = """
        CREATE INDEX memories_by_persona ON memories (persona_id, deleted_at, importance DESC, created_at);
        CREATE INDEX memories_by_tier ON memories (tier, deleted_at);
        CREATE INDEX conversations_by_persona ON conversations (persona_id, updated_at);
        """
    /// Each table with the columns the benchmarks copy and insert, in order.
    public static let tables = [
        ("personas", "id, name, description, personality, memory_configuration, privacy_settings, is_active, created_at, updated_at"),
        ("memories", "id, persona_id, type, name, content, summary, tags, importance, tier, embedding, embedding_model, access_count, last_accessed_at, created_at, updated_at, deleted_at"),
        ("conversations", "id, persona_id, title, message_count, created_at, updated_at"),
        ("messages", "conversation_id, sequence, role, content, created_at"),
    ]

    public static func insertSQL(_ table: String) -> String {
        let columns = tables.first { $0.0 == table }!.1
        let marks = Array(repeating: "?", count: columns.split(separator: ",").count).joined(separator: ", ")
        return "INSERT INTO \(table) (\(columns)) VALUES (\(marks))"
    }

    /// A new database at `path` with the schema and indexes: WAL, and `synchronous` as given
    /// (`FULL`: every commit is synced, the same promise as ShardLog's durability `always`).
    public static func create(_ path: String, synchronous: String = "FULL") throws -> DatabaseQueue {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: schemaSQL)
            try db.execute(sql: indexSQL)
        }
        return queue
    }

    /// Every row of the given shards of the store at `directory`, as (table, values), in
    /// the columns of `tables`: what a timed bulk load inserts.
    public static func rows(of directory: String, shards: [String]) throws -> [(String, [DatabaseValue])] {
        var all: [(String, [DatabaseValue])] = []
        for shard in shards {
            let queue = try DatabaseQueue(path: StoreLayout(dataDirectory: directory).shardPath(shard))
            try queue.read { db in
                for (table, columns) in tables {
                    for row in try Row.fetchAll(db, sql: "SELECT \(columns) FROM \(table)") {
                        all.append((table, (0..<row.count).map { row[$0] as DatabaseValue }))
                    }
                }
            }
            try queue.close()
        }
        return all
    }

    /// Bulk-loads `rows` (table, values) into a new file the way SQLite is fastest: prepared
    /// inserts in one transaction, no journal, no syncs, indexes built after, one sync at
    /// the end. Returns rows/s.
    public static func bulkLoad(_ rows: [(String, [DatabaseValue])], path: String) throws -> Double {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF")
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        let queue = try DatabaseQueue(path: path, configuration: config)
        let start = ContinuousClock.now
        try queue.write { db in
            try db.execute(sql: schemaSQL)
            var statements: [String: Statement] = [:]
            for (table, _) in tables { statements[table] = try db.makeStatement(sql: insertSQL(table)) }
            for (table, values) in rows { try statements[table]!.execute(arguments: StatementArguments(values)) }
            try db.execute(sql: indexSQL)
        }
        try queue.close()
        let fd = open(path, O_RDONLY)
        fsync(fd)
        close(fd)
        return Double(rows.count) / seconds(ContinuousClock.now - start)
    }
}
