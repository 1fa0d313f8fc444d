/// Where in the log something was found: a segment file, a byte offset in it,
/// and the LSN the log expected there.
public struct LogPosition: Hashable, Sendable, CustomStringConvertible {
    /// The segment's file name, e.g. `00000000000000000001.log`.
    public var segment: String
    /// Byte offset in the segment file.
    public var offset: Int
    /// The LSN expected at this position (the first LSN of the frame found or expected there).
    public var lsn: LSN

    public init(segment: String, offset: Int, lsn: LSN) {
        self.segment = segment
        self.offset = offset
        self.lsn = lsn
    }

    public var description: String { "segment \(segment), offset \(offset), LSN \(lsn)" }
}

/// Every way opening, appending to or reading the log can fail.
///
/// Cases are values you can match; the message says what was wrong and what
/// to do. Payload bytes never appear in a description.
public enum CommandLogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The log directory does not exist and creation was not asked for (LOG-100 R1).
    case notFound(path: String)
    /// Another writer holds the log (LOG-120).
    case locked(path: String, holder: String)
    /// A frame, segment or seal is damaged or out of place (LOG-105).
    case corruption(LogPosition, reason: String)
    /// A version or flag this reader does not support (LOG-022, LOG-100 R11).
    case unsupported(LogPosition, reason: String)
    /// A file in the directory that a clean log cannot contain (LOG-004).
    case unexpectedFile(path: String, reason: String)
    /// An append that breaks a limit or rule; nothing was written (LOG-140).
    case invalidCommand(index: Int, reason: String)
    /// An append call with no command, or too many (LOG-140).
    case invalidUnit(reason: String)
    /// The disk is full; the writer is poisoned until reopened (LOG-141).
    case diskFull(path: String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// An earlier write or sync failed; reopen the log (LOG-141).
    case poisoned(cause: String)
    /// The log was closed.
    case closed
    /// The group-commit queue is full (LOG-094); only `submit` throws it: wait and retry.
    case queueFull
    /// A configuration value out of range.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .notFound(let path):
            return "no command log at \(path): check the path, or create a store first"
        case .locked(let path, let holder):
            return "the log at \(path) is locked by another writer (\(holder)); stop it, or read it with a LogReader, which needs no lock"
        case .corruption(let position, let reason):
            return "corruption at \(position): \(reason); run `shardlog verify` for a report, or reopen with salvage mode to keep the valid prefix"
        case .unsupported(let position, let reason):
            return "unsupported at \(position): \(reason); a newer ShardLog wrote this log"
        case .unexpectedFile(let path, let reason):
            return "unexpected file \(path): \(reason)"
        case .invalidCommand(let index, let reason):
            return "command \(index) of the append is invalid: \(reason); nothing was appended"
        case .invalidUnit(let reason):
            return "invalid append: \(reason); nothing was appended"
        case .diskFull(let path):
            return "the disk holding \(path) is full; free space, then reopen the log"
        case .io(let operation, let path, let code):
            return "\(operation) failed on \(path): \(SystemError.message(code)) (errno \(code))"
        case .poisoned(let cause):
            return "the log refuses appends after an earlier failure (\(cause)); close and reopen it"
        case .closed:
            return "the log is closed"
        case .queueFull:
            return "the append queue is full; wait for it to drain and retry"
        case .invalidConfiguration(let message):
            return "invalid configuration: \(message)"
        }
    }
}
