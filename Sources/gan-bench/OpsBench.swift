import ArgumentParser
import Foundation
import ToolSupport
import Engine

/// `gan-bench ops`: median time, GFLOP/s and effective GB/s of the engine's ops on model-sized shapes,
/// optionally against PyTorch on the same shapes in the same run.
struct OpsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Time engine ops (median of runs): ms, GFLOP/s, GB/s; optionally against PyTorch.")

    @Flag(name: .long, help: "Print a JSON array of {op, params, ms, gflops, gbps, cpu_ms[, torch_ms, ratio]}.")
    var json = false

    @Option(name: .long, help: "A Python with torch: time the same shapes in PyTorch (2 threads), alternating with the engine, and print the ratio.")
    var torch: String?

    @Option(name: .long, help: "Only cases whose op name contains this text.")
    var filter: String?

    @Option(name: .long, help: "Minimum timed runs per case.")
    var runs = 5

    @Option(name: .long, help: "Minimum seconds of timed runs per case.")
    var seconds = 0.5

    func run() throws {
        let cases = OpsBenchRunner.cases(filter: filter)
        let peer = try torch.map { try TorchPeer(python: $0, script: OpsBenchRunner.torchScript(cases)) }
        defer { peer?.close() }
        if !json {
            print("OpenBLAS \(BLASRuntime.coreName), \(Parallel.coreCount) cores; median of ≥\(runs) runs"
                  + (peer == nil ? "" : ", alternating with PyTorch in warmed blocks of ~0.1 s"))
        }
        var rows: [String] = []
        for (index, c) in cases.enumerated() {
            let sec: Double, cpu: Double, t: Double?
            if let peer {
                let m = try OpsBenchRunner.alternatingMedians(minRuns: runs, minSeconds: seconds, c.run) { try peer.time(index) / 1e3 }
                (sec, cpu, t) = (m.wall, m.cpu, m.other * 1e3)
            } else {
                (sec, cpu) = try OpsBenchRunner.median(minRuns: runs, minSeconds: seconds, c.run)
                t = nil
            }
            let ms = sec * 1e3
            let gflops = c.flops / sec / 1e9
            let gbps = c.bytes / sec / 1e9
            if json {
                var fields = ["\"op\": \"\(c.op)\"",
                              "\"params\": {" + c.params.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}",
                              "\"ms\": \(jsonNumber(ms, 4))", "\"gflops\": \(jsonNumber(gflops, 2))", "\"gbps\": \(jsonNumber(gbps, 2))", "\"cpu_ms\": \(jsonNumber(cpu * 1e3, 4))"]
                if let t { fields += ["\"torch_ms\": \(jsonNumber(t, 4))", "\"ratio\": \(jsonNumber(t / ms, 3))"] }
                rows.append("  {" + fields.joined(separator: ", ") + "}")
            } else {
                var line = c.key.padding(toLength: 78, withPad: " ", startingAt: 0)
                    + " " + jsonNumber(ms, 3).leftPad(10) + " ms " + jsonNumber(gflops, 1).leftPad(8) + " GFLOP/s " + jsonNumber(gbps, 2).leftPad(7) + " GB/s  cpu " + jsonNumber(cpu * 1e3, 3).leftPad(9) + " ms"
                if let t { line += "   torch " + jsonNumber(t, 3).leftPad(9) + " ms  ×" + jsonNumber(t / ms, 2) }
                print(line)
            }
        }
        if json { print("[\n" + rows.joined(separator: ",\n") + "\n]") }
    }

}

private extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
