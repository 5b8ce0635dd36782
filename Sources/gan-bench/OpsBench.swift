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

    @Flag(name: .long, help: "Print a JSON array of {op, params, ms, gflops, gbps, cpu_ms[, torch_ms, ratio[, ratio_min, ratio_max, rounds]]}.")
    var json = false

    @Option(name: .long, help: "A Python with torch: time the same shapes in PyTorch (2 threads), alternating with the engine, and print the ratio.")
    var torch: String?

    @Option(name: .long, help: "Only cases whose op name contains this text, or whose key starts with it ('conv2d(kernel=4').")
    var filter: String?

    @Option(name: .long, help: "Minimum timed runs per case.")
    var runs = 5

    @Option(name: .long, help: "Minimum seconds of timed runs per case.")
    var seconds = 0.5

    @Option(name: .long, help: "Measure every case this many times, in turn (round 1 of all cases, then round 2, …), and report the median round with the range of ratios: on a shared host, load moves from minute to minute.")
    var rounds = 1

    /// One round of one case.
    struct Sample {
        var seconds: Double, cpu: Double, torchMs: Double?
    }

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        let cases = OpsBenchRunner.cases(filter: filter)
        let peer = try torch.map { try TorchPeer(python: $0, script: OpsBenchRunner.torchScript(cases)) }
        defer { peer?.close() }
        if !json {
            print("OpenBLAS \(BLASRuntime.coreName), \(Parallel.coreCount) cores; median of ≥\(runs) runs"
                  + (peer == nil ? "" : ", alternating with PyTorch in warmed blocks of ~0.1 s")
                  + (rounds > 1 ? "; median of \(rounds) rounds" : ""))
        }
        var samples = [[Sample]](repeating: [], count: cases.count)
        for round in 0..<rounds {
            if rounds > 1 { FileHandle.standardError.write(Data("round \(round + 1)/\(rounds)\n".utf8)) }
            for (index, c) in cases.enumerated() {
                if let peer {
                    let m = try OpsBenchRunner.alternatingMedians(minRuns: runs, minSeconds: seconds, c.run) {
                        try peer.time(index) / 1e3
                    }
                    samples[index].append(Sample(seconds: m.wall, cpu: m.cpu, torchMs: m.other * 1e3))
                } else {
                    let m = try OpsBenchRunner.median(minRuns: runs, minSeconds: seconds, c.run)
                    samples[index].append(Sample(seconds: m.wall, cpu: m.cpu, torchMs: nil))
                }
                if rounds == 1 && !json { print(Self.line(c, samples[index])) }
            }
        }
        if json {
            print("[\n" + zip(cases, samples).map { "  " + Self.jsonRow($0, $1) }.joined(separator: ",\n") + "\n]")
        } else if rounds > 1 {
            for (c, s) in zip(cases, samples) { print(Self.line(c, s)) }
        }
    }

    /// What one case's rounds report: the median round (by engine time) and the ratios of all rounds.
    struct Summary {
        var ms: Double, gflops: Double, gbps: Double, cpuMs: Double, torchMs: Double?
        /// torch ms / engine ms per round, ascending (empty without PyTorch).
        var ratios: [Double]

        init(_ c: OpsBenchCase, _ s: [Sample]) {
            let m = s.sorted { $0.seconds < $1.seconds }[s.count / 2]
            ms = m.seconds * 1e3
            gflops = c.flops / m.seconds / 1e9
            gbps = c.bytes / m.seconds / 1e9
            cpuMs = m.cpu * 1e3
            torchMs = m.torchMs
            ratios = s.compactMap { x in x.torchMs.map { $0 / (x.seconds * 1e3) } }.sorted()
        }
    }

    static func line(_ c: OpsBenchCase, _ s: [Sample]) -> String {
        let m = Summary(c, s)
        var line = c.key.padding(toLength: 78, withPad: " ", startingAt: 0)
            + " " + jsonNumber(m.ms, 3).leftPad(10) + " ms " + jsonNumber(m.gflops, 1).leftPad(8)
            + " GFLOP/s " + jsonNumber(m.gbps, 2).leftPad(7) + " GB/s  cpu " + jsonNumber(m.cpuMs, 3).leftPad(9) + " ms"
        if let t = m.torchMs {
            line += "   torch " + jsonNumber(t, 3).leftPad(9) + " ms  ×" + jsonNumber(median(m.ratios), 2)
            if m.ratios.count > 1 {
                line += " (×" + jsonNumber(m.ratios.first!, 2) + "–" + jsonNumber(m.ratios.last!, 2) + ")"
            }
        }
        return line
    }

    static func jsonRow(_ c: OpsBenchCase, _ s: [Sample]) -> String {
        let m = Summary(c, s)
        var fields = ["\"op\": \"\(c.op)\"",
                      "\"params\": {" + c.params.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}",
                      "\"ms\": \(jsonNumber(m.ms, 4))", "\"gflops\": \(jsonNumber(m.gflops, 2))",
                      "\"gbps\": \(jsonNumber(m.gbps, 2))", "\"cpu_ms\": \(jsonNumber(m.cpuMs, 4))"]
        if let t = m.torchMs {
            fields += ["\"torch_ms\": \(jsonNumber(t, 4))", "\"ratio\": \(jsonNumber(median(m.ratios), 3))"]
            if m.ratios.count > 1 {
                fields += ["\"ratio_min\": \(jsonNumber(m.ratios.first!, 3))", "\"ratio_max\": \(jsonNumber(m.ratios.last!, 3))",
                           "\"rounds\": \(m.ratios.count)"]
            }
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

private extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
