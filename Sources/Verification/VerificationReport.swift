import TensorStore

/// The outcome of `Verifier.verify`: one comparison per golden array, pass/fail, the first drifting layer.
public struct VerificationReport: Sendable {
    public var architecture: String
    public var source: String
    public var summary: String
    public var batch: Int
    public var tolerance: Double
    /// `image` and `ws` comparisons.
    public var comparisons: [ArrayComparison]
    /// `trace.<layer>` comparisons in the order the model produced them.
    public var traces: [ArrayComparison]
    /// The first traced layer over tolerance (or `mapping` when only `ws` fails), nil when all pass or unknown.
    public var firstDriftingLayer: String?
    public var seconds: Double

    public var passed: Bool { comparisons.allSatisfy(\.passed) && traces.allSatisfy(\.passed) }

    /// Human-readable lines.
    public func text(checkpoint: String, golden: String) -> String {
        var lines: [String] = []
        lines.append("checkpoint   \(checkpoint)")
        lines.append("golden       \(golden) (batch \(batch))")
        lines.append("family       \(architecture) (\(source))")
        lines.append("config       \(summary)")
        lines.append("forward      \(NumberFormat.fixed(seconds)) s")
        lines.append("array".padded(28) + "max abs".padded(13) + "mean abs".padded(13) + "relative".padded(13) + "result")
        for c in comparisons + traces {
            let result = c.passed ? "ok" : "FAIL" + (c.problem.map { " (\($0))" } ?? "")
            lines.append(c.name.padded(28) + sci(c.maxAbsError).padded(13) + sci(c.meanAbsError).padded(13)
                         + sci(c.relativeError).padded(13) + result)
        }
        if passed {
            lines.append("PASS (relative error ≤ \(sci(tolerance)))")
        } else {
            var line = "FAIL (relative error above \(sci(tolerance)))"
            if let d = firstDriftingLayer { line += "; first drifting layer: \(d)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        func entry(_ c: ArrayComparison) -> JSONValue {
            var items: [(String, JSONValue)] = [
                ("name", .string(c.name)), ("shape", .array(c.shape.map { .number(Double($0)) })),
                ("max_abs", num(c.maxAbsError)), ("mean_abs", num(c.meanAbsError)),
                ("relative", num(c.relativeError)), ("pass", .bool(c.passed)),
            ]
            if let p = c.problem { items.append(("problem", .string(p))) }
            return .object(items)
        }
        return .object([
            ("family", .string(architecture)), ("source", .string(source)), ("config", .string(summary)),
            ("batch", .number(Double(batch))), ("tolerance", .number(tolerance)),
            ("arrays", .array(comparisons.map(entry))), ("traces", .array(traces.map(entry))),
            ("first_drifting_layer", firstDriftingLayer.map { .string($0) } ?? .null),
            ("seconds", .number(seconds)), ("pass", .bool(passed)),
        ])
    }
}

/// JSON has no infinity: unbounded errors are written as null.
private func num(_ v: Double) -> JSONValue { v.isFinite ? .number(v) : .null }

private func sci(_ v: Double) -> String { NumberFormat.scientific(v) }

extension String {
    func padded(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
