import Crypto
import Foundation
import GRDB
import GRDBSQLite

/// The value encoding of the digest (PROJ-010), fed to SHA-256 through a buffer so that
/// small values do not each cost a hash update.
struct DigestEncoder {
    private var hasher = SHA256()
    private var buffer: [UInt8] = []
    private static let flushSize = 1 << 16

    init() { buffer.reserveCapacity(Self.flushSize + 64) }

    mutating func byte(_ value: UInt8) {
        buffer.append(value)
        flushIfFull()
    }

    /// Tag 1 and the value as 8 little-endian bytes.
    mutating func integer(_ value: Int64) {
        buffer.append(1)
        littleEndian(UInt64(bitPattern: value))
    }

    mutating func littleEndian(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
        flushIfFull()
    }

    /// Tag 2 for text and the UTF-8 bytes of `value`.
    mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { lengthPrefixed(tag: 2, UnsafeRawBufferPointer($0)) }
    }

    /// `tag`, the byte count as 4 little-endian bytes, the bytes.
    mutating func lengthPrefixed(tag: UInt8, _ bytes: UnsafeRawBufferPointer) {
        buffer.append(tag)
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { buffer.append(contentsOf: $0) }
        if bytes.count >= Self.flushSize {
            flush()
            hasher.update(bufferPointer: bytes)
        } else if bytes.count > 0 {
            buffer.append(contentsOf: bytes)
            flushIfFull()
        }
    }

    private mutating func flushIfFull() {
        if buffer.count >= Self.flushSize { flush() }
    }

    private mutating func flush() {
        buffer.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Feeds every row `statement` returns, column by column. Stepped through SQLite's C
    /// API: values go straight from SQLite's buffers into the hash, with no Row or
    /// DatabaseValue per column.
    mutating func rows(of statement: Statement, _ db: Database) throws {
        let raw = statement.sqliteStatement
        let columns = sqlite3_column_count(raw)
        while true {
            let code = sqlite3_step(raw)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            for column in 0..<columns {
                switch sqlite3_column_type(raw, column) {
                case SQLITE_NULL: byte(0)
                case SQLITE_INTEGER: integer(sqlite3_column_int64(raw, column))
                case SQLITE_FLOAT:
                    // No REAL column exists in the schema; kept total so a stray value is still hashed.
                    byte(4)
                    littleEndian(sqlite3_column_double(raw, column).bitPattern)
                case SQLITE_TEXT:
                    let bytes = sqlite3_column_text(raw, column)
                    lengthPrefixed(tag: 2, UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(raw, column))))
                default:
                    let bytes = sqlite3_column_blob(raw, column)
                    lengthPrefixed(tag: 3, UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(raw, column))))
                }
            }
        }
    }

    /// Lower-case hex of the SHA-256.
    mutating func finalize() -> String {
        flush()
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
