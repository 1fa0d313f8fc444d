import CommandLog
import Foundation

/// Applies durable commands to the projections strictly in LSN order, batching
/// whatever is ready (DESIGN invariant 5). Appenders finish durability in any order;
/// the applier waits for gaps to fill, so projections never see LSN n+1 before n.
final class Applier: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is guarded by `lock`.
    struct Unit: Sendable {
        var range: ClosedRange<LSN>
        var effects: [(lsn: LSN, effects: Effects)]
    }

    private let lock = NSLock()
    private var ready: [UInt64: Unit] = [:]
    private var nextLSN: LSN
    private var applying = false
    private var waiters: [(lsn: LSN, continuation: CheckedContinuation<Result<Void, ShardLogError>, Never>)] = []
    private var failure: ShardLogError?
    private let write: @Sendable ([Unit]) throws -> Void

    /// `write` applies consecutive units to the projections (one call per batch).
    init(nextLSN: LSN, write: @escaping @Sendable ([Unit]) throws -> Void) {
        self.nextLSN = nextLSN
        self.write = write
    }

    /// Hands over a durable unit and returns once it is applied (read-your-writes).
    func apply(_ unit: Unit) async throws(ShardLogError) {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, ShardLogError>, Never>) in
            lock.lock()
            if let failure {
                lock.unlock()
                continuation.resume(returning: .failure(failure))
                return
            }
            ready[unit.range.lowerBound.rawValue] = unit
            waiters.append((unit.range.upperBound, continuation))
            if applying {
                lock.unlock()
                return
            }
            applying = true
            drainLocked()
        }
        try outcome.get()
    }

    /// Called with the lock held and `applying` set; returns with the lock released.
    private func drainLocked() {
        while true {
            var batch: [Unit] = []
            var cursor = nextLSN
            while let unit = ready.removeValue(forKey: cursor.rawValue) {
                batch.append(unit)
                cursor = unit.range.upperBound.next
            }
            if batch.isEmpty {
                applying = false
                lock.unlock()
                return
            }
            lock.unlock()
            var outcome: Result<Void, ShardLogError> = .success(())
            do {
                try write(batch)
            } catch let error as ShardLogError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(.database(String(describing: error)))
            }
            lock.lock()
            nextLSN = cursor
            if case .failure(let error) = outcome { failure = error }
            let done = cursor
            var finished: [CheckedContinuation<Result<Void, ShardLogError>, Never>] = []
            waiters.removeAll { waiter in
                if waiter.lsn < done || failure != nil {
                    finished.append(waiter.continuation)
                    return true
                }
                return false
            }
            let result: Result<Void, ShardLogError> = failure.map { .failure($0) } ?? .success(())
            for continuation in finished { continuation.resume(returning: result) }
        }
    }

    /// Waits until every LSN up to `lsn` is applied (or the applier failed).
    func waitUntilApplied(through lsn: LSN) async {
        while lock.withLock({ nextLSN <= lsn && failure == nil }) {
            try? await Task.sleep(for: .microseconds(200))
        }
    }

    /// Waits until everything handed over is applied (used before a rebuild or close).
    func waitUntilIdle() async {
        while true {
            if lock.withLock({ !applying && ready.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
