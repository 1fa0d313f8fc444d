import CommandLog
import Foundation
import Testing

@testable import ShardLog


/// Runs the built `shardlog` executable.
func runShardLog(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(productsDirectory.appendingPathComponent("shardlog"), arguments, input: input.map { Data($0.utf8) }, environment: environment)
}

/// Runs the built `shardlog` executable with raw bytes (which need not be UTF-8) on standard input.
func runShardLog(_ arguments: [String], bytes: Data) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(productsDirectory.appendingPathComponent("shardlog"), arguments, input: bytes)
}

/// Runs `executable` with `arguments` (and `input` on standard input, the process's
/// environment with `environment` over it); returns its status and what it printed.
func runProcess(
    _ executable: URL, _ arguments: [String], input: Data? = nil, environment: [String: String] = [:]
) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    let inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(input) }
    try inPipe.fileHandleForWriting.close()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stdout, stderr)
}

func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
}

let sampleCommands = """
    {"op":"createPersona","id":"p1","name":"Ada","isActive":true,"privacySettings":{"dataCollection":false}}
    {"op":"addMemory","id":"m1","personaId":"p1","name":"tea","content":"likes green tea","tags":["preference"],"importance":0,"tier":"warm","commandId":"c-1","actor":"alice","reason":"onboarding"}
    {"op":"addMemory","id":"m2","personaId":"p1","name":"hike","content":"went hiking","importance":80,"embedding":[0.5,0.25,0,1],"embeddingModel":"minilm"}
    {"op":"createConversation","id":"c1","personaId":"p1","title":"Morning"}
    {"op":"addMessage","conversationId":"c1","role":"user","content":"Good morning"}
    {"op":"addMessage","conversationId":"c1","role":"assistant","content":"Hello!"}
    {"op":"markMemoryAccessed","id":"m1"}

    """

@Suite struct CLITests {
    func makeStore(_ dir: TemporaryDirectory) throws {
        let result = try runShardLog(["init", "--data-dir", dir.store, "--shards", "4", "--embedding-dimension", "4"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "initialized 4 shards (hash, 150 virtual nodes) in \(dir.store)\n")
        let applied = try runShardLog(["apply", "--data-dir", dir.store, "-", "--json"], input: sampleCommands)
        #expect(applied.status == 0, "\(applied.stderr)")
        let object = try jsonLines(applied.stdout).first
        #expect(object?["applied"] as? Int == 7 && object?["firstLSN"] as? Int == 2 && object?["lastLSN"] as? Int == 8)
    }

    @Test func initApplyAndRead() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try makeStore(dir)
        let list = try runShardLog(["persona", "list", "--data-dir", dir.store])
        #expect(list.status == 0 && list.stdout == "p1\tAda\tshard_03\tactive\n")
        let persona = try jsonLines(try runShardLog(["persona", "get", "p1", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect(persona["shard"] as? String == "shard_03")
        #expect((persona["privacySettings"] as? [String: Any])?["dataCollection"] as? Bool == false, "a stored false stays false")
        let memories = try jsonLines(try runShardLog(["memories", "--persona", "p1", "--data-dir", dir.store, "--json"]).stdout)
        #expect(memories.map { $0["id"] as? String } == ["m2", "m1"])
        #expect(memories[1]["importance"] as? Int == 0 && memories[1]["accessCount"] as? Int == 1, "an importance of 0 stays 0")
        #expect(try runShardLog(["memories", "--persona", "p1", "--tier", "warm", "--limit", "1", "--data-dir", dir.store]).stdout == "m1\t0\twarm\ttea\n")
        let conversation = try jsonLines(try runShardLog(["conversation", "get", "c1", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect((conversation["messages"] as? [[String: Any]])?.map { $0["sequence"] as? Int } == [1, 2])
        let dump = try jsonLines(try runShardLog(["dump", "--data-dir", dir.store]).stdout)
        #expect(dump.map { $0["kind"] as? String } == ["persona", "memory", "memory", "conversation", "message", "message"])
        #expect(dump.allSatisfy { $0["shard"] as? String == "shard_03" }, "co-location: everything on the persona's shard")
        let log = try jsonLines(try runShardLog(["log", "--data-dir", dir.store, "--persona", "p1", "--type", "addMemory"]).stdout)
        #expect(log.map { $0["lsn"] as? Int } == [3, 4])
        #expect(log[0]["actor"] as? String == "alice" && log[0]["reason"] as? String == "onboarding" && log[0]["commandId"] as? String == "c-1")
        let all = try jsonLines(try runShardLog(["log", "--data-dir", dir.store, "--from", "5", "--to", "6"]).stdout)
        #expect(all.map { $0["op"] as? String } == ["createConversation", "addMessage"])
        let shards = try jsonLines(try runShardLog(["shards", "--data-dir", dir.store, "--json"]).stdout)
        #expect(shards.count == 4 && shards.allSatisfy { $0["appliedLSN"] as? Int == 8 })
        let digest = try runShardLog(["digest", "--data-dir", dir.store])
        let rebuilt = try runShardLog(["rebuild", "--all", "--data-dir", dir.store])
        #expect(digest.status == 0 && rebuilt.status == 0 && rebuilt.stdout == digest.stdout, "rebuild equals live")
        let asOf = try runShardLog(["rebuild", "--as-of", "2", "--into", dir.path + "/restore", "--data-dir", dir.store, "--json"])
        #expect(asOf.status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/restore/shards/shard_03.sqlite"))
    }

    @Test func badInputExitsTwoAndChangesNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try makeStore(dir)
        let before = try runShardLog(["digest", "--data-dir", dir.store]).stdout
        let cases: [(String, String)] = [
            ("{\"op\":\"addMemory\",\"id\":\"m9\",\"personaId\":\"p1\",\"name\":\"x\",\"content\":\"y\"}\n{\"op\":\"addMemory\",\"id\":\"m10\",\"personaId\":\"ghost\",\"name\":\"x\",\"content\":\"y\"}", "line 2 (addMemory): no persona with id ghost"),
            ("{\"op\":\"bogus\"}", "line 1: unknown op \"bogus\""),
            ("not json", "line 1: not valid JSON"),
            ("{\"op\":\"addMemory\",\"id\":\"m9\",\"personaId\":\"p1\",\"name\":\"x\",\"content\":\"y\",\"importance\":101}", "importance 101 is outside 0…100"),
            ("{\"op\":\"addMemory\",\"id\":\"m9\",\"personaId\":\"p1\",\"name\":\"x\",\"content\":\"y\",\"tier\":\"active\"}", "field \"tier\" is \"active\""),
            ("{\"op\":\"addMemory\",\"id\":\"m9\",\"personaId\":\"p1\",\"name\":\"x\",\"content\":\"y\",\"embedding\":[1,2]}", "embedding has dimension 2, the store's is 4"),
            ("{\"op\":\"createPersona\",\"id\":\"p2\",\"name\":\"\"}", "name is empty"),
            ("{\"op\":\"createPersona\",\"id\":\"p1\",\"name\":\"Again\"}", "a persona with id p1 exists"),
            ("{\"op\":\"createPersona\",\"id\":\"p2\",\"name\":\"N\",\"isActive\":\"yes\"}", "field \"isActive\" must be true or false"),
        ]
        for (input, message) in cases {
            let result = try runShardLog(["apply", "--data-dir", dir.store, "-"], input: input)
            #expect(result.status == 2, "\(input)")
            #expect(result.stderr.contains(message), "\(result.stderr) should say \(message)")
            #expect(result.stderr.hasSuffix("nothing was applied\n") && !result.stderr.contains("Fatal"))
        }
        #expect(try runShardLog(["digest", "--data-dir", dir.store]).stdout == before, "the store is unchanged")
        #expect(try jsonLines(try runShardLog(["log", "--data-dir", dir.store]).stdout).count == 8)
        let missing = try runShardLog(["persona", "get", "nope", "--data-dir", dir.store])
        #expect(missing.status == 2 && missing.stderr == "shardlog: no persona with id nope\n")
        let again = try runShardLog(["init", "--data-dir", dir.store])
        #expect(again.status == 2 && again.stderr.contains("is already a ShardLog store"))
    }

    /// Workflow commands given bad input exit 2 with one line and change nothing.
    @Test func badWorkflowInputExitsTwoAndChangesNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try makeStore(dir)
        let before = try runShardLog(["digest", "--data-dir", dir.store]).stdout
        let lastLSN = try jsonLines(try runShardLog(["log", "--data-dir", dir.store]).stdout).count
        let cases: [([String], String)] = [
            (["migrate", "persona", "ghost", "--to", "shard_00"], "no persona with id ghost"),
            (["migrate", "persona", "p1", "--to", "shard_99"], "shard shard_99 is not an active shard"),
            (["migrate", "persona", "p1", "--to", "shard_03"], "persona p1 is already on shard_03"),
            (["migrate", "persona", "p1", "--to", "shard_00", "--batch-size", "0"], "batch size 0 is outside 1…100,000"),
            (["migrate", "memory", "ghost", "--to", "shard_00"], "no memory with id ghost"),
            (["migration", "abort", "mig-9"], "no migration with id mig-9"),
            (["migration", "reverse", "mig-9"], "no migration with id mig-9"),
            (["migration", "show", "mig-9"], "no migration with id mig-9"),
            (["rebalance", "rollback", "plan-9"], "no plan with id plan-9"),
            (["shard", "remove", "shard_03"], "shard shard_03 still holds 1 persona; drain it first"),
            (["shard", "remove", "shard_99"], "no shard with id shard_99"),
            (["shard", "add", "bad id!"], "shard id bad id! is not 1…64 characters"),
            (["shard", "add", "shard_00"], "shard shard_00 exists"),
        ]
        for (arguments, message) in cases {
            let result = try runShardLog(arguments + ["--data-dir", dir.store])
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("shardlog: ") && result.stderr.contains(message), "\(arguments): \(result.stderr) should say \(message)")
            #expect(result.stderr.split(separator: "\n").count == 1 && !result.stderr.contains("Fatal"), "one line")
        }
        #expect(try runShardLog(["digest", "--data-dir", dir.store]).stdout == before, "the shards are unchanged")
        #expect(try jsonLines(try runShardLog(["log", "--data-dir", dir.store]).stdout).count == lastLSN, "nothing was logged")
        // And the same commands succeed with good input, in JSON.
        let moved = try jsonLines(try runShardLog(["migrate", "persona", "p1", "--to", "shard_00", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect(moved["id"] as? String == "mig-1" && moved["phase"] as? String == "completed" && moved["target"] as? String == "shard_00")
        let list = try jsonLines(try runShardLog(["migration", "list", "--data-dir", dir.store, "--json"]).stdout)
        #expect(list.map { $0["id"] as? String } == ["mig-1"])
        let show = try jsonLines(try runShardLog(["migration", "show", "mig-1", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect((show["steps"] as? [[String: Any]])?.map { $0["op"] as? String }.last == "migrationCompleted")
        let shards = try jsonLines(try runShardLog(["shard", "list", "--data-dir", dir.store, "--json"]).stdout)
        #expect(shards.first { $0["id"] as? String == "shard_00" }?["personas"] as? Int == 1)
        let plan = try jsonLines(try runShardLog(["rebalance", "plan", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect(plan["imbalance"] is Double && plan["moves"] is [Any])
        let reversed = try jsonLines(try runShardLog(["migration", "reverse", "mig-1", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect(reversed["reverseOf"] as? String == "mig-1" && reversed["target"] as? String == "shard_03")
        #expect(try runShardLog(["verify", "--data-dir", dir.store]).status == 0)
    }

    /// `shardlog generate`: seeded (same options, same bytes), what `apply` reads, and two
    /// stores built from it have the same digests.
    @Test func generateIsSeededAndApplies() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = ["generate", "--personas", "3", "--memories-per-persona", "5", "--conversations-per-persona", "2",
                       "--messages-per-conversation", "3", "--embedding-dimension", "4"]
        let first = try runShardLog(options + ["--seed", "7"])
        let again = try runShardLog(options + ["--seed", "7"])
        let other = try runShardLog(options + ["--seed", "8"])
        #expect(first.status == 0 && first.stdout == again.stdout, "same seed, same bytes")
        #expect(first.stdout != other.stdout, "another seed, another workload")
        let lines = try jsonLines(first.stdout)
        #expect(lines.count == GeneratedWorkload.Parameters(
            personas: 3, memoriesPerPersona: 5, conversationsPerPersona: 2, messagesPerConversation: 3, embeddingDimension: 4).commandCount)
        #expect(lines.filter { $0["op"] as? String == "addMemory" }.allSatisfy { ($0["embedding"] as? [Double])?.count == 4 && ($0["tags"] as? [String])?.count == 2 })
        var digests: [String] = []
        for name in ["a", "b"] {
            let store = dir.path + "/" + name
            #expect(try runShardLog(["init", "--data-dir", store, "--embedding-dimension", "4"]).status == 0)
            let applied = try runShardLog(["apply", "--data-dir", store, "-", "--json"], input: first.stdout)
            #expect(applied.status == 0, "\(applied.stderr)")
            #expect(try jsonLines(applied.stdout).first?["applied"] as? Int == lines.count)
            digests.append(try runShardLog(["digest", "--data-dir", store]).stdout)
            let shards = try jsonLines(try runShardLog(["shards", "--data-dir", store, "--json"]).stdout)
            #expect(shards.reduce(0) { $0 + ($1["memories"] as? Int ?? 0) } == 15 && shards.reduce(0) { $0 + ($1["messages"] as? Int ?? 0) } == 18)
        }
        #expect(digests[0] == digests[1] && !digests[0].isEmpty, "the same workload builds the same shards")
        #expect(try runShardLog(["generate", "--personas", "-1"]).status == 2, "bad options are a usage error (2, not ArgumentParser's 64)")
        #expect(try runShardLog(["init", "--shards", "abc"]).status == 2)
        #expect(try runShardLog(["no-such-command"]).status == 2)
        #expect(try runShardLog(["--help"]).status == 0)
    }

    /// A new store's configuration is checked by the engine before anything is created.
    @Test func badInitOptionsCreateNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let cases: [([String], String)] = [
            (["--shards", "0"], "a store has 1…256 shards, not 0"),
            (["--shards", "257"], "a store has 1…256 shards, not 257"),
            (["--virtual-nodes", "0"], "virtual nodes must be 1…1000"),
            (["--embedding-dimension", "5000"], "embedding dimension must be 1…4096"),
            (["--strategy", "range", "--shards", "3", "--range-boundaries", "m,c"], "range boundaries must strictly increase"),
            (["--strategy", "range", "--shards", "3", "--range-boundaries", "m"], "range strategy needs 2 boundaries, got 1"),
        ]
        for (options, message) in cases {
            let result = try runShardLog(["init", "--data-dir", dir.store] + options)
            #expect(result.status == 2, "\(options)")
            #expect(result.stderr == "shardlog: invalid configuration: \(message); nothing was created\n", "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.store), "\(options) left \(dir.store) behind")
        }
    }

    @Test func verifyExitCodes() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try makeStore(dir)
        let sound = try runShardLog(["verify", "--data-dir", dir.store])
        #expect(sound.status == 0)
        #expect(sound.stdout.hasPrefix("ok: 1 segment, 2 frames, 8 commands, last LSN 8, chain head "))
        let json = try jsonLines(try runShardLog(["verify", "--json"], environment: ["SHARDLOG_DATA_DIR": dir.store]).stdout)[0]
        #expect(json["ok"] as? Bool == true && json["commands"] as? Int == 8 && (json["chainHead"] as? String)?.count == 64)
        // Damage the payload of the second frame.
        let segment = dir.store + "/log/00000000000000000001.log"
        var bytes = Array(FileManager.default.contents(atPath: segment)!)
        let stored = Int(bytes[64 + 20]) | Int(bytes[64 + 21]) << 8 | Int(bytes[64 + 22]) << 16 | Int(bytes[64 + 23]) << 24
        let second = 64 + 64 + ((stored + 7) & ~7)
        bytes[second + 70] ^= 0x10
        _ = FileManager.default.createFile(atPath: segment, contents: Data(bytes))
        let broken = try runShardLog(["verify", "--data-dir", dir.store])
        #expect(broken.status == 3)
        #expect(broken.stdout.contains("segment 00000000000000000001.log, offset \(second), LSN 2"))
        let brokenJSON = try jsonLines(try runShardLog(["verify", "--data-dir", dir.store, "--json"]).stdout)[0]
        #expect(brokenJSON["ok"] as? Bool == false && brokenJSON["offset"] as? Int == second && brokenJSON["lsn"] as? Int == 2)
        let missing = try runShardLog(["verify", "--data-dir", dir.path + "/nope"])
        #expect(missing.status == 2 && missing.stderr.contains("no data directory"))
        let foreign = try runShardLog(["verify", "--data-dir", dir.path])
        #expect(foreign.status == 2 && foreign.stderr.contains("is not a ShardLog store"))
    }

    /// A fifth shard added to a store of evenly sized personas takes its share: after a
    /// rebalance with the default thresholds every shard holds 0.8–1.2 of the mean in
    /// personas and in records, and most moves go where the persona's ring position points.
    /// (Before, the imbalance looked at the largest shard only: 8 of 400 personas moved.)
    @Test func aNewShardIsFilledByARebalance() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(try runShardLog(["init", "--data-dir", dir.store]).status == 0)
        let workload = try runShardLog(["generate", "--personas", "400", "--memories-per-persona", "2", "--conversations-per-persona", "1",
                                        "--messages-per-conversation", "2", "--embedding-dimension", "0"]).stdout
        #expect(try runShardLog(["apply", "--data-dir", dir.store, "-"], input: workload).status == 0)
        #expect(try runShardLog(["shard", "add", "shard_04", "--data-dir", dir.store]).status == 0)
        let planText = try runShardLog(["rebalance", "plan", "--data-dir", dir.store])
        #expect(planText.stdout.contains("\nbefore: imbalance 2.000 (records 0.000–"), "\(planText.stdout)")
        #expect(planText.stdout.contains("\nafter "), "the plan states the figure after its moves: \(planText.stdout)")
        let plan = try jsonLines(try runShardLog(["rebalance", "plan", "--data-dir", dir.store, "--json"]).stdout)[0]
        let predicted = try #require(plan["after"] as? [String: Any])
        let routed = Set(try jsonLines(try runShardLog(["dump", "--data-dir", dir.store]).stdout)
            .filter { $0["kind"] as? String == "persona" }.compactMap { $0["id"] as? String }
            .filter { Router(strategy: .hash, shards: Router.defaultShardIDs(count: 5)).shard(for: $0) == "shard_04" })
        let applied = try runShardLog(["rebalance", "apply", "--data-dir", dir.store, "--json"])
        #expect(applied.status == 0, "\(applied.stderr)")
        let result = try jsonLines(applied.stdout)[0]
        let moves = try #require(result["moves"] as? [[String: Any]])
        let after = try #require(result["after"] as? [String: Any])
        #expect(after["imbalance"] as? Double == predicted["imbalance"] as? Double, "the plan said what the rebalance did")
        // The shards as the store reports them, not as the plan computed them.
        let shards = try jsonLines(try runShardLog(["shards", "--data-dir", dir.store, "--json"]).stdout)
        #expect(shards.count == 5)
        func records(_ shard: [String: Any]) -> Int { ["personas", "memories", "conversations", "messages"].map { shard[$0] as! Int }.reduce(0, +) }
        for key in ["personas", "records"] {
            let values = shards.map { Double(key == "records" ? records($0) : $0[key] as! Int) }
            let mean = values.reduce(0, +) / Double(values.count)
            for (shard, value) in zip(shards, values) {
                #expect((0.8...1.2).contains(value / mean), "\(shard["id"]!): \(key) \(value) of mean \(mean)")
            }
        }
        let toNewShard = moves.filter { $0["target"] as? String == "shard_04" }
        let onRing = toNewShard.filter { routed.contains($0["personaId"] as! String) }.count
        #expect(Double(onRing) >= 0.6 * Double(toNewShard.count), "\(onRing) of \(toNewShard.count) moves follow the ring (\(routed.count) personas point at shard_04)")
        print("a fifth shard: \(moves.count) moves, \(onRing) of \(toNewShard.count) to shard_04 along the ring; imbalance \(plan["imbalance"]!) -> \(after["imbalance"]!)")
    }
}
