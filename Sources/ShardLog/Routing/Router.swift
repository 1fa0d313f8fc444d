import Crypto

/// Places new personas on shards (Specs/Routing.md). Pure: the same inputs give the
/// same shard on every machine, and replay never calls it (ROUTE-001).
public struct Router: Sendable {
    public let strategy: ShardingStrategy
    /// The shard list: active shards sorted by id (UTF-8 byte order).
    public let shards: [String]
    public let virtualNodes: Int
    public let rangeBoundaries: [String]
    /// ROUTE-011: (position, shard) sorted by position, then shard id.
    let ring: [(position: UInt64, shard: String)]

    public init(strategy: ShardingStrategy, shards: [String], virtualNodes: Int = 150, rangeBoundaries: [String] = []) {
        self.strategy = strategy
        self.shards = shards.sorted(by: Router.utf8Less)
        self.virtualNodes = virtualNodes
        self.rangeBoundaries = rangeBoundaries
        if strategy == .hash {
            var ring: [(position: UInt64, shard: String)] = []
            ring.reserveCapacity(shards.count * virtualNodes)
            for shard in self.shards {
                for i in 0..<virtualNodes { ring.append((Router.position(of: "\(shard):\(i)"), shard)) }
            }
            ring.sort { $0.position != $1.position ? $0.position < $1.position : Router.utf8Less($0.shard, $1.shard) }
            self.ring = ring
        } else {
            self.ring = []
        }
    }

    /// `pos(s)`: the first 8 bytes of SHA-256(UTF-8 of s), big-endian (Specs/Routing.md).
    public static func position(of key: String) -> UInt64 {
        let digest = SHA256.hash(data: Array(key.utf8))
        return digest.withUnsafeBytes { bytes in
            var value: UInt64 = 0
            for i in 0..<8 { value = value << 8 | UInt64(bytes[i]) }
            return value
        }
    }

    static func utf8Less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// The shard for a new persona. `personaCounts` (personas per shard) is used by `directory` only.
    public func shard(for personaID: String, personaCounts: [String: Int] = [:]) -> String {
        precondition(!shards.isEmpty, "a router needs at least one shard")
        switch strategy {
        case .hash:
            // ROUTE-012: the first virtual node at or after the key, wrapping around.
            let key = Router.position(of: personaID)
            var low = 0
            var high = ring.count
            while low < high {
                let mid = (low + high) / 2
                if ring[mid].position < key { low = mid + 1 } else { high = mid }
            }
            return ring[low == ring.count ? 0 : low].shard
        case .modulo:
            return shards[Int(Router.position(of: personaID) % UInt64(shards.count))]  // ROUTE-020
        case .range:
            // ROUTE-030: k = the number of boundaries ≤ id.
            let k = rangeBoundaries.filter { !Router.utf8Less(personaID, $0) }.count
            return shards[min(k, shards.count - 1)]
        case .directory:
            // ROUTE-040: fewest personas, ties to the smallest id (the list is sorted).
            return shards.min { (personaCounts[$0] ?? 0) < (personaCounts[$1] ?? 0) }!
        }
    }

    /// Default shard ids: `shard_00`, `shard_01`, … (Specs/Routing.md).
    public static func defaultShardIDs(count: Int) -> [String] {
        let width = max(2, String(count - 1).count)
        return (0..<count).map { i in
            let digits = String(i)
            return "shard_" + String(repeating: "0", count: width - digits.count) + digits
        }
    }

    /// Default range boundaries: the first hexadecimal digit split evenly (ROUTE-030).
    public static func defaultRangeBoundaries(shardCount: Int) -> [String] {
        guard shardCount > 1 else { return [] }
        let hex = Array("0123456789abcdef")
        return (1..<shardCount).map { i in String(hex[min(15, i * 16 / shardCount)]) }
    }

    /// Whether `id` is a valid shard id (Specs/Routing.md).
    public static func isValidShardID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }
    }
}
