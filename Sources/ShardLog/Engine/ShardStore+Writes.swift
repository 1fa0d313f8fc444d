import CommandLog

/// The common writes by name, beside `execute(_:)`: each builds its command, executes it
/// alone (one atomic unit) with `envelope`, and returns its LSN. What they do is the
/// command's (Specs/Commands.md §3); a unit of several commands is `execute(_:)`'s.
extension ShardStore {
    /// A new persona (CMD-101), placed by the store's router unless `shard` names one.
    @discardableResult
    public func createPersona(
        id: String, name: String, description: String = "", personality: Personality = Personality(),
        memoryConfiguration: MemoryConfiguration = MemoryConfiguration(), privacySettings: PrivacySettings = PrivacySettings(),
        isActive: Bool = false, shard: String? = nil, envelope: Envelope = Envelope()
    ) async throws -> LSN {
        try await execute(.createPersona(PersonaCreation(
            id: id, shard: shard ?? "", name: name, description: description, personality: personality,
            memoryConfiguration: memoryConfiguration, privacySettings: privacySettings, isActive: isActive)), envelope: envelope)
    }

    /// A new memory of `personaId` (CMD-106); its name may be empty.
    @discardableResult
    public func addMemory(
        id: String, personaId: String, content: String, name: String = "", type: MemoryType = .text, summary: String? = nil,
        tags: [String] = [], importance: Int = 50, tier: MemoryTier = .hot, embedding: [Float]? = nil,
        embeddingModel: String? = nil, envelope: Envelope = Envelope()
    ) async throws -> LSN {
        try await execute(.addMemory(MemoryCreation(
            id: id, personaId: personaId, type: type, name: name, content: content, summary: summary, tags: tags,
            importance: importance, tier: tier, embedding: embedding, embeddingModel: embeddingModel)), envelope: envelope)
    }

    /// Changes the fields `patch` holds (CMD-102).
    @discardableResult
    public func updatePersona(_ patch: PersonaPatch, envelope: Envelope = Envelope()) async throws -> LSN {
        try await execute(.updatePersona(patch), envelope: envelope)
    }

    /// Changes the fields `patch` holds (CMD-107).
    @discardableResult
    public func updateMemory(_ patch: MemoryPatch, envelope: Envelope = Envelope()) async throws -> LSN {
        try await execute(.updateMemory(patch), envelope: envelope)
    }

    /// Soft-deletes a memory (CMD-108): it stays in the log, the digests and `dump`.
    @discardableResult
    public func deleteMemory(id: String, envelope: Envelope = Envelope()) async throws -> LSN {
        try await execute(.deleteMemory(id: id), envelope: envelope)
    }

    /// A new conversation of `personaId` (CMD-109).
    @discardableResult
    public func createConversation(id: String, personaId: String, title: String = "", envelope: Envelope = Envelope()) async throws -> LSN {
        try await execute(.createConversation(id: id, personaId: personaId, title: title), envelope: envelope)
    }

    /// The next message of a conversation (CMD-109).
    @discardableResult
    public func addMessage(conversationId: String, role: MessageRole, content: String, envelope: Envelope = Envelope()) async throws -> LSN {
        try await execute(.addMessage(conversationId: conversationId, role: role, content: content), envelope: envelope)
    }
}
