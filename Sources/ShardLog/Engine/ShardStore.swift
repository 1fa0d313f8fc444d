import CommandLog
import Foundation
import GRDB

/// A sharded, event-sourced store of personas, memories and conversations.
///
/// Every write is validated, appended to the command log, made durable, then
/// applied to the SQLite projection of the shard that owns the data (Specs/Architecture.md §2, Specs/Engine.md:
/// validate → route → append → apply → acknowledge). Reads go to the owning shard.
///
/// ```swift
/// let store = try await ShardStore.open(at: "data")
/// try await store.execute(.createPersona(PersonaCreation(id: "p1", shard: "", name: "Ada")))
/// let persona = try store.persona(id: "p1")
/// try await store.close()
/// ```
public final class ShardStore: @unchecked Sendable {
    // @unchecked Sendable: `state`, `nextLSN`, `failure`, `closed`, `lastTimestamp` and
    // `projections` are guarded by `lock`; the log, catalog and applier are Sendable.

    public let dataDirectory: String
    /// Where this store's files are.
    public var layout: StoreLayout { StoreLayout(dataDirectory: dataDirectory) }
    let log: CommandLog
    let catalog: CatalogProjection
    private let lock = NSLock()
    private var state: StoreState
    private var projections: [String: ShardProjection]
    private var nextLSN: LSN
    private var failure: ShardLogError?
    private var closed = false
    private var lastTimestamp: Int64 = 0
    private var applier: Applier!
    /// Set while a rebuild in place runs: writes wait.
    private var maintenance = false
    /// Set while a rebuild in place replays without the live state's memory index (ENG-023).
    private var memoryIndexReleased = false
    /// Shards whose projection a rebuild is replacing; `swaps` guards it and wakes the reads
    /// that wait for it.
    private let swaps = NSCondition()
    private var swapping: Set<String> = []
    /// Personas whose writes wait while a migration takes a consistent batch (WF-023).
    private var heldPersonas: Set<String> = []
    /// While above zero every write waits (`withWritesPaused`).
    private var writePauses = 0
    /// Holds and pauses ended so far, and the writes waiting for the next end (WF-023: a
    /// held write retries the moment a hold ends, not on a timer).
    private var releases: UInt64 = 0
    private var releaseWaiters: [CheckedContinuation<Void, Never>] = []
    /// For personas being migrated: the last LSN that touched each of their rows (WF-023),
    /// by row key (`p:`, `m:`, `c:` and the id). Not logged: a driver's working memory.
    private var touches: [String: [String: LSN]] = [:]
    /// Workflow events for subscribers (WF-070).
    let eventHub = EventHub()
    /// Stop requests for the rebalances this store is driving (WF-056).
    let rebalanceStops = RebalanceStopRequests()
    let configuration: StoreConfiguration

    private enum Retry: Error {
        case maintenance
        /// A held persona or paused writes; the number is `releases` when it was thrown.
        case held(UInt64)
    }

    /// LOG-060's envelope limits, checked before the state changes.
    static func envelopeProblem(_ envelope: Envelope) -> String? {
        // The engine adds one rule of its own: an idempotency key may not be empty (CMD-016).
        if envelope.commandID?.isEmpty == true { return "command id is empty" }
        return CommandDraft.envelopeProblem(actor: envelope.actor, reason: envelope.reason, commandID: envelope.commandID)
    }

    private init(
        dataDirectory: String, configuration: StoreConfiguration, log: CommandLog, catalog: CatalogProjection, state: StoreState,
        projections: [String: ShardProjection]
    ) {
        self.dataDirectory = dataDirectory
        self.configuration = configuration
        self.log = log
        self.catalog = catalog
        self.state = state
        self.projections = projections
        self.nextLSN = log.lastLSN.next
        // The next LSN to apply is the log's next: `open` brings every projection up to the
        // log (catch-up) before the first write, whatever LSN the catalog had reached.
        self.applier = Applier(
            nextLSN: log.lastLSN.next, coalesceWindow: configuration.applyCoalescingWindow, backlogMax: configuration.applyBacklogMax
        ) { [weak self] units in
            // A store dropped without `close` while units waited (ENG-024's window): what
            // was acknowledged is in the log, and the next open's catch-up applies it.
            guard let self else { throw ShardLogError.unavailable("the store was released before its writes were applied") }
            do {
                // ENG-025: the catalog's part runs on the applier's second stage (it holds the
                // store until it has run).
                let finish = try self.applyToShards(units)
                return { [self] in
                    do {
                        try finish()
                    } catch {
                        poison(ShardLogError.from(error, directory: dataDirectory))
                        throw error
                    }
                }
            } catch {
                // ENG-005: the projections no longer follow the log.
                self.poison(ShardLogError.from(error, directory: self.dataDirectory))
                throw error
            }
        }
        CheckpointThread.shared.register(self)
    }

    // MARK: - Opening

    /// Opens the store in `dataDirectory`, creating it when it does not exist (and
    /// `configuration.createIfMissing`), and brings every projection up to the log.
    public static func open(at dataDirectory: String, configuration: StoreConfiguration = StoreConfiguration()) async throws -> ShardStore {
        let layout = StoreLayout(dataDirectory: dataDirectory)
        guard StoreConfiguration.applyBacklogRange.contains(configuration.applyBacklogMax) else {
            throw ShardLogError.invalidConfiguration(
                reason: "applyBacklogMax \(configuration.applyBacklogMax) is outside \(StoreConfiguration.applyBacklogRange)")
        }
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fileManager.fileExists(atPath: dataDirectory, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue { throw ShardLogError.notAStore(path: dataDirectory, reason: "it is a file") }
        if !exists {
            guard configuration.createIfMissing else { throw ShardLogError.notAStore(path: dataDirectory, reason: "it does not exist") }
        } else if !fileManager.fileExists(atPath: layout.logDirectory) {
            let contents = (try? fileManager.contentsOfDirectory(atPath: dataDirectory)) ?? []
            if !contents.isEmpty {
                throw ShardLogError.notAStore(path: dataDirectory, reason: "it has files but no log/ directory")
            }
        }
        if !fileManager.fileExists(atPath: layout.logDirectory) {
            // A new store: its configuration is checked before anything is created.
            do { try Validation.initialization(configuration.initialization()) } catch {
                throw ShardLogError.invalidConfiguration(reason: error.reason)
            }
        }
        try fileManager.createDirectory(atPath: layout.shardDirectory, withIntermediateDirectories: true)
        var logConfiguration = CommandLog.Configuration(durability: configuration.durability, segmentSizeMax: configuration.logSegmentSizeMax)
        logConfiguration.createIfMissing = true
        let log: CommandLog
        do { log = try CommandLog.open(directory: layout.logDirectory, configuration: logConfiguration) } catch let error as CommandLogError {
            throw ShardLogError.log(error)
        }
        do {
            var catalog = try CatalogProjection(path: layout.catalogPath)
            if try catalog.schemaVersion() != CatalogProjection.schemaVersion {
                // A catalog of another version is a projection like any other: rebuilt from the log.
                try catalog.close()
                Rebuilder.removeDatabaseFiles([layout.catalogPath])
                catalog = try CatalogProjection(path: layout.catalogPath)
            }
            let catalogLSN = try catalog.appliedLSN()
            if catalogLSN > log.lastLSN {
                throw ShardLogError.projectionDamaged(shard: "catalog", reason: "it has applied LSN \(catalogLSN) but the log ends at \(log.lastLSN)")
            }
            let state = try catalog.loadState()
            var projections: [String: ShardProjection] = [:]
            for shard in state.shards { projections[shard] = try ShardProjection(id: shard, path: layout.shardPath(shard)) }
            let store = ShardStore(
                dataDirectory: dataDirectory, configuration: configuration, log: log, catalog: catalog, state: state, projections: projections)
            do {
                try store.catchUp()
                if log.lastLSN == .zero {
                    try await store.execute(.initializeStore(configuration.initialization()), envelope: Envelope(actor: "system", reason: "new store"))
                }
                try await store.recoverWorkflows()
            } catch {
                CheckpointThread.shared.unregister(store)
                throw error
            }
            return store
        } catch {
            try? log.close()
            throw error
        }
    }

    /// PROJ-002: applies every logged command after the catalog's applied LSN, to the
    /// catalog and to each shard that has not applied it yet. A shard whose database is
    /// missing or has not applied the last command that touched it (PROJ-004) is rebuilt
    /// from the whole log. Then every shard's applied LSN is the log's last.
    private func catchUp() throws {
        let from = state.lastLSN.next
        let end = log.lastLSN
        var behind: [String] = []
        let applied = AppliedLSNs()
        let touched = try catalog.touchedLSNs()
        for (id, projection) in projections {
            let lsn = try projection.appliedLSN()
            if lsn < touched[id] ?? .zero { behind.append(id) } else { applied.byShard[id] = lsn }
            if lsn > end {
                throw ShardLogError.projectionDamaged(shard: id, reason: "it has applied LSN \(lsn) but the log ends at \(end)")
            }
        }
        if !behind.isEmpty { try rebuildInPlace(shards: behind.sorted(), through: state.lastLSN) }
        /// After a successful catch-up every shard holds every effect up to the log's end: say so (PROJ-004).
        func advanceAll() throws {
            for projection in lock.withLock({ Array(projections.values) }) where try projection.appliedLSN() < end {
                try projection.pool.write { db in try ShardProjection.setAppliedLSN(end, in: db) }
            }
        }
        guard from <= end else { return try advanceAll() }
        var batch: [(lsn: LSN, effects: Effects)] = []
        var replayError: (any Error)?
        func flush() throws {
            guard let first = batch.first, let last = batch.last else { return }
            try write([Applier.Unit(range: first.lsn...last.lsn, effects: batch)], skipping: applied)
            batch = []
        }
        try log.reader.forEach(from: from, through: end) { view in
            guard replayError == nil else { return }
            do {
                let command = try Command.decode(view)
                batch.append((view.lsn, try state.apply(command, lsn: view.lsn, timestamp: view.timestamp, commandID: view.commandID, checks: .state)))
                if batch.count >= Rebuilder.chunkCommandCount { try flush() }
            } catch {
                replayError = ShardLogError.incompatible(reason: "LSN \(view.lsn) cannot be replayed: \(error)")
            }
        }
        if let replayError { throw replayError }
        try flush()
        try advanceAll()
    }

    /// Rebuilds shards from the log into fresh files and swaps them in (the caller makes
    /// sure no command is staged meanwhile, and that the live state is at `through`).
    ///
    /// ENG-023: a rebuild replays with a state of its own, which at `through` equals the
    /// live one (INV-4 and INV-6). So the live state's memory index — most of a
    /// large state — is released for the replay and the replayed state takes its place: a
    /// rebuild holds one memory index, not two. Meanwhile the reads that need it look the
    /// memory up in every shard (`memory(id:)`) or wait (`withMemoryIndex`). Should the
    /// replay fail, or end elsewhere than the live state, the state is loaded from the
    /// catalog again, as on open.
    private func rebuildInPlace(shards: [String], through: LSN, progress: RebuildProgress? = nil) throws {
        var targets: [String: String] = [:]
        for shard in shards { targets[shard] = layout.shardPath(shard) + ".rebuild" }
        let capacity = lock.withLock {
            let capacity = state.capacity
            state.releaseMemoryIndex()
            memoryIndexReleased = true
            return capacity
        }
        var replayed: StoreState?
        defer {
            let adopted = lock.withLock {
                defer { memoryIndexReleased = false }
                guard let replayed, replayed.lastLSN == state.lastLSN else { return false }
                state = replayed
                return true
            }
            if !adopted { reloadState() }
        }
        do {
            replayed = try Rebuilder(reader: log.reader).rebuild(
                targets: targets, catalogPath: nil, through: through, capacityHint: capacity
            ) { progress?($0.lsn, $0.lastLSN) }
        } catch {
            // Nothing was swapped in: the half-written files go.
            Rebuilder.removeDatabaseFiles(Array(targets.values))
            throw error
        }
        let swapStart = ContinuousClock.now
        defer { Rebuilder.trace("swap", ContinuousClock.now - swapStart) }
        var retired: [FileHandle] = []
        defer { Self.release(retired) }
        for shard in shards {
            let path = layout.shardPath(shard)
            // Reads of this shard wait for the swap rather than find no projection (ENG-020).
            swaps.withLock { _ = swapping.insert(shard) }
            defer {
                swaps.withLock { _ = swapping.remove(shard) }
                swaps.broadcast()
            }
            let old = lock.withLock { projections.removeValue(forKey: shard) }
            try old?.close()
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            // ENG-020: renamed over the old file, so the path always names a whole database.
            // The old file stays open until `release`: freeing its pages is not the caller's wait.
            if let oldFile = FileHandle(forReadingAtPath: path) { retired.append(oldFile) }
            guard rename(path + ".rebuild", path) == 0 else {
                throw ShardLogError.database("cannot rename the rebuilt \(shard) into place: \(String(cString: strerror(errno)))")
            }
            try Rebuilder.syncDirectory(layout.shardDirectory)
            let projection = try ShardProjection(id: shard, path: path)
            lock.withLock { projections[shard] = projection }
        }
    }

    /// Loads the state from the catalog again, when a rebuild could not hand over its replayed
    /// state (ENG-023). The catalog is at the live state's LSN: everything staged was applied
    /// before the rebuild, and nothing is staged while it runs. If that does not hold, or the
    /// catalog cannot be read, the store stops taking writes until it is reopened.
    private func reloadState() {
        let live = lock.withLock { state.lastLSN }
        do {
            let loaded = try catalog.loadState()
            guard loaded.lastLSN == live else {
                throw ShardLogError.projectionDamaged(shard: "catalog", reason: "it is at LSN \(loaded.lastLSN), the store at \(live)")
            }
            lock.withLock { state = loaded }
        } catch {
            lock.withLock {
                if failure == nil { failure = .unavailable("the state could not be loaded again after a rebuild (\(error)); close and reopen the store") }
            }
        }
    }

    /// Whether a rebuild in place is replaying without the live memory index (for tests).
    var memoryIndexIsReleased: Bool { lock.withLock { memoryIndexReleased } }

    /// Runs `body` on (a copy of) the live state once it holds its memory index: while a
    /// rebuild in place replays without it (ENG-023), waits as writes do.
    func withMemoryIndex<T>(_ body: (StoreState) throws -> T) async throws -> T {
        while true {
            if let current = lock.withLock({ memoryIndexReleased ? nil : state }) { return try body(current) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Closes the descriptors of replaced shard files on a background queue: the last close
    /// of an unlinked file frees its page cache, tens of milliseconds for a large shard.
    private static func release(_ files: [FileHandle]) {
        guard !files.isEmpty else { return }
        DispatchQueue.global(qos: .utility).async {
            for file in files { try? file.close() }
        }
    }

    /// Rebuilds shards (all when `shards` is nil) from the log and swaps them in atomically.
    /// Writes wait while it runs. `digests()` afterwards gives what to compare with the
    /// digests taken before (a rebuild does not compute them: they cost a full read).
    public func rebuild(shards: [String]? = nil, progress: RebuildProgress? = nil) async throws {
        let refusal: String? = lock.withLock {
            if closed { return "the store is closed" }
            if maintenance { return "a rebuild is already running" }
            maintenance = true
            return nil
        }
        if let refusal { throw ShardLogError.unavailable(refusal) }
        defer { lock.withLock { maintenance = false } }
        // Applied before the files are replaced; a projection failure is the next write's to report.
        try? await waitForProjections()
        let targets = shards ?? shardIDs
        for shard in targets where projection(forShard: shard) == nil { throw ShardLogError.notFound(kind: "shard", id: shard) }
        try rebuildInPlace(shards: targets, through: log.lastLSN, progress: progress)
    }

    /// Point-in-time restore (Datomic's as-of): rebuilds every shard and the catalog as of
    /// `lsn` into `directory` (`<directory>/shards/<id>.sqlite`, `<directory>/catalog.sqlite`).
    /// The live store is not touched. Returns each shard's digest at that LSN.
    public func rebuild(asOf lsn: LSN, into directory: String, progress: RebuildProgress? = nil) throws -> [String: String] {
        let through = min(lsn, log.lastLSN)
        let into = StoreLayout(dataDirectory: directory)
        try FileManager.default.createDirectory(atPath: into.shardDirectory, withIntermediateDirectories: true)
        // The shards that existed at `through` are only known after the replay: rebuild into
        // every shard id the store has now (version 1 never removes a shard).
        var targets: [String: String] = [:]
        for shard in shardIDs { targets[shard] = into.shardPath(shard) }
        _ = try Rebuilder(reader: log.reader).rebuild(
            targets: targets, catalogPath: into.catalogPath, through: through, capacityHint: withState { $0.capacity }
        ) {
            progress?($0.lsn, $0.lastLSN)
        }
        return try Self.digests(ofRebuiltDirectory: directory).filter { targets[$0.key] != nil }
    }

    /// The LSN of the last command at or before `timestamp`, for as-of restores by time.
    public func lsn(atOrBefore timestamp: Timestamp) throws -> LSN {
        var found = LSN.zero
        try log.reader.forEach(through: log.lastLSN) { view in
            if view.timestamp <= timestamp { found = view.lsn }
        }
        return found
    }

    // MARK: - Writing

    /// Executes one command (see `execute(_:)`); returns its LSN.
    @discardableResult
    public func execute(_ command: Command, envelope: Envelope = Envelope()) async throws -> LSN {
        try await execute([(command, envelope)])[0]
    }

    /// Validates, appends and applies `commands` as one atomic unit (LOG-070): all are
    /// valid and appended, or none is (CMD-014). Returns each command's LSN; a command whose
    /// command id is already in the log is not appended again and gets its first LSN (CMD-016).
    /// Returns once the commands are durable (ENG-003); they are applied to the projections
    /// right after, and any read that follows waits for that, so it sees them.
    @discardableResult
    public func execute(_ commands: [(Command, Envelope)]) async throws -> [LSN] {
        for (index, (command, _)) in commands.enumerated() {
            if case .workflow = command {
                throw ShardLogError.invalidCommand(index: index, op: command.op, reason: "appended by the engine's workflows only (WF-003)")
            }
        }
        return try await submit(commands, waitForApply: false)
    }

    /// Thrown by `submit` when its `check` fails: the caller reads again and retries.
    struct StaleRead: Error {}

    /// `execute` without the WF-003 check: the workflow drivers' way in. `check` runs under
    /// the store's lock just before the commands are staged, with the rows touched so far
    /// (WF-023); when it returns false nothing is appended and `StaleRead` is thrown.
    /// `deferSync`: the unit's sync may wait a moment for other writes' (LOG-095) — for a
    /// migration's copy steps, which only the migration waits on. `waitForApply`: return only
    /// once the unit is applied to the projections (the workflows read them next); otherwise
    /// once it is durable (ENG-003), or applied when the applier is backlogged.
    @discardableResult
    func submit(
        _ commands: [(Command, Envelope)], deferSync: Bool = false, waitForApply: Bool = true,
        check: (([String: [String: LSN]]) -> Bool)? = nil
    ) async throws -> [LSN] {
        guard !commands.isEmpty else { return [] }
        while true {
            let prepared: Prepared
            do {
                prepared = try prepare(commands, deferSync: deferSync, check: check)
            } catch CommandLogError.queueFull {
                await log.waitForQueueSpace()
                continue
            } catch Retry.maintenance {
                try await Task.sleep(for: .milliseconds(2))
                continue
            } catch Retry.held(let seen) {
                await waitForRelease(after: seen)
                continue
            } catch let error as CommandLogError {
                throw ShardLogError.log(error)
            }
            guard case .submitted(let ticket, let results, let staged) = prepared else {
                if case .alreadyLogged(let results) = prepared {
                    // CMD-016: the first attempt may still be in flight; acknowledge the retry
                    // only once it is durable and applied (a read that follows sees it).
                    try await applier.waitUntilApplied(through: results.max()!)
                    return results
                }
                preconditionFailure("unreachable")
            }
            let durableStart = ContinuousClock.now
            do {
                _ = try await ticket.wait()
            } catch {
                // The state already holds effects the log may not have: refuse until reopened.
                poison(.log(error))
                throw ShardLogError.log(error)
            }
            let applyStart = ContinuousClock.now
            // The ticket handed the unit to the applier when it completed (ENG-003).
            if waitForApply || applier.isBacklogged {
                try await applier.waitUntilApplied(through: ticket.range.upperBound)
            }
            if Rebuilder.tracing, ContinuousClock.now - durableStart > .microseconds(1500) {
                Rebuilder.trace("slow write \(commands.first!.0.op): durable \(applyStart - durableStart), applied \(ContinuousClock.now - applyStart)", ContinuousClock.now - durableStart)
            }
            for command in staged { if case .workflow(let step) = command { publish(step) } }
            return results
        }
    }

    private enum Prepared {
        /// Every command's id was already in the log (CMD-016).
        case alreadyLogged([LSN])
        case submitted(AppendTicket, [LSN], [Command])
    }

    /// Validate → route → submit, under the lock, so LSN order is validation order.
    private func prepare(
        _ commands: [(Command, Envelope)], deferSync: Bool = false, check: (([String: [String: LSN]]) -> Bool)? = nil
    ) throws -> Prepared {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        if closed { throw ShardLogError.unavailable("the store is closed") }
        if maintenance { throw Retry.maintenance }
        if writePauses > 0 { throw Retry.held(releases) }
        if !heldPersonas.isEmpty {
            for (command, _) in commands where state.personasTouched(by: command).contains(where: heldPersonas.contains) { throw Retry.held(releases) }
        }
        if !log.canSubmit(commandCount: commands.count) { throw CommandLogError.queueFull }
        if let check, !check(touches) { throw StaleRead() }
        let snapshot = commands.count > 1 ? state : nil
        let staged: Staged
        do {
            staged = try Self.stage(commands, state: &state, firstLSN: nextLSN) { clockLocked() }
        } catch {
            if let snapshot { state = snapshot }
            throw error
        }
        let (results, effects, drafts, appended) = (staged.results, staged.effects, staged.drafts, staged.commands)
        if drafts.isEmpty { return .alreadyLogged(results.map { $0! }) }
        let ticket: AppendTicket
        do {
            ticket = try log.submit(drafts, deferSync: deferSync)
        } catch {
            // Checked above: the envelopes, the commands and the queue space; what is left is
            // a closed or failed log, and the state already holds the unit's effects.
            failure = .unavailable("the log refused an append (\(error)); close and reopen the store")
            throw error
        }
        precondition(ticket.range.lowerBound == nextLSN, "the engine is the log's only writer")
        // ENG-003: the unit goes to the applier the moment it is durable, from the log's thread.
        let unit = Applier.Unit(range: ticket.range, effects: effects)
        ticket.onCompletion { [applier] outcome in
            switch outcome {
            case .success: applier.handOver(unit)
            case .failure(let error): applier.fail(.log(error))
            }
        }
        nextLSN = ticket.range.upperBound.next
        recordTouches(effects)
        return .submitted(ticket, results.map { $0! }, appended)
    }

    /// WF-023: remembers which rows of migrating personas each command changed.
    private func recordTouches(_ effects: [(lsn: LSN, effects: Effects)]) {
        for (lsn, effects) in effects {
            for (personaID, key) in effects.stagedTouches { touches[personaID, default: [:]][key] = lsn }
        }
    }

    /// The rows of a migrating persona changed so far, with the last LSN of each (WF-023).
    func touchesSnapshot(of personaID: String) -> [String: LSN] {
        lock.withLock { touches[personaID] ?? [:] }
    }

    /// Forgets a persona's touches (its migration ended).
    func forgetTouches(of personaID: String) {
        _ = lock.withLock { touches.removeValue(forKey: personaID) }
    }

    /// Makes writes to `personaID` wait (WF-023) until `release`; returns the last LSN
    /// staged so far, which the caller waits to be applied.
    func hold(_ personaID: String) -> LSN {
        lock.withLock {
            heldPersonas.insert(personaID)
            return lastStagedLSNLocked
        }
    }

    /// Runs `body` with every new write waiting and every staged write applied, so the
    /// projections hold exactly what `state` says (for checks that compare the two).
    func withWritesPaused<T>(_ body: (StoreState) throws -> T) async throws -> T {
        let staged = lock.withLock {
            writePauses += 1
            return lastStagedLSNLocked
        }
        defer {
            lock.withLock { writePauses -= 1 }
            wakeHeldWriters()
        }
        try await applier.waitUntilApplied(through: staged)
        return try await withMemoryIndex(body)
    }

    /// Returns once a hold or pause has ended since `releases` was `seen`.
    private func waitForRelease(after seen: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if releases != seen || closed || failure != nil {
                lock.unlock()
                continuation.resume()
                return
            }
            releaseWaiters.append(continuation)
            lock.unlock()
        }
    }

    private func wakeHeldWriters() {
        let waiting = lock.withLock {
            releases &+= 1
            defer { releaseWaiters = [] }
            return releaseWaiters
        }
        for continuation in waiting { continuation.resume() }
    }

    func release(_ personaID: String) {
        _ = lock.withLock { heldPersonas.remove(personaID) }
        wakeHeldWriters()
    }

    /// Waits until every command up to `lsn` is applied to the projections (or the applier
    /// failed, which the next write reports).
    func waitUntilApplied(through lsn: LSN) async {
        try? await applier.waitUntilApplied(through: lsn)
    }

    /// ENG-003: every public read first waits until every write that had returned is
    /// applied (read-your-writes); usually there is nothing to wait for. Throws why the
    /// projections stopped following the log, when they did (ENG-005).
    func settle() throws {
        try applier.settle()
    }

    /// Whether the applier's thread is alive (ENG-004; for tests).
    var applierThreadIsRunning: Bool { applier.threadIsRunning }
    /// The applier itself, for a test that outlives the store with it.
    var applierForTesting: Applier { applier }

    /// Returns once every write that has returned is applied to the projections, or throws
    /// why they stopped following the log (ENG-005: the writes are in the log, and a reopen
    /// applies them). Reads do this by themselves; call it to learn, before going on, that
    /// the projections took everything — as `shardlog apply` does before it reports.
    public func waitForProjections() async throws {
        try await applier.waitUntilApplied(through: lock.withLock { lastStagedLSNLocked })
    }

    /// The last LSN staged (validated and submitted to the log); call with the lock held.
    private var lastStagedLSNLocked: LSN { LSN(nextLSN.rawValue - 1) }

    private func poison(_ error: ShardLogError) {
        lock.withLock {
            if failure == nil { failure = .unavailable("an earlier write failed (\(error)); close and reopen the store") }
        }
        wakeHeldWriters()
    }

    struct Staged {
        var results: [LSN?]
        var effects: [(lsn: LSN, effects: Effects)]
        var drafts: [CommandDraft]
        /// The commands appended, as appended (routing and workflow ids filled in).
        var commands: [Command] = []
    }

    /// Checks, routes and applies `commands` to `state` as LSNs from `firstLSN` would,
    /// and builds their log records. On a thrown error `state` may hold part of the unit.
    static func stage(
        _ commands: [(Command, Envelope)], state: inout StoreState, firstLSN: LSN, clock: () -> Timestamp
    ) throws -> Staged {
        var staged = Staged(results: [LSN?](repeating: nil, count: commands.count), effects: [], drafts: [])
        var lsn = firstLSN
        for (index, (command, envelope)) in commands.enumerated() {
            if let problem = envelopeProblem(envelope) {
                throw ShardLogError.invalidCommand(index: index, op: command.op, reason: problem)
            }
            if let id = envelope.commandID, let existing = state.commandIDs[id] {
                staged.results[index] = existing
                continue
            }
            var command = command
            // WF-004: a workflow started with an empty id gets the next one, here, under the lock.
            switch command {
            case .workflow(.migrationStarted("", let persona, let source, let target, let batchSize, let reverseOf, let planId)):
                command = .workflow(.migrationStarted(
                    migrationId: state.nextMigrationID, personaId: persona, source: source, target: target,
                    batchSize: batchSize, reverseOf: reverseOf, planId: planId))
            case .workflow(.memoryMoved("", let memory, let source, let target, let row)):
                command = .workflow(.memoryMoved(migrationId: state.nextMigrationID, memoryId: memory, source: source, target: target, row: row))
            case .workflow(.rebalancePlanned("", let moves, let analysis)):
                command = .workflow(.rebalancePlanned(planId: state.nextPlanID, moves: moves, analysis: analysis))
            default: break
            }
            if case .createPersona(var creation) = command, creation.shard.isEmpty, let shard = state.route(creation.id) {
                // ROUTE-001: the router runs once, here; the command records its choice.
                creation.shard = shard
                command = .createPersona(creation)
            }
            let timestamp = envelope.timestamp ?? clock()
            do {
                staged.effects.append((lsn, try state.apply(command, lsn: lsn, timestamp: timestamp, commandID: envelope.commandID)))
            } catch {
                throw ShardLogError.invalidCommand(index: index, op: command.op, reason: error.reason)
            }
            staged.drafts.append(CommandDraft(
                timestamp: timestamp, actor: envelope.actor, reason: envelope.reason, commandID: envelope.commandID,
                typeTag: command.typeTag, typeVersion: Command.typeVersion, payload: command.encodedPayload()))
            staged.results[index] = lsn
            staged.commands.append(command)
            lsn = lsn.next
        }
        return staged
    }

    /// Checks `commands` in order against the current state without writing anything
    /// (a dry run of `execute`): throws the first `invalidCommand`, naming its index.
    public func validate(_ commands: [(Command, Envelope)]) throws {
        var copy = lock.withLock { state }
        let first = lock.withLock { nextLSN }
        _ = try Self.stage(commands, state: &copy, firstLSN: first) { Timestamp(microsecondsSince1970: 0) }
    }

    /// Microseconds since 1970, never going backwards within this process (CMD-015).
    private func clockLocked() -> Timestamp {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        lastTimestamp = max(now, lastTimestamp + 1)
        return Timestamp(microsecondsSince1970: lastTimestamp)
    }

    /// What catch-up must not apply twice: each shard's applied LSN when catch-up began
    /// (shards created during catch-up are added as their databases are opened).
    final class AppliedLSNs {
        var byShard: [String: LSN] = [:]
    }

    /// Applies a batch of consecutive units (PROJ-004): the shards the batch touches first,
    /// each in one transaction that also advances its applied LSN, then the catalog, which
    /// records the batch's last LSN as each touched shard's `touched_lsn`. So a shard whose
    /// applied LSN is below its `touched_lsn` has lost effects, and nothing else has.
    private func write(_ units: [Applier.Unit], skipping applied: AppliedLSNs? = nil) throws {
        try applyToShards(units, skipping: applied)()
    }

    /// `write`'s first part, the shards' transactions; returns its second, the catalog's
    /// (PROJ-004: shards first, the catalog last). The applier runs the second part of a
    /// batch beside the first part of the next (ENG-025).
    private func applyToShards(_ units: [Applier.Unit], skipping applied: AppliedLSNs? = nil) throws -> Applier.Finish {
        guard let last = units.last?.range.upperBound else { return {} }
        // A command that creates shards (initializeStore) creates their databases first.
        for unit in units {
            for (_, effects) in unit.effects {
                for effect in effects.catalog {
                    let created: [String]
                    switch effect {
                    case .initialize(let initialization): created = initialization.shards
                    case .addShard(let id): created = [id]
                    default: continue
                    }
                    for shard in created where projection(forShard: shard) == nil {
                        let projection = try ShardProjection(id: shard, path: layout.shardPath(shard))
                        // A database that survived its catalog (catch-up after the catalog was lost)
                        // already holds what it applied: catch-up must skip those commands.
                        if let applied { applied.byShard[shard] = try projection.appliedLSN() }
                        lock.withLock { self.projections[shard] = projection }
                    }
                }
            }
        }
        lock.lock()
        let projections = self.projections
        lock.unlock()
        var perShard: [String: [ShardEffect]] = [:]
        var catalogEffects: [(lsn: LSN, effect: CatalogEffect)] = []
        for unit in units {
            for (lsn, effects) in unit.effects {
                for (shard, effect) in effects.shards {
                    if let done = applied?.byShard[shard], done >= lsn { continue }
                    perShard[shard, default: []].append(effect)
                }
                for effect in effects.catalog { catalogEffects.append((lsn, effect)) }
            }
        }
        for shard in perShard.keys where projections[shard] == nil {
            throw ShardLogError.projectionDamaged(shard: shard, reason: "effects for a shard that has no database")
        }
        do {
            var timings: [String] = []
            let traceStart = ContinuousClock.now
            // PROJ-004: only the shards the batch touches get a transaction; the catalog
            // records that it touched them.
            for (id, projection) in projections.sorted(by: { $0.key < $1.key }) {
                guard let effects = perShard[id] else { continue }
                let start = ContinuousClock.now
                try projection.apply(effects, through: last)
                if Rebuilder.tracing { timings.append("\(id) \(effects.count) \(ContinuousClock.now - start)") }
            }
            if Rebuilder.tracing, ContinuousClock.now - traceStart > .milliseconds(3) {
                Rebuilder.trace("apply [\(timings.joined(separator: "; "))]", ContinuousClock.now - traceStart)
            }
        } catch {
            throw ShardLogError.from(error, directory: dataDirectory)
        }
        let touched = perShard.keys.sorted()
        return { [self, catalogEffects] in
            do {
                try catalog.apply(catalogEffects, through: last, touched: touched)
                // WF-012: a removed shard's database goes; its history stays in the log.
                for case .setShardStatus(let id, .removed) in catalogEffects.map(\.effect) {
                    guard let projection = lock.withLock({ self.projections.removeValue(forKey: id) }) else { continue }
                    try projection.close()
                    Rebuilder.removeDatabaseFiles([projection.path])
                }
            } catch {
                throw ShardLogError.from(error, directory: dataDirectory)
            }
        }
    }

    // MARK: - Closing

    /// Waits for applies in flight, closes the log (sealing its last segment) and the databases.
    public func close() async throws {
        let wasClosed = lock.withLock {
            defer { closed = true }
            return closed
        }
        if wasClosed { return }
        wakeHeldWriters()  // they retry and learn the store is closed
        // ENG-003: what was acknowledged is applied before the databases close; when the
        // projections failed, the store still closes and then says why (a reopen catches up).
        var applyFailure: (any Error)?
        do { try await waitForProjections() } catch { applyFailure = error }
        eventHub.finish()
        do { try log.close() } catch let error as CommandLogError { throw ShardLogError.log(error) }
        CheckpointThread.shared.unregister(self)
        for projection in projections.values { try projection.close() }
        try catalog.close()
        if let applyFailure { throw applyFailure }
    }

    // MARK: - Reading

    func projection(forShard shard: String) -> ShardProjection? {
        swaps.lock()
        while swapping.contains(shard) { swaps.wait() }
        swaps.unlock()
        lock.lock()
        defer { lock.unlock() }
        return projections[shard]
    }

    func withState<T>(_ body: (StoreState) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(state)
    }

    /// The shards in id order.
    public var shardIDs: [String] { withState { $0.shards.sorted() } }

    /// The shard that owns a persona (ROUTE-001), or nil when there is no such persona.
    public func shardForPersona(_ id: String) -> String? { withState { $0.personas[id]?.shard } }

    public func persona(id: String) throws -> Persona? {
        try settle()
        guard let shard = shardForPersona(id), let projection = projection(forShard: shard) else { return nil }
        return try projection.persona(id: id)
    }

    /// Every persona, oldest first.
    public func allPersonas() throws -> [Persona] {
        try settle()
        var all: [Persona] = []
        for shard in shardIDs { all += try projection(forShard: shard)?.personas() ?? [] }
        return all.sorted { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }

    public func activePersona() throws -> Persona? {
        guard let id = withState({ $0.activePersona }) else { return nil }
        return try persona(id: id)
    }

    /// A persona's memories, filtered and ordered by `query`: one shard (co-location,
    /// ROUTE-002), plus the shards holding detached memories of it (WF-040), merged.
    public func personaMemories(_ personaID: String, query: MemoryQuery = MemoryQuery()) throws -> [MemoryEntity] {
        try settle()
        let shards = withState { $0.memoryShards(ofPersona: personaID) }
        guard let first = shards.first, let projection = projection(forShard: first) else {
            throw ShardLogError.notFound(kind: "persona", id: personaID)
        }
        if shards.count == 1 { return try projection.memories(personaID: personaID, query: query) }
        var wide = query
        wide.offset = 0
        wide.limit = query.limit.map { $0 + query.offset }
        var merged: [MemoryEntity] = []
        for shard in shards { merged += try self.projection(forShard: shard)?.memories(personaID: personaID, query: wide) ?? [] }
        merged.sort(by: query.areInIncreasingOrder)
        let page = merged.dropFirst(query.offset)
        return Array(query.limit.map { page.prefix($0) } ?? page)
    }

    public func memory(id: String) throws -> MemoryEntity? {
        try settle()
        let (shard, released) = lock.withLock { (state.shard(ofMemory: id), memoryIndexReleased) }
        if released {
            // ENG-023: a rebuild holds the memory index; a memory is in exactly one shard's
            // table (INV-7), so asking each finds it.
            for shard in shardIDs { if let memory = try projection(forShard: shard)?.memory(id: id) { return memory } }
            return nil
        }
        guard let shard, let projection = projection(forShard: shard) else { return nil }
        return try projection.memory(id: id)
    }

    /// Live memories of a tier across all shards, by id.
    public func memories(tier: MemoryTier, limit: Int? = nil) throws -> [MemoryEntity] {
        try settle()
        var all: [MemoryEntity] = []
        for shard in shardIDs { all += try projection(forShard: shard)?.memories(tier: tier, limit: limit) ?? [] }
        all.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        return limit.map { Array(all.prefix($0)) } ?? all
    }

    /// A conversation with its messages in order.
    public func conversation(id: String) throws -> Conversation? {
        try settle()
        guard let shard = withState({ $0.shard(ofConversation: id) }), let projection = projection(forShard: shard) else { return nil }
        return try projection.conversation(id: id, withMessages: true)
    }

    public func personaConversations(_ personaID: String) throws -> [Conversation] {
        try settle()
        guard let shard = shardForPersona(personaID), let projection = projection(forShard: shard) else {
            throw ShardLogError.notFound(kind: "persona", id: personaID)
        }
        return try projection.conversations(personaID: personaID)
    }

    /// What each shard holds.
    public struct ShardStatistics: Hashable, Sendable {
        public var id: String
        public var path: String
        public var personas: Int
        public var memories: Int
        public var conversations: Int
        public var messages: Int
        public var bytesOnDisk: Int
        public var appliedLSN: LSN
    }

    public func statistics() throws -> [ShardStatistics] {
        try settle()
        return try shardIDs.compactMap { shard in
            guard let projection = projection(forShard: shard) else { return nil }
            let counts = try projection.counts()
            return ShardStatistics(
                id: shard, path: projection.path, personas: counts.personas, memories: counts.memories,
                conversations: counts.conversations, messages: counts.messages, bytesOnDisk: projection.bytesOnDisk(),
                appliedLSN: try projection.appliedLSN())
        }
    }

    /// Each shard's content digest (PROJ-010).
    public func digests() throws -> [String: String] {
        try settle()
        var result: [String: String] = [:]
        for shard in shardIDs { result[shard] = try projection(forShard: shard)?.digest() }
        return result
    }

    /// The catalog's content digest (PROJ-011): shards, placements, the memory and
    /// conversation index, command ids.
    public func catalogDigest() throws -> String {
        try settle()
        return try catalog.digest()
    }

    /// The digests of a directory written by `rebuild(asOf:into:)`: each shard's (PROJ-010)
    /// and the catalog's under the key `catalog` (PROJ-011).
    public static func digests(ofRebuiltDirectory directory: String) throws -> [String: String] {
        var result: [String: String] = [:]
        let layout = StoreLayout(dataDirectory: directory)
        let shardFiles = try FileManager.default.contentsOfDirectory(atPath: layout.shardDirectory).filter { $0.hasSuffix(".sqlite") }
        for file in shardFiles {
            let queue = try DatabaseQueue(path: layout.shardDirectory + "/" + file)
            result[String(file.dropLast(".sqlite".count))] = try queue.read { try ShardProjection.digest($0) }
            try queue.close()
        }
        let catalog = try DatabaseQueue(path: layout.catalogPath)
        result["catalog"] = try catalog.read { try ShardProjection.digest($0, tables: CatalogProjection.digestTables) }
        try catalog.close()
        return result
    }

    /// The last LSN in the log.
    public var lastLSN: LSN { log.lastLSN }

    /// The store's embedding dimension (CMD-013).
    public var embeddingDimension: Int { withState { $0.initialization?.embeddingDimension ?? 0 } }
}

extension ShardStore: CheckpointSource {
    /// PROJ-005: the checkpoints of every open projection and of the catalog.
    var walCheckpoints: [WALCheckpoint] { lock.withLock { projections.values.map(\.checkpoint) } + [catalog.checkpoint] }
}

/// Called as a rebuild goes: the LSN replayed so far and the last LSN it will reach.
public typealias RebuildProgress = @Sendable (_ lsn: LSN, _ lastLSN: LSN) -> Void

extension StoreState {
    var strategyNeedsCounts: Bool { initialization?.strategy == .directory }
}
