import Models
import TensorStore

/// Runs a generator on a golden's inputs and compares every array the golden holds.
public enum Verifier {
    /// The default pass threshold on the relative error.
    public static let defaultTolerance = 1e-4

    public static func verify(_ generator: Generator, golden: Golden, tolerance: Double = defaultTolerance) throws -> VerificationReport {
        let inputs = try golden.inputs(classes: generator.cDim)
        guard inputs.z.shape[1] == generator.zDim else {
            throw ModelError("the golden's z has \(inputs.z.shape[1]) entries per sample but the model takes \(generator.zDim)",
                             file: golden.path, location: "golden 'z'")
        }
        if generator.cDim > 0 && inputs.c == nil {
            throw ModelError("the model is conditional (\(generator.cDim) classes) but the golden has no 'c' or 'labels'",
                             file: golden.path, location: "golden 'c'")
        }
        if let c = inputs.c, generator.cDim != c.shape[1] {
            throw ModelError("the golden's c has \(c.shape[1]) entries per sample but the model takes \(generator.cDim)",
                             file: golden.path, location: "golden 'c'")
        }
        let wantsTrace = golden.expected.keys.contains { $0.hasPrefix("trace.") }
        let recorder = wantsTrace ? TraceRecorder() : nil
        let start = MonotonicClock.now()
        let output = try generator.generate(inputs, trace: recorder)
        let seconds = MonotonicClock.now() - start

        var comparisons: [ArrayComparison] = []
        for (name, expected) in golden.expected where !name.hasPrefix("trace.") {
            let actual: Tensor? = name == "image" ? output.image : output.ws
            comparisons.append(.compare(name: name, actual: actual, expected: expected, tolerance: tolerance))
        }
        // Traces in the order the model produced them, so the first failing one is the first drifting layer.
        var traces: [ArrayComparison] = []
        if let recorder {
            for (name, tensor) in recorder.entries {
                if let expected = golden.expected["trace." + name] {
                    traces.append(.compare(name: "trace." + name, actual: tensor, expected: expected, tolerance: tolerance))
                }
            }
            let produced = Set(recorder.entries.map { "trace." + $0.name })
            for name in golden.expected.keys where name.hasPrefix("trace.") && !produced.contains(name) {
                traces.append(.compare(name: name, actual: nil, expected: golden.expected[name]!, tolerance: tolerance))
            }
        }
        var firstDrift = traces.first { !$0.passed }.map { String($0.name.dropFirst("trace.".count)) }
        if firstDrift == nil, let ws = comparisons.first(where: { $0.name == "ws" }), !ws.passed { firstDrift = "mapping" }
        return VerificationReport(architecture: generator.architecture, source: generator.source, summary: generator.summary,
                                  batch: golden.count, tolerance: tolerance, comparisons: comparisons, traces: traces,
                                  firstDriftingLayer: firstDrift, seconds: seconds)
    }
}
