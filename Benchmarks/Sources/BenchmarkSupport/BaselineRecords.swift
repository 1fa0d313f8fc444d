import CommandLog
import Foundation
import GRDB
import ShardLog

/// What a Swift developer would write against one SQLite database: GRDB records decoding
/// the same columns into the same model types (JSON columns with JSONDecoder, the embedding
/// blob as Float32), so a read figure compares storage layouts, not decoders.
public struct MemoryRecord: FetchableRecord {
    public var memory: MemoryEntity
    public init(row: Row) throws {
        let tags = try JSONDecoder().decode([String].self, from: Data((row["tags"] as String).utf8))
        let blob: Data? = row["embedding"]
        memory = MemoryEntity(
            id: row["id"], personaId: row["persona_id"], type: MemoryType(rawValue: row["type"]) ?? .text, name: row["name"],
            content: row["content"], summary: row["summary"], tags: tags, importance: row["importance"],
            tier: MemoryTier(rawValue: row["tier"]) ?? .hot,
            embedding: blob.map { data in data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } },
            embeddingModel: row["embedding_model"], accessCount: row["access_count"],
            lastAccessedAt: (row["last_accessed_at"] as Int64?).map(Timestamp.init(rawValue:)),
            createdAt: Timestamp(rawValue: row["created_at"]), updatedAt: Timestamp(rawValue: row["updated_at"]),
            deletedAt: (row["deleted_at"] as Int64?).map(Timestamp.init(rawValue:)))
    }

    /// getPersonaMemories' default query (most important first, live memories only).
    public static func personaMemories(_ db: Database, _ personaID: String, limit: Int) throws -> [MemoryEntity] {
        try fetchAll(
            db, sql: "SELECT * FROM memories WHERE persona_id = ? AND deleted_at IS NULL ORDER BY importance DESC, created_at, id LIMIT ?",
            arguments: [personaID, limit]
        ).map(\.memory)
    }
}

public struct PersonaRecord: FetchableRecord {
    public var persona: Persona
    public init(row: Row) throws {
        let decoder = JSONDecoder()
        persona = Persona(
            id: row["id"], name: row["name"], description: row["description"],
            personality: try decoder.decode(Personality.self, from: Data((row["personality"] as String).utf8)),
            memoryConfiguration: try decoder.decode(MemoryConfiguration.self, from: Data((row["memory_configuration"] as String).utf8)),
            privacySettings: try decoder.decode(PrivacySettings.self, from: Data((row["privacy_settings"] as String).utf8)),
            isActive: row["is_active"], createdAt: Timestamp(rawValue: row["created_at"]), updatedAt: Timestamp(rawValue: row["updated_at"]))
    }

    public static func persona(_ db: Database, _ id: String) throws -> Persona? {
        try fetchOne(db, sql: "SELECT * FROM personas WHERE id = ?", arguments: [id])?.persona
    }
}
