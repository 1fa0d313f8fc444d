import CommandLog

/// A realistic, seeded workload of the original app's kind — personas with personalities,
/// memories with tags, tiers, importance and embeddings, conversations with messages — as
/// commands in the order an app would issue them, persona by persona. The same parameters
/// give the same commands, timestamps included, so the stores they build have the same
/// digests. `shardlog generate` prints it as the JSON lines `shardlog apply` reads, so
/// users, tests and benchmarks share one data source.
public struct GeneratedWorkload: Sequence, Sendable {
    public struct Parameters: Hashable, Sendable {
        public var personas: Int
        public var memoriesPerPersona: Int
        public var conversationsPerPersona: Int
        public var messagesPerConversation: Int
        /// 0 leaves memories without embeddings.
        public var embeddingDimension: Int
        public var seed: UInt64

        public init(
            personas: Int = 10, memoriesPerPersona: Int = 100, conversationsPerPersona: Int = 2, messagesPerConversation: Int = 6,
            embeddingDimension: Int = 384, seed: UInt64 = 1
        ) {
            self.personas = personas
            self.memoriesPerPersona = memoriesPerPersona
            self.conversationsPerPersona = conversationsPerPersona
            self.messagesPerConversation = messagesPerConversation
            self.embeddingDimension = embeddingDimension
            self.seed = seed
        }

        /// How many commands the workload has.
        public var commandCount: Int {
            personas * (1 + memoriesPerPersona + conversationsPerPersona * (1 + messagesPerConversation))
        }
    }

    public let parameters: Parameters
    /// The first command's time; each next one is a millisecond later.
    public static let startTime = Timestamp(microsecondsSince1970: 1_764_547_200_000_000)  // 2025-12-01T00:00:00Z

    public init(_ parameters: Parameters) { self.parameters = parameters }

    public func makeIterator() -> Iterator { Iterator(parameters) }

    static let names = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Edsger", "Frances", "Ken", "Radia", "Donald", "Hedy"]
    static let roles = ["a patient tutor", "a travel planner", "a cooking companion", "a coding mentor", "a fitness coach", "a reading buddy"]
    static let traits = ["curious", "kind", "precise", "playful", "calm", "direct", "encouraging", "skeptical"]
    static let subjects = ["The user", "Alex", "Sam", "Their sister", "The team", "A neighbour", "The client", "Grandma"]
    static let verbs = ["likes", "prefers", "asked about", "mentioned", "is learning", "dislikes", "planned", "remembered"]
    static let objects = [
        "green tea in the morning", "hiking in the Alps", "Swift concurrency", "the quarterly report", "a trip to Lisbon",
        "jazz records", "the new project deadline", "sourdough baking", "running a half marathon", "Italian lessons",
        "the birthday party on Saturday", "vegetarian recipes", "a chess opening", "the garden in spring",
    ]
    static let tags = ["preference", "fact", "learning", "conversation", "travel", "food", "work", "family", "health", "music"]
    static let openers = ["Can you remind me", "What did I say about", "Let's plan", "Tell me more about", "I changed my mind on"]

    public struct Iterator: IteratorProtocol, Sendable {
        let p: Parameters
        var rng: UInt64
        var index = 0
        var persona = 0
        var step = 0  // within the persona: 0 persona, then memories, then conversations with their messages

        init(_ parameters: Parameters) {
            p = parameters
            rng = parameters.seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        }

        /// SplitMix64.
        mutating func next64() -> UInt64 {
            rng &+= 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func pick(_ items: [String]) -> String { items[Int(next64() % UInt64(items.count))] }

        public mutating func next() -> (Command, Envelope)? {
            guard persona < p.personas else { return nil }
            let perConversation = 1 + p.messagesPerConversation
            let perPersona = 1 + p.memoriesPerPersona + p.conversationsPerPersona * perConversation
            let personaID = "persona-\(p.seed)-\(persona)"
            let command: Command
            if step == 0 {
                let name = pick(GeneratedWorkload.names)
                command = .createPersona(PersonaCreation(
                    id: personaID, shard: "", name: "\(name) \(persona)", description: "\(name) is \(pick(GeneratedWorkload.roles)).",
                    personality: Personality(traits: [pick(GeneratedWorkload.traits), pick(GeneratedWorkload.traits)]),
                    isActive: persona == 0))
            } else if step <= p.memoriesPerPersona {
                let m = step - 1
                let object = pick(GeneratedWorkload.objects)
                let content = "\(pick(GeneratedWorkload.subjects)) \(pick(GeneratedWorkload.verbs)) \(object)."
                let embedding: [Float]? = p.embeddingDimension > 0
                    ? (0..<p.embeddingDimension).map { _ in Float(Int(next64() % 513) - 256) / 256 } : nil
                command = .addMemory(MemoryCreation(
                    id: "\(personaID)-m\(m)", personaId: personaID, type: next64() % 10 == 0 ? .image : .text, name: object,
                    content: content, summary: next64() % 2 == 0 ? content : nil,
                    tags: [pick(GeneratedWorkload.tags), pick(GeneratedWorkload.tags)], importance: Int(next64() % 101),
                    tier: [MemoryTier.hot, .warm, .cold][Int(next64() % 3)], embedding: embedding,
                    embeddingModel: embedding == nil ? nil : "all-MiniLM-L6-v2"))
            } else {
                let k = step - 1 - p.memoriesPerPersona
                let conversationID = "\(personaID)-c\(k / perConversation)"
                if k % perConversation == 0 {
                    command = .createConversation(id: conversationID, personaId: personaID, title: "\(pick(GeneratedWorkload.openers)) \(pick(GeneratedWorkload.objects))")
                } else {
                    let user = k % perConversation % 2 == 1
                    command = .addMessage(
                        conversationId: conversationID, role: user ? .user : .assistant,
                        content: user ? "\(pick(GeneratedWorkload.openers)) \(pick(GeneratedWorkload.objects))?" : "Noted: \(pick(GeneratedWorkload.objects)).")
                }
            }
            let timestamp = Timestamp(microsecondsSince1970: GeneratedWorkload.startTime.microsecondsSince1970 + Int64(index) * 1_000)
            index += 1
            step += 1
            if step == perPersona {
                step = 0
                persona += 1
            }
            return (command, Envelope(actor: "generator", timestamp: timestamp))
        }
    }
}
