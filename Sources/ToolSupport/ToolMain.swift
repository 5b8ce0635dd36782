import ArgumentParser
import TensorStore
#if canImport(Glibc)
import Glibc
#endif

/// Exit codes shared by every tool.
public enum ToolExit {
    /// Everything ran and every check passed.
    public static let ok: Int32 = 0
    /// The tool ran but a check failed (parity over tolerance, a dangerous global found by `scan`).
    public static let checkFailed: Int32 = 1
    /// Bad input or usage: unreadable file, malformed data, bad arguments.
    public static let badInput: Int32 = 2
}

/// Runs a command with the project's conventions: OpenBLAS core fix-up, exit 2 with one clear line for bad
/// input or usage, exit codes thrown as `ExitCode` passed through.
public enum ToolMain {
    public static func run<C: ParsableCommand>(_ type: C.Type) -> Never {
        OpenBLASSetup.ensureFastCore()
        do {
            var command = try C.parseAsRoot(Array(CommandLine.arguments.dropFirst()))
            try command.run()
            exit(ToolExit.ok)
        } catch let e as GANKitError {
            printError("error: \(e.description)")
            exit(ToolExit.badInput)
        } catch let e as ExitCode {
            exit(e.rawValue)
        } catch {
            let code = C.exitCode(for: error)
            let message = C.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(ToolExit.ok)
            }
            printError(message)
            // ArgumentParser's usage errors default to 64; this project promises 2 for any bad usage.
            exit(code == .validationFailure ? ToolExit.badInput : (code.rawValue == 1 ? ToolExit.checkFailed : ToolExit.badInput))
        }
    }

    public static func printError(_ s: String) {
        var line = s
        if !line.hasSuffix("\n") { line += "\n" }
        writeStandardError(line)
    }
}

/// Standard error and terminal checks.
public enum Terminal {
    public static var stderrIsTTY: Bool { isatty(2) != 0 }
    public static var stdoutIsTTY: Bool { isatty(1) != 0 }
}

/// Writes text to standard error with write(2): no shared `FILE*` global, safe under strict concurrency.
public func writeStandardError(_ s: String) {
    var copy = s
    copy.withUTF8 { buf in
        var off = 0
        while off < buf.count {
            let n = write(2, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { break }
            off += n
        }
    }
}
