import CommandLog
import Foundation
import GRDB
import Testing

@testable import ShardLog

/// Specs/LegacyImport.md: a generated database in the original schema, with the original
/// app's quirks, is imported, compared field by field, exported and imported again.
@Suite struct LegacyImportTests {
    /// Writes a legacy database: `personas` personas with `memoriesPerPersona` memories each,
    /// a conversation per persona, and the quirks LEG-001 … LEG-004 must handle.
    static func generate(at path: String, personas: Int, memoriesPerPersona: Int, dimension: Int) throws {
        let queue = try DatabaseQueue(path: path)
        var rng = SeededRandom(seed: 5)
        try queue.write { db in
            try db.execute(sql: LegacySchema.sql)
            let persona = try db.makeStatement(sql: "INSERT INTO personas (id, name, description, personality_traits, personality_temperament, memory_max_memories, memory_importance_threshold, memory_auto_optimize, memory_categories, privacy_data_collection, privacy_analytics_enabled, privacy_export_data_allowed, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            let memory = try db.makeStatement(sql: "INSERT INTO memory_entities (id, persona_id, type, name, content, summary, tags, importance, memory_tier, embedding, embedding_model, access_count, last_accessed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            let tiers: [String?] = ["active", "hot", "warm", "cold", "archived", nil, "weird"]
            for p in 0..<personas {
                let created = 1_700_000_000_000 + Int64(p) * 1000  // milliseconds, as Date.now() wrote them
                try persona.execute(arguments: [
                    "p\(p)", "Persona \(p)", p % 3 == 0 ? nil : "about \(p)", p % 2 == 0 ? "[\"kind\",\"curious\"]" : nil,
                    p % 5 == 0 ? nil : "calm", p % 4 == 0 ? nil : 500, p % 7 == 0 ? 0 : 40,
                    p % 2 == 0 ? 0 : nil,  // a stored false stays false
                    p % 3 == 0 ? "[\"fact\"]" : nil, p % 2 == 0 ? 0 : 1, nil, p % 9 == 0 ? 0 : nil,
                    p == 3 || p == 7 ? 1 : 0,  // two actives: only one stays (LEG-004)
                    created, p % 2 == 0 ? created : "2024-05-0\(1 + p % 9)T10:00:00.123456Z",
                ])
                for m in 0..<memoriesPerPersona {
                    let withEmbedding = m % 10 == 0
                    let embedding: String? = withEmbedding
                        ? "[" + (0..<(m % 40 == 0 ? dimension - 1 : dimension)).map { _ in String(Double(Int.random(in: -1000...1000, using: &rng)) / 1000) }.joined(separator: ",") + "]"
                        : nil
                    try memory.execute(arguments: [
                        "p\(p)-m\(m)", "p\(p)", ["text", "image", "audio", "note"][m % 4], "memory \(m)", "content \(m) of \(p)",
                        m % 2 == 0 ? "summary" : nil, m % 3 == 0 ? "[\"a\",\"b\"]" : nil,
                        m % 11 == 0 ? 0 : (m % 13 == 5 ? 150 : Int(m % 101)),  // 0 stays 0; 150 is clamped
                        tiers[m % tiers.count], embedding, withEmbedding ? "all-MiniLM-L6-v2" : nil,
                        m % 5, m % 5 == 0 ? nil : "2024-06-01T00:00:0\(m % 10)Z",
                        "2024-01-01T00:00:00Z", m % 2 == 0 ? "2024-01-01T00:00:00Z" : "2024-02-01T00:00:00.5Z",
                    ])
                }
                let messages = "[{\"role\":\"user\",\"content\":\"hi \(p)\",\"timestamp\":\"2024-03-01T00:00:00Z\"},{\"role\":\"assistant\",\"content\":\"hello\",\"timestamp\":1709251200500}]"
                try db.execute(sql: "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: ["c\(p)", "p\(p)", p % 2 == 0 ? nil : "chat", messages, "2024-03-01T00:00:00Z", nil])
            }
            // An orphan memory, skipped and reported.
            try memory.execute(arguments: ["orphan", "nobody", "text", "x", "y", nil, nil, 1, "hot", nil, nil, 0, nil, nil, nil])
        }
        try queue.close()
    }

    @Test func importCompareExportReimport() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let personas = ProcessInfo.processInfo.environment["SHARDLOG_LEGACY_PERSONAS"].flatMap(Int.init) ?? 200
        let perPersona = ProcessInfo.processInfo.environment["SHARDLOG_LEGACY_MEMORIES_PER_PERSONA"].flatMap(Int.init) ?? 20
        let legacyPath = dir.path + "/legacy.sqlite"
        try Self.generate(at: legacyPath, personas: personas, memoriesPerPersona: perPersona, dimension: 8)
        let legacyBytes = try Data(contentsOf: URL(fileURLWithPath: legacyPath))

        var configuration = smallConfiguration()
        configuration.embeddingDimension = 8
        configuration.durability = .none
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        let summary = try await LegacyImporter.run(legacyPath: legacyPath, into: store)
        print("legacy import of \(personas) personas × \(perPersona) memories: \(summary.commands) commands, tiers \(summary.tierMappings), notes \(summary.notes)")
        #expect(summary.mismatchCount == 0, "\(summary.mismatches)")
        #expect(summary.personas == personas && summary.memories == personas * perPersona && summary.legacyMemories == personas * perPersona + 1)
        #expect(summary.conversations == personas && summary.messages == 2 * personas)
        #expect(summary.tierMappings["active → hot"] != nil && summary.tierMappings["archived → cold"] != nil)
        #expect(summary.tierMappings["NULL → warm"] != nil && summary.tierMappings["weird → warm"] != nil)
        #expect(summary.notes.contains { $0.contains("p7 stays active") })
        #expect(summary.notes.contains { $0.contains("1 memory names a persona that does not exist") })
        #expect(summary.valueMappings["memory_entities.importance: outside 0…100 → clamped"] ?? 0 > 0)
        #expect(summary.valueMappings["memory_entities.type: not text|image|audio|video|file → file"] ?? 0 > 0)
        #expect(summary.valueMappings["memory_entities.embedding: not 8 finite numbers → dropped"] ?? 0 > 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: legacyPath)) == legacyBytes, "LEG-006: the source is never changed")
        // The quirks the original code lost (LEG-001).
        let p0 = try #require(try store.persona(id: "p0"))
        #expect(p0.memoryConfiguration.autoOptimize == false && p0.privacySettings.dataCollection == false)
        #expect(p0.privacySettings.exportDataAllowed == false && p0.memoryConfiguration.memoryImportanceThreshold == 0)
        #expect(try store.memory(id: "p1-m0")?.importance == 0)
        #expect(try store.activePersona()?.id == "p7")

        // Export, then import the export into a second store: the same content.
        let exportPath = dir.path + "/export.sqlite"
        let exported = try LegacyExporter.run(store: store, to: exportPath)
        #expect(exported.personas == personas && exported.memories == personas * perPersona)
        let second = try await ShardStore.open(at: dir.path + "/second", configuration: configuration)
        let again = try await LegacyImporter.run(legacyPath: exportPath, into: second)
        #expect(again.mismatchCount == 0 && again.notes.isEmpty)
        #expect(try second.digests() == store.digests(), "export → import gives the same shards")
        try await second.close()
        try await store.close()
    }
}

/// LEG-008, LEG-009: what the original app can have stored in each column imports —
/// kept, or mapped and counted — and only bytes that are not UTF-8 refuse the file.
@Suite struct LegacyValueTests {
    static let longID = String(repeating: "x", count: 200)

    /// A legacy database holding every such value.
    static func writeEdgeCases(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: LegacySchema.sql)
            let categories = "[" + (0..<70).map { "\"c\($0)\"" }.joined(separator: ",") + "]"
            try db.execute(sql: """
                INSERT INTO personas (id, name, personality_traits, personality_temperament, memory_max_memories,
                  memory_importance_threshold, memory_auto_optimize, memory_retention_period, memory_categories,
                  memory_compression_enabled, privacy_data_collection, created_at, updated_at)
                VALUES ('ok', 'Ok', ?, ?, -5, 150, 2, '30', ?, 'false', 'maybe', 'not a time', 99999999999999999)
                """, arguments: ["[\"a\", 1, \"\", \"\(String(repeating: "t", count: 65))\"]", String(repeating: "m", count: 70), categories])
            try db.execute(sql: "INSERT INTO personas (rowid, id, name) VALUES (2, NULL, '')")
            try db.execute(sql: "INSERT INTO personas (rowid, id, name) VALUES (3, '', '   ')")
            try db.execute(sql: "INSERT INTO personas (id, name, description) VALUES (?, 'Long', ?)", arguments: [longID, String(repeating: "d", count: 5000)])
            try db.execute(sql: "INSERT INTO personas (id, name) VALUES ('ctl\u{1}', 'Ctl')")
            let memory = "INSERT INTO memory_entities (id, persona_id, name, content, created_at) VALUES (?, ?, ?, ?, '2024-01-01T00:00:00Z')"
            try db.execute(sql: memory, arguments: ["m-null-name", "ok", nil, "the original app wrote no name"])
            try db.execute(sql: memory, arguments: ["m-empty-name", "ok", "", "c"])
            try db.execute(sql: "INSERT INTO memory_entities (id, persona_id, content) VALUES ('m-default-name', 'ok', 'c')")
            try db.execute(sql: memory, arguments: ["m-long-name", "ok", String(repeating: "é", count: 150), "c"])
            try db.execute(sql: """
                INSERT INTO memory_entities (id, persona_id, type, name, content, summary, tags, importance, embedding, embedding_model,
                  access_count, last_accessed, created_at, deleted_at)
                VALUES ('m-odd', 'ok', NULL, 'odd', NULL, '', 'not json', 'high', '[1,2]', '', -3, 'garbage', 1700000000000, 'garbage')
                """)
            try db.execute(sql: memory, arguments: ["m-of-long-id", longID, "n", "c"])
            try db.execute(sql: memory, arguments: [nil, "ok", "no id", "c"])
            try db.execute(sql: """
                INSERT INTO memory_entities (id, persona_id, name, content, embedding, embedding_model, importance)
                VALUES ('m-model', 'ok', 'n', 'c', '[0.5, 0.25, 0, 1]', '', 1e400)
                """)
            try db.execute(sql: """
                INSERT INTO conversations (id, persona_id, title, messages, created_at)
                VALUES ('c1', 'ok', NULL, '[{"role":"robot","content":5,"timestamp":"bad"}, 7, {"role":"user","content":"hi"}]', '2024-02-01T00:00:00Z')
                """)
            try db.execute(sql: "INSERT INTO conversations (id, persona_id, title, messages) VALUES ('c2', 'ok', ?, 'not json')",
                           arguments: [String(repeating: "t", count: 5000)])
        }
        try queue.close()
    }

    func openStore(_ dir: TemporaryDirectory, _ name: String = "store") async throws -> ShardStore {
        var configuration = smallConfiguration()
        configuration.durability = .none
        return try await ShardStore.open(at: dir.path + "/" + name, configuration: configuration)
    }

    @Test func everyValueTheOriginalAppCanStoreImports() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let legacy = dir.path + "/legacy.sqlite"
        try Self.writeEdgeCases(at: legacy)
        let store = try await openStore(dir)
        let summary = try await LegacyImporter.run(legacyPath: legacy, into: store)
        #expect(summary.mismatchCount == 0, "\(summary.mismatches)")
        #expect(summary.personas == 5 && summary.memories == 8 && summary.conversations == 2, "\(summary)")
        let m = summary.valueMappings
        print("legacy edge cases: \(m.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: "; "))")
        for (key, count) in [
            ("personas.id: NULL → legacy-persona-<rowid>", 1), ("personas.id: empty → legacy-persona-<rowid>", 1),
            ("personas.id: over 128 bytes → legacy-persona-<rowid>", 1), ("personas.id: a control character → legacy-persona-<rowid>", 1),
            ("personas.name: NULL or empty → the persona's id", 1), ("personas.name: white space only → the persona's id", 1),
            ("personas.personality_traits: an element that is not a string → dropped", 1),
            ("personas.personality_traits: an empty element → dropped", 1), ("personas.personality_traits: over 64 bytes → cut to 64", 1),
            ("personas.personality_temperament: over 64 bytes → cut to 64", 1),
            ("personas.memory_categories: more than 64 elements → the first 64 kept", 1),
            ("personas.memory_max_memories: outside 0…4294967295 → clamped", 1),
            ("personas.memory_importance_threshold: outside 0…100 → clamped", 1),
            ("personas.privacy_data_collection: not a boolean → default", 1),
            ("personas.created_at: not a time → default", 1), ("personas.updated_at: not a time → default", 1),
            ("personas.description: over 4096 bytes → cut to 4096", 1),
            ("memory_entities.name: over 256 bytes → cut to 256", 1), ("memory_entities.id: NULL → legacy-memory-<rowid>", 1),
            ("memory_entities.type: NULL → file", 8), ("memory_entities.tags: not a JSON array → default", 1),
            ("memory_entities.importance: not an integer → default", 2), ("memory_entities.embedding: not 4 finite numbers → dropped", 1),
            ("memory_entities.embedding_model: empty → NULL", 1), ("memory_entities.access_count: outside 0…4294967295 → clamped", 1),
            ("memory_entities.last_accessed: not a time → default", 1), ("memory_entities.deleted_at: not a time → default", 1),
            ("conversations.messages: a role that is not user|assistant|system → user", 1),
            ("conversations.messages: a content that is not a string → empty", 1),
            ("conversations.messages.timestamp: not a time → the conversation's", 1),
            ("conversations.messages: an element that is not an object → dropped", 1),
            ("conversations.messages: not a JSON array → no messages", 1), ("conversations.title: over 4096 bytes → cut to 4096", 1),
        ] {
            #expect(m[key] == count, "\(key): \(m[key] ?? 0), expected \(count)")
        }
        // The issue's case: names the original app left at their default are empty, as they were.
        for id in ["m-null-name", "m-empty-name", "m-default-name"] { #expect(try store.memory(id: id)?.name == "", "\(id)") }
        #expect(try store.memory(id: "m-long-name")?.name == String(repeating: "é", count: 128))
        let ok = try #require(try store.persona(id: "ok"))
        #expect(ok.personality.traits == ["a", String(repeating: "t", count: 64)] && ok.memoryConfiguration.memoryCategories.count == 64)
        #expect(ok.memoryConfiguration.maxMemories == 0 && ok.memoryConfiguration.memoryImportanceThreshold == 100)
        #expect(ok.memoryConfiguration.autoOptimize && ok.memoryConfiguration.retentionPeriod == 30 && !ok.memoryConfiguration.compressionEnabled)
        #expect(try store.persona(id: "legacy-persona-2")?.name == "legacy-persona-2")
        #expect(try store.persona(id: "legacy-persona-3")?.name == "legacy-persona-3")
        #expect(try store.memory(id: "m-of-long-id")?.personaId == "legacy-persona-4", "a memory follows its persona's new id")
        let odd = try #require(try store.memory(id: "m-odd"))
        #expect(odd.content == "" && odd.summary == "" && odd.tags.isEmpty && odd.importance == 50 && odd.type == .file)
        #expect(odd.embedding == nil && odd.accessCount == 0 && odd.lastAccessedAt == nil && odd.deletedAt != nil)
        let c1 = try #require(try store.conversation(id: "c1"))
        #expect(c1.title == "" && c1.messages.map(\.role) == [.user, .user] && c1.messages.map(\.content) == ["", "hi"])
        #expect(try store.conversation(id: "c2")?.messages.isEmpty == true)

        // Export and import again: the same shards, nothing more to map.
        let exported = dir.path + "/export.sqlite"
        _ = try LegacyExporter.run(store: store, to: exported)
        let second = try await openStore(dir, "second")
        let again = try await LegacyImporter.run(legacyPath: exported, into: second)
        #expect(again.mismatchCount == 0 && again.valueMappings.isEmpty, "\(again.valueMappings)")
        #expect(try second.memory(id: "m-null-name")?.name == "")
        #expect(try second.digests() == store.digests())
        try await second.close()
        try await store.close()
    }

    /// LEG-009: bytes that are not UTF-8 in a TEXT column, or in JSON inside one, refuse
    /// the import before anything is written, naming where they are.
    @Test func bytesThatAreNotUTF8RefuseTheImport() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        for (column, value) in [("name", "CAST(X'636166C320FFFE' AS TEXT)"), ("tags", "CAST(X'5B22C0AF225D' AS TEXT)"),
                                ("content", "X'EDA080'")] {
            let legacy = dir.path + "/\(column).sqlite"
            let queue = try DatabaseQueue(path: legacy)
            try queue.write { db in
                try db.execute(sql: LegacySchema.sql)
                try db.execute(sql: "INSERT INTO personas (id, name) VALUES ('p1', 'Ada')")
                try db.execute(sql: "INSERT INTO memory_entities (id, persona_id, name, content) VALUES ('m1', 'p1', 'n', 'c')")
                try db.execute(sql: "INSERT INTO memory_entities (id, persona_id, \(column)) VALUES ('m2', 'p1', \(value))")
            }
            try queue.close()
            let store = dir.path + "/store-\(column)"
            #expect(try runShardLog(["init", "--data-dir", store]).status == 0)
            let result = try runShardLog(["import", legacy, "--data-dir", store])
            #expect(result.status == 2, "\(column): \(result.stderr)")
            #expect(result.stderr.hasPrefix("shardlog: memory_entities row 2, column \(column): byte "), "\(result.stderr)")
            #expect(result.stderr.contains("is not valid UTF-8") && result.stderr.contains("nothing was imported"))
            let log = try jsonLines(try runShardLog(["log", "--data-dir", store]).stdout)
            #expect(log.map { $0["op"] as? String } == ["initializeStore"], "nothing was written")
        }
    }

    /// The issue's report, through the CLI: a database whose memories have no name imports.
    @Test func memoriesWithoutANameImportFromTheCLI() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let legacy = dir.path + "/legacy.sqlite"
        try Self.writeEdgeCases(at: legacy)
        #expect(try runShardLog(["init", "--data-dir", dir.store, "--embedding-dimension", "4"]).status == 0)
        let result = try runShardLog(["import", legacy, "--data-dir", dir.store, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try jsonLines(result.stdout)[0]
        #expect(summary["memories"] as? Int == 8 && summary["mismatches"] as? Int == 0)
        #expect((summary["valueMappings"] as? [String: Int])?["personas.name: NULL or empty → the persona's id"] == 1)
        let memories = try jsonLines(try runShardLog(["memories", "--persona", "ok", "--data-dir", dir.store, "--json"]).stdout)
        #expect(memories.first { $0["id"] as? String == "m-null-name" }?["name"] as? String == "")
    }
}

@Suite struct LegacyCLITests {
    @Test func importAndExportFromTheCLI() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let legacy = dir.path + "/legacy.sqlite"
        try LegacyImportTests.generate(at: legacy, personas: 10, memoriesPerPersona: 5, dimension: 4)
        #expect(try runShardLog(["init", "--data-dir", dir.store, "--embedding-dimension", "4"]).status == 0)
        let imported = try runShardLog(["import", legacy, "--data-dir", dir.store, "--json"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let summary = try jsonLines(imported.stdout)[0]
        #expect(summary["personas"] as? Int == 10 && summary["memories"] as? Int == 50 && summary["mismatches"] as? Int == 0)
        let again = try runShardLog(["import", legacy, "--data-dir", dir.store])
        #expect(again.status == 2 && again.stderr.contains("needs a new, empty store"))
        let out = dir.path + "/out.sqlite"
        let exported = try runShardLog(["export", out, "--data-dir", dir.store])
        #expect(exported.status == 0 && exported.stdout.hasPrefix("exported 10 personas, 50 memories"))
        #expect(try runShardLog(["export", out, "--data-dir", dir.store]).status == 2, "export never overwrites")
        #expect(try runShardLog(["import", dir.path + "/missing.sqlite", "--data-dir", dir.store]).status == 2)
    }
}
