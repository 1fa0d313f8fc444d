#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the writer appends after opening: the last segment, open for writing.
struct WriterTail {
    var segmentName: String
    var segmentFirstLSN: LSN
    var file: File
    /// The end of the content: where the next frame goes.
    var size: Int
    /// The file's size: `size` plus the preallocated zero bytes after it (LOG-096).
    var allocated: Int
    var frameCount: UInt64
    var lastLSN: LSN
    var chain: ChainHash
}

/// Opening as the writer: the decision table of LOG-100, run while the lock is held.
struct Recovery {
    let directory: String
    let configuration: CommandLog.Configuration
    var report = RecoveryReport()

    init(directory: String, configuration: CommandLog.Configuration) {
        self.directory = directory
        self.configuration = configuration
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    mutating func run() throws -> WriterTail {
        if configuration.recovery == .salvage { try salvage() }
        while true {
            let segments = try SegmentName.list(in: directory)
            guard let last = segments.last else {
                report.actions.append("created segment \(SegmentName.make(LSN(1))) for a new log (R2)")
                return try Self.createSegment(
                    directory: directory, firstLSN: LSN(1), previousChain: .genesis, faults: configuration.faults)
            }
            // Every segment but the last: header, seal and link (R3, R4; LOG-051).
            var previousSeal: Seal?
            for segment in segments.dropLast() {
                previousSeal = try checkSealedSegment(segment.name, firstLSN: segment.firstLSN, after: previousSeal)
            }
            if let tail = try recoverLast(last.name, firstLSN: last.firstLSN, after: previousSeal) { return tail }
            // R5 moved the last segment aside: the one before is now the last.
        }
    }

    /// R4: a segment that is not the last must have a valid header, continue the previous one,
    /// and end with a valid seal. Its frames are checked by `verify` and readers, not here.
    private func checkSealedSegment(_ name: String, firstLSN: LSN, after previous: Seal?) throws -> Seal {
        let file = try File.open(path(name), flags: O_RDONLY)
        let size = try file.size()
        let headerBytes = try file.read(count: SegmentHeader.size, at: 0)
        let header: SegmentHeader
        switch headerBytes.withUnsafeBytes({ SegmentHeader.decode($0) }) {
        case .success(let decoded): header = decoded
        case .failure(.bad(let reason)):
            throw CommandLogError.corruption(LogPosition(segment: name, offset: 0, lsn: firstLSN), reason: reason)
        case .failure(.unsupportedVersion(let v)):
            throw CommandLogError.unsupported(LogPosition(segment: name, offset: 0, lsn: firstLSN), reason: "segment format version \(v)")
        }
        try checkLink(name, header: header, firstLSN: firstLSN, after: previous)
        let sealBytes = size >= SegmentHeader.size + Seal.size ? try file.read(count: Seal.size, at: size - Seal.size) : []
        guard let seal = sealBytes.withUnsafeBytes({ Seal.decode($0) }), seal.lastLSN >= firstLSN,
            seal.frameCount > 0
        else {
            throw try sealProblem(name, firstLSN: firstLSN)
        }
        return seal
    }

    /// A segment before the last whose seal is missing or bad: the error a reader gives for
    /// it (LOG-105), found by walking its frames as a reader does — where the frames end
    /// (or the first bad one) and the LSN expected there. Only on this error path does open
    /// read a whole segment before the last.
    private func sealProblem(_ name: String, firstLSN: LSN) throws -> CommandLogError {
        let scanner = try SegmentScanner(directory: directory, name: name, firstLSN: firstLSN)
        while true {
            switch try scanner.next() {
            case .frame: continue
            case .seal, .end:
                return .corruption(scanner.position, reason: "a segment before the last one has no valid seal")
            case .invalid(let offset, let reason, _, let unsupported):
                let position = LogPosition(segment: name, offset: offset, lsn: scanner.expectedLSN)
                return unsupported ? .unsupported(position, reason: reason) : .corruption(position, reason: reason)
            }
        }
    }

    private func checkLink(_ name: String, header: SegmentHeader, firstLSN: LSN, after previous: Seal?) throws {
        if header.firstLSN != firstLSN {
            throw CommandLogError.corruption(
                LogPosition(segment: name, offset: 16, lsn: firstLSN),
                reason: "segment header says first LSN \(header.firstLSN), the file name says \(firstLSN)")
        }
        let expectedChain = previous?.chainHead ?? .genesis
        if let previous, previous.lastLSN.next != firstLSN {
            throw CommandLogError.corruption(
                LogPosition(segment: name, offset: 0, lsn: previous.lastLSN.next),
                reason: "the previous segment ends at LSN \(previous.lastLSN) but this one starts at \(firstLSN)")
        }
        if header.previousChain != expectedChain {
            throw CommandLogError.corruption(
                LogPosition(segment: name, offset: 24, lsn: firstLSN),
                reason: "the segment header's chain hash does not continue the previous segment")
        }
    }

    /// R5 … R11 on the last segment. Returns nil after moving a torn new segment aside (R5).
    private mutating func recoverLast(_ name: String, firstLSN: LSN, after previous: Seal?) throws -> WriterTail? {
        let scanner = try SegmentScanner(directory: directory, name: name, firstLSN: firstLSN)
        if let problem = scanner.headerProblem {
            let position = LogPosition(segment: name, offset: problem.offset, lsn: firstLSN)
            if problem.unsupported { throw CommandLogError.unsupported(position, reason: problem.reason) }
            if try scanner.validDataExists(after: 0) {
                throw CommandLogError.corruption(position, reason: problem.reason)
            }
            if previous == nil && firstLSN != LSN(1) {
                throw CommandLogError.corruption(position, reason: problem.reason)
            }
            // R5: the segment was being created when the writer stopped.
            let kept = try keepAside(name, from: 0, size: scanner.fileSize, suffix: ".torn", removeWhole: true)
            report.wasCleanlyClosed = false
            report.filesKeptAside.append(kept)
            report.tornByteCount += scanner.fileSize
            report.actions.append("moved segment \(name) aside as \(kept): its header was never completed (R5)")
            return nil
        }
        try checkLink(name, header: scanner.header!, firstLSN: firstLSN, after: previous)

        var committedOffset = SegmentHeader.size
        var committedLSN = LSN(firstLSN.rawValue - 1)
        var committedChain = scanner.chain
        var committedFrames: UInt64 = 0
        var lastContinued = false
        var sealOffset: Int?
        scan: while true {
            switch try scanner.next() {
            case .frame(let header, let offset):
                if let problem = scanner.forEachRecord(header, { _ in }) {
                    throw CommandLogError.corruption(
                        LogPosition(segment: name, offset: offset, lsn: header.firstLSN), reason: problem)
                }
                lastContinued = header.flags.contains(.continued)
                if !lastContinued {
                    committedOffset = scanner.offset
                    committedLSN = header.lastLSN
                    committedChain = header.chain
                    committedFrames = scanner.frameCount
                }
            case .seal(_, let offset):
                if lastContinued {
                    throw CommandLogError.corruption(
                        LogPosition(segment: name, offset: offset, lsn: scanner.expectedLSN),
                        reason: "the segment is sealed in the middle of an append (last frame is CONTINUED)")
                }
                sealOffset = offset
                break scan
            case .end:
                break scan
            case .invalid(let offset, let reason, let definite, let unsupported):
                let position = LogPosition(segment: name, offset: offset, lsn: scanner.expectedLSN)
                if unsupported { throw CommandLogError.unsupported(position, reason: reason) }
                if try definite || scanner.validDataExists(after: offset) {
                    throw CommandLogError.corruption(position, reason: reason)  // R7, R9
                }
                break scan  // R8: a torn tail
            }
        }
        let file = try File.open(path(name), flags: O_RDWR, faults: configuration.faults)
        var allocated = committedOffset
        if let sealOffset {
            // R6: a clean close. Remove the seal so appends can follow the last frame.
            try file.truncate(to: sealOffset)
            try file.sync()
            report.actions.append("opened \(name) after a clean close; removed its seal to append (R6)")
        } else {
            report.wasCleanlyClosed = false
            if let zeros = scanner.preallocatedFrom, zeros == committedOffset {
                // R12: preallocated space after the last complete unit (LOG-096): never part
                // of the log, nothing to cut or keep; appends reuse it.
                allocated = scanner.fileSize
                report.actions.append(
                    "opened \(name) after a crash; its last frame was complete (\(scanner.fileSize - zeros) bytes of preallocated space follow it, R12)")
            } else if committedOffset < scanner.fileSize {
                // R8 / R10: keep the cut bytes, then truncate.
                let cut = scanner.fileSize - committedOffset
                let kept = try keepAside(name, from: committedOffset, size: scanner.fileSize, suffix: ".torn", removeWhole: false)
                try file.truncate(to: committedOffset)
                try file.sync()
                report.tornByteCount += cut
                report.filesKeptAside.append(kept)
                report.actions.append("cut \(cut) bytes of an unfinished append from \(name) at offset \(committedOffset), kept in \(kept) (R8/R10)")
            } else {
                report.actions.append("opened \(name) after a crash; its last frame was complete")
            }
        }
        return WriterTail(
            segmentName: name, segmentFirstLSN: firstLSN, file: file, size: committedOffset, allocated: allocated,
            frameCount: committedFrames, lastLSN: committedLSN, chain: committedChain)
    }

    /// Copies bytes `from..<size` of segment `name` into a new file beside it (LOG-101),
    /// made durable before anything is truncated; with `removeWhole` the segment itself is
    /// renamed instead. Returns the new file's name.
    private func keepAside(_ name: String, from offset: Int, size: Int, suffix: String, removeWhole: Bool) throws -> String {
        let kept = Directory.freshName(in: directory, base: "\(name).\(offset)", suffix: suffix)
        if removeWhole {
            try Directory.rename(path(name), path(kept))
        } else {
            let source = try File.open(path(name), flags: O_RDONLY)
            let target = try File.open(path(kept), flags: O_WRONLY | O_CREAT | O_EXCL)
            var position = offset
            while position < size {
                let chunk = try source.read(count: min(Limits.readBufferSize, size - position), at: position)
                if chunk.isEmpty { break }
                try target.write(chunk, at: position - offset)
                position += chunk.count
            }
            try target.sync()
        }
        try Directory.sync(directory)
        return kept
    }

    /// LOG-106: find the first problem anywhere (a full verify) and move everything from it aside.
    private mutating func salvage() throws {
        let position: LogPosition
        do {
            _ = try LogReader(directory: directory).verify()
            return
        } catch CommandLogError.corruption(let found, let reason) {
            position = found
            report.salvageReason = reason
        }
        report.salvagedFrom = position
        let segments = try SegmentName.list(in: directory)
        guard let index = segments.firstIndex(where: { $0.name == position.segment }) else { return }
        let name = segments[index].name
        let size = try File.open(path(name), flags: O_RDONLY).size()
        if position.offset < SegmentHeader.size {
            let kept = try keepAside(name, from: 0, size: size, suffix: ".salvaged", removeWhole: true)
            report.filesKeptAside.append(kept)
            report.actions.append("salvage: moved \(name) aside as \(kept)")
        } else if position.offset < size {
            let kept = try keepAside(name, from: position.offset, size: size, suffix: ".salvaged", removeWhole: false)
            let file = try File.open(path(name), flags: O_RDWR)
            try file.truncate(to: position.offset)
            try file.sync()
            report.filesKeptAside.append(kept)
            report.actions.append("salvage: moved bytes \(position.offset)..<\(size) of \(name) to \(kept)")
        }
        for later in segments[(index + 1)...] {
            let kept = Directory.freshName(in: directory, base: later.name, suffix: ".salvaged")
            try Directory.rename(path(later.name), path(kept))
            report.filesKeptAside.append(kept)
            report.actions.append("salvage: moved \(later.name) aside as \(kept)")
        }
        try Directory.sync(directory)
    }

    /// LOG-011: create, write the header, sync the file, sync the directory.
    static func createSegment(
        directory: String, firstLSN: LSN, previousChain: ChainHash, faults: (any FaultInjector)?
    ) throws -> WriterTail {
        let name = SegmentName.make(firstLSN)
        let file = try File.open(directory + "/" + name, flags: O_RDWR | O_CREAT | O_EXCL, faults: faults)
        try file.write(SegmentHeader(firstLSN: firstLSN, previousChain: previousChain).encoded(), at: 0)
        try file.sync()
        try Directory.sync(directory)
        return WriterTail(
            segmentName: name, segmentFirstLSN: firstLSN, file: file, size: SegmentHeader.size, allocated: SegmentHeader.size,
            frameCount: 0, lastLSN: LSN(firstLSN.rawValue - 1), chain: previousChain)
    }
}
