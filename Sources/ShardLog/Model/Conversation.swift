import CommandLog

/// Who said a message.
public enum MessageRole: String, CaseIterable, Hashable, Sendable, Codable {
    case user, assistant, system
}

/// One message of a conversation; messages are numbered from 1 in the order they were added.
public struct Message: Hashable, Sendable {
    public var sequence: Int
    public var role: MessageRole
    public var content: String
    public var createdAt: Timestamp

    public init(sequence: Int, role: MessageRole, content: String, createdAt: Timestamp) {
        self.sequence = sequence
        self.role = role
        self.content = content
        self.createdAt = createdAt
    }
}

/// A conversation of a persona, with its messages when read with them.
public struct Conversation: Hashable, Sendable {
    public var id: String
    public var personaId: String
    public var title: String
    public var messageCount: Int
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var messages: [Message]

    public init(
        id: String, personaId: String, title: String, messageCount: Int = 0, createdAt: Timestamp,
        updatedAt: Timestamp, messages: [Message] = []
    ) {
        self.id = id
        self.personaId = personaId
        self.title = title
        self.messageCount = messageCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.messages = messages
    }
}
