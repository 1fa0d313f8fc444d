import CommandLog
import Foundation

/// The JSON form of commands used by `shardlog apply` (input) and `shardlog log`
/// (output): one object per command, `{"op": "...", ...}`, field names in camelCase
/// as in the data model, plus the optional envelope fields `actor`, `reason`,
/// `commandId` and `timestamp` (Specs/Commands.md §2a).
public enum CommandJSON {
    /// Why a JSON command is not acceptable.
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
        init(_ reason: String) { self.reason = reason }
    }

    /// The ops `apply` accepts (every command but `initializeStore`, which `init` writes).
    public static let ops = [
        "createPersona", "updatePersona", "activatePersona", "deactivatePersona", "deletePersona", "addMemory",
        "updateMemory", "setMemoryTier", "markMemoryAccessed", "updateMemoryEmbedding", "deleteMemory",
        "createConversation", "addMessage", "deleteConversation", "setMemoryAccess",
    ]

    /// The ops of the workflow steps (Specs/Workflows.md): in the log, never in `apply`.
    public static let workflowOps = [
        "addShard", "drainShard", "removeShard", "migrationStarted", "migrationCopied", "migrationVerify", "migrationVerified",
        "migrationCutOver", "migrationCompleted", "migrationAborted", "migrationFailed", "memoryMoved", "rebalancePlanned",
        "rebalanceCompleted", "rebalanceRollbackStarted", "rebalanceRolledBack", "rebalanceStopped",
    ]

    /// The envelope's fields, which every op accepts (Specs/Commands.md §2a).
    public static let envelopeFields = ["op", "actor", "reason", "commandId", "timestamp"]

    /// The fields each op defines besides the envelope's. A field that is not here is
    /// refused, never ignored: a typo must not turn into a default (CMD-017).
    public static let fields: [String: [String]] = [
        "createPersona": ["id", "shard", "name", "description", "personality", "memoryConfiguration", "privacySettings", "isActive"],
        "updatePersona": ["id", "name", "description", "personality", "memoryConfiguration", "privacySettings"],
        "activatePersona": ["id"], "deactivatePersona": ["id"], "deletePersona": ["id"],
        "addMemory": ["id", "personaId", "type", "name", "content", "summary", "tags", "importance", "tier", "embedding", "embeddingModel"],
        "updateMemory": ["id", "type", "name", "content", "summary", "tags", "importance"],
        "setMemoryTier": ["id", "tier"], "markMemoryAccessed": ["id"], "updateMemoryEmbedding": ["id", "embedding", "embeddingModel"],
        "deleteMemory": ["id"], "setMemoryAccess": ["id", "accessCount", "lastAccessedAt"],
        "createConversation": ["id", "personaId", "title"], "addMessage": ["conversationId", "role", "content"],
        "deleteConversation": ["id"],
    ]

    /// The fields of the structured persona values (Specs/Commands.md §1).
    public static let structureFields: [String: [String]] = [
        "personality": ["traits", "temperament", "communicationStyle"],
        "memoryConfiguration": ["maxMemories", "memoryImportanceThreshold", "autoOptimize", "retentionPeriod", "memoryCategories", "compressionEnabled"],
        "privacySettings": ["dataCollection", "analyticsEnabled", "shareWithResearchers", "allowPersonalityAnalysis", "memoryRetention", "exportDataAllowed"],
    ]

    /// A line of a JSON-lines input that is not an acceptable command.
    public struct LineProblem: Error, Hashable, Sendable, CustomStringConvertible {
        /// The line's number, from 1.
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// One command of a JSON-lines input and the line it came from (from 1).
    public struct ParsedLine: Sendable {
        public var command: Command
        public var envelope: Envelope
        public var line: Int
    }

    /// Parses a whole JSON-lines input (CMD-018, CMD-017): lines end with LF or CRLF;
    /// lines of white space only are skipped; each line's bytes must be UTF-8 before
    /// anything decodes them. The first bad line is reported; nothing is returned then.
    public static func parseLines(_ data: Data) throws(LineProblem) -> [ParsedLine] {
        var parsed: [ParsedLine] = []
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            lineNumber += 1
            let newline = data[start...].firstIndex(of: 0x0A) ?? data.endIndex
            var end = newline
            if end > start && data[end - 1] == 0x0D { end -= 1 }  // CRLF: the CR is the line end's, not the line's
            let line = data[start..<end]
            start = newline == data.endIndex ? newline : newline + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                let (command, envelope) = try parse(line: line)
                parsed.append(ParsedLine(command: command, envelope: envelope, line: lineNumber))
            } catch {
                throw LineProblem(line: lineNumber, reason: error.reason)
            }
        }
        return parsed
    }

    /// Parses one line given as bytes: they must be UTF-8 (CMD-018), checked before any
    /// decoder sees them.
    public static func parse(line bytes: Data) throws(Problem) -> (Command, Envelope) {
        if let failure = UTF8Check.firstFailure(in: bytes) { throw Problem(failure.description) }
        return try parseJSON(bytes)
    }

    /// Parses one line.
    public static func parse(line: String) throws(Problem) -> (Command, Envelope) {
        try parseJSON(Data(line.utf8))
    }

    static func parseJSON(_ bytes: Data) throws(Problem) -> (Command, Envelope) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: bytes, options: [])
        } catch {
            throw Problem("not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else { throw Problem("not a JSON object") }
        return try parse(dictionary)
    }

    /// `unknown field "importnce" — did you mean "importance"?` for the first key of `o`
    /// (in sorted order, so the message does not depend on hashing) that is not in `known`.
    static func refuseUnknownFields(_ o: [String: Any], known: [String], prefix: String = "") throws(Problem) {
        guard let unknown = o.keys.filter({ !known.contains($0) }).sorted().first else { return }
        var message = "unknown field \"\(prefix)\(unknown)\""
        if let nearest = nearestName(to: unknown, in: known) { message += " — did you mean \"\(prefix)\(nearest)\"?" }
        throw Problem(message)
    }

    /// The known name closest to `name` by edit distance (case ignored), when it is close
    /// enough to be a typo: at most 2 edits, and at most a third of the name's length.
    static func nearestName(to name: String, in known: [String]) -> String? {
        let target = Array(name.lowercased())
        var best: (distance: Int, name: String)?
        for candidate in known {
            let distance = editDistance(target, Array(candidate.lowercased()))
            if distance < (best?.distance ?? Int.max) { best = (distance, candidate) }
        }
        guard let best, best.distance <= min(2, max(1, target.count / 3)) else { return nil }
        return best.name
    }

    /// Levenshtein distance (insert, delete, substitute, each 1).
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    public static func parse(_ o: [String: Any]) throws(Problem) -> (Command, Envelope) {
        let op = try Fields(o, allowed: ["op"]).string("op")
        if workflowOps.contains(op) {
            throw Problem("\"\(op)\" is a workflow step, appended by the engine only: use `shardlog shard`, `migrate`, `migration` or `rebalance`")
        }
        guard let opFields = fields[op] else { throw Problem("unknown op \"\(op)\" (one of: \(ops.joined(separator: ", ")))") }
        let known = envelopeFields + opFields
        try refuseUnknownFields(o, known: known)
        let f = Fields(o, allowed: known)
        var envelope = Envelope(actor: try f.optionalString("actor") ?? "cli", reason: try f.optionalString("reason"),
                                commandID: try f.optionalString("commandId"))
        if let timestamp = f.present("timestamp") { envelope.timestamp = try parseTimestamp(timestamp) }
        let command: Command
        switch op {
        case "createPersona":
            command = .createPersona(PersonaCreation(
                id: try f.string("id"), shard: try f.optionalString("shard") ?? "", name: try f.string("name"),
                description: try f.optionalString("description") ?? "",
                personality: try f.object("personality").map(personality) ?? Personality(),
                memoryConfiguration: try f.object("memoryConfiguration").map(memoryConfiguration) ?? MemoryConfiguration(),
                privacySettings: try f.object("privacySettings").map(privacySettings) ?? PrivacySettings(),
                isActive: try f.optionalBool("isActive") ?? false))
        case "updatePersona":
            command = .updatePersona(PersonaPatch(
                id: try f.string("id"), name: try f.optionalString("name"), description: try f.optionalString("description"),
                personality: try f.object("personality").map(personality),
                memoryConfiguration: try f.object("memoryConfiguration").map(memoryConfiguration),
                privacySettings: try f.object("privacySettings").map(privacySettings)))
        case "activatePersona": command = .activatePersona(id: try f.string("id"))
        case "deactivatePersona": command = .deactivatePersona(id: try f.string("id"))
        case "deletePersona": command = .deletePersona(id: try f.string("id"))
        case "addMemory":
            command = .addMemory(MemoryCreation(
                id: try f.string("id"), personaId: try f.string("personaId"),
                type: try f.enumValue("type", MemoryType.self) ?? .text, name: try f.optionalString("name") ?? "",
                content: try f.string("content"), summary: try f.optionalString("summary"),
                tags: try f.optionalStrings("tags") ?? [], importance: try f.optionalInt("importance") ?? 50,
                tier: try f.enumValue("tier", MemoryTier.self) ?? .hot, embedding: try f.optionalVector("embedding"),
                embeddingModel: try f.optionalString("embeddingModel")))
        case "updateMemory":
            command = .updateMemory(MemoryPatch(
                id: try f.string("id"), type: try f.enumValue("type", MemoryType.self), name: try f.optionalString("name"),
                content: try f.optionalString("content"), summary: try f.optionalString("summary"),
                tags: try f.optionalStrings("tags"), importance: try f.optionalInt("importance")))
        case "setMemoryTier":
            guard let tier = try f.enumValue("tier", MemoryTier.self) else { throw Problem("field \"tier\" is missing") }
            command = .setMemoryTier(id: try f.string("id"), tier: tier)
        case "markMemoryAccessed": command = .markMemoryAccessed(id: try f.string("id"))
        case "updateMemoryEmbedding":
            guard let embedding = try f.optionalVector("embedding") else { throw Problem("field \"embedding\" is missing") }
            command = .updateMemoryEmbedding(id: try f.string("id"), embedding: embedding, model: try f.optionalString("embeddingModel"))
        case "deleteMemory": command = .deleteMemory(id: try f.string("id"))
        case "setMemoryAccess":
            guard let count = try f.optionalInt("accessCount") else { throw Problem("field \"accessCount\" is missing") }
            command = .setMemoryAccess(
                id: try f.string("id"), accessCount: count,
                lastAccessedAt: try f.present("lastAccessedAt").map(parseTimestamp))
        case "createConversation":
            command = .createConversation(id: try f.string("id"), personaId: try f.string("personaId"), title: try f.optionalString("title") ?? "")
        case "addMessage":
            guard let role = try f.enumValue("role", MessageRole.self) else { throw Problem("field \"role\" is missing") }
            command = .addMessage(conversationId: try f.string("conversationId"), role: role, content: try f.string("content"))
        default: command = .deleteConversation(id: try f.string("id"))
        }
        return (command, envelope)
    }

    static func parseTimestamp(_ value: Any) throws(Problem) -> Timestamp {
        if !isJSONBoolean(value), let number = value as? NSNumber, let micros = Int64(exactly: number.doubleValue) {
            return Timestamp(microsecondsSince1970: micros)
        }
        if let text = value as? String, let timestamp = ISO8601.timestamp(text) { return timestamp }
        throw Problem("field \"timestamp\" must be microseconds since 1970 or an ISO-8601 date")
    }

    static func personality(_ o: [String: Any]) throws(Problem) -> Personality {
        try refuseUnknownFields(o, known: structureFields["personality"]!, prefix: "personality.")
        let f = Fields(o, allowed: structureFields["personality"]!, prefix: "personality.")
        let d = Personality()
        return Personality(
            traits: try f.optionalStrings("traits") ?? d.traits, temperament: try f.optionalString("temperament") ?? d.temperament,
            communicationStyle: try f.optionalString("communicationStyle") ?? d.communicationStyle)
    }

    static func memoryConfiguration(_ o: [String: Any]) throws(Problem) -> MemoryConfiguration {
        try refuseUnknownFields(o, known: structureFields["memoryConfiguration"]!, prefix: "memoryConfiguration.")
        let f = Fields(o, allowed: structureFields["memoryConfiguration"]!, prefix: "memoryConfiguration.")
        let d = MemoryConfiguration()
        return MemoryConfiguration(
            maxMemories: try f.optionalInt("maxMemories") ?? d.maxMemories,
            memoryImportanceThreshold: try f.optionalInt("memoryImportanceThreshold") ?? d.memoryImportanceThreshold,
            autoOptimize: try f.optionalBool("autoOptimize") ?? d.autoOptimize,
            retentionPeriod: try f.optionalInt("retentionPeriod") ?? d.retentionPeriod,
            memoryCategories: try f.optionalStrings("memoryCategories") ?? d.memoryCategories,
            compressionEnabled: try f.optionalBool("compressionEnabled") ?? d.compressionEnabled)
    }

    static func privacySettings(_ o: [String: Any]) throws(Problem) -> PrivacySettings {
        try refuseUnknownFields(o, known: structureFields["privacySettings"]!, prefix: "privacySettings.")
        let f = Fields(o, allowed: structureFields["privacySettings"]!, prefix: "privacySettings.")
        let d = PrivacySettings()
        return PrivacySettings(
            dataCollection: try f.optionalBool("dataCollection") ?? d.dataCollection,
            analyticsEnabled: try f.optionalBool("analyticsEnabled") ?? d.analyticsEnabled,
            shareWithResearchers: try f.optionalBool("shareWithResearchers") ?? d.shareWithResearchers,
            allowPersonalityAnalysis: try f.optionalBool("allowPersonalityAnalysis") ?? d.allowPersonalityAnalysis,
            memoryRetention: try f.optionalBool("memoryRetention") ?? d.memoryRetention,
            exportDataAllowed: try f.optionalBool("exportDataAllowed") ?? d.exportDataAllowed)
    }

    /// Strict field access: a present field of the wrong type is an error, never ignored.
    struct Fields {
        let o: [String: Any]
        /// The keys this object may have: reading any other is a mistake of the parser
        /// (its field tables and its reads must agree), caught by the tests' debug builds.
        let allowed: [String]
        let prefix: String
        init(_ o: [String: Any], allowed: [String], prefix: String = "") {
            self.o = o
            self.allowed = allowed
            self.prefix = prefix
        }

        func wrong(_ key: String, _ expected: String) -> Problem { Problem("field \"\(prefix)\(key)\" must be \(expected)") }
        func present(_ key: String) -> Any? {
            assert(allowed.contains(key), "field \(key) is read but not in the field table")
            guard let value = o[key], !(value is NSNull) else { return nil }
            return value
        }
        func string(_ key: String) throws(Problem) -> String {
            guard let value = present(key) else { throw Problem("field \"\(prefix)\(key)\" is missing") }
            guard let text = value as? String else { throw wrong(key, "a string") }
            return text
        }
        func optionalString(_ key: String) throws(Problem) -> String? {
            guard let value = present(key) else { return nil }
            guard let text = value as? String else { throw wrong(key, "a string") }
            return text
        }
        func optionalBool(_ key: String) throws(Problem) -> Bool? {
            guard let value = present(key) else { return nil }
            guard isJSONBoolean(value), let bool = value as? Bool else { throw wrong(key, "true or false") }
            return bool
        }
        func optionalInt(_ key: String) throws(Problem) -> Int? {
            guard let value = present(key) else { return nil }
            guard !isJSONBoolean(value), let number = value as? NSNumber, let int = Int(exactly: number.doubleValue) else {
                throw wrong(key, "an integer")
            }
            return int
        }
        func optionalStrings(_ key: String) throws(Problem) -> [String]? {
            guard let value = present(key) else { return nil }
            guard let list = value as? [Any], let strings = list as? [String], strings.count == list.count else {
                throw wrong(key, "an array of strings")
            }
            return strings
        }
        func optionalVector(_ key: String) throws(Problem) -> [Float]? {
            guard let value = present(key) else { return nil }
            guard let list = value as? [Any] else { throw wrong(key, "an array of numbers") }
            var vector: [Float] = []
            vector.reserveCapacity(list.count)
            for element in list {
                guard !isJSONBoolean(element), let number = element as? NSNumber else { throw wrong(key, "an array of numbers") }
                vector.append(number.floatValue)
            }
            return vector
        }
        func object(_ key: String) throws(Problem) -> [String: Any]? {
            guard let value = present(key) else { return nil }
            guard let object = value as? [String: Any] else { throw wrong(key, "an object") }
            return object
        }
        func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(Problem) -> E? where E.RawValue == String {
            guard let text = try optionalString(key) else { return nil }
            guard let value = E(rawValue: text) else {
                throw Problem("field \"\(prefix)\(key)\" is \"\(text)\", not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return value
        }
    }
}

/// JSONSerialization gives `true`/`false` as NSNumber-backed booleans that also cast to
/// Int, and 0/1 that also cast to Bool; the boolean class tells them apart.
func isJSONBoolean(_ value: Any) -> Bool {
    String(describing: type(of: value)).contains("Boolean")
}

/// ISO-8601 dates with or without fractional seconds (JSON output, `--as-of`).
public enum ISO8601 {
    public static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }

    /// `text` as a timestamp, to the microsecond: `YYYY-MM-DDTHH:MM:SS[.f…]Z` is read
    /// exactly (digits past the sixth are dropped); other ISO-8601 forms (any offset)
    /// through Foundation, which keeps about a microsecond.
    public static func timestamp(_ text: String) -> Timestamp? { LegacyTime.parse(text) }

    /// UTC with exactly six fraction digits, so a timestamp's microseconds read back
    /// unchanged (`2026-01-02T03:04:05.000006Z`).
    public static func format(_ timestamp: Timestamp) -> String { LegacyTime.format(timestamp) }
}
