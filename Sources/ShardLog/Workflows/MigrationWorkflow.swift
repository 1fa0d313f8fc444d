import CommandLog

/// One migration's state machine (Specs/Workflows.md §3, §4): a value, changed by one
/// method per event; each method returns what the driver does next. `StoreState` checks
/// a step against the rules before calling the method, so an impossible transition here
/// is a bug and traps.
public struct MigrationWorkflow: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case persona, memory
    }

    public enum Phase: String, CaseIterable, Hashable, Sendable {
        case started, copying, copied, verifying, verified, cutOver, completed, aborted, failed
    }

    /// What the driver does next.
    public enum Action: Hashable, Sendable {
        /// Read and append the next batch after `cursor`.
        case copy(after: CopyCursor)
        /// Append `migrationVerify`.
        case requestVerification
        /// Collect the digests reported at the verify step and append verified or failed.
        case compareDigests
        case cutOver
        case complete
        /// Nothing: the migration has ended.
        case none
    }

    public let id: String
    public let kind: Kind
    public let personaId: String
    /// For a memory migration, the memory.
    public let memoryId: String?
    public let source: String
    public let target: String
    public let batchSize: Int
    /// The completed migration this one reverses (a rollback, WF-020).
    public let reverseOf: String?
    /// The rebalance plan this migration is a move of.
    public let planId: String?
    public private(set) var phase: Phase
    public private(set) var cursor: CopyCursor
    public private(set) var rowsCopied: Int
    public private(set) var sourceDigest: String?
    public private(set) var targetDigest: String?
    /// Why it was aborted or failed.
    public private(set) var reason: String?
    public let startedLSN: LSN
    public private(set) var updatedLSN: LSN
    public let startedAt: Timestamp
    public private(set) var updatedAt: Timestamp

    /// A persona migration that has just started.
    init(
        id: String, personaId: String, source: String, target: String, batchSize: Int, reverseOf: String?, planId: String?,
        lsn: LSN, at timestamp: Timestamp
    ) {
        self.init(
            id: id, kind: .persona, personaId: personaId, memoryId: nil, source: source, target: target, batchSize: batchSize,
            reverseOf: reverseOf, planId: planId, phase: .started, cursor: .start, rowsCopied: 0, sourceDigest: nil,
            targetDigest: nil, reason: nil, startedLSN: lsn, updatedLSN: lsn, startedAt: timestamp, updatedAt: timestamp)
    }

    /// A memory migration: one step, completed when logged (WF-040).
    init(memoryMove id: String, memoryId: String, personaId: String, source: String, target: String, lsn: LSN, at timestamp: Timestamp) {
        self.init(
            id: id, kind: .memory, personaId: personaId, memoryId: memoryId, source: source, target: target, batchSize: 1,
            reverseOf: nil, planId: nil, phase: .completed, cursor: .done, rowsCopied: 1, sourceDigest: nil, targetDigest: nil,
            reason: nil, startedLSN: lsn, updatedLSN: lsn, startedAt: timestamp, updatedAt: timestamp)
    }

    /// Every field, as the catalog stores it.
    init(
        id: String, kind: Kind, personaId: String, memoryId: String?, source: String, target: String, batchSize: Int,
        reverseOf: String?, planId: String?, phase: Phase, cursor: CopyCursor, rowsCopied: Int, sourceDigest: String?,
        targetDigest: String?, reason: String?, startedLSN: LSN, updatedLSN: LSN, startedAt: Timestamp, updatedAt: Timestamp
    ) {
        self.id = id
        self.kind = kind
        self.personaId = personaId
        self.memoryId = memoryId
        self.source = source
        self.target = target
        self.batchSize = batchSize
        self.reverseOf = reverseOf
        self.planId = planId
        self.phase = phase
        self.cursor = cursor
        self.rowsCopied = rowsCopied
        self.sourceDigest = sourceDigest
        self.targetDigest = targetDigest
        self.reason = reason
        self.startedLSN = startedLSN
        self.updatedLSN = updatedLSN
        self.startedAt = startedAt
        self.updatedAt = updatedAt
    }

    /// Not completed, aborted or failed.
    public var isUnfinished: Bool { ![.completed, .aborted, .failed].contains(phase) }

    /// Started, and not yet cut over: the persona's writes are also staged on the target.
    public var isCopying: Bool { [.started, .copying, .copied, .verifying, .verified].contains(phase) }

    /// Where the workflow goes from its current phase (the resume point after a crash).
    public var nextAction: Action {
        switch phase {
        case .started, .copying: return .copy(after: cursor)
        case .copied: return .requestVerification
        case .verifying: return .compareDigests
        case .verified: return .cutOver
        case .cutOver: return .complete
        case .completed, .aborted, .failed: return .none
        }
    }

    private mutating func touch(_ lsn: LSN, _ timestamp: Timestamp) {
        updatedLSN = lsn
        updatedAt = timestamp
    }

    private func require(_ allowed: Set<Phase>, _ event: String) {
        precondition(allowed.contains(phase), "migration \(id): \(event) in phase \(phase.rawValue)")
    }

    // MARK: Events

    /// A batch was copied (WF-022).
    mutating func copied(rows: Int, cursor newCursor: CopyCursor, lsn: LSN, at timestamp: Timestamp) -> Action {
        require([.started, .copying], "copy")
        precondition(newCursor >= cursor, "migration \(id): the copy cursor went back")
        cursor = newCursor
        rowsCopied += rows
        phase = newCursor.table == .done ? .copied : .copying
        touch(lsn, timestamp)
        return nextAction
    }

    /// `migrationVerify` was applied: the shards report their digests (WF-024). Asked again
    /// while verifying when the reports were lost (the store reopened in between).
    mutating func verificationRequested(lsn: LSN, at timestamp: Timestamp) -> Action {
        require([.copied, .verifying], "verify")
        phase = .verifying
        touch(lsn, timestamp)
        return .compareDigests
    }

    mutating func verified(sourceDigest: String, targetDigest: String, lsn: LSN, at timestamp: Timestamp) -> Action {
        require([.verifying], "verified")
        precondition(sourceDigest == targetDigest, "migration \(id): verified with different digests")
        self.sourceDigest = sourceDigest
        self.targetDigest = targetDigest
        phase = .verified
        touch(lsn, timestamp)
        return .cutOver
    }

    mutating func failed(reason: String, sourceDigest: String, targetDigest: String, lsn: LSN, at timestamp: Timestamp) -> Action {
        require([.verifying], "failed")
        self.reason = reason
        self.sourceDigest = sourceDigest
        self.targetDigest = targetDigest
        phase = .failed
        touch(lsn, timestamp)
        return .none
    }

    /// WF-025.
    mutating func cutOver(lsn: LSN, at timestamp: Timestamp) -> Action {
        require([.verified], "cut over")
        phase = .cutOver
        touch(lsn, timestamp)
        return .complete
    }

    mutating func completed(lsn: LSN, at timestamp: Timestamp) -> Action {
        require([.cutOver], "complete")
        phase = .completed
        touch(lsn, timestamp)
        return .none
    }

    /// WF-027: before the cut-over only.
    mutating func aborted(reason: String, lsn: LSN, at timestamp: Timestamp) -> Action {
        require([.started, .copying, .copied, .verifying, .verified], "abort")
        self.reason = reason
        phase = .aborted
        touch(lsn, timestamp)
        return .none
    }
}

/// One rebalance plan's state machine (Specs/Workflows.md §5).
public struct RebalanceWorkflow: Hashable, Sendable {
    public enum Phase: String, CaseIterable, Hashable, Sendable {
        case executing, completed, stopped, rollingBack, rolledBack
    }

    public let id: String
    public let moves: [RebalanceMove]
    /// The analysis the plan was made from (JSON).
    public let analysis: String
    public private(set) var phase: Phase
    /// The validation at the end (JSON), or why it stopped.
    public private(set) var outcome: String?
    public let plannedLSN: LSN
    public private(set) var updatedLSN: LSN

    init(id: String, moves: [RebalanceMove], analysis: String, lsn: LSN) {
        self.init(id: id, moves: moves, analysis: analysis, phase: .executing, outcome: nil, plannedLSN: lsn, updatedLSN: lsn)
    }

    init(id: String, moves: [RebalanceMove], analysis: String, phase: Phase, outcome: String?, plannedLSN: LSN, updatedLSN: LSN) {
        self.id = id
        self.moves = moves
        self.analysis = analysis
        self.phase = phase
        self.outcome = outcome
        self.plannedLSN = plannedLSN
        self.updatedLSN = updatedLSN
    }

    /// Executing or rolling back.
    public var isUnfinished: Bool { phase == .executing || phase == .rollingBack }

    private func require(_ allowed: Set<Phase>, _ event: String) {
        precondition(allowed.contains(phase), "plan \(id): \(event) in phase \(phase.rawValue)")
    }

    mutating func completed(validation: String, lsn: LSN) {
        require([.executing], "complete")
        outcome = validation
        phase = .completed
        updatedLSN = lsn
    }

    mutating func stopped(reason: String, lsn: LSN) {
        require([.executing], "stop")
        outcome = reason
        phase = .stopped
        updatedLSN = lsn
    }

    mutating func rollbackStarted(lsn: LSN) {
        require([.completed, .stopped], "roll back")
        phase = .rollingBack
        updatedLSN = lsn
    }

    mutating func rolledBack(lsn: LSN) {
        require([.rollingBack], "rolled back")
        phase = .rolledBack
        updatedLSN = lsn
    }
}
