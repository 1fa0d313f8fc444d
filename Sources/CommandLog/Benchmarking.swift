/// The log's hot paths for the package-benchmark suites (`Benchmarks/`, BENCH-080), which
/// live in another package and so cannot see internal code. Not API: `@_spi(Benchmarking)`
/// keeps them out of the public interface (swift-nio's habit). Each calls exactly what the
/// writer or the reader calls.
@_spi(Benchmarking) public enum HotPaths {
    /// CRC-32C over `bytes` (LOG-021's frame check).
    public static func crc32c(_ bytes: UnsafeRawBufferPointer) -> UInt32 { frameCRC(bytes) }

    /// `source` as one standard LZ4 frame (LOG-030), as the writer compresses a frame.
    public static func lz4Compress(_ source: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: LZ4Codec.compressBound(source.count))
        let size = source.withUnsafeBytes { s in out.withUnsafeMutableBytes { LZ4Codec.compress(s, into: $0) } }
        return Array(out[0..<(size ?? 0)])
    }

    /// A reusable decompressor, as a reader holds one.
    public final class Decompressor {
        private let codec = LZ4Codec()
        private var out: [UInt8] = []
        public init() {}
        /// Decompresses an LZ4 frame of `rawSize` bytes; nil when it does not decode to that.
        public func decompress(_ source: [UInt8], rawSize: Int) -> Int? {
            if out.count < rawSize { out = [UInt8](repeating: 0, count: rawSize) }
            let problem = source.withUnsafeBytes { s in
                out.withUnsafeMutableBytes { codec.decompress(s, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<rawSize])) }
            }
            return problem == nil ? rawSize : nil
        }
    }

    /// A unit of commands as `CommandLog.submit` encodes it: records with their LSNs.
    public struct EncodedUnit: Sendable {
        let records: [UInt8]
        let offsets: [Int]
        let firstLSN: LSN
        public var byteCount: Int { records.count }
    }

    public static func encodeRecords(_ drafts: [CommandDraft], firstLSN: LSN) -> EncodedUnit {
        let size = drafts.reduce(0) { $0 + RecordLayout.encodedSize($1) }
        var (records, offsets) = RecordLayout.encode(drafts, totalSize: size)
        RecordLayout.assignLSNs(&records, offsets: offsets, first: firstLSN)
        return EncodedUnit(records: records, offsets: offsets, firstLSN: firstLSN)
    }

    /// The flusher's framing of units: packing, LZ4, CRC and the chain hash (LOG-020 … LOG-050).
    public final class Framer {
        private let encoder: FrameEncoder
        public private(set) var output: [UInt8] = []
        public init(compression: Compression = .lz4) { encoder = FrameEncoder(compression: compression) }

        /// Frames `units` after `chain` into `output` (replacing it); returns the new chain.
        public func frame(_ units: [EncodedUnit], after chain: ChainHash) -> ChainHash {
            output.removeAll(keepingCapacity: true)
            encoder.pack(units: units.map { ($0.records, $0.offsets, $0.firstLSN) })
            encoder.compressAll()
            var chain = chain
            for index in 0..<encoder.frameCount { chain = encoder.seal(index, chain: chain, into: &output) }
            return chain
        }
    }
}

private func frameCRC(_ bytes: UnsafeRawBufferPointer) -> UInt32 { crc32c(bytes) }
