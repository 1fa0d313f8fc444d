#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The text of an `errno` value, for the messages of I/O errors.
enum SystemError {
    static func message(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "unknown error" }
        return String(cString: text)
    }

    /// The typed error for a failed call; ENOSPC and EDQUOT become `diskFull`.
    static func error(_ operation: String, path: String, errno code: Int32) -> CommandLogError {
        if code == ENOSPC || code == EDQUOT { return .diskFull(path: path) }
        return .io(operation: operation, path: path, errno: code)
    }
}
