import ArgumentParser
import Foundation
import TensorStore
import ToolSupport

/// Tensor I/O benchmarks: listing a large safetensors file, and converting a large stored npz to safetensors in a
/// child `gan-convert` process (so its peak RSS is the conversion's alone). Inputs are generated in a temporary
/// folder and removed afterwards.
struct IOBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "io", abstract: "Time safetensors listing and npz → safetensors conversion (GB/s, peak RSS).")

    @Option(help: "Size of the generated files in MB.")
    var megabytes = 1024

    @Option(help: "Runs per measurement (the median is reported).")
    var runs = 5

    @Option(help: "Folder for the generated files (default: the system temporary folder).")
    var dir: String?

    @Flag(help: "Print JSON.")
    var json = false

    /// Internal: generate the inputs in this (child) process and exit, so the measuring parent never holds them
    /// (a child's peak RSS on Linux includes the spawning process's at exec time).
    @Option(help: .hidden)
    var prepareOnly: String?

    func run() throws {
        if let prepareOnly {
            let store = makeStore(totalBytes: megabytes << 20)
            try SafeTensors.write(store, to: prepareOnly + "/big.safetensors")
            try NumPy.writeNPZ(store, to: prepareOnly + "/big.npz")
            return
        }
        let base = (dir ?? NSTemporaryDirectory()) + "/gan-bench-io-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        _ = try runChild(me, ["io", "--megabytes", String(megabytes), "--prepare-only", base])
        let st = base + "/big.safetensors", npz = base + "/big.npz"
        let store = try SafeTensors.read(path: st)

        // 1. open + list (lazy): parse the header and build the views; touch no tensor data.
        var listTimes: [Double] = []
        for _ in 0..<max(runs, 3) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let s = try SafeTensors.read(path: st)
            var n = 0
            for (name, t) in s.tensors { n += name.count + t.shape.count }
            precondition(n > 0)
            listTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }

        // 2. npz → safetensors with the real tool, page cache to page cache.
        let tool = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("gan-convert").path
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw ValidationError("gan-convert not found beside gan-bench (\(tool)); build all products first")
        }
        warmPageCache(npz)
        var convertTimes: [Double] = [], rss: [Int] = []
        for i in 0..<max(runs, 3) {
            let out = base + "/out\(i).safetensors"
            let (seconds, maxRSS) = try runChild(tool, ["convert", npz, "-o", out, "--json"])
            convertTimes.append(seconds)
            rss.append(maxRSS)
            try? FileManager.default.removeItem(atPath: out)
        }
        let bytes = Double(store.totalBytes)
        let listMs = median(listTimes)
        let convS = median(convertTimes)
        let gbps = bytes / convS / 1e9
        let peakMB = Double(rss.max() ?? 0) / 1024
        if json {
            print(JSONValue.array([
                .object([("op", .string("safetensors_list")), ("params", .object([("bytes", .number(bytes)), ("tensors", .number(Double(store.count)))])), ("ms", .number(listMs))]),
                .object([("op", .string("npz_to_safetensors")), ("params", .object([("bytes", .number(bytes))])), ("ms", .number(convS * 1000)), ("gbps", .number(gbps)), ("peak_rss_mb", .number(peakMB))]),
            ]).serialized(pretty: true))
        } else {
            print("safetensors open+list  \(ByteFormat.string(Int(bytes))), \(store.count) tensors: \(fmt(listMs)) ms (median of \(listTimes.count))")
            print("npz → safetensors       \(fmt(convS * 1000)) ms = \(fmt(gbps)) GB/s, peak RSS \(fmt(peakMB)) MB (median of \(convertTimes.count), child gan-convert)")
        }
    }

    private func makeStore(totalBytes: Int) -> TensorStore {
        var store = TensorStore()
        let per = 16 << 20
        for i in 0..<max(1, totalBytes / per) {
            let t = Tensor(zeros: [per / 4 / 1024, 1024], dtype: .f32)
            let f = t.mutableFloats
            for k in stride(from: 0, to: f.count, by: 97) { f[k] = Float(k &+ i) }
            try? store.insert(t, named: "layer\(i).weight")
        }
        return store
    }

    /// Reads a file through a small buffer so it sits in the page cache without growing this process.
    private func warmPageCache(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8 << 20)
        while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress!, $0.count) }) > 0 {}
    }

    private func runChild(_ tool: String, _ args: [String]) throws -> (Double, Int) {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ([tool] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let t0 = DispatchTime.now().uptimeNanoseconds
        // The child's stdout goes to /dev/null: only its time and peak RSS matter here.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        guard posix_spawn(&pid, tool, &actions, nil, argv, environ) == 0 else { throw ValidationError("cannot start \(tool)") }
        var status: Int32 = 0
        var usage = rusage()
        _ = wait4(pid, &status, 0, &usage)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        guard status == 0 else { throw ValidationError("\(tool) \(args.joined(separator: " ")) failed with status \(status)") }
        return (seconds, Int(usage.ru_maxrss))
    }
}
