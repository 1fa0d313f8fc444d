import Crypto
import Foundation
import GRDB
import Testing

@testable import ShardLog

/// PROJ-010 pinned by a second, deliberately plain implementation written from the spec's
/// table alone: rows through GRDB, one byte array per value.
@Suite struct DigestTests {
    static func specDigest(_ path: String) throws -> String {
        var bytes: [UInt8] = []
        func feed(_ value: DatabaseValue) {
            func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
            switch value.storage {
            case .null: bytes.append(0x00)
            case .int64(let v): bytes.append(0x01); le(v)
            case .double(let v): bytes.append(0x04); le(v.bitPattern)
            case .string(let s): bytes.append(0x02); le(UInt32(s.utf8.count)); bytes.append(contentsOf: s.utf8)
            case .blob(let d): bytes.append(0x03); le(UInt32(d.count)); bytes.append(contentsOf: d)
            }
        }
        let tables = [
            ("personas", "id"), ("memories", "id"), ("conversations", "id"), ("messages", "conversation_id, sequence"),
        ]
        let columns = [
            "personas": "id, name, description, personality, memory_configuration, privacy_settings, is_active, created_at, updated_at",
            "memories": "id, persona_id, type, name, content, summary, tags, importance, tier, embedding, embedding_model, access_count, last_accessed_at, created_at, updated_at, deleted_at",
            "conversations": "id, persona_id, title, message_count, created_at, updated_at",
            "messages": "conversation_id, sequence, role, content, created_at",
        ]
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.read { db in
            for (table, order) in tables {
                let rows = try Row.fetchAll(db, sql: "SELECT \(columns[table]!) FROM \(table) ORDER BY \(order)")
                bytes.append(0xFF)
                feed(table.databaseValue)
                feed(Int64(rows.count).databaseValue)
                for row in rows { for i in 0..<row.count { feed(row[i]) } }
            }
        }
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    @Test func digestFollowsTheSpecEncoding() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration(shards: 2))
        try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P", description: "")))
        // NULL summary and embedding, an empty and a non-ASCII text, a large content (crosses the encoder's buffer).
        try await store.execute(.addMemory(MemoryCreation(id: "m0", personaId: "p", name: "n", content: "")))
        try await store.execute(.addMemory(MemoryCreation(
            id: "m1", personaId: "p", name: "é ✓", content: String(repeating: "x", count: 70_000), summary: "s",
            tags: ["a", "b"], importance: 100, tier: .cold, embedding: [-1, 0, 0.5, 3], embeddingModel: "m")))
        try await store.execute(.markMemoryAccessed(id: "m1"))
        try await store.execute(.deleteMemory(id: "m0"))
        try await store.execute(.createConversation(id: "c", personaId: "p", title: "t"))
        try await store.execute(.addMessage(conversationId: "c", role: .user, content: "hi"))
        let digests = try store.digests()
        let shard = try #require(store.shardForPersona("p"))
        try await store.close()
        for (id, digest) in digests {
            #expect(try Self.specDigest(StoreLayout(dataDirectory: dir.store).shardPath(id)) == digest, "shard \(id)\(id == shard ? " (with the rows)" : " (empty)")")
        }
    }
}
