import Foundation
import Testing
@testable import Checkpoints
import TensorStore

/// Every container kind against its manifest: shared fixtures copied from the upstream-made files and the
/// generated ones of Scripts/make_torch_fixtures.py.
@Suite struct TorchContainerTests {
    static let fixtures: [(file: String, format: CheckpointFormat)] = [
        ("dcgan-seed-64.pth", .torchZip),
        ("ros-sg2-16.pt", .torchZip),
        ("biggan-hf-16/pytorch_model.bin", .torchLegacy),
        ("sg3-t-16-uncond.pkl", .pickle),
        ("tf-sg2-skip-16-uncond.pkl", .pickle),
        ("legacy-views.pt", .torchLegacy),
        ("zip-bigendian.pt", .torchZip),
        ("zip-untyped-v3.pt", .torchZip),
        ("nvlabs-proto2.pkl", .pickle),
        ("whole-module.pt", .torchZip),
        ("numpy-proto0.pkl", .pickle),
        ("numpy-proto1.pkl", .pickle),
        ("numpy-proto3.pkl", .pickle),
        ("numpy-proto5.pkl", .pickle),
        ("tar-format.tar", .torchTar),
    ]

    @Test(arguments: fixtures.map(\.file))
    func matchesManifest(_ file: String) throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path(file))
        #expect(ck.format == Self.fixtures.first { $0.file == file }?.format)
        let problems = try TorchFixtures.mismatches(ck, manifest: TorchFixtures.path(file + ".manifest.json"))
        #expect(problems.isEmpty, "\(file): \(problems.prefix(5))")
    }

    @Test func zipStoragesAreZeroCopyViews() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path("dcgan-seed-64.pth"))
        for (name, t) in ck.tensors.tensors {
            #expect(t.storage.isMapped, "\(name) should view the mapped file")
        }
    }

    @Test func sharedStorageKeepsSharing() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path("legacy-views.pt"))
        let a = try ck.tensors.tensor("a.view10"), b = try ck.tensors.tensor("a.view50")
        #expect(a.storage === b.storage)
        #expect(a.offset == 10 && b.offset == 50)
        let t = try ck.tensors.tensor("b.transposed")
        #expect(!t.isContiguous && t.strides == [1, 4])
        #expect(try ck.tensors.tensor("c.num_batches_tracked").shape == [])
    }

    @Test func bigEndianRecordsAreSwappedOnCopy() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path("zip-bigendian.pt"))
        let idx = try ck.tensors.tensor("model.idx")
        #expect(idx.byteOrder == .big)
        #expect(idx.int64s() == [1, 2, 3, 4, 5])
        #expect(ck.metadata.first { $0.0 == "epoch" }?.1 == .number(3))
    }

    @Test func nvlabsPickleGivesModuleMetadataAndHints() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path("sg3-t-16-uncond.pkl"))
        #expect(ck.hints.contains("NVlabs network pickle"))
        #expect(ck.hints.contains { $0.hasPrefix("StyleGAN3") })
        let g = ck.metadata.first { $0.0 == "G_ema" }?.1
        #expect(g?["class"]?.stringValue == "Generator")
        #expect(g?["init_kwargs"]?["z_dim"]?.intValue == 16)
        #expect(ck.metadata.first { $0.0 == "training_set_kwargs" }?.1["resolution"]?.intValue == 16)
        let tree = ck.tree?.rendered().joined(separator: "\n") ?? ""
        #expect(tree.contains("module Generator (torch_utils.persistence)"))
        #expect(!tree.contains("module source"))
        #expect(ck.globals.contains { $0.qualifiedName == "torch_utils.persistence._reconstruct_persistent_obj" && $0.safety == .allowed })
    }

    @Test func tfNetworkPickleNamesVariablesByNetworkAndComponent() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path("tf-sg2-skip-16-uncond.pkl"))
        #expect(ck.hints.contains("TF network pickle"))
        #expect(try ck.tensors.tensor("Gs.synthesis.4x4.Conv.weight").shape == [3, 3, 32, 32])
        #expect(try ck.tensors.tensor("Gs.lod").shape == [1])
        let gs = ck.metadata.first { $0.0 == "Gs" }?.1
        #expect(gs?["version"]?.intValue == 4)
        #expect(gs?["static_kwargs"]?["resolution"]?.intValue == 16)
        #expect(gs?["components"]?["mapping"]?["name"]?.stringValue != nil)
    }

    @Test func rosinalityArgsBecomeMetadata() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path("ros-sg2-16.pt"))
        let args = ck.metadata.first { $0.0 == "args" }?.1
        #expect(args?["channel_multiplier"]?.intValue == 2)
        #expect(ck.metadata.first { $0.0 == "ada_aug_p" }?.1 == .number(0))
        #expect(ck.tensors["g_optim.state.0.exp_avg"] != nil)
        #expect(ck.hints.contains { $0.contains("rosinality") })
    }

    @Test func configBesideTheFileIsMetadata() throws {
        let ck = try CheckpointLoader.load(path: TorchFixtures.path("biggan-hf-16/pytorch_model.bin"))
        #expect(ck.metadata.contains { $0.0 == "config.json" })
        // HF BigGAN keeps TF-layout arrays viewed back: non-contiguous 4-D weights.
        #expect(ck.tensors.tensors.values.contains { $0.rank == 4 && !$0.isContiguous })
    }

    @Test func scanListsEveryGlobalOfANestedPickle() throws {
        let refs = try CheckpointScanner.scan(path: TorchFixtures.path("nvlabs-proto2.pkl"))
        let names = Set(refs.map(\.qualifiedName))
        for g in ["torch_utils.persistence._reconstruct_persistent_obj", "torch.storage._load_from_bytes", "_codecs.encode",
                  "torch.FloatStorage", "torch._utils._rebuild_tensor_v2", "__builtin__.set"] {
            #expect(names.contains(g), "scan should list \(g)")
        }
        #expect(refs.contains { $0.qualifiedName == "torch.FloatStorage" && $0.location.contains("blob at") })
        #expect(!refs.contains { $0.safety == .dangerous })
    }
}
