import CommandLog

/// How a persona behaves (the original app's `personality`; Specs/Commands.md §1).
public struct Personality: Hashable, Sendable, Codable {
    public var traits: [String]
    public var temperament: String
    public var communicationStyle: String

    public init(traits: [String] = [], temperament: String = "balanced", communicationStyle: String = "conversational") {
        self.traits = traits
        self.temperament = temperament
        self.communicationStyle = communicationStyle
    }
}

/// How a persona keeps memories (the original app's `memoryConfiguration`).
public struct MemoryConfiguration: Hashable, Sendable, Codable {
    public var maxMemories: Int
    public var memoryImportanceThreshold: Int
    public var autoOptimize: Bool
    /// Days.
    public var retentionPeriod: Int
    public var memoryCategories: [String]
    public var compressionEnabled: Bool

    public init(
        maxMemories: Int = 1000, memoryImportanceThreshold: Int = 50, autoOptimize: Bool = true,
        retentionPeriod: Int = 30, memoryCategories: [String] = ["conversation", "learning", "preference", "fact"],
        compressionEnabled: Bool = true
    ) {
        self.maxMemories = maxMemories
        self.memoryImportanceThreshold = memoryImportanceThreshold
        self.autoOptimize = autoOptimize
        self.retentionPeriod = retentionPeriod
        self.memoryCategories = memoryCategories
        self.compressionEnabled = compressionEnabled
    }
}

/// What a persona may do with its data (the original app's `privacySettings`).
public struct PrivacySettings: Hashable, Sendable, Codable {
    public var dataCollection: Bool
    public var analyticsEnabled: Bool
    public var shareWithResearchers: Bool
    public var allowPersonalityAnalysis: Bool
    public var memoryRetention: Bool
    public var exportDataAllowed: Bool

    public init(
        dataCollection: Bool = true, analyticsEnabled: Bool = false, shareWithResearchers: Bool = false,
        allowPersonalityAnalysis: Bool = true, memoryRetention: Bool = true, exportDataAllowed: Bool = true
    ) {
        self.dataCollection = dataCollection
        self.analyticsEnabled = analyticsEnabled
        self.shareWithResearchers = shareWithResearchers
        self.allowPersonalityAnalysis = allowPersonalityAnalysis
        self.memoryRetention = memoryRetention
        self.exportDataAllowed = exportDataAllowed
    }
}

/// An AI persona: the unit of placement — its memories and conversations live on its shard.
public struct Persona: Hashable, Sendable {
    public var id: String
    public var name: String
    public var description: String
    public var personality: Personality
    public var memoryConfiguration: MemoryConfiguration
    public var privacySettings: PrivacySettings
    public var isActive: Bool
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        id: String, name: String, description: String = "", personality: Personality = Personality(),
        memoryConfiguration: MemoryConfiguration = MemoryConfiguration(),
        privacySettings: PrivacySettings = PrivacySettings(), isActive: Bool = false,
        createdAt: Timestamp, updatedAt: Timestamp
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.personality = personality
        self.memoryConfiguration = memoryConfiguration
        self.privacySettings = privacySettings
        self.isActive = isActive
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
