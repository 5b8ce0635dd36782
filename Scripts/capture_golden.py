#!/usr/bin/env python3
"""Write a golden .npz (Formats/golden.md) for YOUR checkpoint, in YOUR upstream environment, traces included.

Nothing upstream is bundled: point the script at your own checkout (or installed package). Runs on CPU, float32,
eval mode, constant noise, the whole batch in one call — the conventions gan-verify expects.

  # NVlabs StyleGAN2 (stylegan2-ada-pytorch or stylegan3 checkout)
  python3 capture_golden.py nvlabs  --repo ~/src/stylegan3 G.pkl  out.golden.npz [--batch 4] [--psi 0.7] [--class 3]
  # rosinality stylegan2-pytorch
  python3 capture_golden.py rosinality --repo ~/src/stylegan2-pytorch ckpt.pt out.golden.npz --size 256 [--channel-multiplier 2]
  # any PyTorch generator class whose state dict is in the file (DCGANs, MLP GANs, ...)
  python3 capture_golden.py torch --module ~/src/proj/model.py:Generator --kwargs '{"nz": 100}' netG.pth out.golden.npz [--z-shape 4d]
  # Keras whole-model files (.h5 / .keras), with keras installed
  python3 capture_golden.py keras gen.h5 out.golden.npz

Traces are recorded under gan-verify's canonical layer names (Formats/golden.md): StyleGAN2 `mapping`,
`synthesis.b<r>.conv0|conv1|torgb`, `synthesis.b<r>`; sequential models `layers.<i>` in call order (torch: every
leaf module in execution order, which matches the DCGAN mapper and --arch files that list the same modules; Keras:
the Swift layer list, where a Dense/Conv with a fused activation counts as two layers). --no-trace skips them.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np


def seeded_z(n, dim, seed):
    return np.random.RandomState(seed).randn(n, dim).astype(np.float32)


def one_hot(n, classes, k):
    c = np.zeros((n, classes), np.float32)
    if classes:
        c[:, k % classes] = 1
    return c


def save(path, arrays):
    clean = {k: np.ascontiguousarray(np.asarray(v, dtype=v.dtype if v.dtype != np.float64 else np.float32)) for k, v in arrays.items()}
    np.savez(path, **clean)
    print(path, {k: tuple(v.shape) for k, v in clean.items()})


def nvlabs(a):
    import torch
    sys.path.insert(0, a.repo)
    import legacy  # the user's checkout
    with open(a.checkpoint, "rb") as f:
        G = legacy.load_network_pkl(f)["G_ema"].eval().float()
    z = seeded_z(a.batch, G.z_dim, a.seed)
    c = one_hot(a.batch, G.c_dim, a.class_index)
    traces = {}
    hooks = []
    if not a.no_trace:
        for res in G.synthesis.block_resolutions:
            block = getattr(G.synthesis, f"b{res}")
            for name in ("conv0", "conv1", "torgb"):
                if hasattr(block, name):
                    hooks.append(getattr(block, name).register_forward_hook(
                        lambda m, i, o, key=f"synthesis.b{res}.{name}": traces.__setitem__(key, o.detach().numpy().copy())))
            hooks.append(block.register_forward_hook(
                lambda m, i, o, key=f"synthesis.b{res}": traces.__setitem__(key, o[1].detach().numpy().copy())))
    with torch.no_grad():
        zt, ct = torch.from_numpy(z), torch.from_numpy(c)
        ws = G.mapping(zt, ct, truncation_psi=a.psi)
        kwargs = dict(noise_mode="const")
        try:
            img = G(zt, ct, truncation_psi=a.psi, force_fp32=True, **kwargs)
        except TypeError:
            img = G(zt, ct, truncation_psi=a.psi, **kwargs)
    for h in hooks:
        h.remove()
    out = {"z": z, "c": c, "truncation": np.array(a.psi, np.float32), "ws": ws.numpy(), "image": img.numpy()}
    if not a.no_trace:
        out["trace.mapping"] = ws.numpy()
        out.update({"trace." + k: v for k, v in traces.items()})
    save(a.output, out)


def rosinality(a):
    import torch
    sys.path.insert(0, a.repo)
    import model as ros  # the user's checkout; its op/ CPU fallbacks must be importable without CUDA
    ckpt = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    sd = ckpt["g_ema"]
    style_dim = sd["style.1.weight"].shape[0]
    n_mlp = len([k for k in sd if k.startswith("style.") and k.endswith(".weight")])
    g = ros.Generator(a.size, style_dim, n_mlp, channel_multiplier=a.channel_multiplier).eval()
    g.load_state_dict(sd, strict=True)
    z = seeded_z(a.batch, style_dim, a.seed)
    mean = ckpt.get("latent_avg")
    traces, hooks = {}, []
    if not a.no_trace:
        def hook(key, pick=lambda o: o):
            return lambda m, i, o: traces.__setitem__(key, pick(o).detach().numpy().copy())
        hooks.append(g.conv1.register_forward_hook(hook("synthesis.b4.conv1")))
        hooks.append(g.to_rgb1.register_forward_hook(hook("synthesis.b4")))
        for j in range(len(g.to_rgbs)):
            r = 2 ** (j + 3)
            hooks.append(g.convs[2 * j].register_forward_hook(hook(f"synthesis.b{r}.conv0")))
            hooks.append(g.convs[2 * j + 1].register_forward_hook(hook(f"synthesis.b{r}.conv1")))
            hooks.append(g.to_rgbs[j].register_forward_hook(hook(f"synthesis.b{r}")))
    with torch.no_grad():
        kwargs = dict(randomize_noise=False)
        if a.psi != 1:
            kwargs.update(truncation=a.psi, truncation_latent=mean.view(1, -1))
        img, _ = g([torch.from_numpy(z)], **kwargs)
    for h in hooks:
        h.remove()
    out = {"z": z, "truncation": np.array(a.psi, np.float32), "image": img.numpy()}
    out.update({"trace." + k: v for k, v in traces.items()})
    save(a.output, out)


def torch_module(a):
    import torch
    path, _, cls = a.module.rpartition(":")
    spec = importlib.util.spec_from_file_location("user_generator", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(mod)
    G = getattr(mod, cls)(**json.loads(a.kwargs)).eval()
    sd = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
    if a.key:
        sd = sd[a.key]
    G.load_state_dict(sd, strict=True)
    z = seeded_z(a.batch, a.z_dim, a.seed)
    zt = torch.from_numpy(z)
    if a.z_shape == "4d":
        zt = zt.view(a.batch, a.z_dim, 1, 1)
    traces, hooks = [], []
    if not a.no_trace:
        for _, m in G.named_modules():
            if len(list(m.children())) == 0:
                hooks.append(m.register_forward_hook(lambda m, i, o: traces.append(o.detach().numpy().copy())))
    args = [zt]
    out = {"z": z}
    if a.classes:
        labels = np.arange(a.batch, dtype=np.int64) % a.classes
        args.append(torch.from_numpy(labels))
        out["labels"] = labels
    with torch.no_grad():
        img = G(*args)
    for h in hooks:
        h.remove()
    img = img.numpy()
    if img.ndim == 2:
        side = int(round((img.shape[1] / a.channels) ** 0.5))
        img = img.reshape(a.batch, a.channels, side, side)
    out["image"] = img
    for i, t in enumerate(traces):
        out[f"trace.layers.{i}"] = t
    save(a.output, out)


def keras_model(a):
    import keras
    model = keras.models.load_model(a.checkpoint, compile=False)
    z_dim = int(np.prod(model.input_shape[1:]))
    z = seeded_z(a.batch, z_dim, a.seed)
    x = z.reshape((a.batch,) + tuple(model.input_shape[1:]))
    y = np.asarray(model(x, training=False))
    out = {"z": z}
    if not a.no_trace:
        index = 0
        for layer in model.layers:
            kind = type(layer).__name__
            if kind in ("InputLayer", "Dropout", "Flatten"):
                continue
            if kind == "Reshape" and len(layer.target_shape) == 1:
                continue
            sub = keras.Model(model.inputs, layer.output)
            t = np.asarray(sub(x, training=False))
            act = getattr(layer, "activation", None)
            fused = kind in ("Dense", "Conv2D", "Conv2DTranspose") and act is not None and act.__name__ != "linear"
            if fused:
                index += 1  # the Swift list splits the activation off; its output is the next layer's
            out[f"trace.layers.{index}"] = t.transpose(0, 3, 1, 2) if t.ndim == 4 else t
            index += 1
    if y.ndim == 4:
        y = y.transpose(0, 3, 1, 2)
    elif y.ndim == 3:
        y = y[:, None]
    elif y.ndim == 2:
        side = int(round(y.shape[1] ** 0.5))
        y = y.reshape(a.batch, 1, side, side)
    out["image"] = y
    save(a.output, out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="family", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("checkpoint")
    common.add_argument("output")
    common.add_argument("--batch", type=int, default=4)
    common.add_argument("--seed", type=int, default=0, help="z = numpy.random.RandomState(seed).randn(batch, z_dim)")
    common.add_argument("--no-trace", action="store_true")
    s = sub.add_parser("nvlabs", parents=[common])
    s.add_argument("--repo", required=True, help="your stylegan2-ada-pytorch or stylegan3 checkout")
    s.add_argument("--psi", type=float, default=1.0)
    s.add_argument("--class", dest="class_index", type=int, default=0)
    s.set_defaults(run=nvlabs)
    s = sub.add_parser("rosinality", parents=[common])
    s.add_argument("--repo", required=True, help="your rosinality/stylegan2-pytorch checkout")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--channel-multiplier", type=int, default=2)
    s.add_argument("--psi", type=float, default=1.0)
    s.set_defaults(run=rosinality)
    s = sub.add_parser("torch", parents=[common])
    s.add_argument("--module", required=True, help="path/to/file.py:ClassName (your code)")
    s.add_argument("--kwargs", default="{}", help="constructor kwargs as JSON")
    s.add_argument("--key", help="key of the state dict inside the file, if wrapped")
    s.add_argument("--z-dim", type=int, required=True)
    s.add_argument("--z-shape", choices=["2d", "4d"], default="2d")
    s.add_argument("--classes", type=int, default=0, help="class-conditional: G(z, labels), labels = arange(N) % classes")
    s.add_argument("--channels", type=int, default=1, help="channels of a flat MLP output")
    s.set_defaults(run=torch_module)
    s = sub.add_parser("keras", parents=[common])
    s.set_defaults(run=keras_model)
    a = p.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
