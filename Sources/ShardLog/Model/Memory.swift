import CommandLog

/// The kind of a memory (Specs/Commands.md §1, `memoryType`).
public enum MemoryType: String, CaseIterable, Hashable, Sendable, Codable {
    case text, image, audio, video, file
}

/// Where a memory sits in the hot/warm/cold hierarchy.
public enum MemoryTier: String, CaseIterable, Hashable, Sendable, Codable {
    case hot, warm, cold
}

/// One memory of a persona.
public struct MemoryEntity: Hashable, Sendable {
    public var id: String
    public var personaId: String
    public var type: MemoryType
    public var name: String
    public var content: String
    public var summary: String?
    public var tags: [String]
    /// 0…100.
    public var importance: Int
    public var tier: MemoryTier
    public var embedding: [Float]?
    public var embeddingModel: String?
    public var accessCount: Int
    public var lastAccessedAt: Timestamp?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    /// Set when soft-deleted (CMD-108).
    public var deletedAt: Timestamp?

    public init(
        id: String, personaId: String, type: MemoryType = .text, name: String, content: String,
        summary: String? = nil, tags: [String] = [], importance: Int = 50, tier: MemoryTier = .hot,
        embedding: [Float]? = nil, embeddingModel: String? = nil, accessCount: Int = 0,
        lastAccessedAt: Timestamp? = nil, createdAt: Timestamp, updatedAt: Timestamp, deletedAt: Timestamp? = nil
    ) {
        self.id = id
        self.personaId = personaId
        self.type = type
        self.name = name
        self.content = content
        self.summary = summary
        self.tags = tags
        self.importance = importance
        self.tier = tier
        self.embedding = embedding
        self.embeddingModel = embeddingModel
        self.accessCount = accessCount
        self.lastAccessedAt = lastAccessedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deletedAt = deletedAt
    }
}
