import CommandLog
import Foundation
import GRDB

/// What an import did (Specs/LegacyImport.md).
public struct LegacyImportSummary: Sendable {
    public var legacyPersonas = 0
    public var legacyMemories = 0
    public var legacyConversations = 0
    public var legacyMessages = 0
    public var personas = 0
    public var memories = 0
    public var conversations = 0
    public var messages = 0
    public var commands = 0
    /// "original → tier": count (LEG-002).
    public var tierMappings: [String: Int] = [:]
    /// Everything that was changed or skipped on the way in (LEG-003, LEG-004).
    public var notes: [String] = []
    /// Entities whose stored form differs from the legacy row (LEG-007); none is expected.
    public var mismatchCount = 0
    public var mismatches: [String] = []
}

/// Imports the original app's database into a new store (Specs/LegacyImport.md).
public enum LegacyImporter {
    struct MappedPersona {
        var persona: Persona
        var updated: Timestamp
    }

    struct MappedMemory {
        var memory: MemoryEntity
        var deletedAt: Timestamp?
    }

    /// LEG-001 … LEG-007. `batchSize` commands go into each atomic append.
    public static func run(legacyPath: String, into store: ShardStore, batchSize: Int = 5_000) async throws -> LegacyImportSummary {
        guard FileManager.default.fileExists(atPath: legacyPath) else { throw ShardLogError.notFound(kind: "legacy database", id: legacyPath) }
        guard try store.allPersonas().isEmpty else {
            throw ShardLogError.notAStore(path: store.dataDirectory, reason: "an import needs a new, empty store (LEG-006)")
        }
        var configuration = Configuration()
        configuration.readonly = true  // LEG-006: never changed
        let legacy = try DatabaseQueue(path: legacyPath, configuration: configuration)
        defer { try? legacy.close() }
        let importTime = Timestamp(microsecondsSince1970: Int64(Date().timeIntervalSince1970 * 1_000_000))
        let dimension = store.embeddingDimension
        var summary = LegacyImportSummary()
        let hasDeletedAt = try await legacy.read { db in try db.columns(in: "memory_entities").contains { $0.name == "deleted_at" } }

        // Personas, and which one stays active (LEG-004).
        let personaRows = try legacy.read { db in try Row.fetchAll(db, sql: "SELECT * FROM personas ORDER BY rowid") }
        summary.legacyPersonas = personaRows.count
        var mapped = personaRows.map { mapPersona($0, importTime: importTime) }
        let actives = mapped.filter(\.persona.isActive)
        if actives.count > 1 {
            let keep = actives.max { ($0.updated, $0.persona.id) < ($1.updated, $1.persona.id) }!.persona.id
            for i in mapped.indices where mapped[i].persona.isActive && mapped[i].persona.id != keep { mapped[i].persona.isActive = false }
            summary.notes.append("\(actives.count) personas were active; \(keep) stays active, the others are imported inactive (LEG-004)")
        }
        var unit: [(Command, Envelope)] = []
        func flush() async throws {
            guard !unit.isEmpty else { return }
            try await store.execute(unit)
            summary.commands += unit.count
            unit = []
        }
        func add(_ command: Command, _ time: Timestamp) async throws {
            unit.append((command, Envelope(actor: "import", reason: "legacy import", timestamp: time)))
            if unit.count >= batchSize { try await flush() }
        }
        var personaIDs = Set<String>()
        for m in mapped {
            let p = m.persona
            try await add(.createPersona(PersonaCreation(
                id: p.id, shard: "", name: p.name, description: p.description, personality: p.personality,
                memoryConfiguration: p.memoryConfiguration, privacySettings: p.privacySettings, isActive: p.isActive)), p.createdAt)
            if m.updated != p.createdAt { try await add(.updatePersona(PersonaPatch(id: p.id, name: p.name)), m.updated) }
            personaIDs.insert(p.id)
            summary.personas += 1
        }

        // Memories, streamed.
        var orphans = 0
        var unknownTypes = 0
        var clamped = 0
        var droppedEmbeddings = 0
        let memoryRows = try legacy.read { db in try Row.fetchAll(db, sql: "SELECT * FROM memory_entities ORDER BY rowid") }
        summary.legacyMemories = memoryRows.count
        for row in memoryRows {
            let (m, notes) = mapMemory(row, importTime: importTime, dimension: dimension, hasDeletedAt: hasDeletedAt)
            let original: String? = row["memory_tier"]
            summary.tierMappings["\(original ?? "NULL") → \(m.memory.tier.rawValue)", default: 0] += 1
            if notes.unknownType { unknownTypes += 1 }
            if notes.clamped { clamped += 1 }
            if notes.droppedEmbedding { droppedEmbeddings += 1 }
            guard personaIDs.contains(m.memory.personaId) else {
                orphans += 1
                continue
            }
            let e = m.memory
            try await add(.addMemory(MemoryCreation(
                id: e.id, personaId: e.personaId, type: e.type, name: e.name, content: e.content, summary: e.summary, tags: e.tags,
                importance: e.importance, tier: e.tier, embedding: e.embedding, embeddingModel: e.embeddingModel)), e.createdAt)
            if e.accessCount != 0 || e.lastAccessedAt != nil || e.updatedAt != e.createdAt {
                try await add(.setMemoryAccess(id: e.id, accessCount: e.accessCount, lastAccessedAt: e.lastAccessedAt), e.updatedAt)
            }
            if let deleted = m.deletedAt { try await add(.deleteMemory(id: e.id), deleted) }
            summary.memories += 1
        }

        // Conversations and their messages.
        let conversationRows = try legacy.read { db in try Row.fetchAll(db, sql: "SELECT * FROM conversations ORDER BY rowid") }
        summary.legacyConversations = conversationRows.count
        var orphanConversations = 0
        for row in conversationRows {
            let c = mapConversation(row, importTime: importTime)
            summary.legacyMessages += c.messages.count
            guard personaIDs.contains(c.personaId) else {
                orphanConversations += 1
                continue
            }
            try await add(.createConversation(id: c.id, personaId: c.personaId, title: c.title), c.createdAt)
            for message in c.messages {
                try await add(.addMessage(conversationId: c.id, role: message.role, content: message.content), message.createdAt)
                summary.messages += 1
            }
            summary.conversations += 1
        }
        try await flush()
        if orphans > 0 { summary.notes.append("\(orphans) memories name a persona that does not exist and were skipped (LEG-003)") }
        if orphanConversations > 0 { summary.notes.append("\(orphanConversations) conversations name a persona that does not exist and were skipped (LEG-003)") }
        if unknownTypes > 0 { summary.notes.append("\(unknownTypes) memories had an unknown type and became `file` (LEG-003)") }
        if clamped > 0 { summary.notes.append("\(clamped) importances outside 0…100 were clamped (LEG-003)") }
        if droppedEmbeddings > 0 { summary.notes.append("\(droppedEmbeddings) embeddings of the wrong dimension were dropped (LEG-003)") }

        // LEG-007: compare every entity with what the store returns.
        func mismatch(_ text: String) {
            summary.mismatchCount += 1
            if summary.mismatches.count < 20 { summary.mismatches.append(text) }
        }
        for m in mapped {
            var expected = m.persona
            expected.updatedAt = m.updated
            if try store.persona(id: expected.id) != expected { mismatch("persona \(expected.id)") }
        }
        for row in memoryRows {
            let (m, _) = mapMemory(row, importTime: importTime, dimension: dimension, hasDeletedAt: hasDeletedAt)
            guard personaIDs.contains(m.memory.personaId) else { continue }
            var expected = m.memory
            if let deleted = m.deletedAt {
                expected.deletedAt = deleted
                expected.updatedAt = deleted
            }
            if try store.memory(id: expected.id) != expected { mismatch("memory \(expected.id)") }
        }
        for row in conversationRows {
            let c = mapConversation(row, importTime: importTime)
            guard personaIDs.contains(c.personaId) else { continue }
            guard let stored = try store.conversation(id: c.id) else {
                mismatch("conversation \(c.id) missing")
                continue
            }
            if stored.personaId != c.personaId || stored.title != c.title || stored.createdAt != c.createdAt
                || stored.messages.map({ [$0.role.rawValue, $0.content, String($0.createdAt.rawValue)] })
                    != c.messages.map({ [$0.role.rawValue, $0.content, String($0.createdAt.rawValue)] })
            {
                mismatch("conversation \(c.id)")
            }
        }
        return summary
    }

    // MARK: - Row mapping (LEG-001 … LEG-003)

    static func strings(_ value: String?) -> [String]? {
        guard let value, let data = value.data(using: .utf8),
            let list = try? JSONSerialization.jsonObject(with: data) as? [Any]
        else { return nil }
        return list.compactMap { $0 as? String }
    }

    static func bool(_ row: Row, _ column: String, _ fallback: Bool) -> Bool {
        (row[column] as Int64?).map { $0 != 0 } ?? fallback  // LEG-001: only NULL takes the default
    }

    static func mapPersona(_ row: Row, importTime: Timestamp) -> MappedPersona {
        let dp = Personality()
        let dc = MemoryConfiguration()
        let ds = PrivacySettings()
        let created = LegacyTime.parse(row["created_at"] as DatabaseValue) ?? importTime
        let updated = LegacyTime.parse(row["updated_at"] as DatabaseValue) ?? created
        let persona = Persona(
            id: row["id"], name: row["name"] ?? "", description: row["description"] ?? "",
            personality: Personality(
                traits: strings(row["personality_traits"]) ?? dp.traits,
                temperament: row["personality_temperament"] ?? dp.temperament,
                communicationStyle: row["personality_communication_style"] ?? dp.communicationStyle),
            memoryConfiguration: MemoryConfiguration(
                maxMemories: row["memory_max_memories"] ?? dc.maxMemories,
                memoryImportanceThreshold: row["memory_importance_threshold"] ?? dc.memoryImportanceThreshold,
                autoOptimize: bool(row, "memory_auto_optimize", dc.autoOptimize),
                retentionPeriod: row["memory_retention_period"] ?? dc.retentionPeriod,
                memoryCategories: strings(row["memory_categories"]) ?? dc.memoryCategories,
                compressionEnabled: bool(row, "memory_compression_enabled", dc.compressionEnabled)),
            privacySettings: PrivacySettings(
                dataCollection: bool(row, "privacy_data_collection", ds.dataCollection),
                analyticsEnabled: bool(row, "privacy_analytics_enabled", ds.analyticsEnabled),
                shareWithResearchers: bool(row, "privacy_share_with_researchers", ds.shareWithResearchers),
                allowPersonalityAnalysis: bool(row, "privacy_allow_personality_analysis", ds.allowPersonalityAnalysis),
                memoryRetention: bool(row, "privacy_memory_retention", ds.memoryRetention),
                exportDataAllowed: bool(row, "privacy_export_data_allowed", ds.exportDataAllowed)),
            isActive: bool(row, "is_active", false), createdAt: created, updatedAt: created)
        return MappedPersona(persona: persona, updated: updated)
    }

    struct MemoryNotes {
        var unknownType = false
        var clamped = false
        var droppedEmbedding = false
    }

    static func mapMemory(_ row: Row, importTime: Timestamp, dimension: Int, hasDeletedAt: Bool) -> (MappedMemory, MemoryNotes) {
        var notes = MemoryNotes()
        let typeText: String? = row["type"]
        let type = typeText.flatMap(MemoryType.init(rawValue:)) ?? .file
        if typeText.flatMap(MemoryType.init(rawValue:)) == nil { notes.unknownType = true }
        let rawImportance: Int = row["importance"] ?? 50
        let importance = min(100, max(0, rawImportance))
        if importance != rawImportance { notes.clamped = true }
        var embedding: [Float]?
        if let text: String = row["embedding"], let data = text.data(using: .utf8),
            let list = try? JSONSerialization.jsonObject(with: data) as? [Any]
        {
            let values = list.compactMap { ($0 as? NSNumber)?.floatValue }
            if values.count == dimension && values.count == list.count && values.allSatisfy(\.isFinite) {
                embedding = values
            } else {
                notes.droppedEmbedding = true
            }
        }
        let created = LegacyTime.parse(row["created_at"] as DatabaseValue) ?? importTime
        let updated = LegacyTime.parse(row["updated_at"] as DatabaseValue) ?? created
        let memory = MemoryEntity(
            id: row["id"], personaId: row["persona_id"], type: type, name: row["name"] ?? "", content: row["content"] ?? "",
            summary: row["summary"], tags: strings(row["tags"]) ?? [], importance: importance,
            tier: LegacySchema.tier(row["memory_tier"]), embedding: embedding, embeddingModel: embedding == nil ? nil : row["embedding_model"],
            accessCount: row["access_count"] ?? 0, lastAccessedAt: LegacyTime.parse(row["last_accessed"] as DatabaseValue),
            createdAt: created, updatedAt: updated)
        let deleted = hasDeletedAt ? LegacyTime.parse(row["deleted_at"] as DatabaseValue) : nil
        return (MappedMemory(memory: memory, deletedAt: deleted), notes)
    }

    static func mapConversation(_ row: Row, importTime: Timestamp) -> Conversation {
        let created = LegacyTime.parse(row["created_at"] as DatabaseValue) ?? importTime
        var messages: [Message] = []
        if let text: String = row["messages"], let data = text.data(using: .utf8),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        {
            for (index, m) in list.enumerated() {
                let role = (m["role"] as? String).flatMap(MessageRole.init(rawValue:)) ?? .user
                let time: Timestamp
                if let t = m["timestamp"] as? String, let parsed = LegacyTime.parse(t) {
                    time = parsed
                } else if let t = m["timestamp"] as? NSNumber {
                    time = Timestamp(microsecondsSince1970: t.int64Value * 1000)
                } else {
                    time = created
                }
                messages.append(Message(sequence: index + 1, role: role, content: m["content"] as? String ?? "", createdAt: time))
            }
        }
        return Conversation(
            id: row["id"], personaId: row["persona_id"], title: row["title"] ?? "", messageCount: messages.count,
            createdAt: created, updatedAt: messages.last?.createdAt ?? created, messages: messages)
    }
}
