import Foundation
import ShardLogSys

/// Runs the workflow drivers' long reads — a copy batch (WF-023), the two digests of a
/// verify step (WF-024) — on a thread of its own at the applier's lower scheduling priority
/// (ENG-026), and resumes the caller with the result.
///
/// Why: a driver is an async function on Swift's cooperative pool, which has one thread per
/// core. A copy batch's read (up to `batchSize` rows with their embeddings) takes
/// milliseconds of CPU and a digest of a large persona far more; on a pool thread at the
/// writers' priority it holds a core that a writer's task, woken on that core when its
/// append is durable, then waits for — measured: the writes of a hot migration waited
/// ~1–3 ms to be resumed in their slowest 1%, while the other core was idle. At the lower
/// priority the thread gets a small share of a busy core (the scheduler still lets it finish
/// its time slice before a woken writer runs; Linux's idle class, which would not, made
/// migrations 3–4 times as long — ENG-026).
///
/// One thread serves every store of the process, one read at a time, in the order asked; it
/// ends after `idleExit` without work and the next read starts another. A read must not
/// wait for anything another background read would do.
final class BackgroundReads: @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `running` are guarded by `condition`.
    static let shared = BackgroundReads()
    static let idleExit: TimeInterval = 1

    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var running = false

    /// Runs `body` on the background thread and returns what it returns (or throws what it throws).
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Whether the thread is alive (for tests).
    var threadIsRunning: Bool { condition.withLock { running } }

    private func enqueue(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        jobs.append(job)
        if running {
            condition.signal()
        } else {
            running = true
            Thread.detachNewThread(named: "shardlog-bgread") { [self] in loop() }
        }
    }

    private func loop() {
        _ = shardlog_set_thread_nice(Applier.niceness)
        condition.lock()
        while true {
            if jobs.isEmpty {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.idleExit))
                if jobs.isEmpty {
                    running = false
                    condition.unlock()
                    return
                }
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
