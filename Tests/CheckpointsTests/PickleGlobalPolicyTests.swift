import Testing
@testable import Checkpoints

/// The closed allowlist and the dangerous set.
@Suite struct PickleGlobalPolicyTests {
    private func safety(_ q: String) -> String {
        let parts = q.split(separator: ".")
        let g = GlobalName(module: parts.dropLast().joined(separator: "."), name: String(parts.last!))
        return GlobalPolicy.classify(g).rawValue
    }

    @Test func allowlistedGlobalsHaveMeaning() {
        for q in ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
                  "torch._utils._rebuild_parameter_with_state", "torch.FloatStorage", "torch.cuda.HalfStorage", "torch.Size",
                  "torch.storage._load_from_bytes", "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                  "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.ndarray", "numpy.dtype",
                  "_codecs.encode", "argparse.Namespace", "dnnlib.EasyDict", "dnnlib.util.EasyDict",
                  "torch_utils.persistence._reconstruct_persistent_obj", "dnnlib.tflib.network.Network",
                  "torch.nn.modules.conv.Conv2d", "__builtin__.set", "builtins.set", "torch.bfloat16"] {
            #expect(safety(q) == "allowed", "\(q)")
        }
    }

    @Test func dangerousGlobalsAreFlagged() {
        for q in ["os.system", "posix.system", "nt.system", "subprocess.Popen", "builtins.eval", "builtins.exec",
                  "builtins.compile", "builtins.__import__", "builtins.getattr", "builtins.open", "__builtin__.eval",
                  "runpy.run_path", "webbrowser.open", "socket.socket", "shutil.rmtree", "pty.spawn",
                  "importlib.import_module", "functools.partial", "sys.modules", "torch.load", "numpy.load",
                  "torch_utils.persistence._src_to_module", "operator.attrgetter", "os.path.join"] {
            #expect(safety(q) == "dangerous", "\(q)")
        }
    }

    @Test func everythingElseIsUnknown() {
        for q in ["training.networks.Generator", "__main__.Generator", "torch.optim.adam.Adam", "numpy.random.RandomState"] {
            #expect(safety(q) == "unknown", "\(q)")
        }
    }
}
