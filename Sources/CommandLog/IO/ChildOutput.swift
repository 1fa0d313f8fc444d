#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How this package's child processes (the crash tests' children) talk to their parent:
/// one line at a time, straight to standard output with `write(2)` and no buffer, so that
/// every line printed before a SIGKILL has reached the pipe. Package-internal.
package enum ChildOutput {
    /// Writes `line` and a newline; exits 9 when the parent's end of the pipe is gone.
    package static func line(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { exit(9) }
            done += n
        }
    }
}
