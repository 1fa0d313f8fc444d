import ShardLogLZ4

/// Standard LZ4 frames (LOG-030): what `lz4 -d` decodes.
///
/// One codec per thread of use: it owns a decompression context that is
/// reused from frame to frame, so decoding allocates nothing per frame.
final class LZ4Codec {
    private var decompressionContext: OpaquePointer?

    init() {
        var context: OpaquePointer?
        let result = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        precondition(LZ4F_isError(result) == 0, "LZ4F_createDecompressionContext failed")
        decompressionContext = context
    }

    /// LOG-030: linked blocks of at most 256 KiB, content size recorded, no LZ4 checksums.
    private static func preferences(rawSize: Int) -> LZ4F_preferences_t {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max256KB
        preferences.frameInfo.blockMode = LZ4F_blockLinked
        preferences.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum
        preferences.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum
        preferences.frameInfo.frameType = LZ4F_frame
        preferences.frameInfo.contentSize = UInt64(rawSize)
        preferences.compressionLevel = 0
        return preferences
    }

    deinit { LZ4F_freeDecompressionContext(decompressionContext) }

    /// The largest compressed size of `rawSize` bytes.
    static func compressBound(_ rawSize: Int) -> Int {
        var prefs = preferences(rawSize: rawSize)
        return LZ4F_compressFrameBound(rawSize, &prefs)
    }

    /// Compresses `source` into `destination` as one LZ4 frame; returns the frame's size,
    /// or nil when it would not fit (`destination.count` bytes at most).
    /// Stateless, so frames may be compressed on several threads at once.
    static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        var prefs = preferences(rawSize: source.count)
        let result = LZ4F_compressFrame(
            destination.baseAddress, destination.count, source.baseAddress, source.count, &prefs)
        if LZ4F_isError(result) != 0 { return nil }
        return result
    }

    /// Decompresses one complete LZ4 frame that must decode to exactly `destination.count` bytes
    /// and end exactly at the end of `source`. Returns a reason when it does not.
    func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> String? {
        LZ4F_resetDecompressionContext(decompressionContext)
        var consumed = 0
        var produced = 0
        while true {
            var sourceSize = source.count - consumed
            var destinationSize = destination.count - produced
            let hint = LZ4F_decompress(
                decompressionContext,
                destination.baseAddress.map { $0 + produced }, &destinationSize,
                source.baseAddress.map { $0 + consumed }, &sourceSize, nil)
            if LZ4F_isError(hint) != 0 {
                return "LZ4 frame does not decode: " + String(cString: LZ4F_getErrorName(hint))
            }
            consumed += sourceSize
            produced += destinationSize
            if hint == 0 { break }  // the frame is complete
            if sourceSize == 0 && destinationSize == 0 {
                // No progress: the input ended early or the output is already full.
                return produced == destination.count
                    ? "LZ4 frame decodes to more than the raw size" : "LZ4 frame is truncated"
            }
        }
        if consumed != source.count { return "bytes follow the LZ4 frame inside the payload" }
        if produced != destination.count {
            return "LZ4 frame decodes to \(produced) bytes, header says \(destination.count)"
        }
        return nil
    }
}
