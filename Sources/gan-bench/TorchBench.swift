import ArgumentParser
import Checkpoints
import Foundation
import TensorStore
import ToolSupport

/// Torch checkpoint benchmarks: listing a ~500 MB torch zip state dict (lazy), `convert --raw` of it, and of the
/// same state dict as a legacy stream; optionally `torch.load` of the same files in the same run.
struct TorchBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torch", abstract: "Time torch zip listing, zip and legacy → safetensors conversion (GB/s), vs torch.load.")

    @Option(help: "Size of the generated state dict in MB.")
    var megabytes = 500

    @Option(help: "Runs per measurement (the median is reported).")
    var runs = 3

    @Option(help: "Folder for the generated files (default: the system temporary folder).")
    var dir: String?

    @Option(help: "A Python with torch: generates the files with torch.save and times torch.load on them.")
    var torch: String?

    func run() throws {
        let base = (dir ?? NSTemporaryDirectory()) + "/gan-bench-torch-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let zipPath = base + "/state.pt", legacyPath = base + "/state-legacy.pt", out = base + "/out.safetensors"
        let tensorCount = max(1, megabytes / 4)  // 1 Mi float32 elements (4 MiB) each
        if let torch {
            try python(torch, Self.generateScript, [zipPath, legacyPath, String(tensorCount)])
            print("generated with torch.save (\(tensorCount) tensors of 4 MiB)")
        } else {
            try TorchBenchWriter.writeZip(zipPath, tensors: tensorCount, elements: 1 << 20)
            try TorchBenchWriter.writeLegacy(legacyPath, tensors: tensorCount, elements: 1 << 20)
            print("generated with the built-in writer (\(tensorCount) tensors of 4 MiB)")
        }

        var listMs: [Double] = []
        var bytes = 0
        for _ in 0..<max(runs, 3) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let ck = try CheckpointLoader.load(path: zipPath)
            var n = 0
            for (name, t) in ck.tensors.tensors { n += name.count + t.shape.count }
            bytes = ck.tensors.totalBytes
            listMs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            precondition(n > 0)
        }
        func convert(_ path: String) throws -> Double {
            var secs: [Double] = []
            for _ in 0..<runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let ck = try CheckpointLoader.load(path: path)
                try RawConverter.write(ck, to: out, overwrite: true)
                secs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                try? FileManager.default.removeItem(atPath: out)
            }
            return median(secs)
        }
        let zipSecs = try convert(zipPath)
        let legacySecs = try convert(legacyPath)
        let gb = Double(bytes) / 1e9
        print(String(format: "torch zip, %.0f MB, %d tensors", Double(bytes) / 1e6, tensorCount))
        print(String(format: "  list (lazy)             %8.2f ms", median(listMs)))
        print(String(format: "  convert --raw           %8.2f s   %.2f GB/s", zipSecs, gb / zipSecs))
        print(String(format: "  legacy convert --raw    %8.2f s   %.2f GB/s", legacySecs, gb / legacySecs))
        if let torch {
            let text = try python(torch, Self.timeScript, [zipPath, legacyPath, String(runs)])
            print("torch.load in the same run (median of \(runs)):")
            print(text, terminator: "")
        }
    }

    @discardableResult
    private func python(_ exe: String, _ script: String, _ args: [String]) throws -> String {
        try BenchSupport.runPython(exe, ["-c", script] + args, what: "the torch.load script")
    }

    static let generateScript = """
        import sys, torch, collections
        zp, lp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
        g = torch.Generator().manual_seed(0)
        sd = collections.OrderedDict((f'layers.{i}.weight', torch.randn(1024, 1024, generator=g)) for i in range(n))
        torch.save(sd, zp)
        torch.save(sd, lp, _use_new_zipfile_serialization=False)
        """

    static let timeScript = """
        import sys, time, torch
        zp, lp, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
        def t(f):
            xs = []
            for _ in range(runs):
                t0 = time.perf_counter(); f(); xs.append(time.perf_counter() - t0)
            return sorted(xs)[len(xs) // 2]
        size = sum(v.numel() * v.element_size() for v in torch.load(zp).values()) / 1e9
        a = t(lambda: torch.load(zp, mmap=True))
        b = t(lambda: torch.load(zp))
        c = t(lambda: torch.load(lp))
        print(f'  torch.load(mmap=True) zip  {a*1e3:8.2f} ms')
        print(f'  torch.load zip             {b:8.2f} s   {size/b:.2f} GB/s')
        print(f'  torch.load legacy          {c:8.2f} s   {size/c:.2f} GB/s')
        """
}

/// Writes torch-format state dicts without torch (a float32 OrderedDict), for the benchmark.
enum TorchBenchWriter {
    /// The pickle of an OrderedDict of `n` tensors `layers.i.weight` [elements/1024, 1024] on storages "0"…;
    /// `legacy` adds the sixth (view) field of legacy persistent ids.
    static func statePickle(tensors n: Int, elements: Int, legacy: Bool) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x02]
        func text(_ s: String) { let u = Array(s.utf8); p += [0x58] + le32(u.count) + u }
        func global(_ m: String, _ n: String) { p += [0x63] + Array("\(m)\n\(n)\n".utf8) }
        func int(_ v: Int) { p += [0x4a] + le32(v) }
        global("collections", "OrderedDict"); p += [0x29, 0x52, 0x28]
        for i in 0..<n {
            text("layers.\(i).weight")
            global("torch._utils", "_rebuild_tensor_v2")
            p += [0x28, 0x28]
            text("storage"); global("torch", "FloatStorage"); text(String(i)); text("cpu"); int(elements)
            if legacy { p += [0x4e] }
            p += [0x74, 0x51]
            int(0)
            int(elements / 1024); int(1024); p += [0x86]
            int(1024); int(1); p += [0x86]
            p += [0x89]
            global("collections", "OrderedDict"); p += [0x29, 0x52]
            p += [0x74, 0x52]
        }
        p += [0x75, 0x2e]
        return p
    }

    static func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian, Array.init) }
    static func le16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian, Array.init) }
    static func le64(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(v).littleEndian, Array.init) }

    static func payload(_ elements: Int, seed: Int) -> [UInt8] {
        var values = [Float](repeating: 0, count: elements)
        for i in 0..<elements { values[i] = Float((i &* 2654435761 &+ seed) % 1000) / 1000 }
        return values.withUnsafeBytes { Array($0) }
    }

    /// A stored zip (no compression, 64-byte aligned records, CRC left zero: only this project reads it).
    static func writeZip(_ path: String, tensors n: Int, elements: Int) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let f = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        defer { try? f.close() }
        var offset = 0
        var central: [UInt8] = []
        var count = 0
        func member(_ name: String, _ data: [UInt8]) {
            let nameBytes = Array(name.utf8)
            let headerEnd = offset + 30 + nameBytes.count + 4
            let pad = (64 - headerEnd % 64) % 64
            let extra: [UInt8] = [0x46, 0x42] + le16(pad) + [UInt8](repeating: 0x5a, count: pad)
            let local: [UInt8] = [0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0] + le32(0) + le32(data.count) + le32(data.count)
                + le16(nameBytes.count) + le16(extra.count) + nameBytes + extra
            central += [0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0] + le32(0) + le32(data.count) + le32(data.count)
                + le16(nameBytes.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes
            f.write(Data(local))
            f.write(Data(data))
            offset += local.count + data.count
            count += 1
        }
        member("state/data.pkl", statePickle(tensors: n, elements: elements, legacy: false))
        member("state/byteorder", Array("little".utf8))
        for i in 0..<n { member("state/data/\(i)", payload(elements, seed: i)) }
        member("state/version", Array("3\n".utf8))
        let eocd: [UInt8] = [0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0] + le16(count) + le16(count) + le32(central.count) + le32(offset) + le16(0)
        f.write(Data(central + eocd))
    }

    /// A legacy stream: magic, 1001, sys_info, the state pickle, the key list, then each storage.
    static func writeLegacy(_ path: String, tensors n: Int, elements: Int) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let f = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        defer { try? f.close() }
        var head: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        head += [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]
        func text(_ s: String) -> [UInt8] { let u = Array(s.utf8); return [0x58] + le32(u.count) + u }
        head += [0x80, 0x02, 0x7d, 0x28] + text("protocol_version") + [0x4d, 0xe9, 0x03] + text("little_endian") + [0x88]
            + text("type_sizes") + [0x7d, 0x28] + text("short") + [0x4b, 2] + text("int") + [0x4b, 4] + text("long") + [0x4b, 8]
            + [0x75, 0x75, 0x2e]
        head += statePickle(tensors: n, elements: elements, legacy: true)
        let keys = (0..<n).map(String.init).sorted()
        head += [0x80, 0x02, 0x5d, 0x28] + keys.flatMap(text) + [0x65, 0x2e]
        f.write(Data(head))
        for k in keys {
            f.write(Data(le64(elements)))
            f.write(Data(payload(elements, seed: Int(k) ?? 0)))
        }
    }
}
