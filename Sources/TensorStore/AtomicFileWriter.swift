#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemShims

/// Writes a file through a temporary sibling and renames it into place on `commit()`, so a failure never leaves
/// a half-written output. Writes are buffered in large chunks.
public final class AtomicFileWriter {
    public let path: String
    private let temporaryPath: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private let capacity: Int
    private var used = 0
    private var committed = false
    public private(set) var bytesWritten = 0

    /// Opens a temporary file beside `path`. Refuses to replace an existing file unless `overwrite` is set.
    public init(path: String, overwrite: Bool, bufferSize: Int = 8 << 20) throws {
        self.path = path
        if !overwrite && access(path, F_OK) == 0 {
            throw StoreError(.refused, "output exists (use --force to replace it)", file: path)
        }
        let dir: String
        let base: String
        if let slash = path.lastIndex(of: "/") {
            dir = String(path[..<slash]).isEmpty ? "/" : String(path[..<slash])
            base = String(path[path.index(after: slash)...])
        } else {
            dir = "."
            base = path
        }
        var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw StoreError(.io, "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))", file: path)
        }
        fchmod(fd, 0o644)
        self.fd = fd
        self.temporaryPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.capacity = bufferSize
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 64)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0, let src = bytes.baseAddress else { return }
        if bytes.count >= capacity {
            try flush()
            try writeAll(src, bytes.count)
            bytesWritten += bytes.count
            return
        }
        if used + bytes.count > capacity { try flush() }
        (buffer + used).copyMemory(from: src, byteCount: bytes.count)
        used += bytes.count
        bytesWritten += bytes.count
    }

    /// Appends `count` bytes of another file starting at `offset`, copied inside the kernel (`copy_file_range`),
    /// falling back to `pread` + write where the kernel cannot. Page cache to page cache, no faults here.
    public func copy(fromDescriptor source: Int32, offset: Int, count: Int) throws {
        try flush()
        var inOffset = Int64(offset)
        var left = count
        while left > 0 {
            var o = CLongLong(inOffset)
            let n = gankit_copy_file_range(source, &o, fd, nil, left)
            inOffset = Int64(o)
            if n > 0 { left -= n; continue }
            if n < 0 && errno == EINTR { continue }
            break  // unsupported here (EXDEV, ENOSYS, EINVAL) or unexpected end: fall back
        }
        if left > 0 {
            var chunk = [UInt8](repeating: 0, count: min(left, 8 << 20))
            while left > 0 {
                let want = min(left, chunk.count)
                let got = chunk.withUnsafeMutableBytes { pread(source, $0.baseAddress!, want, off_t(inOffset)) }
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    throw StoreError(.io, "cannot read the source region: \(got < 0 ? String(cString: strerror(errno)) : "unexpected end of file")", file: path)
                }
                try chunk.withUnsafeBytes { try writeAll($0.baseAddress!, got) }
                inOffset += Int64(got)
                left -= got
            }
        }
        bytesWritten += count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ string: String) throws {
        try write(Array(string.utf8))
    }

    /// Writes `count` zero bytes (padding).
    public func writeZeros(_ count: Int) throws {
        try write([UInt8](repeating: 0, count: count))
    }

    private func writeAll(_ p: UnsafeRawPointer, _ n: Int) throws {
        var off = 0
        while off < n {
            let r = Glibc.write(fd, p + off, n - off)
            if r < 0 {
                if errno == EINTR { continue }
                throw StoreError(.io, "write failed: \(String(cString: strerror(errno)))", file: path)
            }
            off += r
        }
    }

    private func flush() throws {
        if used > 0 {
            let n = used
            used = 0
            try writeAll(buffer, n)
        }
    }

    /// Flushes, syncs and renames the temporary file onto `path`.
    public func commit() throws {
        try flush()
        guard close(fd) == 0 else {
            fd = -1
            throw StoreError(.io, "close failed: \(String(cString: strerror(errno)))", file: path)
        }
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            throw StoreError(.io, "cannot rename into place: \(String(cString: strerror(errno)))", file: path)
        }
        committed = true
    }

    /// Drops the temporary file without touching the destination.
    func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        committed = true
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
        buffer.deallocate()
    }
}

extension AtomicFileWriter {
    /// Commits by moving a file some other library wrote (e.g. libzip) onto the destination, instead of the
    /// bytes written through this writer. The other file is renamed, never copied.
    public func replaceContents(withFileAt other: String) throws {
        guard rename(other, path) == 0 else {
            throw StoreError(.io, "cannot rename into place: \(String(cString: strerror(errno)))", file: path)
        }
        abandon()
    }
}
