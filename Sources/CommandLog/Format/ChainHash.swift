import Crypto

/// A 32-byte SHA-256 chain hash (LOG-050).
public struct ChainHash: Hashable, Sendable, CustomStringConvertible {
    public static let size = 32
    /// The bytes, as stored.
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == Self.size, "a chain hash is 32 bytes")
        self.bytes = bytes
    }

    /// `H₀`: 32 zero bytes, what the first frame chains to.
    public static let genesis = ChainHash(bytes: [UInt8](repeating: 0, count: size))

    /// Lower-case hex.
    public var description: String {
        let digits: [Character] = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(64)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }

    /// `H_k = SHA-256(H_{k-1} ‖ header[0..<28] ‖ payload)` (LOG-050).
    static func next(
        after previous: ChainHash, headerPrefix: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer
    ) -> ChainHash {
        var hasher = SHA256()
        previous.bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: headerPrefix)
        hasher.update(bufferPointer: payload)
        let digest = hasher.finalize()
        return digest.withUnsafeBytes { ChainHash(bytes: Array($0)) }
    }

    init(_ buffer: UnsafeRawBufferPointer) {
        self.init(bytes: Array(buffer.prefix(Self.size)))
    }
}
