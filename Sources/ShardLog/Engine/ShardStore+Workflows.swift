import CommandLog
import Foundation
import GRDB

/// Progress of a long workflow step: rows copied so far and the rows expected in all.
public struct WorkflowProgress: Hashable, Sendable {
    public var migrationId: String
    public var phase: MigrationWorkflow.Phase
    public var rowsCopied: Int
    public var rowsTotal: Int
}

public typealias WorkflowProgressHandler = @Sendable (WorkflowProgress) -> Void

/// What happens on open to a workflow a crash interrupted (WF-060).
public enum WorkflowRecovery: String, Hashable, Sendable, CaseIterable {
    /// Continue from the last logged step (the default).
    case resume
    /// End it: abort a migration before its cut-over, stop a plan.
    case abort
    /// Leave it as the log has it, for `resumeMigration` or `abortMigration` to decide (the
    /// CLI's `migration` commands open this way). Every step is whole, so nothing is half-applied.
    case leave
}

/// A shard and its status (`shardlog shard list`).
public struct ShardInfo: Hashable, Sendable {
    public var id: String
    public var status: ShardStatus
    public var personas: Int
}

/// The outcome of `addShard`: the personas the ring now places on the new shard (WF-010).
public struct ShardAddition: Hashable, Sendable {
    public var shard: String
    /// Personas whose ring position now falls to the new shard (empty for strategies
    /// other than `hash`).
    public var ringPlan: [String]
    public var personaCount: Int
    /// `ringPlan.count / personaCount`; the ideal is 1/(N+1).
    public var share: Double { personaCount == 0 ? 0 : Double(ringPlan.count) / Double(personaCount) }
}

extension ShardStore {
    /// A copy step's payload budget: a batch is appended as commands of about this much, each
    /// its own unit (WF-022), so a writer's command never waits behind a large append or apply.
    static let copyChunkBytes = 8 * 1024
    /// WF-023: batches in a row that copy nothing before the driver holds the persona's writes.
    static let copyAttemptsBeforeHold = 3

    // MARK: - Reading workflows

    public func migration(id: String) -> MigrationWorkflow? { withState { $0.migrations[id] } }

    /// Every migration, oldest first.
    public func migrations() -> [MigrationWorkflow] {
        withState { Array($0.migrations.values) }.sorted { $0.startedLSN < $1.startedLSN }
    }

    public func plan(id: String) -> RebalanceWorkflow? { withState { $0.plans[id] } }

    /// Every rebalance plan, oldest first.
    public func plans() -> [RebalanceWorkflow] { withState { Array($0.plans.values) }.sorted { $0.plannedLSN < $1.plannedLSN } }

    /// Every shard ever created, with its status and the personas placed on it.
    public func shards() -> [ShardInfo] {
        withState { state in
            let counts = state.personas.values.reduce(into: [String: Int]()) { $0[$1.shard, default: 0] += 1 }
            return state.shardStatus.keys.sorted(by: Router.utf8Less).map {
                ShardInfo(id: $0, status: state.shardStatus[$0]!, personas: counts[$0] ?? 0)
            }
        }
    }

    /// The id of the unfinished migration of a persona, if any.
    public func unfinishedMigration(ofPersona id: String) -> String? { withState { $0.personas[id]?.migrationID } }

    private func workflowEnvelope(_ reason: String? = nil) -> Envelope { Envelope(actor: "shardlog", reason: reason) }

    private func invalid(_ step: WorkflowCommand, _ reason: String) -> ShardLogError {
        .invalidCommand(index: 0, op: step.op, reason: reason)
    }

    // MARK: - Shard lifecycle (WF-010 … WF-012)

    /// Adds an active shard and returns the personas its ring position now claims.
    @discardableResult
    public func addShard(_ id: String) async throws -> ShardAddition {
        try await submit([(.workflow(.addShard(id: id)), workflowEnvelope("add shard"))])
        return withState { state in
            var moved: [String] = []
            if state.initialization?.strategy == .hash, let router = state.router {
                for (persona, entry) in state.personas where entry.shard != id && router.shard(for: persona) == id { moved.append(persona) }
            }
            return ShardAddition(shard: id, ringPlan: moved.sorted(by: Router.utf8Less), personaCount: state.personas.count)
        }
    }

    /// Removes a shard that holds nothing (WF-012).
    public func removeShard(_ id: String) async throws {
        try await submit([(.workflow(.removeShard(id: id)), workflowEnvelope("remove shard"))])
    }

    /// Drains a shard: marks it draining, migrates every persona placed there and moves its
    /// detached memories home, then removes it (WF-011). Continues a drain already begun.
    public func drainShard(_ id: String, progress: WorkflowProgressHandler? = nil) async throws {
        if withState({ $0.shardStatus[id] }) == .active {
            try await submit([(.workflow(.drainShard(id: id)), workflowEnvelope("drain shard"))])
        }
        guard withState({ $0.shardStatus[id] }) == .draining else {
            throw ShardLogError.invalidCommand(index: 0, op: "drainShard", reason: "shard \(id) is not active or draining")
        }
        // Finish migrations already under way from or to it.
        for migration in migrations() where migration.isUnfinished && (migration.source == id || migration.target == id) {
            _ = try await resumeMigration(migration.id, progress: progress)
        }
        while let (persona, target) = nextDrainMove(from: id) {
            let migration = try await migratePersona(persona, to: target, progress: progress)
            if migration.phase != .completed {
                throw ShardLogError.unavailable("drain of \(id) stopped: \(migration.id) \(migration.phase.rawValue) (\(migration.reason ?? ""))")
            }
        }
        let detached = try await withMemoryIndex { state in state.detachedHomes.filter { $0.value == id }.keys.sorted(by: Router.utf8Less) }
        for memory in detached {
            // A memory cannot move while its persona is being migrated: finish that first.
            guard let persona = try await withMemoryIndex({ $0.memories[memory]?.personaID }) else { continue }
            if let running = unfinishedMigration(ofPersona: persona) { _ = try await resumeMigration(running, progress: progress) }
            guard let home = shardForPersona(persona) else { continue }
            try await migrateMemory(memory, to: home)
        }
        try await removeShard(id)
    }

    /// The next persona to move off a draining shard and where (WF-011).
    private func nextDrainMove(from shard: String) -> (String, String)? {
        withState { state in
            guard let persona = state.personas.filter({ $0.value.shard == shard }).keys.min(by: Router.utf8Less) else { return nil }
            if state.initialization?.strategy == .hash, let target = state.route(persona) { return (persona, target) }
            let counts = state.personaCounts()
            let target = state.activeShards.min { (counts[$0] ?? 0) < (counts[$1] ?? 0) }!
            return (persona, target)
        }
    }

    // MARK: - Persona migration (WF-020 … WF-028)

    /// Migrates a persona to `target`, hot: writes to it keep working. Returns the migration
    /// as it ended (completed, or failed when the digests differed).
    @discardableResult
    public func migratePersona(
        _ personaID: String, to target: String, batchSize: Int? = nil, reverseOf: String? = nil, planId: String? = nil,
        progress: WorkflowProgressHandler? = nil
    ) async throws -> MigrationWorkflow {
        let started = try await startMigration(personaID, to: target, batchSize: batchSize, reverseOf: reverseOf, planId: planId)
        return try await resumeMigration(started.id, progress: progress)
    }

    /// Logs the start of a migration (WF-020) and returns it; `resumeMigration` drives it.
    public func startMigration(
        _ personaID: String, to target: String, batchSize: Int? = nil, reverseOf: String? = nil, planId: String? = nil
    ) async throws -> MigrationWorkflow {
        guard let source = shardForPersona(personaID) else { throw ShardLogError.notFound(kind: "persona", id: personaID) }
        let start = WorkflowCommand.migrationStarted(
            migrationId: "", personaId: personaID, source: source, target: target,
            batchSize: batchSize ?? configuration.migrationBatchSize, reverseOf: reverseOf, planId: planId)
        let lsn = try await submit([(.workflow(start), workflowEnvelope(reverseOf.map { "reverse \($0)" } ?? planId.map { "plan \($0)" }))])[0]
        guard let migration = withState({ state in state.migrations.values.first { $0.startedLSN == lsn } }) else {
            throw ShardLogError.incompatible(reason: "the migration started at LSN \(lsn) is not in the state")
        }
        return migration
    }

    /// Starts a migration back for a completed one (a rollback, WF-020 `reverseOf`).
    @discardableResult
    public func reverseMigration(_ id: String, progress: WorkflowProgressHandler? = nil) async throws -> MigrationWorkflow {
        guard let original = migration(id: id) else { throw ShardLogError.notFound(kind: "migration", id: id) }
        guard original.kind == .persona, original.phase == .completed else {
            throw ShardLogError.invalidCommand(index: 0, op: "migrationStarted", reason: "\(id) is \(original.phase.rawValue): only a completed persona migration can be reversed")
        }
        return try await migratePersona(
            original.personaId, to: original.source, batchSize: original.batchSize, reverseOf: id, planId: nil, progress: progress)
    }

    /// Aborts a migration before its cut-over (WF-027).
    public func abortMigration(_ id: String, reason: String = "aborted by request") async throws {
        guard let migration = migration(id: id) else { throw ShardLogError.notFound(kind: "migration", id: id) }
        try await submit([(.workflow(.migrationAborted(migrationId: id, reason: reason)), workflowEnvelope(reason))])
        forgetTouches(of: migration.personaId)
    }

    /// Drives a migration from its last logged step to its end (WF-060's resume).
    @discardableResult
    public func resumeMigration(_ id: String, progress: WorkflowProgressHandler? = nil) async throws -> MigrationWorkflow {
        guard var migration = migration(id: id) else { throw ShardLogError.notFound(kind: "migration", id: id) }
        let total = try personaRowCount(migration.personaId, on: migration.source)
        while migration.nextAction != .none {
            progress?(WorkflowProgress(migrationId: id, phase: migration.phase, rowsCopied: migration.rowsCopied, rowsTotal: max(total, migration.rowsCopied)))
            migration = try await stepMigration(id)
        }
        progress?(WorkflowProgress(migrationId: id, phase: migration.phase, rowsCopied: migration.rowsCopied, rowsTotal: max(total, migration.rowsCopied)))
        return migration
    }

    /// Takes one step of a migration (its `nextAction`: a copy batch, the verification, the
    /// cut-over or the completion) and returns it after that step. For callers that pace a
    /// migration themselves; `resumeMigration` takes every step.
    @discardableResult
    public func stepMigration(_ id: String) async throws -> MigrationWorkflow {
        guard let migration = migration(id: id) else { throw ShardLogError.notFound(kind: "migration", id: id) }
        switch migration.nextAction {
        case .copy:
            try await copyBatch(migration)
        case .requestVerification, .compareDigests:
            try await verify(migration)
        case .cutOver:
            try await submit([(.workflow(.migrationCutOver(migrationId: id)), workflowEnvelope())])
        case .complete:
            try await submit([(.workflow(.migrationCompleted(migrationId: id)), workflowEnvelope())])
        case .none:
            break
        }
        guard let next = self.migration(id: id) else { throw ShardLogError.notFound(kind: "migration", id: id) }
        if !next.isUnfinished { forgetTouches(of: next.personaId) }
        return next
    }

    /// Rows of a persona on a shard (for progress).
    private func personaRowCount(_ personaID: String, on shard: String) throws -> Int {
        guard let projection = projection(forShard: shard) else { return 0 }
        return try projection.pool.read { db in
            try Int.fetchOne(db, sql: """
                SELECT (SELECT COUNT(*) FROM personas WHERE id = ?1) + (SELECT COUNT(*) FROM memories WHERE persona_id = ?1)
                  + (SELECT COUNT(*) FROM conversations WHERE persona_id = ?1)
                  + (SELECT COUNT(*) FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE persona_id = ?1))
                """, arguments: [personaID]) ?? 0
        }
    }

    /// One batch of WF-022, read and appended as WF-023 says.
    private func copyBatch(_ migration: MigrationWorkflow) async throws {
        guard let source = projection(forShard: migration.source) else {
            throw ShardLogError.projectionDamaged(shard: migration.source, reason: "no database")
        }
        var emptyAttempts = 0
        while true {
            let held = emptyAttempts >= Self.copyAttemptsBeforeHold
            if held { await waitUntilApplied(through: hold(migration.personaId)) }
            defer { if held { release(migration.personaId) } }
            // ENG-026: the read (milliseconds of CPU) runs below the writers' priority.
            let batch = try await BackgroundReads.shared.run { [personaId = migration.personaId, cursor = migration.cursor, limit = migration.batchSize] in
                try source.readBatch(personaID: personaId, after: cursor, limit: limit)
            }
            // Cut the batch at its first row a command after the read changed.
            let touched = touchesSnapshot(of: migration.personaId)
            let cut = batch.rows.firstIndex { (touched[$0.key] ?? .zero) > batch.appliedLSN } ?? batch.rows.count
            let rows = Array(batch.rows[..<cut])
            let done = cut == batch.rows.count && batch.reachedEnd
            if rows.isEmpty && !done {
                emptyAttempts += 1
                continue
            }
            let chunks = Self.copyChunks(rows: rows, previous: migration.cursor, done: done)
            let appliedLSN = batch.appliedLSN
            var appended = 0
            for chunk in chunks {
                let keys = chunk.keys
                do {
                    try await submit(
                        [(.workflow(.migrationCopied(migrationId: migration.id, rows: chunk.rows, cursor: chunk.cursor)), workflowEnvelope())],
                        // LOG-095: writes to the persona share this step's sync — unless they
                        // are held, when waiting for one would only hold them longer.
                        deferSync: !held
                    ) { touches in
                        guard let touched = touches[migration.personaId] else { return true }
                        return !keys.contains { (touched[$0] ?? .zero) > appliedLSN }
                    }
                    appended += 1
                } catch is StaleRead {
                    break  // a write changed a row of this chunk since the read: read again from here
                }
            }
            if appended > 0 { return }
            emptyAttempts += 1
        }
    }

    /// A batch's rows in chunks of about `copyChunkBytes`, each with the cursor after it (the
    /// last one `done` when the batch reached the end of the persona's rows).
    static func copyChunks(rows: [CopyRow], previous: CopyCursor, done: Bool) -> [(rows: RowSet, cursor: CopyCursor, keys: [String])] {
        var chunks: [(rows: RowSet, cursor: CopyCursor, keys: [String])] = []
        var chunk = RowSet()
        var keys: [String] = []
        var bytes = 0
        var cursor = previous
        for row in rows {
            if bytes + row.estimatedBytes > copyChunkBytes && chunk.rowCount > 0 {
                chunks.append((chunk, cursor, keys))
                (chunk, keys, bytes) = (RowSet(), [], 0)
            }
            row.add(to: &chunk)
            keys.append(row.key)
            bytes += row.estimatedBytes
            cursor = row.cursor
        }
        if chunk.rowCount > 0 || done || chunks.isEmpty { chunks.append((chunk, done ? .done : cursor, keys)) }
        return chunks
    }

    /// WF-024: asks both shards for the persona's digest at one LSN, then records the outcome.
    private func verify(_ migration: MigrationWorkflow) async throws {
        let lsn = try await submit([(.workflow(.migrationVerify(migrationId: migration.id)), workflowEnvelope())])[0]
        let source = projection(forShard: migration.source), target = projection(forShard: migration.target)
        // ENG-026: digesting a persona's rows takes long; it runs below the writers' priority.
        let (sourceDigest, targetDigest) = try await BackgroundReads.shared.run {
            (try source?.reports.takeDigest(lsn: lsn, staged: false), try target?.reports.takeDigest(lsn: lsn, staged: true))
        }
        guard let sourceDigest, let targetDigest else {
            throw ShardLogError.incompatible(reason: "\(migration.id): the digests reported at LSN \(lsn) are missing")
        }
        if sourceDigest == targetDigest {
            try await submit([(.workflow(.migrationVerified(
                migrationId: migration.id, sourceDigest: sourceDigest, targetDigest: targetDigest, atLSN: lsn)), workflowEnvelope())])
        } else {
            let reason = "the persona's rows on \(migration.source) (digest \(sourceDigest)) differ from the copy on \(migration.target) (digest \(targetDigest)) at LSN \(lsn)"
            try await submit([(.workflow(.migrationFailed(
                migrationId: migration.id, reason: reason, sourceDigest: sourceDigest, targetDigest: targetDigest)), workflowEnvelope(reason))])
        }
    }

    // MARK: - Memory migration (WF-040, WF-041)

    /// Moves one memory to another shard; it is detached unless that is its persona's shard.
    @discardableResult
    public func migrateMemory(_ memoryID: String, to target: String) async throws -> MigrationWorkflow {
        guard let (personaID, source) = try await withMemoryIndex({ state in
            state.memories[memoryID].map { ($0.personaID, state.shard(ofMemory: memoryID)!) }
        }) else { throw ShardLogError.notFound(kind: "memory", id: memoryID) }
        // One row: hold the persona's writes while it is read, so it is the row as of the append.
        await waitUntilApplied(through: hold(personaID))
        defer { release(personaID) }
        guard let row = try projection(forShard: source)?.memory(id: memoryID) else {
            throw ShardLogError.projectionDamaged(shard: source, reason: "memory \(memoryID) is not in its database")
        }
        let lsn = try await submit([(.workflow(.memoryMoved(migrationId: "", memoryId: memoryID, source: source, target: target, row: row)),
                                     workflowEnvelope("move memory"))])[0]
        guard let migration = withState({ state in state.migrations.values.first { $0.startedLSN == lsn } }) else {
            throw ShardLogError.incompatible(reason: "the memory move at LSN \(lsn) is not in the state")
        }
        return migration
    }

    // MARK: - Crash recovery (WF-060)

    func recoverWorkflows() async throws {
        let policy = configuration.workflowRecovery
        if policy == .leave { return }
        for migration in migrations() where migration.isUnfinished {
            if policy == .abort && migration.phase != .cutOver {
                try await abortMigration(migration.id, reason: "interrupted; ended on reopen (WorkflowRecovery.abort)")
            } else {
                _ = try await resumeMigration(migration.id)
            }
        }
        for plan in plans() where plan.isUnfinished {
            if plan.phase == .rollingBack {
                try await rollbackRebalance(plan.id)
            } else if policy == .abort {
                try await submit([(.workflow(.rebalanceStopped(planId: plan.id, reason: "interrupted; stopped on reopen (WorkflowRecovery.abort)")), workflowEnvelope())])
            } else {
                _ = try await executePlan(plan.id, progress: nil)
            }
        }
    }
}

/// One row of a copy batch, with its WF-023 key and its cursor position.
enum CopyRow {
    case persona(Persona)
    case memory(MemoryEntity)
    case conversation(Conversation)
    case message(ConversationMessage)

    var key: String {
        switch self {
        case .persona(let p): "p:" + p.id
        case .memory(let m): "m:" + m.id
        case .conversation(let c): "c:" + c.id
        case .message(let m): "c:" + m.conversationId
        }
    }

    var cursor: CopyCursor {
        switch self {
        case .persona(let p): CopyCursor(table: .persona, key: p.id)
        case .memory(let m): CopyCursor(table: .memories, key: m.id)
        case .conversation(let c): CopyCursor(table: .conversations, key: c.id)
        case .message(let m): CopyCursor(table: .messages, key: m.conversationId, sequence: m.message.sequence)
        }
    }

    /// About the bytes it takes in a payload (for splitting a batch, WF-022).
    var estimatedBytes: Int {
        switch self {
        case .persona(let p): 512 + p.name.utf8.count + p.description.utf8.count
        case .memory(let m):
            96 + m.id.utf8.count + m.name.utf8.count + m.content.utf8.count + (m.summary?.utf8.count ?? 0)
                + m.tags.reduce(0) { $0 + 4 + $1.utf8.count } + 4 * (m.embedding?.count ?? 0) + (m.embeddingModel?.utf8.count ?? 0)
        case .conversation(let c): 64 + c.id.utf8.count + c.title.utf8.count
        case .message(let m): 32 + m.conversationId.utf8.count + m.message.content.utf8.count
        }
    }

    func add(to rows: inout RowSet) {
        switch self {
        case .persona(let p): rows.persona = p
        case .memory(let m): rows.memories.append(m)
        case .conversation(let c): rows.conversations.append(c)
        case .message(let m): rows.messages.append(m)
        }
    }
}

extension ShardProjection {
    /// WF-022: a batch of a persona's memories after a key, in key order (a hot migration's
    /// copy of 10,000 memories spent 20 s of CPU sorting whole rows before).
    static let copyMemoriesSQL = memoriesInKeyOrder(where: "persona_id = ? AND id > ?", limited: true)

    /// Rows of a persona after `cursor`, at most `limit`, read in one transaction with the
    /// LSN they are as of (WF-023).
    func readBatch(personaID: String, after cursor: CopyCursor, limit: Int) throws -> (rows: [CopyRow], appliedLSN: LSN, reachedEnd: Bool) {
        try pool.read { db in
            let applied = LSN(UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'applied_lsn'") ?? 0))
            var rows: [CopyRow] = []
            func room() -> Int { limit - rows.count }
            if cursor.table < .persona || (cursor.table == .persona && cursor.key.isEmpty) {
                if let persona = try Row.fetchOne(db, sql: "SELECT * FROM personas WHERE id = ?", arguments: [personaID]).map(Self.persona) {
                    rows.append(.persona(persona))
                }
            }
            if room() > 0, cursor.table <= .memories {
                let after = cursor.table == .memories ? cursor.key : ""
                let found = try Row.fetchAll(db, sql: Self.copyMemoriesSQL, arguments: [personaID, after, room()])
                rows += try found.map { .memory(try Self.memory($0)) }
            }
            if room() > 0, cursor.table <= .conversations {
                let after = cursor.table == .conversations ? cursor.key : ""
                rows += try Row.fetchAll(
                    db, sql: "SELECT * FROM conversations WHERE persona_id = ? AND id > ? ORDER BY id LIMIT ?",
                    arguments: [personaID, after, room()]
                ).map { .conversation(Self.conversation($0)) }
            }
            if room() > 0, cursor.table <= .messages {
                let (afterKey, afterSequence) = cursor.table == .messages ? (cursor.key, cursor.sequence) : ("", 0)
                rows += try Row.fetchAll(
                    db, sql: """
                        SELECT m.conversation_id, m.sequence, m.role, m.content, m.created_at FROM messages m
                        WHERE m.conversation_id IN (SELECT id FROM conversations WHERE persona_id = ?)
                          AND (m.conversation_id > ? OR (m.conversation_id = ? AND m.sequence > ?))
                        ORDER BY m.conversation_id, m.sequence LIMIT ?
                        """, arguments: [personaID, afterKey, afterKey, afterSequence, room()]
                ).map { row in
                    .message(ConversationMessage(
                        conversationId: row[0],
                        message: Message(sequence: row[1], role: MessageRole(rawValue: row[2]) ?? .user, content: row[3],
                                         createdAt: Timestamp(rawValue: row[4]))))
                }
            }
            return (rows, applied, room() > 0)
        }
    }
}

