import CommandLog
import Foundation
import Testing

@testable import ShardLog

/// ENG-023: an in-place rebuild releases the live state's memory index while it replays and
/// takes the replayed state as the live one after; reads go on meanwhile, and a failed
/// rebuild loads the state from the catalog again.
@Suite struct RebuildStateTests {
    func filledStore(_ dir: TemporaryDirectory, personas: Int, memories: Int) async throws -> ShardStore {
        var configuration = smallConfiguration()
        configuration.durability = .none
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        var unit: [(Command, Envelope)] = []
        for p in 0..<personas {
            unit.append((.createPersona(PersonaCreation(id: "p\(p)", shard: "", name: "P\(p)")), Envelope()))
            for m in 0..<memories {
                unit.append((.addMemory(MemoryCreation(
                    id: "m\(p)-\(m)", personaId: "p\(p)", name: "memory \(m)", content: "content \(p) \(m)",
                    importance: m % 101, embedding: [1, 2, 3, Float(m)])), Envelope()))
            }
            try await store.execute(unit)
            unit = []
        }
        return store
    }

    /// Reads made from the rebuild's own progress callback run while the index is
    /// released, every time: the fallback is exercised deterministically.
    @Test func readsFindMemoriesWhileARebuildHoldsTheIndex() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await filledStore(dir, personas: 20, memories: 100)
        let liveState = store.withState { $0 }
        let digests = try store.digests()
        let seen = ReadsSeen()
        try await store.rebuild { _, _ in
            guard store.memoryIndexIsReleased else { return }
            for (p, m) in [(0, 0), (7, 42), (19, 99)] {
                seen.add((try? store.memory(id: "m\(p)-\(m)"))??.content == "content \(p) \(m)")
            }
            seen.add((try? store.memory(id: "nowhere")) == .some(nil))
        }
        #expect(seen.count > 0, "the progress callback never ran while the index was released")
        #expect(seen.failures == 0, "\(seen.failures) of \(seen.count) reads during the rebuild were wrong")
        #expect(!store.memoryIndexIsReleased)
        #expect(store.withState { $0 } == liveState)
        #expect(try store.digests() == digests)
        try await store.close()
    }

    /// Reads from another task while rebuilds run (and swap files in) find every memory.
    /// How many land in the released window depends on scheduling; every one must be right.
    @Test func concurrentReadsDuringRebuildsAreRight() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await filledStore(dir, personas: 20, memories: 100)
        let done = DoneFlag()
        let rebuilds = Task {
            defer { done.set() }
            for _ in 0..<5 { try await store.rebuild() }
        }
        var rng = SeededRandom(seed: 7)
        while !done.isSet {
            let p = Int(rng.next() % 20), m = Int(rng.next() % 100)
            #expect(try store.memory(id: "m\(p)-\(m)")?.content == "content \(p) \(m)", "memory m\(p)-\(m) read during a rebuild")
            #expect(try store.personaMemories("p\(p)").count == 100)
            await Task.yield()
        }
        try await rebuilds.value
        try await store.close()
    }

    /// A damaged frame in the middle of the log (valid frames after it: corruption), or in
    /// its last frame (which reads as a torn tail, yet the store had it): the rebuild fails,
    /// swaps nothing in, and the state is loaded from the catalog again.
    @Test(arguments: ["middle", "last frame"])
    func aFailedRebuildLoadsTheStateAgain(where damage: String) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await filledStore(dir, personas: 6, memories: 40)
        let liveState = store.withState { $0 }
        let digests = try store.digests()
        let logDirectory = StoreLayout(dataDirectory: dir.store).logDirectory
        let segment = try FileManager.default.contentsOfDirectory(atPath: logDirectory).filter { $0.hasSuffix(".log") }.sorted().last!
        let handle = try #require(FileHandle(forUpdatingAtPath: logDirectory + "/" + segment))
        // The content's end, not the file's: zeros after the last frame are preallocated
        // space (LOG-096); the last frame's padding is at most 7 zero bytes.
        let bytes = try #require(try handle.readToEnd())
        let size = UInt64(try #require(bytes.lastIndex { $0 != 0 }) + 1)
        let offset = damage == "middle" ? size / 4 : size - 40
        try handle.seek(toOffset: offset)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: [byte ^ 0xFF])
        try handle.close()
        await #expect(throws: ShardLogError.self) { try await store.rebuild() }
        #expect(!store.memoryIndexIsReleased)
        #expect(store.withState { $0 } == liveState, "the state was loaded from the catalog again")
        #expect(try store.digests() == digests, "nothing was swapped in")
        #expect(try store.memory(id: "m3-7")?.content == "content 3 7")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: StoreLayout(dataDirectory: dir.store).shardDirectory).filter { $0.contains(".rebuild") }
        #expect(leftovers.isEmpty, "a failed rebuild leaves no half-written file: \(leftovers)")
        try? await store.close()
    }
}

private final class ReadsSeen: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    private var wrong = 0
    func add(_ right: Bool) { lock.withLock { total += 1; if !right { wrong += 1 } } }
    var count: Int { lock.withLock { total } }
    var failures: Int { lock.withLock { wrong } }
}

private final class DoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func set() { lock.withLock { done = true } }
    var isSet: Bool { lock.withLock { done } }
}
