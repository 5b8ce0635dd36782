import Foundation
import Testing
@testable import TensorStore

@Suite struct SafeTensorsTests {
    @Test func readsAFileWrittenByPythonSafetensors() throws {
        let store = try SafeTensors.read(path: FixturePath.store("python.safetensors"))
        #expect(store.metadata["note"] == "made by safetensors")
        #expect(try store.tensor("w").floats() == expected34)
        #expect(try store.tensor("b").int64s() == [0, 1, 2])
        #expect(try store.tensor("h").dtype == .f16)
        #expect(try store.tensor("h").floats() == [-1.5, -0.5, 0.5, 1.5])
        #expect(try store.tensor("w").storage.isMapped)
    }

    @Test func roundTripsEveryDTypeWithMetadataAndAlignment() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = TensorStore()
        for (i, dtype) in DType.allCases.enumerated() {
            let t = Tensor(zeros: [2, i + 1], dtype: dtype)
            let raw = t.storage.mutableBytes
            for k in 0..<raw.count { raw[k] = UInt8((k * 7 + i) & 0xff) }
            try store.insert(t, named: "t.\(dtype.rawValue)")
        }
        try store.insert(Tensor(zeros: [], dtype: .f32), named: "scalar")
        try store.insert(Tensor(zeros: [0, 4], dtype: .f32), named: "empty")
        store.metadata["architecture"] = "dcgan"
        try SafeTensors.write(store, to: dir + "/x.safetensors")
        let back = try SafeTensors.read(path: dir + "/x.safetensors")
        #expect(back.names == store.names)
        #expect(back.metadata["architecture"] == "dcgan")
        for (name, t) in store.tensors {
            let b = try back.tensor(name)
            #expect(b.dtype == t.dtype && b.shape == t.shape)
            #expect(Array(b.contiguousBytes!) == Array(t.contiguousBytes!), "\(name)")
        }
        // Header padded to a multiple of 8 so every tensor starts aligned.
        let file = try MappedFile(path: dir + "/x.safetensors")
        withExtendedLifetime(file) { #expect(file.bytes.loadUnaligned(as: UInt64.self) % 8 == 0) }
    }

    @Test func rewritesMappedTensorsByteForByte() throws {
        // Mapped sources take the kernel-copy path; the result must equal the source file exactly.
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try SafeTensors.read(path: FixturePath.store("python.safetensors"))
        var store = source
        store.metadata = ["k": "v"]
        try SafeTensors.write(store, to: dir + "/copy.safetensors")
        let back = try SafeTensors.read(path: dir + "/copy.safetensors")
        for name in source.names {
            #expect(Array(try back.tensor(name).contiguousBytes!) == Array(try source.tensor(name).contiguousBytes!), "\(name)")
        }
        // npz members (mapped, at unaligned archive offsets) convert the same way.
        let npz = try NumPy.readNPZ(path: FixturePath.store("stored.npz"))
        try SafeTensors.write(npz, to: dir + "/npz.safetensors")
        #expect(try SafeTensors.read(path: dir + "/npz.safetensors").tensor("z").floats() == expected34)
    }

    @Test func writesNonContiguousViewsPacked() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        let transposed = try Tensor(storage: base.storage, dtype: .f32, shape: [3, 2], strides: [1, 3])
        var store = TensorStore()
        try store.insert(transposed, named: "t")
        try SafeTensors.write(store, to: dir + "/t.safetensors")
        #expect(try SafeTensors.read(path: dir + "/t.safetensors").tensor("t").floats() == [1, 4, 2, 5, 3, 6])
    }

    @Test func refusesExistingOutputWithoutOverwriteAndLeavesNoTemporaryFiles() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        writeFile(dir + "/o.safetensors", [1, 2, 3])
        var store = TensorStore()
        try store.insert(Tensor(shape: [1], floats: [1]), named: "a")
        #expect(throws: StoreError.self) { try SafeTensors.write(store, to: dir + "/o.safetensors") }
        #expect(FileManager.default.contents(atPath: dir + "/o.safetensors") == Data([1, 2, 3]))
        try SafeTensors.write(store, to: dir + "/o.safetensors", overwrite: true)
        #expect(try SafeTensors.read(path: dir + "/o.safetensors").tensor("a").floats() == [1])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["o.safetensors"])
    }

    @Test func refusesMalformedHeaders() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], StoreError.Code)] = [
            ("short", [1, 2, 3], .truncated),
            ("hugeheader", withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Array($0) } + Array("{}".utf8), .tooLarge),
            ("pastend", withUnsafeBytes(of: UInt64(100).littleEndian) { Array($0) } + Array("{}".utf8), .truncated),
            ("notjson", safetensorsBytes(header: "{\"a\": ", data: []), .corrupt),
            ("dtype", safetensorsBytes(header: #"{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}"#, data: eight), .unsupported),
            ("numelwraps", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#, data: []), .outOfBounds),
            ("sizemismatch", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight), .corrupt),
            ("overlap", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), .corrupt),
            ("gap", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), .corrupt),
            ("uncovered", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eight), .corrupt),
            ("beyond", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eight), .truncated),
            ("duplicate", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), .corrupt),
            ("metadata", safetensorsBytes(header: #"{"__metadata__":{"k":1}}"#, data: []), .corrupt),
        ]
        for (name, bytes, code) in cases {
            writeFile(dir + "/\(name).safetensors", bytes)
            do {
                _ = try SafeTensors.read(path: dir + "/\(name).safetensors")
                Issue.record("\(name) was accepted")
            } catch let e as StoreError {
                #expect(e.code == code, "\(name): \(e)")
                #expect(e.file != nil)
            }
        }
    }
}
