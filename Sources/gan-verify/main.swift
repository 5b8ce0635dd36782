import ArgumentParser
import GANKit
import ToolSupport

/// gan-verify CHECKPOINT GOLDEN: runs the Swift generator on a golden's inputs and compares every array.
struct GanVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gan-verify",
        abstract: "Check a checkpoint's Swift generator against a golden .npz (Formats/golden.md).",
        discussion: """
            Compares `image`, `ws` and any `trace.<layer>` arrays; relative error = max|swift - golden| / max(1, max|golden|).
            Exit codes: 0 every array within tolerance, 1 parity failed, 2 bad input or usage.
            """)

    @Argument(help: "The checkpoint (any supported format, or a canonical .safetensors).")
    var checkpoint: String

    @Argument(help: "The golden .npz.")
    var golden: String

    @Option(name: .long, help: "Pass threshold on the relative error.")
    var atol: Double = Verifier.defaultTolerance

    @Option(name: .long, help: "Sequential architecture description for files that do not carry one (Formats/arch-json.md).")
    var arch: String?

    @Flag(name: .long, help: "Print the report as JSON on standard output.")
    var json = false

    @Flag(name: .long, help: "Read files that reference dangerous globals (they stay inert, nothing is executed).")
    var allowDangerousGlobals = false

    func validate() throws {
        guard atol.isFinite, atol >= 0 else { throw ValidationError("--atol must be a non-negative number") }
    }

    func run() throws {
        let options = try arch.map { try MapperOptions.architectureFile($0) } ?? MapperOptions()
        let loaded = try GeneratorLoader.load(path: checkpoint, options: options,
                                              loadOptions: LoadOptions(allowDangerousGlobals: allowDangerousGlobals))
        let g = try Golden.read(path: golden)
        let report = try Verifier.verify(loaded.generator, golden: g, tolerance: atol)
        if json {
            var items = report.json.objectValue ?? []
            items.insert(("checkpoint", .string(checkpoint)), at: 0)
            items.insert(("golden", .string(golden)), at: 1)
            items.insert(("mapper", .string(loaded.mapper)), at: 2)
            print(JSONValue.object(items).serialized(pretty: true))
        } else {
            print(report.text(checkpoint: checkpoint, golden: golden))
        }
        if !report.passed { throw ExitCode(ToolExit.checkFailed) }
    }
}

ToolMain.run(GanVerify.self)
