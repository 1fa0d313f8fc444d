import CommandLog

/// The store's initial catalog (tag 1, CMD-100).
public struct StoreInitialization: Hashable, Sendable {
    public var strategy: ShardingStrategy
    public var virtualNodes: Int
    public var embeddingDimension: Int
    public var shards: [String]
    public var rangeBoundaries: [String]

    public init(strategy: ShardingStrategy, virtualNodes: Int, embeddingDimension: Int, shards: [String], rangeBoundaries: [String]) {
        self.strategy = strategy
        self.virtualNodes = virtualNodes
        self.embeddingDimension = embeddingDimension
        self.shards = shards
        self.rangeBoundaries = rangeBoundaries
    }
}

/// A new persona and the shard chosen for it (tag 2, CMD-101).
public struct PersonaCreation: Hashable, Sendable {
    public var id: String
    public var shard: String
    public var name: String
    public var description: String
    public var personality: Personality
    public var memoryConfiguration: MemoryConfiguration
    public var privacySettings: PrivacySettings
    public var isActive: Bool

    /// `shard` empty (the default): the store's router chooses when the command is executed.
    public init(
        id: String, shard: String = "", name: String, description: String = "", personality: Personality = Personality(),
        memoryConfiguration: MemoryConfiguration = MemoryConfiguration(), privacySettings: PrivacySettings = PrivacySettings(),
        isActive: Bool = false
    ) {
        self.id = id
        self.shard = shard
        self.name = name
        self.description = description
        self.personality = personality
        self.memoryConfiguration = memoryConfiguration
        self.privacySettings = privacySettings
        self.isActive = isActive
    }
}

/// A patch of a persona: absent fields keep their values (tag 3, CMD-102).
public struct PersonaPatch: Hashable, Sendable {
    public var id: String
    public var name: String?
    public var description: String?
    public var personality: Personality?
    public var memoryConfiguration: MemoryConfiguration?
    public var privacySettings: PrivacySettings?

    public init(
        id: String, name: String? = nil, description: String? = nil, personality: Personality? = nil,
        memoryConfiguration: MemoryConfiguration? = nil, privacySettings: PrivacySettings? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.personality = personality
        self.memoryConfiguration = memoryConfiguration
        self.privacySettings = privacySettings
    }

    var isEmpty: Bool {
        name == nil && description == nil && personality == nil && memoryConfiguration == nil && privacySettings == nil
    }
}

/// A new memory (tag 7, CMD-106).
public struct MemoryCreation: Hashable, Sendable {
    public var id: String
    public var personaId: String
    public var type: MemoryType
    public var name: String
    public var content: String
    public var summary: String?
    public var tags: [String]
    public var importance: Int
    public var tier: MemoryTier
    public var embedding: [Float]?
    public var embeddingModel: String?

    public init(
        id: String, personaId: String, type: MemoryType = .text, name: String = "", content: String, summary: String? = nil,
        tags: [String] = [], importance: Int = 50, tier: MemoryTier = .hot, embedding: [Float]? = nil,
        embeddingModel: String? = nil
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
    }
}

/// A patch of a memory (tag 8, CMD-107).
public struct MemoryPatch: Hashable, Sendable {
    public var id: String
    public var type: MemoryType?
    public var name: String?
    public var content: String?
    public var summary: String?
    public var tags: [String]?
    public var importance: Int?

    public init(
        id: String, type: MemoryType? = nil, name: String? = nil, content: String? = nil, summary: String? = nil,
        tags: [String]? = nil, importance: Int? = nil
    ) {
        self.id = id
        self.type = type
        self.name = name
        self.content = content
        self.summary = summary
        self.tags = tags
        self.importance = importance
    }

    var isEmpty: Bool {
        type == nil && name == nil && content == nil && summary == nil && tags == nil && importance == nil
    }
}

/// Every mutation of the store (Specs/Commands.md §3). Each is one record of the log.
public enum Command: Hashable, Sendable {
    case initializeStore(StoreInitialization)
    case createPersona(PersonaCreation)
    case updatePersona(PersonaPatch)
    case deletePersona(id: String)
    case activatePersona(id: String)
    case deactivatePersona(id: String)
    case addMemory(MemoryCreation)
    case updateMemory(MemoryPatch)
    case setMemoryTier(id: String, tier: MemoryTier)
    case markMemoryAccessed(id: String)
    case updateMemoryEmbedding(id: String, embedding: [Float], model: String?)
    case deleteMemory(id: String)
    case createConversation(id: String, personaId: String, title: String)
    case addMessage(conversationId: String, role: MessageRole, content: String)
    case deleteConversation(id: String)
    /// Sets a memory's access statistics (imports from the original app, CMD-110).
    case setMemoryAccess(id: String, accessCount: Int, lastAccessedAt: Timestamp?)
    /// A step of a shard-lifecycle, migration or rebalance workflow (Specs/Workflows.md):
    /// appended by the engine's workflows only (WF-003).
    case workflow(WorkflowCommand)

    /// The type tag in the log (never reused, CMD-002).
    public var typeTag: UInt16 {
        switch self {
        case .initializeStore: return 1
        case .createPersona: return 2
        case .updatePersona: return 3
        case .deletePersona: return 4
        case .activatePersona: return 5
        case .deactivatePersona: return 6
        case .addMemory: return 7
        case .updateMemory: return 8
        case .setMemoryTier: return 9
        case .markMemoryAccessed: return 10
        case .updateMemoryEmbedding: return 11
        case .deleteMemory: return 12
        case .createConversation: return 13
        case .addMessage: return 14
        case .deleteConversation: return 15
        case .setMemoryAccess: return 16
        case .workflow(let step): return step.typeTag
        }
    }

    /// The payload layout version this build writes for every type.
    public static let typeVersion: UInt16 = 1

    /// The op name used by `shardlog apply` and `shardlog log`.
    public var op: String {
        switch self {
        case .initializeStore: return "initializeStore"
        case .createPersona: return "createPersona"
        case .updatePersona: return "updatePersona"
        case .deletePersona: return "deletePersona"
        case .activatePersona: return "activatePersona"
        case .deactivatePersona: return "deactivatePersona"
        case .addMemory: return "addMemory"
        case .updateMemory: return "updateMemory"
        case .setMemoryTier: return "setMemoryTier"
        case .markMemoryAccessed: return "markMemoryAccessed"
        case .updateMemoryEmbedding: return "updateMemoryEmbedding"
        case .deleteMemory: return "deleteMemory"
        case .createConversation: return "createConversation"
        case .addMessage: return "addMessage"
        case .deleteConversation: return "deleteConversation"
        case .setMemoryAccess: return "setMemoryAccess"
        case .workflow(let step): return step.op
        }
    }
}
