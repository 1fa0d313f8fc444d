import CommandLog
import Foundation
import Testing

@testable import ShardLog

@Suite struct PlacementTests {
    /// ROUTE-002 across 10,000 personas: every memory and conversation lives on its persona's
    /// shard, and nowhere else. Also reports the balance of the default ring on 4 shards.
    @Test func coLocationAcrossTenThousandPersonas() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = smallConfiguration()
        configuration.durability = .none
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        let personaCount = 10_000
        var unit: [(Command, Envelope)] = []
        for p in 0..<personaCount {
            let id = "persona-\(p)"
            unit.append((.createPersona(PersonaCreation(id: id, shard: "", name: "P\(p)")), Envelope()))
            unit.append((.addMemory(MemoryCreation(id: "memory-\(p)-a", personaId: id, name: "a", content: "x")), Envelope()))
            unit.append((.addMemory(MemoryCreation(id: "memory-\(p)-b", personaId: id, name: "b", content: "y")), Envelope()))
            unit.append((.createConversation(id: "conversation-\(p)", personaId: id, title: "t"), Envelope()))
            if unit.count >= 4_000 {
                try await store.execute(unit)
                unit = []
            }
        }
        if !unit.isEmpty { try await store.execute(unit) }

        var personaShard: [String: String] = [:]
        var misplaced = 0
        var perShard: [String: Int] = [:]
        var memoryCount = 0
        var conversationCount = 0
        try store.forEachEntity { entity in
            switch entity {
            case .persona(let p, let shard):
                #expect(personaShard[p.id] == nil, "a persona on two shards")
                personaShard[p.id] = shard
                perShard[shard, default: 0] += 1
            case .memory(let m, let shard):
                memoryCount += 1
                if personaShard[m.personaId] != shard { misplaced += 1 }
            case .conversation(let c, let shard):
                conversationCount += 1
                if personaShard[c.personaId] != shard { misplaced += 1 }
            case .message: break
            }
        }
        #expect(personaShard.count == personaCount && memoryCount == 2 * personaCount && conversationCount == personaCount)
        #expect(misplaced == 0, "every memory and conversation is on its persona's shard")
        for (id, shard) in personaShard.prefix(50) { #expect(store.shardForPersona(id) == shard) }
        let mean = Double(personaCount) / 4
        let imbalance = Double(perShard.values.max()!) / mean
        print("balance of the default ring (4 shards × 150 virtual nodes, 10,000 personas): \(perShard.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")), max/mean \(String(format: "%.3f", imbalance))")
        #expect(imbalance < 1.25, "150 virtual nodes keep the ring within 25% of even")
        try await store.close()
    }
}
