import Testing

@testable import ShardLog

/// Specs/Routing.md: the test vectors come from an independent Python implementation.
@Suite struct RoutingTests {
    let shards = ["shard_00", "shard_01", "shard_02", "shard_03"]

    @Test func positionsAndRingMatchTheSpec() {
        #expect(Router.position(of: "persona-1") == 0x498d_38ac_5d46_266f)
        #expect(Router.position(of: "日本語") == 0x7771_0aed_c74e_cfa3)
        let router = Router(strategy: .hash, shards: shards)
        #expect(router.ring.count == 600)
        #expect(router.ring.first!.position == 8_869_968_493_495_453 && router.ring.first!.shard == "shard_03")
        #expect(router.ring.last!.position == 18_417_366_917_361_584_803 && router.ring.last!.shard == "shard_01")
    }

    @Test(arguments: [
        ("persona-1", "shard_00", "shard_03"),
        ("persona-2", "shard_00", "shard_03"),
        ("alice", "shard_02", "shard_03"),
        ("7f3c2a9e-0000-4000-8000-000000000001", "shard_02", "shard_01"),
        ("日本語", "shard_00", "shard_03"),
    ])
    func vectors(id: String, ring: String, modulo: String) {
        #expect(Router(strategy: .hash, shards: shards).shard(for: id) == ring)
        #expect(Router(strategy: .modulo, shards: shards.reversed()).shard(for: id) == modulo)
    }

    @Test func rangeAndDirectory() {
        let range = Router(strategy: .range, shards: shards, rangeBoundaries: Router.defaultRangeBoundaries(shardCount: 4))
        #expect(Router.defaultRangeBoundaries(shardCount: 4) == ["4", "8", "c"])
        #expect(range.shard(for: "0abc") == "shard_00")
        #expect(range.shard(for: "4") == "shard_01")
        #expect(range.shard(for: "7fff") == "shard_01")
        #expect(range.shard(for: "c0") == "shard_03")
        #expect(range.shard(for: "zz") == "shard_03")
        let directory = Router(strategy: .directory, shards: shards)
        #expect(directory.shard(for: "x", personaCounts: ["shard_00": 3, "shard_01": 1, "shard_02": 1, "shard_03": 2]) == "shard_01")
        #expect(directory.shard(for: "x") == "shard_00")
    }

    /// Adding a fifth shard to four moves about 1/5 of the personas (consistent hashing),
    /// and every moved persona moves to the new shard.
    @Test func addingAShardMovesAboutAFifth() {
        let before = Router(strategy: .hash, shards: shards)
        let after = Router(strategy: .hash, shards: shards + ["shard_04"])
        var moved = 0
        let count = 10_000
        for i in 0..<count {
            let id = "persona-\(i)"
            let a = before.shard(for: id)
            let b = after.shard(for: id)
            if a != b {
                moved += 1
                #expect(b == "shard_04")
            }
        }
        let share = Double(moved) / Double(count)
        #expect(share > 0.12 && share < 0.28, "moved \(share), ideal 0.2")
    }

    @Test func defaultIDs() {
        #expect(Router.defaultShardIDs(count: 4) == shards)
        #expect(Router.defaultShardIDs(count: 101).last == "shard_100")
        #expect(Router.isValidShardID("shard_05") && !Router.isValidShardID("bad id") && !Router.isValidShardID(""))
    }
}
