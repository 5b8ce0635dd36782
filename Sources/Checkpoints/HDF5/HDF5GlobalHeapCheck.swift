#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TensorStore

/// Checks every global heap collection (`GCOL`, where variable-length strings live) before libhdf5 reads one.
/// libhdf5 1.10 trusts the object sizes inside a collection and copies them with `memcpy` (an out-of-bounds read
/// and write on a damaged file, found by fuzzing our fixtures); here each object must lie inside its collection
/// and each collection inside the file, else the file is `corrupt`.
enum HDF5GlobalHeapCheck {
    /// Object sizes of every collection: absolute file offset → object index → size.
    typealias Table = [Int: [Int: Int]]

    @discardableResult
    static func validate(_ bytes: UnsafeRawBufferPointer, source: String) throws -> Table {
        var table: Table = [:]
        guard let base = bytes.baseAddress, bytes.count >= 16 else { return table }
        let lengthSize = sizeOfLengths(bytes)
        guard lengthSize == 4 || lengthSize == 8 else { return table }
        let headerSize = 8 + lengthSize  // "GCOL", version, 3 reserved, collection size
        let objectHeaderSize = 8 + lengthSize  // index, references, reserved, object size
        func length(at i: Int) -> Int? {
            guard i + lengthSize <= bytes.count else { return nil }
            var v: UInt64 = 0
            for k in 0..<lengthSize { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            return Int(exactly: v)
        }
        func fail(_ at: Int, _ m: String, _ code: StoreError.Code = .corrupt) -> StoreError {
            StoreError(code, "HDF5 global heap collection at byte \(at) is damaged: \(m)", file: source)
        }

        var from = 0
        while from + 8 <= bytes.count {
            // memchr for 'G', then the full signature: version 1 and three zero bytes.
            guard let hit = memchr(base + from, 0x47, bytes.count - from - 7) else { break }
            let i = base.distance(to: UnsafeRawPointer(hit))
            from = i + 1
            guard bytes[i + 1] == 0x43, bytes[i + 2] == 0x4f, bytes[i + 3] == 0x4c, bytes[i + 4] == 1,
                  bytes[i + 5] == 0, bytes[i + 6] == 0, bytes[i + 7] == 0 else { continue }
            guard let size = length(at: i + 8), size >= headerSize, let end = CheckedMath.add(i, size) else {
                throw fail(i, "bad collection size")
            }
            guard end <= bytes.count else { throw fail(i, "its \(size) bytes run past the end of the file (truncated)", .truncated) }
            var p = i + headerSize
            while p + objectHeaderSize <= end {
                let index = Int(bytes[p]) | Int(bytes[p + 1]) << 8
                guard let objectSize = length(at: p + 8) else { throw fail(i, "object header cut short") }
                // Object 0 is the free space and counts its own header; others are header + data padded to 8.
                let need: Int
                if index == 0 {
                    need = objectSize
                } else {
                    guard let padded = CheckedMath.add(objectSize, 7).map({ $0 & ~7 }),
                          let n = CheckedMath.add(objectHeaderSize, padded) else { throw fail(i, "object \(index) size overflows") }
                    need = n
                }
                guard need > 0, let next = CheckedMath.add(p, need), next <= end else {
                    throw fail(i, "object \(index) (\(objectSize) bytes) does not fit in the collection")
                }
                if index > 0 { table[i, default: [:]][index] = objectSize }
                p = next
            }
            from = max(from, end)
        }
        return table
    }

    /// "Size of lengths" from the superblock (v0/v1 byte 14, v2/v3 byte 10 after the signature), 8 when unknown.
    static func sizeOfLengths(_ bytes: UnsafeRawBufferPointer) -> Int {
        var off = 0
        while off + 16 <= bytes.count && off <= 1 << 20 {
            if Array(bytes[off..<(off + 8)]) == FormatDetector.hdf5Magic {
                let version = bytes[off + 8]
                return Int(version <= 1 ? bytes[off + 14] : bytes[off + 10])
            }
            off = off == 0 ? 512 : off * 2
        }
        return 8
    }
}
