/// The command envelope as stored inside a frame's raw payload (§3.6, LOG-060).
enum RecordLayout {
    /// Bytes before the variable fields, the size field included.
    static let fixedSize = 36
    static let reasonPresent: UInt16 = 1 << 0
    static let commandIDPresent: UInt16 = 1 << 1

    /// Checks a draft against LOG-060's limits before it is queued (LOG-140).
    static func validate(_ draft: CommandDraft) -> String? {
        if draft.typeTag == 0 { return "type tag 0 is reserved" }
        if let problem = CommandDraft.envelopeProblem(actor: draft.actor, reason: draft.reason, commandID: draft.commandID) {
            return problem
        }
        if draft.payload.count > Limits.commandPayloadSizeMax {
            return "payload is \(draft.payload.count) bytes, limit \(Limits.commandPayloadSizeMax)"
        }
        return nil
    }

    static func encodedSize(_ draft: CommandDraft) -> Int {
        fixedSize + draft.actor.utf8.count + (draft.reason?.utf8.count ?? 0)
            + (draft.commandID?.utf8.count ?? 0) + draft.payload.count
    }

    /// Appends the record of `draft` with `lsn` to `buffer`.
    static func append(_ draft: CommandDraft, lsn: LSN, to buffer: inout [UInt8]) {
        let size = encodedSize(draft)
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: size))
        buffer.withUnsafeMutableBytes { _ = write(draft, lsn: lsn, into: $0, at: start) }
    }

    /// Encodes whole units in one pass with direct stores (the batch-append hot path):
    /// returns the records and each record's offset.
    static func encode(_ drafts: [CommandDraft], totalSize: Int) -> (records: [UInt8], offsets: [Int]) {
        var offsets: [Int] = []
        offsets.reserveCapacity(drafts.count)
        let records = [UInt8](unsafeUninitializedCapacity: totalSize) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            for draft in drafts {
                offsets.append(offset)
                offset = write(draft, lsn: .zero, into: raw, at: offset)
            }
            precondition(offset == totalSize, "record sizes were computed before encoding")
            initialized = totalSize
        }
        return (records, offsets)
    }

    /// Patches consecutive LSNs from `first` into records encoded by `encode` (LSNs are
    /// assigned under the log's lock, after encoding).
    static func assignLSNs(_ records: inout [UInt8], offsets: [Int], first: LSN) {
        records.withUnsafeMutableBytes { bytes in
            for (index, offset) in offsets.enumerated() {
                bytes.storeLE(first.rawValue + UInt64(index), at: offset + 4)
            }
        }
    }

    /// Writes the record at `offset` (LOG-060 layout); returns the offset after it.
    @inline(__always)
    static func write(_ draft: CommandDraft, lsn: LSN, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        let size = encodedSize(draft)
        var flags: UInt16 = 0
        if draft.reason != nil { flags |= reasonPresent }
        if draft.commandID != nil { flags |= commandIDPresent }
        out.storeLE(UInt32(size - 4), at: offset)
        out.storeLE(lsn.rawValue, at: offset + 4)
        out.storeLE(draft.timestamp.microsecondsSince1970, at: offset + 12)
        out.storeLE(draft.typeTag, at: offset + 20)
        out.storeLE(draft.typeVersion, at: offset + 22)
        out.storeLE(flags, at: offset + 24)
        out.storeLE(UInt16(draft.actor.utf8.count), at: offset + 26)
        out.storeLE(UInt16(draft.reason?.utf8.count ?? 0), at: offset + 28)
        out.storeLE(UInt16(draft.commandID?.utf8.count ?? 0), at: offset + 30)
        out.storeLE(UInt32(draft.payload.count), at: offset + 32)
        var position = offset + fixedSize
        func copy(_ text: String) {
            var text = text
            text.withUTF8 { utf8 in
                UnsafeMutableRawBufferPointer(rebasing: out[position..<(position + utf8.count)])
                    .copyMemory(from: UnsafeRawBufferPointer(utf8))
                position += utf8.count
            }
        }
        copy(draft.actor)
        if let reason = draft.reason { copy(reason) }
        if let id = draft.commandID { copy(id) }
        draft.payload.withUnsafeBytes { payload in
            UnsafeMutableRawBufferPointer(rebasing: out[position..<(position + payload.count)]).copyMemory(from: payload)
        }
        return position + draft.payload.count
    }
}

/// A command inside a frame, read in place: no copy, no allocation. Valid only
/// inside the closure that received it; call ``materialize()`` to keep it.
public struct CommandView {
    /// The whole record, size field included.
    let bytes: UnsafeRawBufferPointer

    public var lsn: LSN { LSN(bytes.loadLE(4)) }
    public var timestamp: Timestamp { Timestamp(microsecondsSince1970: bytes.loadLE(12)) }
    public var typeTag: UInt16 { bytes.loadLE(20) }
    public var typeVersion: UInt16 { bytes.loadLE(22) }
    var flags: UInt16 { bytes.loadLE(24) }
    var actorSize: Int { Int(bytes.loadLE(26, as: UInt16.self)) }
    var reasonSize: Int { Int(bytes.loadLE(28, as: UInt16.self)) }
    var commandIDSize: Int { Int(bytes.loadLE(30, as: UInt16.self)) }
    var payloadSize: Int { Int(bytes.loadLE(32, as: UInt32.self)) }

    private func field(_ start: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[(start)..<(start + count)])
    }

    public var actorBytes: UnsafeRawBufferPointer { field(RecordLayout.fixedSize, actorSize) }
    public var reasonBytes: UnsafeRawBufferPointer? {
        flags & RecordLayout.reasonPresent == 0 ? nil : field(RecordLayout.fixedSize + actorSize, reasonSize)
    }
    public var commandIDBytes: UnsafeRawBufferPointer? {
        flags & RecordLayout.commandIDPresent == 0
            ? nil : field(RecordLayout.fixedSize + actorSize + reasonSize, commandIDSize)
    }
    public var payload: UnsafeRawBufferPointer {
        field(RecordLayout.fixedSize + actorSize + reasonSize + commandIDSize, payloadSize)
    }

    public var actor: String { String(decoding: actorBytes, as: UTF8.self) }
    public var reason: String? { reasonBytes.map { String(decoding: $0, as: UTF8.self) } }
    public var commandID: String? { commandIDBytes.map { String(decoding: $0, as: UTF8.self) } }

    /// A copy that outlives the frame.
    public func materialize() -> LoggedCommand {
        LoggedCommand(
            lsn: lsn,
            draft: CommandDraft(
                timestamp: timestamp, actor: actor, reason: reason, commandID: commandID,
                typeTag: typeTag, typeVersion: typeVersion, payload: Array(payload)))
    }

    /// Splits a frame's raw payload into `count` records, checking LOG-060; calls
    /// `body` for each. Returns a reason at the first record that is not valid.
    static func forEach(
        in raw: UnsafeRawBufferPointer, count: Int, firstLSN: LSN,
        _ body: (CommandView) throws -> Void
    ) rethrows -> String? {
        var offset = 0
        for index in 0..<count {
            guard raw.count - offset >= RecordLayout.fixedSize else {
                return "record \(index) of the frame is cut short by the end of the payload"
            }
            let size = Int(raw.loadLE(offset, as: UInt32.self)) + 4
            guard size >= RecordLayout.fixedSize, size <= raw.count - offset else {
                return "record \(index) of the frame has size \(size), which does not fit the payload"
            }
            let view = CommandView(bytes: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + size)]))
            if let problem = view.problem(expectedLSN: firstLSN.advanced(by: index)) {
                return "record \(index) (LSN \(firstLSN.advanced(by: index))): \(problem)"
            }
            try body(view)
            offset += size
        }
        if offset != raw.count { return "\(raw.count - offset) bytes follow the frame's last record" }
        return nil
    }

    /// LOG-060 for one record.
    func problem(expectedLSN: LSN) -> String? {
        if lsn != expectedLSN { return "LSN \(lsn) where \(expectedLSN) was expected" }
        if typeTag == 0 { return "type tag 0 is reserved" }
        if flags & ~(RecordLayout.reasonPresent | RecordLayout.commandIDPresent) != 0 {
            return "reserved envelope flag set"
        }
        if flags & RecordLayout.reasonPresent == 0 && reasonSize != 0 { return "reason length without reason flag" }
        if flags & RecordLayout.commandIDPresent == 0 && commandIDSize != 0 {
            return "command id length without command id flag"
        }
        if RecordLayout.fixedSize + actorSize + reasonSize + commandIDSize + payloadSize != bytes.count {
            return "field lengths do not add up to the record size"
        }
        if actorSize > Limits.actorSizeMax || reasonSize > Limits.reasonSizeMax
            || commandIDSize > Limits.commandIDSizeMax || payloadSize > Limits.commandPayloadSizeMax
        {
            return "a field is over its limit"
        }
        if !isValidUTF8(actorBytes) { return "actor is not valid UTF-8" }
        if let reason = reasonBytes, !isValidUTF8(reason) { return "reason is not valid UTF-8" }
        if let id = commandIDBytes, !isValidUTF8(id) { return "command id is not valid UTF-8" }
        return nil
    }
}
