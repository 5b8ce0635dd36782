import TensorStore

/// A `module.name` pair a pickle refers to through GLOBAL / STACK_GLOBAL / INST.
struct GlobalName: Hashable, CustomStringConvertible {
    var module: String
    var name: String
    var description: String { "\(module).\(name)" }
}

/// A byte string of the pickle. It views its owner's memory (the mapped file or an inflated member) without
/// copying, so nested `_load_from_bytes` streams and numpy raw data stay zero-copy where possible.
struct PickleBytes {
    let owner: Storage
    let range: Range<Int>
    var count: Int { range.count }
    var bytes: UnsafeRawBufferPointer {
        range.isEmpty ? UnsafeRawBufferPointer(start: nil, count: 0) : UnsafeRawBufferPointer(rebasing: owner.bytes[range])
    }
}

/// One value on the pickle machine's stack. Mutable containers are classes: BUILD, SETITEM(S), APPEND(S) and
/// ADDITEMS change the object every memo reference shares, exactly as in Python.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit 64 bits, as little-endian two's-complement bytes (LONG1/LONG4 payload).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes(PickleBytes)
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case set(PickleSet)
    case global(GlobalName)
    case object(PickleObject)
    /// A torch storage (from a persistent id or a nested `_load_from_bytes` stream).
    case storage(StorageRef)
    /// A tensor rebuilt through an allowlisted path (torch rebuild functions, numpy arrays).
    case tensor(TensorBox)

    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .set: return "set"
        case let .global(g): return "global \(g)"
        case let .object(o): return "object \(o.className)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }

    var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    var intValue: Int? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Elements of a tuple or list (torch.Size arrives as a tuple).
    var sequence: [PickleValue]? {
        switch self {
        case let .tuple(t): return t.items
        case let .list(l): return l.items
        default: return nil
        }
    }

    /// The dict behind dict-like values (dicts, and objects that received SETITEMS).
    var dictValue: PickleDict? {
        switch self {
        case let .dict(d): return d
        case let .object(o): return o.dictItems
        default: return nil
        }
    }
}

/// A hashable projection of a dict key, so insertion order can be kept with any key type.
enum PickleKey: Hashable {
    case none, bool(Bool), int(Int), bigInt([UInt8]), float(Double), string(String), bytes([UInt8])
    case tuple([PickleKey])
    case identity(ObjectIdentifier)
    case global(GlobalName)

    init(_ v: PickleValue) {
        var budget = 4096
        self.init(v, budget: &budget)
    }

    /// `budget` bounds the work for tuple keys shaped as memo-shared DAGs (exponentially many paths).
    private init(_ v: PickleValue, budget: inout Int) {
        budget -= 1
        switch v {
        case .none: self = .none
        case let .bool(b): self = .bool(b)
        case let .int(i): self = .int(i)
        case let .bigInt(b): self = .bigInt(b)
        case let .float(f): self = .float(f)
        case let .string(s): self = .string(s)
        case let .bytes(b): self = .bytes(Array(b.bytes.prefix(4096)))
        case let .tuple(t):
            // Large or deeply nested tuple keys hash by identity, so hashing stays cheap.
            if budget > t.count {
                var parts: [PickleKey] = []
                for x in t.items { parts.append(PickleKey(x, budget: &budget)) }
                self = .tuple(parts)
            } else {
                self = .identity(ObjectIdentifier(t))
            }
        case let .global(g): self = .global(g)
        case let .list(o): self = .identity(ObjectIdentifier(o))
        case let .dict(o): self = .identity(ObjectIdentifier(o))
        case let .set(o): self = .identity(ObjectIdentifier(o))
        case let .object(o): self = .identity(ObjectIdentifier(o))
        case let .storage(o): self = .identity(ObjectIdentifier(o))
        case let .tensor(o): self = .identity(ObjectIdentifier(o))
        }
    }
}

/// Containers register with the machine's arena so their links can be cut iteratively at the end: deep or
/// cyclic object graphs from hostile files must neither recurse in deinit nor leak.
protocol PickleContainer: AnyObject {
    func clearLinks()
}

/// Tuples are immutable in Python, but a class here too: every container joins the arena, so a hostile chain
/// of a million TUPLE1s frees without recursion.
final class PickleTuple: PickleContainer {
    private(set) var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    var count: Int { items.count }
    subscript(_ i: Int) -> PickleValue { items[i] }
    func clearLinks() { items = [] }
}

final class PickleList: PickleContainer {
    var items: [PickleValue] = []
    init(_ items: [PickleValue] = []) { self.items = items }
    func clearLinks() { items = [] }
}

final class PickleDict: PickleContainer {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [PickleKey: Int] = [:]
    /// The class when this dict is a dict subclass (OrderedDict, EasyDict, defaultdict, …); nil for `dict`.
    var className: String?
    /// Attributes set by BUILD on a dict subclass (`OrderedDict._metadata`); kept, never interpreted.
    var attributes: PickleValue?

    init(className: String? = nil) { self.className = className }

    var count: Int { keys.count }
    var items: Zip2Sequence<[PickleValue], [PickleValue]> { zip(keys, values) }

    func set(_ key: PickleValue, _ value: PickleValue) {
        let k = PickleKey(key)
        if let i = index[k] {
            values[i] = value
        } else {
            index[k] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    subscript(_ key: String) -> PickleValue? {
        index[.string(key)].map { values[$0] }
    }

    func clearLinks() {
        keys = []
        values = []
        index = [:]
        attributes = nil
    }
}

final class PickleSet: PickleContainer {
    var items: [PickleValue] = []
    var frozen = false
    init(_ items: [PickleValue] = [], frozen: Bool = false) {
        self.items = items
        self.frozen = frozen
    }
    func clearLinks() { items = [] }
}

/// An instance of a class the reader does not interpret as a plain value: numpy arrays and dtypes before and
/// after BUILD, module records, TF networks, namespaces, and inert opaque objects. Nothing about it is ever
/// executed; it only records what the pickle said.
final class PickleObject: PickleContainer {
    enum Kind {
        /// A class or callable the reader knows no meaning for (an inert node that names it).
        case opaque
        /// `argparse.Namespace` and similar attribute bags: the state dict holds the attributes.
        case namespace
        /// `torch_utils.persistence._reconstruct_persistent_obj(meta)`: a module record.
        case persistentModule
        /// `dnnlib.tflib.network.Network`: NEWOBJ then BUILD with the network's state dict.
        case tfNetwork
        /// numpy `_reconstruct(ndarray, …)` before / after BUILD.
        case ndarray
        /// `numpy.dtype(…)` before / after BUILD.
        case numpyDType
        /// `numpy…scalar(dtype, bytes)`.
        case numpyScalar
    }

    let callable: GlobalName?
    let kind: Kind
    var args: [PickleValue]
    var state: PickleValue?
    /// Items given by SETITEM(S) to an object of an unknown class (a dict subclass the reader cannot name).
    var dictItems: PickleDict?
    /// Items given by APPEND(S) to an object of an unknown class (a list subclass).
    var listItems: PickleList?
    /// The tensor a numpy array object stands for, once BUILD gave it shape, dtype and data.
    var tensor: TensorBox?
    /// The dtype a numpy dtype object stands for.
    var numpyDType: NumpyDType?
    /// Where it was created (stream label and byte offset), for messages.
    let location: String
    /// True when the callable or class is classed dangerous: the object stays inert, and loading refuses it
    /// unless dangerous globals are allowed.
    let dangerous: Bool

    init(callable: GlobalName?, kind: Kind, args: [PickleValue], location: String, dangerous: Bool = false) {
        self.callable = callable
        self.kind = kind
        self.args = args
        self.location = location
        self.dangerous = dangerous
    }

    var className: String { callable?.description ?? "<object>" }

    /// The attribute dict of the object: its BUILD state (or the dict half of a `(dict, slots)` state).
    var attributeDict: PickleDict? {
        switch state {
        case let .dict(d)?: return d
        case let .tuple(t)?:
            if let first = t.items.first, case let .dict(d) = first { return d }
            if t.count > 1, case let .dict(d) = t[1] { return d }
            return nil
        default: return nil
        }
    }

    func clearLinks() {
        args = []
        state = nil
        dictItems = nil
        listItems = nil
    }
}

/// A numpy dtype as far as tensors need it.
struct NumpyDType {
    var dtype: DType?
    var byteOrder: ByteOrder
    var descr: String
}
