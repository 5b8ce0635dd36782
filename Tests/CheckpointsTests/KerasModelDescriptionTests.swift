import Foundation
import Testing
@testable import Checkpoints
import TensorStore

@Suite struct KerasModelDescriptionTests {
    @Test func describesTheKeras3WholeModelFile() throws {
        let c = try KerasFixtures.load("keras-dcgan-16.h5")
        let d = try KerasModelDescription(checkpoint: c)
        #expect(d.modelClass == "Sequential" && d.name == "generator")
        #expect(d.kerasVersion == "3.15.1" && d.backend == "tensorflow")
        #expect(d.inputShape == [nil, 12])
        #expect(d.layers.map(\.className) == ["InputLayer", "Dense", "Reshape", "BatchNormalization", "LeakyReLU",
                                              "Conv2DTranspose", "BatchNormalization", "LeakyReLU", "Conv2DTranspose",
                                              "LeakyReLU", "Conv2D"])
        let dense = d.layers[1]
        #expect(dense.kind == .dense(KerasDenseConfig(units: 512, activation: .linear, useBias: true)))
        #expect(dense.weights.map(\.role) == ["kernel", "bias"])
        #expect(dense.weight("kernel")?.rawName == "model_weights.dense.generator.dense.kernel")
        #expect(dense.weight("kernel")?.shape == [12, 512])
        #expect(d.layers[2].kind == .reshape(targetShape: [4, 4, 32]))
        #expect(d.layers[4].kind == .leakyReLU(slope: 0.2))
        guard case let .conv2DTranspose(ct) = d.layers[5].kind else { Issue.record("not a Conv2DTranspose"); return }
        #expect(ct.filters == 16 && ct.kernelSize == [4, 4] && ct.strides == [2, 2] && ct.padding == .same && ct.useBias)
        guard case let .conv2D(conv) = d.layers[10].kind else { Issue.record("not a Conv2D"); return }
        #expect(conv.activation == .tanh && conv.filters == 3)
        // Every bound weight is a tensor of the checkpoint with the recorded shape.
        for l in d.layers { for w in l.weights { #expect(c.tensors[w.rawName]?.shape == w.shape) } }
    }

    @Test func theArchiveAndTheWholeModelFileDescribeTheSameModel() throws {
        let h5 = try KerasModelDescription(checkpoint: try KerasFixtures.load("keras-dcgan-16.h5"))
        let archive = try KerasModelDescription(checkpoint: try KerasFixtures.load("keras-dcgan-16.keras"))
        #expect(h5.layers.map(\.kind) == archive.layers.map(\.kind))
        #expect(h5.layers.map { $0.weights.map(\.role) } == archive.layers.map { $0.weights.map(\.role) })
        #expect(h5.layers.map { $0.weights.map(\.shape) } == archive.layers.map { $0.weights.map(\.shape) })
        #expect(archive.layers[1].weight("bias")?.rawName == "layers.dense.vars.1")
        #expect(archive.layers[3].weight("moving_variance")?.rawName == "layers.batch_normalization.vars.3")
    }

    @Test func batchNormFlagsDecideWhichWeightsExist() throws {
        let d = try KerasModelDescription(checkpoint: try KerasFixtures.load("k3-functional.keras"))
        let bn0 = try #require(d.layers.first { $0.name == "bn0" })
        #expect(bn0.kind == .batchNormalization(KerasBatchNormConfig(axis: [-1], epsilon: 1e-3, center: false, scale: true)))
        #expect(bn0.weights.map(\.role) == ["gamma", "moving_mean", "moving_variance"])
        #expect(bn0.weight("moving_mean")?.rawName == "layers.batch_normalization.vars.1")
        let bn1 = try #require(d.layers.first { $0.name == "bn1" })
        #expect(bn1.weights.map(\.role) == ["beta", "moving_mean", "moving_variance"])
        guard case let .batchNormalization(c1) = bn1.kind else { Issue.record("not BN"); return }
        #expect(c1.epsilon == 1e-5 && c1.center && !c1.scale)

        let k2 = try KerasModelDescription(checkpoint: try KerasFixtures.load("k2-sequential.h5"))
        let plain = try #require(k2.layers.first { $0.name == "batch_normalization_1" })
        #expect(plain.weights.map(\.role) == ["moving_mean", "moving_variance"])
        #expect(plain.weight("moving_variance")?.rawName == "model_weights.batch_normalization_1.batch_normalization_1.moving_variance:0")
        guard case let .batchNormalization(c2) = plain.kind else { Issue.record("not BN"); return }
        #expect(c2.axis == [3] && !c2.center && !c2.scale)
    }

    @Test func functionalGraphsKeepTheirInboundLayers() throws {
        let d = try KerasModelDescription(checkpoint: try KerasFixtures.load("k3-functional.h5"))
        #expect(d.modelClass == "Functional")
        #expect(d.inputLayers == ["z"] && d.outputLayers == ["out"])
        #expect(d.layers.first { $0.name == "deconv" }?.inboundLayers == ["lrelu_default"])
        #expect(d.layers.first { $0.name == "up" }?.kind
                == .upSampling2D(KerasUpSamplingConfig(size: [2, 2], interpolation: .nearest, dataFormat: .channelsLast)))
        #expect(d.layers.first { $0.name == "drop" }?.kind == .dropout(rate: 0.25))
        #expect(d.layers.first { $0.name == "out" }?.kind == .activation(.tanh))
        #expect(d.layers.first { $0.name == "act0" }?.kind == .reLU(KerasReLUConfig(maxValue: nil, negativeSlope: 0, threshold: 0)))
        guard case let .conv2DTranspose(c)? = d.layers.first(where: { $0.name == "deconv" })?.kind else { Issue.record("no deconv"); return }
        #expect(!c.useBias && d.layers.first { $0.name == "deconv" }?.weights.map(\.role) == ["kernel"])
    }

    /// LeakyReLU: Keras 2 writes `alpha`, Keras 3 `negative_slope`; the layer's default is 0.3 in both, while
    /// the `leaky_relu` activation function defaults to 0.2.
    @Test(arguments: [
        (#"{"name": "l", "alpha": 0.1}"#, 0.1),
        (#"{"name": "l", "negative_slope": 0.2}"#, 0.2),
        (#"{"name": "l"}"#, 0.3),
        (#"{"name": "l", "alpha": 0.30000001192092896}"#, 0.30000001192092896),
    ])
    func leakyReLUSlopes(_ config: String, _ slope: Double) throws {
        let e = KerasConfigParser.Entry(name: "l", className: "LeakyReLU", config: try JSONValue.parse(config), inbound: [], buildInputShape: nil)
        #expect(try KerasConfigParser.kind(of: e, file: "f") == .leakyReLU(slope: slope))
    }

    @Test func realKerasFilesSpellLeakyReLUSlopesTheirOwnWay() throws {
        let k2 = try KerasModelDescription(checkpoint: try KerasFixtures.load("k2-sequential.h5"))
        #expect(k2.layers.first { $0.className == "LeakyReLU" }?.kind == .leakyReLU(slope: Double(Float(0.3))))
        let k3 = try KerasModelDescription(checkpoint: try KerasFixtures.load("k3-functional.keras"))
        #expect(k3.layers.first { $0.name == "lrelu_default" }?.kind == .leakyReLU(slope: 0.3))
        let hand = try KerasModelDescription(checkpoint: try KerasFixtures.load("hand-k2-model.h5"))
        #expect(hand.layers[1].kind == .leakyReLU(slope: 0.1))
        #expect(KerasActivation(configValue: "leaky_relu") == .leakyReLU(slope: 0.2))
    }

    @Test func keras3GroupNamesFollowClassNames() {
        #expect(KerasNaming.uniqueNames(["Dense", "Conv2DTranspose", "Dense", "LeakyReLU", "UpSampling2D",
                                         "BatchNormalization", "InputLayer", "LeakyReLU", "ReLU"])
                == ["dense", "conv2d_transpose", "dense_1", "leaky_re_lu", "up_sampling2d", "batch_normalization",
                    "input_layer", "leaky_re_lu_1", "re_lu"])
    }

    /// Older Keras 3 files have no `name` attribute on `vars`: groups are then matched by class-derived names.
    @Test func bindsKeras3GroupsWithoutNameAttributes() throws {
        var c = try KerasFixtures.load("k3-functional.keras")
        let key = KerasModelDescription.MetadataKey.weightGroups
        let groups = try KerasWeightGroup.list(from: c.kerasMeta(key), file: c.path).map {
            KerasWeightGroup(group: $0.group, layer: nil, datasets: $0.datasets)
        }
        c.metadata = c.metadata.map { $0.0 == key ? (key, .array(groups.map(\.json))) : $0 }
        let d = try KerasModelDescription(checkpoint: c)
        #expect(d.layers.first { $0.name == "fc" }?.weight("kernel")?.rawName == "layers.dense.vars.0")
        #expect(d.layers.first { $0.name == "bn1" }?.weight("beta")?.rawName == "layers.batch_normalization_1.vars.0")
        #expect(d.layers.first { $0.name == "deconv" }?.weight("kernel")?.rawName == "layers.conv2d_transpose.vars.0")
    }

    @Test func anUnsupportedLayerIsAnErrorNamingItButTensorsStillLoad() throws {
        let c = try KerasFixtures.load("hand-unsupported-layer.h5")
        #expect(c.tensors.count == 3)
        #expect(c.warnings.contains { $0.contains("p_re_lu") && $0.contains("PReLU") })
        let error = try #require(throws: StoreError.self) { try KerasModelDescription(checkpoint: c) }
        #expect(error.code == .unsupported)
        #expect(error.message.contains("'p_re_lu'") && error.message.contains("PReLU"))
    }

    @Test func weightsOnlyFilesSayNoArchitectureIsStored() throws {
        for name in ["k2-weights-only.h5", "keras-dcgan-16.weights.h5", "hand-k2-split-names.h5"] {
            let c = try KerasFixtures.load(name)
            #expect(c.warnings.contains { $0.contains("no architecture is stored") }, "\(name)")
            #expect(!c.hints.isEmpty && c.tree != nil)
            let error = try #require(throws: StoreError.self) { try KerasModelDescription(checkpoint: c) }
            #expect(error.code == .notFound && error.message.contains("no architecture"))
        }
    }

    @Test func weightsThatDoNotFitTheConfigAreRefused() throws {
        var c = try KerasFixtures.load("hand-k2-model.h5")
        let text = try #require(c.kerasMeta("model_config")).serialized().replacingOccurrences(of: #""units":6"#, with: #""units":7"#)
        c.metadata = c.metadata.map { $0.0 == "model_config" ? ("model_config", try! JSONValue.parse(text)) : $0 }
        let error = try #require(throws: StoreError.self) { try KerasModelDescription(checkpoint: c) }
        #expect(error.message.contains("'dense'") && error.message.contains("kernel"))
    }

    @Test func inspectListsEveryLayer() throws {
        let c = try KerasFixtures.load("k2-sequential.h5")
        let d = try KerasModelDescription(checkpoint: c)
        #expect(c.hints.contains(d.heading))
        #expect(d.layerLines.allSatisfy { c.hints.contains($0) })
        #expect(c.tree?.children.count == d.layers.count)
        #expect(c.hints.contains { $0.contains("conv2d_transpose: Conv2DTranspose(filters=4, kernel_size=(5, 5), strides=(2, 2), padding=same") })
    }

    /// Compiled models also store optimizer state: it stays in the raw tensors but is no layer's weight.
    @Test func optimizerStateIsRawButNotBound() throws {
        for name in ["k2-compiled.h5", "k3-compiled.keras"] {
            let c = try KerasFixtures.load(name)
            #expect(c.tensors.names.contains { $0.hasPrefix("optimizer") }, "\(name)")
            #expect(c.warnings.isEmpty, "\(name): \(c.warnings)")
            let d = try KerasModelDescription(checkpoint: c)
            #expect(d.weightedLayers.map(\.className) == ["Dense", "Dense"], "\(name)")
            #expect(d.weightedLayers.map { $0.weights.map(\.shape) } == [[[3, 4], [4]], [[4, 1], [1]]], "\(name)")
            #expect(d.weightedLayers.allSatisfy { $0.weights.allSatisfy { !$0.rawName.hasPrefix("optimizer") } })
        }
    }

    @Test func sequentialConfigsInTheOldListForm() throws {
        let json = try JSONValue.parse(#"{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d", "units": 3, "batch_input_shape": [null, 2]}}]}"#)
        let m = try KerasConfigParser.model(json, file: "f")
        #expect(m.entries.map(\.name) == ["d"])
        #expect(try KerasConfigParser.kind(of: m.entries[0], file: "f")
                == .dense(KerasDenseConfig(units: 3, activation: .linear, useBias: true)))
    }
}
