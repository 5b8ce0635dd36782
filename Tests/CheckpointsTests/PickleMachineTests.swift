import Foundation
import Testing
@testable import Checkpoints
import TensorStore

/// Opcode and memo semantics of the pickle machine, on hand-assembled pickles.
@Suite struct PickleMachineTests {
    /// Contexts stay alive for the whole test: their teardown empties the containers they made.
    private final class Keeper: @unchecked Sendable { var contexts: [PickleContext] = [] }
    private let keeper = Keeper()

    private func run(_ bytes: [UInt8]) throws -> PickleValue {
        let (v, context) = try TorchFixtures.unpickle(bytes)
        keeper.contexts.append(context)
        return v
    }

    private func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func buildThroughTheMemoMutatesTheSharedObject() throws {
        // d = {}; memo[0] = d; l = [d, memo[0]]; then SETITEM on memo[0] — both list slots see the item.
        let bytes: [UInt8] = [0x80, 0x02, 0x5d, 0x71, 0x01, 0x7d, 0x71, 0x00, 0x61, 0x68, 0x01, 0x68, 0x00, 0x61,
                              0x68, 0x00, 0x58, 1, 0, 0, 0, 0x6b, 0x4b, 7, 0x73, 0x30, 0x2e]
        guard case let .list(l) = try run(bytes) else { Issue.record("not a list"); return }
        #expect(l.items.count == 2)
        guard case let .dict(a) = l.items[0], case let .dict(b) = l.items[1] else { Issue.record("items are not dicts"); return }
        #expect(a === b)
        #expect(a["k"]?.intValue == 7)
    }

    @Test func sparseMemoIndicesDoNotAllocate() throws {
        // LONG_BINPUT 0xFFFFFFFE then LONG_BINGET of it: fine; a dictionary-backed memo holds one entry.
        let ok: [UInt8] = [0x80, 0x02, 0x4b, 5, 0x72, 0xfe, 0xff, 0xff, 0xff, 0x30, 0x6a, 0xfe, 0xff, 0xff, 0xff, 0x2e]
        #expect(try run(ok).intValue == 5)
        let missing: [UInt8] = [0x80, 0x02, 0x4b, 5, 0x72, 0xfe, 0xff, 0xff, 0xff, 0x6a, 0xff, 0xff, 0xff, 0xff, 0x2e]
        #expect(throws: StoreError.self) { try run(missing) }
    }

    @Test func structuralErrorsAreThrown() {
        let cases: [[UInt8]] = [
            [0x80, 0x02, 0x7d, 0x4b, 1, 0x61, 0x2e],            // APPEND on a dict
            [0x80, 0x02, 0x5d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e],    // SETITEM on a list
            [0x80, 0x02, 0x4b, 1, 0x87, 0x2e],                  // TUPLE3 with one item
            [0x80, 0x02, 0x65, 0x2e],                           // APPENDS without MARK
            [0x80, 0x02, 0x4b, 1],                              // no STOP
            [0x80, 0x09, 0x4e, 0x2e],                           // protocol 9
            [0x80, 0x02, 0xff, 0x2e],                           // unknown opcode
            [0x80, 0x02, 0x82, 0x01, 0x2e],                     // EXT1
            [0x80, 0x05, 0x97, 0x2e],                           // NEXT_BUFFER
            [0x80, 0x02, 0x4e, 0x62, 0x2e],                     // BUILD needs two values
            [0x80, 0x02, 0x28, 0x4b, 1, 0x64, 0x2e],            // DICT with an odd count
        ]
        for c in cases {
            #expect(throws: StoreError.self, "\(c)") { try run(c) }
        }
    }

    @Test func framesMustAgreeWithTheirContents() throws {
        // A 3-byte frame holding SHORT_BINUNICODE 'hi' (4 bytes): the operand straddles the frame end.
        let straddle: [UInt8] = [0x80, 0x04, 0x95, 3, 0, 0, 0, 0, 0, 0, 0, 0x8c, 2, 0x68, 0x69, 0x2e]
        #expect(throws: StoreError.self) { try run(straddle) }
        let good: [UInt8] = [0x80, 0x04, 0x95, 5, 0, 0, 0, 0, 0, 0, 0, 0x8c, 2, 0x68, 0x69, 0x2e]
        #expect(try run(good).stringValue == "hi")
        let nested: [UInt8] = [0x80, 0x04, 0x95, 12, 0, 0, 0, 0, 0, 0, 0, 0x95, 1, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x2e]
        #expect(throws: StoreError.self) { try run(nested) }
    }

    @Test func numbersDecodeExactly() throws {
        // BINFLOAT is big-endian.
        #expect(try run([0x80, 0x02, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x2e]) .floatValue == 1.5)
        #expect(try run([0x80, 0x02, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x2e]).intValue == -1)
        #expect(try run([0x80, 0x02, 0x8a, 0x02, 0x00, 0x80, 0x2e]).intValue == -32768)
        #expect(try run([0x80, 0x02, 0x8a, 0x00, 0x2e]).intValue == 0)
        // The legacy magic is an 80-bit integer: kept as a big integer, not wrapped.
        let magic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a] + TorchLegacyStream.magic + [0x2e]
        guard case let .bigInt(b) = try run(magic) else { Issue.record("magic should be a big integer"); return }
        #expect(b == TorchLegacyStream.magic)
        // Protocol 0 text forms.
        #expect(try run(ascii("I42\n.")).intValue == 42)
        #expect(try run(ascii("I01\n.")).intValue == 1)
        #expect(try run(ascii("L12345678901234567890123L\n.")).typeName == "int")
        #expect(try run(ascii("F0.25\n.")).floatValue == 0.25)
        #expect(try run(ascii("S'a\\nb'\n.")).stringValue == "a\nb")
        #expect(try run(ascii("Vcaf\\u00e9\n.")).stringValue == "café")
    }

    @Test func dictsKeepOrderAndNonStringKeys() throws {
        // {2: 'b', 1: 'a', (1, 2): None, 2: 'c'} — re-setting key 2 keeps its first position.
        var bytes: [UInt8] = [0x80, 0x02, 0x7d, 0x28]
        bytes += [0x4b, 2, 0x8c, 1, 0x62]
        bytes += [0x4b, 1, 0x8c, 1, 0x61]
        bytes += [0x4b, 1, 0x4b, 2, 0x86, 0x4e]
        bytes += [0x4b, 2, 0x8c, 1, 0x63]
        bytes += [0x75, 0x2e]
        bytes[1] = 4
        guard case let .dict(d) = try run(bytes) else { Issue.record("not a dict"); return }
        #expect(d.keys.map(ObjectGraphWalker.keyName) == ["2", "1", "1_2"])
        #expect(d.values.first?.stringValue == "c")
    }

    @Test func setsAndFrozensets() throws {
        let bytes: [UInt8] = [0x80, 0x04, 0x8f, 0x28, 0x4b, 1, 0x4b, 2, 0x90, 0x2e]
        guard case let .set(s) = try run(bytes) else { Issue.record("not a set"); return }
        #expect(s.items.count == 2)
        #expect(throws: StoreError.self) { try run([0x80, 0x04, 0x28, 0x4b, 1, 0x91, 0x28, 0x4b, 2, 0x90, 0x2e]) }
    }

    @Test func stackGlobalNeedsStringOperands() throws {
        let bytes: [UInt8] = [0x80, 0x04, 0x8c, 0x0b] + ascii("collections") + [0x8c, 0x0b] + ascii("OrderedDict") + [0x93, 0x29, 0x52, 0x2e]
        guard case let .dict(d) = try run(bytes) else { Issue.record("OrderedDict() should be a dict"); return }
        #expect(d.className == "collections.OrderedDict")
        #expect(throws: StoreError.self) { try run([0x80, 0x04, 0x4b, 1, 0x8c, 1, 0x78, 0x93, 0x2e]) }
    }

    @Test func unknownClassesStayInertAndWarn() throws {
        // NEWOBJ of an unknown class, BUILD with a dict state: an opaque node holding the state.
        let bytes: [UInt8] = [0x80, 0x02] + ascii("cmy.module\nOptions\n)") + [0x81, 0x7d, 0x58, 1, 0, 0, 0, 0x6e, 0x4b, 3, 0x73, 0x62, 0x2e]
        let (v, context) = try TorchFixtures.unpickle(bytes)
        guard case let .object(o) = v else { Issue.record("not an object"); return }
        #expect(o.className == "my.module.Options")
        #expect(!o.dangerous)
        #expect(o.attributeDict?["n"]?.intValue == 3)
        #expect(context.warnings.contains { $0.contains("my.module.Options") })
        #expect(context.globals.first?.safety == .unknown)
    }

    @Test func codecsEncodeGivesLatin1Bytes() throws {
        let bytes: [UInt8] = [0x80, 0x02] + ascii("c_codecs\nencode\n") + [0x58, 2, 0, 0, 0, 0xc3, 0xa9, 0x58, 6, 0, 0, 0]
            + ascii("latin1") + [0x86, 0x52, 0x2e]
        guard case let .bytes(b) = try run(bytes) else { Issue.record("not bytes"); return }
        #expect(Array(b.bytes) == [0xe9])
    }
}

extension PickleValue {
    var floatValue: Double? { if case let .float(f) = self { return f } else { return nil } }
}
