import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog generate`: a seeded workload as the JSON lines `apply` reads.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a realistic, seeded workload as the JSON lines `shardlog apply` reads.",
        discussion: """
            Personas with personalities, memories with tags, tiers, importance and embeddings,
            conversations with messages, persona by persona, with fixed timestamps: the same
            options give the same bytes, and the stores built from them the same digests.

            Example:
              shardlog generate --personas 200 --memories-per-persona 250 --conversations-per-persona 10 --seed 7 > workload.jsonl
              shardlog apply --data-dir ./shardlog-data workload.jsonl
            """)

    @Option(help: "Personas.") var personas = 10
    @Option(name: .customLong("memories-per-persona"), help: "Memories of each persona.") var memoriesPerPersona = 100
    @Option(name: .customLong("conversations-per-persona"), help: "Conversations of each persona.") var conversationsPerPersona = 2
    @Option(name: .customLong("messages-per-conversation"), help: "Messages of each conversation (an addition).") var messagesPerConversation = 6
    @Option(name: .customLong("embedding-dimension"), help: "Embedding dimension, 0 for none (as a new store's; an addition).") var embeddingDimension = 384
    @Option(help: "The seed.") var seed: UInt64 = 1
    @Option(help: "Write to this file instead of standard output (an addition).") var output: String?

    func validate() throws {
        guard personas >= 0, memoriesPerPersona >= 0, conversationsPerPersona >= 0, messagesPerConversation >= 0 else {
            throw ValidationError("counts cannot be negative")
        }
        guard (0...4096).contains(embeddingDimension) else { throw ValidationError("--embedding-dimension must be 0…4096") }
    }

    func run() throws {
        let handle: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil) , let file = FileHandle(forWritingAtPath: output) else {
                throw fail("cannot write \(output)", code: ExitStatus.failure)
            }
            handle = file
        } else {
            handle = FileHandle.standardOutput
        }
        let workload = GeneratedWorkload(GeneratedWorkload.Parameters(
            personas: personas, memoriesPerPersona: memoriesPerPersona, conversationsPerPersona: conversationsPerPersona,
            messagesPerConversation: messagesPerConversation, embeddingDimension: embeddingDimension, seed: seed))
        var buffer = Data()
        buffer.reserveCapacity(1 << 20)
        for (command, envelope) in workload {
            var object = CommandJSON.fields(command)
            object["actor"] = envelope.actor
            if let timestamp = envelope.timestamp { object["timestamp"] = timestamp.microsecondsSince1970 }
            buffer.append(contentsOf: CommandJSON.line(object).utf8)
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count >= 1 << 20 {
                handle.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        handle.write(buffer)
        if output != nil { try handle.close() }
    }
}
