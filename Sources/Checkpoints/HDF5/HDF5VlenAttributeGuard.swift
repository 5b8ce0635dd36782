import TensorStore

/// Before libhdf5 converts a variable-length string attribute, checks each stored descriptor (length, heap
/// collection, object index) against the validated global heaps: libhdf5 1.10 copies the heap object's size
/// into a buffer sized by the descriptor's length, and trusts the object index, so a damaged descriptor is a
/// memory error inside the library. The attribute is found by parsing the object header (v1, and v2 `OHDR`
/// with `OCHK` continuations) just far enough to reach its attribute messages.
struct HDF5VlenAttributeGuard {
    let bytes: UnsafeRawBufferPointer
    let source: String
    let heaps: HDF5GlobalHeapCheck.Table
    /// File offset of the superblock: addresses are relative to it.
    let base: Int
    let offsetSize: Int
    let lengthSize: Int

    init(bytes: UnsafeRawBufferPointer, source: String, heaps: HDF5GlobalHeapCheck.Table) {
        self.bytes = bytes
        self.source = source
        self.heaps = heaps
        var base = 0, offsetSize = 8
        var off = 0
        while off + 16 <= bytes.count && off <= 1 << 20 {
            if Array(bytes[off..<(off + 8)]) == FormatDetector.hdf5Magic {
                base = off
                offsetSize = Int(bytes[off + 8] <= 1 ? bytes[off + 13] : bytes[off + 9])
                break
            }
            off = off == 0 ? 512 : off * 2
        }
        self.base = base
        self.offsetSize = offsetSize
        self.lengthSize = HDF5GlobalHeapCheck.sizeOfLengths(bytes)
    }

    private func fail(_ m: String) -> StoreError { StoreError(.corrupt, "HDF5 \(m)", file: source) }

    private func uint(_ at: Int, _ size: Int) -> Int? {
        guard at >= 0, size <= 8, at + size <= bytes.count else { return nil }
        var v: UInt64 = 0
        for k in 0..<size { v |= UInt64(bytes[at + k]) << (8 * UInt64(k)) }
        return Int(exactly: v)
    }

    /// Checks the descriptors of attribute `name` in the object header at `address` (relative to the base).
    func check(objectHeader address: Int, attribute name: String, label: String) throws {
        guard offsetSize == 4 || offsetSize == 8, lengthSize == 4 || lengthSize == 8 else {
            throw StoreError(.unsupported, "HDF5 \(label): unusual address sizes; variable-length strings cannot be verified", file: source)
        }
        guard let message = try findAttribute(name, header: address) else {
            throw StoreError(.unsupported, "HDF5 \(label): the attribute is not stored in its object header (dense attribute storage); variable-length strings cannot be verified", file: source)
        }
        try checkAttributeMessage(message, label: label)
    }

    // MARK: Object headers

    /// The byte range of the attribute message named `name`, or nil.
    private func findAttribute(_ name: String, header address: Int) throws -> Range<Int>? {
        var chunks: [(Range<Int>, Bool)] = []  // (range, v2 layout)
        let start = base + address
        guard start >= 0, start + 16 <= bytes.count else { throw fail("object header at \(address) lies outside the file") }
        var v2 = false
        if bytes[start] == 0x4f, bytes[start + 1] == 0x48, bytes[start + 2] == 0x44, bytes[start + 3] == 0x52 {  // "OHDR"
            v2 = true
            let flags = bytes[start + 5]
            var p = start + 6
            if flags & 0x20 != 0 { p += 16 }
            if flags & 0x10 != 0 { p += 4 }
            let sizeBytes = 1 << Int(flags & 3)
            guard let size = uint(p, sizeBytes) else { throw fail("object header at \(address) is cut short") }
            p += sizeBytes
            guard p + size + 4 <= bytes.count else { throw fail("object header at \(address) runs past the end of the file") }
            chunks.append((p..<(p + size), true))
        } else {
            guard bytes[start] == 1, let size = uint(start + 8, 4) else { throw fail("object header at \(address) has an unknown version") }
            guard start + 16 + size <= bytes.count else { throw fail("object header at \(address) runs past the end of the file") }
            chunks.append(((start + 16)..<(start + 16 + size), false))
        }
        var visited = 0
        while !chunks.isEmpty {
            let (range, isV2) = chunks.removeFirst()
            visited += 1
            guard visited <= 4096 else { throw fail("object header at \(address) has too many continuation blocks") }
            var p = range.lowerBound
            let headerSize = isV2 ? 4 : 8
            while p + headerSize <= range.upperBound {
                let type: Int, size: Int, flags: UInt8
                if isV2 {
                    type = Int(bytes[p])
                    size = Int(bytes[p + 1]) | Int(bytes[p + 2]) << 8
                    flags = bytes[p + 3]
                    p += 4 + (flags & 0x04 != 0 ? 2 : 0)
                } else {
                    type = Int(bytes[p]) | Int(bytes[p + 1]) << 8
                    size = Int(bytes[p + 2]) | Int(bytes[p + 3]) << 8
                    flags = bytes[p + 4]
                    p += 8
                }
                guard p + size <= range.upperBound else { throw fail("object header message at byte \(p) overruns its block") }
                let body = p..<(p + size)
                p += size
                if type == 0x0C, attributeName(body) == name { return body }
                if type == 0x10 {  // continuation: address + length of the next block
                    guard let at = uint(body.lowerBound, offsetSize), let len = uint(body.lowerBound + offsetSize, lengthSize) else {
                        throw fail("object header continuation is cut short")
                    }
                    var q = base + at
                    var end = q + len
                    guard q >= 0, end <= bytes.count, len >= 0 else { throw fail("object header continuation lies outside the file") }
                    if v2 {
                        guard len >= 8, bytes[q] == 0x4f, bytes[q + 1] == 0x43, bytes[q + 2] == 0x48, bytes[q + 3] == 0x4b else {
                            throw fail("object header continuation block has no OCHK signature")
                        }
                        q += 4
                        end -= 4
                    }
                    chunks.append((q..<end, v2))
                }
            }
        }
        return nil
    }

    /// Name, datatype, dataspace and data ranges of an attribute message.
    private struct AttributeParts { var name: Range<Int>; var datatype: Range<Int>; var dataspace: Range<Int>; var data: Range<Int> }

    private func parts(_ body: Range<Int>) -> AttributeParts? {
        guard body.count >= 8 else { return nil }
        let b = body.lowerBound
        let version = bytes[b]
        guard let nameSize = uint(b + 2, 2), let typeSize = uint(b + 4, 2), let spaceSize = uint(b + 6, 2) else { return nil }
        func pad(_ n: Int) -> Int { version == 1 ? (n + 7) & ~7 : n }
        var p = b + (version == 3 ? 9 : 8)
        let name = p..<(p + nameSize); p += pad(nameSize)
        let type = p..<(p + typeSize); p += pad(typeSize)
        let space = p..<(p + spaceSize); p += pad(spaceSize)
        guard version >= 1, version <= 3, p <= body.upperBound else { return nil }
        return AttributeParts(name: name, datatype: type, dataspace: space, data: p..<body.upperBound)
    }

    private func attributeName(_ body: Range<Int>) -> String? {
        guard let parts = parts(body) else { return nil }
        var n = bytes[parts.name]
        if let nul = n.firstIndex(of: 0) { n = n[..<nul] }
        return String(decoding: n, as: UTF8.self)
    }

    // MARK: Descriptors

    private func checkAttributeMessage(_ body: Range<Int>, label: String) throws {
        guard let parts = parts(body), parts.datatype.count >= 8 else { throw fail("\(label): malformed attribute message") }
        let classAndVersion = bytes[parts.datatype.lowerBound]
        guard classAndVersion & 0x0F == 9 else { return }  // not variable-length: nothing read from the heap
        guard let count = elementCount(parts.dataspace) else { throw fail("\(label): malformed dataspace") }
        let descriptor = 4 + offsetSize + 4
        guard let need = CheckedMath.multiply(count, descriptor), need <= parts.data.count else {
            throw fail("\(label): \(count) variable-length values do not fit in the attribute message")
        }
        for i in 0..<count {
            let d = parts.data.lowerBound + i * descriptor
            guard let length = uint(d, 4), let collection = uint(d + 4, offsetSize), let index = uint(d + 4 + offsetSize, 4) else {
                throw fail("\(label): variable-length value \(i) is cut short")
            }
            if length == 0 { continue }
            guard let objects = heaps[base + collection], let size = objects[index] else {
                throw fail("\(label): variable-length value \(i) points to a missing global heap object (collection \(collection), index \(index))")
            }
            guard size == length else {
                throw fail("\(label): variable-length value \(i) declares \(length) bytes but its heap object holds \(size)")
            }
        }
    }

    /// Elements of a dataspace message (versions 1 and 2; scalar = 1, null = 0).
    private func elementCount(_ r: Range<Int>) -> Int? {
        guard r.count >= 4 else { return nil }
        let version = bytes[r.lowerBound], rank = Int(bytes[r.lowerBound + 1])
        if version == 2 {
            let type = bytes[r.lowerBound + 3]
            if type == 0 { return 1 }
            if type == 2 { return 0 }
        }
        if rank == 0 { return 1 }
        let dims = r.lowerBound + (version == 1 ? 8 : 4)
        var n = 1
        for k in 0..<rank {
            guard let d = uint(dims + k * lengthSize, lengthSize), dims + (k + 1) * lengthSize <= r.upperBound,
                  let m = CheckedMath.multiply(n, d) else { return nil }
            n = m
        }
        return n
    }
}
