import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import ShardLogSys

/// Checkpoints one projection's write-ahead log off the write path (PROJ-005): the
/// projection's own connections never checkpoint (`wal_autocheckpoint = 0`), and the
/// process's checkpoint thread calls `runIfNeeded` every 5 ms, which runs a PASSIVE
/// checkpoint on a connection of its own once `thresholdFrames` frames were committed to
/// the log since the last checkpoint. A PASSIVE checkpoint never blocks the writer, so a
/// write is never held up by copying WAL pages into the database and syncing it.
///
/// How many frames the log holds comes from `sqlite3_wal_hook` on the projection's
/// connections (`watch`), which SQLite calls after each commit with the log's frame count —
/// the mechanism of SQLite's own auto-checkpoint. (The size of the `-wal` file cannot tell:
/// SQLite reuses the file from its start after a checkpoint without shrinking it, so once
/// past the threshold it stays there, and a checkpoint — two fsyncs — ran on every tick.)
final class WALCheckpoint: @unchecked Sendable {
    // @unchecked Sendable: `connection`, `closed`, `checkpointedFrames` and `runs` are
    // guarded by `lock`; `walFrames` is atomic.
    /// 256 frames: 1 MiB of log at SQLite's default 4 KiB page.
    static let thresholdFrames = 256
    /// PROJ-007: a log this long after a checkpoint that copied all of it was not restarted
    /// (readers that never leave a gap keep the writer from starting it over): the
    /// checkpoint thread then waits, up to `restartWait`, for those readers to end. When
    /// they do not end in time it tries again once `restartRetryFrames` more were written,
    /// so long reads, one after another, hold the applier up for `restartWait` per that many
    /// frames at most.
    static let restartFrames = 4_096
    static let restartWait: Int32 = 100  // milliseconds
    static let restartRetryFrames = 1_024
    /// PROJ-007: a `-wal` file larger than this (four times the restart length, so a
    /// log that restarts on its own is never cut) is cut back to it when its log restarts:
    /// SQLite reuses the file from its start without shrinking it, so a burst would hold
    /// its disk space until the store closes.
    static let sizeLimit = 4 * restartFrames * 4_096
    /// How long a projection's own connections wait on a lock the checkpointer holds (a
    /// checkpoint holds them for the time of copying at most a few MiB of pages).
    static let busyTimeout: TimeInterval = 10
    let path: String
    private let lock = NSLock()
    private var connection: OpaquePointer?
    private var closed = false
    /// Frames in the log after the writer's last commit (set by the WAL hook).
    private let walFrames = Atomic<Int>(0)
    /// Frames of the log the last checkpoint had copied into the database.
    private var checkpointedFrames = 0
    /// PROJ-007: the log length at which the next RESTART is tried.
    private var restartAt = WALCheckpoint.restartFrames
    /// Checkpoints run so far (for tests).
    private var runs = 0

    init(path: String) { self.path = path }

    /// Installs the commit hook on one of the projection's connections (from
    /// `prepareDatabase`). The hook holds `self` unretained: the projection owns both this
    /// object and its pool, and commits happen only through the projection.
    func watch(_ db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, { context, _, _, frames in
            Unmanaged<WALCheckpoint>.fromOpaque(context!).takeUnretainedValue().walFrames.store(Int(frames), ordering: .relaxed)
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// A projection pool's configuration (a shard's or the catalog's): WAL at
    /// `synchronous = NORMAL` (PROJ-001: durability comes from the log; NORMAL keeps the file
    /// consistent), no auto-checkpoint and the commit hook (PROJ-005), and a busy timeout —
    /// this checkpointer briefly holds WAL locks while it copies pages, and a write or read
    /// that meets one waits instead of failing (GRDB's default fails at once).
    func poolConfiguration(label: String, readers: Int) -> Configuration {
        SQLiteProcess.prepare()  // PROJ-006, before the pool's first connection
        var configuration = Configuration()
        configuration.maximumReaderCount = readers
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.label = label
        configuration.prepareDatabase { [self] db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA journal_size_limit = \(Self.sizeLimit)")  // PROJ-007
            // After the pragma, which clears any WAL hook (the auto-checkpoint is one).
            watch(db)
        }
        return configuration
    }

    /// Checkpoints run so far.
    var runCount: Int { lock.withLock { runs } }
    /// Frames in the log after the writer's last commit.
    var committedFrames: Int { walFrames.load(ordering: .relaxed) }

    /// Checkpoints when enough frames were committed since the last checkpoint; returns
    /// whether it ran.
    @discardableResult
    func runIfNeeded() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return false }
        let frames = walFrames.load(ordering: .relaxed)
        // Fewer frames than were copied: the writer restarted the log from its start.
        if frames < checkpointedFrames {
            checkpointedFrames = 0
            restartAt = Self.restartFrames
        }
        guard frames - checkpointedFrames >= Self.thresholdFrames else { return false }
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
        // A reader's snapshot may keep the checkpoint from copying every frame; the next
        // tick copies the rest once it is gone.
        var logFrames: Int32 = 0
        var copied: Int32 = 0
        if sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copied) == SQLITE_OK, copied >= 0 {
            checkpointedFrames = Int(copied)
            // PROJ-007: all copied, yet this long — readers overlapping without a gap keep
            // the writer from starting the log over. RESTART holds off the writer and waits
            // for the readers that use the log; new ones read the database file, so the
            // wait ends with the reads in progress. Busy (a read longer than the wait): tried
            // again `restartRetryFrames` on.
            if logFrames >= restartAt && copied == logFrames {
                sqlite3_busy_timeout(connection, Self.restartWait)
                var restartLog: Int32 = 0
                var restartCopied: Int32 = 0
                if sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_RESTART, &restartLog, &restartCopied) != SQLITE_OK {
                    restartAt = Int(logFrames) + Self.restartRetryFrames
                }
                sqlite3_busy_timeout(connection, 0)
            }
        }
        runs += 1
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
            Thread.detachNewThread(named: "shardlog-ckpt") { [self] in run() }
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
        // PROJ-005: checkpoints are off the write path; like the applier (ENG-024) they
        // yield the CPU to the writers and the log's flusher.
        _ = shardlog_set_thread_nice(Applier.niceness)
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
