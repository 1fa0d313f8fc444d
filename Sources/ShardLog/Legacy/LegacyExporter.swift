import CommandLog
import Foundation
import GRDB

/// Writes a store into one database of the original app's schema (LEG-010).
public enum LegacyExporter {
    public struct Summary: Sendable {
        public var personas = 0
        public var memories = 0
        public var deletedMemories = 0
        public var conversations = 0
        public var messages = 0
    }

    public static func run(store: ShardStore, to path: String) throws -> Summary {
        if FileManager.default.fileExists(atPath: path) {
            throw ShardLogError.notAStore(path: path, reason: "the export target exists; export writes a new file")
        }
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        var summary = Summary()
        // Messages arrive after their conversation (forEachEntity's order per shard).
        var pendingMessages: [String: [[String: Any]]] = [:]
        try queue.write { db in
            try db.execute(sql: LegacySchema.sql)
            let personas = try db.makeStatement(sql: "INSERT INTO personas VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            let memories = try db.makeStatement(sql: "INSERT INTO memory_entities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            let conversations = try db.makeStatement(sql: "INSERT INTO conversations VALUES (?, ?, ?, '[]', ?, ?)")
            try store.forEachEntity { entity in
                switch entity {
                case .persona(let p, _):
                    let c = p.memoryConfiguration
                    let s = p.privacySettings
                    try personas.execute(arguments: [
                        p.id, p.name, p.description, JSONText.strings(p.personality.traits), p.personality.temperament,
                        p.personality.communicationStyle, c.maxMemories, c.memoryImportanceThreshold, c.autoOptimize,
                        c.retentionPeriod, JSONText.strings(c.memoryCategories), c.compressionEnabled, s.dataCollection,
                        s.analyticsEnabled, s.shareWithResearchers, s.allowPersonalityAnalysis, s.memoryRetention,
                        s.exportDataAllowed, p.isActive, LegacyTime.format(p.createdAt), LegacyTime.format(p.updatedAt),
                    ])
                    summary.personas += 1
                case .memory(let m, _):
                    let embedding = m.embedding.map { vector in
                        "[" + vector.map { "\($0)" }.joined(separator: ",") + "]"
                    }
                    try memories.execute(arguments: [
                        m.id, m.personaId, m.type.rawValue, m.name, m.content, m.summary, JSONText.strings(m.tags), m.importance,
                        m.tier.rawValue, embedding, m.embeddingModel, m.accessCount, m.lastAccessedAt.map(LegacyTime.format),
                        LegacyTime.format(m.createdAt), LegacyTime.format(m.updatedAt), m.deletedAt.map(LegacyTime.format),
                    ])
                    summary.memories += 1
                    if m.deletedAt != nil { summary.deletedMemories += 1 }
                case .conversation(let c, _):
                    try conversations.execute(arguments: [c.id, c.personaId, c.title, LegacyTime.format(c.createdAt), LegacyTime.format(c.updatedAt)])
                    summary.conversations += 1
                case .message(let m, let conversationID, _):
                    pendingMessages[conversationID, default: []].append(
                        ["role": m.role.rawValue, "content": m.content, "timestamp": LegacyTime.format(m.createdAt)])
                    summary.messages += 1
                }
            }
            for (conversationID, messages) in pendingMessages {
                let data = try JSONSerialization.data(withJSONObject: messages, options: [.sortedKeys])
                try db.execute(sql: "UPDATE conversations SET messages = ? WHERE id = ?",
                               arguments: [String(decoding: data, as: UTF8.self), conversationID])
            }
        }
        return summary
    }
}
