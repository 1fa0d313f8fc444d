/// Strict UTF-8 checking of bytes that came from outside (CMD-018): the check runs on
/// the bytes themselves, before any decoder could replace what it does not understand
/// with U+FFFD and so change the user's data without a word.
///
/// Well-formed UTF-8 is the table of the Unicode Standard, §3.9, Table 3-7: no lone
/// continuation byte, no sequence cut short, no overlong form (C0, C1, E0 80–9F,
/// F0 80–8F), no surrogate (ED A0–BF), nothing above U+10FFFF (F4 90–BF, F5–FF).
public enum UTF8Check {
    /// Where bytes stop being UTF-8, and what is wrong there.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// Offset of the first byte of the ill-formed sequence, from 0.
        public var offset: Int
        /// The bytes of the ill-formed sequence (at most four).
        public var bytes: [UInt8]
        public var kind: Kind

        public enum Kind: String, Sendable {
            case loneContinuationByte = "a continuation byte with no lead byte"
            case truncatedSequence = "a multi-byte sequence cut short"
            case overlongEncoding = "an overlong encoding"
            case surrogate = "a UTF-16 surrogate code point"
            case beyondUnicode = "a code point above U+10FFFF"
            case invalidByte = "a byte that never occurs in UTF-8"
        }

        public var description: String {
            let hex = bytes.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined(separator: " ")
            return "byte \(offset + 1) is not valid UTF-8 (\(hex): \(kind.rawValue))"
        }
    }

    /// The first ill-formed sequence in `bytes`, or nil when all of it is UTF-8.
    public static func firstFailure<C: Collection<UInt8>>(in bytes: C) -> Failure? where C.Index == Int {
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            func failure(_ length: Int, _ kind: Failure.Kind) -> Failure {
                Failure(offset: i - bytes.startIndex, bytes: Array(bytes[i..<min(end, i + max(1, length))]), kind: kind)
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0x80...0xBF: return failure(1, .loneContinuationByte)
            case 0xC0, 0xC1: return failure(2, .overlongEncoding)
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xED: length = 3; high = 0x9F
            case 0xE1...0xEF: length = 3
            case 0xF0: length = 4; low = 0x90
            case 0xF4: length = 4; high = 0x8F
            case 0xF1...0xF3: length = 4
            case 0xF5...0xF7: return failure(4, .beyondUnicode)
            default: return failure(1, .invalidByte)  // F8–FF
            }
            // The second byte's range depends on the lead (Table 3-7); the others are 80–BF.
            for k in 1..<length {
                guard i + k < end else { return failure(k, .truncatedSequence) }
                let byte = bytes[i + k]
                let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
                if byte < lo || byte > hi {
                    guard (0x80...0xBF).contains(byte) else { return failure(k, .truncatedSequence) }
                    switch lead {
                    case 0xE0, 0xF0: return failure(k + 1, .overlongEncoding)
                    case 0xED: return failure(k + 1, .surrogate)
                    default: return failure(k + 1, .beyondUnicode)  // F4 90–BF
                    }
                }
            }
            i += length
        }
        return nil
    }

    /// `bytes` as a string, or the failure: never a repaired string.
    public static func string<C: Collection<UInt8>>(_ bytes: C) throws(Failure) -> String where C.Index == Int {
        if let failure = firstFailure(in: bytes) { throw failure }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
