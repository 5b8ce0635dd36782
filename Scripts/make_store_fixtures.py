#!/usr/bin/env python3
"""Writes the small npy / npz / safetensors files the TensorStore tests read (Fixtures/store/).

Usage: python3 Scripts/make_store_fixtures.py OUT_DIR   (needs numpy and safetensors)
Each file's expected contents are recomputed by the tests from the same formulas (arange-based), so the tests
check values, not just shapes.
"""
import os, sys
import numpy as np
import numpy.lib.format as fmt

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

def save(name, arr, version=None):
    with open(os.path.join(out, name), "wb") as f:
        fmt.write_array(f, arr, version=version, allow_pickle=False)

a = np.arange(12, dtype=np.float32).reshape(3, 4) / 4 - 1          # values k/4 - 1
save("f32_c_v1.npy", a, (1, 0))
save("f32_c_v2.npy", a, (2, 0))
save("f32_c_v3.npy", a, (3, 0))
save("f32_fortran.npy", np.asfortranarray(a))
save("f64_big.npy", a.astype(">f8"))
save("i16_big.npy", (np.arange(6, dtype=np.int16).reshape(2, 3) * -300).astype(">i2"))
save("bool.npy", np.array([True, False, True, True]))
save("u8.npy", np.arange(5, dtype=np.uint8) * 50)
save("f16.npy", (np.arange(4, dtype=np.float16) - 1.5) * np.float16(1e-5))  # includes subnormals
save("scalar_i64.npy", np.array(8, dtype=np.int64))
save("empty_f32.npy", np.zeros((0, 3), dtype=np.float32))

np.savez(os.path.join(out, "stored.npz"), z=a, labels=np.array([3, 1, 2], dtype=np.int64))
np.savez_compressed(os.path.join(out, "deflated.npz"), z=a, labels=np.array([3, 1, 2], dtype=np.int64))

from safetensors.numpy import save_file
save_file({"w": a, "b": np.arange(3, dtype=np.int64), "h": (np.arange(4, dtype=np.float16) - 1.5)},
          os.path.join(out, "python.safetensors"), metadata={"format": "np", "note": "made by safetensors"})
