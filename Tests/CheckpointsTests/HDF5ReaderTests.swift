import Foundation
import Testing
@testable import Checkpoints
import TensorStore

@Suite struct HDF5ReaderTests {
    /// Every layout: the raw tensors equal, byte for byte, what h5py reads from the same file.
    @Test(arguments: [
        "keras-dcgan-16.h5", "keras-dcgan-16.weights.h5", "k3-functional.h5", "k3-functional.weights.h5",
        "k2-sequential.h5", "k2-weights-only.h5", "k2-compiled.h5", "hand-k2-model.h5", "hand-k2-split-names.h5",
        "hand-state-dict.h5", "hand-unsupported-layer.h5",
    ])
    func rawTensorsMatchH5py(_ name: String) throws {
        let checkpoint = try KerasFixtures.load(name)
        let expected = try KerasFixtures.expected(name)
        #expect(checkpoint.format == .hdf5)
        #expect(Set(checkpoint.tensors.names) == Set(expected.names))
        for (raw, want) in expected.tensors {
            let got = try #require(checkpoint.tensors[raw], "missing \(raw)")
            #expect(got.dtype == want.dtype, "\(raw)")
            #expect(got.shape == want.shape, "\(raw)")
            #expect(got.kerasTestBytes == want.kerasTestBytes, "\(raw)")
        }
    }

    @Test func rawNamesAreDatasetPathsWithDots() throws {
        let legacy = try KerasFixtures.load("keras-dcgan-16.h5")
        #expect(legacy.tensors.names.first == "model_weights.dense.generator.dense.kernel")
        let k2 = try KerasFixtures.load("k2-sequential.h5")
        #expect(k2.tensors["model_weights.dense.dense.kernel:0"] != nil)
        let k3 = try KerasFixtures.load("keras-dcgan-16.weights.h5")
        #expect(k3.tensors["layers.dense.vars.0"]?.shape == [12, 512])
        #expect(k3.tensors.names.allSatisfy { !$0.hasPrefix(".") && !$0.contains("/") })
    }

    @Test func legacyTensorsComeInLayerAndWeightOrder() throws {
        let c = try KerasFixtures.load("k2-sequential.h5")
        // layer_names order, then weight_names order within a layer (not the alphabetical group order).
        #expect(Array(c.tensors.names.prefix(5)) == [
            "model_weights.dense.dense.kernel:0", "model_weights.dense.dense.bias:0",
            "model_weights.batch_normalization.batch_normalization.beta:0",
            "model_weights.batch_normalization.batch_normalization.moving_mean:0",
            "model_weights.batch_normalization.batch_normalization.moving_variance:0",
        ])
    }

    @Test func float16StaysHalfAndBigEndianBecomesLittle() throws {
        let c = try KerasFixtures.load("hand-k2-model.h5")
        let half = try c.tensors.tensor("model_weights.dense_1.dense_1.kernel:0")  // gzip + shuffle, chunked
        #expect(half.dtype == .f16)
        #expect(half.shape == [6, 2])
        let big = try c.tensors.tensor("model_weights.dense.dense.bias:0")  // stored as >f4
        #expect(big.dtype == .f32 && big.byteOrder == .little && big.isContiguous)
        let want = try KerasFixtures.expected("hand-k2-model.h5").tensor("model_weights.dense.dense.bias:0")
        #expect(big.floats() == want.floats())
        #expect(try c.tensors.tensor("model_weights.dense_1.dense_1.bias:0").dtype == .f64)
    }

    @Test func keras3BFloat16OpaqueDataBecomesBF16() throws {
        let c = try KerasFixtures.load("k3-mixed-dtypes.weights.h5")
        let expected = try KerasFixtures.expected("k3-mixed-dtypes.weights.h5")
        let bf = try c.tensors.tensor("layers.dense.vars.0")
        #expect(bf.dtype == .bf16 && bf.shape == [3, 2])
        let bfWant = try expected.tensor("layers.dense.vars.0")  // h5py's bytes viewed as <u2
        #expect(bf.kerasTestBytes == bfWant.kerasTestBytes)
        #expect(bf.floats().contains { $0 != 0 })
        let half = try c.tensors.tensor("layers.dense_1.vars.0")
        let halfWant = try expected.tensor("layers.dense_1.vars.0")
        #expect(half.dtype == .f16 && half.kerasTestBytes == halfWant.kerasTestBytes)
    }

    @Test func plainStateDictKeepsIntegersBoolsScalarsAndSkipsStrings() throws {
        let c = try KerasFixtures.load("hand-state-dict.h5")
        #expect(c.kerasMeta(KerasModelDescription.MetadataKey.layout) == .string("hdf5"))
        #expect(try c.tensors.tensor("net.0.bias").int64s() == [0, 1, 2])
        let step = try c.tensors.tensor("net.step")
        #expect(step.shape == [] && step.dtype == .i32 && step.int64s() == [42])
        #expect(try c.tensors.tensor("net.mask").dtype == .bool)
        #expect(try c.tensors.tensor("net.u8").dtype == .u8)
        #expect(c.tensors["note"] == nil)
        #expect(c.warnings.contains { $0.contains("/note") && $0.contains("string") })
    }

    @Test func splitLayerNamesAttributesAreJoined() throws {
        let c = try KerasFixtures.load("hand-k2-split-names.h5")
        let groups = try KerasWeightGroup.list(from: c.kerasMeta(KerasModelDescription.MetadataKey.weightGroups), file: "")
        #expect(groups.map(\.layer) == ["conv2d_transpose", "batch_normalization"])
        #expect(groups[1].datasets.count == 4)
    }

    @Test func keepsKerasVersionBackendAndConfigInMetadata() throws {
        let c = try KerasFixtures.load("k2-sequential.h5")
        #expect(c.kerasMeta("keras_version") == .string("2.21.0"))
        #expect(c.kerasMeta("backend") == .string("tensorflow"))
        #expect(c.kerasMeta("model_config")?["class_name"] == .string("Sequential"))
        let fixed = try KerasFixtures.load("hand-k2-model.h5")  // fixed-length byte-string attributes
        #expect(fixed.kerasMeta("keras_version") == .string("2.2.4"))
        #expect(fixed.kerasMeta("model_config")?["config"]?["name"] == .string("sequential"))
    }

    @Test func theKerasArchiveYieldsTheSameTensorsAsItsWeightsTwin() throws {
        for stem in ["keras-dcgan-16", "k3-functional"] {
            let archive = try KerasFixtures.load(stem + ".keras")
            let twin = try KerasFixtures.load(stem + ".weights.h5")
            #expect(archive.format == .kerasArchive)
            #expect(archive.tensors.names == twin.tensors.names)
            for (name, t) in twin.tensors.tensors {
                let a = try archive.tensors.tensor(name)
                #expect(a.dtype == t.dtype && a.shape == t.shape && a.kerasTestBytes == t.kerasTestBytes, "\(stem): \(name)")
            }
            #expect(archive.kerasMeta("keras_version") == .string("3.15.1"))
            #expect(archive.kerasMeta("model_config")?["class_name"] != nil)
        }
    }

    @Test func nativeNamesWalkNumbersNaturally() {
        #expect(NaturalOrder.less("vars/2", "vars/10"))
        #expect(!NaturalOrder.less("vars/10", "vars/2"))
        #expect(NaturalOrder.less("dense", "dense_1"))
        #expect(NaturalOrder.less("a01", "a1") || NaturalOrder.less("a1", "a01"))
    }
}
