import CommandLog
import Foundation
import Testing

@testable import ShardLog

/// INV-1, INV-5, INV-6: a process applying commands is killed with SIGKILL at random
/// moments; after reopening, every acknowledged write is visible, the projections caught
/// up (every shard's applied LSN is the log's last), and every digest equals a rebuild.
@Suite struct StoreCrashTests {
    @Test func sigkillDuringWritesLosesNothingAcknowledged() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let rounds = ProcessInfo.processInfo.environment["SHARDLOG_CRASH_ROUNDS"].flatMap(Int.init).map { max(1, $0 / 4) } ?? 5
        var rng = SeededRandom(seed: 77)
        var personas: Set<String> = []
        var memories: [String: String] = [:]
        var conversations: [String: String] = [:]
        var messages: [String: Int] = [:]
        let child = productsDirectory.appendingPathComponent("shardstore-crash-child")
        for round in 0..<rounds {
            let process = Process()
            process.executableURL = child
            process.arguments = [dir.store, String(Int.random(in: 1...16, using: &rng)), String(round)]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            // The kill timer starts once the child is ready (it prints "open …" first), so a slow
            // start on a loaded machine cannot leave a round with nothing written.
            let firstLine = readLine(from: pipe.fileHandleForReading)
            #expect(firstLine.hasPrefix("open"), "round \(round): the child started: \(firstLine)")
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...900, using: &rng)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): killed, not failed")
            let output = firstLine + String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            var acks = 0
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: " ").map(String.init)
                switch parts.first {
                case "error": Issue.record("round \(round): the child failed: \(line)")
                case "persona": personas.insert(parts[1]); acks += 1
                case "memory": memories[parts[1]] = parts[2]; acks += 1
                case "conversation": conversations[parts[1]] = parts[2]; acks += 1
                case "message": messages[parts[1]] = max(messages[parts[1]] ?? 0, Int(parts[2])!); acks += 1
                default: break
                }
            }
            #expect(acks > 0, "round \(round): the child acknowledged writes before it was killed")

            let store = try await ShardStore.open(at: dir.store)
            for id in personas { #expect(try store.persona(id: id) != nil, "round \(round): persona \(id) lost") }
            for (id, persona) in memories {
                let memory = try store.memory(id: id)
                #expect(memory?.personaId == persona, "round \(round): memory \(id) lost")
                #expect(store.shardForPersona(persona) != nil)
            }
            for (id, persona) in conversations { #expect(try store.conversation(id: id)?.personaId == persona, "round \(round): conversation \(id) lost") }
            for (id, count) in messages { #expect((try store.conversation(id: id)?.messageCount ?? 0) >= count, "round \(round): messages of \(id) lost") }
            // Units are atomic: both memories of a pair or neither.
            for memory in try store.memories(tier: .cold) where memory.id.hasSuffix("b") {
                #expect(try store.memory(id: String(memory.id.dropLast()) + "a") != nil, "round \(round): half a unit")
            }
            for statistics in try store.statistics() {
                // PROJ-004: caught up = every effect on the shard applied (untouched shards may lag).
                #expect(statistics.appliedLSN >= (try store.catalog.touchedLSNs()[statistics.id] ?? .zero), "round \(round): \(statistics.id) caught up")
            }
            // The reopened store takes writes (its applier starts after the caught-up log).
            try await store.execute(.createPersona(PersonaCreation(id: "after-round-\(round)", shard: "", name: "check")))
            personas.insert("after-round-\(round)")
            let live = try store.digests()
            try await store.rebuild()
            #expect(try store.digests() == live, "round \(round): rebuild equals live")
            try await store.close()
        }
    }

    /// Issue 4: a child migrating a persona while writing to it is killed right after each
    /// workflow step in turn (a stdin handshake pins the kill between steps), and at random
    /// moments within copying. After reopening — resuming or aborting, alternately — every
    /// acknowledged write is there, the migration is completed or cleanly aborted, no staged
    /// rows are left, each persona has exactly one home, and rebuild equals live.
    @Test func sigkillAtEveryMigrationStep() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let rounds = ProcessInfo.processInfo.environment["SHARDLOG_CRASH_ROUNDS"].flatMap(Int.init).map { max(16, $0 / 2) } ?? 16
        var rng = SeededRandom(seed: 78)
        var memories: [String: String] = [:]
        let child = productsDirectory.appendingPathComponent("shardstore-crash-child")
        for round in 0..<rounds {
            // Rounds 0…13 kill after step `round` (0 = right after migrationStarted); the others
            // kill at a random moment.
            let killAfterStep: Int? = round < 14 ? round : nil
            let process = Process()
            process.executableURL = child
            process.arguments = [dir.store, "migration", String(round), killAfterStep == nil ? "0" : "1"]
            let output = Pipe()
            let input = Pipe()
            process.standardOutput = output
            process.standardInput = input
            try process.run()
            var lines: [String] = []
            let first = readLine(from: output.fileHandleForReading)
            #expect(first.hasPrefix("open"), "round \(round): the child started: \(first)")
            var steps = 0
            var migrationID: String?
            var finished = false
            if let killAfterStep {
                while true {
                    let line = readLine(from: output.fileHandleForReading).trimmingCharacters(in: .whitespacesAndNewlines)
                    if line.isEmpty { break }
                    lines.append(line)
                    if line.hasPrefix("done") { finished = true; break }
                    if line.hasPrefix("error") { break }
                    guard line.hasPrefix("step") else { continue }
                    migrationID = line.split(separator: " ").map(String.init).last?.trimmingCharacters(in: .whitespacesAndNewlines)
                    if steps == killAfterStep { break }
                    steps += 1
                    input.fileHandleForWriting.write(Data("go\n".utf8))
                }
            } else {
                try await Task.sleep(for: .milliseconds(Int.random(in: 20...400, using: &rng)))
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            lines += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init)
            for line in lines {
                let parts = line.split(separator: " ").map(String.init)
                switch parts.first {
                case "error": Issue.record("round \(round): the child failed: \(line)")
                case "memory": memories[parts[1]] = parts[2]
                case "step": migrationID = parts.last
                case "done": finished = true
                default: break
                }
            }
            let policy: WorkflowRecovery = round % 2 == 0 ? .resume : .abort
            var configuration = StoreConfiguration()
            configuration.workflowRecovery = policy
            let store = try await ShardStore.open(at: dir.store, configuration: configuration)
            let note = "round \(round) (killed after step \(killAfterStep.map(String.init) ?? "random"), \(policy))"
            for (id, persona) in memories {
                let found = try store.memory(id: id)
                #expect(found?.personaId == persona, "\(note): memory \(id) lost (state: \(String(describing: store.withState { $0.memories[id] })), persona on \(store.shardForPersona(persona) ?? "-"))")
            }
            if let migrationID, let migration = store.migration(id: migrationID) {
                switch policy {
                case .resume: #expect(migration.phase == .completed, "\(note): resumed to the end")
                default: #expect(migration.phase == .completed || migration.phase == .aborted, "\(note): \(migration.phase)")
                }
                #expect(store.shardForPersona(migration.personaId) == (migration.phase == .completed ? migration.target : migration.source), "\(note)")
                if finished { #expect(migration.phase == .completed, "\(note)") }
            }
            #expect(store.migrations().allSatisfy { !$0.isUnfinished }, "\(note): nothing left half-done")
            for shard in store.shardIDs { #expect(try store.stagedRowCount(on: shard) == 0, "\(note): staged rows left on \(shard)") }
            let touched = try store.catalog.touchedLSNs()
            for statistics in try store.statistics() {
                #expect(statistics.appliedLSN >= touched[statistics.id] ?? .zero, "\(note): \(statistics.id) caught up")
            }
            try await expectOneHome(store, note)
            let live = try store.digests()
            try await store.rebuild()
            #expect(try store.digests() == live, "\(note): rebuild equals live")
            try await store.close()
        }
    }

    /// Issue 4: a child rebalancing (or draining a shard) while writing is killed at random
    /// moments; after reopening — resuming or aborting — every acknowledged write is there, no
    /// migration or plan is left half-done, a drained shard can be drained to the end, one
    /// home, rebuild equals live.
    @Test func sigkillDuringRebalanceAndDrain() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let rounds = ProcessInfo.processInfo.environment["SHARDLOG_CRASH_ROUNDS"].flatMap(Int.init).map { max(6, $0 / 5) } ?? 6
        var rng = SeededRandom(seed: 79)
        var memories: [String: String] = [:]
        let child = productsDirectory.appendingPathComponent("shardstore-crash-child")
        for round in 0..<rounds {
            let drain = round % 3 == 2
            let process = Process()
            process.executableURL = child
            process.arguments = [dir.store, drain ? "drain" : "rebalance", String(round)]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let first = readLine(from: output.fileHandleForReading)
            #expect(first.hasPrefix("open"), "round \(round): the child started: \(first)")
            try await Task.sleep(for: .milliseconds(Int.random(in: 30...600, using: &rng)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            var drained: String?
            var planID: String?
            for line in String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: " ").map(String.init)
                switch parts.first {
                case "error": Issue.record("round \(round): the child failed: \(line)")
                case "memory": memories[parts[1]] = parts[2]
                case "drain": drained = parts[1]
                case "plan": planID = parts[1]
                default: break
                }
            }
            let policy: WorkflowRecovery = round % 2 == 0 ? .resume : .abort
            var configuration = StoreConfiguration()
            configuration.workflowRecovery = policy
            let store = try await ShardStore.open(at: dir.store, configuration: configuration)
            let note = "round \(round) (\(drain ? "drain" : "rebalance"), \(policy))"
            for (id, persona) in memories { #expect(try store.memory(id: id)?.personaId == persona, "\(note): memory \(id) lost") }
            #expect(store.migrations().allSatisfy { !$0.isUnfinished }, "\(note): no migration left half-done")
            #expect(store.plans().allSatisfy { !$0.isUnfinished }, "\(note): no plan left half-done")
            if let planID, let plan = store.plan(id: planID) {
                if policy == .resume {
                    #expect(plan.phase == .completed, "\(note): \(planID) resumed to the end: \(plan.phase) \(plan.outcome ?? "")")
                } else {
                    #expect(plan.phase == .completed || plan.phase == .stopped, "\(note): \(planID) \(plan.phase)")
                }
            }
            for shard in store.shardIDs { #expect(try store.stagedRowCount(on: shard) == 0, "\(note): staged rows left on \(shard)") }
            try await expectOneHome(store, note)
            // A drain the crash cut short can be finished.
            if let drained, store.shards().first(where: { $0.id == drained })?.status == .draining {
                try await store.drainShard(drained)
                #expect(store.shards().first { $0.id == drained }?.status == .removed, "\(note): drained to the end")
                try await expectOneHome(store, note + " after finishing the drain")
            }
            let live = try store.digests()
            try await store.rebuild()
            #expect(try store.digests() == live, "\(note): rebuild equals live")
            try await store.close()
        }
    }
}
