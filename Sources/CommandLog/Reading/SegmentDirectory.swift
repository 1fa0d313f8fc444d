/// Segment file names (LOG-004): the first LSN in decimal, 20 digits, then `.log`.
enum SegmentName {
    static let suffix = ".log"
    static let digitCount = 20

    static func make(_ lsn: LSN) -> String {
        let digits = String(lsn.rawValue)
        return String(repeating: "0", count: digitCount - digits.count) + digits + suffix
    }

    /// The first LSN a segment name promises; nil when the name is not a segment's.
    static func parse(_ name: String) -> LSN? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.utf8.dropLast(suffix.utf8.count)
        guard stem.count == digitCount, stem.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = UInt64(String(decoding: stem, as: UTF8.self))
        else { return nil }
        return LSN(value)
    }

    /// The segments of a log directory in LSN order (LOG-004, LOG-005).
    static func list(in directory: String) throws -> [(name: String, firstLSN: LSN)] {
        var segments: [(name: String, firstLSN: LSN)] = []
        for name in try Directory.list(directory) where name.hasSuffix(suffix) {
            guard let lsn = parse(name) else {
                throw CommandLogError.unexpectedFile(
                    path: directory + "/" + name,
                    reason: "a name ending in .log must be 20 decimal digits, the segment's first LSN (LOG-004); move the file out of the log directory")
            }
            segments.append((name, lsn))
        }
        segments.sort { $0.firstLSN < $1.firstLSN }
        if let first = segments.first, first.firstLSN != LSN(1) {
            throw CommandLogError.corruption(
                LogPosition(segment: first.name, offset: 0, lsn: LSN(1)),
                reason: "the first segment starts at LSN \(first.firstLSN), not 1: earlier segments are missing (LOG-005)")
        }
        return segments
    }
}
