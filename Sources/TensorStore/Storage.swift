#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A flat run of bytes that tensors view: either a region of a memory-mapped file (zero-copy) or memory this
/// process owns (64-byte aligned, freed when the last view goes away).
public final class Storage: @unchecked Sendable {
    public enum Backing: Sendable {
        case mapped(MappedFile, offset: Int)
        case owned
    }

    public let bytes: UnsafeRawBufferPointer
    public let backing: Backing
    private let frozenState = Atomic<Bool>(false)

    /// A view of `range` of a mapped file; the range is checked against the file size.
    public init(mapped file: MappedFile, range: Range<Int>) throws {
        guard range.lowerBound >= 0, range.upperBound <= file.count else {
            throw StoreError(.outOfBounds, "byte range \(range) outside the file (\(file.count) bytes)", file: file.path)
        }
        self.backing = .mapped(file, offset: range.lowerBound)
        if range.isEmpty {
            self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        } else {
            self.bytes = UnsafeRawBufferPointer(rebasing: file.bytes[range])
        }
    }

    /// Owned, zero-filled memory of `byteCount` bytes.
    public convenience init(byteCount: Int) { self.init(byteCount: byteCount, zeroed: true) }

    /// Owned memory holding a copy of `data`.
    public convenience init(copying data: UnsafeRawBufferPointer) {
        self.init(byteCount: data.count)
        if let src = data.baseAddress, data.count > 0 {
            UnsafeMutableRawPointer(mutating: bytes.baseAddress!).copyMemory(from: src, byteCount: data.count)
        }
    }

    /// Owned memory of `byteCount` bytes whose pages are not pre-touched; the caller fills every byte.
    public static func uninitialized(byteCount: Int) -> Storage { Storage(byteCount: byteCount, zeroed: false) }

    private init(byteCount: Int, zeroed: Bool) {
        precondition(byteCount >= 0)
        // Always ask for at least one cache line so the pointer is never nil. Sizes reaching here were checked
        // against the reader's budgets, so failure means the machine is out of memory.
        var p: UnsafeMutableRawPointer? = nil
        let rc = posix_memalign(&p, 64, max(byteCount, 64))
        guard rc == 0, let ptr = p else { fatalError("out of memory allocating \(byteCount) bytes") }
        if zeroed { memset(ptr, 0, max(byteCount, 64)) }
        self.bytes = UnsafeRawBufferPointer(start: ptr, count: byteCount)
        self.backing = .owned
    }

    public var count: Int { bytes.count }
    public var isMapped: Bool { if case .mapped = backing { return true } else { return false } }

    /// Whether the bytes can no longer change: a mapped file (read-only), or owned memory that was `freeze()`d.
    /// The engine keeps forms derived from frozen storages (weights packed for its GEMM) from call to call.
    public var isFrozen: Bool { isMapped || frozenState.load(ordering: .acquiring) }

    /// Owned memory that is not frozen: `mutableBytes` may write it.
    public var isWritable: Bool { !isFrozen }

    /// Makes the bytes read-only from now on (model parameters, once bound): `mutableBytes` then traps, and the
    /// engine may cache what it derives from them. A pointer taken from `mutableBytes` before must not be written
    /// after.
    public func freeze() { frozenState.store(true, ordering: .releasing) }

    /// Writable access; only owned storages that are not frozen may be written.
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        precondition(!isMapped, "mapped storages are read-only")
        precondition(!frozenState.load(ordering: .relaxed), "frozen storages (bound model parameters) are read-only")
        return UnsafeMutableRawBufferPointer(mutating: bytes)
    }

    /// For a mapped storage: the file descriptor and the absolute file offset of the byte at `byteOffset`, so
    /// writers can copy regions kernel-side without faulting them into this process.
    public func fileLocation(ofByte byteOffset: Int) -> (descriptor: Int32, offset: Int)? {
        if case let .mapped(file, offset) = backing { return (file.descriptor, offset + byteOffset) }
        return nil
    }

    deinit {
        if case .owned = backing, let p = bytes.baseAddress {
            free(UnsafeMutableRawPointer(mutating: p))
        }
    }
}
