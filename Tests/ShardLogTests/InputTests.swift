import CommandLog
import Foundation
import Testing

@testable import ShardLog

/// What `apply` and the JSON parser accept and refuse: bytes that are not UTF-8 (CMD-018),
/// fields an op does not define (CMD-017), CRLF line ends, and what the CLI prints.
@Suite struct InputTests {
    /// The ill-formed sequences of the Unicode Standard's Table 3-7, each kind.
    static let malformed: [(name: String, bytes: [UInt8], kind: UTF8Check.Failure.Kind)] = [
        ("lone continuation byte", [0x80], .loneContinuationByte),
        ("truncated two-byte sequence", [0xC3, 0x20], .truncatedSequence),
        ("truncated three-byte sequence", [0xE2, 0x82, 0x20], .truncatedSequence),
        ("truncated four-byte sequence at the end", [0xF0, 0x9F, 0x98], .truncatedSequence),
        ("overlong two-byte '/'", [0xC0, 0xAF], .overlongEncoding),
        ("overlong three-byte", [0xE0, 0x80, 0xAF], .overlongEncoding),
        ("overlong four-byte", [0xF0, 0x80, 0x80, 0xAF], .overlongEncoding),
        ("surrogate U+D800", [0xED, 0xA0, 0x80], .surrogate),
        ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80], .beyondUnicode),
        ("ff", [0xFF], .invalidByte),
        ("fe", [0xFE], .invalidByte),
    ]

    /// One valid object of every op with every field it defines, strings everywhere a
    /// string can be (envelope, nested structures, list elements).
    static func completeObjects() -> [[String: Any]] {
        let envelope: [String: Any] = ["actor": "alice", "reason": "because", "commandId": "cmd-1", "timestamp": "2026-01-02T03:04:05.000006Z"]
        let structures: [String: Any] = [
            "personality": ["traits": ["curious"], "temperament": "calm", "communicationStyle": "brief"],
            "memoryConfiguration": ["maxMemories": 10, "memoryImportanceThreshold": 5, "autoOptimize": false, "retentionPeriod": 3,
                                    "memoryCategories": ["fact"], "compressionEnabled": false],
            "privacySettings": ["dataCollection": false, "analyticsEnabled": true, "shareWithResearchers": true,
                                "allowPersonalityAnalysis": false, "memoryRetention": false, "exportDataAllowed": false],
        ]
        let values: [String: Any] = [
            "id": "x1", "shard": "shard_00", "name": "Ada", "description": "a persona", "isActive": true, "personaId": "p1",
            "type": "text", "content": "likes tea", "summary": "tea", "tags": ["drink", "preference"], "importance": 70, "tier": "warm",
            "embedding": [0.5, 0.25, 0, 1], "embeddingModel": "minilm", "accessCount": 3, "lastAccessedAt": "2026-01-02T03:04:05Z",
            "title": "Morning", "conversationId": "c1", "role": "user",
        ].merging(structures) { a, _ in a }
        return CommandJSON.ops.map { op in
            var object = envelope
            object["op"] = op
            for field in CommandJSON.fields[op]! { object[field] = values[field]! }
            return object
        }
    }

    /// Every path to a string in `value` (object keys and list indexes), keys included as
    /// paths ending in "#key".
    static func stringPaths(_ value: Any, _ path: [String] = []) -> [[String]] {
        switch value {
        case let text as String where !text.isEmpty: return [path]
        case let object as [String: Any]:
            return object.keys.sorted().flatMap { key in [path + [key, "#key"]] + stringPaths(object[key]!, path + [key]) }
        case let list as [Any]: return list.indices.flatMap { stringPaths(list[$0], path + [String($0)]) }
        default: return []
        }
    }

    static let marker = "MARKER-7f3a"

    /// `value` with the string (or key) at `path` replaced by the marker.
    static func marking(_ value: Any, at path: [String]) -> Any {
        guard let head = path.first else { return marker }
        if var object = value as? [String: Any] {
            if path.count == 2 && path[1] == "#key" {
                object[marker] = object.removeValue(forKey: head)
                return object
            }
            object[head] = marking(object[head]!, at: Array(path.dropFirst()))
            return object
        }
        var list = value as! [Any]
        list[Int(head)!] = marking(list[Int(head)!], at: Array(path.dropFirst()))
        return list
    }

    static func bytes(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    static func replacing(_ data: Data, _ marker: String, with replacement: [UInt8]) -> Data {
        let needle = Array(marker.utf8)
        var bytes = Array(data)
        let at = (0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }!
        bytes.replaceSubrange(at..<(at + needle.count), with: replacement)
        return Data(bytes)
    }

    @Test func theCheckerFindsEachKindAndItsOffset() {
        for sample in Self.malformed {
            let bytes = Array("caf".utf8) + sample.bytes + Array("é".utf8)
            let failure = UTF8Check.firstFailure(in: bytes)
            #expect(failure?.offset == 3 && failure?.kind == sample.kind, "\(sample.name): \(String(describing: failure))")
            #expect(String(validating: bytes, as: UTF8.self) == nil, "\(sample.name) is ill-formed by the standard library's reading too")
        }
        // The boundaries of Table 3-7 that are well formed.
        for good: [UInt8] in [[0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
                              [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF]] {
            #expect(UTF8Check.firstFailure(in: good) == nil, "\(good)")
        }
        #expect(UTF8Check.firstFailure(in: [0x63, 0x61, 0x66, 0xC3, 0x20, 0xFF, 0xFE])?.description
                == "byte 4 is not valid UTF-8 (C3: a multi-byte sequence cut short)")
    }

    /// Each kind of ill-formed sequence inside every string (and every key) of every op's
    /// complete object is refused with the line named; the object without it parses.
    @Test func malformedUTF8InAnyStringOfAnyOpIsRefused() throws {
        let first = try Self.bytes(["op": "createPersona", "id": "p0", "name": "Zed"]) + Data([0x0A])
        var cases = 0
        for object in Self.completeObjects() {
            let op = object["op"] as! String
            let valid = try CommandJSON.parseLines(first + Self.bytes(object))
            #expect(valid.count == 2 && valid[1].line == 2, "\(op): the complete object parses")
            for path in Self.stringPaths(object) {
                let marked = try Self.bytes(Self.marking(object, at: path))
                for sample in Self.malformed {
                    let line = Self.replacing(marked, Self.marker, with: Array("caf".utf8) + sample.bytes + Array("x".utf8))
                    do {
                        _ = try CommandJSON.parseLines(first + line)
                        Issue.record("\(op) \(path) \(sample.name) was accepted")
                    } catch {
                        #expect(error.line == 2 && error.reason.contains("is not valid UTF-8"), "\(op) \(path) \(sample.name): \(error)")
                    }
                    cases += 1
                }
            }
        }
        #expect(cases > 1_000, "\(cases) cases")
    }

    /// A JSON escape of a lone surrogate names no character either.
    @Test func anEscapedLoneSurrogateIsRefused() {
        for escape in [#"\ud800"#, #"\udfff"#, #"x\ud83dy"#] {
            #expect(throws: CommandJSON.LineProblem.self, "\(escape)") {
                _ = try CommandJSON.parseLines(Data(#"{"op":"createPersona","id":"p1","name":"\#(escape)"}"#.utf8))
            }
        }
        let pair = try? CommandJSON.parseLines(Data(#"{"op":"createPersona","id":"p1","name":"\ud83d\ude00"}"#.utf8))
        if case .createPersona(let p)? = pair?.first?.command { #expect(p.name == "😀") } else { Issue.record("a surrogate pair is a character") }
    }

    /// The issue's example, through the CLI from a file and from standard input: exit 2,
    /// the line named, nothing written.
    @Test func applyRefusesBytesThatAreNotUTF8() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(try runShardLog(["init", "--data-dir", dir.store]).status == 0)
        let input = Data(#"{"op":"createPersona","id":"p1","name":"Ada"}"#.utf8) + Data([0x0A])
            + Data(#"{"op":"createPersona","id":"p2","name":""#.utf8) + Data([0x63, 0x61, 0x66, 0xC3, 0x20, 0xFF, 0xFE]) + Data(#""}"#.utf8) + Data([0x0A])
        let file = dir.path + "/bad.jsonl"
        #expect(FileManager.default.createFile(atPath: file, contents: input))
        for (name, result) in [("file", try runShardLog(["apply", "--data-dir", dir.store, file])),
                               ("standard input", try runShardLog(["apply", "--data-dir", dir.store, "-"], bytes: input))] {
            #expect(result.status == 2, "\(name): \(result.stderr)")
            #expect(result.stderr == "shardlog: line 2: byte 44 is not valid UTF-8 (C3: a multi-byte sequence cut short); nothing was applied\n", "\(name)")
        }
        let log = try jsonLines(try runShardLog(["log", "--data-dir", dir.store]).stdout)
        #expect(log.map { $0["op"] as? String } == ["initializeStore"], "nothing was written")
    }

    @Test func aFieldAnOpDoesNotDefineIsRefusedWithTheNearestName() throws {
        let cases: [(String, String)] = [
            (#"{"op":"addMemory","id":"m1","personaId":"p1","name":"n","content":"c","importnce":90}"#,
             #"unknown field "importnce" — did you mean "importance"?"#),
            (#"{"op":"createPersona","id":"p1","name":"n","personality":{"temprament":"calm"}}"#,
             #"unknown field "personality.temprament" — did you mean "personality.temperament"?"#),
            (#"{"op":"createPersona","id":"p1","name":"n","privacySettings":{"DataCollection":false}}"#,
             #"unknown field "privacySettings.DataCollection" — did you mean "privacySettings.dataCollection"?"#),
            (#"{"op":"deleteMemory","id":"m1","flavour":"mint"}"#, #"unknown field "flavour""#),
            (#"{"op":"addMessage","conversationId":"c1","role":"user","content":"hi","actr":"bob"}"#,
             #"unknown field "actr" — did you mean "actor"?"#),
            (#"{"op":"deleteMemory","id":"m1","lsn":7}"#, #"unknown field "lsn""#),
        ]
        for (line, message) in cases {
            #expect(throws: CommandJSON.Problem(message), "\(line)") { _ = try CommandJSON.parse(line: line) }
        }
        #expect(CommandJSON.nearestName(to: "flavour", in: CommandJSON.envelopeFields + ["id"]) == nil)
        #expect(Set(CommandJSON.ops) == Set(CommandJSON.fields.keys), "every op apply accepts has its field table, and no table is for an op it refuses")
    }

    /// Through the CLI, from a file and from standard input; and CRLF line ends are applied.
    @Test func applyRefusesUnknownFieldsAndAcceptsCRLF() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(try runShardLog(["init", "--data-dir", dir.store]).status == 0)
        let typo = """
            {"op":"createPersona","id":"p1","name":"Ada"}
            {"op":"addMemory","id":"m1","personaId":"p1","name":"tea","content":"likes tea","importnce":90}

            """
        let file = dir.path + "/typo.jsonl"
        #expect(FileManager.default.createFile(atPath: file, contents: Data(typo.utf8)))
        for result in [try runShardLog(["apply", "--data-dir", dir.store, file]), try runShardLog(["apply", "--data-dir", dir.store, "-"], input: typo)] {
            #expect(result.status == 2)
            #expect(result.stderr == "shardlog: line 2: unknown field \"importnce\" — did you mean \"importance\"?; nothing was applied\n")
        }
        let crlf = typo.replacingOccurrences(of: "importnce", with: "importance").replacingOccurrences(of: "\n", with: "\r\n")
            + "{\"op\":\"markMemoryAccessed\",\"id\":\"m1\"}\r\n\r\n"
        let crlfFile = dir.path + "/windows.jsonl"
        #expect(FileManager.default.createFile(atPath: crlfFile, contents: Data(crlf.utf8)))
        let fromFile = try runShardLog(["apply", "--data-dir", dir.store, crlfFile])
        #expect(fromFile.status == 0 && fromFile.stdout == "applied 3 commands, LSN 2…4\n", "\(fromFile.stderr)")
        let fromInput = try runShardLog(["apply", "--data-dir", dir.store, "-"], input: "{\"op\":\"markMemoryAccessed\",\"id\":\"m1\"}\r\n")
        #expect(fromInput.status == 0 && fromInput.stdout == "applied 1 command, LSN 5\n", "\(fromInput.stderr)")
        let memory = try jsonLines(try runShardLog(["memories", "--persona", "p1", "--data-dir", dir.store, "--json"]).stdout).first
        #expect(memory?["importance"] as? Int == 90 && memory?["accessCount"] as? Int == 2 && memory?["name"] as? String == "tea")
    }

    /// Every option of every help page says its default at most once.
    @Test func everyOptionSaysItsDefaultOnce() throws {
        var pending: [[String]] = [[]]
        var options = 0
        while let path = pending.popLast() {
            let page = try runShardLog(path + ["--help"]).stdout
            // An option's entry starts with "  -" and runs to the next such line.
            let entries = page.components(separatedBy: "\n  -").dropFirst()
            for entry in entries {
                let text = entry.components(separatedBy: "\n\n").first ?? entry
                let defaults = text.components(separatedBy: "default").count - 1
                #expect(defaults <= 1, "`shardlog \(path.joined(separator: " ")) --help`: -\(text)")
                options += 1
            }
            guard let section = page.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { continue }
            for line in section.split(separator: "\n") where line.hasPrefix("  ") && !line.hasPrefix("   ") {
                let name = line.split(separator: " ").first.map(String.init) ?? ""
                if !name.isEmpty && name != "See" { pending.append(path + [name]) }
            }
        }
        #expect(options > 100, "\(options) options read")
    }
}
