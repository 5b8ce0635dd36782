import ArgumentParser
import ToolSupport

/// Engine op benchmarks (placeholder until the engine lands).
struct OpsBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ops", abstract: "Time engine ops (GFLOP/s).")
    func run() throws { print("ops benchmarks arrive with the engine") }
}
