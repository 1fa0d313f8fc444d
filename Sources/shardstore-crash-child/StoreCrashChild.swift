// A child process for the engine's crash tests (Tests/ShardLogTests/StoreCrashTests.swift).
//
// Usage: shardstore-crash-child DIR TASKS ROUND
// Opens the store in DIR (creating it with 4 shards) and, from TASKS concurrent tasks,
// creates personas, memories, conversations and messages until it is killed. After each
// acknowledged write it prints one line:
//   persona ID | memory ID PERSONA | conversation ID PERSONA | message CONVERSATION SEQUENCE
import CommandLog
import Glibc
import ShardLog

func writeLine(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { exit(9) }
        done += n
    }
}

@main
struct StoreCrashChild {
    static func main() async throws {
        let arguments = CommandLine.arguments
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
}
