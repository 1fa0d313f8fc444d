import Foundation
import GRDBSQLite

/// Checkpoints one projection's write-ahead log off the write path (PROJ-005): the
/// projection's own connections never checkpoint (`wal_autocheckpoint = 0`), and the
/// process's checkpoint thread calls `runIfNeeded` every 5 ms, which runs a PASSIVE
/// checkpoint on a connection of its own once the log passes `thresholdBytes`. A PASSIVE
/// checkpoint never blocks the writer, so a write is never held up by copying WAL pages
/// into the database and syncing it.
final class WALCheckpoint: @unchecked Sendable {
    /// 1 MiB of log (256 pages of 4 KiB).
    static let thresholdBytes = 1 << 20
    /// How long a projection's own connections wait on a lock the checkpointer holds (a
    /// checkpoint holds them for the time of copying at most a few MiB of pages).
    static let busyTimeout: TimeInterval = 10
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
            // A connection that has not read the database yet does not know it is in WAL
            // mode: sqlite3_wal_checkpoint_v2 on it does nothing and says "not in WAL mode"
            // (-1 frames). Reading the schema once opens the WAL.
            guard sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK else {
                sqlite3_close_v2(db)
                return false
            }
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

/// The checkpoints of one store, as the checkpoint thread sees them.
protocol CheckpointSource: AnyObject, Sendable {
    var walCheckpoints: [WALCheckpoint] { get }
}

/// One thread per process runs every open store's checkpoints (PROJ-005): every 5 ms it
/// calls `runIfNeeded` on each registered store's projections. Stores are held weakly and
/// leave on close (or when they are gone), so the thread never keeps a store alive and
/// never outlives its work; it sleeps while no store is open.
final class CheckpointThread: @unchecked Sendable {
    static let shared = CheckpointThread()
    static let interval: TimeInterval = 0.005

    private struct Entry {
        weak var source: (any CheckpointSource)?
        let id: ObjectIdentifier
    }

    private let condition = NSCondition()
    private var entries: [Entry] = []
    private var started = false

    func register(_ source: any CheckpointSource) {
        condition.lock()
        defer { condition.unlock() }
        entries.append(Entry(source: source, id: ObjectIdentifier(source)))
        if !started {
            started = true
            let thread = Thread { [self] in run() }
            thread.name = "shardlog.checkpoint"
            thread.start()
        }
        condition.signal()
    }

    /// The store leaves. A pass in progress may still call its checkpoints once; they are
    /// serialized with their own `close`, after which they do nothing.
    func unregister(_ source: any CheckpointSource) {
        condition.lock()
        defer { condition.unlock() }
        let id = ObjectIdentifier(source)
        entries.removeAll { $0.id == id || $0.source == nil }
    }

    private func run() {
        while true {
            condition.lock()
            entries.removeAll { $0.source == nil }
            while entries.isEmpty { condition.wait() }
            let sources = entries.compactMap(\.source)
            condition.unlock()
            for source in sources {
                for checkpoint in source.walCheckpoints { checkpoint.runIfNeeded() }
            }
            Thread.sleep(forTimeInterval: Self.interval)
        }
    }
}
