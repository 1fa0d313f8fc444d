import Dispatch

/// One frame to be written: its records (raw payload) and where it sits in its unit.
struct FramePlan {
    var raw: [UInt8] = []
    var firstLSN = LSN.zero
    var count = 0
    /// LOG-070: the frame's last command is not the last of its unit.
    var continued = false
}

/// Builds frames (LOG-020 … LOG-050) from queued units, on the flusher thread only.
///
/// Packing, compressing and sealing are separate steps so that the frames of one
/// group commit are compressed in parallel (LZ4 dominates the CPU cost of a large
/// append; every frame is its own LZ4 frame, so they compress independently), while
/// the chain, which is sequential by nature, is computed afterwards.
final class FrameEncoder {
    private let compression: Compression
    private var plans: [FramePlan] = []
    private var planCount = 0
    private var compressed: [[UInt8]] = []
    private var storedSizes: [Int] = []

    init(compression: Compression) {
        self.compression = compression
    }

    // MARK: Packing

    private func newPlan() -> Int {
        if planCount == plans.count { plans.append(FramePlan()) }
        plans[planCount].raw.removeAll(keepingCapacity: true)
        plans[planCount].count = 0
        plans[planCount].continued = false
        planCount += 1
        return planCount - 1
    }

    private func fits(_ index: Int, size: Int, count: Int, limit: Int) -> Bool {
        plans[index].raw.count + size <= limit && plans[index].count + count <= Limits.frameCommandCountMax
    }

    private func add(_ index: Int, _ records: UnsafeRawBufferPointer, count: Int, firstLSN: LSN) {
        if plans[index].count == 0 { plans[index].firstLSN = firstLSN }
        plans[index].raw.append(contentsOf: records)
        plans[index].count += count
    }

    /// Packs units into frames of about `Limits.frameRawSizeTarget` raw bytes: small units
    /// share a frame; a unit larger than the target is split over CONTINUED frames (LOG-070).
    func pack(units: [(records: [UInt8], offsets: [Int], firstLSN: LSN)]) {
        planCount = 0
        var current: Int?
        for unit in units {
            if let index = current, !fits(index, size: unit.records.count, count: unit.offsets.count, limit: Limits.frameRawSizeTarget) {
                current = nil
            }
            if current == nil && unit.records.count <= Limits.frameRawSizeTarget && unit.offsets.count <= Limits.frameCommandCountMax {
                current = newPlan()
            }
            if let index = current {
                unit.records.withUnsafeBytes { add(index, $0, count: unit.offsets.count, firstLSN: unit.firstLSN) }
                continue
            }
            // A unit larger than the target: record by record. A single record larger than the
            // target gets a frame of its own (it is at most `recordSizeMax` ≤ `frameRawSizeMax`).
            var index = newPlan()
            for i in 0..<unit.offsets.count {
                let start = unit.offsets[i]
                let end = i + 1 < unit.offsets.count ? unit.offsets[i + 1] : unit.records.count
                if plans[index].count > 0 && !fits(index, size: end - start, count: 1, limit: Limits.frameRawSizeTarget) {
                    plans[index].continued = true
                    index = newPlan()
                }
                unit.records.withUnsafeBytes {
                    add(index, UnsafeRawBufferPointer(rebasing: $0[start..<end]), count: 1, firstLSN: unit.firstLSN.advanced(by: i))
                }
            }
            current = nil  // the unit's last frame is closed: the next unit starts a new frame
        }
    }

    var frameCount: Int { planCount }
    func plan(_ index: Int) -> FramePlan { plans[index] }

    // MARK: Compressing

    /// Compresses every packed frame, in parallel when there is enough work for it.
    func compressAll() {
        while compressed.count < planCount { compressed.append([]) }
        storedSizes = Array(repeating: 0, count: planCount)
        guard compression == .lz4 else { return }
        var totalRaw = 0
        for i in 0..<planCount {
            totalRaw += plans[i].raw.count
            let bound = LZ4Codec.compressBound(plans[i].raw.count)
            if compressed[i].count < bound { compressed[i] = [UInt8](repeating: 0, count: bound) }
        }
        let count = planCount
        let parallel = count > 1 && totalRaw >= Limits.parallelCompressionSizeMin
        plans.withUnsafeBufferPointer { plans in
            compressed.withUnsafeMutableBufferPointer { compressed in
                storedSizes.withUnsafeMutableBufferPointer { sizes in
                    // Each worker touches only element i of each buffer: no two share memory,
                    // and nothing is reallocated while they run (all sized above).
                    nonisolated(unsafe) let plans = plans
                    nonisolated(unsafe) let compressed = compressed
                    nonisolated(unsafe) let sizes = sizes
                    let work: @Sendable (Int) -> Void = { i in
                        let size = plans[i].raw.withUnsafeBytes { source in
                            compressed[i].withUnsafeMutableBytes { LZ4Codec.compress(source, into: $0) }
                        }
                        // LOG-031: keep the LZ4 frame only when it is smaller than the raw payload.
                        sizes[i] = size.map { $0 < plans[i].raw.count ? $0 : 0 } ?? 0
                    }
                    if parallel {
                        DispatchQueue.concurrentPerform(iterations: count, execute: work)
                    } else {
                        for i in 0..<count { work(i) }
                    }
                }
            }
        }
    }

    // MARK: Sealing

    /// Appends frame `index` to `output`, chained after `chain`; returns its chain hash.
    func seal(_ index: Int, chain: ChainHash, into output: inout [UInt8]) -> ChainHash {
        let plan = plans[index]
        precondition(plan.count > 0, "an empty frame is never written")
        // A stored size of 0 means "keep raw" (compressAll, LOG-031): no LZ4 frame is empty.
        let lz4 = compression == .lz4 && storedSizes[index] > 0
        let storedSize = lz4 ? storedSizes[index] : plan.raw.count
        var flags: FrameHeader.Flags = plan.continued ? [.continued] : []
        if lz4 { flags.insert(.lz4) }
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: FrameHeader.size))
        if lz4 {
            output.append(contentsOf: compressed[index][0..<storedSize])
        } else {
            output.append(contentsOf: plan.raw)
        }
        output.append(contentsOf: repeatElement(0, count: align8(storedSize) - storedSize))  // LOG-020 padding
        return output.withUnsafeMutableBytes { out in
            let header = UnsafeMutableRawBufferPointer(rebasing: out[start..<(start + FrameHeader.size)])
            FrameHeader.writePrefix(
                into: header, flags: flags, firstLSN: plan.firstLSN, count: plan.count, storedSize: storedSize,
                rawSize: plan.raw.count)
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
    }
}
