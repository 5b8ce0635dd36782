import CZip
import OrderedCollections

/// numpy's `.npy` (format versions 1–3) and `.npz` (a zip of `.npy` members, stored or deflated).
/// See Formats/npy-npz.md.
public enum NumPy {
    public static let magic: [UInt8] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]  // \x93NUMPY

    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 6 && Array(bytes[0..<6]) == magic
    }

    /// A parsed `.npy` header.
    public struct Header: Equatable, Sendable {
        public var dtype: DType
        public var byteOrder: ByteOrder
        public var fortranOrder: Bool
        public var shape: [Int]
        /// Offset of the array data from the start of the `.npy` bytes.
        public var dataOffset: Int
    }

    /// Parses the dtype string of a header (`<f4`, `|b1`, `>i8`, …).
    public static func parseDescr(_ descr: String) throws -> (DType, ByteOrder) {
        guard descr.count >= 2 else { throw StoreError(.unsupported, "unsupported dtype '\(descr)'") }
        var s = Substring(descr)
        var order = ByteOrder.little
        switch s.first! {
        case "<": s = s.dropFirst()
        case ">": order = .big; s = s.dropFirst()
        case "|", "=": s = s.dropFirst()
        default: break
        }
        let table: [String: DType] = [
            "f8": .f64, "f4": .f32, "f2": .f16, "i8": .i64, "i4": .i32, "i2": .i16, "i1": .i8,
            "u8": .u64, "u4": .u32, "u2": .u16, "u1": .u8, "b1": .bool, "?": .bool,
        ]
        guard let t = table[String(s)] else {
            if s.hasPrefix("O") { throw StoreError(.refused, "object arrays ('\(descr)') hold pickled Python objects and are refused") }
            throw StoreError(.unsupported, "unsupported dtype '\(descr)'")
        }
        return (t, t.size == 1 ? .little : order)
    }

    /// Parses the magic, version and dict-literal header of a `.npy` byte run.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer) throws -> Header {
        var r = ByteReader(bytes)
        guard let m = r.readBytes(6) else { throw StoreError(.truncated, "too short for the .npy magic") }
        guard m == magic else { throw StoreError(.corrupt, "not a .npy file (bad magic)") }
        guard let major = r.readByte(), let _ = r.readByte() else { throw StoreError(.truncated, "too short for the .npy version") }
        let headerLength: Int
        switch major {
        case 1:
            guard let n = r.readLE(UInt16.self) else { throw StoreError(.truncated, "too short for the .npy header length") }
            headerLength = Int(n)
        case 2, 3:
            guard let n = r.readLE(UInt32.self) else { throw StoreError(.truncated, "too short for the .npy header length") }
            headerLength = Int(n)
        default:
            throw StoreError(.unsupported, "unsupported .npy format version \(major)")
        }
        guard headerLength <= 1 << 20 else { throw StoreError(.tooLarge, ".npy header of \(headerLength) bytes is implausibly large") }
        guard let text = r.readSlice(headerLength) else { throw StoreError(.truncated, ".npy header runs past the end of the data") }
        let dict = try DictLiteral.parse(String(decoding: text, as: UTF8.self))
        guard let descr = dict.descr else { throw StoreError(.corrupt, ".npy header has no 'descr'") }
        guard let shape = dict.shape else { throw StoreError(.corrupt, ".npy header has no 'shape'") }
        let (dtype, order) = try parseDescr(descr)
        return Header(dtype: dtype, byteOrder: order, fortranOrder: dict.fortranOrder ?? false, shape: shape, dataOffset: r.position)
    }

    /// Makes a tensor viewing the array data inside `storage` (which holds the whole `.npy` bytes).
    public static func tensor(npy storage: Storage) throws -> Tensor {
        let header = try parseHeader(storage.bytes)
        guard let numel = CheckedMath.elementCount(header.shape), let need = CheckedMath.multiply(numel, header.dtype.size) else {
            throw StoreError(.outOfBounds, "shape \(header.shape) overflows")
        }
        let available = storage.count - header.dataOffset
        guard need <= available else {
            throw StoreError(.truncated, "shape \(header.shape) of \(header.dtype.displayName) needs \(need) data bytes but only \(available) follow the header")
        }
        // Fortran order is a transposed view: reverse-cumulative strides, zero-copy.
        var strides = Tensor.contiguousStrides(header.shape)
        if header.fortranOrder {
            var acc = 1
            for i in 0..<header.shape.count { strides[i] = acc; acc *= max(header.shape[i], 1) }
        }
        guard header.dataOffset % header.dtype.size == 0 else {
            // Misaligned data (hand-made files): copy so the engine can load elements directly.
            let copy = Storage(copying: UnsafeRawBufferPointer(rebasing: storage.bytes[header.dataOffset..<(header.dataOffset + need)]))
            return try Tensor(storage: copy, dtype: header.dtype, shape: header.shape, strides: strides, byteOrder: header.byteOrder)
        }
        return try Tensor(storage: storage, dtype: header.dtype, shape: header.shape, strides: strides,
                          offset: header.dataOffset / header.dtype.size, byteOrder: header.byteOrder)
    }

    /// Reads a `.npy` file (memory-mapped) into a store holding one tensor named after the file.
    public static func readNPY(path: String, name: String? = nil) throws -> TensorStore {
        let file = try MappedFile(path: path)
        do {
            let storage = try Storage(mapped: file, range: 0..<file.count)
            var store = TensorStore()
            let base = name ?? defaultName(path)
            try store.insert(try tensor(npy: storage), named: base)
            return store
        } catch let e as StoreError {
            throw e.at(file: path)
        }
    }

    static func defaultName(_ path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? path
        if base.hasSuffix(".npy") { base.removeLast(4) }
        return base
    }

    /// Reads a `.npz` archive: stored members are zero-copy views of the mapped file, deflated ones are inflated
    /// (each at most `maxMemberBytes`). Member names lose their `.npy` suffix and are never used as paths.
    public static func readNPZ(path: String, maxMemberBytes: Int = 8 << 30) throws -> TensorStore {
        do {
            let zip = try ZipArchive(path: path)
            var store = TensorStore()
            for entry in zip.entries where !entry.name.hasSuffix("/") {
                let storage = try zip.storage(for: entry, maxInflatedBytes: maxMemberBytes)
                var name = entry.name
                if name.hasSuffix(".npy") { name.removeLast(4) }
                do {
                    try store.insert(try tensor(npy: storage), named: name)
                } catch let e as StoreError {
                    throw e.at(tensor: name)
                }
            }
            return store
        } catch let e as StoreError {
            throw e.at(file: path)
        }
    }

    /// The `.npy` header bytes (version 1 when it fits, else 2), padded so data starts on a 64-byte boundary.
    public static func headerBytes(dtype: DType, shape: [Int]) throws -> [UInt8] {
        guard let ks = dtype.numpyKindSize else {
            throw StoreError(.unsupported, "\(dtype.displayName) has no numpy dtype")
        }
        let descr = (dtype.size == 1 ? "|" : "<") + ks
        let shapeText = shape.isEmpty ? "()" : shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        var version: UInt8 = 1
        var prefix = 10
        if dict.count + 1 + prefix > 65535 { version = 2; prefix = 12 }
        let total = ((prefix + dict.count + 1 + 63) / 64) * 64
        while prefix + dict.count + 1 < total { dict.append(0x20) }
        dict.append(0x0a)
        var out = magic + [version, 0]
        if version == 1 {
            out += withUnsafeBytes(of: UInt16(dict.count).littleEndian) { Array($0) }
        } else {
            out += withUnsafeBytes(of: UInt32(dict.count).littleEndian) { Array($0) }
        }
        return out + dict
    }

    /// Writes one tensor as a `.npy` file, atomically.
    public static func writeNPY(_ tensor: Tensor, to path: String, overwrite: Bool = false) throws {
        let w = try AtomicFileWriter(path: path, overwrite: overwrite)
        try w.write(try headerBytes(dtype: tensor.dtype, shape: tensor.shape))
        try tensor.withContiguousBytes { try w.write($0) }
        try w.commit()
    }

    /// Writes a store as a `.npz` archive (members `<name>.npy`), stored or deflated, atomically.
    public static func writeNPZ(_ store: TensorStore, to path: String, compressed: Bool = false, overwrite: Bool = false) throws {
        // libzip writes the archive itself; build it under a temporary name and rename it into place.
        let placeholder = try AtomicFileWriter(path: path, overwrite: overwrite)
        let tmp = path + ".partial-npz"
        var err: Int32 = 0
        guard let archive = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &err) else {
            throw StoreError(.io, "cannot create the npz archive (libzip error \(err))", file: path)
        }
        var ok = false
        defer { if !ok { zip_discard(archive); unlinkIfPresent(tmp) } }
        for (name, t) in store.tensors {
            let header = try headerBytes(dtype: t.dtype, shape: t.shape)
            let size = header.count + t.byteCount
            guard let buf = malloc(max(size, 1)) else { throw StoreError(.io, "out of memory", file: path) }
            header.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: header.count) }
            t.copyElements(into: buf + header.count)
            // freep = 1: libzip owns the buffer from here on, until zip_close.
            guard let src = zip_source_buffer(archive, buf, zip_uint64_t(size), 1) else {
                free(buf)
                throw StoreError(.io, "libzip cannot take member '\(name)'", file: path)
            }
            let idx = zip_file_add(archive, name + ".npy", src, zip_flags_t(ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8))
            guard idx >= 0 else {
                zip_source_free(src)
                throw StoreError(.io, "libzip cannot add member '\(name)': \(String(cString: zip_strerror(archive)))", file: path)
            }
            zip_set_file_compression(archive, zip_uint64_t(idx), compressed ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0)
        }
        guard zip_close(archive) == 0 else {
            throw StoreError(.io, "cannot write the npz archive: \(String(cString: zip_strerror(archive)))", file: path)
        }
        ok = true
        // Move libzip's file into the atomic writer's place.
        try placeholder.replaceContents(withFileAt: tmp)
    }
}

#if canImport(Glibc)
import Glibc
#endif

func unlinkIfPresent(_ path: String) { _ = unlink(path) }

/// The tiny subset of Python literal syntax an `.npy` header uses: a dict of string keys to strings,
/// booleans and tuples of integers.
struct DictLiteral {
    var descr: String?
    var fortranOrder: Bool?
    var shape: [Int]?

    static func parse(_ text: String) throws -> DictLiteral {
        var out = DictLiteral()
        let chars = Array(text.unicodeScalars)
        var i = 0
        func fail(_ m: String) -> StoreError { StoreError(.corrupt, ".npy header is malformed: \(m)") }
        func space() { while i < chars.count, chars[i] == " " || chars[i] == "\n" || chars[i] == "\t" || chars[i] == "\r" { i += 1 } }
        func expect(_ c: Unicode.Scalar) throws { space(); guard i < chars.count, chars[i] == c else { throw fail("expected '\(c)'") }; i += 1 }
        func string() throws -> String {
            space()
            guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { throw fail("expected a string") }
            let q = chars[i]; i += 1
            var s = String.UnicodeScalarView()
            while i < chars.count, chars[i] != q { s.append(chars[i]); i += 1 }
            guard i < chars.count else { throw fail("unterminated string") }
            i += 1
            return String(s)
        }
        func integer() throws -> Int {
            space()
            var s = ""
            while i < chars.count, ("0"..."9").contains(chars[i]) || chars[i] == "L" { if chars[i] != "L" { s.unicodeScalars.append(chars[i]) }; i += 1 }
            guard let v = Int(s) else { throw fail("bad dimension '\(s)'") }
            return v
        }
        try expect("{")
        while true {
            space()
            if i < chars.count, chars[i] == "}" { i += 1; break }
            let key = try string()
            try expect(":")
            space()
            switch key {
            case "descr":
                out.descr = try string()
            case "fortran_order":
                if text.unicodeScalars.count >= i + 4, String(String.UnicodeScalarView(chars[i..<min(chars.count, i + 4)])) == "True" { out.fortranOrder = true; i += 4 }
                else if String(String.UnicodeScalarView(chars[i..<min(chars.count, i + 5)])) == "False" { out.fortranOrder = false; i += 5 }
                else { throw fail("fortran_order is not True or False") }
            case "shape":
                try expect("(")
                var dims: [Int] = []
                while true {
                    space()
                    if i < chars.count, chars[i] == ")" { i += 1; break }
                    dims.append(try integer())
                    space()
                    if i < chars.count, chars[i] == "," { i += 1 }
                    guard dims.count <= 64 else { throw fail("more than 64 dimensions") }
                }
                out.shape = dims
            default:
                throw fail("unexpected key '\(key)'")
            }
            space()
            if i < chars.count, chars[i] == "," { i += 1; continue }
            space()
            if i < chars.count, chars[i] == "}" { i += 1; break }
            throw fail("expected ',' or '}'")
        }
        return out
    }
}
