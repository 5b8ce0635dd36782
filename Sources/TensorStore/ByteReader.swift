/// A bounds-checked cursor over bytes, in the manner of swift-nio's ByteBuffer readers: every read returns nil
/// when the input is too short and leaves the cursor where it was.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position: Int

    public init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var remaining: Int { bytes.count - position }
    public var isAtEnd: Bool { position >= bytes.count }

    public mutating func seek(to offset: Int) -> Bool {
        guard offset >= 0, offset <= bytes.count else { return false }
        position = offset
        return true
    }

    public mutating func skip(_ n: Int) -> Bool {
        guard n >= 0, n <= remaining else { return false }
        position += n
        return true
    }

    public mutating func readByte() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    public func peekByte() -> UInt8? { remaining >= 1 ? bytes[position] : nil }

    /// A little-endian fixed-width integer.
    public mutating func readLE<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { return nil }
        defer { position += n }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// A big-endian fixed-width integer.
    public mutating func readBE<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { return nil }
        defer { position += n }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// `n` bytes as a slice of the underlying buffer (no copy).
    public mutating func readSlice(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0, n <= remaining else { return nil }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    public mutating func readBytes(_ n: Int) -> [UInt8]? {
        readSlice(n).map { Array($0) }
    }

    /// Bytes up to (not including) the next `terminator`, consuming the terminator.
    public mutating func readUntil(_ terminator: UInt8, limit: Int = .max) -> UnsafeRawBufferPointer? {
        var i = position
        let end = min(bytes.count, position &+ limit < position ? .max : position + limit)
        while i < end {
            if bytes[i] == terminator {
                let s = UnsafeRawBufferPointer(rebasing: bytes[position..<i])
                position = i + 1
                return s
            }
            i += 1
        }
        return nil
    }
}
