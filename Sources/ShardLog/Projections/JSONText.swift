import Foundation

/// The JSON text of structured columns (PROJ-003): sorted keys, no white space, so the
/// same value always gives the same bytes (the digest depends on it).
enum JSONText {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain value types cannot fail.
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    /// One decoder for every read (Foundation's is safe to share: its options are locked,
    /// and these are never changed) instead of a new one per structured column, three per
    /// persona read.
    private static let decoder = JSONDecoder()

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }

    /// A JSON array of strings, written by hand: it is on the hot path of every memory insert.
    static func strings(_ values: [String]) -> String {
        var out = "["
        for (i, value) in values.enumerated() {
            if i > 0 { out += "," }
            out += "\""
            // Fast path: nothing to escape.
            if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
                out += value
                out += "\""
                continue
            }
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            out += "\""
        }
        return out + "]"
    }

    /// Reads what `strings` writes without a JSON decoder (hot on every memory read); any
    /// other JSON array of strings goes through JSONDecoder.
    static func decodeStrings(_ text: String) throws -> [String] {
        let utf8 = Array(text.utf8)
        guard utf8.first == UInt8(ascii: "["), utf8.last == UInt8(ascii: "]") else { return try decode([String].self, text) }
        if utf8.count == 2 { return [] }
        var result: [String] = []
        var i = 1
        while i < utf8.count - 1 {
            guard utf8[i] == UInt8(ascii: "\"") else { return try decode([String].self, text) }
            var j = i + 1
            while j < utf8.count && utf8[j] != UInt8(ascii: "\"") {
                if utf8[j] == UInt8(ascii: "\\") { return try decode([String].self, text) }  // escapes: the slow path
                j += 1
            }
            guard j < utf8.count - 1 else { return try decode([String].self, text) }
            result.append(String(decoding: utf8[(i + 1)..<j], as: UTF8.self))
            i = j + 1
            if utf8[i] == UInt8(ascii: ",") {
                i += 1
                if i == utf8.count - 1 { throw MalformedJSON(text: text) }  // a trailing comma
            } else if i != utf8.count - 1 {
                return try decode([String].self, text)
            }
        }
        return result
    }
}

/// A column that should hold a JSON array of strings does not.
struct MalformedJSON: Error, CustomStringConvertible {
    var text: String
    var description: String { "malformed JSON string array (\(text.utf8.count) bytes)" }
}

/// Embeddings as stored: the f32 values little-endian (Specs/ProjectionSchema.md §2).
enum EmbeddingBlob {
    static func encode(_ vector: [Float]) -> Data {
        #if _endian(little)
        // The in-memory layout is the stored one: one copy.
        return vector.withUnsafeBytes { Data($0) }
        #else
        var data = Data(capacity: vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
        #endif
    }

    static func decode(_ data: Data) -> [Float] {
        let count = data.count / 4
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                for i in 0..<count {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
            }
            initialized = count
        }
    }
}
