#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A thin owner of one POSIX file descriptor. Every call reports failure as a
/// typed `CommandLogError` naming the file; nothing here retries silently
/// except `EINTR` and short writes, which POSIX allows.
final class File {
    let path: String
    private(set) var descriptor: Int32
    let faults: (any FaultInjector)?

    private init(path: String, descriptor: Int32, faults: (any FaultInjector)?) {
        self.path = path
        self.descriptor = descriptor
        self.faults = faults
    }

    deinit { if descriptor >= 0 { _ = Glibc.close(descriptor) } }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644, faults: (any FaultInjector)? = nil) throws -> File {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return File(path: path, descriptor: fd, faults: faults) }
            if errno == EINTR { continue }
            let code = errno
            if code == ENOENT { throw CommandLogError.notFound(path: path) }
            throw SystemError.error("open", path: path, errno: code)
        }
    }

    func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    func size() throws -> Int {
        var st = stat()
        if fstat(descriptor, &st) != 0 { throw SystemError.error("fstat", path: path, errno: errno) }
        return Int(st.st_size)
    }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns how many were read (fewer only at end of file).
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = pread(descriptor, buffer + done, count - done, off_t(offset + done))
            if n > 0 { done += n; continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            throw SystemError.error("pread", path: path, errno: errno)
        }
        return done
    }

    /// Reads exactly `count` bytes at `offset`, or fewer at end of file.
    func read(count: Int, at offset: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { (raw) throws -> Int in
            try read(into: raw.baseAddress!, count: count, at: offset)
        }
        bytes.removeLast(count - n)
        return bytes
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var limit = bytes.count
        var injectedErrno: Int32 = 0
        if let faults {
            switch faults.beforeWrite(path: path, offset: offset, count: bytes.count) {
            case .none: break
            case .fail(let code): throw SystemError.error("write", path: path, errno: code)
            case .tear(let count, let code):
                limit = min(count, bytes.count)
                injectedErrno = code
            }
        }
        var done = 0
        while done < limit {
            let n = pwrite(descriptor, bytes.baseAddress! + done, limit - done, off_t(offset + done))
            if n >= 0 { done += n; continue }
            if errno == EINTR { continue }
            throw SystemError.error("write", path: path, errno: errno)
        }
        if injectedErrno != 0 { throw SystemError.error("write", path: path, errno: injectedErrno) }
    }

    func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { (raw) throws in try write(raw, at: offset) }
    }

    /// Writes zero bytes over `range` (LOG-096's preallocated space); returns whether all
    /// were written. Not subject to injected faults: a failure here is never an error.
    func writeZeros(_ range: Range<Int>) -> Bool {
        let chunk = 64 * 1024
        return withUnsafeTemporaryAllocation(byteCount: chunk, alignment: 16) { zeros in
            zeros.initializeMemory(as: UInt8.self, repeating: 0)
            var position = range.lowerBound
            while position < range.upperBound {
                let n = pwrite(descriptor, zeros.baseAddress!, min(chunk, range.upperBound - position), off_t(position))
                if n > 0 { position += n; continue }
                if n < 0 && errno == EINTR { continue }
                return false
            }
            return true
        }
    }

    /// `fdatasync(2)`: the file's data and the metadata needed to read it back are durable.
    func sync() throws {
        if let faults, case .fail(let code) = faults.beforeSync(path: path) {
            throw SystemError.error("fdatasync", path: path, errno: code)
        }
        while fdatasync(descriptor) != 0 {
            if errno == EINTR { continue }
            throw SystemError.error("fdatasync", path: path, errno: errno)
        }
    }

    func truncate(to size: Int) throws {
        while ftruncate(descriptor, off_t(size)) != 0 {
            if errno == EINTR { continue }
            throw SystemError.error("ftruncate", path: path, errno: errno)
        }
    }
}

/// Directory helpers: listing, syncing (so that creates and renames are durable), renaming.
enum Directory {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func create(_ path: String) throws {
        // Create each missing parent, like `mkdir -p`.
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if Directory.exists(current) { continue }
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw SystemError.error("mkdir", path: current, errno: errno)
            }
        }
    }

    static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { throw CommandLogError.notFound(path: path) }
            throw SystemError.error("opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func sync(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SystemError.error("open directory", path: path, errno: errno) }
        defer { _ = Glibc.close(fd) }
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw SystemError.error("fsync directory", path: path, errno: errno)
        }
    }

    static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw SystemError.error("rename to \(to)", path: from, errno: errno) }
    }

    /// A name in `directory` that does not exist yet: `base + suffix`, or
    /// `base.1 + suffix`, `base.2 + suffix` … (nothing is ever overwritten).
    static func freshName(in directory: String, base: String, suffix: String) -> String {
        var candidate = base + suffix
        var n = 1
        while fileExists(directory + "/" + candidate) {
            candidate = "\(base).\(n)\(suffix)"
            n += 1
        }
        return candidate
    }
}
