import CommandLog

/// What one command does to one shard's rows, resolved against the store's state
/// at the command's LSN. Live writes and rebuilds compute effects with the same
/// function (`StoreState.apply`), which is what makes a rebuild equal the live
/// projection (DESIGN invariant 6).
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
}

/// The effects of one command.
struct Effects: Sendable {
    var shards: [(shard: String, effect: ShardEffect)] = []
    var catalog: [CatalogEffect] = []
}
