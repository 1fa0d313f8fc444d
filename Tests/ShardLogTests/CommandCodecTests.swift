import CommandLog
import Testing

@testable import ShardLog

func randomText(_ rng: inout SeededRandom, max: Int = 40) -> String {
    let pieces = ["a", "tea", "Ünïcødé", "日本", "🙂", " ", "memory", "\"quoted\"", "line\nbreak"]
    return (0..<Int.random(in: 0...max, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
}

func randomCommand(_ rng: inout SeededRandom) -> Command {
    func text() -> String { randomText(&rng) }
    func maybe<T>(_ make: () -> T) -> T? { Bool.random(using: &rng) ? make() : nil }
    switch Int.random(in: 0..<16, using: &rng) {
    case 0:
        return .initializeStore(StoreInitialization(strategy: ShardingStrategy.allCases.randomElement(using: &rng)!, virtualNodes: Int.random(in: 1...1000, using: &rng), embeddingDimension: 384, shards: ["a", "b"], rangeBoundaries: ["m"]))
    case 1:
        return .createPersona(PersonaCreation(
            id: text(), shard: "shard_01", name: text(), description: text(),
            personality: Personality(traits: [text(), text()], temperament: text(), communicationStyle: text()),
            memoryConfiguration: MemoryConfiguration(maxMemories: Int.random(in: 0...100_000, using: &rng), memoryImportanceThreshold: Int.random(in: 0...100, using: &rng), autoOptimize: Bool.random(using: &rng), retentionPeriod: 7, memoryCategories: [text()], compressionEnabled: false),
            privacySettings: PrivacySettings(dataCollection: false, analyticsEnabled: true, shareWithResearchers: Bool.random(using: &rng), allowPersonalityAnalysis: false, memoryRetention: false, exportDataAllowed: false),
            isActive: Bool.random(using: &rng)))
    case 2:
        return .updatePersona(PersonaPatch(id: text(), name: maybe { text() }, description: maybe { text() }, personality: maybe { Personality(traits: [text()]) }, memoryConfiguration: maybe { MemoryConfiguration() }, privacySettings: maybe { PrivacySettings(dataCollection: false) }))
    case 3: return .deletePersona(id: text())
    case 4: return .activatePersona(id: text())
    case 5: return .deactivatePersona(id: text())
    case 6:
        return .addMemory(MemoryCreation(
            id: text(), personaId: text(), type: MemoryType.allCases.randomElement(using: &rng)!, name: text(), content: text(),
            summary: maybe { text() }, tags: [text(), text()], importance: Int.random(in: 0...100, using: &rng),
            tier: MemoryTier.allCases.randomElement(using: &rng)!,
            embedding: maybe { (0..<8).map { _ in Float.random(in: -1...1, using: &rng) } }, embeddingModel: maybe { text() }))
    case 7:
        return .updateMemory(MemoryPatch(id: text(), type: maybe { .image }, name: maybe { text() }, content: maybe { text() }, summary: maybe { text() }, tags: maybe { [text()] }, importance: maybe { Int.random(in: 0...100, using: &rng) }))
    case 8: return .setMemoryTier(id: text(), tier: MemoryTier.allCases.randomElement(using: &rng)!)
    case 9: return .markMemoryAccessed(id: text())
    case 10: return .updateMemoryEmbedding(id: text(), embedding: [0, -0.5, 1e-30, 3.25], model: maybe { text() })
    case 11: return .deleteMemory(id: text())
    case 12: return .createConversation(id: text(), personaId: text(), title: text())
    case 13: return .addMessage(conversationId: text(), role: MessageRole.allCases.randomElement(using: &rng)!, content: text())
    case 14: return .setMemoryAccess(id: text(), accessCount: Int.random(in: 0...1_000_000, using: &rng), lastAccessedAt: maybe { Timestamp(microsecondsSince1970: Int64.random(in: -10...Int64.max, using: &rng)) })
    default: return .deleteConversation(id: text())
    }
}

@Suite struct CommandCodecTests {
    func decode(_ command: Command, _ bytes: [UInt8]) throws -> Command {
        try bytes.withUnsafeBytes { raw in try Command.decode(typeTag: command.typeTag, typeVersion: 1, payload: raw) }
    }

    @Test func randomCommandsRoundTrip() throws {
        var rng = SeededRandom(seed: 11)
        var seenTags = Set<UInt16>()
        for _ in 0..<3000 {
            let command = randomCommand(&rng)
            seenTags.insert(command.typeTag)
            #expect(try decode(command, command.encodedPayload()) == command)
        }
        #expect(seenTags == Set(1...16))
    }

    /// CMD-001: every truncation and any trailing byte is rejected, never misread.
    @Test func truncatedOrExtendedPayloadsAreRejected() {
        var rng = SeededRandom(seed: 12)
        for _ in 0..<300 {
            let command = randomCommand(&rng)
            let bytes = command.encodedPayload()
            for cut in 0..<bytes.count {
                #expect(throws: PayloadError.self) { _ = try decode(command, Array(bytes[..<cut])) }
            }
            #expect(throws: PayloadError.self) { _ = try decode(command, bytes + [0]) }
        }
    }

    /// ENG-022: a skim keeps ids, enums and numbers, empties exactly the bulk fields, and
    /// rejects the same truncations and trailing bytes as a full decode.
    @Test func skimmingKeepsIdsAndChecksFraming() throws {
        func skim(_ command: Command, _ bytes: [UInt8]) throws -> Command {
            try bytes.withUnsafeBytes { raw in
                try Command.decode(typeTag: command.typeTag, typeVersion: 1, payload: raw, skippingBulk: true)
            }
        }
        func emptied(_ command: Command) -> Command {
            switch command {
            case .addMemory(var m):
                (m.name, m.content, m.tags) = ("", "", [])
                m.summary = m.summary.map { _ in "" }
                m.embedding = m.embedding.map { _ in [] }
                m.embeddingModel = m.embeddingModel.map { _ in "" }
                return .addMemory(m)
            case .updateMemory(var p):
                p.name = p.name.map { _ in "" }
                p.content = p.content.map { _ in "" }
                p.summary = p.summary.map { _ in "" }
                p.tags = p.tags.map { _ in [] }
                return .updateMemory(p)
            case .updateMemoryEmbedding(let id, _, let model): return .updateMemoryEmbedding(id: id, embedding: [], model: model.map { _ in "" })
            case .addMessage(let conversationID, let role, _): return .addMessage(conversationId: conversationID, role: role, content: "")
            default: return command
            }
        }
        var rng = SeededRandom(seed: 13)
        for _ in 0..<400 {
            let command = randomCommand(&rng)
            let bytes = command.encodedPayload()
            #expect(try skim(command, bytes) == emptied(command))
            #expect(command.hasBulkFields == [7, 8, 11, 14].contains(command.typeTag))
            for cut in 0..<bytes.count {
                #expect(throws: PayloadError.self) { _ = try skim(command, Array(bytes[..<cut])) }
            }
            #expect(throws: PayloadError.self) { _ = try skim(command, bytes + [0]) }
        }
    }

    /// CMD-002: unknown tags and versions are refused, not skipped.
    @Test func unknownTagsAndVersionsAreRefused() {
        let bytes = Command.deletePersona(id: "p").encodedPayload()
        bytes.withUnsafeBytes { raw in
            #expect(throws: PayloadError.self) { _ = try Command.decode(typeTag: 99, typeVersion: 1, payload: raw) }
            #expect(throws: PayloadError.self) { _ = try Command.decode(typeTag: 4, typeVersion: 2, payload: raw) }
        }
    }

    @Test func invalidEnumsBooleansUTF8AndFloatsAreRejected() {
        let tier = Command.setMemoryTier(id: "m", tier: .cold)
        var bytes = tier.encodedPayload()
        bytes[bytes.count - 1] = 3
        #expect(throws: PayloadError.self) { _ = try decode(tier, bytes) }
        let persona = Command.createPersona(PersonaCreation(id: "p", shard: "s", name: "n"))
        bytes = persona.encodedPayload()
        bytes[bytes.count - 1] = 2
        #expect(throws: PayloadError.self) { _ = try decode(persona, bytes) }
        let id = Command.deleteMemory(id: "ab")
        bytes = id.encodedPayload()
        bytes[4] = 0xFF
        #expect(throws: PayloadError.self) { _ = try decode(id, bytes) }
        let embedding = Command.updateMemoryEmbedding(id: "m", embedding: [1], model: nil)
        bytes = embedding.encodedPayload()
        bytes.replaceSubrange(9..<13, with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init))
        #expect(throws: PayloadError.self) { _ = try decode(embedding, bytes) }
    }

    /// The decoder's finiteness check works on bit patterns: every kind of non-finite value,
    /// anywhere in a vector, is refused; the finite extremes pass.
    @Test func everyNonFiniteEmbeddingValueIsRejected() throws {
        let finite: [Float] = [0, -0.0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, -.leastNormalMagnitude]
        let base = (0..<384).map { finite[$0 % finite.count] }
        let command = Command.updateMemoryEmbedding(id: "m", embedding: base, model: nil)
        #expect(try decode(command, command.encodedPayload()) == command)
        let header = 4 + 1 + 4  // id length, "m", dimension (Specs/Commands.md)
        for bad in [Float.nan, .signalingNaN, .infinity, -.infinity, Float(bitPattern: 0x7FFF_FFFF), Float(bitPattern: 0xFF80_0001)] {
            for index in [0, 1, 191, 383] {
                var bytes = command.encodedPayload()
                let at = header + index * 4
                bytes.replaceSubrange(at..<(at + 4), with: withUnsafeBytes(of: bad.bitPattern.littleEndian, Array.init))
                #expect(throws: PayloadError.self, "value \(bad.bitPattern) at \(index)") { _ = try decode(command, bytes) }
            }
        }
    }
}

@Suite struct JSONTextTests {
    @Test func stringArraysRoundTripThroughTheFastReader() throws {
        let cases: [[String]] = [[], [""], ["a"], ["a", "b"], ["quote\"d", "back\\slash", "new\nline", "tab\t", "\u{1}"], ["日本語", "🙂", "é"]]
        for values in cases {
            #expect(try JSONText.decodeStrings(JSONText.strings(values)) == values)
        }
        #expect(throws: (any Error).self) { _ = try JSONText.decodeStrings("[\"a\",]") }
        #expect(throws: (any Error).self) { _ = try JSONText.decodeStrings("[\"a\"") }
        #expect(try JSONText.decodeStrings("[ \"a\" , \"b\" ]") == ["a", "b"], "other spacing goes through the JSON decoder")
    }

    @Test func embeddingsRoundTrip() {
        let vector: [Float] = [0, -1.5, 3.25, .leastNonzeroMagnitude, 1e30]
        #expect(EmbeddingBlob.decode(EmbeddingBlob.encode(vector)) == vector)
        #expect(Array(EmbeddingBlob.encode([1])) == [0x00, 0x00, 0x80, 0x3F], "little-endian f32")
    }
}

@Suite struct ValidationTests {
    /// CMD-010/CMD-011 on their byte-level fast paths agree with the Unicode definitions.
    @Test func idsAndNames() {
        for bad in ["", "a\u{0}b", "tab\t", "\u{7F}", "x\u{85}y", "\u{9F}"] {
            #expect(throws: CommandRejection.self) { try Validation.id(bad, "id") }
        }
        for good in ["p1", "é", "日本語", "\u{A0}nbsp", "🙂", "a-b_c.d"] {
            #expect(throws: Never.self) { try Validation.id(good, "id") }
        }
        for scalar in (0..<0x200).compactMap(Unicode.Scalar.init) {
            let isControl = scalar.properties.generalCategory == .control
            let rejected = (try? Validation.id("a\(scalar)b", "id")) == nil
            #expect(rejected == isControl, "U+\(String(scalar.value, radix: 16))")
        }
        for bad in ["", " ", "\t\n", "\u{3000}"] { #expect(throws: CommandRejection.self) { try Validation.name(bad) } }
        for good in ["A", " x", "\u{3000}y", "Zoë"] { #expect(throws: Never.self) { try Validation.name(good) } }
    }
}

/// The engine's bounds against each other and against the log's (INV-8).
@Suite struct EngineLimitsTests {
    /// The largest `addMemory` the rules allow — every field at its limit, the largest
    /// embedding — is a valid command whose payload fits the log's limit, so no valid
    /// command can be refused by the log.
    @Test func theLargestValidCommandFitsTheLog() throws {
        let longest = { (bytes: Int) in String(repeating: "x", count: bytes) }
        let memory = MemoryCreation(
            id: longest(EngineLimits.idSizeMax), personaId: longest(EngineLimits.idSizeMax), type: .text,
            name: longest(EngineLimits.nameSizeMax), content: longest(EngineLimits.contentSizeMax),
            summary: longest(EngineLimits.shortTextMax),
            tags: (0..<EngineLimits.tagCountMax).map { "\($0)" + longest(EngineLimits.tagSizeMax - String($0).count) },
            importance: 100, tier: .cold,
            embedding: [Float](repeating: 0.5, count: EngineLimits.embeddingDimensionRange.upperBound),
            embeddingModel: longest(EngineLimits.modelNameSizeMax))
        let command = Command.addMemory(memory)
        #expect(throws: Never.self) { try Validation.content(of: command, embeddingDimension: EngineLimits.embeddingDimensionRange.upperBound) }
        let payload = command.encodedPayload()
        #expect(payload.count <= Limits.commandPayloadSizeMax, "\(payload.count) bytes")
        // A persona at its limits too.
        let traits = (0..<EngineLimits.tagCountMax).map { "\($0)" + longest(EngineLimits.tagSizeMax - String($0).count) }
        let persona = Command.createPersona(PersonaCreation(
            id: longest(EngineLimits.idSizeMax), shard: longest(64), name: longest(EngineLimits.nameSizeMax),
            description: longest(EngineLimits.shortTextMax),
            personality: Personality(traits: traits, temperament: longest(EngineLimits.tagSizeMax), communicationStyle: longest(EngineLimits.tagSizeMax)),
            memoryConfiguration: MemoryConfiguration(memoryCategories: traits)))
        #expect(throws: Never.self) { try Validation.content(of: persona, embeddingDimension: 4) }
        #expect(persona.encodedPayload().count <= Limits.commandPayloadSizeMax)
    }

    @Test func rangesAreSound() {
        #expect(EngineLimits.shardCountRange.lowerBound == 1 && EngineLimits.shardCountRange.upperBound <= Int(UInt16.max))
        #expect(EngineLimits.virtualNodesRange.upperBound <= Int(UInt16.max), "virtualNodes is a u16 in initializeStore")
        #expect(EngineLimits.applyBacklogRange.upperBound <= Limits.pendingCommandCountMax)
        #expect(StoreConfiguration().applyBacklogMax >= EngineLimits.applyBacklogRange.lowerBound
                && EngineLimits.applyBacklogRange.contains(StoreConfiguration().applyBacklogMax))
        #expect(EngineLimits.migrationBatchSizeRange.contains(StoreConfiguration().migrationBatchSize))
        #expect(EngineLimits.migrationBatchSizeRange.text == "1…100,000" && (-1234567).grouped == "-1,234,567")
    }
}
