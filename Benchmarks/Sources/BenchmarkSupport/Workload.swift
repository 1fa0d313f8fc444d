import CommandLog

/// SplitMix64, so every workload is reproducible from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Realistic persona and memory commands, as the original app produces them: a persona
/// now and then, mostly memories (text content, a summary, tags, importance, tier).
/// Payloads are JSON text of about 300 bytes (the engine's binary codecs arrive with
/// issue 3; the figures are re-measured then). Embeddings are not included: a
/// 384-float vector is 1,536 bytes of near-random data that no LZ4 setting compresses.
public struct Workload: Sendable {
    static let subjects = ["the user", "Alex", "Sam", "my sister", "the team", "our neighbour", "the client", "Grandma"]
    static let verbs = ["likes", "prefers", "asked about", "mentioned", "is learning", "dislikes", "planned", "remembered"]
    static let objects = [
        "green tea in the morning", "hiking in the Alps", "Swift concurrency", "the quarterly report",
        "a trip to Lisbon", "jazz records", "the new project deadline", "sourdough baking",
        "running a half marathon", "Italian lessons", "the birthday party on Saturday", "vegetarian recipes",
    ]
    static let tags = ["preference", "fact", "learning", "conversation", "travel", "food", "work", "family", "health", "music"]
    static let tiers = ["hot", "warm", "cold"]

    public var rng: SeededGenerator
    public var index = 0
    var personaIDs: [String] = []

    public init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    static func uuid(_ rng: inout SeededGenerator) -> String {
        let hex = Array("0123456789abcdef")
        var s = ""
        for i in 0..<32 {
            if [8, 12, 16, 20].contains(i) { s.append("-") }
            s.append(hex[Int(rng.next() % 16)])
        }
        return s
    }

    /// The next command as (type tag, JSON payload).
    public mutating func nextCommand() -> CommandDraft {
        index += 1
        let timestamp = Timestamp(microsecondsSince1970: 1_764_000_000_000_000 + Int64(index) * 1_000)
        if personaIDs.isEmpty || rng.next() % 50 == 0 {
            let id = Self.uuid(&rng)
            personaIDs.append(id)
            let name = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara"][Int(rng.next() % 6)]
            let json = #"{"op":"createPersona","id":"\#(id)","name":"\#(name)","description":"A helpful assistant persona","personality":{"traits":["curious","kind"],"temperament":"balanced","communicationStyle":"conversational"},"memoryConfiguration":{"maxMemories":1000,"memoryImportanceThreshold":50,"autoOptimize":true,"retentionPeriod":30}}"#
            return CommandDraft(timestamp: timestamp, actor: "app", commandID: Self.uuid(&rng), typeTag: 1, payload: Array(json.utf8))
        }
        let persona = personaIDs[Int(rng.next() % UInt64(personaIDs.count))]
        let subject = Self.subjects[Int(rng.next() % UInt64(Self.subjects.count))]
        let verb = Self.verbs[Int(rng.next() % UInt64(Self.verbs.count))]
        let object = Self.objects[Int(rng.next() % UInt64(Self.objects.count))]
        let tagA = Self.tags[Int(rng.next() % UInt64(Self.tags.count))]
        let tagB = Self.tags[Int(rng.next() % UInt64(Self.tags.count))]
        let tier = Self.tiers[Int(rng.next() % 3)]
        let json = #"{"op":"addMemory","id":"\#(Self.uuid(&rng))","personaId":"\#(persona)","type":"text","content":"\#(subject) \#(verb) \#(object).","summary":"\#(verb) \#(object)","tags":["\#(tagA)","\#(tagB)"],"importance":\#(rng.next() % 101),"tier":"\#(tier)"}"#
        return CommandDraft(timestamp: timestamp, actor: "app", commandID: Self.uuid(&rng), typeTag: 5, payload: Array(json.utf8))
    }

    /// The command as one JSON line, envelope included, for the `lz4` tool comparison.
    public static func jsonLine(_ draft: CommandDraft) -> String {
        let payload = String(decoding: draft.payload, as: UTF8.self)
        return #"{"timestamp":\#(draft.timestamp.microsecondsSince1970),"actor":"\#(draft.actor)","commandId":"\#(draft.commandID ?? "")","type":\#(draft.typeTag),"version":\#(draft.typeVersion),"command":\#(payload)}"#
    }
}

/// A fixed ~300-byte command for throughput runs.
public func benchmarkDraft(_ i: Int) -> CommandDraft {
    var workload = Workload(seed: UInt64(i))
    workload.personaIDs = ["00000000-0000-0000-0000-000000000000"]
    return workload.nextCommand()
}
