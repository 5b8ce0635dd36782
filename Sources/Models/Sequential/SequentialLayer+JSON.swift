import Engine
import TensorStore

/// The JSON form of a layer (Formats/arch-json.md), used both by `--arch` files and by canonical configs.
extension SequentialLayer {
    public init(json j: JSONValue, index: Int) throws {
        let at = "layers[\(index)]"
        guard let type = j["type"]?.stringValue else { throw ModelError("each layer needs a \"type\"", location: at) }
        func int(_ k: String) throws -> Int { try j.int(k, in: at) }
        func padding(_ key: String = "padding") throws -> ConvPadding {
            guard let v = j[key] else { return .symmetric(0) }
            if v.stringValue == "same" { return .same }
            if v.stringValue == "valid" { return .symmetric(0) }
            if let p = v.intValue, p >= 0 { return .symmetric(p) }
            if let a = v.arrayValue?.compactMap(\.intValue), a.count == 4, a.allSatisfy({ $0 >= 0 }) {
                return .explicit(top: a[0], bottom: a[1], left: a[2], right: a[3])
            }
            if let a = v.arrayValue?.compactMap(\.intValue), a.count == 2, a.allSatisfy({ $0 >= 0 }) {
                return .explicit(top: a[0], bottom: a[0], left: a[1], right: a[1])
            }
            throw ModelError("\"\(key)\" must be \"same\", \"valid\", n, [h, w] or [top, bottom, left, right]", location: at)
        }
        switch type {
        case "embed_concat":
            let order = j.string("order", default: "z_first")
            guard order == "z_first" || order == "label_first" else {
                throw ModelError("\"order\" must be \"z_first\" or \"label_first\"", location: at)
            }
            self = .embedConcat(classes: try int("classes"), dim: try int("dim"), zFirst: order == "z_first")
        case "linear":
            self = .linear(inFeatures: try int("in"), outFeatures: try int("out"), bias: j.bool("bias", default: true))
        case "reshape":
            guard let s = j.ints("shape"), s.count == 3 else { throw ModelError("\"shape\" must be [C, H, W]", location: at) }
            self = .reshape(channels: s[0], height: s[1], width: s[2])
        case "reshape_channels_last":
            guard let s = j.ints("shape"), s.count == 3 || s.count == 2 else { throw ModelError("\"shape\" must be [H, W, C] or [H, W]", location: at) }
            self = .reshapeChannelsLast(height: s[0], width: s[1], channels: s.count == 3 ? s[2] : 1)
        case "batch_norm":
            let affine = j.bool("affine", default: true)
            self = .batchNorm(features: try int("features"), eps: Float(j.double("eps", default: 1e-5)),
                              hasWeight: j.bool("scale", default: affine), hasBias: j.bool("center", default: affine))
        case "conv2d":
            self = .conv2d(inChannels: try int("in"), outChannels: try int("out"), kernel: try int("kernel"),
                           stride: j.int("stride", default: 1), padding: try padding(), bias: j.bool("bias", default: true))
        case "conv_transpose2d":
            self = .convTranspose2d(inChannels: try int("in"), outChannels: try int("out"), kernel: try int("kernel"),
                                    stride: j.int("stride", default: 1), padding: try padding(),
                                    outputPadding: j.int("output_padding", default: 0), bias: j.bool("bias", default: true))
        case "upsample_nearest":
            self = .upsampleNearest(scale: j.int("scale", default: 2))
        case "relu": self = .activation(.relu)
        case "tanh": self = .activation(.tanh)
        case "sigmoid": self = .activation(.sigmoid)
        case "selu": self = .activation(.selu)
        case "elu": self = .activation(.elu)
        case "gelu": self = .activation(.gelu)
        case "silu": self = .activation(.silu)
        case "softplus": self = .activation(.softplus)
        case "leaky_relu": self = .activation(.leakyRelu(slope: Float(j.double("slope", default: 0.01))))
        default:
            throw ModelError("unknown layer type \"\(type)\" (known: embed_concat, linear, reshape, reshape_channels_last, batch_norm, conv2d, conv_transpose2d, upsample_nearest, relu, leaky_relu, tanh, sigmoid, selu, elu, gelu, silu, softplus)", location: at)
        }
    }

    public var json: JSONValue {
        func pad(_ p: ConvPadding) -> JSONValue {
            switch p {
            case .same: return .string("same")
            case let .explicit(t, b, l, r): return t == b && l == r && t == l ? .int(t) : .ints([t, b, l, r])
            }
        }
        var items: [(String, JSONValue)] = [("type", .string(typeName))]
        switch self {
        case let .embedConcat(c, d, zFirst):
            items += [("classes", .int(c)), ("dim", .int(d)), ("order", .string(zFirst ? "z_first" : "label_first"))]
        case let .linear(i, o, b): items += [("in", .int(i)), ("out", .int(o)), ("bias", .bool(b))]
        case let .reshape(c, h, w): items += [("shape", .ints([c, h, w]))]
        case let .reshapeChannelsLast(h, w, c): items += [("shape", .ints([h, w, c]))]
        case let .batchNorm(f, eps, sw, sb):
            items += [("features", .int(f)), ("eps", .number(Double(eps))), ("scale", .bool(sw)), ("center", .bool(sb))]
        case let .conv2d(i, o, k, s, p, b):
            items += [("in", .int(i)), ("out", .int(o)), ("kernel", .int(k)), ("stride", .int(s)), ("padding", pad(p)), ("bias", .bool(b))]
        case let .convTranspose2d(i, o, k, s, p, op, b):
            items += [("in", .int(i)), ("out", .int(o)), ("kernel", .int(k)), ("stride", .int(s)), ("padding", pad(p)),
                      ("output_padding", .int(op)), ("bias", .bool(b))]
        case let .upsampleNearest(s): items += [("scale", .int(s))]
        case let .activation(a):
            if case let .leakyRelu(s) = a { items += [("slope", .number(Double(s)))] }
        }
        return .object(items)
    }
}
