import ArgumentParser
import ToolSupport

@main
struct GanBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gan-bench",
        abstract: "Benchmarks: tensor I/O, engine ops and whole generators, optionally against PyTorch in the same run.",
        subcommands: [IOBench.self, OpsBench.self, TorchBench.self, ModelsBench.self])

    static func main() { ToolMain.run(Self.self) }
}
