import Dispatch
import Foundation

/// What a full read of the log found (LOG-110).
public struct LogSummary: Hashable, Sendable {
    public var segmentCount = 0
    public var frameCount = 0
    /// Commands whose records were decoded and checked.
    public var commandCount = 0
    /// The last committed LSN read.
    public var lastLSN = LSN.zero
    /// The chain hash after the last frame read.
    public var chainHead = ChainHash.genesis
    /// Bytes at the end of the last, unsealed segment that are not (yet) a committed
    /// frame: a torn tail, or a write in progress (LOG-121).
    public var tailByteCount = 0
    /// Why the tail bytes were not read, when there are any.
    public var tailReason: String?
    /// Whether the last segment ends with a seal (a clean close).
    public var lastSegmentSealed = false
    /// Payload bytes of the frames read, before and after compression (their ratio is the
    /// compression ratio, LOG-031).
    public var rawPayloadByteCount = 0
    public var storedPayloadByteCount = 0

    public init() {}
}

/// Reads commands from a log directory, from any LSN, checking every frame it
/// passes (CRC, chain, LSNs, records); memory stays bounded by one frame
/// (LOG-121, LOG-122). A reader takes no lock and may run while a writer appends:
/// it sees a consistent, committed prefix.
public struct LogReader: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Calls `body` for each committed command with `from ≤ LSN ≤ through` (through
    /// the end when `through` is nil), in LSN order. The view is valid only during the call.
    ///
    /// Reading runs ahead of `body` on a second thread (`Prefetcher`): frames are read,
    /// checked and decompressed there while `body` works on earlier ones. What `body` sees,
    /// and where an error is thrown, are the same as for a plain sequential read.
    @discardableResult
    public func forEach(
        from: LSN = LSN(1), through: LSN? = nil, _ body: (CommandView) throws -> Void
    ) throws -> LogSummary {
        try traverse(from: from, through: through, decodeAll: false, body)
    }

    /// All committed commands in a range, materialized. For small ranges and tests;
    /// use `forEach` to stream.
    public func commands(from: LSN = LSN(1), through: LSN? = nil) throws -> [LoggedCommand] {
        var result: [LoggedCommand] = []
        try forEach(from: from, through: through) { result.append($0.materialize()) }
        return result
    }

    /// Reads the whole log and checks everything (LOG-110). Throws the first problem as
    /// `CommandLogError.corruption` or `.unsupported`; `validator` sees every command and may
    /// return a reason to reject it (LOG-061).
    public func verify(validator: ((CommandView) -> String?)? = nil) throws -> LogSummary {
        var rejection: (LSN, String)?
        // LOG-122: verify's caller does little per command, so frames are decompressed here
        // rather than on the reading thread, which keeps CRC and the chain hash: both cores.
        let summary = try traverse(from: LSN(1), through: nil, decodeAll: true, decompressHere: true) { view in
            if rejection == nil, let validator, let reason = validator(view) { rejection = (view.lsn, reason) }
        }
        if let (lsn, reason) = rejection {
            throw CommandLogError.corruption(
                try position(of: lsn), reason: "command \(lsn) does not decode: \(reason)")
        }
        return summary
    }

    /// The segment and frame offset holding `lsn` (for reports).
    func position(of lsn: LSN) throws -> LogPosition {
        let segments = try SegmentName.list(in: directory)
        guard let segment = segments.last(where: { $0.firstLSN <= lsn }) else {
            return LogPosition(segment: "", offset: 0, lsn: lsn)
        }
        let scanner = try SegmentScanner(directory: directory, name: segment.name, firstLSN: segment.firstLSN)
        while case .frame(let header, let offset) = try scanner.next() {
            if header.lastLSN >= lsn { return LogPosition(segment: segment.name, offset: offset, lsn: header.firstLSN) }
        }
        return LogPosition(segment: segment.name, offset: 0, lsn: lsn)
    }

    /// Reads frames on a `Prefetcher` thread and delivers their records here, in order.
    /// `decompressHere`: the reading thread queues frames as stored and the caller's thread
    /// decompresses them (for callers that do little per command).
    private func traverse(
        from: LSN, through: LSN?, decodeAll: Bool, decompressHere: Bool = false, _ body: (CommandView) throws -> Void
    ) throws -> LogSummary {
        let prefetcher = Prefetcher()
        let reader = self
        let producer = DispatchGroup()
        nonisolated(unsafe) var summary = LogSummary()
        // A thread of its own, not a Dispatch worker: a caller blocked in `take` on every
        // worker of a 2-core pool must not keep its reader from running.
        producer.enter()
        Thread.detachNewThread(named: "shardlog-read") {
            do {
                summary = try reader.traverseFrames(from: from, through: through, decodeAll: decodeAll, freshBuffers: decompressHere) { header, position, scanner in
                    if decompressHere && header.flags.contains(.lz4) {
                        // The read buffer itself goes on: no copy of the payload (LOG-122).
                        let (buffer, range) = scanner.sharedPayload()
                        try prefetcher.put(Prefetcher.Frame(
                            header: header, position: position, raw: buffer, count: range.count, compressed: true, start: range.lowerBound))
                        return nil
                    }
                    var bytes = prefetcher.recycledBuffer()
                    // Decompressed straight into a buffer the queue hands over: no copy.
                    if let problem = scanner.rawPayload(header, into: &bytes) { return problem }
                    try prefetcher.put(Prefetcher.Frame(header: header, position: position, raw: bytes, count: header.rawSize))
                    return nil
                }
                prefetcher.finish(nil)
            } catch {
                prefetcher.finish(error)
            }
            producer.leave()
        }
        defer {
            prefetcher.cancel()
            producer.wait()
        }
        let lz4 = decompressHere ? LZ4Codec() : nil
        var decompressed: [UInt8] = []
        while var frame = try prefetcher.take() {
            if frame.compressed, let lz4 {
                // The same check, with the same message, as the reading thread's (LOG-021).
                let rawSize = frame.header.rawSize
                if decompressed.count < rawSize { decompressed = [UInt8](repeating: 0, count: rawSize) }
                let problem = frame.raw.withUnsafeBytes { source in
                    decompressed.withUnsafeMutableBytes { target in
                        lz4.decompress(
                            UnsafeRawBufferPointer(rebasing: source[frame.start..<frame.start + frame.count]),
                            into: UnsafeMutableRawBufferPointer(rebasing: target[0..<rawSize]))
                    }
                }
                if let problem { throw CommandLogError.corruption(frame.position, reason: problem) }
                swap(&frame.raw, &decompressed)  // the shared read buffer is dropped with the frame
                frame.count = rawSize
                frame.start = 0
            }
            let problem = try frame.raw.withUnsafeBytes { buffer in
                let raw = UnsafeRawBufferPointer(rebasing: buffer[0..<frame.count])
                return try CommandView.forEach(in: raw, count: frame.header.count, firstLSN: frame.header.firstLSN) { view in
                    let lsn = view.lsn
                    if lsn >= from, through.map({ lsn <= $0 }) ?? true { try body(view) }
                }
            }
            if let problem { throw CommandLogError.corruption(frame.position, reason: problem) }
            if frame.compressed {
                swap(&frame.raw, &decompressed)  // keep the decompression buffer
            } else {
                prefetcher.recycle(&frame.raw)
            }
        }
        producer.wait()
        return summary
    }

    /// Walks the segments frame by frame, checking each (LOG-021, LOG-051), and calls
    /// `frameBody` for each frame that holds a wanted LSN (every frame with `decodeAll`),
    /// which takes its raw payload from the scanner and returns why that failed, if it did.
    /// Records are checked by whoever decodes the payload.
    private func traverseFrames(
        from: LSN, through: LSN?, decodeAll: Bool, freshBuffers: Bool = false,
        _ frameBody: (FrameHeader, LogPosition, SegmentScanner) throws -> String?
    ) throws -> LogSummary {
        var summary = LogSummary()
        let segments = try SegmentName.list(in: directory)
        guard !segments.isEmpty else { return summary }
        let startIndex = segments.lastIndex(where: { $0.firstLSN <= max(from, LSN(1)) }) ?? 0
        var previousSeal: Seal?
        var lastFrameContinued = false
        segmentLoop: for index in startIndex..<segments.count {
            let (name, firstLSN) = segments[index]
            let isLast = index == segments.count - 1
            let scanner = try SegmentScanner(directory: directory, name: name, firstLSN: firstLSN, freshBuffers: freshBuffers)
            summary.segmentCount += 1
            if let problem = scanner.headerProblem {
                // A last segment whose header never became durable holds nothing committed (R5).
                if isLast && !problem.unsupported, try !scanner.validDataExists(after: 0) {
                    summary.tailByteCount = scanner.fileSize
                    summary.tailReason = "segment header: \(problem.reason)"
                    break segmentLoop
                }
                let position = LogPosition(segment: name, offset: problem.offset, lsn: firstLSN)
                throw problem.unsupported
                    ? CommandLogError.unsupported(position, reason: problem.reason)
                    : CommandLogError.corruption(position, reason: problem.reason)
            }
            var unitVerifiedThrough = 0  // end offset of the last unit known to be complete
            var rereadOffset: Int?
            if let previousSeal {
                if previousSeal.lastLSN.next != firstLSN {
                    throw CommandLogError.corruption(
                        LogPosition(segment: name, offset: 0, lsn: previousSeal.lastLSN.next),
                        reason: "the previous segment ends at LSN \(previousSeal.lastLSN) but this one starts at \(firstLSN)")
                }
                if scanner.header?.previousChain != previousSeal.chainHead {
                    throw CommandLogError.corruption(
                        LogPosition(segment: name, offset: 24, lsn: firstLSN),
                        reason: "the segment header's chain hash does not continue the previous segment")
                }
            }
            while true {
                let event = try scanner.next()
                switch event {
                case .frame(let header, let offset):
                    lastFrameContinued = header.flags.contains(.continued)
                    if lastFrameContinued && isLast && scanner.offset > unitVerifiedThrough {
                        switch try scanner.lookAheadOverUnit() {
                        case .complete(let end):
                            unitVerifiedThrough = end
                        case .broken(let brokenOffset, let lsn, let reason):
                            // R8 against R9 for the frame that breaks the unit: a torn tail only
                            // when nothing valid (a frame, or the seal of a sealed segment)
                            // follows it — exactly as the writer's open decides (LOG-100).
                            if try scanner.validDataExists(after: brokenOffset) {
                                throw CommandLogError.corruption(LogPosition(segment: name, offset: brokenOffset, lsn: lsn), reason: reason)
                            }
                            summary.tailByteCount = scanner.fileSize - offset
                            summary.tailReason = "an append of several frames whose last frames are missing or torn (at offset \(brokenOffset): \(reason))"
                            break segmentLoop
                        }
                    }
                    summary.frameCount += 1
                    summary.rawPayloadByteCount += header.rawSize
                    summary.storedPayloadByteCount += header.storedSize
                    summary.chainHead = header.chain
                    summary.lastLSN = header.lastLSN
                    let wanted = header.lastLSN >= from && (through.map { header.firstLSN <= $0 } ?? true)
                    if wanted || decodeAll {
                        let position = LogPosition(segment: name, offset: offset, lsn: header.firstLSN)
                        let problem = try frameBody(header, position, scanner)
                        if let problem { throw CommandLogError.corruption(position, reason: problem) }
                        summary.commandCount += header.count
                    }
                    if let through, header.lastLSN >= through, !decodeAll {
                        summary.lastLSN = header.lastLSN
                        break segmentLoop
                    }
                case .seal(let seal, let offset):
                    if lastFrameContinued {
                        throw CommandLogError.corruption(
                            LogPosition(segment: name, offset: offset, lsn: scanner.expectedLSN),
                            reason: "the segment is sealed in the middle of an append (last frame is CONTINUED)")
                    }
                    previousSeal = seal
                    if isLast { summary.lastSegmentSealed = true }
                    continue segmentLoop
                case .end:
                    if !isLast {
                        throw CommandLogError.corruption(
                            scanner.position, reason: "a segment before the last one has no seal")
                    }
                    break segmentLoop
                case .invalid(let offset, let reason, let definite, let unsupported):
                    let position = LogPosition(segment: name, offset: offset, lsn: scanner.expectedLSN)
                    if unsupported { throw CommandLogError.unsupported(position, reason: reason) }
                    if !definite && isLast {
                        if try !scanner.validDataExists(after: offset) {
                            summary.tailByteCount = scanner.fileSize - offset
                            summary.tailReason = reason
                            break segmentLoop
                        }
                        // LOG-121, LOG-096: a live writer writes into preallocated space, which a
                        // reader already sees. A valid frame after this offset means the write of
                        // the bytes here has finished (one flusher writes in file order), so
                        // they are read once more before they are called corrupt.
                        if rereadOffset != offset {
                            rereadOffset = offset
                            scanner.forgetReadAhead()
                            continue
                        }
                    }
                    throw CommandLogError.corruption(position, reason: reason)
                }
            }
        }
        return summary
    }
}

/// The hand-off between a reading thread and the caller of `LogReader.forEach`: a
/// bounded queue of decompressed frames (LOG-122: at most `byteCapacity` bytes, or one
/// frame when a frame is larger), then the reader's end or error.
final class Prefetcher: @unchecked Sendable {
    struct Frame {
        var header: FrameHeader
        var position: LogPosition
        /// The payload is `raw[start..<start+count]` (a reused buffer may be longer; a
        /// shared read buffer holds other frames too).
        var raw: [UInt8]
        var count: Int
        /// `raw` is a read buffer holding the payload as stored (LZ4), shared with other
        /// frames of it, for the caller to decompress; never recycled.
        var compressed = false
        var start = 0
    }
    private struct Cancelled: Error {}

    static let byteCapacity = 4 * 1024 * 1024
    /// A waiting consumer is woken when this many bytes are queued (or at the end), and a
    /// waiting reader when the queue falls to this many: hand-offs come in batches, not
    /// one sleep and wake-up per frame.
    static let wakeBytes = 512 * 1024
    private let condition = NSCondition()
    private var frames: [Frame] = []
    private var head = 0
    private var bytes = 0
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private var consumerWaiting = false
    private var producerWaiting = false

    /// Waits for room, then queues `frame`. Throws when the consumer has stopped.
    func put(_ frame: Frame) throws {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && bytes > 0 && bytes + frame.count > Self.byteCapacity {
            producerWaiting = true
            condition.wait()
        }
        producerWaiting = false
        if cancelled { throw Cancelled() }
        frames.append(frame)
        bytes += frame.count
        if consumerWaiting && bytes >= Self.wakeBytes { condition.broadcast() }
    }

    /// The reader is done: `error` (if any) is thrown to the consumer after the last frame.
    func finish(_ error: (any Error)?) {
        condition.lock()
        defer { condition.unlock() }
        finished = true
        if !(error is Cancelled) { failure = error }
        condition.broadcast()
    }

    /// The next frame; nil at the end; the reader's error once the frames before it are taken.
    func take() throws -> Frame? {
        condition.lock()
        defer { condition.unlock() }
        while head == frames.count && !finished {
            consumerWaiting = true
            condition.wait()
        }
        consumerWaiting = false
        if head < frames.count {
            let frame = frames[head]
            frames[head].raw = []  // the queue's copy would keep the bytes alive
            head += 1
            bytes -= frame.count
            if head == frames.count {
                frames.removeAll(keepingCapacity: true)
                head = 0
            }
            if producerWaiting && bytes <= Self.wakeBytes { condition.broadcast() }
            return frame
        }
        if let failure { throw failure }
        return nil
    }

    // Frame buffers go back and forth instead of being allocated per frame: a fresh
    // 128 KiB array is a fresh mapping, and the kernel zeroes its pages on first touch.
    private var spare: [[UInt8]] = []
    private static let spareCountMax = 8

    /// A buffer to decompress into: an earlier frame's when one was given back.
    func recycledBuffer() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        return spare.popLast() ?? []
    }

    /// Gives a consumed frame's buffer back for a later frame (its bytes stay: the next
    /// frame overwrites them rather than zeroing them first).
    func recycle(_ buffer: inout [UInt8]) {
        condition.lock()
        defer { condition.unlock() }
        if spare.count < Self.spareCountMax { spare.append(buffer) }
        buffer = []
    }

    /// The consumer stops early: the reader's next `put` throws.
    func cancel() {
        condition.lock()
        defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
    }
}
