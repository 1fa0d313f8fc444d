import CommandLog

/// The rules and effects of the workflow steps (Specs/Workflows.md). Every check comes
/// before the first change, so a rejected step leaves the state as it was.
extension StoreState {
    /// WF-020: batch sizes a migration accepts.
    static let batchSizeRange = EngineLimits.migrationBatchSizeRange

    /// WF-004: the id the next migration (persona or memory) and the next plan get.
    var nextMigrationID: String { "mig-\(migrationCount + 1)" }
    var nextPlanID: String { "plan-\(planCount + 1)" }

    mutating func applyWorkflow(_ step: WorkflowCommand, lsn: LSN, timestamp: Timestamp, into effects: inout Effects) throws(CommandRejection) {
        switch step {
        case .addShard(let id):
            // WF-010
            guard Router.isValidShardID(id) else { throw CommandRejection("shard id \(id) is not 1…64 characters of A-Z a-z 0-9 _ . -") }
            if let status = shardStatus[id] {
                throw CommandRejection(status == .removed ? "shard \(id) was removed; shard ids are not reused" : "shard \(id) exists")
            }
            if shardStatus.count >= EngineLimits.shardCountRange.upperBound {
                throw CommandRejection("a store has at most \(EngineLimits.shardCountRange.upperBound) shards")
            }
            shardStatus[id] = .active
            effects.catalog.append(.addShard(id: id))

        case .drainShard(let id):
            // WF-011
            guard shardStatus[id] == .active else { throw CommandRejection("shard \(id) is not an active shard") }
            guard activeShards.count > 1 else { throw CommandRejection("shard \(id) is the only active shard") }
            shardStatus[id] = .draining
            effects.catalog.append(.setShardStatus(id: id, .draining))

        case .removeShard(let id):
            // WF-012
            guard let status = shardStatus[id], status != .removed else { throw CommandRejection("no shard with id \(id)") }
            if let owned = ownership(of: id) { throw CommandRejection("shard \(id) still holds \(owned); drain it first (`shard remove \(id) --drain`)") }
            guard activeShards.contains(where: { $0 != id }) else { throw CommandRejection("shard \(id) is the last active shard") }
            shardStatus[id] = .removed
            effects.catalog.append(.setShardStatus(id: id, .removed))

        case .migrationStarted(let id, let personaID, let source, let target, let batchSize, let reverseOf, let planId):
            // WF-020
            guard id == nextMigrationID else { throw CommandRejection("the next migration id is \(nextMigrationID), not \(id)") }
            guard let entry = personas[personaID] else { throw CommandRejection("no persona with id \(personaID)") }
            if let running = entry.migrationID { throw CommandRejection("persona \(personaID) is already being migrated (\(running))") }
            guard entry.shard == source else { throw CommandRejection("persona \(personaID) is on \(entry.shard), not \(source)") }
            guard shardStatus[target] == .active else { throw CommandRejection("shard \(target) is not an active shard") }
            guard target != source else { throw CommandRejection("persona \(personaID) is already on \(target)") }
            guard Self.batchSizeRange.contains(batchSize) else { throw CommandRejection("batch size \(batchSize) is outside \(Self.batchSizeRange.text)") }
            if let reverseOf {
                guard let original = migrations[reverseOf], original.kind == .persona, original.phase == .completed,
                    original.personaId == personaID, original.source == target, original.target == source
                else { throw CommandRejection("\(reverseOf) is not a completed migration of \(personaID) from \(target) to \(source)") }
            }
            if let planId {
                guard let plan = plans[planId], plan.isUnfinished,
                    plan.moves.contains(where: { $0.personaId == personaID && (($0.source == source && $0.target == target) || ($0.source == target && $0.target == source)) })
                else { throw CommandRejection("plan \(planId) is not running a move of \(personaID) from \(source) to \(target)") }
            }
            let migration = MigrationWorkflow(
                id: id, personaId: personaID, source: source, target: target, batchSize: batchSize, reverseOf: reverseOf,
                planId: planId, lsn: lsn, at: timestamp)
            migrationCount += 1
            migrations[id] = migration
            personas[personaID]!.migrationID = id
            effects.catalog.append(.putMigration(migration))
            effects.shards.append((target, .dropStaged(personaID: personaID)))

        case .migrationCopied(let id, let rows, let cursor):
            var migration = try migration(id, in: [.started, .copying], "copy rows")
            guard cursor > migration.cursor else { throw CommandRejection("\(id): the copy cursor must move forward") }
            try checkRows(rows, of: migration.personaId, after: migration.cursor, through: cursor)
            _ = migration.copied(rows: rows.rowCount, cursor: cursor, lsn: lsn, at: timestamp)
            migrations[id] = migration
            effects.catalog.append(.putMigration(migration))
            if rows.rowCount > 0 { effects.shards.append((migration.target, .staged(.putRows(rows)))) }

        case .migrationVerify(let id):
            var migration = try migration(id, in: [.copied, .verifying], "verify")
            _ = migration.verificationRequested(lsn: lsn, at: timestamp)
            migrations[id] = migration
            effects.catalog.append(.putMigration(migration))
            effects.shards.append((migration.source, .reportPersonaDigest(personaID: migration.personaId, staged: false, lsn: lsn)))
            effects.shards.append((migration.target, .reportPersonaDigest(personaID: migration.personaId, staged: true, lsn: lsn)))

        case .migrationVerified(let id, let sourceDigest, let targetDigest, let atLSN):
            var migration = try migration(id, in: [.verifying], "record a verification")
            guard sourceDigest == targetDigest else { throw CommandRejection("\(id): the digests differ; that is migrationFailed") }
            guard atLSN > migration.startedLSN, atLSN < lsn else { throw CommandRejection("\(id): verified at LSN \(atLSN), outside the migration") }
            _ = migration.verified(sourceDigest: sourceDigest, targetDigest: targetDigest, lsn: lsn, at: timestamp)
            migrations[id] = migration
            effects.catalog.append(.putMigration(migration))

        case .migrationFailed(let id, let reason, let sourceDigest, let targetDigest):
            var migration = try migration(id, in: [.verifying], "fail")
            _ = migration.failed(reason: reason, sourceDigest: sourceDigest, targetDigest: targetDigest, lsn: lsn, at: timestamp)
            end(migration, into: &effects)

        case .migrationCutOver(let id):
            var migration = try migration(id, in: [.verified], "cut over")
            _ = migration.cutOver(lsn: lsn, at: timestamp)
            migrations[id] = migration
            let personaID = migration.personaId
            // WF-025: the placement moves; rows leave the source; staged rows become the target's.
            effects.shards.append((migration.source, .deletePersona(id: personaID)))
            effects.shards.append((migration.target, .promoteStaged(personaID: personaID)))
            personas[personaID]!.shard = migration.target
            if let count = personas[personaID]!.detached.removeValue(forKey: migration.target), count > 0 {
                for memory in personas[personaID]!.memoryIDs where detachedHomes[memory] == migration.target { detachedHomes[memory] = nil }
                effects.catalog.append(.attachMemories(personaID: personaID, shard: migration.target))
            }
            effects.catalog.append(.place(personaID: personaID, shard: migration.target))
            effects.catalog.append(.putMigration(migration))

        case .migrationCompleted(let id):
            var migration = try migration(id, in: [.cutOver], "complete")
            _ = migration.completed(lsn: lsn, at: timestamp)
            end(migration, into: &effects)

        case .migrationAborted(let id, let reason):
            guard let current = migrations[id] else { throw CommandRejection("no migration with id \(id)") }
            if current.phase == .cutOver || current.phase == .completed {
                throw CommandRejection("\(id) is past its cut-over; reverse it instead (`shardlog migration reverse \(id)`)")
            }
            var migration = try migration(id, in: [.started, .copying, .copied, .verifying, .verified], "abort")
            _ = migration.aborted(reason: reason, lsn: lsn, at: timestamp)
            end(migration, into: &effects)

        case .memoryMoved(let id, let memoryID, let source, let target, let row):
            // WF-040, WF-041
            guard id == nextMigrationID else { throw CommandRejection("the next migration id is \(nextMigrationID), not \(id)") }
            guard let memory = memories[memoryID] else { throw CommandRejection("no memory with id \(memoryID)") }
            guard let persona = personas[memory.personaID] else { throw CommandRejection("memory \(memoryID) has no persona") }
            if let running = persona.migrationID { throw CommandRejection("persona \(memory.personaID) is being migrated (\(running))") }
            let oldHome = detachedHomes[memoryID]
            let home = oldHome ?? persona.shard
            guard home == source else { throw CommandRejection("memory \(memoryID) is on \(home), not \(source)") }
            guard shardStatus[target] == .active else { throw CommandRejection("shard \(target) is not an active shard") }
            guard target != source else { throw CommandRejection("memory \(memoryID) is already on \(target)") }
            guard row.id == memoryID, row.personaId == memory.personaID else { throw CommandRejection("the row is not memory \(memoryID)") }
            migrationCount += 1
            let newHome: String? = target == persona.shard ? nil : target
            if let old = oldHome { personas[memory.personaID]!.detached[old, default: 1] -= 1 }
            if personas[memory.personaID]!.detached[source] == 0 { personas[memory.personaID]!.detached[source] = nil }
            if let newHome { personas[memory.personaID]!.detached[newHome, default: 0] += 1 }
            detachedHomes[memoryID] = newHome
            let migration = MigrationWorkflow(
                memoryMove: id, memoryId: memoryID, personaId: memory.personaID, source: source, target: target, lsn: lsn, at: timestamp)
            migrations[id] = migration
            effects.shards.append((source, .removeMemory(id: memoryID)))
            effects.shards.append((target, .putRows(RowSet(memories: [row]))))
            effects.catalog.append(.setMemoryHome(id: memoryID, shard: newHome))
            effects.catalog.append(.putMigration(migration))

        case .rebalancePlanned(let planId, let moves, let analysis):
            // WF-053
            guard planId == nextPlanID else { throw CommandRejection("the next plan id is \(nextPlanID), not \(planId)") }
            if let running = plans.values.first(where: \.isUnfinished) { throw CommandRejection("plan \(running.id) is still \(running.phase.rawValue)") }
            guard !moves.isEmpty else { throw CommandRejection("a plan needs at least one move") }
            var seen = Set<String>()
            for move in moves {
                guard seen.insert(move.personaId).inserted else { throw CommandRejection("persona \(move.personaId) is moved twice") }
                guard let entry = personas[move.personaId] else { throw CommandRejection("no persona with id \(move.personaId)") }
                guard entry.shard == move.source else { throw CommandRejection("persona \(move.personaId) is on \(entry.shard), not \(move.source)") }
                if let running = entry.migrationID { throw CommandRejection("persona \(move.personaId) is being migrated (\(running))") }
                guard shardStatus[move.target] == .active, move.target != move.source else {
                    throw CommandRejection("shard \(move.target) is not an active shard other than the source")
                }
            }
            planCount += 1
            let plan = RebalanceWorkflow(id: planId, moves: moves, analysis: analysis, lsn: lsn)
            plans[planId] = plan
            effects.catalog.append(.putPlan(plan))

        case .rebalanceCompleted(let planId, let validation):
            var plan = try plan(planId, in: [.executing], "complete")
            if let running = migrations.values.first(where: { $0.planId == planId && $0.isUnfinished }) {
                throw CommandRejection("\(running.id) of plan \(planId) has not ended")
            }
            plan.completed(validation: validation, lsn: lsn)
            plans[planId] = plan
            effects.catalog.append(.putPlan(plan))

        case .rebalanceStopped(let planId, let reason):
            var plan = try plan(planId, in: [.executing], "stop")
            if let running = migrations.values.first(where: { $0.planId == planId && $0.isUnfinished }) {
                throw CommandRejection("\(running.id) of plan \(planId) has not ended")
            }
            plan.stopped(reason: reason, lsn: lsn)
            plans[planId] = plan
            effects.catalog.append(.putPlan(plan))

        case .rebalanceRollbackStarted(let planId):
            var plan = try plan(planId, in: [.completed, .stopped], "roll back")
            if let running = plans.values.first(where: \.isUnfinished) { throw CommandRejection("plan \(running.id) is still \(running.phase.rawValue)") }
            plan.rollbackStarted(lsn: lsn)
            plans[planId] = plan
            effects.catalog.append(.putPlan(plan))

        case .rebalanceRolledBack(let planId):
            var plan = try plan(planId, in: [.rollingBack], "finish rolling back")
            if let running = migrations.values.first(where: { $0.planId == planId && $0.isUnfinished }) {
                throw CommandRejection("\(running.id) of plan \(planId) has not ended")
            }
            plan.rolledBack(lsn: lsn)
            plans[planId] = plan
            effects.catalog.append(.putPlan(plan))
        }
    }

    /// Records a migration that ended (completed, aborted, failed): the persona is free again;
    /// an aborted or failed one drops its staged rows.
    private mutating func end(_ migration: MigrationWorkflow, into effects: inout Effects) {
        migrations[migration.id] = migration
        if personas[migration.personaId]?.migrationID == migration.id { personas[migration.personaId]!.migrationID = nil }
        if migration.phase != .completed { effects.shards.append((migration.target, .dropStaged(personaID: migration.personaId))) }
        effects.catalog.append(.putMigration(migration))
    }

    private func migration(_ id: String, in phases: Set<MigrationWorkflow.Phase>, _ what: String) throws(CommandRejection) -> MigrationWorkflow {
        guard let migration = migrations[id], migration.kind == .persona else { throw CommandRejection("no persona migration with id \(id)") }
        guard phases.contains(migration.phase) else { throw CommandRejection("\(id) is \(migration.phase.rawValue): cannot \(what)") }
        return migration
    }

    private func plan(_ id: String, in phases: Set<RebalanceWorkflow.Phase>, _ what: String) throws(CommandRejection) -> RebalanceWorkflow {
        guard let plan = plans[id] else { throw CommandRejection("no rebalance plan with id \(id)") }
        guard phases.contains(plan.phase) else { throw CommandRejection("plan \(id) is \(plan.phase.rawValue): cannot \(what)") }
        return plan
    }

    /// What a shard still holds, for WF-012 (nil when nothing).
    func ownership(of shard: String) -> String? {
        let placed = personas.values.filter { $0.shard == shard }.count
        if placed > 0 { return "\(placed) persona\(placed == 1 ? "" : "s")" }
        let detached = detachedHomes.values.filter { $0 == shard }.count
        if detached > 0 { return "\(detached) detached memor\(detached == 1 ? "y" : "ies")" }
        if let migration = migrations.values.first(where: { $0.isUnfinished && ($0.source == shard || $0.target == shard) }) {
            return "the unfinished migration \(migration.id)"
        }
        return nil
    }

    /// WF-022: a copy step's rows are the persona's, in cursor order, after `previous` and
    /// up to `cursor`.
    private func checkRows(_ rows: RowSet, of personaID: String, after previous: CopyCursor, through cursor: CopyCursor) throws(CommandRejection) {
        var keys: [CopyCursor] = []
        if let persona = rows.persona {
            guard persona.id == personaID else { throw CommandRejection("a copied persona row is not \(personaID)") }
            keys.append(CopyCursor(table: .persona, key: persona.id))
        }
        for memory in rows.memories {
            guard memory.personaId == personaID else { throw CommandRejection("copied memory \(memory.id) is not \(personaID)'s") }
            keys.append(CopyCursor(table: .memories, key: memory.id))
        }
        for conversation in rows.conversations {
            guard conversation.personaId == personaID else { throw CommandRejection("copied conversation \(conversation.id) is not \(personaID)'s") }
            keys.append(CopyCursor(table: .conversations, key: conversation.id))
        }
        for message in rows.messages {
            guard conversations[message.conversationId]?.personaID == personaID else {
                throw CommandRejection("a copied message of \(message.conversationId) is not \(personaID)'s")
            }
            keys.append(CopyCursor(table: .messages, key: message.conversationId, sequence: message.message.sequence))
        }
        var last = previous
        for key in keys {
            guard last < key, key <= cursor else { throw CommandRejection("copied rows are not in cursor order after \(previous.table.name)") }
            last = key
        }
    }
}
