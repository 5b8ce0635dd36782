import Foundation
import TensorStore

/// Helpers every benchmark shares: medians, number formatting, and running the PyTorch side of a comparison.
enum BenchSupport {
    /// Runs `python` (a path, or a name looked up on PATH) with `arguments`, two math threads as our side
    /// uses, and returns its standard output. A non-zero exit is an error naming what failed.
    static func runPython(_ python: String, _ arguments: [String], what: String) throws -> String {
        let process = pythonProcess(python, arguments)
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StoreError(.io, "\(what) failed with status \(process.terminationStatus)", file: python)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A process (not started) running `python` (a path, or a name looked up on PATH) with `arguments` and two
    /// math threads, as our side uses.
    static func pythonProcess(_ python: String, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python.contains("/") ? python : "/usr/bin/env")
        process.arguments = python.contains("/") ? arguments : [python] + arguments
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = "2"
        env["MKL_NUM_THREADS"] = "2"
        process.environment = env
        return process
    }
}

/// The middle value, or the mean of the two middle values of an even count (so two rounds do not report the
/// better one as their median); NaN for no samples.
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ x: Double) -> String { String(format: "%.2f", x) }

/// The arithmetic mean (0 for none).
func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

/// A JSON number with `digits` decimals, or `null` when missing or not finite.
func jsonNumber(_ v: Double?, _ digits: Int) -> String {
    guard let v, v.isFinite else { return "null" }
    return String(format: "%.\(digits)f", v)
}
