import Foundation

/// Runs one of the package's built executables (they sit beside the test bundle) and captures its output.
struct ToolRun {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum ToolProcess {
    static var binDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    static func path(_ tool: String) -> String { binDirectory.appendingPathComponent(tool).path }

    static func run(_ tool: String, _ arguments: [String]) throws -> ToolRun {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path(tool))
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["GANKIT_OPENBLAS_AUTO"] = "0"  // no re-exec needed for these checks
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return ToolRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static var fixtures: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures").path
    }

    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "gankit-tool-tests-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
