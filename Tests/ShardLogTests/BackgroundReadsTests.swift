import Foundation
import Testing

@testable import ShardLog

/// ENG-026: the workflow drivers' long reads run on a thread of their own, below the
/// writers' priority.
@Suite struct BackgroundReadsTests {
    struct Refused: Error, Equatable { let id: Int }

    /// A read runs on another thread than its caller's, at the applier's `nice` value
    /// (Linux), and its result or error reaches the caller; reads run one at a time.
    @Test func readsRunOnTheirOwnThreadOneAtATimeAtTheLowerPriority() async throws {
        let reads = BackgroundReads()
        let caller = pthread_self()
        let (onCaller, nice) = try await reads.run { (pthread_equal(pthread_self(), caller) != 0, Self.currentThreadNice()) }
        #expect(!onCaller)
        #if os(Linux)
        #expect(nice == Applier.niceness)
        #endif
        await #expect(throws: Refused(id: 7)) { try await reads.run { () throws -> Int in throw Refused(id: 7) } }

        // Many at once: every one runs, and none while another runs.
        let log = LockedLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                group.addTask { try await reads.run { log.record(i) } }
            }
            try await group.waitForAll()
        }
        #expect(log.entries.sorted() == Array(0..<20))
        #expect(log.overlapped == false)
    }

    /// The thread ends after `idleExit` without work; the next read starts another.
    @Test func theThreadEndsWhenIdleAndComesBack() async throws {
        let reads = BackgroundReads()
        #expect(!reads.threadIsRunning)
        #expect(try await reads.run { 1 + 1 } == 2)
        let giveUp = ContinuousClock.now + .seconds(BackgroundReads.idleExit + 30)
        while reads.threadIsRunning && ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!reads.threadIsRunning, "no thread waits without work")
        #expect(try await reads.run { "again" } == "again")
    }

    static func currentThreadNice() -> Int32 {
        #if os(Linux)
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)  // Linux: the calling thread
        #else
        return 0
        #endif
    }

    final class LockedLog: @unchecked Sendable {
        private let lock = NSLock()
        private var inside = false
        private(set) var overlapped = false
        private var _entries: [Int] = []
        var entries: [Int] { lock.withLock { _entries } }

        func record(_ i: Int) {
            lock.withLock {
                if inside { overlapped = true }
                inside = true
            }
            Thread.sleep(forTimeInterval: 0.001)
            lock.withLock {
                _entries.append(i)
                inside = false
            }
        }
    }
}
