// A child process for the engine's crash tests (Tests/ShardLogTests/StoreCrashTests.swift).
//
// Usage: shardstore-crash-child DIR TASKS ROUND
// Opens the store in DIR (creating it with 4 shards) and, from TASKS concurrent tasks,
// creates personas, memories, conversations and messages until it is killed. After each
// acknowledged write it prints one line:
//   persona ID | memory ID PERSONA | conversation ID PERSONA | message CONVERSATION SEQUENCE
//
// Usage: shardstore-crash-child DIR rebalance|drain ROUND
// Adds a shard and rebalances (or drains the fullest shard) while another task writes,
// printing `memory ID PERSONA` per acknowledged write, `plan ID` or `drain SHARD` when it
// starts and `done` at the end; then keeps writing until killed.
//
// Usage: shardstore-crash-child DIR migration ROUND HANDSHAKE
// Migrates persona w<ROUND % 8> step by step while another task writes to it, printing
// `memory ID PERSONA` per acknowledged write and `step PHASE MIGRATION` after each logged
// step; with HANDSHAKE 1 it waits for a line on standard input before each next step (so
// the parent can kill it right after any step). Prints `done` at the end, then keeps
// writing until killed.
//
// Usage: shardstore-crash-child DIR sqlite-memory-statistics FIRST
// Not a crash test: checks PROJ-006 in a process of its own. With FIRST `store` the store is
// the process's first use of SQLite; with `app` the process opens an SQLite connection of its
// own first. Writes 100 memories, then prints `memory-used N` (SQLite's count of its memory
// in use, which stays 0 while its memory statistics are off) and exits.
import CommandLog
import GRDBSQLite
import Glibc
import ShardLog

/// Each line reaches the parent before the next step, whenever it kills this process.
func writeLine(_ line: String) { ChildOutput.line(line) }

@main
struct StoreCrashChild {
    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count == 4, arguments[2] == "sqlite-memory-statistics" {
            try await sqliteMemoryStatistics(directory: arguments[1], storeFirst: arguments[3] == "store")
        }
        if arguments.count == 5, arguments[2] == "migration" {
            try await migration(directory: arguments[1], round: Int(arguments[3])!, handshake: arguments[4] == "1")
        }
        if arguments.count == 4, arguments[2] == "rebalance" || arguments[2] == "drain" {
            try await moveMany(directory: arguments[1], round: Int(arguments[3])!, drain: arguments[2] == "drain")
        }
        if arguments.count == 3, arguments[2] == "interrupted-rebalance" {
            try await interruptedRebalance(directory: arguments[1])
        }
        guard arguments.count == 4, let tasks = Int(arguments[2]) else {
            writeLine("usage: shardstore-crash-child DIR TASKS ROUND")
            exit(2)
        }
        let round = arguments[3]
        var configuration = StoreConfiguration()
        configuration.embeddingDimension = 4
        let store = try await ShardStore.open(at: arguments[1], configuration: configuration)
        writeLine("open \(store.lastLSN)")
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var step = 0
                    var persona = ""
                    var conversation = ""
                    var messages = 0
                    while true {
                        do {
                            switch step % 7 {
                            case 0:
                                persona = "r\(round)-t\(task)-p\(step)"
                                try await store.execute(.createPersona(PersonaCreation(id: persona, shard: "", name: "Persona \(step)")))
                                writeLine("persona \(persona)")
                            case 1:
                                conversation = "r\(round)-t\(task)-c\(step)"
                                try await store.execute(.createConversation(id: conversation, personaId: persona, title: "t"))
                                writeLine("conversation \(conversation) \(persona)")
                                messages = 0
                            case 2, 4:
                                try await store.execute(.addMessage(conversationId: conversation, role: .user, content: "m\(step)"))
                                messages += 1
                                writeLine("message \(conversation) \(messages)")
                            default:
                                // A unit of two memories: atomic (LOG-070).
                                let a = "r\(round)-t\(task)-m\(step)a"
                                let b = "r\(round)-t\(task)-m\(step)b"
                                try await store.execute([
                                    (.addMemory(MemoryCreation(id: a, personaId: persona, name: "a", content: "c \(step)", importance: step % 101, embedding: [1, 0, 0, Float(step)])), Envelope()),
                                    (.addMemory(MemoryCreation(id: b, personaId: persona, name: "b", content: "d \(step)", tier: .cold)), Envelope()),
                                ])
                                writeLine("memory \(a) \(persona)")
                                writeLine("memory \(b) \(persona)")
                            }
                        } catch {
                            writeLine("error \(error)")
                            exit(3)
                        }
                        step += 1
                    }
                }
            }
        }
    }

    static func migration(directory: String, round: Int, handshake: Bool) async throws -> Never {
        var configuration = StoreConfiguration()
        configuration.embeddingDimension = 4
        let store = try await ShardStore.open(at: directory, configuration: configuration)
        if try store.allPersonas().isEmpty {
            for p in 0..<8 {
                var unit: [(Command, Envelope)] = [(.createPersona(PersonaCreation(id: "w\(p)", shard: "", name: "W\(p)")), Envelope())]
                for m in 0..<40 {
                    unit.append((.addMemory(MemoryCreation(id: "w\(p)-m\(m)", personaId: "w\(p)", name: "n", content: "c\(m)", embedding: [1, 2, 3, Float(m)])), Envelope()))
                }
                unit.append((.createConversation(id: "w\(p)-c", personaId: "w\(p)", title: "t"), Envelope()))
                for k in 0..<3 { unit.append((.addMessage(conversationId: "w\(p)-c", role: .user, content: "m\(k)"), Envelope())) }
                try await store.execute(unit)
            }
        }
        let persona = "w\(round % 8)"
        let source = store.shardForPersona(persona)!
        let target = store.shards().first { $0.status == .active && $0.id != source }!.id
        writeLine("open \(store.lastLSN)")
        await whileWriting({ i in
            let id = "r\(round)-x\(i)"
            try await store.execute(.addMemory(MemoryCreation(id: id, personaId: persona, name: "during", content: "written during round \(round)")))
            writeLine("memory \(id) \(persona)")
            try await store.execute(.updateMemory(MemoryPatch(id: "\(persona)-m\(i % 40)", content: "round \(round) edit \(i)")))
        }) {
            var migration = try await store.startMigration(persona, to: target, batchSize: 7)
            writeLine("step \(migration.phase.rawValue) \(migration.id)")
            while migration.isUnfinished {
                if handshake { _ = Swift.readLine() }
                migration = try await store.stepMigration(migration.id)
                writeLine("step \(migration.phase.rawValue) \(migration.id)")
            }
        }
    }

    /// Runs `workflow` while a task writes without pause (`write(0)`, `write(1)`, …), then
    /// prints `done` and exits 0; an error of either is printed and exits 3. The parent
    /// usually kills the process first.
    static func whileWriting(_ write: @escaping @Sendable (Int) async throws -> Void, _ workflow: () async throws -> Void) async -> Never {
        let writer = Task {
            var i = 0
            while true {
                do {
                    try await write(i)
                } catch {
                    writeLine("error \(error)")
                    exit(3)
                }
                i += 1
            }
        }
        do {
            try await workflow()
            writeLine("done")
        } catch {
            writeLine("error \(error)")
            exit(3)
        }
        _ = await writer.result
        exit(0)
    }

    static func sqliteMemoryStatistics(directory: String, storeFirst: Bool) async throws -> Never {
        var own: OpaquePointer?
        if !storeFirst {
            guard sqlite3_open_v2(":memory:", &own, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else { exit(3) }
        }
        let store = try await ShardStore.open(at: directory)
        try await store.execute(.createPersona(PersonaCreation(id: "p", shard: "", name: "P")))
        for i in 0..<100 {
            try await store.execute(.addMemory(MemoryCreation(id: "m\(i)", personaId: "p", name: "m", content: "memory \(i)")))
        }
        _ = try store.personaMemories("p")
        writeLine("memory-used \(sqlite3_memory_used())")
        try await store.close()
        sqlite3_close(own)
        exit(0)
    }

    static func moveMany(directory: String, round: Int, drain: Bool) async throws -> Never {
        var configuration = StoreConfiguration()
        configuration.embeddingDimension = 4
        configuration.migrationBatchSize = 5
        let store = try await ShardStore.open(at: directory, configuration: configuration)
        if try store.allPersonas().isEmpty {
            for p in 0..<24 {
                var unit: [(Command, Envelope)] = [(.createPersona(PersonaCreation(id: "b\(p)", shard: "", name: "B\(p)")), Envelope())]
                for m in 0..<(4 + p % 9) {
                    unit.append((.addMemory(MemoryCreation(id: "b\(p)-m\(m)", personaId: "b\(p)", name: "n", content: "c\(m)")), Envelope()))
                }
                try await store.execute(unit)
            }
        }
        writeLine("open \(store.lastLSN)")
        await whileWriting({ i in
            let persona = "b\(i % 24)"
            let id = "r\(round)-y\(i)"
            try await store.execute(.addMemory(MemoryCreation(id: id, personaId: persona, name: "during", content: "round \(round)")))
            writeLine("memory \(id) \(persona)")
        }) {
            if drain {
                let fullest = store.shards().filter { $0.status == .active }.max { $0.personas < $1.personas }!.id
                writeLine("drain \(fullest)")
                try await store.drainShard(fullest)
            } else {
                try await store.addShard("extra\(round)")
                let events = store.events()
                Task {
                    for await event in events {
                        if case .rebalanceStarted(let planId, _) = event { writeLine("plan \(planId)") }
                    }
                }
                _ = try await store.applyRebalance(thresholds: RebalanceThresholds(maxImbalance: 1.05), maxMoves: 6)
            }
        }
    }

    /// `DIR interrupted-rebalance`: a store of 40 personas on 4 shards and a fifth shard; a
    /// rebalance is planned (the plan is durable) and the process ends, without closing the
    /// store, as the first move's migration reports its first progress: a plan left
    /// executing, as a crash leaves it (WF-056, `shardlog rebalance stop`).
    static func interruptedRebalance(directory: String) async throws {
        var configuration = StoreConfiguration()
        configuration.embeddingDimension = 4
        let store = try await ShardStore.open(at: directory, configuration: configuration)
        var unit: [(Command, Envelope)] = []
        for p in 0..<40 {
            unit.append((.createPersona(PersonaCreation(id: "q\(p)", shard: "", name: "Q\(p)")), Envelope()))
            for m in 0..<3 { unit.append((.addMemory(MemoryCreation(id: "q\(p)-m\(m)", personaId: "q\(p)", name: "n", content: "c\(m)")), Envelope())) }
        }
        try await store.execute(unit)
        try await store.addShard("shard_04")
        writeLine("planning")
        _ = try await store.applyRebalance { progress in
            writeLine("interrupted during \(progress.migrationId)")
            exit(9)
        }
        writeLine("the rebalance finished before it could be interrupted")
        exit(3)
    }
}
