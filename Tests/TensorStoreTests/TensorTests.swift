import Testing
@testable import TensorStore

@Suite struct TensorTests {
    @Test func viewsAreBoundsCheckedWithOverflowSafeArithmetic() {
        let s = Storage(byteCount: 24)
        #expect(throws: StoreError.self) { try Tensor(storage: s, dtype: .f32, shape: [3, 2], strides: [Int.max, 1]) }
        #expect(throws: StoreError.self) { try Tensor(storage: s, dtype: .f32, shape: [7]) }
        #expect(throws: StoreError.self) { try Tensor(storage: s, dtype: .f32, shape: [2], offset: 5) }
        #expect(throws: StoreError.self) { try Tensor(storage: s, dtype: .f32, shape: [-1]) }
        #expect((try? Tensor(storage: s, dtype: .f32, shape: [2, 3])) != nil)
        #expect((try? Tensor(storage: s, dtype: .f32, shape: [0, 1_000_000])) != nil)
    }

    @Test func stridedViewsPackInCOrder() throws {
        let base = Tensor(shape: [2, 3, 2], floats: (0..<12).map(Float.init))
        // A [3, 2] slice of the middle plane via strides and offset.
        let v = try Tensor(storage: base.storage, dtype: .f32, shape: [2, 2], strides: [6, 2], offset: 1)
        #expect(v.floats() == [1, 3, 7, 9])
        #expect(!v.isContiguous)
        #expect(v.contiguous().isContiguous)
    }

    @Test func emptyTensorsAreContiguousAndWritable() throws {
        // numpy writes [N, 0] arrays (an unconditional model's empty `c`); they must pack and convert.
        let t = try Tensor(storage: Storage(byteCount: 0), dtype: .f32, shape: [4, 0])
        #expect(t.isContiguous)
        #expect(t.contiguous().byteCount == 0)
        #expect(t.withContiguousBytes { $0.count } == 0)
        #expect(t.floats().isEmpty)
    }

    @Test func convertsEveryDTypeToFloat() throws {
        let half = Tensor(zeros: [4], dtype: .f16)
        let hb = half.storage.mutableBytes.bindMemory(to: UInt16.self)
        hb[0] = 0x3c00; hb[1] = 0xc000; hb[2] = 0x0001; hb[3] = 0x7c00
        #expect(half.floats() == [1, -2, Float(bitPattern: 0x3380_0000), .infinity])
        let bf = Tensor(zeros: [2], dtype: .bf16)
        let bb = bf.storage.mutableBytes.bindMemory(to: UInt16.self)
        bb[0] = 0x3f80; bb[1] = 0xc040
        #expect(bf.floats() == [1, -3])
        let i8 = Tensor(zeros: [2], dtype: .i8)
        i8.storage.mutableBytes[0] = 0xff; i8.storage.mutableBytes[1] = 5
        #expect(i8.floats() == [-1, 5])
    }

    @Test func jsonRoundTripsAndRejectsDuplicates() throws {
        let v = try JSONValue.parse(#"{"a": [1, 2.5, -3e2, true, null, "x\ny\u00e9"], "b": {"c": NaN}}"#)
        #expect(v["a"]?.arrayValue?.count == 6)
        #expect(v["a"]?.arrayValue?[2].intValue == -300)
        #expect(v["a"]?.arrayValue?[5].stringValue == "x\nyé")
        #expect(v["b"]?["c"]?.doubleValue?.isNaN == true)
        let text = JSONValue.object([("k", .array([.number(1), .string("q\"")]))]).serialized()
        #expect(text == #"{"k":[1,"q\""]}"#)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(String(repeating: "[", count: 300)) }
    }
}
