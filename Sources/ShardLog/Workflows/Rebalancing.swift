import CommandLog
import Foundation
import GRDB

/// When a rebalance is due (WF-051): the original design's `DatabaseShardingConfig` thresholds.
public struct RebalanceThresholds: Hashable, Sendable {
    /// Rows (personas, memories, conversations, messages) a shard may hold.
    public var maxRecordsPerShard: Int
    /// Bytes a shard's database may take on disk.
    public var maxDiskUsagePerShard: Int
    /// How far any shard's records may be from the mean, as 1 + that distance over the
    /// mean: 1.2 keeps every shard within 0.8–1.2 of the mean (WF-050).
    public var maxImbalance: Double

    public init(maxRecordsPerShard: Int = 1_000_000, maxDiskUsagePerShard: Int = 1 << 30, maxImbalance: Double = 1.2) {
        self.maxRecordsPerShard = maxRecordsPerShard
        self.maxDiskUsagePerShard = maxDiskUsagePerShard
        self.maxImbalance = maxImbalance
    }
}

/// The load of the active shards and of each persona on them (WF-050).
public struct RebalanceAnalysis: Hashable, Sendable {
    public struct ShardLoad: Hashable, Sendable {
        public var id: String
        public var personas: Int
        public var records: Int
        public var bytesOnDisk: Int
    }
    public struct PersonaLoad: Hashable, Sendable {
        public var id: String
        public var shard: String
        /// Its rows on its shard (detached memories elsewhere are not counted: they do not move with it).
        public var records: Int
        /// The bytes of those rows' values.
        public var bytes: Int
        /// Being migrated: not moved by a plan.
        public var migrating: Bool
        /// The active shard the router names for this persona now (its ring position with
        /// `hash`), nil with `directory`, where placement is not a function of the id.
        public var routedShard: String?
    }

    public var shards: [ShardLoad]
    public var personas: [PersonaLoad]

    /// How far the shards' records are from even, both ways (WF-050): the larger of
    /// max/mean and 2 − min/mean, so 1 is even and 1.2 means every shard holds 0.8–1.2
    /// of the mean. An empty new shard counts as much as an overfull one. 1 when empty.
    public var imbalance: Double { Self.imbalance(shards.map(\.records)) }
    /// The most loaded shard's records over the mean (1 when empty).
    public var maxOverMean: Double { Self.ratios(shards.map(\.records)).max }
    /// The least loaded shard's records over the mean (1 when empty).
    public var minOverMean: Double { Self.ratios(shards.map(\.records)).min }
    /// The same figures of the shards' persona counts.
    public var personaImbalance: Double { Self.imbalance(shards.map(\.personas)) }
    public var personasMinOverMean: Double { Self.ratios(shards.map(\.personas)).min }
    public var personasMaxOverMean: Double { Self.ratios(shards.map(\.personas)).max }

    static func ratios(_ values: [Int]) -> (min: Double, max: Double) {
        guard let low = values.min(), let high = values.max() else { return (1, 1) }
        let mean = Double(values.reduce(0, +)) / Double(values.count)
        return mean == 0 ? (1, 1) : (Double(low) / mean, Double(high) / mean)
    }

    static func imbalance(_ values: [Int]) -> Double {
        let (low, high) = ratios(values)
        return max(high, 2 - low)
    }

    /// The analysis as it will be once `moves` are made: records, personas and bytes
    /// moved from each move's source to its target (what `rebalance plan` shows as "after").
    public func after(_ moves: [RebalanceMove]) -> RebalanceAnalysis {
        var result = self
        let index = Dictionary(uniqueKeysWithValues: shards.enumerated().map { ($1.id, $0) })
        let personaIndex = Dictionary(uniqueKeysWithValues: personas.enumerated().map { ($1.id, $0) })
        for move in moves {
            guard let source = index[move.source], let target = index[move.target] else { continue }
            result.shards[source].records -= Int(move.records)
            result.shards[target].records += Int(move.records)
            result.shards[source].bytesOnDisk -= Int(move.bytes)
            result.shards[target].bytesOnDisk += Int(move.bytes)
            result.shards[source].personas -= 1
            result.shards[target].personas += 1
            if let p = personaIndex[move.personaId] { result.personas[p].shard = move.target }
        }
        return result
    }

    /// What crosses a threshold, in words (empty when nothing does).
    public func problems(_ t: RebalanceThresholds) -> [String] {
        var problems: [String] = []
        for shard in shards where shard.records > t.maxRecordsPerShard {
            problems.append("\(shard.id) holds \(shard.records) records (limit \(t.maxRecordsPerShard))")
        }
        for shard in shards where shard.bytesOnDisk > t.maxDiskUsagePerShard {
            problems.append("\(shard.id) takes \(shard.bytesOnDisk) bytes (limit \(t.maxDiskUsagePerShard))")
        }
        if imbalance > t.maxImbalance {
            problems.append(String(format: "imbalance %.3f (records from %.3f to %.3f of the mean; limit %.3f)", imbalance, minOverMean, maxOverMean, t.maxImbalance))
        }
        return problems
    }

    /// The analysis as the plan records it (JSON, sorted keys).
    public var json: String {
        let object: [String: Any] = [
            "imbalance": (imbalance * 1000).rounded() / 1000,
            "minOverMean": (minOverMean * 1000).rounded() / 1000, "maxOverMean": (maxOverMean * 1000).rounded() / 1000,
            "shards": shards.map { ["id": $0.id, "personas": $0.personas, "records": $0.records, "bytesOnDisk": $0.bytesOnDisk] as [String: Any] },
        ]
        return CommandJSON.line(object)
    }

    /// WF-052: the greedy plan. Deterministic: the same analysis gives the same moves.
    public func plan(_ t: RebalanceThresholds, maxMoves: Int? = nil) -> [RebalanceMove] {
        var records = Dictionary(uniqueKeysWithValues: shards.map { ($0.id, $0.records) })
        var bytes = Dictionary(uniqueKeysWithValues: shards.map { ($0.id, $0.bytesOnDisk) })
        var placement = Dictionary(uniqueKeysWithValues: personas.map { ($0.id, $0.shard) })
        var moved = Set<String>()
        var moves: [RebalanceMove] = []
        let ids = shards.map(\.id).sorted(by: Router.utf8Less)
        guard ids.count > 1, !problems(t).isEmpty else { return [] }
        // A plan that is due aims past the trigger, at half the allowed distance from the
        // mean (0.9–1.1 with 1.2), so the store does not stay at the edge of the next one.
        let aim = 1 + (t.maxImbalance - 1) / 2
        while moves.count < (maxMoves ?? Int.max) {
            let over = ids.contains { records[$0]! > t.maxRecordsPerShard || bytes[$0]! > t.maxDiskUsagePerShard }
            guard over || Self.imbalance(ids.map { records[$0]! }) > aim else { break }
            let source = ids.max { records[$0]! != records[$1]! ? records[$0]! < records[$1]! : Router.utf8Less($1, $0) }!
            let target = ids.filter { $0 != source }.min { records[$0]! != records[$1]! ? records[$0]! < records[$1]! : Router.utf8Less($0, $1) }!
            let room = (records[source]! - records[target]!) / 2
            // Among the source's personas that fit, those the router now names the target for
            // first: placements then converge on the ring, and a later shard addition moves
            // little. Then the most records, the fewest bytes, the smallest id.
            let candidate = personas
                .filter { placement[$0.id] == source && !moved.contains($0.id) && !$0.migrating && $0.records <= room && $0.records > 0 }
                .min { a, b in
                    let aRouted = a.routedShard == target
                    let bRouted = b.routedShard == target
                    if aRouted != bRouted { return aRouted }
                    if a.records != b.records { return a.records > b.records }
                    if a.bytes != b.bytes { return a.bytes < b.bytes }
                    return Router.utf8Less(a.id, b.id)
                }
            guard let candidate else { break }
            moves.append(RebalanceMove(personaId: candidate.id, source: source, target: target, records: candidate.records, bytes: candidate.bytes))
            moved.insert(candidate.id)
            placement[candidate.id] = target
            records[source]! -= candidate.records
            records[target]! += candidate.records
            bytes[source]! -= candidate.bytes
            bytes[target]! += candidate.bytes
        }
        return moves
    }
}

extension ShardStore {
    /// WF-050: the load of every active shard and of each persona on it.
    public func rebalanceAnalysis() throws -> RebalanceAnalysis {
        try settle()
        let (active, placements, migrating, router) = withState { state in
            (state.activeShards, state.personas.mapValues(\.shard), Set(state.personas.filter { $0.value.migrationID != nil }.keys),
             state.initialization?.strategy == .directory ? nil : state.router)
        }
        var shards: [RebalanceAnalysis.ShardLoad] = []
        var personas: [RebalanceAnalysis.PersonaLoad] = []
        for id in active {
            guard let projection = projection(forShard: id) else { continue }
            let counts = try projection.counts()
            shards.append(RebalanceAnalysis.ShardLoad(
                id: id, personas: counts.personas, records: counts.personas + counts.memories + counts.conversations + counts.messages,
                bytesOnDisk: projection.bytesOnDisk()))
            for (persona, load) in try projection.personaLoads() where placements[persona] == id {
                personas.append(RebalanceAnalysis.PersonaLoad(
                    id: persona, shard: id, records: load.records, bytes: load.bytes, migrating: migrating.contains(persona),
                    routedShard: router?.shard(for: persona)))
            }
        }
        return RebalanceAnalysis(shards: shards, personas: personas.sorted { Router.utf8Less($0.id, $1.id) })
    }

    /// The plan a rebalance would apply now; nothing is written.
    public func planRebalance(thresholds: RebalanceThresholds? = nil, maxMoves: Int? = nil) throws -> (analysis: RebalanceAnalysis, moves: [RebalanceMove]) {
        let analysis = try rebalanceAnalysis()
        return (analysis, analysis.plan(thresholds ?? configuration.rebalanceThresholds, maxMoves: maxMoves))
    }

    /// Plans, records and executes a rebalance (WF-052 … WF-054). Returns nil when nothing
    /// crosses a threshold (no plan is recorded).
    @discardableResult
    public func applyRebalance(
        thresholds: RebalanceThresholds? = nil, maxMoves: Int? = nil, progress: WorkflowProgressHandler? = nil
    ) async throws -> RebalanceWorkflow? {
        let (analysis, moves) = try planRebalance(thresholds: thresholds, maxMoves: maxMoves)
        guard !moves.isEmpty else { return nil }
        let lsn = try await submit([(.workflow(.rebalancePlanned(planId: "", moves: moves, analysis: analysis.json)), Envelope(actor: "shardlog", reason: "rebalance"))])[0]
        guard let planID = withState({ state in state.plans.values.first { $0.plannedLSN == lsn }?.id }) else {
            throw ShardLogError.incompatible(reason: "the plan recorded at LSN \(lsn) is not in the state")
        }
        return try await executePlan(planID, progress: progress)
    }

    /// WF-055: plans and applies when a threshold is crossed and no plan is running.
    @discardableResult
    public func rebalanceIfNeeded(progress: WorkflowProgressHandler? = nil) async throws -> RebalanceWorkflow? {
        if plans().contains(where: \.isUnfinished) { return nil }
        let analysis = try rebalanceAnalysis()
        if analysis.problems(configuration.rebalanceThresholds).isEmpty { return nil }
        return try await applyRebalance(progress: progress)
    }

    /// WF-054: each move as a migration, in order; then validation and `rebalanceCompleted`.
    func executePlan(_ planID: String, progress: WorkflowProgressHandler?) async throws -> RebalanceWorkflow {
        guard let plan = plan(id: planID) else { throw ShardLogError.notFound(kind: "plan", id: planID) }
        guard rebalanceStops.begin(planID) else { throw ShardLogError.unavailable("\(planID) is being executed already") }
        defer { rebalanceStops.end(planID) }
        for move in plan.moves {
            // WF-056: a stop asked for while the previous move ran.
            if let reason = rebalanceStops.take(planID) {
                try await submit([(.workflow(.rebalanceStopped(planId: planID, reason: reason)), Envelope(actor: "shardlog", reason: "stop requested"))])
                return self.plan(id: planID)!
            }
            let previous = migrations().last { $0.planId == planID && $0.personaId == move.personaId && $0.reverseOf == nil }
            if let previous, !previous.isUnfinished { continue }
            let migration: MigrationWorkflow
            if let previous {
                migration = try await resumeMigration(previous.id, progress: progress)
            } else {
                guard shardForPersona(move.personaId) == move.source, unfinishedMigration(ofPersona: move.personaId) == nil else { continue }
                migration = try await migratePersona(move.personaId, to: move.target, planId: planID, progress: progress)
            }
            if migration.phase != .completed {
                try await submit([(.workflow(.rebalanceStopped(planId: planID, reason: "\(migration.id) \(migration.phase.rawValue): \(migration.reason ?? "")")), Envelope(actor: "shardlog"))])
                return self.plan(id: planID)!
            }
        }
        let validation = try await validatePlacement()
        if let problem = validation.problem {
            try await submit([(.workflow(.rebalanceStopped(planId: planID, reason: problem)), Envelope(actor: "shardlog"))])
        } else {
            try await submit([(.workflow(.rebalanceCompleted(planId: planID, validation: validation.json)), Envelope(actor: "shardlog"))])
        }
        return self.plan(id: planID)!
    }

    /// Stops an executing rebalance (WF-056). When this store is executing the plan, the
    /// driver stops after the move in progress and appends `rebalanceStopped` with `reason`
    /// (returns false: the request is made, the step is the driver's). Otherwise — a plan a
    /// crash left executing, opened with `WorkflowRecovery.leave` — the move a crash
    /// interrupted is ended first (aborted before its cut-over, completed after it), then the
    /// step is appended (returns true). A stopped plan's completed moves stay;
    /// `rollbackRebalance` reverses them.
    @discardableResult
    public func stopRebalance(_ planID: String, reason: String = "stopped by request") async throws -> Bool {
        guard let plan = plan(id: planID) else { throw ShardLogError.notFound(kind: "plan", id: planID) }
        guard plan.phase == .executing else {
            throw ShardLogError.invalidCommand(index: 0, op: "rebalanceStopped", reason: "\(planID) is \(plan.phase.rawValue); only an executing plan can be stopped")
        }
        if rebalanceStops.request(planID, reason: reason) { return false }
        for migration in migrations() where migration.planId == planID && migration.isUnfinished {
            if migration.phase == .cutOver {
                _ = try await resumeMigration(migration.id)
            } else {
                try await abortMigration(migration.id, reason: "its plan \(planID) was stopped: \(reason)")
            }
        }
        try await submit([(.workflow(.rebalanceStopped(planId: planID, reason: reason)), Envelope(actor: "shardlog", reason: "stop requested"))])
        return true
    }

    /// Reverses every completed move of a plan, last first, as linked migrations (WF-053).
    /// Returns the moves it could not reverse, and why (a persona since deleted or moved on,
    /// a source shard since drained).
    @discardableResult
    public func rollbackRebalance(_ planID: String, progress: WorkflowProgressHandler? = nil) async throws -> [(move: RebalanceMove, reason: String)] {
        var skipped: [(move: RebalanceMove, reason: String)] = []
        guard let plan = plan(id: planID) else { throw ShardLogError.notFound(kind: "plan", id: planID) }
        if plan.phase != .rollingBack {
            try await submit([(.workflow(.rebalanceRollbackStarted(planId: planID)), Envelope(actor: "shardlog", reason: "rollback"))])
        }
        for move in plan.moves.reversed() {
            let all = migrations().filter { $0.planId == planID && $0.personaId == move.personaId }
            if let running = all.first(where: \.isUnfinished) { _ = try await resumeMigration(running.id, progress: progress) }
            guard let forward = all.last(where: { $0.reverseOf == nil && $0.phase == .completed }) else { continue }
            if migrations().contains(where: { $0.reverseOf == forward.id && $0.phase == .completed }) { continue }
            guard shardForPersona(move.personaId) == forward.target else {
                skipped.append((move, shardForPersona(move.personaId).map { "\(move.personaId) has moved on to \($0)" } ?? "\(move.personaId) was deleted"))
                continue
            }
            guard shards().first(where: { $0.id == forward.source })?.status == .active else {
                skipped.append((move, "\(forward.source) is no longer active"))
                continue
            }
            let back = try await migratePersona(
                forward.personaId, to: forward.source, batchSize: forward.batchSize, reverseOf: forward.id, planId: planID, progress: progress)
            if back.phase != .completed {
                throw ShardLogError.unavailable("rollback of \(planID) stopped: \(back.id) \(back.phase.rawValue) (\(back.reason ?? ""))")
            }
        }
        try await submit([(.workflow(.rebalanceRolledBack(planId: planID)), Envelope(actor: "shardlog"))])
        return skipped
    }

    /// Exactly one home (INV-7): every persona row is on the shard its
    /// placement names and on no other; with each shard's records and digest.
    /// Exactly one home (INV-7), checked in the databases: every placed persona
    /// has its row on its shard and nowhere else. The rows are read with writes paused and
    /// every staged write applied, so they are compared with the placements at one LSN.
    func validatePlacement() async throws -> (json: String, problem: String?) {
        let (placements, rows) = try await withWritesPaused { state in
            var rows: [(shard: String, ids: [String])] = []
            for id in state.shards.sorted() {
                guard let projection = projection(forShard: id) else { continue }
                rows.append((id, try projection.pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM personas") }))
            }
            return (state.personas.mapValues(\.shard), rows)
        }
        var seen: [String: String] = [:]
        var shards: [[String: Any]] = []
        var problem: String?
        for (id, ids) in rows {
            guard let projection = projection(forShard: id) else { continue }
            for persona in ids {
                if let other = seen[persona] { problem = problem ?? "persona \(persona) is on \(other) and \(id)" }
                seen[persona] = id
                if placements[persona] != id { problem = problem ?? "persona \(persona) is on \(id) but placed on \(placements[persona] ?? "nothing")" }
            }
            let counts = try projection.counts()
            shards.append(["id": id, "records": counts.personas + counts.memories + counts.conversations + counts.messages, "digest": try projection.digest()])
        }
        if seen.count != placements.count { problem = problem ?? "\(placements.count - seen.count) placed personas have no row" }
        return (CommandJSON.line(["shards": shards, "personas": placements.count]), problem)
    }
}

extension ShardProjection {
    /// Per persona on this shard: its rows and the bytes of their values (WF-050).
    func personaLoads() throws -> [String: (records: Int, bytes: Int)] {
        try pool.read { db in
            var loads: [String: (records: Int, bytes: Int)] = [:]
            func add(_ sql: String) throws {
                for row in try Row.fetchAll(db, sql: sql) {
                    let id: String = row[0]
                    let current = loads[id] ?? (0, 0)
                    loads[id] = (current.records + (row[1] as Int), current.bytes + (row[2] as Int))
                }
            }
            try add("SELECT id, 1, LENGTH(name) + LENGTH(description) + LENGTH(personality) + LENGTH(memory_configuration) + LENGTH(privacy_settings) + 64 FROM personas")
            try add("""
                SELECT persona_id, COUNT(*), SUM(LENGTH(id) + LENGTH(name) + LENGTH(content) + IFNULL(LENGTH(summary), 0) + LENGTH(tags)
                  + IFNULL(LENGTH(embedding), 0) + IFNULL(LENGTH(embedding_model), 0) + 64) FROM memories GROUP BY persona_id
                """)
            try add("SELECT persona_id, COUNT(*), SUM(LENGTH(id) + LENGTH(title) + 48) FROM conversations GROUP BY persona_id")
            try add("""
                SELECT c.persona_id, COUNT(*), SUM(LENGTH(m.content) + 32) FROM messages m JOIN conversations c ON c.id = m.conversation_id
                GROUP BY c.persona_id
                """)
            // Memories of personas placed elsewhere are detached ones: they do not move with a persona.
            let here = Set(try String.fetchAll(db, sql: "SELECT id FROM personas"))
            return loads.filter { here.contains($0.key) }
        }
    }
}
