import CommandLog
import Foundation
import GRDB

/// One live entity with the shard that holds it (`shardlog dump`).
public enum StoredEntity: Sendable {
    case persona(Persona, shard: String)
    case memory(MemoryEntity, shard: String)
    case conversation(Conversation, shard: String)
    case message(Message, conversationID: String, shard: String)
}

/// A command as the audit trail shows it (`shardlog log`).
public struct LoggedEntry: Sendable {
    public var lsn: LSN
    public var timestamp: Timestamp
    public var actor: String
    public var reason: String?
    public var commandID: String?
    public var command: Command
}

extension ShardStore {
    /// Every entity of every shard, shard by shard, streamed (memory stays bounded).
    public func forEachEntity(_ body: (StoredEntity) throws -> Void) throws {
        try settle()
        for shard in shardIDs {
            guard let projection = projection(forShard: shard) else { continue }
            try projection.pool.read { db in
                let personas = try Row.fetchCursor(db, sql: "SELECT * FROM personas ORDER BY id")
                while let row = try personas.next() { try body(.persona(try ShardProjection.persona(row), shard: shard)) }
                let memories = try Row.fetchCursor(db, sql: "SELECT \(ShardProjection.memoryColumns) FROM memories ORDER BY id")
                while let row = try memories.next() { try body(.memory(try ShardProjection.memory(row), shard: shard)) }
                let conversations = try Row.fetchCursor(db, sql: "SELECT * FROM conversations ORDER BY id")
                while let row = try conversations.next() { try body(.conversation(ShardProjection.conversation(row), shard: shard)) }
                let messages = try Row.fetchCursor(db, sql: "SELECT * FROM messages ORDER BY conversation_id, sequence")
                while let row = try messages.next() {
                    let message = Message(
                        sequence: row["sequence"], role: MessageRole(rawValue: row["role"]) ?? .user, content: row["content"],
                        createdAt: Timestamp(rawValue: row["created_at"]))
                    try body(.message(message, conversationID: row["conversation_id"], shard: shard))
                }
            }
        }
    }

    /// The audit trail: every command in `from…through`, decoded, in LSN order.
    public func forEachLoggedCommand(from: LSN = LSN(1), through: LSN? = nil, _ body: (LoggedEntry) throws -> Void) throws {
        try Self.forEachLoggedCommand(logDirectory: layout.logDirectory, from: from, through: through ?? log.lastLSN, body)
    }

    /// The same from a log directory, without opening the store (read-only, no lock).
    public static func forEachLoggedCommand(
        logDirectory: String, from: LSN = LSN(1), through: LSN? = nil, _ body: (LoggedEntry) throws -> Void
    ) throws {
        try LogReader(directory: logDirectory).forEach(from: from, through: through) { view in
            let command: Command
            do { command = try Command.decode(view) } catch {
                throw ShardLogError.incompatible(reason: "LSN \(view.lsn) does not decode: \(error)")
            }
            try body(LoggedEntry(
                lsn: view.lsn, timestamp: view.timestamp, actor: view.actor, reason: view.reason, commandID: view.commandID,
                command: command))
        }
    }
}
