/// A point in time as the log stores it: signed microseconds since
/// 1970-01-01T00:00:00Z (LOG-060). The log never reads a clock; whoever builds
/// a command chooses its timestamp, so replay is deterministic.
public struct Timestamp: RawRepresentable, Hashable, Comparable, Sendable, Codable {
    public var microsecondsSince1970: Int64
    public var rawValue: Int64 { microsecondsSince1970 }
    public init(rawValue: Int64) { self.microsecondsSince1970 = rawValue }
    public init(microsecondsSince1970: Int64) { self.microsecondsSince1970 = microsecondsSince1970 }
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSince1970 < rhs.microsecondsSince1970
    }
}

/// A command to append: the envelope (everything but the LSN, which the log
/// assigns) and the opaque payload whose meaning the type tag gives.
public struct CommandDraft: Hashable, Sendable {
    public var timestamp: Timestamp
    /// Who issued the command (a user, a service, `"system"`); may be empty.
    public var actor: String
    /// Why, when someone said so.
    public var reason: String?
    /// An idempotency key chosen by the caller.
    public var commandID: String?
    /// What kind of command this is; 0 is reserved.
    public var typeTag: UInt16
    /// The version of the payload's encoding for this type.
    public var typeVersion: UInt16
    public var payload: [UInt8]

    /// Why an envelope breaks LOG-060's size limits, or nil. Callers that build drafts late
    /// (the engine checks envelopes before it changes any state) use it to check early.
    public static func envelopeProblem(actor: String, reason: String?, commandID: String?) -> String? {
        if actor.utf8.count > Limits.actorSizeMax {
            return "actor is \(actor.utf8.count) bytes, limit \(Limits.actorSizeMax)"
        }
        if let reason, reason.utf8.count > Limits.reasonSizeMax {
            return "reason is \(reason.utf8.count) bytes, limit \(Limits.reasonSizeMax)"
        }
        if let commandID, commandID.utf8.count > Limits.commandIDSizeMax {
            return "command id is \(commandID.utf8.count) bytes, limit \(Limits.commandIDSizeMax)"
        }
        return nil
    }

    public init(
        timestamp: Timestamp, actor: String, reason: String? = nil, commandID: String? = nil,
        typeTag: UInt16, typeVersion: UInt16 = 1, payload: [UInt8]
    ) {
        self.timestamp = timestamp
        self.actor = actor
        self.reason = reason
        self.commandID = commandID
        self.typeTag = typeTag
        self.typeVersion = typeVersion
        self.payload = payload
    }
}

/// A command read back from the log: the draft it was appended from, and its LSN.
/// The draft's fields read directly (`command.actor`, `command.payload`).
@dynamicMemberLookup
public struct LoggedCommand: Hashable, Sendable {
    public var lsn: LSN
    public var draft: CommandDraft

    public init(lsn: LSN, draft: CommandDraft) {
        self.lsn = lsn
        self.draft = draft
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<CommandDraft, T>) -> T { draft[keyPath: keyPath] }
}
