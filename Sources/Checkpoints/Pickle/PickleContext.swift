import TensorStore

/// Limits that keep hostile pickles from exhausting memory or time. One budget is shared by a file's outer
/// pickle and every nested stream it contains.
final class PickleBudget {
    /// Memo entries held at once by one machine.
    var maxMemoEntries = 4_000_000
    /// Values on one machine's stack.
    var maxStackDepth = 4_000_000
    /// Open MARKs at once.
    var maxMarkDepth = 100_000
    /// Bytes the reader may allocate for copies (decoded strings, `_codecs.encode`, misaligned data).
    var maxAllocatedBytes: Int
    /// Nested `_load_from_bytes` streams inside one another.
    var maxNestingDepth = 4
    /// Nested `_load_from_bytes` streams in total.
    var maxNestedStreams = 2_000_000
    /// Containers created in total (each costs memory even when empty).
    var maxContainers = 20_000_000
    /// Depth of the object graph that walkers descend (naming, metadata, tree).
    var maxGraphDepth = 200
    /// Nodes the naming walk may visit in total (a memo-shared DAG can have exponentially many paths).
    var maxGraphVisits = 1_000_000

    private(set) var allocated = 0
    var containers = 0
    var nestedStreams = 0

    init(sourceBytes: Int) {
        // Copies legitimately made from a file are bounded by a small multiple of its size.
        let (twice, o) = sourceBytes.multipliedReportingOverflow(by: 3)
        maxAllocatedBytes = o ? Int.max : twice + (256 << 20)
    }

    func allocate(_ n: Int, _ what: @autoclosure () -> String) throws {
        let (sum, o) = allocated.addingReportingOverflow(max(n, 0))
        guard !o, sum <= maxAllocatedBytes else {
            throw StoreError(.tooLarge, "\(what()) would exceed the reader's allocation budget of \(maxAllocatedBytes) bytes")
        }
        allocated = sum
    }
}

/// Shared state of one file's read: policy, budget, the globals met and the warnings to report.
final class PickleContext {
    let allowDangerousGlobals: Bool
    /// Scan mode: record globals, never refuse, tolerate what loading would reject in allowlisted calls.
    let scanOnly: Bool
    let budget: PickleBudget
    let maxInflatedBytes: Int
    private(set) var globals: [GlobalReference] = []
    private var seenGlobals: Set<String> = []
    var warnings: [String] = []
    private var warned: Set<String> = []
    /// Every container made, so links can be cut without recursion when the read ends.
    private var arena: [PickleContainer] = []
    /// Nested streams already parsed, by their bytes' address and length (memo-shared blobs parse once).
    var nestedCache: [NestedKey: PickleValue] = [:]
    var nestingDepth = 0

    struct NestedKey: Hashable {
        var address: Int
        var count: Int
    }

    init(allowDangerousGlobals: Bool, scanOnly: Bool = false, sourceBytes: Int, maxInflatedBytes: Int = 8 << 30) {
        self.allowDangerousGlobals = allowDangerousGlobals
        self.scanOnly = scanOnly
        self.budget = PickleBudget(sourceBytes: sourceBytes)
        self.maxInflatedBytes = maxInflatedBytes
    }

    func record(_ g: GlobalName, safety: GlobalReference.Safety, location: String) {
        let key = "\(g)|\(location)"
        guard seenGlobals.insert(key).inserted else { return }
        globals.append(GlobalReference(module: g.module, name: g.name, safety: safety, location: location))
    }

    /// Replaces the location of global references with a better one (the object path found by a walk).
    func relocate(_ g: GlobalName, from old: String, to new: String) {
        for i in globals.indices where globals[i].module == g.module && globals[i].name == g.name && globals[i].location == old {
            globals[i].location = new
        }
    }

    func warn(_ s: String) {
        if warned.insert(s).inserted { warnings.append(s) }
    }

    func register(_ c: PickleContainer) throws {
        budget.containers += 1
        guard budget.containers <= budget.maxContainers else {
            throw StoreError(.tooLarge, "pickle creates more than \(budget.maxContainers) containers")
        }
        arena.append(c)
    }

    /// Cuts every container's links (iteratively), so deep or cyclic graphs free without recursion.
    func tearDown() {
        for c in arena { c.clearLinks() }
        arena = []
        nestedCache = [:]
    }

    deinit { tearDown() }
}
