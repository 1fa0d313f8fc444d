import ArgumentParser
import CommandLog
import Foundation
import ShardLog

/// `shardlog init` and `apply`: creating a store and writing commands from JSON lines.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new store: its log, catalog and shard databases.",
        discussion: """
            Example:
              shardlog init --data-dir ./shardlog-data --shards 4 --strategy hash
            """
    )

    @OptionGroup var store: StoreOptions
    @Option(help: "Number of shards (\(EngineLimits.shardCountRange.lowerBound)…\(EngineLimits.shardCountRange.upperBound)).") var shards = 4
    @Option(help: "Placement of new personas: hash (consistent hashing), modulo, range or directory.")
    var strategy = "hash"
    @Option(name: .customLong("virtual-nodes"), help: "Virtual nodes per shard on the hash ring.") var virtualNodes = 150
    @Option(name: .customLong("embedding-dimension"), help: "Dimension of memory embeddings.") var embeddingDimension = 384
    @Option(name: .customLong("range-boundaries"), help: "For --strategy range: comma-separated boundaries (N-1 of them).")
    var rangeBoundaries: String?

    func run() async throws {
        let directory = store.resolvedDataDirectory
        if FileManager.default.fileExists(atPath: store.logDirectory) {
            throw fail("\(directory) is already a ShardLog store; use another --data-dir", code: ExitStatus.invalidInput)
        }
        guard let strategy = ShardingStrategy(rawValue: strategy) else {
            throw fail("unknown strategy \"\(self.strategy)\" (one of: hash, modulo, range, directory)", code: ExitStatus.invalidInput)
        }
        var configuration = StoreConfiguration()
        configuration.shardCount = shards
        configuration.strategy = strategy
        configuration.virtualNodes = virtualNodes
        configuration.embeddingDimension = embeddingDimension
        configuration.rangeBoundaries = rangeBoundaries.map { $0.split(separator: ",").map(String.init) }
        let created = !FileManager.default.fileExists(atPath: directory)
        do {
            let opened = try await ShardStore.open(at: directory, configuration: configuration)
            let ids = opened.shardIDs
            try await opened.close()
            if store.json {
                printJSON(["dataDirectory": directory, "shards": ids, "strategy": configuration.effectiveStrategyName, "virtualNodes": virtualNodes])
            } else {
                print("initialized \(counted(ids.count, "shard")) (\(configuration.effectiveStrategyName), \(virtualNodes) virtual nodes) in \(directory)")
            }
        } catch {
            if created { try? FileManager.default.removeItem(atPath: directory) }
            throw exitFor(error)
        }
    }
}

extension StoreConfiguration {
    var effectiveStrategyName: String { (strategy == .hash && !consistentHashing ? ShardingStrategy.modulo : strategy).rawValue }
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply commands from a JSON-lines file (or - for standard input).",
        discussion: """
            One JSON object per line: {"op": "createPersona", "id": "p1", "name": "Ada"}. The whole
            file is checked first; if any line is invalid, nothing is written and the error names
            the line. Ops: \(CommandJSON.ops.joined(separator: ", ")).

            Example:
              echo '{"op":"createPersona","id":"p1","name":"Ada"}' | shardlog apply --data-dir ./shardlog-data -
            """
    )

    @OptionGroup var store: StoreOptions
    @Argument(help: "A JSON-lines file, or - for standard input.") var file: String

    /// Commands per atomic unit when a file is larger (each unit is one log append).
    static let unitCommandCount = 10_000

    func run() async throws {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw fail("cannot read \(file)", code: ExitStatus.invalidInput)
            }
            data = contents
        }
        let parsed: [CommandJSON.ParsedLine]
        do {
            parsed = try CommandJSON.parseLines(data)
        } catch {
            throw fail("\(error); nothing was applied", code: ExitStatus.invalidInput)
        }
        let commands = parsed.map { ($0.command, $0.envelope) }
        let lineNumbers = parsed.map(\.line)
        try await withStore(store) { store in
            do {
                try store.validate(commands)
            } catch ShardLogError.invalidCommand(let index, let op, let reason) {
                throw fail("line \(lineNumbers[index]) (\(op)): \(reason); nothing was applied", code: ExitStatus.invalidInput)
            }
            var lsns: [LSN] = []
            var start = 0
            while start < commands.count {
                let end = min(start + Self.unitCommandCount, commands.count)
                lsns += try await store.execute(Array(commands[start..<end]))
                start = end
            }
            // Report only what the projections took too (a full disk fails here, not later).
            try await store.waitForProjections()
            let first = lsns.min()?.rawValue ?? 0
            let last = lsns.max()?.rawValue ?? 0
            if self.store.json {
                printJSON(["applied": lsns.count, "firstLSN": first, "lastLSN": last])
            } else {
                print("applied \(counted(lsns.count, "command"))" + (lsns.isEmpty ? "" : lsns.count == 1 ? ", LSN \(first)" : ", LSN \(first)…\(last)"))
            }
        }
    }
}
