import TensorStore

/// The closed allowlist of globals with a known meaning, and the dangerous set. Everything that is neither is
/// "unknown": it becomes an inert opaque node that names it. Nothing is ever called, whatever the class.
enum GlobalPolicy {
    /// What an allowlisted global means to the reader.
    enum Meaning: Equatable {
        case orderedDict, plainDict, counter, easyDict, set, frozenSet, bytearray, complex, slice
        case codecsEncode
        case torchRebuildTensor, torchRebuildTensorV2, torchRebuildTensorV3
        case torchRebuildParameter, torchRebuildParameterWithState, torchRebuildFromTypeV2
        case torchRebuildDeviceTensorFromNumpy
        /// Rebuild paths for quantized / sparse / meta / subclass tensors: recognised, kept opaque.
        case torchRebuildUnsupported
        case torchParameter, torchSize, torchDevice, torchLayout, torchTensorClass
        case torchStorage(DType?)
        case torchDType(DType?)
        case loadFromBytes
        case numpyReconstruct, numpyNDArray, numpyDType, numpyScalar, numpyFromBuffer
        case argparseNamespace
        case persistentObject
        case tfNetwork
        case torchModuleClass
        case copyregReconstructor, copyregNewObj
        case builtinValueType
    }

    static func classify(_ g: GlobalName) -> GlobalReference.Safety {
        if meaning(of: g) != nil { return .allowed }
        return isDangerous(g) ? .dangerous : .unknown
    }

    /// Storage classes and their element types (`torch.cuda.*Storage` in old CUDA saves mean the same bytes).
    static let storageTypes: [String: DType?] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool, "UntypedStorage": nil,
    ]

    /// torch dtype globals (`torch.float32`, …); nil for dtypes the tensor store cannot hold (complex, float8).
    static let torchDTypes: [String: DType?] = [
        "float32": .f32, "float": .f32, "float64": .f64, "double": .f64, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16, "short": .i16,
        "int8": .i8, "uint8": .u8, "bool": .bool, "uint16": .u16, "uint32": .u32, "uint64": .u64,
        "complex64": nil, "complex128": nil, "cfloat": nil, "cdouble": nil, "complex32": nil, "chalf": nil,
        "float8_e4m3fn": nil, "float8_e5m2": nil, "float8_e4m3fnuz": nil, "float8_e5m2fnuz": nil,
        "qint8": nil, "quint8": nil, "qint32": nil, "quint4x2": nil,
    ]

    static func meaning(of g: GlobalName) -> Meaning? {
        let m = g.module, n = g.name
        switch m {
        case "collections":
            switch n {
            case "OrderedDict": return .orderedDict
            case "defaultdict": return .plainDict
            case "Counter": return .counter
            default: return nil
            }
        case "builtins", "__builtin__":
            switch n {
            case "set": return .set
            case "frozenset": return .frozenSet
            case "bytearray": return .bytearray
            case "complex": return .complex
            case "slice": return .slice
            case "dict": return .plainDict
            case "list", "tuple", "int", "float", "str", "bytes", "bool", "object", "range", "unicode", "long":
                return .builtinValueType
            default: return nil
            }
        case "_codecs": return n == "encode" ? .codecsEncode : nil
        case "copy_reg", "copyreg":
            switch n {
            case "_reconstructor": return .copyregReconstructor
            case "__newobj__", "__newobj_ex__": return .copyregNewObj
            default: return nil
            }
        case "torch._utils":
            switch n {
            case "_rebuild_tensor": return .torchRebuildTensor
            case "_rebuild_tensor_v2": return .torchRebuildTensorV2
            case "_rebuild_tensor_v3": return .torchRebuildTensorV3
            case "_rebuild_parameter": return .torchRebuildParameter
            case "_rebuild_parameter_with_state": return .torchRebuildParameterWithState
            case "_rebuild_device_tensor_from_numpy": return .torchRebuildDeviceTensorFromNumpy
            case "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
                 "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_nested_tensor",
                 "_rebuild_sparse_csr_tensor", "_rebuild_xla_tensor", "_rebuild_mlc_tensor":
                return .torchRebuildUnsupported
            default: return nil
            }
        case "torch._tensor":
            return n == "_rebuild_from_type_v2" ? .torchRebuildFromTypeV2 : nil
        case "torch.storage":
            switch n {
            case "_load_from_bytes": return .loadFromBytes
            case "TypedStorage", "UntypedStorage": return .torchStorage(nil)
            default: return nil
            }
        case "torch.nn.parameter":
            return n == "Parameter" || n == "Buffer" ? .torchParameter : nil
        case "torch.serialization":
            return n == "_get_layout" ? .torchLayout : nil
        case "torch", "torch.cuda":
            if let t = storageTypes[n] { return .torchStorage(t) }
            if m == "torch" {
                if let t = torchDTypes[n] { return .torchDType(t) }
                switch n {
                case "Size": return .torchSize
                case "device": return .torchDevice
                case "Tensor", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ByteTensor",
                     "BoolTensor", "BFloat16Tensor", "ShortTensor", "CharTensor": return .torchTensorClass
                case "strided", "sparse_coo", "sparse_csr", "_mkldnn", "per_tensor_affine", "per_channel_affine":
                    return .torchLayout
                default: return nil
                }
            }
            return nil
        case "numpy.core.multiarray", "numpy._core.multiarray":
            switch n {
            case "_reconstruct": return .numpyReconstruct
            case "scalar": return .numpyScalar
            default: return nil
            }
        case "numpy.core.numeric", "numpy._core.numeric":
            return n == "_frombuffer" ? .numpyFromBuffer : nil
        case "numpy":
            switch n {
            case "ndarray": return .numpyNDArray
            case "dtype": return .numpyDType
            default: return nil
            }
        case "argparse":
            return n == "Namespace" ? .argparseNamespace : nil
        case "dnnlib", "dnnlib.util":
            return n == "EasyDict" ? .easyDict : nil
        case "torch_utils.persistence":
            return n == "_reconstruct_persistent_obj" ? .persistentObject : nil
        case "dnnlib.tflib.network":
            return n == "Network" ? .tfNetwork : nil
        default:
            // Whole pickled torch.nn modules (Conv2d, Sequential, BatchNorm2d, …): inert classes whose state
            // carries _parameters / _buffers / _modules.
            if m.hasPrefix("torch.nn.modules.") || m == "torch.nn.utils.spectral_norm" || m == "torch.nn.utils.weight_norm" {
                return .torchModuleClass
            }
            if m.hasPrefix("numpy.") && n.hasPrefix("dtype[") { return .numpyDType }  // numpy ≥1.20 dtype classes
            return nil
        }
    }

    /// Modules whose every global is a process, shell, import, eval, file, network or introspection gadget.
    static let dangerousModules: [String] = [
        "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "runpy", "webbrowser", "socket", "shutil",
        "pty", "importlib", "imp", "pickle", "_pickle", "cPickle", "pickletools", "marshal", "ctypes", "code", "codeop",
        "commands", "popen2", "multiprocessing", "asyncio", "pdb", "bdb", "trace", "profile", "cProfile", "timeit",
        "doctest", "idlelib", "lib2to3", "http", "urllib", "urllib2", "urllib3", "requests", "httplib", "ftplib",
        "telnetlib", "smtplib", "poplib", "imaplib", "nntplib", "xmlrpc", "socketserver", "ssl", "select",
        "selectors", "signal", "threading", "_thread", "thread", "io", "_io", "tempfile", "glob", "fileinput",
        "pathlib", "zipimport", "pkgutil", "site", "sysconfig", "distutils", "setuptools", "pip", "ensurepip", "venv",
        "types", "inspect", "gc", "operator", "_operator", "functools", "builtins", "__builtin__", "__builtins__",
        "platform", "logging.config", "torch.hub", "torch.jit", "torch.package", "torch._dynamo", "torch.utils.cpp_extension",
        "numpy.f2py", "numpy.distutils", "numpy.testing", "dill", "joblib", "cloudpickle", "yaml", "jinja2", "bz2",
    ]

    /// Single globals outside those modules that run code or load further pickles.
    static let dangerousNames: Set<String> = [
        "torch.load", "torch.serialization.load", "torch.serialization._legacy_load", "torch.storage._load_from_file",
        "numpy.load", "numpy.lib.npyio.load", "numpy.loadtxt", "numpy.fromfile", "pandas.read_pickle",
        "torch._C._jit_set_profiling_executor", "torch.ops.load_library", "torch._ops.load_library",
        "torch_utils.persistence._src_to_module", "dnnlib.util.call_func_by_name", "dnnlib.util.get_obj_by_name",
        "dnnlib.util.construct_class_by_name", "dnnlib.util.open_url",
    ]

    static func isDangerous(_ g: GlobalName) -> Bool {
        if dangerousNames.contains(g.description) { return true }
        for m in dangerousModules where g.module == m || g.module.hasPrefix(m + ".") { return true }
        // Names that are gadgets wherever they live.
        let gadgetNames: Set<String> = ["eval", "exec", "execfile", "compile", "__import__", "system", "popen", "spawn",
                                        "getattr", "setattr", "delattr", "open", "apply", "run_path", "run_module",
                                        "check_output", "check_call", "call", "Popen", "runstring", "exec_command"]
        if gadgetNames.contains(g.name) { return true }
        return false
    }
}
