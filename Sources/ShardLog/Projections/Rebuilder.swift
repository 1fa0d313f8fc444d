import CommandLog
import Dispatch
import Foundation
import GRDB
import ShardLogSys

/// Rebuilds projections from the log into fresh files (ENG-020): bulk mode
/// (no journal, no sync, indexes created after the load), then a sync, and the caller
/// renames the files into place. One pass over the log computes every command's
/// effects with a fresh `StoreState` — the same function live writes use — and the
/// shards' SQLite writes run in parallel, a chunk of commands at a time, so memory
/// stays bounded by the chunk (INV-8).
struct Rebuilder {
    /// Commands whose effects are buffered before each parallel write, at most.
    static let chunkCommandCount = 20_000
    /// Payload bytes buffered before each write, at most (commands with embeddings are
    /// ~1.7 KiB each: 20,000 of them would hold 34 MiB). Two chunks are held at once (one
    /// written, one filled); 8 MiB measured as fast as 16 with 20 MB less resident at 1M
    /// commands (chunks of 2,000 commands had measured slower).
    static let chunkByteCount = 8 * 1024 * 1024
    /// SQLite page cache of the file a rebuild of one shard writes: the index build that
    /// ends it reads the whole table, and 16 MiB instead of 64 measured 3–6% slower.
    static let cacheKiBOneFile = 64 * 1024
    /// SQLite page cache of all the files a rebuild of several writes, together: each
    /// table is a fraction of the data, and at 1,000,000 commands 4 × 4 MiB rebuilt as fast
    /// as 4 × 16 MiB with 60 MB less resident (Specs/Engine.md, ENG-020).
    static let cacheBudgetKiBManyFiles = 16 * 1024
    /// The least commands handed to an idle writer.
    static let chunkCommandCountMin = 2_048

    struct Progress: Sendable {
        public var lsn: LSN
        public var lastLSN: LSN
    }

    let reader: LogReader

    /// Rebuilds `targets` (shard id → new file path) and, when `catalogPath` is given, the
    /// catalog, from LSN 1 through `through`. Returns the state as of `through`.
    /// `capacityHint` (the live state's, when there is one) sizes the state's tables up front.
    func rebuild(
        targets: [String: String], catalogPath: String?, through: LSN, capacityHint: StoreState.Capacity? = nil,
        progress: ((Progress) -> Void)? = nil
    ) throws -> StoreState {
        Self.removeDatabaseFiles(targets.values + (catalogPath.map { [$0] } ?? []))
        // Targets by position: the hot loop finds a shard by comparing a few short ids
        // rather than hashing one per effect.
        let targetIDs = targets.keys.sorted()
        // One shard keeps its whole table in cache for the index build; several share one
        // small budget, so memory stays bounded however many there are.
        let fileCount = targets.count + (catalogPath == nil ? 0 : 1)
        let cacheKiB = fileCount == 1 ? Self.cacheKiBOneFile : Self.cacheBudgetKiBManyFiles / fileCount
        var queues: [DatabaseQueue] = []
        for shard in targetIDs {
            let queue = try Self.bulkQueue(targets[shard]!, cacheKiB: cacheKiB)
            try queue.write { db in try ShardSchema.create(db, shardID: shard, withIndexes: false) }
            queues.append(queue)
        }
        let catalogQueue = try catalogPath.map { path in
            let queue = try Self.bulkQueue(path, cacheKiB: cacheKiB)
            try queue.write { db in try db.execute(sql: CatalogProjection.schema) }
            return queue
        }
        var state = StoreState()
        state.reserveCapacity(capacityHint)
        // Skimming pays when some shard is not rebuilt; a catalog rebuild needs every command whole.
        var skims = false
        var shardsSeen = 0
        var shardBuffers = [[ShardEffect]](repeating: [], count: targetIDs.count)
        var catalogBuffer: [(lsn: LSN, effect: CatalogEffect)] = []
        var buffered = 0
        var bufferedBytes = 0  // payload bytes of the buffered commands: effects hold about as many
        var failure: (any Error)?
        // Writing a chunk overlaps with decoding the next one: one chunk in flight at most,
        // so memory stays bounded by two chunks.
        let writer = DispatchQueue(label: "shardlog.rebuild.writer")
        let inFlight = DispatchGroup()
        nonisolated(unsafe) var writeError: (any Error)?

        let shardQueues = queues
        let shardPaths = targetIDs.map { targets[$0]! }
        @Sendable func write(_ buffers: [[ShardEffect]], _ catalogEffects: [(lsn: LSN, effect: CatalogEffect)]) throws {
            nonisolated(unsafe) var errors = [(any Error)?](repeating: nil, count: shardQueues.count)
            errors.withUnsafeMutableBufferPointer { errorSlots in
                nonisolated(unsafe) let slots = errorSlots
                DispatchQueue.concurrentPerform(iterations: shardQueues.count) { i in
                    do {
                        try shardQueues[i].write { db in
                            for effect in buffers[i] { try ShardProjection.apply(effect, in: db) }
                        }
                        // Written back chunk by chunk while the next one is decoded, without
                        // waiting: the file's final sync has little left to do (ENG-020).
                        try Rebuilder.startWriteback(shardPaths[i])
                    } catch {
                        slots[i] = error
                    }
                }
            }
            if let error = errors.compactMap({ $0 }).first { throw error }
            if let catalogQueue {
                try catalogQueue.write { db in
                    for (lsn, effect) in catalogEffects { try CatalogProjection.apply(effect, lsn: lsn, in: db) }
                }
            }
        }

        func flush() throws {
            inFlight.wait()
            if let writeError { throw writeError }
            let buffers = shardBuffers
            let catalogEffects = catalogBuffer
            shardBuffers = [[ShardEffect]](repeating: [], count: targetIDs.count)
            catalogBuffer = []
            buffered = 0
            bufferedBytes = 0
            writer.async(group: inFlight) {
                let start = ContinuousClock.now
                do { try write(buffers, catalogEffects) } catch { writeError = error }
                Rebuilder.trace("write", ContinuousClock.now - start)
            }
        }

        let loopStart = ContinuousClock.now
        let summary: LogSummary
        do {
            summary = try reader.forEach(from: LSN(1), through: through) { view in
                guard failure == nil else { return }
                do {
                    let effects = try state.replay(view, skimming: skims, targets: targetIDs)
                    // `shardStatus` only grows (a removed shard keeps its entry), so its count
                    // says when to look again; `state.shards` would sort on every command.
                    if state.shardStatus.count != shardsSeen {
                        shardsSeen = state.shardStatus.count
                        skims = catalogQueue == nil && state.shardStatus.keys.contains { !targetIDs.contains($0) }
                    }
                    for (shard, effect) in effects.shards {
                        if let index = targetIDs.firstIndex(of: shard) { shardBuffers[index].append(effect) }
                    }
                    if catalogQueue != nil { for effect in effects.catalog { catalogBuffer.append((view.lsn, effect)) } }
                    buffered += 1
                    bufferedBytes += view.payload.count
                    // A full chunk waits for the writer; a smaller one goes as soon as the writer
                    // is idle, so little is left to write once the log is read.
                    if buffered >= Self.chunkCommandCount || bufferedBytes >= Self.chunkByteCount
                        || (buffered >= Self.chunkCommandCountMin && buffered % 512 == 0 && inFlight.wait(timeout: .now()) == .success) {
                        try flush()
                        progress?(Progress(lsn: view.lsn, lastLSN: through))
                    }
                } catch {
                    // INV-2: a log that opened cleanly replays without error.
                    failure = ShardLogError.incompatible(reason: "LSN \(view.lsn) cannot be replayed: \(error)")
                }
            }
        } catch let error as CommandLogError {
            inFlight.wait()
            throw ShardLogError.log(error)  // the engine's errors are ShardLogErrors
        }
        if let failure {
            inFlight.wait()
            throw failure
        }
        try flush()
        Self.trace("read + decode + apply loop", ContinuousClock.now - loopStart)
        let waitStart = ContinuousClock.now
        inFlight.wait()
        Self.trace("final wait", ContinuousClock.now - waitStart)
        if let writeError { throw writeError }
        // The log held `through` when the rebuild began: a replay that ends before it read a
        // log whose end was lost (a damaged last frame reads as a torn tail) and must not be
        // swapped in as if it were whole.
        if state.lastLSN < through {
            let tail = summary.tailReason.map { " (its last \(summary.tailByteCount) bytes do not read: \($0))" } ?? ""
            throw ShardLogError.incompatible(
                reason: "the log ends at LSN \(state.lastLSN)\(tail) but held LSN \(through) when the rebuild began; nothing was swapped in; run `shardlog verify`")
        }
        let indexStart = ContinuousClock.now
        for queue in queues {
            try queue.write { db in
                try db.execute(sql: ShardSchema.indexes)
                try ShardProjection.setAppliedLSN(through, in: db)
            }
        }
        try catalogQueue?.write { db in
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'applied_lsn'", arguments: [Int64(through.rawValue)])
        }
        Self.trace("indexes", ContinuousClock.now - indexStart)
        let syncStart = ContinuousClock.now
        for queue in queues { try queue.close() }
        try catalogQueue?.close()
        for path in targets.values + (catalogPath.map { [$0] } ?? []) { try Self.syncFile(path) }
        Self.trace("close + sync", ContinuousClock.now - syncStart)
        progress?(Progress(lsn: through, lastLSN: through))
        return state
    }

    /// A connection for loading: no rollback journal and no syncs (the file is synced once at
    /// the end and only then renamed into place, so a crash leaves the old file untouched).
    static func bulkQueue(_ path: String, cacheKiB: Int) throws -> DatabaseQueue {
        SQLiteProcess.prepare()
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF")
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
        }
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// `SHARDLOG_TRACE=1` prints where a rebuild's time goes, and applies that take over
    /// 3 ms, on standard error (for profiling).
    static let tracing = ProcessInfo.processInfo.environment["SHARDLOG_TRACE"] != nil
    static func trace(_ what: String, _ duration: Duration) {
        if tracing { FileHandle.standardError.write(Data("rebuild \(what): \(duration)\n".utf8)) }
    }

    static func syncFile(_ path: String) throws {
        try onDescriptor(of: path, "fsync", fsync)
    }

    /// Starts writing a file's dirty pages back without waiting (a hint: `syncFile` at the
    /// end is what makes the file durable).
    static func startWriteback(_ path: String) throws {
        try onDescriptor(of: path, "writeback", shardlog_start_writeback)
    }

    /// Opens `path` read-only for one call on its descriptor, which returns 0 on success.
    private static func onDescriptor(of path: String, _ what: String, _ call: (Int32) -> Int32) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ShardLogError.database("cannot open \(path) for \(what)") }
        defer { close(fd) }
        guard call(fd) == 0 else { throw ShardLogError.database("\(what) of \(path) failed (errno \(errno))") }
    }

    /// Removes databases a rebuild writes (or wrote, and failed), with their side files.
    static func removeDatabaseFiles(_ paths: [String]) {
        for path in paths {
            for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }

    static func syncDirectory(_ path: String) throws { try syncFile(path) }
}

extension StoreState {
    /// One command of a rebuild's replay (ENG-021: state rules only). ENG-022: with
    /// `skimming`, a command whose rows go to none of `targets` is decoded without its bulk
    /// fields (ids only) — its effect on the state is the same as the full command's; a
    /// skimmed command that would change a target stops the replay.
    ///
    /// A mutating method rather than code in the reader's closure: there, each use of the
    /// captured state copied the whole struct (a retain per table, per command).
    mutating func replay(_ view: CommandView, skimming: Bool, targets: [String]) throws -> Effects {
        var command = try Command.decode(view, skippingBulk: skimming)
        var skimmed = skimming && command.hasBulkFields
        if skimmed, shards(ofBulky: command).map({ $0.contains(where: targets.contains) }) ?? true {
            command = try Command.decode(view)
            skimmed = false
        }
        let effects = try apply(command, lsn: view.lsn, timestamp: view.timestamp, commandID: view.commandID, checks: .state)
        if skimmed, let shard = effects.shards.first(where: { targets.contains($0.shard) })?.shard {
            throw CommandRejection("a skimmed command changes shard \(shard), which is being rebuilt")
        }
        return effects
    }
}
