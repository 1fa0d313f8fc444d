/// Where a store's files are, below its data directory (README, "On disk"):
///
/// ```
/// <data-dir>/log/                 the command log: the truth
/// <data-dir>/catalog.sqlite       shards, placements, the entity index, command ids
/// <data-dir>/shards/<id>.sqlite   one projection per shard
/// ```
///
/// The one place that spells these paths: the engine, the CLI, the tests and the
/// benchmarks ask it, so a change of layout is a change here.
public struct StoreLayout: Hashable, Sendable {
    public let dataDirectory: String

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    /// The command log's directory; everything else can be rebuilt from it.
    public var logDirectory: String { dataDirectory + "/log" }
    /// The catalog's database.
    public var catalogPath: String { dataDirectory + "/catalog.sqlite" }
    /// The directory of the shards' databases.
    public var shardDirectory: String { dataDirectory + "/shards" }
    /// The database of shard `id`.
    public func shardPath(_ id: String) -> String { shardDirectory + "/\(id).sqlite" }
}
