import CommandLog
import Foundation
import Testing

@testable import ShardLog

/// Issue 5: what a newcomer meets first — every failure they can cause prints one line
/// saying what was wrong and what to do, exits with the documented code and changes
/// nothing; every help page has an example; `shardlog demo` runs its whole tour.
@Suite struct NewcomerTests {
    /// One line on standard error, no stack trace, nothing on standard output.
    func expectOneLine(_ result: (status: Int32, stdout: String, stderr: String), status: Int32, saying message: String, _ note: String) {
        #expect(result.status == status, "\(note): exit \(result.status), \(result.stderr)")
        #expect(result.stderr.hasPrefix("shardlog: ") && result.stderr.hasSuffix("\n"), "\(note): \(result.stderr)")
        #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(note): one line, got \(result.stderr)")
        #expect(result.stderr.contains(message), "\(note): \(result.stderr) should say \(message)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"), "\(note)")
        #expect(result.stdout.isEmpty, "\(note): \(result.stdout)")
    }

    @Test func aMissingDirectoryOrANonStoreIsNamedWithWhatToDo() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let missing = try runShardLog(["persona", "list", "--data-dir", dir.path + "/nowhere"])
        expectOneLine(missing, status: 2, saying: "no data directory at \(dir.path)/nowhere: pass --data-dir, set SHARDLOG_DATA_DIR, or run `shardlog init`", "missing")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/nowhere"), "nothing is created by a read")
        try FileManager.default.createDirectory(atPath: dir.path + "/photos", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir.path + "/photos/cat.jpg", contents: Data([1, 2, 3]))
        for arguments in [["persona", "list"], ["apply", "-"], ["shards"], ["verify"]] {
            let result = try runShardLog(arguments + ["--data-dir", dir.path + "/photos"], input: "")
            expectOneLine(result, status: 2, saying: "\(dir.path)/photos is not a ShardLog store", "\(arguments)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/photos") == ["cat.jpg"], "the directory is untouched")
    }

    /// A store another process has open: the holder is named; the store is unchanged.
    @Test func aLockedStoreNamesItsHolder() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = StoreConfiguration()
        configuration.embeddingDimension = 4
        let store = try await ShardStore.open(at: dir.store, configuration: configuration)
        try await store.execute(.createPersona(PersonaCreation(id: "p1", shard: "", name: "Ada")))
        let before = try store.digests()
        let lastLSN = store.lastLSN
        let apply = try runShardLog(["apply", "--data-dir", dir.store, "-"], input: #"{"op":"createPersona","id":"p2","name":"Bo"}"#)
        expectOneLine(apply, status: 1, saying: "the store is open in another process (pid \(getpid())", "apply")
        #expect(apply.stderr.contains("wait for it to finish or stop it"))
        let read = try runShardLog(["persona", "list", "--data-dir", dir.store])
        expectOneLine(read, status: 1, saying: "the store is open in another process", "persona list")
        // What the message offers works meanwhile.
        let log = try runShardLog(["log", "--data-dir", dir.store])
        #expect(log.status == 0 && log.stdout.contains("\"op\":\"createPersona\""), "\(log.stderr)")
        #expect(try runShardLog(["verify", "--data-dir", dir.store]).status == 0)
        #expect(try store.digests() == before && store.lastLSN == lastLSN, "the store is unchanged")
        try await store.close()
    }

    /// A full disk: one line saying so and what to do; after space is freed the store opens,
    /// has every command the log acknowledged, and equals its rebuild. Needs root to mount
    /// a tmpfs: skipped, with that reason, for anyone else; CI runs as root and runs it.
    @Test(.enabled(if: getuid() == 0, "mounting a 2 MiB tmpfs to fill needs root (CI runs as root)"))
    func aFullDiskSaysSoAndTheStoreRecovers() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let mountPoint = dir.path + "/small-disk"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint]) == 0 else {
            Issue.record("cannot mount a 2 MiB tmpfs at \(mountPoint), though running as root")
            return
        }
        defer { _ = run("/bin/umount", [mountPoint]) }
        let store = mountPoint + "/store"
        #expect(try runShardLog(["init", "--data-dir", store]).status == 0)
        let workload = try runShardLog(["generate", "--personas", "5", "--memories-per-persona", "200", "--conversations-per-persona", "1"]).stdout
        let full = try runShardLog(["apply", "--data-dir", store, "-"], input: workload)
        expectOneLine(full, status: 1, saying: "the disk holding \(store) is full: free space, then run the command again", "apply on a full disk")
        let again = try runShardLog(["shards", "--data-dir", store])
        expectOneLine(again, status: 1, saying: "is full: free space", "open on a full disk")
        // Free space: the projections catch up from the log on the next open.
        #expect(run("/bin/mount", ["-o", "remount,size=64m", mountPoint]) == 0)
        let logged = try jsonLines(try runShardLog(["log", "--data-dir", store]).stdout)
        let personas = try runShardLog(["persona", "list", "--data-dir", store, "--json"])
        #expect(personas.status == 0, "\(personas.stderr)")
        let loggedPersonas = logged.filter { $0["op"] as? String == "createPersona" }.count
        #expect(try jsonLines(personas.stdout).count == loggedPersonas && loggedPersonas > 0)
        let live = try runShardLog(["digest", "--data-dir", store]).stdout
        #expect(try runShardLog(["rebuild", "--all", "--data-dir", store]).status == 0)
        #expect(try runShardLog(["digest", "--data-dir", store]).stdout == live, "rebuild equals live after the full disk")
    }

    func run(_ tool: String, _ arguments: [String]) -> Int32 {
        (try? runProcess(URL(fileURLWithPath: tool), arguments).status) ?? -1
    }

    /// `shardlog --help` and every subcommand's help, found by walking the SUBCOMMANDS
    /// lists, show an example.
    @Test func everyHelpPageHasAnExample() throws {
        var pending: [[String]] = [[]]
        var seen = 0
        while let path = pending.popLast() {
            let result = try runShardLog(path + ["--help"])
            #expect(result.status == 0, "\(path)")
            #expect(result.stdout.contains("Example"), "`shardlog \(path.joined(separator: " ")) --help` shows no example")
            seen += 1
            guard let section = result.stdout.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { continue }
            for line in section.split(separator: "\n") where line.hasPrefix("  ") && !line.hasPrefix("   ") {
                let name = line.split(separator: " ").first.map(String.init) ?? ""
                if !name.isEmpty && name != "See" { pending.append(path + [name]) }
            }
        }
        #expect(seen >= 35, "walked \(seen) help pages")
    }

    /// The tour, small: every step runs, the drill's digests are equal, the store stays.
    @Test func demoRunsEveryStep() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let result = try runShardLog(["demo", "--personas", "12", "--memories-per-persona", "20", "--conversations-per-persona", "2", "--data-dir", dir.store])
        #expect(result.status == 0, "\(result.stderr)")
        for heading in [
            "1. Create a store with 4 shards", "2. Load a generated workload: 12 personas, 240 memories", "3. How the data spread over the shards",
            "4. Read a persona's memories", "5. Migrate persona-1-0 from", "6. Add a fifth shard and rebalance", "7. Recovery drill",
            "8. Verify the whole log", "9. What each step cost",
        ] {
            #expect(result.stdout.contains(heading), "missing: \(heading)")
        }
        for step in ["migrationStarted", "migrationCopied", "migrationVerified", "migrationCutOver", "migrationCompleted", "equal: the rebuilt shard holds exactly the rows it held", "sound: "] {
            #expect(result.stdout.contains(step), "missing: \(step)")
        }
        #expect(!result.stderr.contains("\u{1B}"), "no progress bar when piped")
        #expect(result.stdout.contains("The store is left at \(dir.store)."))
        // The user can go on with it.
        let shards = try runShardLog(["shards", "--data-dir", dir.store])
        #expect(shards.status == 0 && shards.stdout.split(separator: "\n").count == 5, "\(shards.stdout)")
        #expect(try runShardLog(["verify", "--data-dir", dir.store]).status == 0)
        let again = try runShardLog(["demo", "--data-dir", dir.store])
        expectOneLine(again, status: 2, saying: "\(dir.store) already exists: the demo creates a new store", "demo on an existing directory")
    }
}
