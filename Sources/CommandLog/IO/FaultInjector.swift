/// What a fault injector decides for one write or sync. Tests use it to make
/// writes tear, fail or fill the disk, and syncs fail, deterministically
/// (TigerBeetle's habit: every I/O failure can be replayed from its seed).
enum InjectedFault: Sendable {
    /// Proceed normally.
    case none
    /// Fail with this errno, writing nothing.
    case fail(errno: Int32)
    /// Write only the first `count` bytes, then fail with `errno`.
    case tear(count: Int, errno: Int32)
}

/// Consulted before each write and sync of segment data. Production code has none.
protocol FaultInjector: Sendable {
    func beforeWrite(path: String, offset: Int, count: Int) -> InjectedFault
    func beforeSync(path: String) -> InjectedFault
}
