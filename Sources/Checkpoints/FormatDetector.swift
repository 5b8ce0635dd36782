import TensorStore

/// Decides a file's container format from its first bytes.
public enum FormatDetector {
    /// The legacy torch stream: pickle protocol 2 of the LONG1 magic number 0x1950a86a20f9469cfc6c.
    static let legacyMagic: [UInt8] = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]
    static let hdf5Magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

    public static func detect(_ bytes: UnsafeRawBufferPointer) -> CheckpointFormat? {
        if ZipArchive.sniff(bytes) { return .torchZip }  // refined to npz / keras by the zip's members
        if NumPy.sniff(bytes) { return .npy }
        if bytes.count >= 8 {
            // HDF5 superblocks may sit at 0, 512, 1024, 2048, … (a user block precedes them).
            var off = 0
            while off + 8 <= bytes.count && off <= 1 << 20 {
                if Array(bytes[off..<(off + 8)]) == hdf5Magic { return .hdf5 }
                off = off == 0 ? 512 : off * 2
            }
        }
        if bytes.count >= 2 + legacyMagic.count, bytes[0] == 0x80, bytes[1] < 6,
           Array(bytes[2..<(2 + legacyMagic.count)]) == legacyMagic { return .torchLegacy }
        if bytes.count >= 262, Array(bytes[257..<262]) == Array("ustar".utf8) { return .torchTar }
        if SafeTensors.sniff(bytes) { return .safetensors }
        if let b = bytes.first, b == 0x80 || b == UInt8(ascii: "(") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]")
            || b == UInt8(ascii: "c") || b == UInt8(ascii: "I") || b == UInt8(ascii: "N") { return .pickle }
        return nil
    }

    /// Refines a zip: numpy `.npz` when every member is a `.npy`, a `.keras` archive when it holds
    /// `model.weights.h5`, else a torch zip (which must hold a `data.pkl`).
    public static func refineZip(_ zip: ZipArchive) -> CheckpointFormat {
        let names = zip.entries.map(\.name)
        if names.contains("model.weights.h5") || names.contains("config.json") && names.contains("metadata.json") {
            return .kerasArchive
        }
        if names.contains(where: { $0.hasSuffix("data.pkl") }) { return .torchZip }
        // numpy names members `<key>.npy`; a member without the suffix still counts when it holds an .npy
        // (numpy's own loader accepts those too).
        let files = zip.entries.filter { !$0.name.hasSuffix("/") }
        if !files.isEmpty && files.allSatisfy({ $0.name.hasSuffix(".npy") || startsWithNPYMagic($0, in: zip) }) { return .npz }
        return .torchZip
    }

    static func startsWithNPYMagic(_ entry: ZipArchive.Entry, in zip: ZipArchive) -> Bool {
        guard entry.isStored, entry.compressedSize >= NumPy.magic.count else { return false }
        let start = entry.dataOffset
        return Array(zip.file.bytes[start..<(start + NumPy.magic.count)]) == NumPy.magic
    }
}
