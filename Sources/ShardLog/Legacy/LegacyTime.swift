import CommandLog
import Foundation
import GRDB

/// Times in the legacy database (Specs/LegacyImport.md §1): ISO-8601 text, kept to the
/// microsecond, or INTEGER milliseconds since 1970.
enum LegacyTime {
    static func parse(_ value: DatabaseValue) -> Timestamp? {
        switch value.storage {
        case .int64(let ms): return milliseconds(ms)
        case .double(let ms):
            // Out of range (or NaN) is no time, not a trap.
            guard let micros = Int64(exactly: (ms * 1000).rounded(.towardZero)) else { return nil }
            return Timestamp(microsecondsSince1970: micros)
        case .string(let text): return parse(text)
        default: return nil
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f…]Z` exactly (any number of fraction digits), else Foundation's ISO-8601.
    static func parse(_ text: String) -> Timestamp? {
        let b = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count else { return nil }
            var v = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        if b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b.last == 90,
            let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10),
            let hour = digits(11..<13), let minute = digits(14..<16), let second = digits(17..<19)
        {
            var micros = 0
            if b[19] == 46 {
                let fraction = Array(b[20..<(b.count - 1)])
                guard !fraction.isEmpty, fraction.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
                for k in 0..<6 { micros = micros * 10 + (k < fraction.count ? Int(fraction[k] - 48) : 0) }
            } else if b.count != 20 {
                return nil
            }
            guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
            let days = daysFromCivil(year: year, month: month, day: day)
            let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
            return Timestamp(microsecondsSince1970: seconds * 1_000_000 + Int64(micros))
        }
        return ISO8601.parse(text).map { Timestamp(microsecondsSince1970: Int64(($0.timeIntervalSince1970 * 1_000_000).rounded())) }
    }

    static func format(_ t: Timestamp) -> String {
        let micros = t.microsecondsSince1970
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = Int(micros - seconds * 1_000_000)
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = civilFromDays(days)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, 6))Z"
    }

    // Howard Hinnant's civil-date algorithms (days since 1970-01-01).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
