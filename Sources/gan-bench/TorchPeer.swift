import Foundation
import TensorStore

/// A PyTorch process that times one op call per request, so `gan-bench ops --torch` can alternate between the
/// engine and PyTorch in short blocks. On a shared machine the load changes from second to second; timing all of
/// one side and then all of the other lets that drift decide the ratio, alternating makes both sides see it.
///
/// Protocol (one line each way): we send `index\n`, it runs case `index` once and answers its wall milliseconds.
/// A case's inputs are built on its first request, and the previous case's are dropped.
final class TorchPeer {
    private let process: Process
    private let input = Pipe(), output = Pipe()
    private var buffer = Data()
    private let python: String

    init(python: String, script: String) throws {
        self.python = python
        let path = NSTemporaryDirectory() + "gan-bench-ops-\(getpid()).py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        process = BenchSupport.pythonProcess(python, [path])
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The script is read at start-up; it can go once Python answers the first request.
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard try readLine() == "ready" else { throw failure("did not start") }
    }

    /// Wall milliseconds of one PyTorch call of case `index`.
    func time(_ index: Int) throws -> Double {
        input.fileHandleForWriting.write(Data("\(index)\n".utf8))
        guard let line = try readLine(), let ms = Double(line) else { throw failure("gave no time for case \(index)") }
        return ms
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    private func readLine() throws -> String? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }   // end of file: the process exited
            buffer.append(chunk)
        }
    }

    private func failure(_ what: String) -> StoreError {
        StoreError(.io, "the PyTorch timing process \(what) (status \(process.isRunning ? "running" : String(process.terminationStatus)))", file: python)
    }
}
