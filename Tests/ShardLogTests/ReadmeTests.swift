import CommandLog
import Foundation
import Testing

@testable import ShardLog

/// Keeps the README true: its engine example compiles and runs here line for line, and
/// its CLI tour runs against the built `shardlog`.
@Suite struct ReadmeTests {
    static var readme: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }

    @Test func engineExampleRuns() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let dataDirectory = dir.store

        // --- the README's block ---
        var configuration = StoreConfiguration()  // 4 shards, consistent hashing, durability .always
        configuration.embeddingDimension = 3
        let store = try await ShardStore.open(at: dataDirectory, configuration: configuration)
        try await store.createPersona(id: "ada", name: "Ada", isActive: true)
        try await store.addMemory(id: "m1", personaId: "ada", content: "likes green tea", name: "tea", importance: 70, embedding: [0.1, 0.2, 0.3])
        let memories = try store.personaMemories("ada", query: MemoryQuery(tier: .hot, limit: 10))
        let shard = store.shardForPersona("ada")  // "shard_03": Specs/Routing.md
        let moved = try await store.migratePersona("ada", to: "shard_00")  // hot: copy, verify, cut over
        let live = try store.digests()
        try await store.rebuild()  // every shard, from the log
        let rebuilt = try store.digests()  // equals live
        try await store.close()
        print(memories.count, shard ?? "", moved.phase, rebuilt == live)  // 1 shard_03 completed true
        // --- end ---

        #expect(memories.count == 1 && shard == "shard_03" && moved.phase == .completed && rebuilt == live && live.count == 4)
        #expect(store.shardForPersona("ada") == "shard_00")
    }

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The README shows the example package's two files as they are (CI builds and runs
    /// the package), and every line of its `main.swift` runs in `engineExampleRuns`.
    @Test func engineBlocksAreTheExamplePackage() throws {
        let blocks = Self.readme.components(separatedBy: "```swift\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Examples/Embedding/Package.swift"), encoding: .utf8)
        let main = try String(contentsOf: Self.root.appendingPathComponent("Examples/Embedding/Sources/Embedding/main.swift"), encoding: .utf8)
        #expect(blocks.contains(manifest), "the README shows Examples/Embedding/Package.swift as it is")
        #expect(blocks.contains(main), "the README shows Examples/Embedding/Sources/Embedding/main.swift as it is")
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let testLines = Set(source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for line in main.split(separator: "\n") where !line.hasPrefix("import ") && !line.hasPrefix("let dataDirectory") {
            #expect(testLines.contains(line.trimmingCharacters(in: .whitespaces)), "example line not exercised: \(line)")
        }
    }

    /// Every `$ ` line of the README's CLI tour, in order, in a fresh directory.
    @Test func cliTourRuns() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let commands = Self.readme.split(separator: "\n").filter { $0.hasPrefix("$ ") }.map { String($0.dropFirst(2)) }
        #expect(commands.count >= 8)
        let script = "set -e\ncd '\(dir.path)'\n" + commands.joined(separator: "\n") + "\n"
        let path = productsDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let (status, stdout, stderr) = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", script], environment: ["PATH": path])
        #expect(status == 0, "\(stderr)")
        // The outputs the README quotes.
        #expect(stdout.contains("applied 2 commands, LSN 2…3\n"))
        #expect(stdout.contains("ada\tAda\tshard_03\tactive\n"))
        #expect(stdout.contains("ok: 1 segment, 2 frames, 3 commands, last LSN 3, chain head "))
        #expect(stdout.contains("mig-1\tcompleted\tada\tshard_03 -> shard_04\t2 rows\n"))
        for step in ["migrationStarted", "migrationCopied (2 rows)", "migrationVerify", "migrationVerified", "migrationCutOver", "migrationCompleted"] {
            #expect(stdout.contains("\t\(step)\n"), "migration show lists \(step)")
        }
        #expect(stdout.contains("m1\t70\thot\ttea\n"), "a detached memory is read with its persona")
        #expect(stdout.contains("removed shard_04\n"))
        #expect(stdout.contains("shard_04\tremoved\t0 personas\n"))
        #expect(stdout.contains("\"op\":\"migrationCutOver\""))
    }
}
