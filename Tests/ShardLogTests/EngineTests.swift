import CommandLog
import Foundation
import Testing

@testable import ShardLog

@Suite struct EngineTests {
    @Test func writeReadReopenRebuild() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        #expect(store.shardIDs == ["shard_00", "shard_01", "shard_02", "shard_03"])
        try await store.execute(.createPersona(PersonaCreation(id: "alice", shard: "", name: "Alice", isActive: true)))
        #expect(store.shardForPersona("alice") == "shard_02", "Specs/Routing.md's vector")
        for i in 0..<20 {
            try await store.execute(.addMemory(MemoryCreation(
                id: "m\(i)", personaId: "alice", name: "memory \(i)", content: "content \(i)", tags: ["t\(i % 3)"],
                importance: i * 5, tier: i % 2 == 0 ? .hot : .cold, embedding: [1, 2, 3, Float(i)])))
        }
        try await store.execute(.createConversation(id: "c1", personaId: "alice", title: "Hello"))
        try await store.execute(.addMessage(conversationId: "c1", role: .user, content: "hi"))
        try await store.execute(.addMessage(conversationId: "c1", role: .assistant, content: "hello!"))
        let memories = try store.personaMemories("alice", query: MemoryQuery(tier: .hot, limit: 3))
        #expect(memories.map(\.id) == ["m18", "m16", "m14"])
        #expect(try store.conversation(id: "c1")?.messages.map(\.content) == ["hi", "hello!"])
        #expect(try store.activePersona()?.id == "alice")
        await #expect(throws: ShardLogError.self) {
            try await store.execute(.addMemory(MemoryCreation(id: "bad", personaId: "alice", name: "x", content: "y", importance: 101)))
        }
        await #expect(throws: ShardLogError.self) {
            try await store.execute(.addMemory(MemoryCreation(id: "bad", personaId: "nobody", name: "x", content: "y")))
        }
        let lastLSN = store.lastLSN
        let digests = try store.digests()
        try await store.close()

        let reopened = try await ShardStore.open(at: dir.store)
        #expect(reopened.lastLSN == lastLSN)
        #expect(try reopened.digests() == digests)
        #expect(try reopened.memory(id: "m7")?.importance == 35)
        try await reopened.rebuild()
        let rebuilt = try reopened.digests()
        #expect(rebuilt == digests, "rebuild equals live")
        #expect(try reopened.personaMemories("alice").count == 20)
        try await reopened.close()
    }

    @Test func lostShardIsRebuiltOnOpen() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        for p in 0..<12 {
            try await store.execute(.createPersona(PersonaCreation(id: "p\(p)", shard: "", name: "P\(p)")))
            try await store.execute(.addMemory(MemoryCreation(id: "m\(p)", personaId: "p\(p)", name: "n", content: "c")))
        }
        let digests = try store.digests()
        try await store.close()
        let victim = StoreLayout(dataDirectory: dir.store).shardPath("shard_01")
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: victim + suffix) }
        let reopened = try await ShardStore.open(at: dir.store)
        #expect(try reopened.digests() == digests, "a lost shard is a rebuild")
        try await reopened.close()
    }

    @Test func idempotentRetriesAndAtomicUnits() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        let first = try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P")), envelope: Envelope(commandID: "req-1"))
        let again = try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P")), envelope: Envelope(commandID: "req-1"))
        #expect(first == again, "CMD-016: acknowledged again, not appended")
        let before = store.lastLSN
        await #expect(throws: ShardLogError.self) {
            try await store.execute([
                (.addMemory(MemoryCreation(id: "ok", personaId: "p", name: "n", content: "c")), Envelope()),
                (.addMemory(MemoryCreation(id: "ok", personaId: "p", name: "n", content: "c")), Envelope()),
            ])
        }
        #expect(store.lastLSN == before, "an invalid unit appends nothing")
        #expect(try store.memory(id: "ok") == nil)
        try await store.execute(.addMemory(MemoryCreation(id: "ok", personaId: "p", name: "n", content: "c")))
        try await store.close()
    }

    /// CMD-016 with the first attempt still in flight: the retry is acknowledged only once the
    /// first is durable (and applied), so a read after the retry sees the write.
    @Test func aRetryWhileTheFirstIsInFlightWaitsForIt() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = smallConfiguration()
        configuration.durability = .always
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P")))
        for round in 0..<20 {
            let command = Command.addMemory(MemoryCreation(id: "m\(round)", personaId: "p", name: "n", content: "c"))
            let envelope = Envelope(commandID: "req-\(round)")
            async let first = store.execute(command, envelope: envelope)
            // Give the first attempt the moment to be staged, not to be synced.
            try await Task.sleep(for: .microseconds(50))
            let again = try await store.execute(command, envelope: envelope)
            #expect(try store.memory(id: "m\(round)") != nil, "round \(round): the retry returned before the write was readable")
            #expect(try await first == again)
        }
        try await store.close()
    }
}

@Suite struct EdgeValueTests {
    /// Empty strings stay empty (not NULL), Unicode and quotes survive, embeddings round-trip exactly.
    @Test func edgeValuesRoundTrip() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "Zoë \"Z\" 日本")))
        let memory = MemoryCreation(
            id: "m", personaId: "p", type: .audio, name: "n", content: "", summary: "", tags: ["", "quote\"d"].filter { !$0.isEmpty },
            importance: 0, tier: .cold, embedding: [0, -0.0, 1e-38, -3.5], embeddingModel: "e")
        try await store.execute(.addMemory(memory))
        let read = try #require(try store.memory(id: "m"))
        #expect(read.content == "" && read.summary == "" && read.tags == ["quote\"d"] && read.importance == 0)
        #expect(read.embedding?.map(\.bitPattern) == memory.embedding?.map(\.bitPattern), "bit-exact floats")
        #expect(try store.persona(id: "p")?.name == "Zoë \"Z\" 日本")
        let live = try store.digests()
        try await store.rebuild()
        #expect(try store.digests() == live)
        try await store.close()
    }
}

@Suite struct AsOfTests {
    /// Point-in-time restore by LSN and by time: the shard as it was before a later write.
    @Test func rebuildAsOfATime() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        let t0 = Timestamp(microsecondsSince1970: 1_700_000_000_000_000)
        try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P")), envelope: Envelope(timestamp: t0))
        try await store.execute(.addMemory(MemoryCreation(id: "m1", personaId: "p", name: "a", content: "x")),
                                envelope: Envelope(timestamp: Timestamp(microsecondsSince1970: t0.rawValue + 10)))
        let before = try store.digests()
        try await store.execute(.deleteMemory(id: "m1"), envelope: Envelope(timestamp: Timestamp(microsecondsSince1970: t0.rawValue + 20)))
        #expect(try store.digests() != before)
        let lsn = try store.lsn(atOrBefore: Timestamp(microsecondsSince1970: t0.rawValue + 15))
        #expect(lsn == LSN(3))
        #expect(try store.rebuild(asOf: lsn, into: dir.path + "/then") == before, "the shards as they were at that time")
        try await store.close()
    }
}

@Suite struct ProjectionLossTests {
    /// PROJ-004: a shard database replaced by an older copy of itself (it misses effects the
    /// catalog says touched it) is rebuilt on open; shards a write did not touch may lag
    /// without being rebuilt.
    @Test func anOlderCopyOfAShardIsRebuilt() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P")))
        let shard = try #require(store.shardForPersona("p"))
        try await store.close()
        let path = StoreLayout(dataDirectory: dir.store).shardPath(shard)
        try FileManager.default.copyItem(atPath: path, toPath: dir.path + "/old.sqlite")
        let again = try await ShardStore.open(at: dir.store)
        for i in 0..<5 { try await again.execute(.addMemory(MemoryCreation(id: "m\(i)", personaId: "p", name: "n", content: "c"))) }
        let digests = try again.digests()
        try await again.close()
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: dir.path + "/old.sqlite", toPath: path)
        let reopened = try await ShardStore.open(at: dir.store)
        #expect(try reopened.digests() == digests, "the old copy was rebuilt from the log")
        #expect(try reopened.personaMemories("p").count == 5)
        try await reopened.close()
    }

    /// README: everything but log/ can be deleted and is rebuilt from the log on the next open.
    @Test(arguments: [["catalog.sqlite"], ["catalog.sqlite", "shards"], ["shards"]])
    func deletedProjectionsComeBack(deleted: [String]) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        for p in 0..<8 {
            try await store.execute(.createPersona(PersonaCreation(id: "p\(p)", shard: "", name: "P", isActive: p == 5)))
            try await store.execute(.addMemory(MemoryCreation(id: "m\(p)", personaId: "p\(p)", name: "n", content: "c")))
            try await store.execute(.createConversation(id: "c\(p)", personaId: "p\(p)", title: "t"))
            try await store.execute(.addMessage(conversationId: "c\(p)", role: .user, content: "hi"))
        }
        let digests = try store.digests()
        let catalog = try store.catalogDigest()
        try await store.close()
        for name in deleted {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dir.store + "/" + name + suffix) }
        }
        let reopened = try await ShardStore.open(at: dir.store)
        #expect(try reopened.digests() == digests)
        #expect(try reopened.catalogDigest() == catalog)
        #expect(try reopened.activePersona()?.id == "p5" && reopened.shardForPersona("p3") != nil)
        await #expect(throws: ShardLogError.self) {
            try await reopened.execute(.createPersona(PersonaCreation(id: "p1", shard: "", name: "again")))
        }
        try await reopened.execute(.addMessage(conversationId: "c2", role: .assistant, content: "second"))
        #expect(try reopened.conversation(id: "c2")?.messages.map(\.sequence) == [1, 2])
        try await reopened.close()
    }
}

/// The writes by name append exactly the commands `execute` would, with their envelopes.
@Suite struct ConvenienceWriteTests {
    @Test func eachNamedWriteLogsItsCommand() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try await ShardStore.open(at: dir.store, configuration: smallConfiguration())
        let envelope = Envelope(actor: "alice", reason: "why", commandID: "c-1")
        var lsns: [LSN] = []
        lsns.append(try await store.createPersona(id: "p", name: "P", isActive: true, envelope: envelope))
        lsns.append(try await store.createPersona(id: "q", name: "Q", shard: "shard_01"))
        lsns.append(try await store.addMemory(id: "m", personaId: "p", content: "c", tags: ["t"], importance: 7))
        lsns.append(try await store.updatePersona(PersonaPatch(id: "p", description: "d")))
        lsns.append(try await store.updateMemory(MemoryPatch(id: "m", name: "n")))
        lsns.append(try await store.deleteMemory(id: "m"))
        lsns.append(try await store.createConversation(id: "c", personaId: "p"))
        lsns.append(try await store.addMessage(conversationId: "c", role: .assistant, content: "hi"))
        let expected: [Command] = [
            .createPersona(PersonaCreation(id: "p", shard: store.shardForPersona("p")!, name: "P", isActive: true)),
            .createPersona(PersonaCreation(id: "q", shard: "shard_01", name: "Q")),
            .addMemory(MemoryCreation(id: "m", personaId: "p", content: "c", tags: ["t"], importance: 7)),
            .updatePersona(PersonaPatch(id: "p", description: "d")),
            .updateMemory(MemoryPatch(id: "m", name: "n")),
            .deleteMemory(id: "m"),
            .createConversation(id: "c", personaId: "p", title: ""),
            .addMessage(conversationId: "c", role: .assistant, content: "hi"),
        ]
        var logged: [(lsn: LSN, command: Command, actor: String, commandID: String?)] = []
        try store.forEachLoggedCommand(from: LSN(2)) { logged.append(($0.lsn, $0.command, $0.actor, $0.commandID)) }
        #expect(logged.map(\.command) == expected)
        #expect(logged.map(\.lsn) == lsns)
        #expect(logged[0].actor == "alice" && logged[0].commandID == "c-1")
        #expect(store.shardForPersona("q") == "shard_01", "a named shard is kept")
        #expect(try store.memory(id: "m")?.name == "n" && store.memory(id: "m")?.deletedAt != nil)
        try await store.close()
    }
}
