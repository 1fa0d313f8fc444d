/// Every bound of the command log, in one place (Specs/CommandLog.md §7).
///
/// Names carry units and put the qualifier last (`frameRawSizeMax`). A test
/// checks the relations between them (`LimitsTests`).
public enum Limits {
    /// Bytes of an actor name (LOG-060).
    public static let actorSizeMax = 256
    /// Bytes of a reason (LOG-060).
    public static let reasonSizeMax = 4 * 1024
    /// Bytes of a command id (LOG-060).
    public static let commandIDSizeMax = 128
    /// Bytes of one command's payload (LOG-060).
    public static let commandPayloadSizeMax = 1024 * 1024
    /// Bytes of one encoded record, its size field included.
    public static let recordSizeMax =
        RecordLayout.fixedSize + actorSizeMax + reasonSizeMax + commandIDSizeMax + commandPayloadSizeMax

    /// Commands in one frame (LOG-021).
    public static let frameCommandCountMax = 4096
    /// Bytes of a frame's payload before compression (LOG-021).
    public static let frameRawSizeMax = 4 * 1024 * 1024
    /// Bytes of a frame's payload on disk: a payload LZ4 does not shrink is stored raw (LOG-031).
    public static let frameStoredSizeMax = frameRawSizeMax
    /// The raw size the writer aims for when it packs frames: small enough that the frames
    /// of one large group commit compress in parallel, large enough for LZ4 to find
    /// repeats across commands (LOG-031). A single record larger than this gets a frame of its own.
    public static let frameRawSizeTarget = 128 * 1024
    /// Raw bytes in one group commit above which its frames are compressed in parallel.
    public static let parallelCompressionSizeMin = 64 * 1024
    /// Bytes a frame occupies on disk at most, header and padding included.
    public static let frameSizeMax = FrameHeader.size + frameStoredSizeMax

    /// Commands in one append call, a unit (LOG-070).
    public static let unitCommandCountMax = 65_536
    /// Raw bytes of one append call's records.
    public static let unitRawSizeMax = 64 * 1024 * 1024

    /// Default segment roll size (LOG-093).
    public static let segmentSizeDefault = 64 * 1024 * 1024
    /// The smallest roll size a configuration may ask for (tests use it to roll often).
    public static let segmentSizeMin = 64 * 1024

    /// Commands waiting for the flusher before appenders wait (LOG-094).
    public static let pendingCommandCountMax = 131_072
    /// How long the sync of a unit submitted with `deferSync` may wait for other units to
    /// share it (LOG-095).
    public static let deferredSyncWindow = Duration.milliseconds(3)

    /// Zero bytes the writer keeps ahead of the last segment's frames (LOG-096), by default…
    public static let preallocationSizeDefault = 1024 * 1024
    /// …and the range a configuration may ask for (or 0: no preallocation).
    public static let preallocationSizeRange = 4096...(64 * 1024 * 1024)

    /// The read buffer of a sequential reader (LOG-122).
    public static let readBufferSize = 1024 * 1024
}
