/// The 64-byte segment header (Specs/CommandLog.md §3.1, LOG-010).
struct SegmentHeader: Equatable {
    static let size = 64
    static let magic: [UInt8] = Array("SHLOGSEG".utf8)  // 53 48 4C 4F 47 53 45 47
    static let version: UInt16 = 1

    var firstLSN: LSN
    var previousChain: ChainHash

    func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(Self.size)
        bytes.appendLE(Self.version)
        bytes.appendLE(UInt16(0))
        bytes.appendLE(UInt32(0))
        bytes.appendLE(firstLSN.rawValue)
        bytes.append(contentsOf: previousChain.bytes)
        bytes.appendLE(UInt32(0))
        let crc = bytes.withUnsafeBytes { crc32c($0) }
        bytes.appendLE(crc)
        assert(bytes.count == Self.size)
        return bytes
    }

    enum DecodeFailure: Error { case bad(String), unsupportedVersion(UInt16) }

    /// Decodes and checks a header (LOG-010); the caller checks the LSN against the file name.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentHeader, DecodeFailure> {
        guard bytes.count >= size else { return .failure(.bad("segment header is incomplete (\(bytes.count) of 64 bytes)")) }
        guard bytes.prefix(8).elementsEqual(magic) else { return .failure(.bad("segment header magic is wrong")) }
        let crc: UInt32 = bytes.loadLE(60)
        guard crc32c(UnsafeRawBufferPointer(rebasing: bytes[0..<60])) == crc else {
            return .failure(.bad("segment header CRC does not match"))
        }
        let version: UInt16 = bytes.loadLE(8)
        guard version == Self.version else { return .failure(.unsupportedVersion(version)) }
        guard bytes.loadLE(10, as: UInt16.self) == 0, bytes.loadLE(12, as: UInt32.self) == 0,
            bytes.loadLE(56, as: UInt32.self) == 0
        else { return .failure(.bad("reserved segment header field is not zero")) }
        return .success(
            SegmentHeader(
                firstLSN: LSN(bytes.loadLE(16)),
                previousChain: ChainHash(UnsafeRawBufferPointer(rebasing: bytes[24..<56]))))
    }
}

/// The 64-byte seal that closes a segment (§3.8, LOG-080).
struct Seal: Equatable {
    static let size = 64
    static let magic: [UInt8] = Array("SLSL".utf8)  // 53 4C 53 4C
    static let version: UInt16 = 1

    var lastLSN: LSN
    var frameCount: UInt64
    var chainHead: ChainHash

    func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(Self.size)
        bytes.appendLE(Self.version)
        bytes.appendLE(UInt16(0))
        bytes.appendLE(lastLSN.rawValue)
        bytes.appendLE(frameCount)
        bytes.append(contentsOf: chainHead.bytes)
        bytes.appendLE(UInt32(0))
        let crc = bytes.withUnsafeBytes { crc32c($0) }
        bytes.appendLE(crc)
        assert(bytes.count == Self.size)
        return bytes
    }

    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.prefix(4).elementsEqual(magic)
    }

    /// Decodes a seal; nil when the bytes are not a valid seal.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> Seal? {
        guard bytes.count == size, hasMagic(bytes),
            crc32c(UnsafeRawBufferPointer(rebasing: bytes[0..<60])) == bytes.loadLE(60, as: UInt32.self),
            bytes.loadLE(4, as: UInt16.self) == version, bytes.loadLE(6, as: UInt16.self) == 0,
            bytes.loadLE(56, as: UInt32.self) == 0
        else { return nil }
        return Seal(
            lastLSN: LSN(bytes.loadLE(8)), frameCount: bytes.loadLE(16),
            chainHead: ChainHash(UnsafeRawBufferPointer(rebasing: bytes[24..<56])))
    }
}

/// The 64-byte frame header (§3.2, LOG-020, LOG-021).
struct FrameHeader: Equatable {
    static let size = 64
    static let magic: UInt32 = 0x5246_4C53  // bytes 53 4C 46 52, "SLFR", read little-endian
    static let version: UInt16 = 1
    /// Bytes 0..<28 are hashed into the chain (LOG-050).
    static let chainedPrefixSize = 28

    struct Flags: OptionSet, Equatable {
        let rawValue: UInt16
        static let lz4 = Flags(rawValue: 1 << 0)
        static let continued = Flags(rawValue: 1 << 1)
        static let encrypted = Flags(rawValue: 1 << 2)
        static let known: Flags = [.lz4, .continued]
    }

    var flags: Flags
    var firstLSN: LSN
    var count: Int
    var storedSize: Int
    var rawSize: Int
    var chain: ChainHash
    var crc: UInt32

    /// The frame's size on disk: header, payload and padding.
    var frameSize: Int { Self.size + align8(storedSize) }
    var lastLSN: LSN { firstLSN.advanced(by: count - 1) }

    /// Writes bytes 0..<28 (everything the chain covers) into `buffer`.
    static func writePrefix(
        into buffer: UnsafeMutableRawBufferPointer, flags: Flags, firstLSN: LSN, count: Int, storedSize: Int, rawSize: Int
    ) {
        buffer.storeLE(magic, at: 0)
        buffer.storeLE(version, at: 4)
        buffer.storeLE(flags.rawValue, at: 6)
        buffer.storeLE(firstLSN.rawValue, at: 8)
        buffer.storeLE(UInt32(count), at: 16)
        buffer.storeLE(UInt32(storedSize), at: 20)
        buffer.storeLE(UInt32(rawSize), at: 24)
    }

    /// Reads the fields without judging them; `validateFields` judges.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> FrameHeader {
        FrameHeader(
            flags: Flags(rawValue: bytes.loadLE(6)),
            firstLSN: LSN(bytes.loadLE(8)),
            count: Int(bytes.loadLE(16, as: UInt32.self)),
            storedSize: Int(bytes.loadLE(20, as: UInt32.self)),
            rawSize: Int(bytes.loadLE(24, as: UInt32.self)),
            chain: ChainHash(UnsafeRawBufferPointer(rebasing: bytes[28..<60])),
            crc: bytes.loadLE(60))
    }

    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.loadLE(0, as: UInt32.self) == magic
    }

    enum FieldProblem { case bad(String), unsupported(String) }

    /// The checks of LOG-021 that need only the header.
    static func validateFields(_ bytes: UnsafeRawBufferPointer) -> FieldProblem? {
        guard hasMagic(bytes) else { return .bad("no frame magic") }
        let version: UInt16 = bytes.loadLE(4)
        let header = parse(bytes)
        if version != Self.version { return .unsupported("frame format version \(version)") }
        if header.flags.contains(.encrypted) { return .unsupported("encrypted frame (flag bit 2)") }
        if !header.flags.subtracting(.known).isEmpty {
            return .bad("reserved frame flag set (flags 0x\(String(header.flags.rawValue, radix: 16)))")
        }
        if header.count < 1 || header.count > Limits.frameCommandCountMax {
            return .bad("frame command count \(header.count) outside 1...\(Limits.frameCommandCountMax)")
        }
        if header.storedSize > Limits.frameStoredSizeMax || header.rawSize > Limits.frameRawSizeMax {
            return .bad("frame payload size over the limit (stored \(header.storedSize), raw \(header.rawSize))")
        }
        if !header.flags.contains(.lz4) && header.storedSize != header.rawSize {
            return .bad("uncompressed frame whose stored size \(header.storedSize) differs from raw size \(header.rawSize)")
        }
        return nil
    }
}
