import ArgumentParser
import CommandLog
import Foundation
import ShardLog

// What the workflow subcommands share: progress on a terminal, and how a migration, a move
// and a count are printed.

/// A workflow's progress on standard error when it is a terminal (rows, rate, time left);
/// nothing when piped.
final class WorkflowProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private var started: [String: ContinuousClock.Instant] = [:]

    var handler: WorkflowProgressHandler {
        { [self] progress in
            guard TerminalProgress.enabled else { return }
            let now = ContinuousClock.now
            let start = lock.withLock { started[progress.migrationId, default: now] }
            lock.withLock { started[progress.migrationId] = start }
            let elapsed = (now - start).seconds
            let rate = elapsed > 0 ? Double(progress.rowsCopied) / elapsed : 0
            let left = rate > 0 ? Double(max(0, progress.rowsTotal - progress.rowsCopied)) / rate : 0
            let line = String(
                format: "\r\u{1B}[K%@ %@: %d of %d rows (%.0f rows/s, %.0f s left)", progress.migrationId, progress.phase.rawValue,
                progress.rowsCopied, progress.rowsTotal, rate, left)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// A migration's steps as the log has them, in order: each command's fields (`op`, and
/// `rows` for a copy step) with its `lsn` and `time`.
func loggedSteps(of m: MigrationWorkflow, in store: ShardStore) throws -> [[String: Any]] {
    var steps: [[String: Any]] = []
    try store.forEachLoggedCommand(from: m.startedLSN) { entry in
        guard case .workflow(let step) = entry.command, step.migrationId == m.id else { return }
        var o = CommandJSON.fields(entry.command)
        o["lsn"] = Int(entry.lsn.rawValue)
        o["time"] = ISO8601.format(entry.timestamp)
        steps.append(o)
    }
    return steps
}

/// "1 row", "2 rows".
/// Prints a migration as `--json` asks: its object, or its line.
func report(_ m: MigrationWorkflow, json: Bool) {
    if json { printJSON(migrationObject(m)) } else { print(migrationLine(m)) }
}

/// A migration command's end: the progress line cleared, the migration reported, and exit 1
/// unless it reached one of `phases` (completed, unless the command asked to stop earlier).
func reportEnded(_ m: MigrationWorkflow, json: Bool, reaching phases: Set<MigrationWorkflow.Phase> = [.completed]) throws {
    TerminalProgress.finish()
    report(m, json: json)
    if !phases.contains(m.phase) { throw ExitCode(ExitStatus.failure) }
}

/// "1 memory", "2 memories": a count and its noun in English.
func counted(_ n: Int, _ noun: String) -> String {
    guard n != 1 else { return "\(n) \(noun)" }
    if noun.hasSuffix("y") && !["ay", "ey", "oy", "uy"].contains(where: noun.hasSuffix) { return "\(n) \(noun.dropLast())ies" }
    return "\(n) \(noun)s"
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func migrationObject(_ m: MigrationWorkflow) -> [String: Any] {
    var o: [String: Any] = [
        "id": m.id, "kind": m.kind.rawValue, "personaId": m.personaId, "source": m.source, "target": m.target,
        "phase": m.phase.rawValue, "rowsCopied": m.rowsCopied, "batchSize": m.batchSize,
        "startedLSN": Int(m.startedLSN.rawValue), "updatedLSN": Int(m.updatedLSN.rawValue),
        "startedAt": ISO8601.format(m.startedAt), "updatedAt": ISO8601.format(m.updatedAt),
    ]
    if let v = m.memoryId { o["memoryId"] = v }
    if let v = m.reverseOf { o["reverseOf"] = v }
    if let v = m.planId { o["planId"] = v }
    if let v = m.sourceDigest { o["sourceDigest"] = v }
    if let v = m.targetDigest { o["targetDigest"] = v }
    if let v = m.reason { o["reason"] = v }
    return o
}

func migrationLine(_ m: MigrationWorkflow) -> String {
    let what = m.memoryId.map { "memory \($0) of \(m.personaId)" } ?? m.personaId
    var line = "\(m.id)\t\(m.phase.rawValue)\t\(what)\t\(m.source) -> \(m.target)\t\(counted(m.rowsCopied, "row"))"
    if let reverseOf = m.reverseOf { line += "\treverses \(reverseOf)" }
    if let planId = m.planId { line += "\t\(planId)" }
    if let reason = m.reason { line += "\t\(reason)" }
    return line
}

func moveObject(_ move: RebalanceMove) -> [String: Any] {
    ["personaId": move.personaId, "source": move.source, "target": move.target, "records": move.records, "bytes": move.bytes]
}
