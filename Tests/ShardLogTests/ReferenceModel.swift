import CommandLog

@testable import ShardLog

/// A plain in-memory implementation of Specs/Commands.md, written independently of the
/// engine (no SQLite, no shards, no log), for the property tests to compare against.
struct ReferenceModel {
    var personas: [String: Persona] = [:]
    var memories: [String: MemoryEntity] = [:]
    var conversations: [String: Conversation] = [:]
    var active: String?
    let dimension: Int

    init(dimension: Int) { self.dimension = dimension }

    /// Applies a command if it is valid; returns whether it was.
    mutating func apply(_ command: Command, at t: Timestamp) -> Bool {
        func validName(_ s: String) -> Bool { !s.allSatisfy(\.isWhitespace) && s.utf8.count <= 256 }
        func validID(_ s: String) -> Bool { !s.isEmpty && s.utf8.count <= 128 }
        func liveMemory(_ id: String) -> Bool { memories[id].map { $0.deletedAt == nil } ?? false }
        switch command {
        case .initializeStore, .workflow: return false
        case .createPersona(let p):
            guard validID(p.id), personas[p.id] == nil, validName(p.name) else { return false }
            if p.isActive, let current = active {
                personas[current]!.isActive = false
                personas[current]!.updatedAt = t
            }
            personas[p.id] = Persona(
                id: p.id, name: p.name, description: p.description, personality: p.personality,
                memoryConfiguration: p.memoryConfiguration, privacySettings: p.privacySettings, isActive: p.isActive,
                createdAt: t, updatedAt: t)
            if p.isActive { active = p.id }
        case .updatePersona(let patch):
            guard var p = personas[patch.id], !patch.isEmpty else { return false }
            if let name = patch.name {
                guard validName(name) else { return false }
                p.name = name
            }
            if let d = patch.description { p.description = d }
            if let v = patch.personality { p.personality = v }
            if let v = patch.memoryConfiguration { p.memoryConfiguration = v }
            if let v = patch.privacySettings { p.privacySettings = v }
            p.updatedAt = t
            personas[patch.id] = p
        case .deletePersona(let id):
            guard personas[id] != nil else { return false }
            personas[id] = nil
            memories = memories.filter { $0.value.personaId != id }
            conversations = conversations.filter { $0.value.personaId != id }
            if active == id { active = nil }
        case .activatePersona(let id):
            guard personas[id] != nil else { return false }
            if let current = active, current != id {
                personas[current]!.isActive = false
                personas[current]!.updatedAt = t
            }
            personas[id]!.isActive = true
            personas[id]!.updatedAt = t
            active = id
        case .deactivatePersona(let id):
            guard personas[id] != nil else { return false }
            personas[id]!.isActive = false
            personas[id]!.updatedAt = t
            if active == id { active = nil }
        case .addMemory(let m):
            guard validID(m.id), memories[m.id] == nil, personas[m.personaId] != nil, validName(m.name),
                (0...100).contains(m.importance), m.embedding.map({ $0.count == dimension }) ?? true
            else { return false }
            memories[m.id] = MemoryEntity(
                id: m.id, personaId: m.personaId, type: m.type, name: m.name, content: m.content, summary: m.summary,
                tags: m.tags, importance: m.importance, tier: m.tier, embedding: m.embedding, embeddingModel: m.embeddingModel,
                createdAt: t, updatedAt: t)
        case .updateMemory(let patch):
            guard liveMemory(patch.id), !patch.isEmpty else { return false }
            var m = memories[patch.id]!
            if let name = patch.name {
                guard validName(name) else { return false }
                m.name = name
            }
            if let importance = patch.importance {
                guard (0...100).contains(importance) else { return false }
                m.importance = importance
            }
            if let v = patch.type { m.type = v }
            if let v = patch.content { m.content = v }
            if let v = patch.summary { m.summary = v }
            if let v = patch.tags { m.tags = v }
            m.updatedAt = t
            memories[patch.id] = m
        case .setMemoryTier(let id, let tier):
            guard liveMemory(id) else { return false }
            memories[id]!.tier = tier
            memories[id]!.updatedAt = t
        case .markMemoryAccessed(let id):
            guard liveMemory(id) else { return false }
            memories[id]!.accessCount += 1
            memories[id]!.lastAccessedAt = t
            memories[id]!.updatedAt = t
        case .updateMemoryEmbedding(let id, let embedding, let model):
            guard liveMemory(id), embedding.count == dimension else { return false }
            memories[id]!.embedding = embedding
            if let model { memories[id]!.embeddingModel = model }
            memories[id]!.updatedAt = t
        case .setMemoryAccess(let id, let count, let last):
            guard liveMemory(id), count >= 0 else { return false }
            memories[id]!.accessCount = count
            memories[id]!.lastAccessedAt = last
            memories[id]!.updatedAt = t
        case .deleteMemory(let id):
            guard liveMemory(id) else { return false }
            memories[id]!.deletedAt = t
            memories[id]!.updatedAt = t
        case .createConversation(let id, let personaID, let title):
            guard validID(id), conversations[id] == nil, personas[personaID] != nil else { return false }
            conversations[id] = Conversation(id: id, personaId: personaID, title: title, createdAt: t, updatedAt: t)
        case .addMessage(let conversationID, let role, let content):
            guard var c = conversations[conversationID] else { return false }
            c.messageCount += 1
            c.messages.append(Message(sequence: c.messageCount, role: role, content: content, createdAt: t))
            c.updatedAt = t
            conversations[conversationID] = c
        case .deleteConversation(let id):
            guard conversations[id] != nil else { return false }
            conversations[id] = nil
        }
        return true
    }

    // MARK: Reads, with the orders the engine documents

    static func less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    func personaMemories(_ personaID: String, _ q: MemoryQuery) -> [MemoryEntity] {
        var list = memories.values.filter { m in
            m.personaId == personaID && (q.includeDeleted || m.deletedAt == nil) && (q.type.map { $0 == m.type } ?? true)
                && (q.tier.map { $0 == m.tier } ?? true) && (q.minimumImportance.map { m.importance >= $0 } ?? true)
        }
        list.sort { a, b in
            switch q.order {
            case .importanceDescending:
                if a.importance != b.importance { return a.importance > b.importance }
                if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            case .createdAscending:
                if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            case .createdDescending:
                if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
            case .lastAccessedDescending:
                switch (a.lastAccessedAt, b.lastAccessedAt) {
                case (let x?, let y?) where x != y: return x > y
                case (nil, _?): return false
                case (_?, nil): return true
                default: break
                }
            }
            return Self.less(a.id, b.id)
        }
        let start = min(q.offset, list.count)
        let end = q.limit.map { min(start + $0, list.count) } ?? list.count
        return Array(list[start..<end])
    }

    func allPersonas() -> [Persona] {
        personas.values.sorted { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : Self.less($0.id, $1.id) }
    }

    func memories(tier: MemoryTier) -> [MemoryEntity] {
        memories.values.filter { $0.tier == tier && $0.deletedAt == nil }.sorted { Self.less($0.id, $1.id) }
    }

    func personaConversations(_ personaID: String) -> [Conversation] {
        conversations.values.filter { $0.personaId == personaID }
            .map { var c = $0; c.messages = []; return c }
            .sorted { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : Self.less($0.id, $1.id) }
    }
}
