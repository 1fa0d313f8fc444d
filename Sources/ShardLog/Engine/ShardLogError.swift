import CommandLog
import GRDB

/// Every way an engine call can fail. Cases are values you can match; the message
/// says what was wrong and what to do.
public enum ShardLogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A command that breaks a rule of Specs/Commands.md; nothing was appended (CMD-014).
    case invalidCommand(index: Int, op: String, reason: String)
    /// A new store's configuration breaks a rule of CMD-100 (shard count, virtual nodes,
    /// embedding dimension, range boundaries); nothing was created.
    case invalidConfiguration(reason: String)
    /// The thing named does not exist.
    case notFound(kind: String, id: String)
    /// The data directory is not a ShardLog store, or its log does not start as one.
    case notAStore(path: String, reason: String)
    /// The log holds a command this build cannot decode or apply (CMD-002), or a projection is inconsistent.
    case incompatible(reason: String)
    /// A projection is ahead of the log or damaged; rebuild it.
    case projectionDamaged(shard: String, reason: String)
    /// An error of the command log.
    case log(CommandLogError)
    /// An error of SQLite.
    case database(String)
    /// A projection could not be written because the disk holding `path` is full. What the
    /// log acknowledged is kept; the projections catch up from it on the next open.
    case diskFull(path: String)
    /// A value of a legacy database that cannot be imported without changing it (bytes
    /// that are not UTF-8, LEG-009); nothing was written.
    case invalidLegacyValue(table: String, rowid: Int64, column: String, reason: String)
    /// The store was closed, or refuses writes after a failure (reopen it).
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalidCommand(let index, let op, let reason):
            return "command \(index + 1) (\(op)) is invalid: \(reason); nothing was written"
        case .invalidConfiguration(let reason): return "invalid configuration: \(reason); nothing was created"
        case .notFound(let kind, let id): return "no \(kind) with id \(id)"
        case .notAStore(let path, let reason): return "\(path) is not a ShardLog store: \(reason)"
        case .incompatible(let reason): return "incompatible store: \(reason)"
        case .projectionDamaged(let shard, let reason): return "projection \(shard) is damaged: \(reason); run `shardlog rebuild --shard \(shard)`"
        case .log(let error): return error.description
        case .database(let message): return "SQLite: \(message)"
        case .diskFull(let path):
            return "the disk holding \(path) is full: free space, then run the command again (what the log holds is kept; the shards catch up from it when the store is next opened)"
        case .invalidLegacyValue(let table, let rowid, let column, let reason):
            return "\(table) row \(rowid), column \(column): \(reason); nothing was imported (fix the value and import again)"
        case .unavailable(let reason): return "the store is unavailable: \(reason)"
        }
    }
}

extension ShardLogError {
    /// `error` as a `ShardLogError`: SQLite's "database or disk is full" becomes `diskFull`
    /// (of `directory`), any other SQLite error `database`.
    static func from(_ error: any Error, directory: String) -> ShardLogError {
        if let error = error as? ShardLogError { return error }
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_FULL { return .diskFull(path: directory) }
        return .database(String(describing: error))
    }
}
