import Foundation
import Testing
@testable import Checkpoints
import TensorStore

/// Malicious and malformed pickles / torch files: each is rejected with a thrown error (never a crash or a
/// hang), dangerous globals are refused by loading and named by scan.
@Suite struct HostileTorchTests {
    struct Entry: Sendable, CustomStringConvertible {
        var file: String
        var expect: String
        var dangerous: [String]
        var description: String { file }
    }

    static func entries(_ manifest: String) -> [Entry] {
        guard case let .array(items)? = try? TorchFixtures.json(TorchFixtures.hostile(manifest)) else { return [] }
        return items.compactMap { e in
            guard let f = e["file"]?.stringValue, let x = e["expect"]?.stringValue else { return nil }
            return Entry(file: f, expect: x, dangerous: e["dangerous_globals"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
    }

    static let all = entries("torch-hostile.json") + entries("torch-pub-hostile.json")

    @Test func manifestsAreNotEmpty() {
        #expect(Self.all.count >= 30)
    }

    @Test(arguments: all)
    func behavesAsExpected(_ e: Entry) throws {
        let path = TorchFixtures.hostile(e.file)
        let start = Date()
        var loaded: Checkpoint?
        var failure: Error?
        do { loaded = try CheckpointLoader.load(path: path) } catch { failure = error }
        #expect(Date().timeIntervalSince(start) < 5, "\(e.file) took too long")
        if e.expect == "error" {
            #expect(loaded == nil, "\(e.file) should be rejected")
            #expect(failure is GANKitError, "\(e.file): \(String(describing: failure))")
        }
        if !e.dangerous.isEmpty {
            let message = String(describing: failure ?? StoreError(.corrupt, ""))
            #expect(e.dangerous.contains { message.contains($0) }, "\(e.file): refusal should name the global: \(message)")
            let refs = try CheckpointScanner.scan(path: path)
            for g in e.dangerous {
                #expect(refs.contains { $0.qualifiedName == g && $0.safety == .dangerous }, "\(e.file): scan should flag \(g)")
            }
        }
    }

    @Test func allowDangerousGlobalsKeepsThemInert() throws {
        let path = TorchFixtures.hostile("pub_ce_zip_partial_posix_system.pt")
        let ck = try CheckpointLoader.load(path: path, options: LoadOptions(allowDangerousGlobals: true))
        #expect(ck.tensors.names.sorted() == ["netG.bias", "netG.weight"])
        #expect(ck.warnings.contains { $0.contains("posix.system") })
        #expect(ck.globals.contains { $0.qualifiedName == "functools.partial" && $0.safety == .dangerous && $0.location.contains("sample_fn") })
    }

    @Test func inertUnknownClassWarns() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.hostile("pub_ce_inert_namespace_args.pkl"))
        #expect(ck.tensors.count == 2)
        let problems = try TorchFixtures.mismatches(ck, manifest: TorchFixtures.hostile("pub_ce_inert_namespace_args.pkl.manifest.json"))
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func deepTupleChainFreesWithoutRecursion() throws {
        // One million nested 1-tuples: a value-typed model would overflow the stack in deinit.
        var bytes: [UInt8] = [0x80, 0x02, 0x4b, 0x01]
        bytes += [UInt8](repeating: 0x85, count: 1_000_000)
        bytes.append(0x2e)
        let path = TorchFixtures.temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: StoreError.self) { try CheckpointLoader.load(path: path) }
    }

    @Test func memoBudgetStopsMemoBombs() throws {
        // EMPTY_LIST then MEMOIZE repeated: every entry is kept; a small budget must stop it.
        var bytes: [UInt8] = [0x80, 0x04, 0x5d]
        bytes += [UInt8](repeating: 0x94, count: 5000)
        bytes.append(0x2e)
        #expect(throws: StoreError.self) { try TorchFixtures.unpickle(bytes) { $0.maxMemoEntries = 1000 } }
        #expect(throws: Never.self) { try TorchFixtures.unpickle(bytes) }
    }

    @Test func allocationBudgetStopsEncodeExpansion() throws {
        // One 64 KiB string encoded through _codecs.encode 64 times via the memo: 4 MiB of copies.
        var bytes: [UInt8] = [0x80, 0x02, 0x63] + Array("_codecs\nencode\n".utf8) + [0x71, 0x00]
        bytes += [0x58] + withUnsafeBytes(of: UInt32(65536).littleEndian, Array.init) + [UInt8](repeating: 0x41, count: 65536) + [0x71, 0x01]
        bytes += [0x28]
        for _ in 0..<64 { bytes += [0x68, 0x00, 0x68, 0x01, 0x85, 0x52] }
        bytes += [0x6c, 0x2e]
        #expect(throws: StoreError.self) { try TorchFixtures.unpickle(bytes) { $0.maxAllocatedBytes = 1 << 20 } }
    }
}
