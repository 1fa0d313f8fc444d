import CommandLog
import Foundation
import GRDB

/// Reads the legacy database's rows without letting SQLite or a decoder change them
/// (LEG-008, LEG-009): text arrives as its bytes, so bytes that are not UTF-8 are found
/// instead of being replaced; a column that is missing reads as NULL.
struct LegacyTable {
    let name: String
    let columns: [String]
    let sql: String

    /// The SELECT of `columns` of `table` in rowid order: each TEXT value as a BLOB of its
    /// bytes (`CAST(x AS BLOB)` keeps them as stored), each missing column as NULL.
    init(_ db: Database, _ table: String, columns: [String]) throws {
        let present = Set(try db.columns(in: table).map { $0.name.lowercased() })
        func select(_ column: String) -> String {
            guard present.contains(column.lowercased()) else { return "NULL AS \"\(column)\"" }
            return "CASE typeof(\"\(column)\") WHEN 'text' THEN CAST(\"\(column)\" AS BLOB) ELSE \"\(column)\" END AS \"\(column)\""
        }
        self.name = table
        self.columns = columns
        self.sql = "SELECT rowid AS \"#rowid\", " + columns.map(select).joined(separator: ", ") + " FROM \"\(table)\" ORDER BY rowid"
    }
}

/// Counts what the import mapped, "table.column: what → what it became" (LEG-008).
struct LegacyMappings {
    var counts: [String: Int] = [:]
    mutating func note(_ table: String, _ column: String, _ what: String) { counts["\(table).\(column): \(what)", default: 0] += 1 }
}

/// One legacy row: typed reads that either keep the value, map it (and count it), or
/// throw for bytes that are not UTF-8 (LEG-009).
struct LegacyRow {
    let table: String
    let row: Row
    var rowid: Int64 { row["#rowid"] }

    func value(_ column: String) -> DatabaseValue { row[column] as DatabaseValue }

    /// The text of a column: its bytes checked as UTF-8 (a BLOB's too); an INTEGER or REAL
    /// as SQLite would print it; nil for NULL.
    func text(_ column: String) throws -> String? {
        switch value(column).storage {
        case .null: return nil
        case .blob(let data):
            do {
                return try UTF8Check.string(data)
            } catch {
                throw ShardLogError.invalidLegacyValue(table: table, rowid: rowid, column: column, reason: error.description)
            }
        case .int64(let v): return String(v)
        case .double(let v): return String(v)
        case .string(let s): return s  // not produced by LegacyTable's SELECT
        }
    }

    /// An integer: INTEGER, an integral REAL, or text of decimal digits; nil for NULL and
    /// (counted as "not an integer") anything else.
    func integer(_ column: String, _ mappings: inout LegacyMappings) throws -> Int64? {
        switch value(column).storage {
        case .null: return nil
        case .int64(let v): return v
        case .double(let v) where v.rounded() == v && abs(v) < 9.2e18: return Int64(v)
        default:
            if let text = try text(column), let v = Int64(text.trimmingCharacters(in: .whitespaces)) { return v }
            mappings.note(table, column, "not an integer → default")
            return nil
        }
    }

    /// An integer clamped to `range`, counted when it was outside.
    func integer(_ column: String, in range: ClosedRange<Int64>, _ mappings: inout LegacyMappings) throws -> Int? {
        guard let v = try integer(column, &mappings) else { return nil }
        if range.contains(v) { return Int(v) }
        mappings.note(table, column, "outside \(range.lowerBound)…\(range.upperBound) → clamped")
        return Int(min(range.upperBound, max(range.lowerBound, v)))
    }

    /// LEG-001: any integer but 0 is true (as SQLite and JavaScript read it); text `true`,
    /// `false`, `1`, `0`; NULL is nil; anything else counted and nil.
    func bool(_ column: String, _ mappings: inout LegacyMappings) throws -> Bool? {
        switch value(column).storage {
        case .null: return nil
        case .int64(let v): return v != 0
        case .double(let v): return v != 0
        default:
            switch try text(column)?.lowercased() {
            case "true"?, "1"?: return true
            case "false"?, "0"?: return false
            default:
                mappings.note(table, column, "not a boolean → default")
                return nil
            }
        }
    }

    /// A time (LEG-001, §1); a value that is set but is no time is counted and nil.
    func time(_ column: String, _ mappings: inout LegacyMappings) throws -> Timestamp? {
        let stored = value(column)
        if stored.isNull { return nil }
        let parsed: Timestamp?
        switch stored.storage {
        case .int64, .double: parsed = LegacyTime.parse(stored)
        default: parsed = try text(column).flatMap(LegacyTime.parse)
        }
        if parsed == nil { mappings.note(table, column, "not a time → default") }
        return parsed
    }

    /// Text within `limit` bytes: longer text is cut at the last whole character that fits,
    /// counted.
    func text(_ column: String, limit: Int, _ mappings: inout LegacyMappings) throws -> String? {
        guard let text = try text(column) else { return nil }
        return LegacyRow.fitted(text, limit: limit, table, column, &mappings)
    }

    static func fitted(_ text: String, limit: Int, _ table: String, _ column: String, _ mappings: inout LegacyMappings) -> String {
        guard text.utf8.count > limit else { return text }
        mappings.note(table, column, "over \(limit) bytes → cut to \(limit)")
        return truncated(text, toBytes: limit)
    }

    /// The longest prefix of whole Unicode scalars within `bytes` bytes.
    static func truncated(_ text: String, toBytes bytes: Int) -> String {
        var used = 0
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let size = UTF8.width(scalar)
            if used + size > bytes { break }
            used += size
            scalars.append(scalar)
        }
        return String(scalars)
    }

    /// A JSON array of strings in a TEXT column (LEG-008): NULL is nil; text that is not a
    /// JSON array is counted and nil (the default); elements that are not strings or are
    /// empty are dropped, longer ones cut to `elementLimit` bytes, elements past `countLimit`
    /// dropped, each counted.
    func strings(_ column: String, elementLimit: Int, countLimit: Int, _ mappings: inout LegacyMappings) throws -> [String]? {
        guard let text = try text(column) else { return nil }
        guard let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) as? [Any] else {
            mappings.note(table, column, "not a JSON array → default")
            return nil
        }
        var result: [String] = []
        for element in list {
            guard let string = element as? String else {
                mappings.note(table, column, "an element that is not a string → dropped")
                continue
            }
            guard !string.isEmpty else {
                mappings.note(table, column, "an empty element → dropped")
                continue
            }
            guard result.count < countLimit else {
                mappings.note(table, column, "more than \(countLimit) elements → the first \(countLimit) kept")
                break
            }
            result.append(LegacyRow.fitted(string, limit: elementLimit, table, column, &mappings))
        }
        return result
    }
}

extension LegacyTime {
    /// Milliseconds since 1970 as a timestamp, nil when the microseconds would not fit.
    static func milliseconds(_ ms: Int64) -> Timestamp? {
        let (micros, overflow) = ms.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : Timestamp(microsecondsSince1970: micros)
    }
}
