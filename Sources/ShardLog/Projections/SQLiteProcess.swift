import ShardLogSys

/// Process-wide SQLite settings ShardLog makes before its first connection (PROJ-006).
enum SQLiteProcess {
    /// Whether ShardLog turned SQLite's memory statistics off in this process. With them
    /// on, every allocation and free inside SQLite takes one process-wide mutex, which the
    /// applier's two threads were measured contending on. SQLite accepts the
    /// setting only before it is initialised: when the process had already opened a
    /// connection of its own before ShardLog's first, the setting stays as it was (false).
    static let memoryStatisticsTurnedOff: Bool = shardlog_sqlite_memory_statistics_off() == 0

    /// Called before the connections that do ShardLog's SQLite work (the projections' pools,
    /// a rebuild's loaders); only the first call does anything.
    static func prepare() { _ = memoryStatisticsTurnedOff }
}
