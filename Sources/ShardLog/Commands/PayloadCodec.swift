/// Why a payload does not decode (CMD-001). Never carries payload bytes.
public struct PayloadError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Writes the primitives of Specs/Commands.md §1.
struct PayloadWriter {
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
    mutating func optional<T>(_ value: T?, _ write: (inout PayloadWriter, T) -> Void) {
        if let value {
            u8(1)
            write(&self, value)
        } else {
            u8(0)
        }
    }
    mutating func list<T>(_ values: [T], _ write: (inout PayloadWriter, T) -> Void) {
        u32(UInt32(values.count))
        for value in values { write(&self, value) }
    }
    mutating func strings(_ values: [String]) { list(values) { $0.string($1) } }
    mutating func vector(_ values: [Float]) {
        u32(UInt32(values.count))
        #if _endian(little)
        // The in-memory layout is the encoded one (f32 little-endian): one copy.
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for value in values { u32(value.bitPattern) }
        #endif
    }
}

/// Reads the primitives of Specs/Commands.md §1, checking each (CMD-001).
struct PayloadReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws(PayloadError) -> UnsafeRawBufferPointer {
        guard count >= 0, bytes.count - offset >= count else { throw PayloadError("\(what()) is cut short by the end of the payload") }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(PayloadError) -> UInt8 { try take(1, what())[0] }
    mutating func u16(_ what: @autoclosure () -> String) throws(PayloadError) -> UInt16 {
        UInt16(littleEndian: try take(2, what()).loadUnaligned(as: UInt16.self))
    }
    mutating func u32(_ what: @autoclosure () -> String) throws(PayloadError) -> UInt32 {
        UInt32(littleEndian: try take(4, what()).loadUnaligned(as: UInt32.self))
    }
    mutating func u64(_ what: @autoclosure () -> String) throws(PayloadError) -> UInt64 {
        UInt64(littleEndian: try take(8, what()).loadUnaligned(as: UInt64.self))
    }
    mutating func bool(_ what: @autoclosure () -> String) throws(PayloadError) -> Bool {
        switch try u8(what()) {
        case 0: return false
        case 1: return true
        case let v: throw PayloadError("\(what()) is \(v), not a boolean (0 or 1)")
        }
    }
    mutating func string(_ what: @autoclosure () -> String) throws(PayloadError) -> String {
        let count = Int(try u32(what() + " length"))
        let raw = try take(count, what()).assumingMemoryBound(to: UInt8.self)
        // ASCII (ids, most text) is valid UTF-8 as it stands: `decoding` then copies it
        // without the generic validating initializer's cost.
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        guard let text = String(validating: raw, as: UTF8.self) else { throw PayloadError("\(what()) is not valid UTF-8") }
        return text
    }
    mutating func optional<T>(_ what: @autoclosure () -> String, _ read: (inout PayloadReader) throws(PayloadError) -> T) throws(PayloadError) -> T? {
        switch try u8(what() + " presence") {
        case 0: return nil
        case 1: return try read(&self)
        case let v: throw PayloadError("\(what()) presence byte is \(v), not 0 or 1")
        }
    }
    mutating func list<T>(_ what: @autoclosure () -> String, _ read: (inout PayloadReader) throws(PayloadError) -> T) throws(PayloadError) -> [T] {
        let count = Int(try u32(what() + " count"))
        // Every element takes at least one byte: a count larger than what is left is invalid
        // (and must not make us reserve memory for it).
        guard count <= bytes.count - offset else { throw PayloadError("\(what()) count \(count) exceeds the payload") }
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }
    mutating func strings(_ what: @autoclosure () -> String) throws(PayloadError) -> [String] {
        try list(what()) { (r: inout PayloadReader) throws(PayloadError) in try r.string(what()) }
    }
    mutating func vector(_ what: @autoclosure () -> String) throws(PayloadError) -> [Float] {
        let count = Int(try u32(what() + " dimension"))
        let raw = try take(count * 4, what())
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            #if _endian(little)
            if count > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw) }
            #else
            for i in 0..<count { buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            #endif
            initialized = count
        }
        // A value is not finite when its exponent bits are all ones. The branch-free pass
        // over the bit patterns vectorizes; the search for which one runs only on a failure.
        var nonFinite: UInt32 = 0
        values.withUnsafeBytes { raw in
            for bits in raw.bindMemory(to: UInt32.self) { nonFinite |= ((bits & 0x7F80_0000) &+ 0x0080_0000) >> 31 }
        }
        if nonFinite != 0, let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw PayloadError("\(what()) value \(bad) is not finite")
        }
        return values
    }
    // MARK: Bulk fields

    /// When set, the bulk readers below check a field's framing and step over its bytes,
    /// returning an empty value: a rebuild skims the commands whose rows it does not write
    /// (Specs/Engine.md, ENG-022).
    var skipsBulk = false

    mutating func bulkString(_ what: @autoclosure () -> String) throws(PayloadError) -> String {
        guard skipsBulk else { return try string(what()) }
        _ = try take(Int(try u32(what() + " length")), what())
        return ""
    }
    mutating func bulkStrings(_ what: @autoclosure () -> String) throws(PayloadError) -> [String] {
        guard skipsBulk else { return try strings(what()) }
        let count = Int(try u32(what() + " count"))
        // An element past the end throws at once, so a huge count cannot loop long.
        for _ in 0..<count { _ = try bulkString(what()) }
        return []
    }
    mutating func bulkVector(_ what: @autoclosure () -> String) throws(PayloadError) -> [Float] {
        guard skipsBulk else { return try vector(what()) }
        _ = try take(Int(try u32(what() + " dimension")) * 4, what())
        return []
    }

    /// CMD-001: the payload must be consumed exactly.
    func finish() throws(PayloadError) {
        if offset != bytes.count { throw PayloadError("\(bytes.count - offset) bytes follow the last field") }
    }
}

extension MemoryType {
    var code: UInt8 { UInt8(Self.allCases.firstIndex(of: self)!) }
    init(code: UInt8) throws(PayloadError) {
        guard Int(code) < Self.allCases.count else { throw PayloadError("memory type \(code) is unknown") }
        self = Self.allCases[Int(code)]
    }
}

extension MemoryTier {
    var code: UInt8 { UInt8(Self.allCases.firstIndex(of: self)!) }
    init(code: UInt8) throws(PayloadError) {
        guard Int(code) < Self.allCases.count else { throw PayloadError("tier \(code) is unknown") }
        self = Self.allCases[Int(code)]
    }
}

extension MessageRole {
    var code: UInt8 { UInt8(Self.allCases.firstIndex(of: self)!) }
    init(code: UInt8) throws(PayloadError) {
        guard Int(code) < Self.allCases.count else { throw PayloadError("role \(code) is unknown") }
        self = Self.allCases[Int(code)]
    }
}
