#!/usr/bin/env python3
"""Writes the small Keras / HDF5 test files in Fixtures/keras/.

Needs: numpy, h5py, keras 3 (with any backend, e.g. tensorflow-cpu) and tf_keras (Keras 2) for the real-Keras
files; the hand-made h5py files and the malformed files need only h5py.

    python3 Scripts/make_keras_fixtures.py Fixtures/keras
    python3 Scripts/make_keras_fixtures.py Fixtures/keras --dump FILE...   # only write FILE.npz companions

Each file <f> gets <f>.npz next to it holding every dataset under its raw name (dataset path with '/' -> '.'),
so the Swift tests can compare exact bytes.
"""
import os
import sys

import h5py
import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else "Fixtures/keras"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)


def p(name):
    return os.path.join(OUT, name)


def dump_npz(path):
    """All numeric datasets of an HDF5 file (or the model.weights.h5 inside a .keras) under raw names."""
    arrays = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiub":
            arrays[name.replace("/", ".")] = obj[()]
        elif isinstance(obj, h5py.Dataset) and obj.attrs.get("dtype") == "bfloat16":
            arrays[name.replace("/", ".")] = obj[()].view("<u2")  # Keras 3 bfloat16: opaque 2-byte data

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    np.savez(path + ".npz", **arrays)


def randomise(model):
    for layer in model.layers:
        ws = layer.get_weights()
        new = []
        for w in ws:
            v = rng.standard_normal(w.shape).astype(w.dtype) * 0.2
            new.append(np.abs(v) + 0.5 if w.ndim == 1 and "variance" in str(layer.weights[len(new)].name) else v)
        layer.set_weights(new)


def keras3_files():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    # Functional generator exercising every supported layer class and the Keras 3 spellings.
    z = keras.Input((6,), name="z")
    x = layers.Dense(2 * 2 * 4, use_bias=False, name="fc")(z)
    x = layers.BatchNormalization(center=False, name="bn0")(x)
    x = layers.ReLU(name="act0")(x)
    x = layers.Reshape((2, 2, 4), name="to_image")(x)
    x = layers.UpSampling2D(size=2, interpolation="nearest", name="up")(x)
    x = layers.Conv2D(4, 3, padding="same", activation="selu", name="conv")(x)
    x = layers.BatchNormalization(scale=False, epsilon=1e-5, name="bn1")(x)
    x = layers.LeakyReLU(name="lrelu_default")(x)
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False, name="deconv")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="lrelu")(x)
    x = layers.Dropout(0.25, name="drop")(x)
    x = layers.Activation("tanh", name="out")(x)
    model = keras.Model(z, x, name="k3_functional")
    randomise(model)
    model.save(p("k3-functional.keras"))
    model.save_weights(p("k3-functional.weights.h5"))
    model.save(p("k3-functional.h5"))
    for f in ["k3-functional.weights.h5", "k3-functional.h5"]:
        dump_npz(p(f))

    # Mixed precision: bfloat16 (stored by Keras 3 as opaque |V2 + attribute dtype="bfloat16") and float16.
    mixed = keras.Sequential([keras.Input((3,)), layers.Dense(2, dtype="bfloat16"), layers.Dense(2, dtype="float16")])
    mixed.save_weights(p("k3-mixed-dtypes.weights.h5"))
    dump_npz(p("k3-mixed-dtypes.weights.h5"))

    # A compiled, trained model: the archive also holds optimizer/vars/<i>.
    small = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(1)], name="small")
    small.compile("adam", "mse")
    small.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)
    small.save(p("k3-compiled.keras"))


def keras2_files():
    import tf_keras as keras
    from tf_keras import layers

    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((5,)),
        layers.Dense(3 * 3 * 4),
        layers.BatchNormalization(scale=False),
        layers.LeakyReLU(),
        layers.Reshape((3, 3, 4)),
        layers.Conv2DTranspose(4, 5, strides=2, padding="same", activation="relu"),
        layers.BatchNormalization(center=False, scale=False, momentum=0.9),
        layers.Conv2D(1, 3, padding="valid", activation="tanh"),
        layers.Flatten(),
    ], name="k2_sequential")
    randomise(model)
    model.save(p("k2-sequential.h5"))
    model.save_weights(p("k2-weights-only.h5"))
    for f in ["k2-sequential.h5", "k2-weights-only.h5"]:
        dump_npz(p(f))

    # A compiled, trained model: the file also holds optimizer_weights/.
    small = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(1)], name="small")
    small.compile("adam", "mse")
    small.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)
    small.save(p("k2-compiled.h5"))
    dump_npz(p("k2-compiled.h5"))


def fixed_strings(values):
    width = max([1] + [len(v) for v in values])
    return np.array([v.encode() for v in values], dtype=f"S{width}")


def handmade_files():
    """Keras 2 layouts written by hand with h5py: fixed-length byte strings, chunked/gzip datasets, float16,
    split layer_names0/1 attributes, and an h5py state dict."""
    # Whole-model Keras 2 file with nested name scopes, gzip-compressed chunked kernels and a float16 bias.
    cfg = ('{"class_name": "Sequential", "config": {"name": "sequential", "layers": ['
           '{"class_name": "Dense", "config": {"name": "dense", "batch_input_shape": [null, 4], "units": 6, '
           '"activation": "linear", "use_bias": true}}, '
           '{"class_name": "LeakyReLU", "config": {"name": "leaky_re_lu", "alpha": 0.1}}, '
           '{"class_name": "Dense", "config": {"name": "dense_1", "units": 2, "activation": "sigmoid", "use_bias": true}}]}}')
    with h5py.File(p("hand-k2-model.h5"), "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = cfg.encode()
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = fixed_strings(["dense", "leaky_re_lu", "dense_1"])
        g = mw.create_group("dense")
        g.attrs["weight_names"] = fixed_strings(["dense/kernel:0", "dense/bias:0"])
        g.create_dataset("dense/kernel:0", data=rng.standard_normal((4, 6)).astype("<f4"), chunks=(2, 3), compression="gzip")
        g.create_dataset("dense/bias:0", data=rng.standard_normal(6).astype(">f4"))  # big-endian on disk
        mw.create_group("leaky_re_lu").attrs["weight_names"] = np.array([], dtype=np.float64)
        g = mw.create_group("dense_1")
        g.attrs["weight_names"] = fixed_strings(["dense_1/kernel:0", "dense_1/bias:0"])
        g.create_dataset("dense_1/kernel:0", data=rng.standard_normal((6, 2)).astype("<f2"), chunks=(3, 2), compression="gzip", shuffle=True)
        g.create_dataset("dense_1/bias:0", data=rng.standard_normal(2).astype("<f8"))
    dump_npz(p("hand-k2-model.h5"))

    # Weights-only Keras 2 file whose layer_names attribute is split into layer_names0 / layer_names1.
    with h5py.File(p("hand-k2-split-names.h5"), "w") as f:
        f.attrs["layer_names0"] = fixed_strings(["conv2d_transpose"])
        f.attrs["layer_names1"] = fixed_strings(["batch_normalization"])
        f.attrs["keras_version"] = "2.4.0"
        g = f.create_group("conv2d_transpose")
        g.attrs["weight_names"] = ["conv2d_transpose/kernel:0"]  # vlen str list
        g.create_dataset("conv2d_transpose/kernel:0", data=rng.standard_normal((3, 3, 2, 4)).astype("<f4"))
        g = f.create_group("batch_normalization")
        g.attrs["weight_names"] = [f"batch_normalization/{n}:0" for n in ["gamma", "beta", "moving_mean", "moving_variance"]]
        for n in ["gamma", "beta", "moving_mean", "moving_variance"]:
            g.create_dataset(f"batch_normalization/{n}:0", data=rng.standard_normal(2).astype("<f4"))
    dump_npz(p("hand-k2-split-names.h5"))

    # A plain h5py state dict with integers, a scalar, a bool array and a string dataset.
    with h5py.File(p("hand-state-dict.h5"), "w") as f:
        f.create_dataset("net/0/weight", data=rng.standard_normal((3, 2)).astype("<f4"))
        f.create_dataset("net/0/bias", data=np.arange(3, dtype="<i8"))
        f.create_dataset("net/step", data=np.int32(42))
        f.create_dataset("net/mask", data=np.array([True, False, True]))
        f.create_dataset("net/u8", data=np.arange(4, dtype=np.uint8))
        f.create_dataset("note", data="not a tensor")
    dump_npz(p("hand-state-dict.h5"))


def unsupported_layer_file():
    """A whole-model file whose config holds a layer class the reader does not describe (PReLU)."""
    cfg = ('{"class_name": "Sequential", "config": {"name": "s", "layers": ['
           '{"class_name": "Dense", "config": {"name": "dense", "batch_input_shape": [null, 3], "units": 2}}, '
           '{"class_name": "PReLU", "config": {"name": "p_re_lu"}}]}}')
    with h5py.File(p("hand-unsupported-layer.h5"), "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["model_config"] = cfg
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = ["dense", "p_re_lu"]
        g = mw.create_group("dense")
        g.attrs["weight_names"] = ["dense/kernel:0", "dense/bias:0"]
        g.create_dataset("dense/kernel:0", data=rng.standard_normal((3, 2)).astype("<f4"))
        g.create_dataset("dense/bias:0", data=rng.standard_normal(2).astype("<f4"))
        g = mw.create_group("p_re_lu")
        g.attrs["weight_names"] = ["p_re_lu/alpha:0"]
        g.create_dataset("p_re_lu/alpha:0", data=rng.standard_normal(2).astype("<f4"))
    dump_npz(p("hand-unsupported-layer.h5"))


def malformed_files():
    """Bad inputs: each must be refused with a clear error, never a crash."""
    src = open(p("hand-k2-model.h5"), "rb").read()
    open(p("bad-truncated.h5"), "wb").write(src[:900])
    bad = bytearray(src)
    bad[96:160] = b"\xff" * 64  # root object header area
    open(p("bad-corrupt-header.h5"), "wb").write(bytes(bad))
    with h5py.File(p("bad-huge-shape.h5"), "w") as f:
        f.create_dataset("w", shape=(1 << 40, 1 << 20), dtype="<f4")  # never written: no storage
    with h5py.File(p("bad-unwritten.h5"), "w") as f:
        f.create_dataset("w", shape=(64, 1024, 1024), dtype="<f4")  # 256 MiB declared, nothing stored
    with h5py.File(p("bad-missing-weight.h5"), "w") as f:
        f.attrs["layer_names"] = fixed_strings(["dense"])
        g = f.create_group("dense")
        g.attrs["weight_names"] = fixed_strings(["dense/kernel:0", "dense/bias:0"])
        g.create_dataset("dense/kernel:0", data=np.zeros((2, 2), "<f4"))
    with h5py.File(p("bad-missing-layer.h5"), "w") as f:
        f.attrs["layer_names"] = fixed_strings(["dense", "ghost"])
        g = f.create_group("dense")
        g.attrs["weight_names"] = fixed_strings(["dense/kernel:0"])
        g.create_dataset("dense/kernel:0", data=np.zeros((2, 2), "<f4"))
    # A global heap (where variable-length strings live) whose first object claims 2 GiB: libhdf5 1.10 would
    # memcpy that much; the reader must refuse the file first.
    heap = bytearray(open(p("hand-k2-split-names.h5"), "rb").read())
    at = heap.index(b"GCOL\x01\x00\x00\x00")
    heap[at + 24:at + 32] = (0x7FFFFFFF).to_bytes(8, "little")
    open(p("bad-global-heap.h5"), "wb").write(bytes(heap))
    # A variable-length string descriptor (length, collection, index) in an object header that names a heap
    # object which does not exist: libhdf5 1.10 would read through a wild pointer.
    desc = bytearray(open(p("hand-k2-split-names.h5"), "rb").read())
    gcol = desc.index(b"GCOL\x01\x00\x00\x00")
    at = desc.index((len("conv2d_transpose/kernel:0")).to_bytes(4, "little") + gcol.to_bytes(8, "little"))
    desc[at + 12:at + 16] = (40000).to_bytes(4, "little")
    open(p("bad-vlen-descriptor.h5"), "wb").write(bytes(desc))
    # A .keras whose model.weights.h5 member is cut short.
    import zipfile
    with zipfile.ZipFile(p("bad-truncated-member.keras"), "w") as z:
        fixed = (1980, 1, 1, 0, 0, 0)  # fixed dates keep the file byte-identical between runs
        z.writestr(zipfile.ZipInfo("metadata.json", fixed), '{"keras_version": "3.15.1"}')
        z.writestr(zipfile.ZipInfo("config.json", fixed), '{"class_name": "Sequential", "config": {"name": "s", "layers": []}}')
        z.writestr(zipfile.ZipInfo("model.weights.h5", fixed), open(p("hand-k2-split-names.h5"), "rb").read()[:3000])


if __name__ == "__main__":
    if "--dump" in sys.argv:
        for f in sys.argv[sys.argv.index("--dump") + 1:]:
            dump_npz(f)
        sys.exit(0)
    handmade_files()
    unsupported_layer_file()
    malformed_files()
    if "--no-keras" not in sys.argv:
        keras3_files()
        keras2_files()
