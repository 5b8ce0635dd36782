import Models
import TensorStore

/// A golden file (Formats/golden.md): the inputs given to a reference generator and what it produced.
public struct Golden {
    public var path: String?
    /// Latents, flattened to `[N, zDim]` (DCGAN `[N, z, 1, 1]` and Keras `[N, 1, 1, z]` forms are accepted).
    public var z: Tensor
    /// Condition vectors `[N, cDim]`.
    public var c: Tensor?
    /// Integer class labels `[N]` (an alternative to one-hot `c` for embedding-conditioned models).
    public var labels: [Int]?
    public var truncation: Float
    public var truncationCutoff: Int?
    public var noise: [Tensor]
    /// Text-conditional GigaGAN: `text_encodings` [N, T, D] and the optional `text_mask` [N, T].
    public var textEncodings: Tensor?
    public var textMask: Tensor?
    /// The arrays to compare: `image`, optionally `ws` and `trace.<layer>`, in file order.
    public var expected: OrderedDictionary<String, Tensor>

    public init(z: Tensor, c: Tensor? = nil, labels: [Int]? = nil, truncation: Float = 1, truncationCutoff: Int? = nil,
                noise: [Tensor] = [], expected: OrderedDictionary<String, Tensor>, path: String? = nil) {
        self.z = z
        self.c = c
        self.labels = labels
        self.truncation = truncation
        self.truncationCutoff = truncationCutoff
        self.noise = noise
        self.expected = expected
        self.path = path
    }

    /// Reads and checks a golden `.npz`.
    public static func read(path: String) throws -> Golden {
        let store = try NumPy.readNPZ(path: path)
        return try Golden(store: store, path: path)
    }

    public init(store: TensorStore, path: String? = nil) throws {
        func fail(_ m: String, _ key: String) -> ModelError { ModelError(m, file: path, location: "golden '\(key)'") }
        guard let z = store["z"] else { throw fail("a golden needs the latent input 'z'", "z") }
        guard z.dtype.isFloatingPoint, z.rank >= 2, let n = z.shape.first, n > 0 else {
            throw fail("'z' must be a float array [N, z_dim] (found \(z.dtype.displayName) \(z.shape))", "z")
        }
        // [N, z, 1, 1] and [N, 1, 1, z] hold the same numbers as [N, z].
        self.z = z.toFloat32().reshaped([n, z.elementCount / n])
        if let c = store["c"] {
            guard c.rank == 2, c.shape[0] == n, c.dtype.isFloatingPoint else {
                throw fail("'c' must be a float array [\(n), c_dim] (found \(c.dtype.displayName) \(c.shape))", "c")
            }
            // An unconditional reference stores c as [N, 0].
            self.c = c.shape[1] == 0 ? nil : c.toFloat32()
        } else {
            self.c = nil
        }
        if let l = store["labels"] ?? store["y"] {
            guard l.elementCount == n, !l.dtype.isFloatingPoint else {
                throw fail("class labels must be \(n) integers (found \(l.dtype.displayName) \(l.shape))", "labels")
            }
            self.labels = l.int64s().map { Int($0) }
        } else {
            self.labels = nil
        }
        if let t = store["truncation"] {
            guard t.elementCount == 1 else { throw fail("'truncation' must be a scalar (found \(t.shape))", "truncation") }
            truncation = t.floats()[0]
        } else {
            truncation = 1
        }
        if let t = store["truncation_cutoff"] {
            guard t.elementCount == 1 else { throw fail("'truncation_cutoff' must be a scalar", "truncation_cutoff") }
            truncationCutoff = Int(t.int64s()[0])
        } else {
            truncationCutoff = nil
        }
        var noise: [Tensor] = []
        while let t = store["noise_\(noise.count)"] { noise.append(t.toFloat32()) }
        self.noise = noise
        if let t = store["text_encodings"] {
            guard t.dtype.isFloatingPoint, t.rank == 3, t.shape[0] == n else {
                throw fail("'text_encodings' must be a float array [\(n), T, D] (found \(t.dtype.displayName) \(t.shape))", "text_encodings")
            }
            textEncodings = t.toFloat32()
        }
        if let m = store["text_mask"] {
            guard m.rank == 2, m.shape[0] == n, m.shape[1] == textEncodings?.shape[1] else {
                throw fail("'text_mask' must be [\(n), T] beside 'text_encodings' [\(n), T, D] (found \(m.shape))", "text_mask")
            }
            textMask = m.toFloat32()
        }
        guard store["image"] != nil else { throw fail("a golden needs the reference output 'image'", "image") }
        var expected: OrderedDictionary<String, Tensor> = [:]
        for (name, t) in store.tensors where name == "image" || name == "ws" || name.hasPrefix("trace.") {
            guard t.dtype.isFloatingPoint else { throw fail("must be a float array (found \(t.dtype.displayName))", name) }
            expected[name] = t.toFloat32()
        }
        self.expected = expected
        self.path = path
    }

    public var count: Int { z.shape[0] }

    /// The generator inputs this golden describes; integer labels become one-hot vectors of `classes` entries.
    public func inputs(classes: Int) throws -> GeneratorInputs {
        var c = self.c
        if c == nil, let labels {
            guard classes > 0 else {
                throw ModelError("the golden has class labels but the model is unconditional", file: path, location: "golden 'labels'")
            }
            var v = [Float](repeating: 0, count: labels.count * classes)
            for (i, l) in labels.enumerated() {
                guard l >= 0 && l < classes else {
                    throw ModelError("label \(l) is outside 0..<\(classes)", file: path, location: "golden 'labels'")
                }
                v[i * classes + l] = 1
            }
            c = Tensor(shape: [labels.count, classes], floats: v)
        }
        return GeneratorInputs(z: z, c: c, truncation: truncation, truncationCutoff: truncationCutoff, noise: noise,
                               textEncodings: textEncodings, textMask: textMask)
    }

    /// Writes a golden `.npz` (inputs first, then expected arrays).
    public func write(to path: String, overwrite: Bool = false) throws {
        var store = TensorStore()
        try store.insert(z, named: "z")
        if let c { try store.insert(c, named: "c") }
        if let labels {
            let t = Tensor(zeros: [labels.count], dtype: .i64)
            let p = t.storage.mutableBytes.baseAddress!
            for (i, l) in labels.enumerated() { p.storeBytes(of: Int64(l).littleEndian, toByteOffset: i * 8, as: Int64.self) }
            try store.insert(t, named: "labels")
        }
        if truncation != 1 { try store.insert(Tensor(shape: [], floats: [truncation]), named: "truncation") }
        if let cut = truncationCutoff {
            let t = Tensor(zeros: [], dtype: .i64)
            t.storage.mutableBytes.baseAddress!.storeBytes(of: Int64(cut).littleEndian, as: Int64.self)
            try store.insert(t, named: "truncation_cutoff")
        }
        for (i, n) in noise.enumerated() { try store.insert(n, named: "noise_\(i)") }
        if let textEncodings { try store.insert(textEncodings, named: "text_encodings") }
        if let textMask { try store.insert(textMask, named: "text_mask") }
        for (k, v) in expected { try store.insert(v, named: k) }
        try NumPy.writeNPZ(store, to: path, overwrite: overwrite)
    }
}
