import Foundation
import GRDB
import GRDBSQLite

/// Binds parameters 1, 2, … of a prepared statement with SQLite's C API and runs it.
/// Used for the hottest inserts only; everything else goes through GRDB's arguments.
struct RawBinder {
    private let statement: OpaquePointer
    private var index: Int32 = 0
    /// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ statement: OpaquePointer) {
        self.statement = statement
        sqlite3_reset(statement)
    }

    mutating func text(_ value: String?) {
        index += 1
        guard var value else {
            sqlite3_bind_null(statement, index)
            return
        }
        let i = index
        value.withUTF8 { utf8 in
            if let base = utf8.baseAddress, utf8.count > 0 {
                _ = sqlite3_bind_text(statement, i, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(utf8.count), Self.transient)
            } else {
                _ = sqlite3_bind_text(statement, i, "", 0, Self.transient)  // an empty string is not NULL
            }
        }
    }

    mutating func int(_ value: Int64?) {
        index += 1
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
    }

    /// An embedding as its little-endian f32 blob (Specs/ProjectionSchema.md §2).
    mutating func floats(_ value: [Float]?) {
        index += 1
        guard let value else {
            sqlite3_bind_null(statement, index)
            return
        }
        let i = index
        #if _endian(little)
        // The in-memory layout is the stored one: SQLite copies straight from the array.
        value.withUnsafeBytes { raw in bind(raw, at: i) }
        #else
        EmbeddingBlob.encode(value).withUnsafeBytes { raw in bind(raw, at: i) }
        #endif
    }

    private func bind(_ raw: UnsafeRawBufferPointer, at i: Int32) {
        if let base = raw.baseAddress, raw.count > 0 {
            _ = sqlite3_bind_blob(statement, i, base, Int32(raw.count), Self.transient)
        } else {
            _ = sqlite3_bind_zeroblob(statement, i, 0)  // an empty vector is not NULL
        }
    }

    func step(_ db: Database) throws {
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}
