#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The writer's exclusive lock on a log directory (LOG-120): `flock` on `LOCK`,
/// held as long as the descriptor is open. `flock` locks belong to the open
/// file description, so a second open in the same process conflicts too.
final class DirectoryLock {
    static let fileName = "LOCK"
    private let file: File

    private init(file: File) { self.file = file }

    static func acquire(directory: String) throws -> DirectoryLock {
        let path = directory + "/" + fileName
        let file = try File.open(path, flags: O_RDWR | O_CREAT)
        while flock(file.descriptor, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK {
                let text = (try? file.read(count: 512, at: 0)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                let holder = text.trimmingTrailingNewlines()
                throw CommandLogError.locked(path: directory, holder: holder.isEmpty ? "holder unknown" : holder)
            }
            throw SystemError.error("flock", path: path, errno: errno)
        }
        let description = "pid \(getpid()) on \(hostName()) since \(utcNow())\n"
        try file.truncate(to: 0)
        try file.write(Array(description.utf8), at: 0)
        return DirectoryLock(file: file)
    }

    /// Releases the lock (closing the descriptor drops it).
    func release() {
        _ = try? file.truncate(to: 0)
        file.close()
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown host" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func utcNow() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while let last = text.last, last == "\n" || last == "\r" || last == "\0" { text.removeLast() }
        return text
    }
}
