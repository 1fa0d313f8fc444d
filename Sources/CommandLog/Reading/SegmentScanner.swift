#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads one segment file frame by frame, checking each frame completely
/// (LOG-021) against the LSN and chain hash it must continue from.
///
/// It holds one read buffer and, when asked to decode, one raw buffer:
/// memory does not grow with the segment (LOG-122).
final class SegmentScanner {
    enum Event {
        /// A valid frame; its stored payload is `payload` until the next call.
        case frame(FrameHeader, offset: Int)
        /// A valid seal that agrees with the frames before it, at the end of the file.
        case seal(Seal, offset: Int)
        /// The end of the content, right after a frame (or the header): the end of the file,
        /// or preallocated space — only zero bytes from here to the end (LOG-096).
        case end
        /// Bytes at `offset` are not a valid frame. `definite` is false when they may be
        /// a torn or in-progress write (magic, size or CRC wrong, or cut by the end of file),
        /// true when they cannot be (a CRC-valid frame with a wrong LSN, chain, padding or records).
        case invalid(offset: Int, reason: String, definite: Bool, unsupported: Bool)
    }

    let directory: String
    let name: String
    let file: File
    /// The file's size when it was opened — or, for a live last segment that the writer
    /// sealed meanwhile, its size once sealed (LOG-096).
    private(set) var fileSize: Int
    /// The segment header, when it is valid.
    private(set) var header: SegmentHeader?
    /// Why the header is not valid, and the offset to report (LOG-105): 16, the first-LSN
    /// field, when it disagrees with the file name; 0 otherwise.
    private(set) var headerProblem: (reason: String, unsupported: Bool, offset: Int)?

    /// Where the next frame starts.
    private(set) var offset = SegmentHeader.size
    /// The LSN the next frame must start with, and the chain it must continue.
    private(set) var expectedLSN: LSN
    private(set) var chain: ChainHash
    private(set) var frameCount: UInt64 = 0
    /// Where preallocated space begins, once `next` has met it (LOG-096).
    private(set) var preallocatedFrom: Int?

    private var buffer: [UInt8] = []
    private var bufferStart = 0  // file offset of buffer[0]
    private var bufferFill = 0
    private var lastPayloadRange: Range<Int> = 0..<0  // in buffer
    private var raw: [UInt8] = []
    private lazy var lz4 = LZ4Codec()
    /// LOG-122: each refill reads into a new buffer rather than over the old one, so a
    /// frame's stored payload can be handed on in place (`sharedPayload`) without a copy.
    private let freshBuffers: Bool

    /// Opens `name` in `directory` and reads its header. `firstLSN` is the LSN the name
    /// promises. `freshBuffers`: see `sharedPayload`.
    init(directory: String, name: String, firstLSN: LSN, freshBuffers: Bool = false) throws {
        self.freshBuffers = freshBuffers
        self.directory = directory
        self.name = name
        self.file = try File.open(directory + "/" + name, flags: O_RDONLY)
        self.fileSize = try file.size()
        self.expectedLSN = firstLSN
        self.chain = .genesis
        let headerBytes = try file.read(count: SegmentHeader.size, at: 0)
        switch headerBytes.withUnsafeBytes({ SegmentHeader.decode($0) }) {
        case .success(let decoded):
            if decoded.firstLSN != firstLSN {
                headerProblem = ("segment header says first LSN \(decoded.firstLSN), the file name says \(firstLSN)", false, 16)
            } else {
                header = decoded
                chain = decoded.previousChain
            }
        case .failure(.bad(let reason)): headerProblem = (reason, false, 0)
        case .failure(.unsupportedVersion(let version)): headerProblem = ("segment format version \(version)", true, 0)
        }
        buffer = [UInt8](repeating: 0, count: Limits.readBufferSize)
    }

    var position: LogPosition { LogPosition(segment: name, offset: offset, lsn: expectedLSN) }

    /// Drops what was read ahead, so the next `next()` reads the file again (LogReader's retry
    /// of a frame a live writer may have been writing, LOG-096).
    func forgetReadAhead() { bufferFill = 0 }

    /// Makes file bytes `start..<start+count` available in the buffer; false if the file is shorter.
    private func ensure(_ start: Int, _ count: Int) throws -> Bool {
        if start + count > fileSize { return false }
        if start >= bufferStart && start + count <= bufferStart + bufferFill { return true }
        let want = max(count, Limits.readBufferSize)
        if freshBuffers {
            // Not zeroed: the read overwrites what is used.
            buffer = [UInt8](unsafeUninitializedCapacity: want) { _, initialized in initialized = want }
        } else if buffer.count < want {
            buffer = [UInt8](repeating: 0, count: want)
        }
        let toRead = min(want, fileSize - start)
        let n = try buffer.withUnsafeMutableBytes { (raw) throws -> Int in
            try file.read(into: raw.baseAddress!, count: toRead, at: start)
        }
        bufferStart = start
        bufferFill = n
        return n >= count
    }

    /// The stored payload of the frame last returned by `next()`.
    func withPayload<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[lastPayloadRange])) }
    }

    /// Decodes the frame last returned by `next()` and calls `body` for each record.
    /// Returns a reason when the payload does not decode into the header's records.
    func forEachRecord(_ header: FrameHeader, _ body: (CommandView) throws -> Void) rethrows -> String? {
        try withRawPayload(header) { raw in
            try CommandView.forEach(in: raw, count: header.count, firstLSN: header.firstLSN, body)
        }
    }

    /// Calls `body` with the raw (decompressed) payload of the frame last returned by
    /// `next()`, valid during the call; returns `body`'s result, or why the payload does
    /// not decompress to the header's raw size.
    func withRawPayload(_ header: FrameHeader, _ body: (UnsafeRawBufferPointer) throws -> String?) rethrows -> String? {
        guard header.flags.contains(.lz4) else { return try withPayload(body) }
        if let problem = rawPayload(header, into: &raw) { return problem }
        return try raw.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<header.rawSize])) }
    }

    /// Puts the raw (decompressed) payload of the frame last returned by `next()` in the
    /// first `header.rawSize` bytes of `destination`, growing it when it is smaller (its
    /// count never shrinks, so a reused buffer is not zeroed again); returns why the payload
    /// does not decompress to the header's raw size, if it does not.
    func rawPayload(_ header: FrameHeader, into destination: inout [UInt8]) -> String? {
        if destination.count < header.rawSize { destination = [UInt8](repeating: 0, count: header.rawSize) }
        return buffer.withUnsafeBytes { source in
            destination.withUnsafeMutableBytes { target in
                let payload = UnsafeRawBufferPointer(rebasing: source[lastPayloadRange])
                let into = UnsafeMutableRawBufferPointer(rebasing: target[0..<header.rawSize])
                guard header.flags.contains(.lz4) else {
                    // Stored as is: the frame checks made its size the raw size.
                    into.copyMemory(from: payload)
                    return nil
                }
                return lz4.decompress(payload, into: into)
            }
        }
    }

    /// The stored payload of the frame last returned by `next()`, as the read buffer that
    /// holds it (shared, not copied) and its range there. Only with `freshBuffers`: the
    /// scanner never writes into a buffer again once it has moved past it.
    func sharedPayload() -> (buffer: [UInt8], range: Range<Int>) {
        precondition(freshBuffers, "sharedPayload needs a scanner that reads into fresh buffers")
        return (buffer, lastPayloadRange)
    }

    /// The next frame, seal or end. A frame is checked for CRC, fields, padding, LSN and
    /// chain here; its records are checked by `forEachRecord` (callers that deliver or
    /// verify commands call it; LOG-021).
    func next() throws -> Event {
        if offset == fileSize { return .end }
        guard try ensure(offset, min(FrameHeader.size, fileSize - offset)) else {
            return .invalid(offset: offset, reason: "cannot read", definite: false, unsupported: false)
        }
        var available = fileSize - offset
        var local = offset - bufferStart
        // A seal?
        let isSealMagic = buffer.withUnsafeBytes {
            Seal.hasMagic(UnsafeRawBufferPointer(rebasing: $0[local..<(local + min(4, available))]))
        }
        if isSealMagic && available > Seal.size, try file.size() == offset + Seal.size {
            // LOG-096: the writer cut its preallocated space and sealed the file after this
            // scanner opened it (a reader of a live log): the file now ends with this seal.
            fileSize = offset + Seal.size
            forgetReadAhead()
            guard try ensure(offset, Seal.size) else {
                return .invalid(offset: offset, reason: "cannot read", definite: false, unsupported: false)
            }
            available = Seal.size
            local = offset - bufferStart
        }
        if isSealMagic {
            if available == Seal.size {
                let seal = buffer.withUnsafeBytes {
                    Seal.decode(UnsafeRawBufferPointer(rebasing: $0[local..<(local + Seal.size)]))
                }
                guard let seal else {
                    return .invalid(offset: offset, reason: "the seal is damaged", definite: true, unsupported: false)
                }
                if seal.lastLSN.next != expectedLSN || seal.frameCount != frameCount || seal.chainHead != chain {
                    return .invalid(
                        offset: offset,
                        reason: "the seal (last LSN \(seal.lastLSN), \(seal.frameCount) frames) does not match the frames before it (last LSN \(LSN(expectedLSN.rawValue - 1)), \(frameCount) frames)",
                        definite: true, unsupported: false)
                }
                return .seal(seal, offset: offset)
            }
            if available > Seal.size {
                return .invalid(offset: offset, reason: "bytes follow the seal", definite: true, unsupported: false)
            }
        }
        // LOG-096: a frame is never all zero, so zeros from here to the end are preallocated
        // space, not a frame — the end of the content.
        let startsWithZero = buffer.withUnsafeBytes { $0[local..<(local + min(4, available))].allSatisfy { $0 == 0 } }
        if startsWithZero, try zeroToEnd(from: offset) {
            preallocatedFrom = offset
            return .end
        }
        if available < FrameHeader.size {
            return .invalid(offset: offset, reason: "a frame header is cut short by the end of the file (\(available) bytes)", definite: false, unsupported: false)
        }
        let header = buffer.withUnsafeBytes {
            FrameHeader.parse(UnsafeRawBufferPointer(rebasing: $0[local..<(local + FrameHeader.size)]))
        }
        let hasMagic = buffer.withUnsafeBytes {
            FrameHeader.hasMagic(UnsafeRawBufferPointer(rebasing: $0[local..<(local + 4)]))
        }
        if !hasMagic {
            return .invalid(offset: offset, reason: "no frame starts here (magic is wrong)", definite: false, unsupported: false)
        }
        if header.storedSize > Limits.frameStoredSizeMax {
            return .invalid(offset: offset, reason: "frame stored size \(header.storedSize) is over the limit", definite: false, unsupported: false)
        }
        let frameSize = header.frameSize
        guard try ensure(offset, min(frameSize, available)), frameSize <= available else {
            return .invalid(offset: offset, reason: "the frame (\(frameSize) bytes) is cut short by the end of the file (\(available) bytes left)", definite: false, unsupported: false)
        }
        let start = offset - bufferStart
        let payloadRange = (start + FrameHeader.size)..<(start + FrameHeader.size + header.storedSize)
        let crcOK: Bool = buffer.withUnsafeBytes { bytes in
            let headerCRC = crc32c(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + 60)]))
            return crc32c(UnsafeRawBufferPointer(rebasing: bytes[payloadRange]), continuing: headerCRC) == header.crc
        }
        if !crcOK {
            return .invalid(offset: offset, reason: "frame CRC does not match", definite: false, unsupported: false)
        }
        // From here the bytes are exactly what some writer wrote: any problem is definite.
        let fieldProblem = buffer.withUnsafeBytes {
            FrameHeader.validateFields(UnsafeRawBufferPointer(rebasing: $0[start..<(start + FrameHeader.size)]))
        }
        switch fieldProblem {
        case .some(.bad(let reason)): return .invalid(offset: offset, reason: reason, definite: true, unsupported: false)
        case .some(.unsupported(let reason)): return .invalid(offset: offset, reason: reason, definite: true, unsupported: true)
        case .none: break
        }
        let paddingZero = buffer[payloadRange.upperBound..<(start + frameSize)].allSatisfy { $0 == 0 }
        if !paddingZero {
            return .invalid(offset: offset, reason: "frame padding is not zero", definite: true, unsupported: false)
        }
        if header.firstLSN != expectedLSN {
            return .invalid(offset: offset, reason: "frame starts at LSN \(header.firstLSN) where \(expectedLSN) was expected", definite: true, unsupported: false)
        }
        let computed: ChainHash = buffer.withUnsafeBytes { bytes in
            ChainHash.next(
                after: chain,
                headerPrefix: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + FrameHeader.chainedPrefixSize)]),
                payload: UnsafeRawBufferPointer(rebasing: bytes[payloadRange]))
        }
        if computed != header.chain {
            return .invalid(offset: offset, reason: "the chain hash does not follow from the previous frame", definite: true, unsupported: false)
        }
        lastPayloadRange = payloadRange
        let frameOffset = offset
        chain = computed
        expectedLSN = header.firstLSN.advanced(by: header.count)
        frameCount += 1
        offset += frameSize
        return .frame(header, offset: frameOffset)
    }

    /// Whether every byte from `start` to the end of the file is zero.
    private func zeroToEnd(from start: Int) throws -> Bool {
        var position = start
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while position < fileSize {
            let n = try chunk.withUnsafeMutableBytes { raw in
                try file.read(into: raw.baseAddress!, count: min(raw.count, fileSize - position), at: position)
            }
            // The file is shorter than when it was opened: the writer cut its preallocated
            // space to seal it (LOG-096); what was there was zero.
            if n == 0 { return true }
            if !chunk[0..<n].allSatisfy({ $0 == 0 }) { return false }
            position += n
        }
        return true
    }

    /// Whether a frame with valid magic, sizes and CRC, or a valid seal at the very end, starts
    /// at any 8-aligned offset after `start` (LOG-100 R8/R9: torn tail or corruption?).
    func validDataExists(after start: Int) throws -> Bool {
        if fileSize - start >= Seal.size {
            let tail = try file.read(count: Seal.size, at: fileSize - Seal.size)
            if tail.withUnsafeBytes({ Seal.decode($0) }) != nil && fileSize - Seal.size > start { return true }
        }
        var candidate = align8(start + 1)
        let chunkSize = Limits.readBufferSize
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while candidate + FrameHeader.size <= fileSize {
            let n = try chunk.withUnsafeMutableBytes { (raw) throws -> Int in
                try file.read(into: raw.baseAddress!, count: min(chunkSize, fileSize - candidate), at: candidate)
            }
            var local = 0
            while local + 4 <= n {
                let magic = chunk.withUnsafeBytes { $0.loadLE(local, as: UInt32.self) }
                if magic == FrameHeader.magic, try frameIsIntact(at: candidate + local) { return true }
                local += 8
            }
            candidate += max(8, n - (n % 8))
        }
        return false
    }

    /// What a look ahead over the rest of a unit found (LOG-072).
    enum UnitLookAhead {
        /// The frame that finishes the unit ends at `end`; every frame up to it has valid
        /// magic, sizes and CRC.
        case complete(end: Int)
        /// The bytes at `offset`, where a frame of the unit with LSN `lsn` must start, are
        /// not an intact frame (`reason` as `next()` would say it): a torn tail only when no
        /// valid data follows them (LOG-100 R8 against R9, LOG-081 for a sealed segment).
        case broken(offset: Int, lsn: LSN, reason: String)
    }

    /// For a frame just returned with `CONTINUED`: where the frames that finish its unit end,
    /// or where they stop being intact. Callers remember the end, so a unit of k frames is
    /// looked ahead once, not k times.
    func lookAheadOverUnit() throws -> UnitLookAhead {
        var position = offset
        var lsn = expectedLSN
        while true {
            let header: FrameHeader
            switch try intactFrame(at: position) {
            case .failure(let problem): return .broken(offset: position, lsn: lsn, reason: problem.reason)
            case .success(let intact): header = intact
            }
            position += header.frameSize
            lsn = header.firstLSN.advanced(by: header.count)
            if !header.flags.contains(.continued) { return .complete(end: position) }
        }
    }

    struct FrameProblem: Error { let reason: String }

    /// The header of the intact frame (magic, sizes, CRC) at `position`, or why there is
    /// none, in the words `next()` uses for the same finding. The header is read once.
    private func intactFrame(at position: Int) throws -> Result<FrameHeader, FrameProblem> {
        let available = fileSize - position
        if available <= 0 { return .failure(FrameProblem(reason: "the end of the file comes before the append's last frame")) }
        if available < FrameHeader.size { return .failure(FrameProblem(reason: "a frame header is cut short by the end of the file (\(available) bytes)")) }
        let headerBytes = try file.read(count: FrameHeader.size, at: position)
        guard headerBytes.withUnsafeBytes({ FrameHeader.hasMagic($0) }) else { return .failure(FrameProblem(reason: "no frame starts here (magic is wrong)")) }
        let header = headerBytes.withUnsafeBytes { FrameHeader.parse($0) }
        if header.storedSize > Limits.frameStoredSizeMax { return .failure(FrameProblem(reason: "frame stored size \(header.storedSize) is over the limit")) }
        if header.frameSize > available {
            return .failure(FrameProblem(reason: "the frame (\(header.frameSize) bytes) is cut short by the end of the file (\(available) bytes left)"))
        }
        return try crcMatches(headerBytes, header, at: position) ? .success(header) : .failure(FrameProblem(reason: "frame CRC does not match"))
    }

    /// Whether the frame whose header (`headerBytes`, parsed as `header`, its sizes checked)
    /// is at `position` has the CRC its header says.
    private func crcMatches(_ headerBytes: [UInt8], _ header: FrameHeader, at position: Int) throws -> Bool {
        let payload = try file.read(count: header.storedSize, at: position + FrameHeader.size)
        let crc = payload.withUnsafeBytes { p in
            headerBytes.withUnsafeBytes { h in crc32c(p, continuing: crc32c(UnsafeRawBufferPointer(rebasing: h[0..<60]))) }
        }
        return crc == header.crc
    }

    private func frameIsIntact(at position: Int) throws -> Bool {
        guard position + FrameHeader.size <= fileSize else { return false }
        let headerBytes = try file.read(count: FrameHeader.size, at: position)
        let header = headerBytes.withUnsafeBytes { FrameHeader.parse($0) }
        guard header.storedSize <= Limits.frameStoredSizeMax, position + header.frameSize <= fileSize else {
            return false
        }
        return try crcMatches(headerBytes, header, at: position)
    }
}

