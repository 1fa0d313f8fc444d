import Foundation

/// A workflow step the store applied (Specs/Workflows.md §7, WF-070).
public enum StoreEvent: Hashable, Sendable {
    case shardAdded(id: String)
    case shardDraining(id: String)
    case shardRemoved(id: String)
    case migrationStarted(id: String, personaId: String, source: String, target: String)
    case migrationCompleted(id: String, personaId: String, target: String)
    case migrationAborted(id: String, reason: String)
    case migrationFailed(id: String, reason: String)
    case memoryMoved(id: String, memoryId: String, target: String)
    case rebalanceStarted(planId: String, moves: Int)
    case rebalanceCompleted(planId: String)
    case rebalanceStopped(planId: String, reason: String)
    case rebalanceRolledBack(planId: String)
}

/// Hands events to every subscriber's stream; each buffers at most `bufferLimit` (the
/// oldest are dropped beyond that, so a slow subscriber never holds up the store).
final class EventHub: @unchecked Sendable {
    static let bufferLimit = 1024
    private let lock = NSLock()
    private var continuations: [UUID: AsyncStream<StoreEvent>.Continuation] = [:]

    func stream() -> AsyncStream<StoreEvent> {
        let (stream, continuation) = AsyncStream<StoreEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferLimit))
        let id = UUID()
        lock.withLock { continuations[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            _ = self.lock.withLock { self.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ event: StoreEvent) {
        for continuation in lock.withLock({ Array(continuations.values) }) { continuation.yield(event) }
    }

    func finish() {
        for continuation in lock.withLock({ Array(continuations.values) }) { continuation.finish() }
    }
}

extension ShardStore {
    /// Workflow events applied from now on (WF-070): shard added, draining, removed;
    /// migration started, completed, aborted, failed; memory moved; rebalance started,
    /// completed, stopped, rolled back. The stream ends when the store closes.
    public func events() -> AsyncStream<StoreEvent> { eventHub.stream() }

    /// The event of a step just applied, if it has one.
    func publish(_ step: WorkflowCommand) {
        let event: StoreEvent?
        switch step {
        case .addShard(let id): event = .shardAdded(id: id)
        case .drainShard(let id): event = .shardDraining(id: id)
        case .removeShard(let id): event = .shardRemoved(id: id)
        case .migrationStarted(let id, let persona, let source, let target, _, _, _):
            event = .migrationStarted(id: id, personaId: persona, source: source, target: target)
        case .migrationCompleted(let id):
            let migration = self.migration(id: id)
            event = .migrationCompleted(id: id, personaId: migration?.personaId ?? "", target: migration?.target ?? "")
        case .migrationAborted(let id, let reason): event = .migrationAborted(id: id, reason: reason)
        case .migrationFailed(let id, let reason, _, _): event = .migrationFailed(id: id, reason: reason)
        case .memoryMoved(let id, let memory, _, let target, _): event = .memoryMoved(id: id, memoryId: memory, target: target)
        case .rebalancePlanned(let planId, let moves, _): event = .rebalanceStarted(planId: planId, moves: moves.count)
        case .rebalanceCompleted(let planId, _): event = .rebalanceCompleted(planId: planId)
        case .rebalanceStopped(let planId, let reason): event = .rebalanceStopped(planId: planId, reason: reason)
        case .rebalanceRolledBack(let planId): event = .rebalanceRolledBack(planId: planId)
        case .migrationCopied, .migrationVerify, .migrationVerified, .migrationCutOver, .rebalanceRollbackStarted: event = nil
        }
        if let event { eventHub.publish(event) }
    }
}
