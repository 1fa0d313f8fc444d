import CommandLog

/// How a store is opened: the original design's `ShardConfig` (README, "Using the engine from Swift").
///
/// The sharding fields (`shardCount`, `strategy`, `consistentHashing`, `virtualNodes`,
/// `rangeBoundaries`, `embeddingDimension`) are used once, when a new store is created:
/// they become its `initializeStore` command, and from then on the catalog — not the
/// configuration — is the truth.
public struct StoreConfiguration: Sendable {
    /// Shards of a new store (default 4).
    public var shardCount = 4
    public var strategy: ShardingStrategy = .hash
    /// With `strategy == .hash`: consistent hashing (true, the default) or plain modulo (false).
    public var consistentHashing = true
    /// Virtual nodes per shard on the hash ring (default 150).
    public var virtualNodes = 150
    /// For `.range`: the boundaries; nil splits the first hex digit evenly.
    public var rangeBoundaries: [String]?
    /// Dimension of memory embeddings (default 384, the original app's model).
    public var embeddingDimension = 384
    /// Copies of each shard. Only 1 is supported; read replicas are a later capability.
    public var replicationFactor = 1
    /// The log's durability (LOG-092).
    public var durability: Durability = .always
    /// Create the data directory and a new store when it does not exist.
    public var createIfMissing = true
    /// The log's segment roll size.
    public var logSegmentSizeMax = Limits.segmentSizeDefault
    /// Rows per batch of a persona migration's copy (WF-022; the original design's
    /// `migrationBatchSize`, default 1,000).
    public var migrationBatchSize = 1_000
    /// What open does with a workflow a crash interrupted (WF-060).
    public var workflowRecovery: WorkflowRecovery = .resume
    /// When a rebalance is due (WF-051; the original design's `DatabaseShardingConfig`).
    public var rebalanceThresholds = RebalanceThresholds()
    /// How often `AutoRebalancer` looks (the original design's `rebalanceInterval`, default one hour).
    public var rebalanceInterval: Duration = .seconds(3600)
    /// How long durable writes may wait for more before they are applied to the projections
    /// while no read waits for them (ENG-024; default 1 ms, zero applies each batch at once).
    /// A read never waits for it: its barrier starts the apply.
    public var applyCoalescingWindow: Duration = .milliseconds(1)
    /// How many durable commands may wait to be applied to the projections before a write
    /// also waits for its own apply (ENG-003; 1…131,072, default 8,192). Under sustained
    /// writes the projections run about this far behind, and a read waits for them to catch
    /// up: a smaller bound makes such reads faster and durable writes slower (measured on 2
    /// cores at 16 writers: 8,192 → reads p99 50–225 ms; 512 → about 20 ms, 17% fewer
    /// writes). Checked when the store opens.
    public var applyBacklogMax = StoreConfiguration.defaultApplyBacklogMax
    /// `applyBacklogMax`'s default: 8,192 commands.
    public static let defaultApplyBacklogMax = 8_192
    /// The values `applyBacklogMax` may take (at most the log's own queue bound, 131,072 commands, LOG-094).
    static let applyBacklogRange = EngineLimits.applyBacklogRange

    public init() {}

    var effectiveStrategy: ShardingStrategy {
        strategy == .hash && !consistentHashing ? .modulo : strategy
    }

    func initialization() -> StoreInitialization {
        let strategy = effectiveStrategy
        return StoreInitialization(
            strategy: strategy, virtualNodes: virtualNodes, embeddingDimension: embeddingDimension,
            shards: Router.defaultShardIDs(count: shardCount),
            rangeBoundaries: strategy == .range ? (rangeBoundaries ?? Router.defaultRangeBoundaries(shardCount: shardCount)) : [])
    }
}

/// Who issued a command and why (the log's envelope, LOG-060).
public struct Envelope: Hashable, Sendable {
    public var actor: String
    public var reason: String?
    /// An idempotency key: a command whose id is already in the log is not appended again (CMD-016).
    public var commandID: String?
    /// When it happened; nil takes the clock (never read during replay).
    public var timestamp: Timestamp?

    public init(actor: String = "app", reason: String? = nil, commandID: String? = nil, timestamp: Timestamp? = nil) {
        self.actor = actor
        self.reason = reason
        self.commandID = commandID
        self.timestamp = timestamp
    }
}
