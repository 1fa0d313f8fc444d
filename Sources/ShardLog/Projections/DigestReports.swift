import CommandLog
import Foundation
import GRDB

/// Persona digests reported by live `reportPersonaDigest` effects (WF-024), kept until the
/// migration driver takes them.
final class DigestReports: @unchecked Sendable {
    /// A persona and the database as of the verify step, to digest.
    struct Report {
        var personaID: String
        var snapshot: DatabaseSnapshot
    }
    private let lock = NSLock()
    private var reports: [String: Report] = [:]

    private static func key(_ lsn: LSN, _ staged: Bool) -> String { "\(lsn.rawValue)\(staged ? "s" : "")" }

    func put(lsn: LSN, staged: Bool, report: Report) {
        lock.withLock { reports[Self.key(lsn, staged)] = report }
    }

    /// The persona digest (PROJ-012) reported at `lsn`, computed now from its snapshot.
    func takeDigest(lsn: LSN, staged: Bool) throws -> String? {
        guard let report = lock.withLock({ reports.removeValue(forKey: Self.key(lsn, staged)) }) else { return nil }
        defer { try? report.snapshot.close() }
        return try report.snapshot.read { db in
            try ShardProjection.personaDigest(db, personaID: report.personaID, tables: staged ? .staged : .main)
        }
    }
}
