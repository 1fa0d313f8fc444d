import Foundation

/// Requests to stop a rebalance that a driver in this process is executing (WF-056): the
/// driver looks between moves, so the move in progress finishes first. Not logged: the
/// request becomes a command (`rebalanceStopped`) only when the driver acts on it.
final class RebalanceStopRequests: @unchecked Sendable {
    // @unchecked: both sets are touched only under `lock`.
    private let lock = NSLock()
    private var running: Set<String> = []
    private var requested: [String: String] = [:]

    /// The driver of `planID` starts; false when another driver of it already runs.
    func begin(_ planID: String) -> Bool { lock.withLock { running.insert(planID).inserted } }

    /// The driver of `planID` ends; a request it did not take is dropped with it.
    func end(_ planID: String) {
        lock.withLock {
            running.remove(planID)
            requested[planID] = nil
        }
    }

    /// Asks the driver of `planID` to stop with `reason`; false when no driver runs it.
    func request(_ planID: String, reason: String) -> Bool {
        lock.withLock {
            guard running.contains(planID) else { return false }
            requested[planID] = reason
            return true
        }
    }

    /// The reason to stop `planID`, once (the driver's check between moves).
    func take(_ planID: String) -> String? { lock.withLock { requested.removeValue(forKey: planID) } }
}
