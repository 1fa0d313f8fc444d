/// A log sequence number: the position of one command in the log (LOG-003).
///
/// The first command has LSN 1, each next one the previous plus one, with no
/// gaps. ``LSN/zero`` is the position before the first command.
public struct LSN: RawRepresentable, Hashable, Comparable, Strideable, Sendable, CustomStringConvertible,
    ExpressibleByIntegerLiteral, Codable
{
    public typealias Stride = Int64
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public init(integerLiteral value: UInt64) { self.rawValue = value }

    /// The position before the first command.
    public static let zero = LSN(0)

    public static func < (lhs: LSN, rhs: LSN) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }

    /// The next position.
    public var next: LSN { LSN(rawValue + 1) }
    public func advanced(by count: Int) -> LSN { LSN(rawValue + UInt64(count)) }
    public func advanced(by n: Int64) -> LSN { LSN(UInt64(Int64(rawValue) + n)) }
    public func distance(to other: LSN) -> Int64 { Int64(other.rawValue) - Int64(rawValue) }
}
