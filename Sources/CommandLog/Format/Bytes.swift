import ShardLogCRC32C

// Little-endian encoding helpers (LOG-001).

extension Array where Element == UInt8 {
    @inline(__always) mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    @inline(__always) mutating func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func loadLE<T: FixedWidthInteger>(_ offset: Int, as type: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always) func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}

@inline(__always) func align8(_ n: Int) -> Int { (n + 7) & ~7 }

/// CRC-32C (LOG-040). `crc32c(b, continuing: crc32c(a))` is the CRC of `a` then `b`.
@inline(__always) func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
    return shardlog_crc32c(crc, base, bytes.count)
}

/// Fast UTF-8 validation without building a `String` (the read path must not allocate per field).
func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var index = 0
    let count = bytes.count
    while index < count {
        let b0 = bytes[index]
        if b0 < 0x80 { index += 1; continue }
        let length: Int
        var minimum: UInt32
        var scalar: UInt32
        if b0 & 0xE0 == 0xC0 { length = 2; minimum = 0x80; scalar = UInt32(b0 & 0x1F) }
        else if b0 & 0xF0 == 0xE0 { length = 3; minimum = 0x800; scalar = UInt32(b0 & 0x0F) }
        else if b0 & 0xF8 == 0xF0 { length = 4; minimum = 0x10000; scalar = UInt32(b0 & 0x07) }
        else { return false }
        if index + length > count { return false }
        for k in 1..<length {
            let b = bytes[index + k]
            if b & 0xC0 != 0x80 { return false }
            scalar = (scalar << 6) | UInt32(b & 0x3F)
        }
        if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return false }
        minimum = 0
        index += length
    }
    return true
}
