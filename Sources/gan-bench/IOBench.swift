import ArgumentParser
import ToolSupport

/// Tensor I/O benchmarks.
struct IOBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "io", abstract: "Time safetensors / npz reading and conversion.")
    func run() throws { print("io benchmarks: pending") }
}
