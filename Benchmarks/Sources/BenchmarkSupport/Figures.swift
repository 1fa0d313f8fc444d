import Foundation

/// Collects a benchmark executable's figures: prints each as a line (with its ratio to a
/// baseline measured in the same run, and its goal) and keeps it for the JSON file.
public final class Figures: @unchecked Sendable {
    public private(set) var results: [[String: Any]] = []
    let nameWidth: Int
    let valueFormat: String

    public init(nameWidth: Int = 58, valueFormat: String = "%12.1f") {
        self.nameWidth = nameWidth
        self.valueFormat = valueFormat
    }

    public func report(
        _ name: String, _ value: Double, _ unit: String, baseline: Double? = nil, baselineName: String? = nil, goal: String? = nil,
        extra: [String: Any] = [:]
    ) {
        var entry: [String: Any] = ["name": name, "value": value, "unit": unit]
        // A whole-number format would print a ratio of 2.3 as "2": small values get two decimals.
        let format = value < 10 && valueFormat.hasSuffix(".0f") ? "%12.2f" : valueFormat
        var line = "\(name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)) \(String(format: format, value)) \(unit)"
        if let baseline, let baselineName {
            entry["baseline"] = baselineName
            entry["baselineValue"] = baseline
            entry["ratio"] = value / baseline
            line += String(format: "   %.2f× %@", value / baseline, baselineName)
        }
        if let goal {
            entry["goal"] = goal
            line += "  (goal: \(goal))"
        }
        for (k, v) in extra { entry[k] = v }
        results.append(entry)
        print(line)
    }

    /// Writes `fields` and the results as sorted, pretty JSON.
    public func write(to path: String, _ fields: [String: Any]) throws {
        var document = fields
        document["results"] = results
        try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
        print("wrote \(path)")
    }
}

public func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// The middle of the values (the upper middle of an even count): the figure of several runs.
public func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// The value at fraction `p` of the sorted values (0 when there are none).
public func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}
