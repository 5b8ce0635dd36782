import Foundation
import Testing
@testable import TensorStore

/// Expected values follow the formulas in Scripts/make_store_fixtures.py.
let expected34: [Float] = (0..<12).map { Float($0) / 4 - 1 }

@Suite struct NumPyTests {
    @Test(arguments: ["f32_c_v1.npy", "f32_c_v2.npy", "f32_c_v3.npy", "f32_fortran.npy", "f64_big.npy"])
    func readsEveryVersionOrderAndByteOrder(_ name: String) throws {
        let store = try NumPy.readNPY(path: FixturePath.store(name))
        let t = try #require(store.tensors.values.first)
        #expect(t.shape == [3, 4])
        #expect(t.floats() == expected34)
    }

    @Test func fortranOrderIsAZeroCopyView() throws {
        let t = try #require(try NumPy.readNPY(path: FixturePath.store("f32_fortran.npy")).tensors.values.first)
        #expect(t.storage.isMapped)
        #expect(t.strides == [1, 3])
        #expect(!t.isContiguous)
    }

    @Test func bigEndianIntegersAreSwapped() throws {
        let t = try #require(try NumPy.readNPY(path: FixturePath.store("i16_big.npy")).tensors.values.first)
        #expect(t.dtype == .i16 && t.byteOrder == .big)
        #expect(t.int64s() == (0..<6).map { Int64($0 * -300) })
        // Contiguous little-endian bytes after packing.
        let packed = t.contiguous()
        #expect(packed.byteOrder == .little)
        #expect(packed.int64s() == t.int64s())
    }

    @Test func boolsBytesHalfsAndScalars() throws {
        #expect(try NumPy.readNPY(path: FixturePath.store("bool.npy")).tensors.values.first!.floats() == [1, 0, 1, 1])
        #expect(try NumPy.readNPY(path: FixturePath.store("u8.npy")).tensors.values.first!.int64s() == [0, 50, 100, 150, 200])
        let h = try NumPy.readNPY(path: FixturePath.store("f16.npy")).tensors.values.first!
        #expect(h.dtype == .f16)
        let want: [Float] = (0..<4).map { Float(Float16((Float16(Float($0)) - 1.5) * Float16(1e-5))) }
        #expect(h.floats() == want)
        let s = try NumPy.readNPY(path: FixturePath.store("scalar_i64.npy")).tensors.values.first!
        #expect(s.shape == [] && s.int64s() == [8])
        let e = try NumPy.readNPY(path: FixturePath.store("empty_f32.npy")).tensors.values.first!
        #expect(e.shape == [0, 3] && e.floats().isEmpty)
    }

    @Test(arguments: ["stored.npz", "deflated.npz"])
    func readsNPZ(_ name: String) throws {
        let store = try NumPy.readNPZ(path: FixturePath.store(name))
        #expect(store.names == ["z", "labels"])
        #expect(try store.tensor("z").floats() == expected34)
        #expect(try store.tensor("labels").int64s() == [3, 1, 2])
        #expect(try store.tensor("z").storage.isMapped == (name == "stored.npz"))
    }

    @Test func writesNPYThatReadsBack() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        try NumPy.writeNPY(t, to: dir + "/a.npy")
        let back = try NumPy.readNPY(path: dir + "/a.npy")
        #expect(try back.tensor("a").floats() == [1, 2, 3, 4, 5, 6])
        // Data starts on a 64-byte boundary, as numpy writes it.
        let file = try MappedFile(path: dir + "/a.npy")
        let header = try withExtendedLifetime(file) { try NumPy.parseHeader(file.bytes) }
        #expect(header.dataOffset % 64 == 0)
        // An existing file is not replaced without overwrite.
        #expect(throws: StoreError.self) { try NumPy.writeNPY(t, to: dir + "/a.npy") }
    }

    @Test(arguments: [false, true])
    func writesNPZThatReadsBack(compressed: Bool) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = TensorStore()
        try store.insert(Tensor(shape: [3], floats: [1, -2, 3.5]), named: "x")
        try store.insert(Tensor(shape: [1, 2], floats: [7, 8]), named: "nested/y")
        try NumPy.writeNPZ(store, to: dir + "/s.npz", compressed: compressed)
        let back = try NumPy.readNPZ(path: dir + "/s.npz")
        #expect(back.names == ["x", "nested/y"])
        #expect(try back.tensor("x").floats() == [1, -2, 3.5])
        #expect(try back.tensor("nested/y").shape == [1, 2])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(leftovers == ["s.npz"])
    }

    @Test func refusesMalformedNPY() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func npy(_ header: String, data: Int) -> [UInt8] {
            let h = Array(header.utf8) + [0x0a]
            return NumPy.magic + [1, 0] + withUnsafeBytes(of: UInt16(h.count).littleEndian) { Array($0) } + h + [UInt8](repeating: 0, count: data)
        }
        let cases: [(String, [UInt8], StoreError.Code)] = [
            ("huge", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", data: 64), .truncated),
            ("wraps", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data: 0), .outOfBounds),
            ("object", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: 8), .refused),
            ("short", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", data: 15), .truncated),
            ("nokey", npy("{'descr': '<f4', 'fortran_order': False, }", data: 4), .corrupt),
            ("garbage", npy("[1, 2]", data: 4), .corrupt),
            ("cut", Array(NumPy.magic + [1, 0, 200]), .truncated),
            ("version", NumPy.magic + [9, 0, 0, 0], .unsupported),
        ]
        for (name, bytes, code) in cases {
            writeFile(dir + "/\(name).npy", bytes)
            do {
                _ = try NumPy.readNPY(path: dir + "/\(name).npy")
                Issue.record("\(name) was accepted")
            } catch let e as StoreError {
                #expect(e.code == code, "\(name): \(e)")
                #expect(e.file == dir + "/\(name).npy")
            }
        }
    }
}
