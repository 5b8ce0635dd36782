import Foundation
import Testing
@testable import Checkpoints
import TensorStore

@Suite struct HDF5MalformedTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var file: String
        var code: StoreError.Code
        var mentions: String
        var testDescription: String { file }
    }

    @Test(arguments: [
        Case(file: "bad-truncated.h5", code: .truncated, mentions: "truncated"),
        Case(file: "bad-corrupt-header.h5", code: .corrupt, mentions: "object header"),
        Case(file: "bad-huge-shape.h5", code: .tooLarge, mentions: "limit"),
        Case(file: "bad-unwritten.h5", code: .corrupt, mentions: "stores only 0"),
        Case(file: "bad-missing-weight.h5", code: .notFound, mentions: "dense/bias:0"),
        Case(file: "bad-missing-layer.h5", code: .notFound, mentions: "ghost"),
        Case(file: "bad-truncated-member.keras", code: .truncated, mentions: "model.weights.h5"),
        Case(file: "bad-global-heap.h5", code: .corrupt, mentions: "global heap"),
        Case(file: "bad-vlen-descriptor.h5", code: .corrupt, mentions: "missing global heap object"),
    ])
    func badFilesAreClearErrors(_ c: Case) throws {
        let error = try #require(throws: StoreError.self) { try KerasFixtures.load(c.file) }
        #expect(error.code == c.code, "\(error)")
        #expect(error.description.contains(c.mentions), "\(error)")
        #expect(error.description.contains(c.file), "the message names the file: \(error)")
    }

    @Test func aTightBudgetRefusesBeforeAllocating() throws {
        var options = LoadOptions()
        options.maxInflatedBytes = 1000  // keras-dcgan-16 has a 24 KB kernel
        let error = try #require(throws: StoreError.self) {
            try CheckpointLoader.load(path: KerasFixtures.path("keras-dcgan-16.h5"), options: options)
        }
        #expect(error.code == .tooLarge)
        #expect(error.tensor == "/model_weights/dense/generator/dense/kernel")
    }

    /// Cut anywhere, a file is an error (never a crash, never a silent partial read).
    @Test(arguments: ["hand-k2-model.h5", "keras-dcgan-16.keras"])
    func everyTruncationIsAnError(_ name: String) throws {
        let bytes = try KerasFixtures.bytes(name)
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
            let p = KerasFixtures.temporaryFile(Array(bytes[0..<cut]), suffix: "-" + name)
            defer { try? FileManager.default.removeItem(atPath: p) }
            #expect(throws: (any Error).self, "cut at \(cut)") { try CheckpointLoader.load(path: p) }
        }
    }

    /// Random byte damage: either a clean read or a typed error.
    @Test func damagedBytesGiveTypedErrorsOrData() throws {
        let bytes = try KerasFixtures.bytes("k2-sequential.h5")
        var rng = HDF5DamageRandom(seed: 11)
        for _ in 0..<40 {
            var damaged = bytes
            for _ in 0..<4 { damaged[Int(rng.next() % UInt64(damaged.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            let p = KerasFixtures.temporaryFile(damaged, suffix: ".h5")
            defer { try? FileManager.default.removeItem(atPath: p) }
            do { _ = try CheckpointLoader.load(path: p) } catch {
                #expect(error is any GANKitError, "\(error)")
            }
        }
    }
}

/// A tiny deterministic generator for the damage test.
struct HDF5DamageRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
