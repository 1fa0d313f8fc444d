import Foundation
import Testing

@testable import ShardLog

/// PROJ-005: the projections' write-ahead logs are copied into their databases by the
/// checkpoint thread while the store is open, so they stay near the threshold instead of
/// growing with everything ever written (a WAL that is never checkpointed slows every read
/// and, at a million commands, held gigabytes).
@Suite struct CheckpointTests {
    @Test func projectionLogsAreCheckpointedWhileTheStoreIsOpen() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = StoreConfiguration()
        configuration.shardCount = 1
        configuration.durability = .none
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P")))
        // About 4 MiB of rows (384-float embeddings), in units of 100: several times the
        // 1 MiB threshold, written faster than one checkpoint tick apart.
        let embedding = (0..<384).map { Float($0) / 384 }
        for unit in 0..<25 {
            try await store.execute((0..<100).map { i in
                (.addMemory(MemoryCreation(id: "m\(unit)-\(i)", personaId: "p", name: "n", content: "c", importance: 1, embedding: embedding)), Envelope())
            })
        }
        let shard = dir.store + "/shards/shard_00.sqlite"
        let catalog = dir.store + "/catalog.sqlite"
        func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        // The thread ticks every 5 ms; allow a slow machine plenty.
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline && (size(shard) < 2 << 20 || size(catalog) < 64 << 10) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(size(shard) >= 2 << 20, "the shard's rows reached its database file while open")
        #expect(size(catalog) >= 64 << 10, "so did the catalog's")
        try await store.close()
    }
}
