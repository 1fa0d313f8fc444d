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
        #expect(summary.notes.contains { $0.contains("1 memories name a persona that does not exist") })
        #expect(summary.notes.contains { $0.contains("clamped") } && summary.notes.contains { $0.contains("became `file`") })
        #expect(summary.notes.contains { $0.contains("wrong dimension") })
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
