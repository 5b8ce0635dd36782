import ArgumentParser
import GANKit
import ToolSupport

/// gan-sample CHECKPOINT -o grid.png: a PNG grid of samples, or a latent interpolation strip.
struct GanSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gan-sample",
        abstract: "Write a PNG grid of samples from a checkpoint.",
        discussion: """
            The latent of seed s is numpy.random.RandomState(s).randn(1, z_dim) (MT19937 + polar Box-Muller), so
            samples can be reproduced in Python. Exit codes: 0 written, 2 bad input or usage.
            """)

    @Argument(help: "The checkpoint (any supported format, or a canonical .safetensors).")
    var checkpoint: String

    @Option(name: .shortAndLong, help: "The output PNG.")
    var output: String

    @Option(name: .long, help: "Seeds: a range 0-15, a list 1,5,9, or one seed.")
    var seeds: String = "0-15"

    @Option(name: .long, help: "Truncation psi (StyleGAN).")
    var truncation: Float = 1

    @Option(name: .long, help: "Truncate only the first N W layers (StyleGAN v1 convention; the official v1 default is 8). Default: all layers.")
    var truncationCutoff: Int?

    @Option(name: .customLong("class"), help: "Class index for conditional models.")
    var classIndex: Int?

    @Option(name: .long, parsing: .upToNextOption, help: "Interpolate between two seeds: --interpolate A B.")
    var interpolate: [UInt32] = []

    @Option(name: .long, help: "Images in an interpolation strip.")
    var steps: Int = 8

    @Option(name: .long, help: "Images per row (default: a square grid; a strip for --interpolate).")
    var columns: Int?

    @Option(name: .long, help: "Sequential architecture description for files that do not carry one (Formats/arch-json.md).")
    var arch: String?

    @Flag(name: .long, help: "Print a JSON summary and no progress bar.")
    var json = false

    func validate() throws {
        if !interpolate.isEmpty && interpolate.count != 2 { throw ValidationError("--interpolate takes two seeds") }
        if steps < 2 || steps > 1024 { throw ValidationError("--steps must be between 2 and 1024") }
        if let c = columns, c < 1 { throw ValidationError("--columns must be at least 1") }
        if let k = truncationCutoff, k < 0 { throw ValidationError("--truncation-cutoff must be ≥ 0") }
        _ = try parseSeeds(seeds)
    }

    func parseSeeds(_ text: String) throws -> [UInt32] {
        var out: [UInt32] = []
        for part in text.split(separator: ",") {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            if ends.count == 2, let a = UInt32(ends[0]), let b = UInt32(ends[1]), a <= b, b - a < 4096 {
                out += Array(a...b)
            } else if ends.count == 1, let s = UInt32(part) {
                out.append(s)
            } else {
                throw ValidationError("cannot read the seeds '\(text)' (use 0-15, 1,5,9 or 7)")
            }
        }
        guard !out.isEmpty, out.count <= 4096 else { throw ValidationError("give between 1 and 4096 seeds") }
        return out
    }

    func run() throws {
        let options = try arch.map { try MapperOptions.architectureFile($0) } ?? MapperOptions()
        let loaded = try GeneratorLoader.load(path: checkpoint, options: options)
        let sampler = Sampler(generator: loaded.generator, truncation: truncation, truncationCutoff: truncationCutoff,
                              classIndex: classIndex)
        let bar = ProgressBar(label: "sampling", enabled: !json, units: .items)
        let batch: Tensor
        var cols = columns
        if interpolate.count == 2 {
            batch = try sampler.interpolation(from: interpolate[0], to: interpolate[1], steps: steps) { bar.update($0, of: $1) }
            cols = cols ?? steps
        } else {
            batch = try sampler.images(seeds: try parseSeeds(seeds)) { bar.update($0, of: $1) }
        }
        bar.finish()
        let grid = try ImageGrid(batch: batch, range: loaded.generator.outputRange, columns: cols)
        try PNGWriter.write(grid, to: output)
        if json {
            print(JSONValue.object([
                ("output", .string(output)), ("family", .string(loaded.generator.architecture)),
                ("source", .string(loaded.generator.source)), ("images", .number(Double(batch.shape[0]))),
                ("width", .number(Double(grid.width))), ("height", .number(Double(grid.height))),
            ]).serialized(pretty: true))
        } else {
            print("wrote \(output): \(batch.shape[0]) images of \(batch.shape[2])×\(batch.shape[3]) from \(loaded.generator.architecture) (\(loaded.generator.source)), grid \(grid.width)×\(grid.height)")
        }
    }
}

ToolMain.run(GanSample.self)
