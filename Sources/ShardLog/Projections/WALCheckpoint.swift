import Foundation
import GRDBSQLite

/// Checkpoints one projection's write-ahead log off the write path (PROJ-005): the
/// projection's own connections never checkpoint (`wal_autocheckpoint = 0`), and the store's
/// checkpoint thread calls `runIfNeeded` every few milliseconds, which runs a PASSIVE
/// checkpoint on a connection of its own once the log passes `thresholdBytes`. A PASSIVE
/// checkpoint never blocks the writer, so a write is never held up by copying WAL pages
/// into the database and syncing it.
final class WALCheckpoint: @unchecked Sendable {
    /// 1 MiB of log (256 pages of 4 KiB).
    static let thresholdBytes = 1 << 20
    let path: String
    private let lock = NSLock()
    private var connection: OpaquePointer?
    private var closed = false

    init(path: String) { self.path = path }

    /// Checkpoints when the log is large enough; returns whether it ran.
    @discardableResult
    func runIfNeeded() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return false }
        var info = stat()
        guard stat(path + "-wal", &info) == 0, Int(info.st_size) >= Self.thresholdBytes else { return false }
        if connection == nil {
            var db: OpaquePointer?
            guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
                sqlite3_close_v2(db)
                return false
            }
            sqlite3_busy_timeout(db, 0)
            connection = db
        }
        // Busy (a rebuild swapping the file, another checkpoint) is fine: the next tick retries.
        _ = sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        return true
    }

    /// Closes the checkpoint connection; `runIfNeeded` does nothing afterwards.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        closed = true
        if let connection { sqlite3_close_v2(connection) }
        connection = nil
    }
}

/// The store's checkpoint thread: every few milliseconds, `runIfNeeded` on each projection.
final class CheckpointThread: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)
    private let checkpoints: @Sendable () -> [WALCheckpoint]

    init(interval: Duration = .milliseconds(5), checkpoints: @escaping @Sendable () -> [WALCheckpoint]) {
        self.checkpoints = checkpoints
        let thread = Thread { [self] in
            while !lock.withLock({ stopped }) {
                for checkpoint in self.checkpoints() { checkpoint.runIfNeeded() }
                Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
            }
            done.signal()
        }
        thread.name = "shardlog.checkpoint"
        thread.start()
    }

    /// Stops the thread and waits for it.
    func stop() {
        let wasStopped = lock.withLock {
            defer { stopped = true }
            return stopped
        }
        if !wasStopped { done.wait() }
    }
}
