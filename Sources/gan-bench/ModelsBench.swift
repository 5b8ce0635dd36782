import ArgumentParser
import Engine
import Foundation
import GANKit
import TensorStore
import ToolSupport

/// `gan-bench models`: whole-generator forward time on random-weight checkpoints of realistic size, loaded the way
/// a user's file is (`GeneratorLoader`), optionally against the upstream PyTorch code in the same run.
///
/// Configurations: DCGAN-64 (pytorch/examples, batch 64), StyleGAN2-256 (NVlabs paper256, batch 1),
/// StyleGAN3-T-256 (NVlabs defaults, batch 1), BigGAN-deep-128 (huggingface port, batch 4). The StyleGAN pickles
/// are written by the NVlabs code from the user's own checkout (`--nvlabs`), BigGAN-deep by the huggingface port
/// (`--biggan` or the installed package); nothing upstream ships with this project.
struct ModelsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Time whole generators (median of runs) on random-weight checkpoints, optionally against PyTorch.",
        discussion: """
            ratio = torch_ms / ms (above 1: faster than PyTorch). PyTorch runs with torch.set_num_threads(2), eval \
            mode, no_grad, noise_mode='const', force_fp32=True. Without --torch only DCGAN-64 can be built (written \
            natively); configurations whose upstream code is not given are skipped with a note.
            """)

    @Flag(name: .long, help: "Print a JSON array of {model, params, ms, cpu_ms, torch_ms, torch_cpu_ms, ratio}.")
    var json = false

    @Option(name: .long, help: "A Python with torch: builds the upstream checkpoints and times their forward pass.")
    var torch: String?

    @Option(name: .long, help: "Your checkout of NVlabs/stylegan3 (for the StyleGAN2-256 and StyleGAN3-T-256 pickles).")
    var nvlabs: String?

    @Option(name: .long, help: "Your checkout of huggingface/pytorch-pretrained-BigGAN (default: the installed package).")
    var biggan: String?

    @Option(name: .long, help: "Only configurations whose name contains this text (dcgan, stylegan2, stylegan3, biggan).")
    var filter: String?

    @Option(name: .long, help: "Timed runs per model (the median is reported).")
    var runs = 5

    @Option(name: .long, help: "Untimed warm-up runs per model.")
    var warmup = 1

    @Option(name: .long, help: "Folder for the generated checkpoints (default: the system temporary folder).")
    var dir: String?

    @Option(name: .long, help: "Write the checkpoints to this folder and keep them; without --torch, kept ones are reused.")
    var keep: String?

    @Flag(name: .long, help: "Also print our time per traced layer (median over the runs), slowest first.")
    var layers = false

    /// One benchmarked configuration.
    struct Model {
        var name: String
        var key: String
        var batch: Int
        var resolution: Int
        /// Which upstream code builds its checkpoint (nil: written natively when torch is absent).
        var needs: Needs
        var truncation: Float
        var classes: Int
    }

    enum Needs { case none, nvlabs, biggan }

    static let models: [Model] = [
        Model(name: "DCGAN-64", key: "dcgan", batch: 64, resolution: 64, needs: .none, truncation: 1, classes: 0),
        Model(name: "StyleGAN2-256", key: "stylegan2", batch: 1, resolution: 256, needs: .nvlabs, truncation: 1, classes: 0),
        Model(name: "StyleGAN3-T-256", key: "stylegan3", batch: 1, resolution: 256, needs: .nvlabs, truncation: 1, classes: 0),
        Model(name: "BigGAN-deep-128", key: "biggan", batch: 4, resolution: 128, needs: .biggan, truncation: 0.4, classes: 1000),
    ]

    struct Row {
        var model: Model
        var parameters: Int
        var ms: Double
        var cpuMs: Double
        var torchMs: Double?
        var torchCpuMs: Double?
    }

    func validate() throws {
        guard runs >= 1, warmup >= 0 else { throw ValidationError("--runs must be ≥ 1 and --warmup ≥ 0") }
    }

    func run() throws {
        let base = keep ?? ((dir ?? NSTemporaryDirectory()) + "/gan-bench-models-\(getpid())")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: base) } }
        var scriptPath: String?
        if torch != nil {
            let p = base + "/reference.py"
            try Self.script.write(toFile: p, atomically: true, encoding: .utf8)
            scriptPath = p
        }
        if !json { print("OpenBLAS \(BLASRuntime.coreName), \(Parallel.coreCount) cores; median of \(runs) runs after \(warmup) warm-up") }
        var rows: [Row] = []
        for model in Self.models where filter.map({ model.name.lowercased().contains($0.lowercased()) }) ?? true {
            let folder = base + "/" + model.key
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // 1. The checkpoint (and, with torch, the reference time — measured first, while our threads are idle).
            var checkpoint: String
            var torchMs: Double?, torchCpuMs: Double?
            if let torch, let scriptPath {
                if model.needs == .nvlabs && nvlabs == nil {
                    note("\(model.name): skipped — building its pickle needs the NVlabs code: pass --nvlabs PATH (a checkout of NVlabs/stylegan3)")
                    continue
                }
                let result = try reference(python: torch, script: scriptPath, model: model, folder: folder)
                if let skip = result.skip {
                    note("\(model.name): skipped — \(skip)")
                    continue
                }
                checkpoint = result.path
                torchMs = result.ms
                torchCpuMs = result.cpuMs
            } else if keep != nil, let kept = Self.keptCheckpoint(model, folder: folder) {
                checkpoint = kept
            } else {
                guard model.needs == .none else {
                    note("\(model.name): skipped — its checkpoint is written by the upstream code: pass --torch PYTHON"
                         + (model.needs == .nvlabs ? " and --nvlabs PATH" : " (and --biggan PATH unless pytorch_pretrained_biggan is installed)"))
                    continue
                }
                checkpoint = folder + "/dcgan-64.safetensors"
                try Self.writeDCGAN(checkpoint)
            }
            // 2. Ours: load as a user would, then time `generate`.
            let loaded = try GeneratorLoader.load(path: checkpoint)
            let generator = loaded.generator
            let inputs = Self.inputs(for: model, zDim: generator.zDim, cDim: generator.cDim)
            let (wall, cpu) = try OpsBenchRunner.median(minRuns: runs, minSeconds: 0, warmup: warmup) {
                _ = try generator.generate(inputs)
            }
            let (ms, cpuMs) = (wall * 1e3, cpu * 1e3)
            var layerTimes: [(String, Double)] = []
            if layers {
                let sink = LayerTimer()
                for _ in 0..<runs {
                    sink.start()
                    _ = try generator.generate(inputs, trace: sink)
                }
                layerTimes = sink.medians()
            }
            let parameters = generator.parameters.values.reduce(0) { $0 + $1.elementCount }
            let row = Row(model: model, parameters: parameters, ms: ms, cpuMs: cpuMs, torchMs: torchMs, torchCpuMs: torchCpuMs)
            rows.append(row)
            if !json {
                print(line(row, summary: generator.summary))
                for (name, t) in layerTimes.sorted(by: { $0.1 > $1.1 }) {
                    print("      " + name.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%9.2f ms", t))
                }
            }
        }
        if json {
            print("[\n" + rows.map { "  " + jsonObject($0) }.joined(separator: ",\n") + "\n]")
        }
    }

    /// A checkpoint an earlier `--keep` run left in `folder`.
    static func keptCheckpoint(_ model: Model, folder: String) -> String? {
        let names = ["dcgan-64.pth", "dcgan-64.safetensors", "stylegan2-256.pkl", "stylegan3-256.pkl", "pytorch_model.bin"]
        let prefix = model.key == "biggan" ? "pytorch_model" : model.key
        return names.filter { $0.hasPrefix(prefix) }.map { folder + "/" + $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }

    // MARK: Timing ours

    static func inputs(for model: Model, zDim: Int, cDim: Int) -> GeneratorInputs {
        var rng = GaussianRNG(seed: 0)
        let z = Tensor(shape: [model.batch, zDim], floats: rng.gaussians(model.batch * zDim).map { model.classes > 0 ? max(-2, min(2, $0)) * model.truncation : $0 })
        var c: Tensor?
        if cDim > 0 {
            var onehot = [Float](repeating: 0, count: model.batch * cDim)
            for i in 0..<model.batch { onehot[i * cDim + (i * 37) % cDim] = 1 }
            c = Tensor(shape: [model.batch, cDim], floats: onehot)
        }
        return GeneratorInputs(z: z, c: c, truncation: model.truncation)
    }

    /// Wall time between consecutive trace records: the cost of each traced layer (the first includes the input).
    final class LayerTimer: TraceSink {
        private var last = DispatchTime.now().uptimeNanoseconds
        private var samples: [String: [Double]] = [:]
        private var order: [String] = []

        func start() { last = DispatchTime.now().uptimeNanoseconds }

        func record(_ name: String, _ tensor: Tensor) {
            let now = DispatchTime.now().uptimeNanoseconds
            if samples[name] == nil { order.append(name) }
            samples[name, default: []].append(Double(now - last) / 1e6)
            last = DispatchTime.now().uptimeNanoseconds
        }

        func medians() -> [(String, Double)] {
            order.map { name in (name, median(samples[name, default: []])) }
        }
    }

    // MARK: Output

    private func note(_ s: String) {
        if json { ToolMain.printError("note: " + s) } else { print("note: " + s) }
    }

    private func line(_ r: Row, summary: String) -> String {
        var s = "\(r.model.name) (batch \(r.model.batch), \(fmtCount(r.parameters)) parameters)".padding(toLength: 52, withPad: " ", startingAt: 0)
            + String(format: "%10.1f ms (cpu %8.1f ms)", r.ms, r.cpuMs)
        if let t = r.torchMs {
            s += String(format: "   torch %10.1f ms (cpu %8.1f ms)   ×%.2f", t, r.torchCpuMs ?? .nan, t / r.ms)
        }
        return s + "\n    " + summary
    }

    private func fmtCount(_ n: Int) -> String { n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : "\(n)" }

    private func jsonObject(_ r: Row) -> String {
        let params = "{\"batch\": \(r.model.batch), \"resolution\": \(r.model.resolution), \"parameters\": \(r.parameters)}"
        return "{\"model\": \"\(r.model.name)\", \"params\": \(params), \"ms\": \(jsonNumber(r.ms, 3)), \"cpu_ms\": \(jsonNumber(r.cpuMs, 3)), "
            + "\"torch_ms\": \(jsonNumber(r.torchMs, 3)), \"torch_cpu_ms\": \(jsonNumber(r.torchCpuMs, 3)), \"ratio\": \(jsonNumber(r.torchMs.map { $0 / r.ms }, 3))}"
    }

    // MARK: Checkpoints without torch

    /// pytorch/examples DCGAN generator (nz 100, ngf 64, nc 3) state dict as safetensors, the same names
    /// `torch.save(netG.state_dict())` writes, DCGAN-style random values.
    static func writeDCGAN(_ path: String) throws {
        var store = TensorStore()
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ shape: [Int], center: Float, spread: Float) -> Tensor {
            let n = shape.reduce(1, *)
            var v = [Float](repeating: 0, count: n)
            for i in 0..<n {
                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
                v[i] = center + (Float(seed >> 40) / Float(1 << 24) * 2 - 1) * spread
            }
            return Tensor(shape: shape, floats: v)
        }
        let channels = [100, 512, 256, 128, 64, 3]
        var index = 0
        for layer in 0..<5 {
            store["main.\(index).weight"] = random([channels[layer], channels[layer + 1], 4, 4], center: 0, spread: 0.035)
            if layer == 4 { break }
            let c = channels[layer + 1]
            store["main.\(index + 1).weight"] = random([c], center: 1, spread: 0.035)
            store["main.\(index + 1).bias"] = random([c], center: 0, spread: 0.05)
            store["main.\(index + 1).running_mean"] = random([c], center: 0, spread: 0.2)
            store["main.\(index + 1).running_var"] = random([c], center: 1, spread: 0.5)
            store["main.\(index + 1).num_batches_tracked"] = Tensor(zeros: [], dtype: .i64)
            index += 3
        }
        try SafeTensors.write(store, to: path, overwrite: true)
    }

    // MARK: The PyTorch side

    struct Reference {
        var path: String
        var ms: Double?
        var cpuMs: Double?
        var skip: String?
    }

    /// Runs the generated script for one model: it builds the checkpoint with the upstream code, times the
    /// upstream forward pass, and prints one JSON line.
    private func reference(python: String, script: String, model: Model, folder: String) throws -> Reference {
        let args = [script, model.key, folder, String(model.batch), String(runs), String(warmup), nvlabs ?? "", biggan ?? ""]
        let output = try BenchSupport.runPython(python, args, what: "the PyTorch reference script for \(model.name)")
        for text in output.split(separator: "\n").reversed() {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
            if let skip = obj["skip"] as? String { return Reference(path: "", ms: nil, cpuMs: nil, skip: skip) }
            if let path = obj["path"] as? String { return Reference(path: path, ms: obj["ms"] as? Double, cpuMs: obj["cpu_ms"] as? Double, skip: nil) }
        }
        throw StoreError(.io, "the PyTorch reference script printed no result for \(model.name)", file: python)
    }

    /// argv: model folder batch runs warmup nvlabs biggan. Builds `model`'s checkpoint in `folder` with random
    /// weights, times the forward pass, prints {"path", "ms"} (or {"skip": reason}).
    static let script = #"""
        import json, os, pickle, sys, time, types
        import torch

        model, folder, batch, runs, warmup, nvlabs, biggan = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
        torch.set_num_threads(2)
        torch.manual_seed(0)

        def timed(fn):
            with torch.no_grad():
                for _ in range(warmup):
                    fn()
                xs, cs = [], []
                for _ in range(runs):
                    t0, c0 = time.perf_counter(), time.process_time()
                    fn()
                    xs.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
            xs.sort(); cs.sort()
            return xs[len(xs) // 2] * 1e3, cs[len(cs) // 2] * 1e3

        def stub(name, **attrs):
            # Stand-ins for packages the upstream code imports but never calls here.
            m = types.ModuleType(name)
            m.__dict__.update(attrs)
            sys.modules[name] = m

        def need_pkg_resources():
            try:
                import pkg_resources  # noqa: F401
            except ImportError:
                def parse_version(v):
                    return tuple(int(''.join(ch for ch in p if ch.isdigit()) or 0) for p in v.split('+')[0].split('.'))
                stub('pkg_resources', parse_version=parse_version)

        def nvlabs_pickle(net, G, path):
            # A {'G_ema': G} network pickle as training snapshots hold it, minus the embedded module source.
            classes = [c for c in vars(net).values() if isinstance(c, type) and hasattr(c, '_orig_module_src')]
            saved = {c: c._orig_module_src for c in classes}
            for c in classes:
                c._orig_module_src = '# module source omitted\n'
            try:
                with open(path, 'wb') as f:
                    pickle.dump({'G_ema': G}, f)
            finally:
                for c, s in saved.items():
                    c._orig_module_src = s

        def dcgan():
            nn = torch.nn
            nz, ch = 100, [512, 256, 128, 64]
            layers, prev = [], nz
            for i, c in enumerate(ch):
                layers += [nn.ConvTranspose2d(prev, c, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
                prev = c
            layers += [nn.ConvTranspose2d(prev, 3, 4, 2, 1, bias=False), nn.Tanh()]
            G = nn.Module()
            G.main = nn.Sequential(*layers)
            with torch.no_grad():
                for m in G.modules():
                    if isinstance(m, nn.ConvTranspose2d):
                        m.weight.normal_(0, 0.02)
                    elif isinstance(m, nn.BatchNorm2d):
                        m.weight.normal_(1, 0.02); m.bias.normal_(0, 0.05)
                        m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 1.5)
            G.eval()
            path = os.path.join(folder, 'dcgan-64.pth')
            torch.save(G.state_dict(), path)
            z = torch.randn(batch, nz, 1, 1)
            return path, lambda: G.main(z)

        def stylegan(kind):
            sys.path.insert(0, nvlabs)
            need_pkg_resources()
            if kind == 2:
                from training import networks_stylegan2 as net
                # paper256 (stylegan2-ada / stylegan3 --cfg=stylegan2 --cbase=16384): 8 mapping layers.
                G = net.Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                                  mapping_kwargs=dict(num_layers=8), channel_base=16384, channel_max=512,
                                  num_fp16_res=4, conv_clamp=256)
            else:
                from training import networks_stylegan3 as net
                # --cfg=stylegan3-t defaults at 256 px.
                G = net.Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                                  mapping_kwargs=dict(num_layers=2), channel_base=32768, channel_max=512,
                                  num_fp16_res=4, conv_clamp=256, magnitude_ema_beta=0.5 ** (32 / 20000))
            G = G.eval().requires_grad_(False)
            with torch.no_grad():
                for name, b in G.named_buffers():
                    if name.endswith('noise_const'):
                        b.normal_()
                for name, p in G.named_parameters():
                    if name.endswith('noise_strength'):
                        p.fill_(0.05)
            path = os.path.join(folder, 'stylegan%d-256.pkl' % kind)
            nvlabs_pickle(net, G, path)
            z = torch.randn(batch, 512)
            c = torch.zeros(batch, 0)
            return path, lambda: G(z, c, truncation_psi=1, noise_mode='const', force_fp32=True)

        def biggan_deep():
            if biggan:
                sys.path.insert(0, biggan)
            for name, attrs in [('boto3', {}), ('botocore', {}), ('botocore.exceptions', {'ClientError': Exception}),
                                ('tqdm', {'tqdm': lambda *a, **k: None})]:
                try:
                    __import__(name)
                except ImportError:
                    stub(name, **attrs)
            try:
                from pytorch_pretrained_biggan import BigGAN, BigGANConfig
            except ImportError as e:
                return None, 'pytorch_pretrained_biggan is not importable (%s): pass --biggan PATH or pip install it' % e
            config = BigGANConfig()  # the biggan-deep-128 configuration
            G = BigGAN(config).eval()
            with torch.no_grad():
                for name, p in G.named_parameters():
                    if name.endswith('bn.weight'):
                        p.normal_(1, 0.05)
                    elif name.endswith('bn.bias'):
                        p.normal_(0, 0.05)
                for name, b in G.named_buffers():
                    if name.endswith('running_means'):
                        b.normal_(0, 0.1)
                    elif name.endswith('running_vars'):
                        b.uniform_(0.5, 1.5)
            path = os.path.join(folder, 'pytorch_model.bin')
            torch.save(G.state_dict(), path, _use_new_zipfile_serialization=False)
            with open(os.path.join(folder, 'config.json'), 'w') as f:
                json.dump(config.__dict__, f)
            z = (torch.randn(batch, config.z_dim).clamp(-2, 2) * 0.4)
            y = torch.zeros(batch, config.num_classes)
            for i in range(batch):
                y[i, (i * 37) % config.num_classes] = 1
            return path, lambda: G(z, y, 0.4)

        if model == 'dcgan':
            path, fn = dcgan()
        elif model in ('stylegan2', 'stylegan3'):
            path, fn = stylegan(2 if model == 'stylegan2' else 3)
        else:
            path, fn = biggan_deep()
        if path is None:
            print(json.dumps({'skip': fn}))
        else:
            ms, cpu_ms = timed(fn)
            print(json.dumps({'path': path, 'ms': ms, 'cpu_ms': cpu_ms}), flush=True)
        """#
}
