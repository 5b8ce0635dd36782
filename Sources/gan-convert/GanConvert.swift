import ArgumentParser
import Checkpoints
import Engine
import TensorStore
import ToolSupport
import GANKit

@main
struct GanConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gan-convert",
        abstract: "Inspect, scan and convert GAN checkpoints (safetensors, npy/npz, PyTorch, NVlabs pickles, Keras HDF5) without executing them.",
        discussion: """
            Exit codes: 0 ok, 1 a check failed (scan found a dangerous global), 2 bad input or usage.
            """,
        subcommands: [Inspect.self, Convert.self, Scan.self])

    static func main() { ToolMain.run(Self.self) }
}

struct CommonOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    @Flag(name: .shortAndLong, help: "Say more (OpenBLAS core, timings).")
    var verbose = false

    @Flag(name: .long, help: "Read files that reference dangerous globals (they stay inert, nothing is executed).")
    var allowDangerousGlobals = false

    var loadOptions: LoadOptions { LoadOptions(allowDangerousGlobals: allowDangerousGlobals) }

    func announce() {
        if verbose { ToolMain.printError(OpenBLASSetup.summary) }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a file's tensors (name, dtype, shape, bytes) and metadata.")

    @Argument(help: "The checkpoint or tensor file.")
    var file: String

    @Flag(name: .long, help: "Also show the object tree (modules, containers, opaque globals).")
    var tree = false

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.announce()
        let checkpoint = try CheckpointLoader.load(path: file, options: common.loadOptions)
        let report = InspectReport(checkpoint)
        if common.json {
            var json = report.json
            if tree, case var .object(items) = json, let t = checkpoint.tree {
                items.append(("tree", .array(t.rendered().map { .string($0) })))
                json = .object(items)
            }
            print(json.serialized(pretty: true))
        } else {
            print(report.text(tree: tree))
        }
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Convert a checkpoint to safetensors (written atomically).")

    @Argument(help: "The input file; it is never modified.")
    var input: String

    @Option(name: .shortAndLong, help: "The output .safetensors file.")
    var output: String

    @Flag(name: .long, help: "Write every tensor under its raw name (no architecture mapping).")
    var raw = false

    @Flag(name: .long, help: "Replace an existing output file.")
    var force = false

    @Option(name: .long, help: "Sequential architecture description for files that do not carry one (Formats/arch-json.md).")
    var arch: String?

    func mapperOptions() throws -> MapperOptions {
        try arch.map { try MapperOptions.architectureFile($0) } ?? MapperOptions()
    }

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.announce()
        let checkpoint = try CheckpointLoader.load(path: input, options: common.loadOptions)
        let bar = ProgressBar(label: "converting", enabled: !common.json)
        // Without --raw, a checkpoint a mapper recognises is written under canonical names (GANKit).
        let plainTensors: Set<CheckpointFormat> = [.safetensors, .npy, .npz]
        let options = try mapperOptions()
        if !raw && (!plainTensors.contains(checkpoint.format) || CanonicalConverter.canConvert(checkpoint, options: options)) {
            try RawConverter.checkNotSameFile(input: input, output: output)
            let result = try CanonicalConverter.convert(checkpoint, to: output, options: options, overwrite: force) { bar.update($0, of: $1) }
            bar.finish()
            if common.json {
                print(JSONValue.object([
                    ("input", .string(input)), ("output", .string(output)),
                    ("format", .string(checkpoint.format.rawValue)), ("architecture", .string(result.architecture)),
                    ("source", .string(result.source)), ("tensors", .number(Double(result.tensors))),
                    ("bytes", .number(Double(result.bytes))), ("source_sha256", .string(result.sourceSHA256)),
                ]).serialized(pretty: true))
            } else {
                print("wrote \(output): \(result.tensors) canonical \(result.architecture) tensors, \(ByteFormat.string(result.bytes)) from \(checkpoint.format.rawValue) (\(result.source))")
            }
            return
        }
        try RawConverter.write(checkpoint, to: output, overwrite: force) { bar.update($0, of: $1) }
        bar.finish()
        if common.json {
            print(JSONValue.object([
                ("input", .string(input)), ("output", .string(output)),
                ("format", .string(checkpoint.format.rawValue)),
                ("tensors", .number(Double(checkpoint.tensors.count))),
                ("bytes", .number(Double(checkpoint.tensors.totalBytes))),
            ]).serialized(pretty: true))
        } else {
            print("wrote \(output): \(checkpoint.tensors.count) tensors, \(ByteFormat.string(checkpoint.tensors.totalBytes)) from \(checkpoint.format.rawValue)")
        }
    }
}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every global a file's pickles reference, classed allowed / unknown / dangerous.",
        discussion: "Exit 1 when anything dangerous is present, else 0. Nothing is executed.")

    @Argument(help: "The file to scan.")
    var file: String

    @OptionGroup var common: CommonOptions

    func run() throws {
        let refs = try CheckpointScanner.scan(path: file)
        let dangerous = refs.filter { $0.safety == .dangerous }
        if common.json {
            print(JSONValue.object([
                ("file", .string(file)),
                ("globals", .array(refs.map { r in
                    .object([("global", .string(r.qualifiedName)), ("class", .string(r.safety.rawValue)), ("location", .string(r.location))])
                })),
                ("dangerous", .number(Double(dangerous.count))),
            ]).serialized(pretty: true))
        } else {
            if refs.isEmpty { print("\(file): no globals referenced") }
            for r in refs { print("\(r.safety.rawValue.padding(9))  \(r.qualifiedName)  at \(r.location)") }
            if !dangerous.isEmpty {
                print("\(file): \(dangerous.count) dangerous global(s): " + Set(dangerous.map(\.qualifiedName)).sorted().joined(separator: ", "))
            }
        }
        if !dangerous.isEmpty { throw ExitCode(ToolExit.checkFailed) }
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
