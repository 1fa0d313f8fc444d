import CommandLog
import Foundation

/// The JSON forms ShardLog prints: commands as `shardlog log` shows them (Specs/Commands.md
/// §5) and entities as `dump` and the reads show them.
extension CommandJSON {
    /// The command's fields as `shardlog log` prints them (the same names `apply` reads).
    public static func fields(_ command: Command) -> [String: Any] {
        var o: [String: Any] = ["op": command.op]
        switch command {
        case .initializeStore(let s):
            o["strategy"] = s.strategy.rawValue
            o["virtualNodes"] = s.virtualNodes
            o["embeddingDimension"] = s.embeddingDimension
            o["shards"] = s.shards
            o["rangeBoundaries"] = s.rangeBoundaries
        case .createPersona(let p):
            o["id"] = p.id
            o["shard"] = p.shard
            o["name"] = p.name
            o["description"] = p.description
            o["personality"] = json(p.personality)
            o["memoryConfiguration"] = json(p.memoryConfiguration)
            o["privacySettings"] = json(p.privacySettings)
            o["isActive"] = p.isActive
        case .updatePersona(let p):
            o["id"] = p.id
            if let v = p.name { o["name"] = v }
            if let v = p.description { o["description"] = v }
            if let v = p.personality { o["personality"] = json(v) }
            if let v = p.memoryConfiguration { o["memoryConfiguration"] = json(v) }
            if let v = p.privacySettings { o["privacySettings"] = json(v) }
        case .deletePersona(let id), .activatePersona(let id), .deactivatePersona(let id), .markMemoryAccessed(let id),
            .deleteMemory(let id), .deleteConversation(let id):
            o["id"] = id
        case .addMemory(let m):
            o["id"] = m.id
            o["personaId"] = m.personaId
            o["type"] = m.type.rawValue
            o["name"] = m.name
            o["content"] = m.content
            if let v = m.summary { o["summary"] = v }
            o["tags"] = m.tags
            o["importance"] = m.importance
            o["tier"] = m.tier.rawValue
            if let v = m.embedding { o["embedding"] = v.map(Double.init) }
            if let v = m.embeddingModel { o["embeddingModel"] = v }
        case .updateMemory(let m):
            o["id"] = m.id
            if let v = m.type { o["type"] = v.rawValue }
            if let v = m.name { o["name"] = v }
            if let v = m.content { o["content"] = v }
            if let v = m.summary { o["summary"] = v }
            if let v = m.tags { o["tags"] = v }
            if let v = m.importance { o["importance"] = v }
        case .setMemoryTier(let id, let tier):
            o["id"] = id
            o["tier"] = tier.rawValue
        case .updateMemoryEmbedding(let id, let embedding, let model):
            o["id"] = id
            o["embedding"] = embedding.map(Double.init)
            if let model { o["embeddingModel"] = model }
        case .createConversation(let id, let personaID, let title):
            o["id"] = id
            o["personaId"] = personaID
            o["title"] = title
        case .addMessage(let conversationID, let role, let content):
            o["conversationId"] = conversationID
            o["role"] = role.rawValue
            o["content"] = content
        case .setMemoryAccess(let id, let accessCount, let lastAccessedAt):
            o["id"] = id
            o["accessCount"] = accessCount
            if let lastAccessedAt { o["lastAccessedAt"] = ISO8601.format(lastAccessedAt) }
        case .workflow(let step):
            for (key, value) in fields(step) { o[key] = value }
        }
        return o
    }

    /// A workflow step's fields (Specs/Commands.md §5): a copy step's rows in full
    /// (`rowSet`) and, as before, their count and ids; a step's own reason as
    /// `stepReason`, apart from the envelope's `reason`.
    static func fields(_ step: WorkflowCommand) -> [String: Any] {
        var o: [String: Any] = [:]
        if let id = step.migrationId { o["migrationId"] = id }
        switch step {
        case .addShard(let id), .drainShard(let id), .removeShard(let id):
            o["shard"] = id
        case .migrationStarted(_, let persona, let source, let target, let batchSize, let reverseOf, let planId):
            o["personaId"] = persona
            o["source"] = source
            o["target"] = target
            o["batchSize"] = batchSize
            if let reverseOf { o["reverseOf"] = reverseOf }
            if let planId { o["planId"] = planId }
        case .migrationCopied(_, let rows, let cursor):
            o["rowSet"] = rowSetObject(rows)
            o["rows"] = rows.rowCount
            if let persona = rows.persona { o["personaRow"] = persona.id }
            o["memoryIds"] = rows.memories.map(\.id)
            o["conversationIds"] = rows.conversations.map(\.id)
            o["messages"] = rows.messages.count
            o["cursor"] = ["table": cursor.table.name, "key": cursor.key, "sequence": cursor.sequence] as [String: Any]
        case .migrationVerify, .migrationCutOver, .migrationCompleted:
            break
        case .migrationVerified(_, let sourceDigest, let targetDigest, let atLSN):
            o["sourceDigest"] = sourceDigest
            o["targetDigest"] = targetDigest
            o["atLSN"] = Int(atLSN.rawValue)
        case .migrationAborted(_, let reason):
            o["stepReason"] = reason
        case .migrationFailed(_, let reason, let sourceDigest, let targetDigest):
            o["stepReason"] = reason
            o["sourceDigest"] = sourceDigest
            o["targetDigest"] = targetDigest
        case .memoryMoved(_, let memory, let source, let target, let row):
            o["memoryId"] = memory
            o["personaId"] = row.personaId
            o["source"] = source
            o["target"] = target
            o["row"] = object(row)
        case .rebalancePlanned(let planId, let moves, let analysis):
            o["planId"] = planId
            o["moves"] = moves.map { ["personaId": $0.personaId, "source": $0.source, "target": $0.target, "records": $0.records, "bytes": $0.bytes] as [String: Any] }
            o["analysis"] = (try? JSONSerialization.jsonObject(with: Data(analysis.utf8))) ?? analysis
        case .rebalanceCompleted(let planId, let validation):
            o["planId"] = planId
            o["validation"] = (try? JSONSerialization.jsonObject(with: Data(validation.utf8))) ?? validation
        case .rebalanceRollbackStarted(let planId), .rebalanceRolledBack(let planId):
            o["planId"] = planId
        case .rebalanceStopped(let planId, let reason):
            o["planId"] = planId
            o["stepReason"] = reason
        }
        return o
    }

    /// The persona id a command concerns, for `shardlog log --persona` (nil when it needs
    /// the store's state to know, as for memory and conversation ids).
    public static func personaID(_ command: Command) -> String? {
        switch command {
        case .createPersona(let p): return p.id
        case .updatePersona(let p): return p.id
        case .deletePersona(let id), .activatePersona(let id), .deactivatePersona(let id): return id
        case .addMemory(let m): return m.personaId
        case .createConversation(_, let personaID, _): return personaID
        case .workflow(.migrationStarted(_, let personaID, _, _, _, _, _)): return personaID
        case .workflow(.memoryMoved(_, _, _, _, let row)): return row.personaId
        default: return nil
        }
    }

    /// The rows of a copy step, each as `dump` prints its kind (a conversation without
    /// its messages: they are listed under `messages`, each with its conversation's id).
    static func rowSetObject(_ rows: RowSet) -> [String: Any] {
        [
            "persona": rows.persona.map(object) ?? NSNull(),
            "memories": rows.memories.map(object),
            "conversations": rows.conversations.map { object($0, withMessages: false) },
            "messages": rows.messages.map { object($0.message, conversationID: $0.conversationId) },
        ]
    }

    static func json<T: Encodable>(_ value: T) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(JSONText.encode(value).utf8))) ?? [:]
    }

    // MARK: Entities (`dump`, `persona get`, …)

    public static func object(_ p: Persona) -> [String: Any] {
        [
            "id": p.id, "name": p.name, "description": p.description, "personality": json(p.personality),
            "memoryConfiguration": json(p.memoryConfiguration), "privacySettings": json(p.privacySettings),
            "isActive": p.isActive, "createdAt": ISO8601.format(p.createdAt), "updatedAt": ISO8601.format(p.updatedAt),
        ]
    }

    public static func object(_ m: MemoryEntity) -> [String: Any] {
        var o: [String: Any] = [
            "id": m.id, "personaId": m.personaId, "type": m.type.rawValue, "name": m.name, "content": m.content,
            "tags": m.tags, "importance": m.importance, "tier": m.tier.rawValue, "accessCount": m.accessCount,
            "createdAt": ISO8601.format(m.createdAt), "updatedAt": ISO8601.format(m.updatedAt),
        ]
        if let v = m.summary { o["summary"] = v }
        if let v = m.embedding { o["embedding"] = v.map(Double.init) }
        if let v = m.embeddingModel { o["embeddingModel"] = v }
        if let v = m.lastAccessedAt { o["lastAccessedAt"] = ISO8601.format(v) }
        if let v = m.deletedAt { o["deletedAt"] = ISO8601.format(v) }
        return o
    }

    public static func object(_ c: Conversation, withMessages: Bool) -> [String: Any] {
        var o: [String: Any] = [
            "id": c.id, "personaId": c.personaId, "title": c.title, "messageCount": c.messageCount,
            "createdAt": ISO8601.format(c.createdAt), "updatedAt": ISO8601.format(c.updatedAt),
        ]
        if withMessages { o["messages"] = c.messages.map { object($0, conversationID: c.id) } }
        return o
    }

    public static func object(_ m: Message, conversationID: String) -> [String: Any] {
        ["conversationId": conversationID, "sequence": m.sequence, "role": m.role.rawValue, "content": m.content,
         "createdAt": ISO8601.format(m.createdAt)]
    }

    /// One line of JSON with sorted keys.
    public static func line(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
