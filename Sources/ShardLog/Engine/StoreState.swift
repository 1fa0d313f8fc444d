import CommandLog

/// The store's state as validation needs it: which entities exist and where.
/// A deterministic function of the log (DESIGN invariant 4): `apply` is the one
/// place where a command is checked (Specs/Commands.md) and resolved into effects,
/// for live writes and for rebuilds alike.
///
/// It holds one small entry per live persona, memory and conversation, plus every
/// command id: memory grows with the data, not with the log's length (README, Limits).
struct StoreState: Sendable {
    struct PersonaEntry: Hashable, Sendable {
        var shard: String
        var memoryIDs: Set<String> = []
        var conversationIDs: Set<String> = []
    }
    struct MemoryEntry: Hashable, Sendable {
        var personaID: String
        var deleted: Bool
    }
    struct ConversationEntry: Hashable, Sendable {
        var personaID: String
        var messageCount: Int
    }

    var initialization: StoreInitialization?
    var personas: [String: PersonaEntry] = [:]
    var memories: [String: MemoryEntry] = [:]
    var conversations: [String: ConversationEntry] = [:]
    var activePersona: String?
    var commandIDs: [String: LSN] = [:]
    var lastLSN = LSN.zero

    var shards: [String] { initialization?.shards ?? [] }
    var router: Router? {
        initialization.map { Router(strategy: $0.strategy, shards: $0.shards, virtualNodes: $0.virtualNodes, rangeBoundaries: $0.rangeBoundaries) }
    }

    /// Sizes the tables for as many entries as `other` has (a rebuild's replay would
    /// otherwise grow them step by step).
    mutating func reserveCapacity(_ other: StoreState?) {
        guard let other else { return }
        personas.reserveCapacity(other.personas.count)
        memories.reserveCapacity(other.memories.count)
        conversations.reserveCapacity(other.conversations.count)
        commandIDs.reserveCapacity(other.commandIDs.count)
    }

    func personaCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for shard in shards { counts[shard] = 0 }
        for entry in personas.values { counts[entry.shard, default: 0] += 1 }
        return counts
    }

    /// The shard that holds a memory (its persona's, ROUTE-002).
    func shard(ofMemory id: String) -> String? {
        memories[id].flatMap { personas[$0.personaID]?.shard }
    }

    func shard(ofConversation id: String) -> String? {
        conversations[id].flatMap { personas[$0.personaID]?.shard }
    }

    /// The shard whose rows a command with bulk fields changes (`Command.hasBulkFields`),
    /// from its ids alone; nil for other commands and unknown ids. A rebuild uses it to
    /// skim the commands whose rows go to shards it does not rebuild.
    func shard(ofBulky command: Command) -> String? {
        switch command {
        case .addMemory(let m): personas[m.personaId]?.shard
        case .updateMemory(let patch): shard(ofMemory: patch.id)
        case .updateMemoryEmbedding(let id, _, _): shard(ofMemory: id)
        case .addMessage(let conversationID, _, _): shard(ofConversation: conversationID)
        default: nil
        }
    }

    // MARK: - Apply

    /// Which rules `apply` checks (Specs/Engine.md, ENG-021).
    enum Checks: Sendable {
        /// A new command: its content (Specs/Commands.md §2) and the state rules.
        case all
        /// A logged command (catch-up, rebuild): the state rules only. Its content was
        /// checked when it was accepted; a replay must not reject what was acknowledged.
        case state
    }

    /// Checks `command` against the state (CMD-010 … CMD-109) and, when valid, applies it
    /// and returns its effects. On a thrown error the state is unchanged.
    mutating func apply(
        _ command: Command, lsn: LSN, timestamp: Timestamp, commandID: String?, checks: Checks = .all
    ) throws(CommandRejection) -> Effects {
        if case .initializeStore = command {} else if initialization == nil {
            throw CommandRejection("the store is not initialized: the first command must be initializeStore")
        }
        if checks == .all { try Validation.content(of: command, embeddingDimension: initialization?.embeddingDimension) }
        var effects = Effects()
        switch command {
        case .initializeStore(let s):
            guard initialization == nil, lsn == LSN(1) else { throw CommandRejection("initializeStore is valid only as the first command") }
            try Validation.initialization(s)
            initialization = s
            effects.catalog.append(.initialize(s))

        case .createPersona(let p):
            if personas[p.id] != nil { throw CommandRejection("a persona with id \(p.id) exists") }
            guard shards.contains(p.shard) else { throw CommandRejection("shard \(p.shard) is not an active shard") }
            personas[p.id] = PersonaEntry(shard: p.shard)
            effects.catalog.append(.place(personaID: p.id, shard: p.shard))
            if p.isActive { deactivateCurrent(at: timestamp, into: &effects) }
            effects.shards.append((p.shard, .insertPersona(Persona(
                id: p.id, name: p.name, description: p.description, personality: p.personality,
                memoryConfiguration: p.memoryConfiguration, privacySettings: p.privacySettings, isActive: p.isActive,
                createdAt: timestamp, updatedAt: timestamp))))
            if p.isActive {
                activePersona = p.id
                effects.catalog.append(.setActivePersona(p.id))
            }

        case .updatePersona(let patch):
            let shard = try shard(ofPersona: patch.id)
            effects.shards.append((shard, .updatePersona(patch, at: timestamp)))

        case .deletePersona(let id):
            guard let entry = personas[id] else { throw CommandRejection("no persona with id \(id)") }
            for memory in entry.memoryIDs { memories[memory] = nil }
            for conversation in entry.conversationIDs { conversations[conversation] = nil }
            personas[id] = nil
            effects.catalog.append(.unindexPersonaContents(personaID: id))
            effects.catalog.append(.unplace(personaID: id))
            if activePersona == id {
                activePersona = nil
                effects.catalog.append(.setActivePersona(nil))
            }
            effects.shards.append((entry.shard, .deletePersona(id: id)))

        case .activatePersona(let id):
            let shard = try shard(ofPersona: id)
            if activePersona != id { deactivateCurrent(at: timestamp, into: &effects) }
            activePersona = id
            effects.catalog.append(.setActivePersona(id))
            effects.shards.append((shard, .setPersonaActive(id: id, active: true, at: timestamp)))

        case .deactivatePersona(let id):
            let shard = try shard(ofPersona: id)
            if activePersona == id {
                activePersona = nil
                effects.catalog.append(.setActivePersona(nil))
            }
            effects.shards.append((shard, .setPersonaActive(id: id, active: false, at: timestamp)))

        case .addMemory(let m):
            if memories[m.id] != nil { throw CommandRejection("a memory with id \(m.id) exists") }
            let shard = try shard(ofPersona: m.personaId)
            memories[m.id] = MemoryEntry(personaID: m.personaId, deleted: false)
            // In place: copying the entry out and back would copy its set on every insert.
            personas[m.personaId]!.memoryIDs.insert(m.id)
            effects.catalog.append(.indexMemory(id: m.id, personaID: m.personaId))
            effects.shards.append((shard, .insertMemory(MemoryEntity(
                id: m.id, personaId: m.personaId, type: m.type, name: m.name, content: m.content, summary: m.summary,
                tags: m.tags, importance: m.importance, tier: m.tier, embedding: m.embedding, embeddingModel: m.embeddingModel,
                createdAt: timestamp, updatedAt: timestamp))))

        case .updateMemory(let patch):
            let shard = try liveMemory(patch.id)
            effects.shards.append((shard, .updateMemory(patch, at: timestamp)))

        case .setMemoryTier(let id, let tier):
            effects.shards.append((try liveMemory(id), .setMemoryTier(id: id, tier: tier, at: timestamp)))

        case .markMemoryAccessed(let id):
            effects.shards.append((try liveMemory(id), .markMemoryAccessed(id: id, at: timestamp)))

        case .updateMemoryEmbedding(let id, let embedding, let model):
            let shard = try liveMemory(id)
            effects.shards.append((shard, .updateMemoryEmbedding(id: id, embedding: embedding, model: model, at: timestamp)))

        case .setMemoryAccess(let id, let accessCount, let lastAccessedAt):
            let shard = try liveMemory(id)
            effects.shards.append((shard, .setMemoryAccess(id: id, accessCount: accessCount, lastAccessedAt: lastAccessedAt, at: timestamp)))

        case .deleteMemory(let id):
            let shard = try liveMemory(id)
            memories[id]!.deleted = true
            effects.catalog.append(.markMemoryDeleted(id: id))
            effects.shards.append((shard, .softDeleteMemory(id: id, at: timestamp)))

        case .createConversation(let id, let personaID, let title):
            if conversations[id] != nil { throw CommandRejection("a conversation with id \(id) exists") }
            let shard = try shard(ofPersona: personaID)
            conversations[id] = ConversationEntry(personaID: personaID, messageCount: 0)
            personas[personaID]!.conversationIDs.insert(id)
            effects.catalog.append(.indexConversation(id: id, personaID: personaID))
            effects.shards.append((shard, .insertConversation(Conversation(
                id: id, personaId: personaID, title: title, createdAt: timestamp, updatedAt: timestamp))))

        case .addMessage(let conversationID, let role, let content):
            guard let conversation = conversations[conversationID] else {
                throw CommandRejection("no conversation with id \(conversationID)")
            }
            conversations[conversationID]!.messageCount += 1
            let messageCount = conversation.messageCount + 1
            effects.catalog.append(.setMessageCount(conversationID: conversationID, count: messageCount))
            effects.shards.append((personas[conversation.personaID]!.shard, .insertMessage(
                conversationID: conversationID,
                Message(sequence: messageCount, role: role, content: content, createdAt: timestamp))))

        case .deleteConversation(let id):
            guard let conversation = conversations[id] else { throw CommandRejection("no conversation with id \(id)") }
            conversations[id] = nil
            personas[conversation.personaID]!.conversationIDs.remove(id)
            effects.catalog.append(.unindexConversation(id: id))
            effects.shards.append((personas[conversation.personaID]!.shard, .deleteConversation(id: id)))
        }
        if let commandID {
            commandIDs[commandID] = lsn
            effects.catalog.append(.recordCommandID(commandID))
        }
        lastLSN = lsn
        return effects
    }

    /// The shard of a persona that exists. Returns the shard rather than the entry: a copy
    /// of the entry would share its sets, so the insert that follows would copy a whole set.
    private func shard(ofPersona id: String) throws(CommandRejection) -> String {
        guard let shard = personas[id]?.shard else { throw CommandRejection("no persona with id \(id)") }
        return shard
    }

    /// The shard of a memory that exists and is not soft-deleted (CMD-107, CMD-108).
    private func liveMemory(_ id: String) throws(CommandRejection) -> String {
        guard let memory = memories[id] else { throw CommandRejection("no memory with id \(id)") }
        if memory.deleted { throw CommandRejection("memory \(id) is deleted") }
        return personas[memory.personaID]!.shard
    }

    /// CMD-104/CMD-105: the previously active persona is deactivated by the same command.
    private mutating func deactivateCurrent(at timestamp: Timestamp, into effects: inout Effects) {
        guard let current = activePersona, let entry = personas[current] else { return }
        effects.shards.append((entry.shard, .setPersonaActive(id: current, active: false, at: timestamp)))
        activePersona = nil
        effects.catalog.append(.setActivePersona(nil))
    }
}

/// Why a command is invalid (becomes `ShardLogError.invalidCommand`).
struct CommandRejection: Error, Hashable, Sendable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
