import CommandLog

/// The engine's hot paths for the package-benchmark suites (`Benchmarks/`, BENCH-080),
/// which live in another package and cannot see internal code. Not API:
/// `@_spi(Benchmarking)` keeps it out of the public interface. It calls what `execute`
/// and the applier call: `StoreState.apply` (validation, routing's bookkeeping, effects,
/// under the store's lock) and `ShardProjection.apply` (one transaction per batch).
@_spi(Benchmarking) public final class EngineHotPaths {
    private var state = StoreState()
    private var nextLSN = LSN(1)
    private var effects: [ShardEffect] = []
    private let projection: ShardProjection?
    /// The shard whose effects `writeProjection` writes.
    public let shard: String

    /// A state initialized with `shardCount` shards (consistent hashing) and `personas`
    /// personas `persona-0` …, and a projection database of `shard_00` at
    /// `projectionPath` when given.
    public init(shardCount: Int, personas: Int, projectionPath: String?) throws {
        let shards = Router.defaultShardIDs(count: shardCount)
        shard = shards[0]
        projection = try projectionPath.map { try ShardProjection(id: shards[0], path: $0) }
        _ = try apply([.initializeStore(StoreInitialization(
            strategy: .hash, virtualNodes: 150, embeddingDimension: 384, shards: shards, rangeBoundaries: []))])
        for index in 0..<personas {
            let id = "persona-\(index)"
            _ = try apply([.createPersona(PersonaCreation(id: id, shard: state.route(id) ?? shard, name: "P\(index)"))])
        }
        try writeProjection()
    }

    /// Checks and applies `commands` to the state, as LSNs from the next one, keeping the
    /// effects on `shard` for `writeProjection`. Returns how many effects there were.
    public func apply(_ commands: [Command]) throws -> Int {
        var count = 0
        for command in commands {
            let result = try state.apply(
                command, lsn: nextLSN, timestamp: Timestamp(microsecondsSince1970: Int64(nextLSN.rawValue)), commandID: nil)
            nextLSN = nextLSN.next
            count += result.shards.count + result.catalog.count
            for (target, effect) in result.shards where target == shard { effects.append(effect) }
        }
        return count
    }

    /// Writes the kept effects to the projection in one transaction (PROJ-002) and forgets them.
    public func writeProjection() throws {
        defer { effects = [] }
        guard let projection, !effects.isEmpty else { return }
        try projection.apply(effects, through: LSN(nextLSN.rawValue - 1))
    }

    /// The shard a persona lives on.
    public func shard(ofPersona id: String) -> String? { state.personas[id]?.shard }

    public func close() throws { try projection?.close() }
}
