import Foundation
import Testing

/// The layering of Specs/Architecture.md §1, checked on the sources: a lower layer names
/// nothing of a higher one. Breaking it (an `import GRDB` in `Model/`, say) fails here.
@Suite struct LayeringTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Swift files under `folder` (relative to the root), with their text.
    static func sources(_ folder: String) throws -> [(path: String, text: String)] {
        let base = root.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(atPath: base.path) else { return [] }
        var files: [(String, String)] = []
        for case let file as String in walker where file.hasSuffix(".swift") {
            files.append((folder + "/" + file, try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)))
        }
        return files.sorted { $0.0 < $1.0 }
    }

    /// The first of `words` (whole identifiers) that `text` uses outside comments, if any.
    static func firstUse(of words: [String], in text: String) -> String? {
        let code = text.split(separator: "\n").map { line -> Substring in
            guard let comment = line.range(of: "//") else { return line }
            return line[..<comment.lowerBound]
        }.joined(separator: "\n")
        for word in words {
            let pattern = "(?<![A-Za-z0-9_])" + NSRegularExpression.escapedPattern(for: word) + "(?![A-Za-z0-9_])"
            if code.range(of: pattern, options: .regularExpression) != nil { return word }
        }
        return nil
    }

    /// The log knows nothing of SQLite, personas or the engine.
    @Test func theLogNamesNothingAboveIt() throws {
        let files = try Self.sources("Sources/CommandLog")
        #expect(files.count > 10)
        for (path, text) in files {
            let use = Self.firstUse(of: ["import GRDB", "import ShardLog", "Persona", "MemoryEntity", "ShardStore", "sqlite3_open_v2"], in: text)
            #expect(use == nil, "\(path) uses \(use ?? "")")
        }
    }

    /// The domain — the model, the commands and their rules, routing, the bounds — knows
    /// nothing of SQLite, the projections, the engine or the workflow drivers.
    @Test func theDomainNamesNoProjectionOrEngine() throws {
        let folders = ["Sources/ShardLog/Model", "Sources/ShardLog/Commands", "Sources/ShardLog/Routing"]
        let files = try folders.flatMap(Self.sources) + [("Sources/ShardLog/EngineLimits.swift",
            try String(contentsOf: Self.root.appendingPathComponent("Sources/ShardLog/EngineLimits.swift"), encoding: .utf8))]
        #expect(files.count > 10)
        let higher = ["import GRDB", "Database", "DatabasePool", "DatabaseQueue", "Row", "ShardStore", "ShardProjection", "CatalogProjection",
                      "Applier", "Rebuilder", "StoreState", "AutoRebalancer", "BackgroundReads"]
        for (path, text) in files {
            let use = Self.firstUse(of: higher, in: text)
            #expect(use == nil, "\(path) uses \(use ?? "")")
        }
    }

    /// SQL is written in `Projections/` (and, for the original app's database, `Legacy/`).
    /// The files listed below still hold some of their own; the list only shrinks — a new
    /// file with SQL fails, and so does a listed file that no longer has any.
    @Test func sqlStaysInTheProjections() throws {
        let stillToMove: Set<String> = [
            "Sources/ShardLog/Engine/ShardStore+Export.swift", "Sources/ShardLog/Engine/ShardStore+Workflows.swift",
            "Sources/ShardLog/Workflows/Rebalancing.swift",
        ]
        var withSQL: Set<String> = []
        for (path, text) in try Self.sources("Sources/ShardLog") where !path.contains("/Projections/") && !path.contains("/Legacy/") {
            let sql = ["\"SELECT ", "\"INSERT ", "\"UPDATE ", "\"DELETE FROM", "CREATE TABLE", "sql: \""].contains { text.contains($0) }
            if sql { withSQL.insert(path) }
        }
        #expect(withSQL == stillToMove, "SQL outside Projections/: \(withSQL.sorted())")
    }
}
