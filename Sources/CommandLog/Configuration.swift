/// How durable an acknowledged append is (LOG-092).
public enum Durability: Hashable, Sendable, CustomStringConvertible {
    /// An append returns after `fdatasync` of its frames returned. The default.
    case always
    /// An append returns after its frames were written; the flusher syncs at least this often.
    case interval(Duration)
    /// An append returns after its frames were written; syncs happen only at segment rolls and
    /// close (bulk import).
    case none

    public var description: String {
        switch self {
        case .always: return "always"
        case .interval(let d): return "interval(\(d))"
        case .none: return "none"
        }
    }
}

/// What to do when opening finds corruption before the tail (LOG-100, LOG-106).
public enum RecoveryMode: Hashable, Sendable {
    /// Refuse to open, naming segment, offset and LSN. The default.
    case strict
    /// Keep the valid prefix; move everything after the first problem aside.
    case salvage
}

/// Payload compression for new frames (LOG-030, LOG-031). Readers accept both.
public enum Compression: Hashable, Sendable {
    case lz4
    case none
}

extension CommandLog {
    /// How a log is opened.
    public struct Configuration: Sendable {
        public var durability: Durability = .always
        /// Roll segments at this size (LOG-093); at least `Limits.segmentSizeMin`.
        public var segmentSizeMax: Int = Limits.segmentSizeDefault
        public var compression: Compression = .lz4
        public var recovery: RecoveryMode = .strict
        /// Create the directory (and an empty log) when it does not exist (LOG-100 R1).
        public var createIfMissing = true
        /// Zero bytes written ahead of the last segment's frames, so that a sync need not
        /// also write the file's size (LOG-096); 0 turns it off (for a file system where
        /// overwriting costs as much as appending, e.g. copy-on-write ones).
        public var preallocationSize = Limits.preallocationSizeDefault
        /// How long the sync of a unit submitted with `deferSync` may wait for other units
        /// (LOG-095). Internal: tests lengthen it to observe a held unit.
        var deferredSyncWindow: Duration = Limits.deferredSyncWindow
        /// Test hook: injects I/O faults into segment writes and syncs.
        var faults: (any FaultInjector)?

        public init(
            durability: Durability = .always, segmentSizeMax: Int = Limits.segmentSizeDefault,
            compression: Compression = .lz4, recovery: RecoveryMode = .strict, createIfMissing: Bool = true
        ) {
            self.durability = durability
            self.segmentSizeMax = segmentSizeMax
            self.compression = compression
            self.recovery = recovery
            self.createIfMissing = createIfMissing
        }

        func validate() throws {
            if segmentSizeMax < Limits.segmentSizeMin {
                throw CommandLogError.invalidConfiguration("segmentSizeMax \(segmentSizeMax) is below the minimum \(Limits.segmentSizeMin)")
            }
            if preallocationSize != 0 && !Limits.preallocationSizeRange.contains(preallocationSize) {
                throw CommandLogError.invalidConfiguration(
                    "preallocationSize \(preallocationSize) is neither 0 nor within \(Limits.preallocationSizeRange)")
            }
            if case .interval(let d) = durability, d <= .zero {
                throw CommandLogError.invalidConfiguration("the sync interval must be positive")
            }
        }
    }
}

/// What opening the log found and did (LOG-101).
public struct RecoveryReport: Hashable, Sendable {
    /// Files created to keep bytes that were cut or moved aside (names in the log directory).
    public var filesKeptAside: [String] = []
    /// Bytes cut from the tail (torn or incomplete appends, R5/R8/R10).
    public var tornByteCount = 0
    /// Whether the last segment was sealed (the previous writer closed cleanly).
    public var wasCleanlyClosed = true
    /// What salvage mode moved aside, when it ran.
    public var salvagedFrom: LogPosition?
    /// The first problem salvage mode found.
    public var salvageReason: String?
    /// One line per action taken.
    public var actions: [String] = []
}
