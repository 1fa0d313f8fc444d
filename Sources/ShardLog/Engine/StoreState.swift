import CommandLog

/// The store's state as validation needs it: which entities exist and where.
/// A deterministic function of the log (INV-4): `apply` is the one
/// place where a command is checked (Specs/Commands.md) and resolved into effects,
/// for live writes and for rebuilds alike.
///
/// It holds one small entry per live persona, memory and conversation, plus every
/// command id: memory grows with the data, not with the log's length (Specs/Architecture.md §4).
struct StoreState: Sendable {
    struct PersonaEntry: Hashable, Sendable {
        var shard: String
        /// Its memories, in the order they were added (a memory id is never reused and a
        /// memory leaves only with its persona: a list, not a set, spares a hash per add).
        var memoryIDs: [String] = []
        var conversationIDs: Set<String> = []
        /// Its unfinished migration (WF-020).
        var migrationID: String?
        /// Shards holding memories of it that are detached (WF-040), with how many.
        var detached: [String: Int] = [:]
    }
    /// 24 bytes a memory (the id, its key, apart): a memory's home when detached lives in
    /// `detachedHomes`, since few are (Specs/Architecture.md §4).
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
    /// The home of each detached memory: a shard other than its persona's (WF-040).
    var detachedHomes: [String: String] = [:]
    var conversations: [String: ConversationEntry] = [:]
    var activePersona: String?
    var commandIDs: [String: LSN] = [:]
    var lastLSN = LSN.zero
    /// Every shard ever created, with its status (WF-010 … WF-012).
    var shardStatus: [String: ShardStatus] = [:] {
        didSet { refreshRouter() }
    }
    /// Every migration, by id (the history stays: `shardlog migration list`).
    var migrations: [String: MigrationWorkflow] = [:]
    var plans: [String: RebalanceWorkflow] = [:]
    /// How many migrations and plans were started: the next ids (WF-004).
    var migrationCount = 0
    var planCount = 0
    /// Places new personas on the active shards (WF-013); rebuilt when they change.
    private(set) var router: Router?

    /// The shards that have a database: every shard not removed, sorted.
    var shards: [String] { shardStatus.filter { $0.value != .removed }.keys.sorted(by: Router.utf8Less) }
    /// The shards new personas and migrations may go to.
    var activeShards: [String] { shardStatus.filter { $0.value == .active }.keys.sorted(by: Router.utf8Less) }

    private mutating func refreshRouter() {
        guard let s = initialization else { return }
        let active = activeShards
        guard !active.isEmpty else {
            router = nil
            return
        }
        // WF-013: range keeps the boundaries of the initial shards.
        router = Router(
            strategy: s.strategy, shards: s.strategy == .range ? s.shards : active, virtualNodes: s.virtualNodes,
            rangeBoundaries: s.rangeBoundaries)
    }

    /// The shard a new persona goes to (ROUTE-001, WF-013).
    func route(_ personaID: String) -> String? {
        guard let router else { return nil }
        let chosen = router.shard(for: personaID, personaCounts: strategyNeedsCounts ? personaCounts() : [:])
        if shardStatus[chosen] == .active { return chosen }
        // A range boundary whose shard is not active: the next active shard in id order.
        let active = activeShards
        return active.first { Router.utf8Less(chosen, $0) } ?? active.first
    }

    /// How many entries a state's tables hold: what a replay reserves up front.
    struct Capacity: Sendable {
        var personas = 0
        var memories = 0
        var conversations = 0
        var commandIDs = 0
    }

    var capacity: Capacity {
        Capacity(personas: personas.count, memories: memories.count, conversations: conversations.count, commandIDs: commandIDs.count)
    }

    /// Sizes the tables for `capacity` (a rebuild's replay would otherwise grow them step by
    /// step, and hold the old and the new table at each step).
    mutating func reserveCapacity(_ capacity: Capacity?) {
        guard let capacity else { return }
        personas.reserveCapacity(capacity.personas)
        memories.reserveCapacity(capacity.memories)
        conversations.reserveCapacity(capacity.conversations)
        commandIDs.reserveCapacity(capacity.commandIDs)
    }

    /// Frees the memory index — every memory's entry and each persona's list of its
    /// memories, most of a large state — for an in-place rebuild, whose replayed state
    /// replaces this one (ENG-023). Until then this state must not apply commands or
    /// answer questions about memories.
    mutating func releaseMemoryIndex() {
        memories = [:]
        detachedHomes = [:]
        for index in personas.indices { personas.values[index].memoryIDs = [] }
    }

    func personaCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for shard in activeShards { counts[shard] = 0 }
        for entry in personas.values where counts[entry.shard] != nil { counts[entry.shard, default: 0] += 1 }
        return counts
    }

    /// The shard that holds a memory: its home when detached, else its persona's (ROUTE-002).
    func shard(ofMemory id: String) -> String? {
        memories[id].flatMap { detachedHomes[id] ?? personas[$0.personaID]?.shard }
    }

    func shard(ofConversation id: String) -> String? {
        conversations[id].flatMap { personas[$0.personaID]?.shard }
    }

    /// The shards to read for a persona's memories: its own and those with detached ones.
    func memoryShards(ofPersona id: String) -> [String] {
        guard let entry = personas[id] else { return [] }
        return [entry.shard] + entry.detached.keys.sorted(by: Router.utf8Less)
    }

    /// The shards whose rows a command with bulk fields changes (`Command.hasBulkFields`),
    /// from its ids alone — the owner's, and a migration target's staging tables while the
    /// persona is being migrated; nil for unknown ids. A rebuild uses it to skim the
    /// commands whose rows go only to shards it does not rebuild (ENG-022).
    func shards(ofBulky command: Command) -> [String]? {
        func withStaging(_ personaID: String?, _ shard: String?) -> [String]? {
            guard let shard else { return nil }
            if let personaID, let id = personas[personaID]?.migrationID, let migration = migrations[id], migration.isCopying {
                return [shard, migration.target]
            }
            return [shard]
        }
        func memory(_ id: String) -> [String]? {
            guard let entry = memories[id] else { return nil }
            return detachedHomes[id].map { [$0] } ?? withStaging(entry.personaID, personas[entry.personaID]?.shard)
        }
        switch command {
        case .addMemory(let m): return withStaging(m.personaId, personas[m.personaId]?.shard)
        case .updateMemory(let patch): return memory(patch.id)
        case .updateMemoryEmbedding(let id, _, _): return memory(id)
        case .addMessage(let id, _, _): return withStaging(conversations[id]?.personaID, shard(ofConversation: id))
        case .workflow(.migrationCopied(let id, _, _)): return migrations[id].map { [$0.target] }
        case .workflow(.memoryMoved(_, _, let source, let target, _)): return [source, target]
        default: return nil
        }
    }

    /// The personas whose rows a user command changes (for holding a persona's writes, WF-023).
    func personasTouched(by command: Command) -> [String] {
        switch command {
        case .createPersona(let p): return [p.id] + (p.isActive ? [activePersona].compactMap { $0 } : [])
        case .updatePersona(let p): return [p.id]
        case .deletePersona(let id), .deactivatePersona(let id): return [id]
        case .activatePersona(let id): return [id] + [activePersona].compactMap { $0 }
        case .addMemory(let m): return [m.personaId]
        case .updateMemory(let p): return memories[p.id].map { [$0.personaID] } ?? []
        case .setMemoryTier(let id, _), .markMemoryAccessed(let id), .updateMemoryEmbedding(let id, _, _),
            .deleteMemory(let id), .setMemoryAccess(let id, _, _):
            return memories[id].map { [$0.personaID] } ?? []
        case .createConversation(_, let personaID, _): return [personaID]
        case .addMessage(let id, _, _), .deleteConversation(let id): return conversations[id].map { [$0.personaID] } ?? []
        case .initializeStore, .workflow: return []
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

    /// Checks `command` against the state (CMD-010 … CMD-110, Specs/Workflows.md) and, when
    /// valid, applies it and returns its effects. On a thrown error the state is unchanged.
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
            for shard in s.shards { shardStatus[shard] = .active }
            effects.catalog.append(.initialize(s))

        case .createPersona(let p):
            if personas[p.id] != nil { throw CommandRejection("a persona with id \(p.id) exists") }
            guard shardStatus[p.shard] == .active else { throw CommandRejection("shard \(p.shard) is not an active shard") }
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
            emit(patch.id, shard, .updatePersona(patch, at: timestamp), into: &effects)

        case .deletePersona(let id):
            guard let entry = personas[id] else { throw CommandRejection("no persona with id \(id)") }
            if let migration = entry.migrationID {
                throw CommandRejection("persona \(id) is being migrated (\(migration)); abort the migration first")
            }
            // Detached memories go with it (WF-040), from their homes.
            for memory in entry.memoryIDs.sorted(by: Router.utf8Less) {
                if let home = detachedHomes.removeValue(forKey: memory) { effects.shards.append((home, .removeMemory(id: memory))) }
                memories[memory] = nil
            }
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
            emit(id, shard, .setPersonaActive(id: id, active: true, at: timestamp), into: &effects)

        case .deactivatePersona(let id):
            let shard = try shard(ofPersona: id)
            if activePersona == id {
                activePersona = nil
                effects.catalog.append(.setActivePersona(nil))
            }
            emit(id, shard, .setPersonaActive(id: id, active: false, at: timestamp), into: &effects)

        case .addMemory(let m):
            // The hottest command of imports and rebuilds: each id is hashed once.
            let owner = personas.index(forKey: m.personaId)
            // The entry keeps the persona table's own copy of the id: a long id (a UUID) is
            // then stored once, not once per memory (Specs/Architecture.md §4).
            let personaID = owner.map { personas.keys[$0] } ?? m.personaId
            // A rejection puts back what it changed.
            if let existing = memories.updateValue(MemoryEntry(personaID: personaID, deleted: false), forKey: m.id) {
                memories[m.id] = existing
                throw CommandRejection("a memory with id \(m.id) exists")
            }
            guard let owner else {
                memories[m.id] = nil
                throw CommandRejection("no persona with id \(m.personaId)")
            }
            // In place: copying the entry out and back would copy its list on every add.
            personas.values[owner].memoryIDs.append(m.id)
            let shard = personas.values[owner].shard
            effects.catalog.append(.indexMemory(id: m.id, personaID: m.personaId))
            emit(m.personaId, shard, migrationID: personas.values[owner].migrationID, .insertMemory(MemoryEntity(
                id: m.id, personaId: m.personaId, type: m.type, name: m.name, content: m.content, summary: m.summary,
                tags: m.tags, importance: m.importance, tier: m.tier, embedding: m.embedding, embeddingModel: m.embeddingModel,
                createdAt: timestamp, updatedAt: timestamp)), into: &effects)

        case .updateMemory(let patch):
            let memory = try liveMemory(patch.id)
            emit(memory, .updateMemory(patch, at: timestamp), into: &effects)

        case .setMemoryTier(let id, let tier):
            emit(try liveMemory(id), .setMemoryTier(id: id, tier: tier, at: timestamp), into: &effects)

        case .markMemoryAccessed(let id):
            emit(try liveMemory(id), .markMemoryAccessed(id: id, at: timestamp), into: &effects)

        case .updateMemoryEmbedding(let id, let embedding, let model):
            emit(try liveMemory(id), .updateMemoryEmbedding(id: id, embedding: embedding, model: model, at: timestamp), into: &effects)

        case .setMemoryAccess(let id, let accessCount, let lastAccessedAt):
            emit(try liveMemory(id), .setMemoryAccess(id: id, accessCount: accessCount, lastAccessedAt: lastAccessedAt, at: timestamp), into: &effects)

        case .deleteMemory(let id):
            let memory = try liveMemory(id)
            memories[id]!.deleted = true
            effects.catalog.append(.markMemoryDeleted(id: id))
            emit(memory, .softDeleteMemory(id: id, at: timestamp), into: &effects)

        case .createConversation(let id, let personaID, let title):
            if conversations[id] != nil { throw CommandRejection("a conversation with id \(id) exists") }
            let shard = try shard(ofPersona: personaID)
            conversations[id] = ConversationEntry(personaID: personaID, messageCount: 0)
            personas[personaID]!.conversationIDs.insert(id)
            effects.catalog.append(.indexConversation(id: id, personaID: personaID))
            emit(personaID, shard, .insertConversation(Conversation(
                id: id, personaId: personaID, title: title, createdAt: timestamp, updatedAt: timestamp)), into: &effects)

        case .addMessage(let conversationID, let role, let content):
            guard let conversation = conversations[conversationID] else {
                throw CommandRejection("no conversation with id \(conversationID)")
            }
            conversations[conversationID]!.messageCount += 1
            let messageCount = conversation.messageCount + 1
            effects.catalog.append(.setMessageCount(conversationID: conversationID, count: messageCount))
            emit(conversation.personaID, personas[conversation.personaID]!.shard, .insertMessage(
                conversationID: conversationID,
                Message(sequence: messageCount, role: role, content: content, createdAt: timestamp)), into: &effects)

        case .deleteConversation(let id):
            guard let conversation = conversations[id] else { throw CommandRejection("no conversation with id \(id)") }
            conversations[id] = nil
            personas[conversation.personaID]!.conversationIDs.remove(id)
            effects.catalog.append(.unindexConversation(id: id))
            emit(conversation.personaID, personas[conversation.personaID]!.shard, .deleteConversation(id: id), into: &effects)

        case .workflow(let step):
            try applyWorkflow(step, lsn: lsn, timestamp: timestamp, into: &effects)
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
    func shard(ofPersona id: String) throws(CommandRejection) -> String {
        guard let shard = personas[id]?.shard else { throw CommandRejection("no persona with id \(id)") }
        return shard
    }

    /// Where a memory's effects go.
    struct MemoryPlace {
        var personaID: String
        var shard: String
        /// On its persona's shard (not detached): its persona's migration stages it too.
        var attached: Bool
    }

    /// A memory that exists and is not soft-deleted (CMD-107, CMD-108).
    private func liveMemory(_ id: String) throws(CommandRejection) -> MemoryPlace {
        guard let memory = memories[id] else { throw CommandRejection("no memory with id \(id)") }
        if memory.deleted { throw CommandRejection("memory \(id) is deleted") }
        let home = detachedHomes[id]
        return MemoryPlace(personaID: memory.personaID, shard: home ?? personas[memory.personaID]!.shard, attached: home == nil)
    }

    /// Appends an effect on a persona's rows, and its staged twin on the target while the
    /// persona is being migrated (WF-021: the dual write).
    private mutating func emit(_ personaID: String, _ shard: String, _ effect: ShardEffect, into effects: inout Effects) {
        emit(personaID, shard, migrationID: personas[personaID]?.migrationID, effect, into: &effects)
    }

    /// `emit` for a caller that has the persona's entry at hand.
    ///
    /// `mutating` only so that a call from `apply` borrows the state in place: as a plain
    /// method, the optimizer copied the whole state (a retain per table) on every call.
    private mutating func emit(
        _ personaID: String, _ shard: String, migrationID: String?, _ effect: ShardEffect, into effects: inout Effects
    ) {
        effects.shards.append((shard, effect))
        if let id = migrationID, let migration = migrations[id], migration.isCopying {
            effects.shards.append((migration.target, .staged(effect)))
            if let key = effect.rowKey { effects.stagedTouches.append((personaID, key)) }
        }
    }

    private mutating func emit(_ memory: MemoryPlace, _ effect: ShardEffect, into effects: inout Effects) {
        if memory.attached {
            emit(memory.personaID, memory.shard, effect, into: &effects)
        } else {
            effects.shards.append((memory.shard, effect))
        }
    }

    /// CMD-104/CMD-105: the previously active persona is deactivated by the same command.
    private mutating func deactivateCurrent(at timestamp: Timestamp, into effects: inout Effects) {
        guard let current = activePersona, let entry = personas[current] else { return }
        emit(current, entry.shard, .setPersonaActive(id: current, active: false, at: timestamp), into: &effects)
        activePersona = nil
        effects.catalog.append(.setActivePersona(nil))
    }
}

/// Why a command is invalid (becomes `ShardLogError.invalidCommand`).
struct CommandRejection: Error, Hashable, Sendable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

extension StoreState: Equatable {
    /// Equal content: every table and counter (the router is derived from them). ENG-023
    /// hands a rebuild's replayed state over as the live one on this ground; the property
    /// tests check it after every rebuild, from a state built live and from one loaded.
    /// A persona's memory list is compared as a set: its order is not content (a replay
    /// lists in log order, the catalog in id order, and nothing reads it in order —
    /// `deletePersona` sorts it).
    static func == (a: StoreState, b: StoreState) -> Bool {
        func samePersonas() -> Bool {
            guard a.personas.count == b.personas.count else { return false }
            for (id, x) in a.personas {
                guard var y = b.personas[id], Set(x.memoryIDs) == Set(y.memoryIDs) else { return false }
                y.memoryIDs = x.memoryIDs
                if x != y { return false }
            }
            return true
        }
        return a.initialization == b.initialization && a.lastLSN == b.lastLSN && a.activePersona == b.activePersona
            && samePersonas() && a.memories == b.memories && a.detachedHomes == b.detachedHomes && a.conversations == b.conversations
            && a.commandIDs == b.commandIDs && a.shardStatus == b.shardStatus && a.migrations == b.migrations
            && a.plans == b.plans && a.migrationCount == b.migrationCount && a.planCount == b.planCount
    }
}
