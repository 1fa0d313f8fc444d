import Foundation

/// Named threads: how every thread ShardLog starts gets a name that `top -H` and `perf` show.
extension Thread {
    /// Starts a thread that runs `body` under `name` (ENG-029), the name set from inside the
    /// thread: Foundation on Linux does not apply a `name` given before `start`, and Linux
    /// refuses names longer than 15 bytes (the thread would keep its creator's name).
    package static func detachNewThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        precondition(name.utf8.count <= 15, "a Linux thread name takes at most 15 bytes: \(name)")
        Thread {
            Thread.current.name = name
            body()
        }.start()
    }
}
