import ShardLog

let dataDirectory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "./shardlog-data"
var configuration = StoreConfiguration()  // 4 shards, consistent hashing, durability .always
configuration.embeddingDimension = 3
let store = try await ShardStore.open(at: dataDirectory, configuration: configuration)
try await store.createPersona(id: "ada", name: "Ada", isActive: true)
try await store.addMemory(id: "m1", personaId: "ada", content: "likes green tea", name: "tea", importance: 70, embedding: [0.1, 0.2, 0.3])
let memories = try store.personaMemories("ada", query: MemoryQuery(tier: .hot, limit: 10))
let shard = store.shardForPersona("ada")  // "shard_03": Specs/Routing.md
let moved = try await store.migratePersona("ada", to: "shard_00")  // hot: copy, verify, cut over
let live = try store.digests()
try await store.rebuild()  // every shard, from the log
let rebuilt = try store.digests()  // equals live
try await store.close()
print(memories.count, shard ?? "", moved.phase, rebuilt == live)  // 1 shard_03 completed true
