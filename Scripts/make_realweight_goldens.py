#!/usr/bin/env python3
"""Turn the real-weight reference outputs (golden_z.npy, golden_out.npy, golden_labels.npy) of a realweights
folder into golden .npz files in the project's format (Formats/golden.md).

    python3 Scripts/make_realweight_goldens.py REALWEIGHTS_DIR OUT_DIR

For each sub-folder holding golden_z.npy and golden_out.npy, writes OUT_DIR/<folder>.golden.npz with
  z      float32 [N, z_dim]  (4-D latents [N, z, 1, 1] / [N, 1, 1, z] flattened: same numbers)
  labels int64 [N]          (when golden_labels.npy exists; gan-verify turns them into one-hot c)
  image  float32 [N, C, H, W] (Keras NHWC outputs transposed; flat MLP outputs [N, H*W] viewed as [N, 1, H, W])
"""
import os
import sys

import numpy as np


def image_nchw(out):
    if out.ndim == 2:  # MLP generator: [N, H*W], square single-channel image
        side = int(round(out.shape[1] ** 0.5))
        assert side * side == out.shape[1], out.shape
        return out.reshape(out.shape[0], 1, side, side)
    if out.ndim == 3:  # Keras Reshape((H, W)): [N, H, W]
        return out[:, None, :, :]
    if out.ndim == 4 and out.shape[-1] in (1, 3) and out.shape[1] not in (1, 3):  # NHWC
        return out.transpose(0, 3, 1, 2)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        d = os.path.join(src, name)
        zp, op = os.path.join(d, "golden_z.npy"), os.path.join(d, "golden_out.npy")
        if not (os.path.exists(zp) and os.path.exists(op)):
            continue
        z = np.load(zp).astype(np.float32)
        arrays = {"z": np.ascontiguousarray(z.reshape(z.shape[0], -1))}
        lp = os.path.join(d, "golden_labels.npy")
        if os.path.exists(lp):
            arrays["labels"] = np.load(lp).astype(np.int64).reshape(-1)
        arrays["image"] = np.ascontiguousarray(image_nchw(np.load(op).astype(np.float32)))
        out = os.path.join(dst, name + ".golden.npz")
        np.savez(out, **arrays)
        print(out, {k: v.shape for k, v in arrays.items()})


if __name__ == "__main__":
    main()
