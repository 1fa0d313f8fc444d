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
    /// "table.column: what → what it became": values the import could not keep as they were (LEG-008).
    public var valueMappings: [String: Int] = [:]
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

    static let personaColumns = [
        "id", "name", "description", "personality_traits", "personality_temperament", "personality_communication_style",
        "memory_max_memories", "memory_importance_threshold", "memory_auto_optimize", "memory_retention_period", "memory_categories",
        "memory_compression_enabled", "privacy_data_collection", "privacy_analytics_enabled", "privacy_share_with_researchers",
        "privacy_allow_personality_analysis", "privacy_memory_retention", "privacy_export_data_allowed", "is_active", "created_at", "updated_at",
    ]
    static let memoryColumns = [
        "id", "persona_id", "type", "name", "content", "summary", "tags", "importance", "memory_tier", "embedding", "embedding_model",
        "access_count", "last_accessed", "created_at", "updated_at", "deleted_at",
    ]
    static let conversationColumns = ["id", "persona_id", "title", "messages", "created_at", "updated_at"]

    /// LEG-001 … LEG-009. Every row is read and mapped before anything is written, and the
    /// whole import is validated as one sequence: an import is refused whole (nothing
    /// written) only for bytes that are not UTF-8 (LEG-009). `batchSize` commands go into
    /// each atomic append.
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
        var mappings = LegacyMappings()

        // Read and map everything first (LEG-008): nothing is written before every row is known good.
        let (personaRows, memoryRows, conversationRows) = try legacy.read { db in
            (try Row.fetchAll(db, sql: LegacyTable(db, "personas", columns: personaColumns).sql),
             try Row.fetchAll(db, sql: LegacyTable(db, "memory_entities", columns: memoryColumns).sql),
             try Row.fetchAll(db, sql: LegacyTable(db, "conversations", columns: conversationColumns).sql))
        }
        var ids = LegacyIDs()
        summary.legacyPersonas = personaRows.count
        var mapped: [MappedPersona] = []
        for row in personaRows {
            guard let m = try mapPersona(LegacyRow(table: "personas", row: row), importTime: importTime, ids: &ids, &mappings) else { continue }
            mapped.append(m)
        }
        let actives = mapped.filter(\.persona.isActive)
        if actives.count > 1 {
            let keep = actives.max { ($0.updated, $0.persona.id) < ($1.updated, $1.persona.id) }!.persona.id
            for i in mapped.indices where mapped[i].persona.isActive && mapped[i].persona.id != keep { mapped[i].persona.isActive = false }
            summary.notes.append("\(actives.count) personas were active; \(keep) stays active, the others are imported inactive (LEG-004)")
        }
        summary.legacyMemories = memoryRows.count
        var memories: [MappedMemory] = []
        var orphans = 0
        for row in memoryRows {
            let legacyRow = LegacyRow(table: "memory_entities", row: row)
            guard let m = try mapMemory(legacyRow, importTime: importTime, dimension: dimension, ids: &ids, &mappings) else {
                orphans += 1
                continue
            }
            let original = try legacyRow.text("memory_tier")
            summary.tierMappings["\(original ?? "NULL") → \(m.memory.tier.rawValue)", default: 0] += 1
            memories.append(m)
        }
        summary.legacyConversations = conversationRows.count
        var conversations: [Conversation] = []
        var orphanConversations = 0
        for row in conversationRows {
            let legacyRow = LegacyRow(table: "conversations", row: row)
            summary.legacyMessages += try messageCount(legacyRow)
            guard let c = try mapConversation(legacyRow, importTime: importTime, ids: &ids, &mappings) else {
                orphanConversations += 1
                continue
            }
            conversations.append(c)
        }

        // The commands (LEG-005), validated as one sequence before the first is appended.
        var commands: [(Command, Envelope)] = []
        func add(_ command: Command, _ time: Timestamp) {
            commands.append((command, Envelope(actor: "import", reason: "legacy import", timestamp: time)))
        }
        for m in mapped {
            let p = m.persona
            add(.createPersona(PersonaCreation(
                id: p.id, shard: "", name: p.name, description: p.description, personality: p.personality,
                memoryConfiguration: p.memoryConfiguration, privacySettings: p.privacySettings, isActive: p.isActive)), p.createdAt)
            if m.updated != p.createdAt { add(.updatePersona(PersonaPatch(id: p.id, name: p.name)), m.updated) }
        }
        for m in memories {
            let e = m.memory
            add(.addMemory(MemoryCreation(
                id: e.id, personaId: e.personaId, type: e.type, name: e.name, content: e.content, summary: e.summary, tags: e.tags,
                importance: e.importance, tier: e.tier, embedding: e.embedding, embeddingModel: e.embeddingModel)), e.createdAt)
            if e.accessCount != 0 || e.lastAccessedAt != nil || e.updatedAt != e.createdAt {
                add(.setMemoryAccess(id: e.id, accessCount: e.accessCount, lastAccessedAt: e.lastAccessedAt), e.updatedAt)
            }
            if let deleted = m.deletedAt { add(.deleteMemory(id: e.id), deleted) }
        }
        for c in conversations {
            add(.createConversation(id: c.id, personaId: c.personaId, title: c.title), c.createdAt)
            for message in c.messages { add(.addMessage(conversationId: c.id, role: message.role, content: message.content), message.createdAt) }
        }
        try store.validate(commands)
        var start = 0
        while start < commands.count {
            let end = min(start + batchSize, commands.count)
            try await store.execute(Array(commands[start..<end]))
            start = end
        }
        summary.commands = commands.count
        summary.personas = mapped.count
        summary.memories = memories.count
        summary.conversations = conversations.count
        summary.messages = conversations.reduce(0) { $0 + $1.messages.count }
        summary.valueMappings = mappings.counts
        if orphans > 0 {
            summary.notes.append(orphans == 1 ? "1 memory names a persona that does not exist and was skipped (LEG-003)"
                                 : "\(orphans) memories name a persona that does not exist and were skipped (LEG-003)")
        }
        if orphanConversations > 0 {
            summary.notes.append(orphanConversations == 1 ? "1 conversation names a persona that does not exist and was skipped (LEG-003)"
                                 : "\(orphanConversations) conversations name a persona that does not exist and were skipped (LEG-003)")
        }
        for (what, count) in mappings.counts.sorted(by: { $0.key < $1.key }) { summary.notes.append("\(what): \(count) (LEG-008)") }

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
        for m in memories {
            var expected = m.memory
            if let deleted = m.deletedAt {
                expected.deletedAt = deleted
                expected.updatedAt = deleted
            }
            if try store.memory(id: expected.id) != expected { mismatch("memory \(expected.id)") }
        }
        for c in conversations {
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

    // MARK: - Row mapping (LEG-001 … LEG-003, LEG-008)

    /// Ids as the store takes them (CMD-010), and the legacy ids that had to be replaced.
    struct LegacyIDs {
        var personas: [String: String] = [:]  // legacy id → store id
        var used: [String: Set<String>] = [:]  // kind → store ids taken

        /// The store id for a row's id: kept when valid and new; else `legacy-<kind>-<rowid>`
        /// (with `-2`, `-3`, … if that is taken), counted.
        mutating func id(_ row: LegacyRow, kind: String, _ mappings: inout LegacyMappings) throws -> String {
            let legacy = try row.text("id")
            var problem: String?
            switch legacy {
            case nil: problem = "NULL"
            case let id? where id.isEmpty: problem = "empty"
            case let id? where id.utf8.count > EngineLimits.idSizeMax: problem = "over \(EngineLimits.idSizeMax) bytes"
            case let id? where (try? Validation.id(id, "id")) == nil: problem = "a control character"
            case let id? where used[kind, default: []].contains(id): problem = "a duplicate"
            default: break
            }
            var id = legacy ?? ""
            if let problem {
                let base = "legacy-\(kind)-\(row.rowid)"
                id = base
                var n = 1
                while used[kind, default: []].contains(id) {
                    n += 1
                    id = "\(base)-\(n)"
                }
                mappings.note(row.table, "id", "\(problem) → legacy-\(kind)-<rowid>")
            }
            used[kind, default: []].insert(id)
            return id
        }
    }

    static func mapPersona(_ row: LegacyRow, importTime: Timestamp, ids: inout LegacyIDs, _ n: inout LegacyMappings) throws -> MappedPersona? {
        let dp = Personality()
        let dc = MemoryConfiguration()
        let ds = PrivacySettings()
        let legacyID = try row.text("id")
        let id = try ids.id(row, kind: "persona", &n)
        if let legacyID { ids.personas[legacyID] = id }
        let created = try row.time("created_at", &n) ?? importTime
        let updated = try row.time("updated_at", &n) ?? created
        // CMD-011: a persona's name is required; an empty one (the schema's NOT NULL allows '') becomes its id.
        var name = try row.text("name", limit: EngineLimits.nameSizeMax, &n) ?? ""
        if name.allSatisfy(\.isWhitespace) {
            n.note("personas", "name", name.isEmpty ? "NULL or empty → the persona's id" : "white space only → the persona's id")
            name = LegacyRow.truncated(id, toBytes: EngineLimits.nameSizeMax)
        }
        let u32 = Int64(0)...Int64(UInt32.max)
        let persona = Persona(
            id: id, name: name, description: try row.text("description", limit: EngineLimits.shortTextMax, &n) ?? "",
            personality: Personality(
                traits: try row.strings("personality_traits", elementLimit: EngineLimits.tagSizeMax, countLimit: EngineLimits.tagCountMax, &n) ?? dp.traits,
                temperament: try row.text("personality_temperament", limit: EngineLimits.tagSizeMax, &n) ?? dp.temperament,
                communicationStyle: try row.text("personality_communication_style", limit: EngineLimits.tagSizeMax, &n) ?? dp.communicationStyle),
            memoryConfiguration: MemoryConfiguration(
                maxMemories: try row.integer("memory_max_memories", in: u32, &n) ?? dc.maxMemories,
                memoryImportanceThreshold: try row.integer("memory_importance_threshold", in: 0...100, &n) ?? dc.memoryImportanceThreshold,
                autoOptimize: try row.bool("memory_auto_optimize", &n) ?? dc.autoOptimize,
                retentionPeriod: try row.integer("memory_retention_period", in: u32, &n) ?? dc.retentionPeriod,
                memoryCategories: try row.strings("memory_categories", elementLimit: EngineLimits.tagSizeMax, countLimit: EngineLimits.tagCountMax, &n)
                    ?? dc.memoryCategories,
                compressionEnabled: try row.bool("memory_compression_enabled", &n) ?? dc.compressionEnabled),
            privacySettings: PrivacySettings(
                dataCollection: try row.bool("privacy_data_collection", &n) ?? ds.dataCollection,
                analyticsEnabled: try row.bool("privacy_analytics_enabled", &n) ?? ds.analyticsEnabled,
                shareWithResearchers: try row.bool("privacy_share_with_researchers", &n) ?? ds.shareWithResearchers,
                allowPersonalityAnalysis: try row.bool("privacy_allow_personality_analysis", &n) ?? ds.allowPersonalityAnalysis,
                memoryRetention: try row.bool("privacy_memory_retention", &n) ?? ds.memoryRetention,
                exportDataAllowed: try row.bool("privacy_export_data_allowed", &n) ?? ds.exportDataAllowed),
            isActive: try row.bool("is_active", &n) ?? false, createdAt: created, updatedAt: created)
        return MappedPersona(persona: persona, updated: updated)
    }

    /// The memory, or nil when its persona does not exist (LEG-003).
    static func mapMemory(
        _ row: LegacyRow, importTime: Timestamp, dimension: Int, ids: inout LegacyIDs, _ n: inout LegacyMappings
    ) throws -> MappedMemory? {
        guard let personaID = try row.text("persona_id").flatMap({ ids.personas[$0] }) else { return nil }
        let id = try ids.id(row, kind: "memory", &n)
        let typeText = try row.text("type")
        let type = typeText.flatMap(MemoryType.init(rawValue:)) ?? .file
        if typeText.flatMap(MemoryType.init(rawValue:)) == nil { n.note("memory_entities", "type", "\(typeText == nil ? "NULL" : "not text|image|audio|video|file") → file") }
        var embedding: [Float]?
        if let text = try row.text("embedding") {
            let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) as? [Any]
            let values = list?.compactMap { element -> Float? in
                guard !isJSONBoolean(element), let number = element as? NSNumber else { return nil }
                return number.floatValue
            } ?? []
            if let list, values.count == dimension && values.count == list.count && values.allSatisfy(\.isFinite) {
                embedding = values
            } else {
                n.note("memory_entities", "embedding", list == nil ? "not a JSON array → dropped" : "not \(dimension) finite numbers → dropped")
            }
        }
        var model = try row.text("embedding_model", limit: EngineLimits.modelNameSizeMax, &n)
        if embedding == nil {
            model = nil
        } else if model == "" {
            n.note("memory_entities", "embedding_model", "empty → NULL")
            model = nil
        }
        let created = try row.time("created_at", &n) ?? importTime
        let updated = try row.time("updated_at", &n) ?? created
        var deleted: Timestamp?
        if !row.value("deleted_at").isNull { deleted = try row.time("deleted_at", &n) ?? importTime }
        let memory = MemoryEntity(
            id: id, personaId: personaID, type: type,
            name: try row.text("name", limit: EngineLimits.nameSizeMax, &n) ?? "",  // a memory's name may be empty (CMD-011)
            content: try row.text("content", limit: EngineLimits.contentSizeMax, &n) ?? "",
            summary: try row.text("summary", limit: EngineLimits.shortTextMax, &n),
            tags: try row.strings("tags", elementLimit: EngineLimits.tagSizeMax, countLimit: EngineLimits.tagCountMax, &n) ?? [],
            importance: try row.integer("importance", in: 0...100, &n) ?? 50,
            tier: LegacySchema.tier(try row.text("memory_tier")), embedding: embedding, embeddingModel: model,
            accessCount: try row.integer("access_count", in: 0...Int64(UInt32.max), &n) ?? 0,
            lastAccessedAt: try row.time("last_accessed", &n), createdAt: created, updatedAt: updated)
        return MappedMemory(memory: memory, deletedAt: deleted)
    }

    /// The messages a legacy row holds (for the summary's count), whatever they map to.
    static func messageCount(_ row: LegacyRow) throws -> Int {
        guard let text = try row.text("messages") else { return 0 }
        return ((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) as? [Any])?.count ?? 0
    }

    /// The conversation, or nil when its persona does not exist (LEG-003).
    static func mapConversation(_ row: LegacyRow, importTime: Timestamp, ids: inout LegacyIDs, _ n: inout LegacyMappings) throws -> Conversation? {
        guard let personaID = try row.text("persona_id").flatMap({ ids.personas[$0] }) else { return nil }
        let id = try ids.id(row, kind: "conversation", &n)
        let created = try row.time("created_at", &n) ?? importTime
        var messages: [Message] = []
        if let text = try row.text("messages") {
            if let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) as? [Any] {
                for element in list {
                    guard let m = element as? [String: Any] else {
                        n.note("conversations", "messages", "an element that is not an object → dropped")
                        continue
                    }
                    var role = MessageRole.user
                    if let text = m["role"] as? String, let known = MessageRole(rawValue: text) {
                        role = known
                    } else {
                        n.note("conversations", "messages", "a role that is not user|assistant|system → user")
                    }
                    var content = ""
                    if let text = m["content"] as? String {
                        content = LegacyRow.fitted(text, limit: EngineLimits.contentSizeMax, "conversations", "messages.content", &n)
                    } else {
                        n.note("conversations", "messages", "a content that is not a string → empty")
                    }
                    var time = created  // LEG-005: a message without a time takes the conversation's
                    if let t = m["timestamp"], !(t is NSNull) {
                        let parsed: Timestamp?
                        if let text = t as? String {
                            parsed = LegacyTime.parse(text)
                        } else if !isJSONBoolean(t), let number = t as? NSNumber, let ms = Int64(exactly: number.doubleValue) {
                            parsed = LegacyTime.milliseconds(ms)
                        } else {
                            parsed = nil
                        }
                        if let parsed { time = parsed } else { n.note("conversations", "messages.timestamp", "not a time → the conversation's") }
                    }
                    messages.append(Message(sequence: messages.count + 1, role: role, content: content, createdAt: time))
                }
            } else {
                n.note("conversations", "messages", "not a JSON array → no messages")
            }
        }
        return Conversation(
            id: id, personaId: personaID, title: try row.text("title", limit: EngineLimits.shortTextMax, &n) ?? "",
            messageCount: messages.count, createdAt: created, updatedAt: messages.last?.createdAt ?? created, messages: messages)
    }
}
