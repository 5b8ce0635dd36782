import TensorStore

/// A pickle virtual machine (protocols 0–5) that never calls anything: GLOBAL resolves to a name, and
/// REDUCE / NEWOBJ / BUILD are interpreted symbolically for allowlisted globals (see `PickleSemantics`) and make
/// inert opaque nodes for everything else. Every structural problem is a thrown error naming the byte offset.
/// See Formats/pickle-machine.md.
struct PickleMachine {
    /// Resolves a persistent id (BINPERSID / PERSID) to a value; nil means the container has none.
    typealias PersistentLoad = (_ pid: PickleValue, _ location: String) throws -> PickleValue

    let source: Storage
    let bytes: UnsafeRawBufferPointer
    /// Position of the next byte to read.
    private(set) var pos: Int
    let end: Int
    /// Names this stream in locations, e.g. `archive/data.pkl` or `blob at data.pkl byte 812`.
    let label: String
    let context: PickleContext
    var persistentLoad: PersistentLoad?

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var frameEnd: Int?
    private(set) var proto = 0
    /// Offset of the opcode being executed.
    private(set) var opStart = 0

    init(source: Storage, range: Range<Int>? = nil, label: String, context: PickleContext,
         persistentLoad: PersistentLoad? = nil) {
        self.source = source
        self.bytes = source.bytes
        let r = range ?? 0..<source.count
        self.pos = r.lowerBound
        self.end = min(r.upperBound, source.count)
        self.label = label
        self.context = context
        self.persistentLoad = persistentLoad
    }

    var location: String { "\(label) byte \(opStart)" }

    func fail(_ code: StoreError.Code, _ message: String) -> StoreError {
        StoreError(code, "\(label) byte \(opStart): \(message)")
    }

    // MARK: Operand reading (bounds- and frame-checked)

    private mutating func take(_ n: Int) throws -> Int {
        guard n >= 0, n <= end - pos else {
            throw fail(.truncated, "operand of \(n) bytes runs past the end of the data")
        }
        if let fe = frameEnd {
            guard pos + n <= fe else { throw fail(.corrupt, "operand straddles the end of its FRAME") }
        }
        let start = pos
        pos += n
        if let fe = frameEnd, pos == fe { frameEnd = nil }
        return start
    }

    private mutating func u8() throws -> Int { Int(bytes[try take(1)]) }
    private mutating func u16() throws -> Int { Int(bytes.loadUnaligned(fromByteOffset: try take(2), as: UInt16.self).littleEndian) }
    private mutating func u32() throws -> Int { Int(bytes.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self).littleEndian) }
    private mutating func i32() throws -> Int { Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4), as: Int32.self))) }
    private mutating func u64() throws -> Int {
        let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self))
        guard let i = Int(exactly: v) else { throw fail(.outOfBounds, "length \(v) does not fit") }
        return i
    }

    /// A newline-terminated text operand (protocol 0), without the newline.
    private mutating func line(latin1: Bool = false) throws -> String {
        let limit = min(frameEnd ?? end, end)
        var i = pos
        while i < limit && bytes[i] != 0x0a { i += 1 }
        guard i < limit else { throw fail(.truncated, "text operand has no terminating newline") }
        try context.budget.allocate(i - pos, "a text operand")
        let raw = UnsafeRawBufferPointer(rebasing: bytes[pos..<i])
        let s = latin1 ? String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) })) : String(decoding: raw, as: UTF8.self)
        _ = try take(i - pos + 1)
        return s
    }

    private mutating func slice(_ n: Int) throws -> PickleBytes {
        let s = try take(n)
        return PickleBytes(owner: source, range: s..<(s + n))
    }

    private mutating func utf8(_ n: Int) throws -> String {
        let s = try take(n)
        try context.budget.allocate(n, "a \(n)-byte string")
        let raw = UnsafeRawBufferPointer(rebasing: bytes[s..<(s + n)])
        // Python writes lone surrogates with 'surrogatepass'; they decode to U+FFFD here.
        return String(decoding: raw, as: UTF8.self)
    }

    /// Python 2 byte strings (STRING/BINSTRING): UTF-8 when valid, else Latin-1.
    private func byteString(_ raw: UnsafeRawBufferPointer) -> String {
        if let s = String(validating: raw, as: UTF8.self) { return s }
        return String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) }))
    }

    // MARK: Stack

    private var base: Int { marks.last ?? 0 }

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < context.budget.maxStackDepth else {
            throw fail(.tooLarge, "stack deeper than \(context.budget.maxStackDepth) values")
        }
        stack.append(v)
    }

    private mutating func pop() throws -> PickleValue {
        guard stack.count > base else { throw fail(.corrupt, "stack underflow") }
        return stack.removeLast()
    }

    private func top() throws -> PickleValue {
        guard stack.count > base, let t = stack.last else { throw fail(.corrupt, "stack underflow") }
        return t
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw fail(.corrupt, "no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private mutating func popN(_ n: Int) throws -> [PickleValue] {
        guard stack.count - base >= n else { throw fail(.corrupt, "stack underflow (needs \(n) values)") }
        let items = Array(stack.suffix(n))
        stack.removeLast(n)
        return items
    }

    private mutating func memoPut(_ index: Int) throws {
        let v = try top()
        if memo[index] == nil && memo.count >= context.budget.maxMemoEntries {
            throw fail(.tooLarge, "memo holds more than \(context.budget.maxMemoEntries) entries")
        }
        memo[index] = v
    }

    private mutating func memoGet(_ index: Int) throws {
        guard let v = memo[index] else { throw fail(.corrupt, "memo key \(index) was never stored") }
        try push(v)
    }

    func container<T: PickleContainer>(_ c: T) throws -> T {
        try context.register(c)
        return c
    }

    // MARK: Running

    /// Runs to STOP and returns the pickled value; `pos` is then just past the STOP.
    mutating func run() throws -> PickleValue {
        while true {
            opStart = pos
            guard pos < end else { throw fail(.truncated, "the pickle ends before STOP") }
            if let fe = frameEnd, pos >= fe { frameEnd = nil }
            let op = bytes[try take(1)]
            switch op {
            case 0x2e:  // STOP
                let v = try pop()
                return v
            case 0x80:  // PROTO
                let p = try u8()
                guard p <= 5 else { throw fail(.unsupported, "pickle protocol \(p) is above 5") }
                proto = p
            case 0x95:  // FRAME
                let n = try u64()
                guard frameEnd == nil else { throw fail(.corrupt, "a new FRAME begins before the current one ends") }
                guard n <= end - pos else { throw fail(.truncated, "FRAME of \(n) bytes runs past the end of the data") }
                if n > 0 { frameEnd = pos + n }
            case 0x28:  // MARK
                guard marks.count < context.budget.maxMarkDepth else { throw fail(.tooLarge, "more than \(context.budget.maxMarkDepth) open MARKs") }
                marks.append(stack.count)
            case 0x30:  // POP
                if stack.count > base { stack.removeLast() } else { _ = try popMark() }
            case 0x31:  // POP_MARK
                _ = try popMark()
            case 0x32:  // DUP
                try push(try top())

            // Constants and numbers
            case 0x4e: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4a: try push(.int(try i32()))                      // BININT
            case 0x4b: try push(.int(try u8()))                       // BININT1
            case 0x4d: try push(.int(try u16()))                      // BININT2
            case 0x8a: try push(try long(try u8()))                   // LONG1
            case 0x8b:                                                // LONG4
                let n = try i32()
                guard n >= 0 else { throw fail(.corrupt, "LONG4 with negative length \(n)") }
                try push(try long(n))
            case 0x47:                                                // BINFLOAT, big-endian
                let s = try take(8)
                let bits = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: s, as: UInt64.self))
                try push(.float(Double(bitPattern: bits)))
            case 0x49:                                                // INT (text)
                let t = try line()
                if t == "00" { try push(.bool(false)) } else if t == "01" { try push(.bool(true)) } else { try push(try textInt(t)) }
            case 0x4c:                                                // LONG (text)
                var t = try line()
                if t.hasSuffix("L") { t.removeLast() }
                try push(try textInt(t))
            case 0x46:                                                // FLOAT (text)
                let t = try line()
                guard let d = Double(t.trimmingSpaces) else { throw fail(.corrupt, "FLOAT operand '\(t.prefix(40))' is not a number") }
                try push(.float(d))

            // Strings and bytes
            case 0x58: try push(.string(try utf8(try u32())))        // BINUNICODE
            case 0x8c: try push(.string(try utf8(try u8())))         // SHORT_BINUNICODE
            case 0x8d: try push(.string(try utf8(try u64())))        // BINUNICODE8
            case 0x56:                                                // UNICODE (raw-unicode-escape: Latin-1 bytes + \u escapes)
                let t = try line(latin1: true)
                try push(.string(PickleText.rawUnicodeUnescape(t)))
            case 0x54:                                                // BINSTRING
                let n = try i32()
                guard n >= 0 else { throw fail(.corrupt, "BINSTRING with negative length \(n)") }
                let s = try take(n)
                try push(.string(byteString(UnsafeRawBufferPointer(rebasing: bytes[s..<(s + n)]))))
            case 0x55:                                                // SHORT_BINSTRING
                let n = try u8()
                let s = try take(n)
                try push(.string(byteString(UnsafeRawBufferPointer(rebasing: bytes[s..<(s + n)]))))
            case 0x53:                                                // STRING (quoted repr)
                let t = try line()
                guard let raw = PickleText.unquote(t) else { throw fail(.corrupt, "STRING operand is not a quoted string") }
                try push(.string(raw.withUnsafeBytes { byteString($0) }))
            case 0x42: try push(.bytes(try slice(try u32())))         // BINBYTES
            case 0x43: try push(.bytes(try slice(try u8())))          // SHORT_BINBYTES
            case 0x8e, 0x96: try push(.bytes(try slice(try u64())))   // BINBYTES8, BYTEARRAY8

            // Containers
            case 0x5d: try push(.list(try container(PickleList())))                // EMPTY_LIST
            case 0x7d: try push(.dict(try container(PickleDict())))                // EMPTY_DICT
            case 0x29: try push(.tuple(try container(PickleTuple([]))))            // EMPTY_TUPLE
            case 0x8f: try push(.set(try container(PickleSet())))                  // EMPTY_SET
            case 0x85: try push(.tuple(try container(PickleTuple(try popN(1)))))  // TUPLE1
            case 0x86: try push(.tuple(try container(PickleTuple(try popN(2)))))  // TUPLE2
            case 0x87: try push(.tuple(try container(PickleTuple(try popN(3)))))  // TUPLE3
            case 0x74: try push(.tuple(try container(PickleTuple(try popMark())))) // TUPLE
            case 0x6c: try push(.list(try container(PickleList(try popMark()))))   // LIST
            case 0x91: try push(.set(try container(PickleSet(try popMark(), frozen: true))))  // FROZENSET
            case 0x64:                                                              // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail(.corrupt, "DICT with an odd number of items") }
                let d = try container(PickleDict())
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
                try push(.dict(d))
            case 0x61:                                                // APPEND
                let v = try pop()
                try append(to: try top(), [v])
            case 0x65:                                                // APPENDS
                let items = try popMark()
                try append(to: try top(), items)
            case 0x73:                                                // SETITEM
                let v = try pop()
                let k = try pop()
                try setItems(on: try top(), [k, v])
            case 0x75:                                                // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail(.corrupt, "SETITEMS with an odd number of items") }
                try setItems(on: try top(), items)
            case 0x90:                                                // ADDITEMS
                let items = try popMark()
                guard case let .set(s) = try top(), !s.frozen else { throw fail(.corrupt, "ADDITEMS on a \(try top().typeName)") }
                s.items += items

            // Memo
            case 0x68: try memoGet(try u8())                          // BINGET
            case 0x6a: try memoGet(try u32())                         // LONG_BINGET
            case 0x67:                                                // GET
                let t = try line()
                guard let i = Int(t) else { throw fail(.corrupt, "GET index '\(t.prefix(20))' is not a number") }
                try memoGet(i)
            case 0x71: try memoPut(try u8())                          // BINPUT
            case 0x72: try memoPut(try u32())                         // LONG_BINPUT
            case 0x70:                                                // PUT
                let t = try line()
                guard let i = Int(t), i >= 0 else { throw fail(.corrupt, "PUT index '\(t.prefix(20))' is not a number") }
                try memoPut(i)
            case 0x94: try memoPut(memo.count)                        // MEMOIZE

            // Globals and objects: symbolic only
            case 0x63:                                                // GLOBAL
                let module = try line()
                let name = try line()
                try push(resolveGlobal(module, name))
            case 0x93:                                                // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard case let .string(m) = module, case let .string(n) = name else {
                    throw fail(.corrupt, "STACK_GLOBAL operands must be strings (got \(module.typeName), \(name.typeName))")
                }
                try push(resolveGlobal(m, n))
            case 0x52:                                                // REDUCE
                let args = try pop()
                let callable = try pop()
                try push(try reduce(callable, args))
            case 0x81:                                                // NEWOBJ
                let args = try pop()
                let cls = try pop()
                guard case let .tuple(t) = args else { throw fail(.corrupt, "NEWOBJ arguments are a \(args.typeName), not a tuple") }
                try push(try newObject(cls, t.items))
            case 0x92:                                                // NEWOBJ_EX
                let kwargs = try pop()
                let args = try pop()
                let cls = try pop()
                guard case let .tuple(t) = args, case .dict = kwargs else { throw fail(.corrupt, "NEWOBJ_EX needs a tuple and a dict") }
                try push(try newObject(cls, t.items))
            case 0x69:                                                // INST
                let module = try line()
                let name = try line()
                let args = try popMark()
                try push(try newObject(resolveGlobal(module, name), args))
            case 0x6f:                                                // OBJ
                var items = try popMark()
                guard !items.isEmpty else { throw fail(.corrupt, "OBJ without a class") }
                let cls = items.removeFirst()
                try push(try newObject(cls, items))
            case 0x62:                                                // BUILD
                let state = try pop()
                try build(try top(), state)
            case 0x51:                                                // BINPERSID
                let pid = try pop()
                try push(try persistent(pid))
            case 0x50:                                                // PERSID
                let t = try line()
                try push(try persistent(.string(t)))
            case 0x82, 0x83, 0x84:
                throw fail(.unsupported, "extension-registry opcodes (EXT1/2/4) are not supported")
            case 0x97, 0x98:
                throw fail(.unsupported, "out-of-band buffers (NEXT_BUFFER / READONLY_BUFFER) are not supported")
            default:
                throw fail(.corrupt, "unknown opcode 0x\(String(op, radix: 16))")
            }
        }
    }

    private mutating func long(_ n: Int) throws -> PickleValue {
        let s = try take(n)
        return PickleText.long(UnsafeRawBufferPointer(rebasing: bytes[s..<(s + n)]))
    }

    private func textInt(_ t: String) throws -> PickleValue {
        if let i = Int(t.trimmingSpaces) { return .int(i) }
        guard let big = PickleText.decimalToTwosComplement(t.trimmingSpaces) else {
            throw fail(.corrupt, "integer operand '\(t.prefix(40))' is not a number")
        }
        return .bigInt(big)
    }

    private mutating func persistent(_ pid: PickleValue) throws -> PickleValue {
        guard let load = persistentLoad else {
            throw fail(.corrupt, "persistent id in a pickle whose container defines none")
        }
        return try load(pid, location)
    }

    // MARK: Mutation of containers (type-checked: CVE-2026-24747 class of bugs)

    private func append(to target: PickleValue, _ items: [PickleValue]) throws {
        switch target {
        case let .list(l): l.items += items
        case let .object(o) where o.kind == .opaque:
            if o.listItems == nil { o.listItems = try container(PickleList()) }
            o.listItems?.items += items
        default: throw fail(.corrupt, "APPEND on a \(target.typeName)")
        }
    }

    private func setItems(on target: PickleValue, _ items: [PickleValue]) throws {
        let d: PickleDict
        switch target {
        case let .dict(x): d = x
        case let .object(o) where o.kind == .opaque:
            if o.dictItems == nil { o.dictItems = try container(PickleDict(className: o.className)) }
            d = o.dictItems!
        default: throw fail(.corrupt, "SETITEM on a \(target.typeName)")
        }
        for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\r" || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\r" || l == "\t" { s.removeLast() }
        return String(s)
    }
}
