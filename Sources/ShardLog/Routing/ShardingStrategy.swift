/// How new personas are placed on shards (Specs/Routing.md).
public enum ShardingStrategy: String, CaseIterable, Hashable, Sendable, Codable {
    /// Consistent hashing on a SHA-256 ring with virtual nodes (ROUTE-010). The default.
    case hash
    /// `pos(id) mod N` (ROUTE-020): what `hash` becomes with consistent hashing off.
    case modulo
    /// Key ranges with configured boundaries (ROUTE-030).
    case range
    /// The shard with the fewest personas, recorded in the catalog (ROUTE-040).
    case directory

    /// The `u8` of Specs/Commands.md §1.
    var code: UInt8 {
        switch self {
        case .hash: return 0
        case .modulo: return 1
        case .range: return 2
        case .directory: return 3
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .hash
        case 1: self = .modulo
        case 2: self = .range
        case 3: self = .directory
        default: return nil
        }
    }
}
