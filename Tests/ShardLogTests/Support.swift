import Foundation
import Testing

@testable import ShardLog
@_exported import ShardLogTestSupport


func smallConfiguration(shards: Int = 4, strategy: ShardingStrategy = .hash) -> StoreConfiguration {
    var configuration = StoreConfiguration()
    configuration.shardCount = shards
    configuration.strategy = strategy
    configuration.embeddingDimension = 4
    return configuration
}

/// The engine tests' seeds (a different stride from the log's, so the two explore different values).
func engineSeeds(default count: Int) -> [UInt64] { testSeeds(default: count, stride: 104_729, offset: 3) }
