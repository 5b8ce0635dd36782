#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Tensors view regions of it without copying; the mapping lives
/// as long as any storage refers to it.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    /// The open descriptor, kept so writers can copy regions kernel-side (`copy_file_range`).
    public let descriptor: Int32

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError(.io, "cannot open: \(String(cString: strerror(errno)))", file: path)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw StoreError(.io, "cannot stat: \(String(cString: strerror(errno)))", file: path)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw StoreError(.io, "not a regular file", file: path)
        }
        let size = Int(st.st_size)
        descriptor = fd
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            close(fd)
            throw StoreError(.io, "cannot map: \(String(cString: strerror(errno)))", file: path)
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    public var count: Int { bytes.count }

    deinit {
        if let base { munmap(base, bytes.count) }
        close(descriptor)
    }
}
