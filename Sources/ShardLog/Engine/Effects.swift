import CommandLog

/// What one command does to one shard's rows, resolved against the store's state
/// at the command's LSN. Live writes and rebuilds compute effects with the same
/// function (`StoreState.apply`), which is what makes a rebuild equal the live
/// projection (INV-6).
enum ShardEffect: Hashable, Sendable {
    case insertPersona(Persona)
    case updatePersona(PersonaPatch, at: Timestamp)
    case setPersonaActive(id: String, active: Bool, at: Timestamp)
    /// The persona, its memories (soft-deleted too), conversations and messages (CMD-103).
    case deletePersona(id: String)
    case insertMemory(MemoryEntity)
    case updateMemory(MemoryPatch, at: Timestamp)
    case setMemoryTier(id: String, tier: MemoryTier, at: Timestamp)
    case markMemoryAccessed(id: String, at: Timestamp)
    case setMemoryAccess(id: String, accessCount: Int, lastAccessedAt: Timestamp?, at: Timestamp)
    case updateMemoryEmbedding(id: String, embedding: [Float], model: String?, at: Timestamp)
    case softDeleteMemory(id: String, at: Timestamp)
    case insertConversation(Conversation)
    case insertMessage(conversationID: String, Message)
    case deleteConversation(id: String)
    /// The same effect on the staging tables (a migration's dual write, WF-021).
    indirect case staged(ShardEffect)
    /// Inserts rows, replacing rows with the same keys (a copy step, WF-022; a memory move, WF-040).
    case putRows(RowSet)
    /// Moves a persona's staged rows into the tables (cut-over, WF-025).
    case promoteStaged(personaID: String)
    /// Drops a persona's staged rows (start, abort, failure: WF-020, WF-027).
    case dropStaged(personaID: String)
    /// Deletes a memory row (a memory moved away, or a detached memory of a deleted persona).
    case removeMemory(id: String)
    /// Live only: computes the persona digest (PROJ-012) of the rows or the staged rows and
    /// hands it to the store's reports under `lsn` (WF-024). A replay skips it.
    case reportPersonaDigest(personaID: String, staged: Bool, lsn: LSN)
}

/// What one command does to the catalog (Specs/ProjectionSchema.md §3).
enum CatalogEffect: Hashable, Sendable {
    case initialize(StoreInitialization)
    case place(personaID: String, shard: String)
    case unplace(personaID: String)
    case setActivePersona(String?)
    case indexMemory(id: String, personaID: String)
    case markMemoryDeleted(id: String)
    case indexConversation(id: String, personaID: String)
    case setMessageCount(conversationID: String, count: Int)
    case unindexConversation(id: String)
    /// Drops the index entries of a deleted persona's memories and conversations.
    case unindexPersonaContents(personaID: String)
    case recordCommandID(String)
    case addShard(id: String)
    case setShardStatus(id: String, ShardStatus)
    /// Writes a migration's row as it now stands.
    case putMigration(MigrationWorkflow)
    case putPlan(RebalanceWorkflow)
    /// A memory's home: a shard when detached, nil when on its persona's shard (WF-040).
    case setMemoryHome(id: String, shard: String?)
    /// A persona's memories detached to `shard` are attached again (the persona moved there).
    case attachMemories(personaID: String, shard: String)
}

/// The effects of one command.
struct Effects: Sendable {
    var shards: [(shard: String, effect: ShardEffect)] = []
    var catalog: [CatalogEffect] = []
    /// Rows of personas being migrated that this command changed: (persona, row key).
    /// Live writes record them for WF-023; a replay ignores them.
    var stagedTouches: [(personaID: String, key: String)] = []
}

extension ShardEffect {
    /// The row an effect on a persona's data changes, as WF-023 keys it: `p:`, `m:` or `c:`
    /// and the persona, memory or conversation id (a message counts as its conversation).
    var rowKey: String? {
        switch self {
        case .insertPersona(let p): return "p:" + p.id
        case .updatePersona(let patch, _): return "p:" + patch.id
        case .setPersonaActive(let id, _, _), .deletePersona(let id): return "p:" + id
        case .insertMemory(let m): return "m:" + m.id
        case .updateMemory(let patch, _): return "m:" + patch.id
        case .setMemoryTier(let id, _, _), .markMemoryAccessed(let id, _), .setMemoryAccess(let id, _, _, _),
            .updateMemoryEmbedding(let id, _, _, _), .softDeleteMemory(let id, _), .removeMemory(let id):
            return "m:" + id
        case .insertConversation(let c): return "c:" + c.id
        case .insertMessage(let id, _), .deleteConversation(let id): return "c:" + id
        case .staged(let inner): return inner.rowKey
        case .putRows, .promoteStaged, .dropStaged, .reportPersonaDigest: return nil
        }
    }
}
