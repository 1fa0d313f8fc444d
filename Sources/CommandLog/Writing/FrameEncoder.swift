/// Builds frames (LOG-020 … LOG-050) from records, on the flusher thread only.
struct FrameEncoder {
    private let codec = LZ4Codec()
    private let compression: Compression
    /// The raw payload of the frame being built.
    private(set) var raw: [UInt8] = []
    private(set) var count = 0
    private(set) var firstLSN = LSN.zero

    init(compression: Compression) {
        self.compression = compression
        raw.reserveCapacity(64 * 1024)
    }

    var isEmpty: Bool { count == 0 }

    /// Whether one more record of `size` bytes fits this frame.
    func fits(recordSize size: Int) -> Bool {
        count < Limits.frameCommandCountMax && raw.count + size <= Limits.frameRawSizeMax
    }

    mutating func add(records: UnsafeRawBufferPointer, count added: Int, firstLSN lsn: LSN) {
        if count == 0 { firstLSN = lsn }
        raw.append(contentsOf: records)
        count += added
    }

    /// Appends the finished frame to `output`, chained after `chain`, and starts a new one.
    /// Returns the frame's chain hash.
    mutating func finish(continued: Bool, chain: ChainHash, into output: inout [UInt8]) -> ChainHash {
        precondition(count > 0, "an empty frame is never written")
        let start = output.count
        let bound = compression == .lz4 ? max(codec.compressBound(raw.count), raw.count) : raw.count
        output.append(contentsOf: repeatElement(0, count: FrameHeader.size + align8(bound)))
        var flags: FrameHeader.Flags = continued ? [.continued] : []
        let storedSize: Int = raw.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { out in
                let payload = UnsafeMutableRawBufferPointer(
                    rebasing: out[(start + FrameHeader.size)..<(start + FrameHeader.size + bound)])
                if compression == .lz4,
                    let compressed = codec.compress(source, into: payload), compressed < source.count
                {
                    flags.insert(.lz4)
                    return compressed
                }
                // LOG-031: LZ4 did not shrink it; store raw.
                payload.copyMemory(from: source)
                return source.count
            }
        }
        let frameSize = FrameHeader.size + align8(storedSize)
        output.removeLast(output.count - (start + frameSize))
        // LOG-020: padding is zero (a failed compression attempt may have left bytes there).
        for i in (start + FrameHeader.size + storedSize)..<(start + frameSize) { output[i] = 0 }
        let chainHash: ChainHash = output.withUnsafeMutableBytes { out in
            let header = UnsafeMutableRawBufferPointer(rebasing: out[start..<(start + FrameHeader.size)])
            FrameHeader.writePrefix(
                into: header, flags: flags, firstLSN: firstLSN, count: count, storedSize: storedSize,
                rawSize: raw.count)
            let payload = UnsafeRawBufferPointer(
                rebasing: out[(start + FrameHeader.size)..<(start + FrameHeader.size + storedSize)])
            let next = ChainHash.next(
                after: chain,
                headerPrefix: UnsafeRawBufferPointer(rebasing: out[start..<(start + FrameHeader.chainedPrefixSize)]),
                payload: payload)
            next.bytes.withUnsafeBytes { header.baseAddress!.advanced(by: 28).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            let crc = crc32c(payload, continuing: crc32c(UnsafeRawBufferPointer(rebasing: out[start..<(start + 60)])))
            header.storeLE(crc, at: 60)
            return next
        }
        raw.removeAll(keepingCapacity: true)
        count = 0
        return chainHash
    }
}
