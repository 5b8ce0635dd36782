import CZip

/// A read-only index of a zip archive over a mapped file. The central directory is parsed here (with zip64)
/// so stored members become zero-copy byte ranges of the mapping; compressed members are inflated through
/// libzip under a size budget.
public final class ZipArchive: @unchecked Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let method: UInt16
        public let flags: UInt16
        public let crc32: UInt32
        public let compressedSize: Int
        public let uncompressedSize: Int
        public let localHeaderOffset: Int
        /// Offset of the member's data in the file (after the local header).
        public let dataOffset: Int
        /// Index in the central directory (libzip's index).
        public let index: Int
        public var isStored: Bool { method == 0 }
    }

    public let file: MappedFile
    public let entries: [Entry]
    private let byName: [String: Int]

    public static let localHeaderMagic: [UInt8] = [0x50, 0x4b, 0x03, 0x04]

    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && Array(bytes[0..<4]) == localHeaderMagic
    }

    public init(file: MappedFile) throws {
        self.file = file
        let bytes = file.bytes
        func fail(_ code: StoreError.Code, _ m: String) -> StoreError { StoreError(code, m, file: file.path) }

        // End of central directory: the last "PK\5\6" within the final 64 KiB + 22 bytes.
        guard bytes.count >= 22 else { throw fail(.truncated, "zip archive is too short for an end-of-central-directory record") }
        var eocd = -1
        var i = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 0xffff)
        while i >= lowest {
            if bytes[i] == 0x50 && bytes[i + 1] == 0x4b && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw fail(.truncated, "zip end-of-central-directory record not found (file cut short?)") }
        var r = ByteReader(bytes, position: eocd + 4)
        guard let disk = r.readLE(UInt16.self), let cdDisk = r.readLE(UInt16.self),
              let _ = r.readLE(UInt16.self), let total16 = r.readLE(UInt16.self),
              let cdSize32 = r.readLE(UInt32.self), let cdOffset32 = r.readLE(UInt32.self) else {
            throw fail(.truncated, "zip end-of-central-directory record is cut short")
        }
        guard disk == 0 || disk == 0xffff, cdDisk == 0 || cdDisk == 0xffff else {
            throw fail(.unsupported, "multi-disk zip archives are not supported")
        }
        var total = Int(total16), cdSize = Int(cdSize32), cdOffset = Int(cdOffset32)
        if total16 == 0xffff || cdSize32 == 0xffff_ffff || cdOffset32 == 0xffff_ffff {
            // zip64: locator sits 20 bytes before the EOCD.
            var l = ByteReader(bytes, position: max(0, eocd - 20))
            guard eocd >= 20, l.readLE(UInt32.self) == 0x0706_4b50, let _ = l.readLE(UInt32.self),
                  let eocd64 = l.readLE(UInt64.self).flatMap({ Int(exactly: $0) }) else {
                throw fail(.corrupt, "zip64 end-of-central-directory locator missing")
            }
            var z = ByteReader(bytes, position: 0)
            guard z.seek(to: eocd64), z.readLE(UInt32.self) == 0x0606_4b50, z.skip(8 + 2 + 2 + 4 + 4 + 8),
                  let t = z.readLE(UInt64.self), let s = z.readLE(UInt64.self), let o = z.readLE(UInt64.self),
                  let ti = Int(exactly: t), let si = Int(exactly: s), let oi = Int(exactly: o) else {
                throw fail(.corrupt, "zip64 end-of-central-directory record is damaged")
            }
            total = ti; cdSize = si; cdOffset = oi
        }
        guard let cdEnd = CheckedMath.add(cdOffset, cdSize), cdEnd <= bytes.count else {
            throw fail(.truncated, "zip central directory (offset \(cdOffset), \(cdSize) bytes) lies past the end of the file")
        }
        guard total <= cdSize / 46 + 1 else { throw fail(.corrupt, "zip declares \(total) entries in a \(cdSize)-byte directory") }

        var list: [Entry] = []
        var names: [String: Int] = [:]
        var c = ByteReader(bytes, position: cdOffset)
        for index in 0..<total {
            guard c.readLE(UInt32.self) == 0x0201_4b50 else { throw fail(.corrupt, "zip central directory entry \(index) has a bad signature") }
            guard c.skip(4), let flags = c.readLE(UInt16.self), let method = c.readLE(UInt16.self), c.skip(4),
                  let crc = c.readLE(UInt32.self), let csize32 = c.readLE(UInt32.self), let usize32 = c.readLE(UInt32.self),
                  let nameLen = c.readLE(UInt16.self), let extraLen = c.readLE(UInt16.self), let commentLen = c.readLE(UInt16.self),
                  c.skip(8), let local32 = c.readLE(UInt32.self),
                  let nameBytes = c.readSlice(Int(nameLen)), let extra = c.readSlice(Int(extraLen)), c.skip(Int(commentLen)) else {
                throw fail(.truncated, "zip central directory entry \(index) is cut short")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            var csize = Int(csize32), usize = Int(usize32), local = Int(local32)
            // zip64 extended information replaces the fields that are 0xFFFFFFFF, in this order.
            var e = ByteReader(extra)
            while e.remaining >= 4 {
                guard let id = e.readLE(UInt16.self), let len = e.readLE(UInt16.self), let body = e.readSlice(Int(len)) else { break }
                if id == 0x0001 {
                    var b = ByteReader(body)
                    if usize32 == 0xffff_ffff { guard let v = b.readLE(UInt64.self), let x = Int(exactly: v) else { throw fail(.corrupt, "bad zip64 size for \(name)") }; usize = x }
                    if csize32 == 0xffff_ffff { guard let v = b.readLE(UInt64.self), let x = Int(exactly: v) else { throw fail(.corrupt, "bad zip64 size for \(name)") }; csize = x }
                    if local32 == 0xffff_ffff { guard let v = b.readLE(UInt64.self), let x = Int(exactly: v) else { throw fail(.corrupt, "bad zip64 offset for \(name)") }; local = x }
                }
            }
            var h = ByteReader(bytes)
            guard h.seek(to: local), h.readLE(UInt32.self) == 0x0403_4b50, h.skip(22),
                  let ln = h.readLE(UInt16.self), let lx = h.readLE(UInt16.self) else {
                throw fail(.truncated, "zip local header of '\(name)' is missing or cut short")
            }
            let dataOffset = local + 30 + Int(ln) + Int(lx)
            guard let dataEnd = CheckedMath.add(dataOffset, csize), dataEnd <= bytes.count else {
                throw fail(.truncated, "zip member '\(name)' (\(csize) bytes at \(dataOffset)) runs past the end of the file")
            }
            if method == 0 && csize != usize {
                throw fail(.corrupt, "stored zip member '\(name)' declares \(csize) compressed but \(usize) uncompressed bytes")
            }
            if names[name] != nil {
                throw fail(.corrupt, "zip member '\(name)' appears twice (readers would disagree on which one counts)")
            }
            names[name] = list.count
            list.append(Entry(name: name, method: method, flags: flags, crc32: crc, compressedSize: csize,
                              uncompressedSize: usize, localHeaderOffset: local, dataOffset: dataOffset, index: index))
        }
        self.entries = list
        self.byName = names
    }

    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public func entry(_ name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// The member's bytes as a storage: a zero-copy view for stored members, an inflated copy (at most
    /// `maxInflatedBytes`) for deflated ones.
    public func storage(for entry: Entry, maxInflatedBytes: Int = 8 << 30) throws -> Storage {
        if entry.isStored {
            return try Storage(mapped: file, range: entry.dataOffset..<(entry.dataOffset + entry.compressedSize))
        }
        guard entry.method == 8 else {
            throw StoreError(.unsupported, "zip member '\(entry.name)' uses compression method \(entry.method); only stored and deflate are supported", file: file.path)
        }
        guard entry.uncompressedSize <= maxInflatedBytes else {
            throw StoreError(.tooLarge, "zip member '\(entry.name)' inflates to \(entry.uncompressedSize) bytes, above the \(maxInflatedBytes)-byte limit", file: file.path)
        }
        return try inflate(entry)
    }

    /// Reads a whole member (small members such as `byteorder`, `data.pkl`).
    public func data(for entry: Entry, maxInflatedBytes: Int = 1 << 30) throws -> Storage {
        try storage(for: entry, maxInflatedBytes: maxInflatedBytes)
    }

    private func inflate(_ entry: Entry) throws -> Storage {
        var err = zip_error_t()
        zip_error_init(&err)
        defer { zip_error_fini(&err) }
        guard let src = zip_source_buffer_create(file.bytes.baseAddress, zip_uint64_t(file.count), 0, &err) else {
            throw StoreError(.io, "libzip cannot read the archive", file: file.path)
        }
        guard let archive = zip_open_from_source(src, ZIP_RDONLY, &err) else {
            zip_source_free(src)
            throw StoreError(.corrupt, "libzip cannot open the archive: \(String(cString: zip_error_strerror(&err)))", file: file.path)
        }
        defer { zip_discard(archive) }
        guard let zf = zip_fopen_index(archive, zip_uint64_t(entry.index), 0) else {
            throw StoreError(.corrupt, "cannot open zip member '\(entry.name)': \(String(cString: zip_strerror(archive)))", file: file.path)
        }
        defer { zip_fclose(zf) }
        let out = Storage.uninitialized(byteCount: entry.uncompressedSize)
        var got = 0
        let dst = out.mutableBytes.baseAddress!
        while got < entry.uncompressedSize {
            let n = zip_fread(zf, dst + got, zip_uint64_t(entry.uncompressedSize - got))
            if n < 0 {
                throw StoreError(.corrupt, "zip member '\(entry.name)' does not inflate: \(String(cString: zip_file_strerror(zf)))", file: file.path)
            }
            if n == 0 { break }
            got += Int(n)
        }
        guard got == entry.uncompressedSize else {
            throw StoreError(.truncated, "zip member '\(entry.name)' inflated to \(got) of \(entry.uncompressedSize) bytes", file: file.path)
        }
        return out
    }
}
