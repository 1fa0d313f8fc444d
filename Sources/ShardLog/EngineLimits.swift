/// Every bound of the engine, in one place (INV-8), units in the names; the log's own are
/// `CommandLog.Limits`. `EngineLimitsTests` checks the relations between them — above all
/// that the largest command the rules allow fits the log's payload limit.
public enum EngineLimits {
    // CMD-010, CMD-011, CMD-013: the fields of commands.
    /// Persona, memory and conversation ids.
    public static let idSizeMax = 128
    /// A persona's name (1…) and a memory's (0…).
    public static let nameSizeMax = 256
    /// Descriptions, titles, summaries.
    public static let shortTextMax = 4 * 1024
    /// A memory's content and a message's.
    public static let contentSizeMax = 256 * 1024
    /// A tag, a trait, a memory category, a role-play string.
    public static let tagSizeMax = 64
    /// Tags of a memory; traits and categories of a persona.
    public static let tagCountMax = 64
    /// An embedding model's name.
    public static let modelNameSizeMax = 128

    // CMD-100, WF-010: the store.
    /// Shards a store may have, removed ones included (their ids stay taken).
    public static let shardCountRange = 1...256
    /// Virtual nodes per shard on the ring.
    public static let virtualNodesRange = 1...1000
    /// The dimension of the embeddings.
    public static let embeddingDimensionRange = 1...4096

    // WF-020, ENG-003: the engine at work.
    /// Rows a migration copies per batch.
    public static let migrationBatchSizeRange = 1...100_000
    /// `StoreConfiguration.applyBacklogMax`: durable commands that may wait to be applied.
    public static let applyBacklogRange = 1...131_072
}

extension ClosedRange where Bound == Int {
    /// `1…100,000`, as the messages print a range (digits grouped by three from 10,000 up:
    /// `1…4096`).
    var text: String { "\(lowerBound.grouped)…\(upperBound.grouped)" }
}

extension Int {
    /// `100000` as `100,000`; below 10,000 as it is (`4096`).
    var grouped: String {
        let digits = String(magnitude)
        guard magnitude >= 10_000 else { return String(self) }
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return (self < 0 ? "-" : "") + result
    }
}
