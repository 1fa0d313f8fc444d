/// The field rules of Specs/Commands.md §2 (CMD-010 … CMD-013).
enum Validation {

    /// CMD-010.
    static func id(_ id: String, _ what: String) throws(CommandRejection) {
        if id.isEmpty { throw CommandRejection("\(what) is empty") }
        if id.utf8.count > EngineLimits.idSizeMax { throw CommandRejection("\(what) is \(id.utf8.count) bytes, limit \(EngineLimits.idSizeMax)") }
        // Control characters (Unicode category Cc) are U+0000–U+001F and U+007F–U+009F:
        // in UTF-8 the bytes 00–1F and 7F, and C2 followed by 80–9F.
        var previous: UInt8 = 0
        for byte in id.utf8 {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && (0x80...0x9F).contains(byte)) {
                throw CommandRejection("\(what) contains a control character")
            }
            previous = byte
        }
    }

    /// CMD-011: a persona's name is 1…256 bytes and not only white space.
    static func name(_ name: String) throws(CommandRejection) {
        // Fast path: a name that starts with a printable ASCII character is not all white space.
        let first = name.utf8.first ?? 0
        let startsPrintable = first > 0x20 && first < 0x7F
        if !startsPrintable && name.allSatisfy(\.isWhitespace) { throw CommandRejection("name is empty") }
        if name.utf8.count > EngineLimits.nameSizeMax { throw CommandRejection("name is \(name.utf8.count) bytes, limit \(EngineLimits.nameSizeMax)") }
    }

    /// CMD-011: a memory's name is 0…256 bytes (the original model's `TEXT DEFAULT ''`).
    static func memoryName(_ name: String) throws(CommandRejection) { try text(name, "name", max: EngineLimits.nameSizeMax) }

    static func text(_ text: String, _ what: String, max: Int) throws(CommandRejection) {
        if text.utf8.count > max { throw CommandRejection("\(what) is \(text.utf8.count) bytes, limit \(max)") }
    }

    static func strings(_ values: [String], _ what: String) throws(CommandRejection) {
        if values.count > EngineLimits.tagCountMax { throw CommandRejection("\(values.count) \(what)s, limit \(EngineLimits.tagCountMax)") }
        for value in values where value.isEmpty || value.utf8.count > EngineLimits.tagSizeMax {
            throw CommandRejection("a \(what) must be 1…\(EngineLimits.tagSizeMax) bytes")
        }
    }

    static func tags(_ tags: [String]) throws(CommandRejection) { try strings(tags, "tag") }

    /// CMD-012.
    static func importance(_ value: Int) throws(CommandRejection) {
        if !(0...100).contains(value) { throw CommandRejection("importance \(value) is outside 0…100") }
    }

    /// CMD-013.
    static func embedding(_ vector: [Float], dimension: Int) throws(CommandRejection) {
        if vector.count != dimension {
            throw CommandRejection("embedding has dimension \(vector.count), the store's is \(dimension)")
        }
        if !vector.allSatisfy(\.isFinite) { throw CommandRejection("embedding holds a NaN or infinity") }
    }

    static func modelName(_ name: String) throws(CommandRejection) {
        if name.isEmpty || name.utf8.count > EngineLimits.modelNameSizeMax {
            throw CommandRejection("embedding model name must be 1…\(EngineLimits.modelNameSizeMax) bytes")
        }
    }

    static func personality(_ p: Personality) throws(CommandRejection) {
        try strings(p.traits, "trait")
        try text(p.temperament, "temperament", max: EngineLimits.tagSizeMax)
        try text(p.communicationStyle, "communicationStyle", max: EngineLimits.tagSizeMax)
    }

    static func memoryConfiguration(_ c: MemoryConfiguration) throws(CommandRejection) {
        if !(0...Int(UInt32.max)).contains(c.maxMemories) { throw CommandRejection("maxMemories is out of range") }
        if !(0...100).contains(c.memoryImportanceThreshold) {
            throw CommandRejection("memoryImportanceThreshold \(c.memoryImportanceThreshold) is outside 0…100")
        }
        if !(0...Int(UInt32.max)).contains(c.retentionPeriod) { throw CommandRejection("retentionPeriod is out of range") }
        try strings(c.memoryCategories, "memory category")
    }

    /// CMD-100.
    static func initialization(_ s: StoreInitialization) throws(CommandRejection) {
        if !EngineLimits.shardCountRange.contains(s.shards.count) { throw CommandRejection("a store has \(EngineLimits.shardCountRange.text) shards, not \(s.shards.count)") }
        if Set(s.shards).count != s.shards.count { throw CommandRejection("shard ids must be distinct") }
        for shard in s.shards where !Router.isValidShardID(shard) {
            throw CommandRejection("shard id \(shard) is not 1…64 characters of A-Z a-z 0-9 _ . -")
        }
        if !EngineLimits.virtualNodesRange.contains(s.virtualNodes) { throw CommandRejection("virtual nodes must be \(EngineLimits.virtualNodesRange.text)") }
        if !EngineLimits.embeddingDimensionRange.contains(s.embeddingDimension) {
            throw CommandRejection("embedding dimension must be \(EngineLimits.embeddingDimensionRange.text)")
        }
        if s.strategy == .range {
            if s.rangeBoundaries.count != s.shards.count - 1 {
                throw CommandRejection("range strategy needs \(s.shards.count - 1) boundaries, got \(s.rangeBoundaries.count)")
            }
            for (a, b) in zip(s.rangeBoundaries, s.rangeBoundaries.dropFirst()) where !Router.utf8Less(a, b) {
                throw CommandRejection("range boundaries must strictly increase")
            }
        } else if !s.rangeBoundaries.isEmpty {
            throw CommandRejection("range boundaries are only for the range strategy")
        }
    }

    /// The content rules of a command (Specs/Commands.md §2): the checks that need no
    /// state, so a replay can skip them (ENG-021). `embeddingDimension` is the store's
    /// (nil before `initializeStore`, when no command that carries an embedding is valid).
    static func content(of command: Command, embeddingDimension: Int?) throws(CommandRejection) {
        func embedding(_ vector: [Float]) throws(CommandRejection) {
            guard let embeddingDimension else { throw CommandRejection("the store is not initialized") }
            try Validation.embedding(vector, dimension: embeddingDimension)
        }
        switch command {
        case .initializeStore:
            break  // CMD-100 depends on the state (only as the first command): checked by apply
        case .createPersona(let p):
            try id(p.id, "persona id")
            try name(p.name)
            try text(p.description, "description", max: EngineLimits.shortTextMax)
            try personality(p.personality)
            try memoryConfiguration(p.memoryConfiguration)
        case .updatePersona(let patch):
            if patch.isEmpty { throw CommandRejection("updatePersona needs at least one field to change") }
            if let value = patch.name { try name(value) }
            if let value = patch.description { try text(value, "description", max: EngineLimits.shortTextMax) }
            if let value = patch.personality { try personality(value) }
            if let value = patch.memoryConfiguration { try memoryConfiguration(value) }
        case .deletePersona, .activatePersona, .deactivatePersona, .setMemoryTier, .markMemoryAccessed, .deleteMemory,
            .deleteConversation:
            break
        case .addMemory(let m):
            try id(m.id, "memory id")
            try memoryName(m.name)
            try text(m.content, "content", max: EngineLimits.contentSizeMax)
            if let summary = m.summary { try text(summary, "summary", max: EngineLimits.shortTextMax) }
            try tags(m.tags)
            try importance(m.importance)
            if let vector = m.embedding { try embedding(vector) }
            if let model = m.embeddingModel { try modelName(model) }
        case .updateMemory(let patch):
            if patch.isEmpty { throw CommandRejection("updateMemory needs at least one field to change") }
            if let value = patch.name { try memoryName(value) }
            if let value = patch.content { try text(value, "content", max: EngineLimits.contentSizeMax) }
            if let value = patch.summary { try text(value, "summary", max: EngineLimits.shortTextMax) }
            if let value = patch.tags { try tags(value) }
            if let value = patch.importance { try importance(value) }
        case .updateMemoryEmbedding(_, let vector, let model):
            try embedding(vector)
            if let model { try modelName(model) }
        case .setMemoryAccess(_, let accessCount, _):
            if accessCount < 0 || accessCount > Int(UInt32.max) { throw CommandRejection("accessCount \(accessCount) is out of range") }
        case .createConversation(let conversationID, _, let title):
            try id(conversationID, "conversation id")
            try text(title, "title", max: EngineLimits.shortTextMax)
        case .addMessage(_, _, let content):
            try text(content, "message content", max: EngineLimits.contentSizeMax)
        case .workflow:
            break  // appended by the engine's drivers; checked against the workflow's state (WF-003)
        }
    }
}
