import CommandLog

// The version-1 payload layouts of Specs/Commands.md §3.

extension PayloadWriter {
    mutating func personality(_ p: Personality) {
        strings(p.traits)
        string(p.temperament)
        string(p.communicationStyle)
    }
    mutating func memoryConfiguration(_ c: MemoryConfiguration) {
        u32(UInt32(clamping: c.maxMemories))
        u8(UInt8(clamping: c.memoryImportanceThreshold))
        bool(c.autoOptimize)
        u32(UInt32(clamping: c.retentionPeriod))
        strings(c.memoryCategories)
        bool(c.compressionEnabled)
    }
    mutating func privacySettings(_ s: PrivacySettings) {
        bool(s.dataCollection)
        bool(s.analyticsEnabled)
        bool(s.shareWithResearchers)
        bool(s.allowPersonalityAnalysis)
        bool(s.memoryRetention)
        bool(s.exportDataAllowed)
    }
}

extension PayloadReader {
    mutating func personality() throws(PayloadError) -> Personality {
        Personality(traits: try strings("traits"), temperament: try string("temperament"), communicationStyle: try string("communicationStyle"))
    }
    mutating func memoryConfiguration() throws(PayloadError) -> MemoryConfiguration {
        MemoryConfiguration(
            maxMemories: Int(try u32("maxMemories")), memoryImportanceThreshold: Int(try u8("memoryImportanceThreshold")),
            autoOptimize: try bool("autoOptimize"), retentionPeriod: Int(try u32("retentionPeriod")),
            memoryCategories: try strings("memoryCategories"), compressionEnabled: try bool("compressionEnabled"))
    }
    mutating func privacySettings() throws(PayloadError) -> PrivacySettings {
        PrivacySettings(
            dataCollection: try bool("dataCollection"), analyticsEnabled: try bool("analyticsEnabled"),
            shareWithResearchers: try bool("shareWithResearchers"), allowPersonalityAnalysis: try bool("allowPersonalityAnalysis"),
            memoryRetention: try bool("memoryRetention"), exportDataAllowed: try bool("exportDataAllowed"))
    }
}

extension Command {
    /// The version-1 payload of this command.
    public func encodedPayload() -> [UInt8] {
        var w = PayloadWriter()
        switch self {
        case .initializeStore(let s):
            w.u8(s.strategy.code)
            w.u16(UInt16(clamping: s.virtualNodes))
            w.u32(UInt32(clamping: s.embeddingDimension))
            w.strings(s.shards)
            w.strings(s.rangeBoundaries)
        case .createPersona(let p):
            w.string(p.id)
            w.string(p.shard)
            w.string(p.name)
            w.string(p.description)
            w.personality(p.personality)
            w.memoryConfiguration(p.memoryConfiguration)
            w.privacySettings(p.privacySettings)
            w.bool(p.isActive)
        case .updatePersona(let p):
            w.string(p.id)
            w.optional(p.name) { $0.string($1) }
            w.optional(p.description) { $0.string($1) }
            w.optional(p.personality) { $0.personality($1) }
            w.optional(p.memoryConfiguration) { $0.memoryConfiguration($1) }
            w.optional(p.privacySettings) { $0.privacySettings($1) }
        case .deletePersona(let id), .activatePersona(let id), .deactivatePersona(let id),
            .markMemoryAccessed(let id), .deleteMemory(let id), .deleteConversation(let id):
            w.string(id)
        case .addMemory(let m):
            w.string(m.id)
            w.string(m.personaId)
            w.u8(m.type.code)
            w.string(m.name)
            w.string(m.content)
            w.optional(m.summary) { $0.string($1) }
            w.strings(m.tags)
            w.u8(UInt8(clamping: m.importance))
            w.u8(m.tier.code)
            w.optional(m.embedding) { $0.vector($1) }
            w.optional(m.embeddingModel) { $0.string($1) }
        case .updateMemory(let m):
            w.string(m.id)
            w.optional(m.type) { $0.u8($1.code) }
            w.optional(m.name) { $0.string($1) }
            w.optional(m.content) { $0.string($1) }
            w.optional(m.summary) { $0.string($1) }
            w.optional(m.tags) { $0.strings($1) }
            w.optional(m.importance) { $0.u8(UInt8(clamping: $1)) }
        case .setMemoryTier(let id, let tier):
            w.string(id)
            w.u8(tier.code)
        case .updateMemoryEmbedding(let id, let embedding, let model):
            w.string(id)
            w.vector(embedding)
            w.optional(model) { $0.string($1) }
        case .createConversation(let id, let personaId, let title):
            w.string(id)
            w.string(personaId)
            w.string(title)
        case .addMessage(let conversationId, let role, let content):
            w.string(conversationId)
            w.u8(role.code)
            w.string(content)
        case .setMemoryAccess(let id, let accessCount, let lastAccessedAt):
            w.string(id)
            w.u32(UInt32(clamping: accessCount))
            w.optional(lastAccessedAt) { $0.u64(UInt64(bitPattern: $1.microsecondsSince1970)) }
        case .workflow(let step):
            step.encode(into: &w)
        }
        return w.bytes
    }

    /// The commands whose bulk fields `decode(_:skippingBulk:)` can skip.
    var hasBulkFields: Bool {
        switch self {
        case .addMemory, .updateMemory, .updateMemoryEmbedding, .addMessage, .workflow(.migrationCopied), .workflow(.memoryMoved): true
        default: false
        }
    }

    /// Decodes a payload (CMD-001, CMD-002).
    public static func decode(typeTag: UInt16, typeVersion: UInt16, payload: UnsafeRawBufferPointer) throws(PayloadError) -> Command {
        try decode(typeTag: typeTag, typeVersion: typeVersion, payload: payload, skippingBulk: false)
    }

    /// Decodes a payload (CMD-001, CMD-002). With `skippingBulk`, the bulk fields of
    /// addMemory, updateMemory, updateMemoryEmbedding and addMessage (texts other than ids,
    /// tags, embeddings) are checked for framing but come back empty: for a rebuild that
    /// needs only the ids of commands whose rows it does not write (ENG-022).
    static func decode(
        typeTag: UInt16, typeVersion: UInt16, payload: UnsafeRawBufferPointer, skippingBulk: Bool
    ) throws(PayloadError) -> Command {
        guard typeVersion == 1 else {
            throw PayloadError("type \(typeTag) version \(typeVersion) is unknown to this ShardLog (written by a newer one?)")
        }
        var r = PayloadReader(payload)
        r.skipsBulk = skippingBulk
        let command: Command
        switch typeTag {
        case 1:
            let code = try r.u8("strategy")
            guard let strategy = ShardingStrategy(code: code) else { throw PayloadError("strategy \(code) is unknown") }
            command = .initializeStore(
                StoreInitialization(
                    strategy: strategy, virtualNodes: Int(try r.u16("virtualNodes")),
                    embeddingDimension: Int(try r.u32("embeddingDimension")), shards: try r.strings("shards"),
                    rangeBoundaries: try r.strings("rangeBoundaries")))
        case 2:
            command = .createPersona(
                PersonaCreation(
                    id: try r.string("id"), shard: try r.string("shard"), name: try r.string("name"),
                    description: try r.string("description"), personality: try r.personality(),
                    memoryConfiguration: try r.memoryConfiguration(), privacySettings: try r.privacySettings(),
                    isActive: try r.bool("isActive")))
        case 3:
            command = .updatePersona(
                PersonaPatch(
                    id: try r.string("id"),
                    name: try r.optional("name") { (r: inout PayloadReader) throws(PayloadError) in try r.string("name") },
                    description: try r.optional("description") { (r: inout PayloadReader) throws(PayloadError) in try r.string("description") },
                    personality: try r.optional("personality") { (r: inout PayloadReader) throws(PayloadError) in try r.personality() },
                    memoryConfiguration: try r.optional("memoryConfiguration") { (r: inout PayloadReader) throws(PayloadError) in try r.memoryConfiguration() },
                    privacySettings: try r.optional("privacySettings") { (r: inout PayloadReader) throws(PayloadError) in try r.privacySettings() }))
        case 4: command = .deletePersona(id: try r.string("id"))
        case 5: command = .activatePersona(id: try r.string("id"))
        case 6: command = .deactivatePersona(id: try r.string("id"))
        case 7:
            command = .addMemory(
                MemoryCreation(
                    id: try r.string("id"), personaId: try r.string("personaId"), type: try MemoryType(code: r.u8("type")),
                    name: try r.bulkString("name"), content: try r.bulkString("content"),
                    summary: try r.optional("summary") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("summary") },
                    tags: try r.bulkStrings("tags"), importance: Int(try r.u8("importance")), tier: try MemoryTier(code: r.u8("tier")),
                    embedding: try r.optional("embedding") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkVector("embedding") },
                    embeddingModel: try r.optional("embeddingModel") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("embeddingModel") }))
        case 8:
            command = .updateMemory(
                MemoryPatch(
                    id: try r.string("id"),
                    type: try r.optional("type") { (r: inout PayloadReader) throws(PayloadError) in try MemoryType(code: r.u8("type")) },
                    name: try r.optional("name") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("name") },
                    content: try r.optional("content") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("content") },
                    summary: try r.optional("summary") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("summary") },
                    tags: try r.optional("tags") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkStrings("tags") },
                    importance: try r.optional("importance") { (r: inout PayloadReader) throws(PayloadError) in Int(try r.u8("importance")) }))
        case 9: command = .setMemoryTier(id: try r.string("id"), tier: try MemoryTier(code: r.u8("tier")))
        case 10: command = .markMemoryAccessed(id: try r.string("id"))
        case 11:
            command = .updateMemoryEmbedding(
                id: try r.string("id"), embedding: try r.bulkVector("embedding"),
                model: try r.optional("embeddingModel") { (r: inout PayloadReader) throws(PayloadError) in try r.bulkString("embeddingModel") })
        case 12: command = .deleteMemory(id: try r.string("id"))
        case 13:
            command = .createConversation(id: try r.string("id"), personaId: try r.string("personaId"), title: try r.string("title"))
        case 14:
            command = .addMessage(
                conversationId: try r.string("conversationId"), role: try MessageRole(code: r.u8("role")),
                content: try r.bulkString("content"))
        case 15: command = .deleteConversation(id: try r.string("id"))
        case 16:
            command = .setMemoryAccess(
                id: try r.string("id"), accessCount: Int(try r.u32("accessCount")),
                lastAccessedAt: try r.optional("lastAccessedAt") { (r: inout PayloadReader) throws(PayloadError) in
                    Timestamp(microsecondsSince1970: Int64(bitPattern: try r.u64("lastAccessedAt")))
                })
        case 32...48:
            command = .workflow(try WorkflowCommand.decode(typeTag: typeTag, &r))
        default:
            throw PayloadError("type tag \(typeTag) is unknown to this ShardLog (written by a newer one?)")
        }
        try r.finish()
        return command
    }

    /// Decodes the command of a log record.
    public static func decode(_ view: CommandView) throws(PayloadError) -> Command {
        try decode(typeTag: view.typeTag, typeVersion: view.typeVersion, payload: view.payload, skippingBulk: false)
    }

    static func decode(_ view: CommandView, skippingBulk: Bool) throws(PayloadError) -> Command {
        try decode(typeTag: view.typeTag, typeVersion: view.typeVersion, payload: view.payload, skippingBulk: skippingBulk)
    }
}
