import TensorStore

/// `gan-convert scan`: every global a file's pickles reference, classed allowed / unknown / dangerous, with
/// where it sits. Runs the pickle machine in scan mode (globals recorded, nothing refused, storages never read),
/// descending into nested `_load_from_bytes` streams and every pickle of a torch zip. When a pickle is damaged
/// the machine's view stops; a linear opcode walk then lists the globals of the rest.
enum PickleScan {
    static func scan(file: MappedFile, path: String, format: CheckpointFormat) throws -> [GlobalReference] {
        let context = PickleContext(allowDangerousGlobals: true, scanOnly: true, sourceBytes: file.count)
        defer { context.tearDown() }
        do {
            let source = try Storage(mapped: file, range: 0..<file.count)
            switch format {
            case .torchZip:
                let zip = try ZipArchive(file: file)
                for entry in zip.entries where entry.name.hasSuffix(".pkl") {
                    let data = try zip.data(for: entry, maxInflatedBytes: 1 << 30)
                    scanPickles(source: data, range: 0..<data.count, label: entry.name, context: context, max: 1)
                }
            case .torchLegacy:
                // magic, protocol version, sys_info, main pickle, storage keys: five pickles, then raw data.
                scanPickles(source: source, range: 0..<file.count, label: "stream", context: context, max: 5)
            case .torchTar:
                for member in try TarArchive.members(file.bytes) where ["pickle", "sys_info", "storages", "tensors"].contains(member.name) {
                    scanPickles(source: source, range: member.range, label: member.name, context: context, max: member.name == "pickle" ? 1 : 8)
                }
            default:
                scanPickles(source: source, range: 0..<file.count, label: "pickle", context: context, max: 16)
            }
        } catch let e as StoreError {
            throw e.at(file: path)
        }
        return context.globals
    }

    /// Scans up to `max` consecutive pickles starting at `range.lowerBound`.
    static func scanPickles(source: Storage, range: Range<Int>, label: String, context: PickleContext, max: Int) {
        var pos = range.lowerBound
        var n = 0
        while n < max && pos < range.upperBound {
            var m = PickleMachine(source: source, range: pos..<range.upperBound, label: n == 0 ? label : "\(label) pickle \(n + 1)",
                                  context: context) { _, _ in .none }
            do {
                _ = try m.run()
                pos = m.pos
            } catch {
                LinearPickleScan.walk(source: source, range: pos..<range.upperBound, label: label, context: context)
                return
            }
            n += 1
            // Further pickles only when the next byte starts one (a PROTO opcode).
            if pos >= range.upperBound || source.bytes[pos] != 0x80 { return }
        }
    }
}

/// A structure-free walk over opcodes, for damaged pickles: records GLOBAL / INST exactly and STACK_GLOBAL from
/// the most recent string operands (memo-resolved strings included), and scans nested legacy streams found in
/// bytes operands. It stops at the first opcode it cannot decode.
enum LinearPickleScan {
    static func walk(source: Storage, range: Range<Int>, label: String, context: PickleContext) {
        let b = source.bytes
        var pos = range.lowerBound
        let end = range.upperBound
        var strings: [String] = []
        var memoStrings: [Int: String] = [:]
        var lastWasString = false
        func u(_ at: Int, _ n: Int) -> Int? {
            guard at >= 0, n <= end - at else { return nil }
            var v = 0
            for i in 0..<n { v |= Int(b[at + i]) << (8 * i) }
            return v
        }
        func line(_ at: Int) -> (String, Int)? {
            var i = at
            while i < end && b[i] != 0x0a { i += 1 }
            guard i < end else { return nil }
            return (String(decoding: UnsafeRawBufferPointer(rebasing: b[at..<i]), as: UTF8.self), i + 1)
        }
        func record(_ module: String, _ name: String, _ at: Int) {
            let g = GlobalName(module: module, name: name)
            context.record(g, safety: GlobalPolicy.classify(g), location: "\(label) byte \(at) (linear scan)")
        }
        var steps = 0
        while pos < end && steps < 50_000_000 {
            steps += 1
            let at = pos
            let op = b[pos]
            pos += 1
            var pushedString: String?
            switch op {
            case 0x2e: return  // STOP
            case 0x63, 0x69:   // GLOBAL, INST
                guard let (m, p1) = line(pos), let (n, p2) = line(p1) else { return }
                record(m, n, at)
                pos = p2
            case 0x93:         // STACK_GLOBAL
                if strings.count >= 2 { record(strings[strings.count - 2], strings[strings.count - 1], at) }
            case 0x8c, 0x55, 0x43:  // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
                guard let n = u(pos, 1), pos + 1 + n <= end else { return }
                if op != 0x43 { pushedString = String(decoding: UnsafeRawBufferPointer(rebasing: b[(pos + 1)..<(pos + 1 + n)]), as: UTF8.self) }
                pos += 1 + n
            case 0x58, 0x54, 0x42:  // BINUNICODE, BINSTRING, BINBYTES
                guard let n = u(pos, 4), pos + 4 + n <= end else { return }
                if op == 0x42 {
                    nested(source: source, start: pos + 4, count: n, label: "\(label) byte \(at)", context: context)
                } else {
                    pushedString = String(decoding: UnsafeRawBufferPointer(rebasing: b[(pos + 4)..<(pos + 4 + n)]), as: UTF8.self)
                }
                pos += 4 + n
            case 0x8d, 0x8e, 0x96:  // BINUNICODE8, BINBYTES8, BYTEARRAY8
                guard let n = u(pos, 8), n <= end - pos - 8 else { return }
                if op != 0x8d { nested(source: source, start: pos + 8, count: n, label: "\(label) byte \(at)", context: context) }
                pos += 8 + n
            case 0x8a:  // LONG1
                guard let n = u(pos, 1), pos + 1 + n <= end else { return }
                pos += 1 + n
            case 0x8b:  // LONG4
                guard let n = u(pos, 4), n < 1 << 31, pos + 4 + n <= end else { return }
                pos += 4 + n
            case 0x80, 0x4b, 0x82: pos += 1                 // PROTO, BININT1, EXT1
            case 0x4d, 0x83: pos += 2                       // BININT2, EXT2
            case 0x4a, 0x84: pos += 4                       // BININT, EXT4
            case 0x47, 0x95: pos += 8                       // BINFLOAT, FRAME
            case 0x68:                                      // BINGET
                guard let i = u(pos, 1) else { return }
                pushedString = memoStrings[i]
                pos += 1
            case 0x6a:                                      // LONG_BINGET
                guard let i = u(pos, 4) else { return }
                pushedString = memoStrings[i]
                pos += 4
            case 0x71, 0x72, 0x94:                          // BINPUT, LONG_BINPUT, MEMOIZE
                let width = op == 0x71 ? 1 : op == 0x72 ? 4 : 0
                let index = width == 0 ? memoStrings.count : (u(pos, width) ?? -1)
                if lastWasString, let s = strings.last, memoStrings.count < 1_000_000 { memoStrings[index] = s }
                pos += width
                lastWasString = lastWasString && true
                continue
            case 0x49, 0x4c, 0x46, 0x53, 0x56, 0x67, 0x70, 0x50:  // text operands
                guard let (t, p) = line(pos) else { return }
                if op == 0x56 || op == 0x53 { pushedString = t }
                pos = p
            case 0x28, 0x30, 0x31, 0x32, 0x4e, 0x88, 0x89, 0x5d, 0x7d, 0x29, 0x8f, 0x85, 0x86, 0x87, 0x74, 0x6c, 0x91,
                 0x64, 0x61, 0x65, 0x73, 0x75, 0x90, 0x52, 0x81, 0x92, 0x6f, 0x62, 0x51, 0x97, 0x98:
                break
            default:
                return
            }
            if let s = pushedString {
                strings.append(s)
                if strings.count > 8 { strings.removeFirst() }
                lastWasString = true
            } else {
                lastWasString = false
            }
        }
    }

    private static func nested(source: Storage, start: Int, count: Int, label: String, context: PickleContext) {
        let bytes = UnsafeRawBufferPointer(rebasing: source.bytes[start..<(start + count)])
        guard TorchLegacyStream.hasMagic(bytes), context.nestingDepth < context.budget.maxNestingDepth else { return }
        context.nestingDepth += 1
        defer { context.nestingDepth -= 1 }
        PickleScan.scanPickles(source: source, range: start..<(start + count), label: "blob at \(label)", context: context, max: 5)
    }
}
