#!/usr/bin/env python3
"""Makes the engine's op goldens: small .npz files (inputs, parameters, PyTorch outputs) in Fixtures/ops/.

Run from the package root with a PyTorch CPU install:  python3 Scripts/make_op_goldens.py
Every case is one .npz holding the op's inputs (`x`, `weight`, ...), its parameters as small arrays named
`p.<name>`, and the reference output `out` computed in float32 on the CPU. The StyleGAN ops (upfirdn2d,
bias_act, filtered_lrelu, modulated conv) are written here in plain PyTorch from their documented maths
(see Formats/engine.md), not taken from NVlabs code.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_num_threads(2)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "ops")
os.makedirs(OUT, exist_ok=True)


def r(*shape, scale=1.0):
    return torch.randn(*shape, dtype=torch.float32) * scale


def save(name, tensors, params=None):
    arrays = {k: v.detach().contiguous().numpy().astype(np.float32) for k, v in tensors.items()}
    for k, v in (params or {}).items():
        arrays["p." + k] = np.asarray(v, dtype=np.float64).reshape(-1)
    np.savez(os.path.join(OUT, name + ".npz"), **arrays)


# ---------------------------------------------------------------- StyleGAN ops from their documented maths
def upfirdn2d_ref(x, f, up=(1, 1), down=(1, 1), pad=(0, 0, 0, 0), flip=False, gain=1.0):
    """Zero-stuff (zeros after each sample), pad/crop [x0,x1,y0,y1], convolve with f (flipped unless flip),
    scaled by gain^(ndim/2); a 1-D f runs horizontally then vertically; then keep every down-th sample."""
    n, c, h, w = x.shape
    upx, upy = up
    downx, downy = down
    z = torch.zeros(n, c, h * upy, w * upx, dtype=x.dtype)
    z[:, :, ::upy, ::upx] = x
    x0, x1, y0, y1 = pad
    z = F.pad(z, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    z = z[:, :, max(-y0, 0): z.shape[2] - max(-y1, 0), max(-x0, 0): z.shape[3] - max(-x1, 0)]
    if f is None:
        f = torch.ones(1, 1, dtype=torch.float32)
    f = f * (gain ** (f.ndim / 2))
    if not flip:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        z = F.conv2d(z, f[None, None].repeat(c, 1, 1, 1), groups=c)
    else:
        z = F.conv2d(z, f[None, None, None, :].repeat(c, 1, 1, 1), groups=c)
        z = F.conv2d(z, f[None, None, :, None].repeat(c, 1, 1, 1), groups=c)
    return z[:, :, ::downy, ::downx]


def bias_act_ref(x, b=None, act="linear", alpha=0.2, gain=None, clamp=None):
    acts = {"linear": (lambda t: t, 1.0), "relu": (F.relu, math.sqrt(2)),
            "lrelu": (lambda t: F.leaky_relu(t, alpha), math.sqrt(2)), "tanh": (torch.tanh, 1.0)}
    fn, default_gain = acts[act]
    gain = default_gain if gain is None else gain
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    x = fn(x)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def filtered_lrelu_ref(x, fu, fd, b, up, down, pad, gain, slope, clamp):
    x = bias_act_ref(x, b)
    x = upfirdn2d_ref(x, fu, up=(up, up), pad=pad, gain=up ** 2)
    x = bias_act_ref(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d_ref(x, fd, down=(down, down))


def setup_filter(taps, separable=None):
    f = torch.as_tensor(taps, dtype=torch.float32)
    if separable is None:
        separable = f.numel() >= 8
    if not separable:
        f = f.ger(f)
    return f / f.sum()


def modulated_conv_ref(x, weight, styles, demodulate, padding):
    """StyleGAN2's modulated conv, the fused (grouped) way."""
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    w = weight[None] * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        d = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * d.reshape(n, -1, 1, 1, 1)
    y = F.conv2d(x.reshape(1, -1, *x.shape[2:]), w.reshape(-1, i, kh, kw), padding=padding, groups=n)
    return y.reshape(n, -1, *y.shape[2:])


# ---------------------------------------------------------------- cases
def linear_cases():
    x, w, b = r(3, 5, 7), r(4, 7), r(4)
    save("linear", {"x": x, "weight": w, "bias": b, "out": F.linear(x, w, b)})
    x, w = r(6, 33), r(17, 33)
    save("linear_nobias", {"x": x, "weight": w, "out": F.linear(x, w)})
    a, b2 = r(2, 3, 4, 5), r(2, 3, 5, 6)
    save("matmul_batched", {"a": a, "b": b2, "out": a @ b2})
    a, b2 = r(2, 4, 5), r(2, 6, 5)
    save("matmul_transb", {"a": a, "b": b2, "out": a @ b2.transpose(-1, -2)})


def conv_cases():
    def conv(name, x, w, b=None, stride=1, pad=(0, 0, 0, 0), dilation=1, groups=1):
        # pad is [top, bottom, left, right]; asymmetric padding runs as F.pad + conv
        xp = F.pad(x, [pad[2], pad[3], pad[0], pad[1]])
        y = F.conv2d(xp, w, b, stride=stride, dilation=dilation, groups=groups)
        st = stride if isinstance(stride, tuple) else (stride, stride)
        dl = dilation if isinstance(dilation, tuple) else (dilation, dilation)
        save(name, {"x": x, "weight": w, **({"bias": b} if b is not None else {}), "out": y},
             {"stride": st, "padding": pad, "dilation": dl, "groups": [groups]})

    conv("conv_k3_s1_p1", r(1, 4, 9, 8), r(6, 4, 3, 3), r(6), pad=(1, 1, 1, 1))
    conv("conv_k3_s2_same_asym", r(2, 3, 8, 8), r(5, 3, 3, 3), r(5), stride=2, pad=(0, 1, 0, 1))
    conv("conv_k5_dil2", r(1, 3, 12, 11), r(4, 3, 5, 5), None, pad=(4, 4, 4, 4), dilation=2)
    conv("conv_groups2", r(2, 6, 7, 7), r(8, 3, 3, 3), r(8), pad=(1, 1, 1, 1), groups=2)
    conv("conv_1x1", r(2, 16, 5, 6), r(12, 16, 1, 1), r(12))
    conv("conv_depthwise", r(1, 5, 6, 6), r(5, 1, 3, 3), None, pad=(1, 1, 1, 1), groups=5)
    conv("conv_k4_s2_p1", r(2, 3, 16, 16), r(8, 3, 4, 4), None, stride=2, pad=(1, 1, 1, 1))
    conv("conv_k3_rect_stride", r(1, 4, 10, 13), r(3, 4, 3, 2), r(3), stride=(2, 3), pad=(2, 0, 1, 1))
    conv("conv_big", r(2, 64, 20, 20, scale=0.5), r(32, 64, 3, 3, scale=0.05), r(32), pad=(1, 1, 1, 1))
    conv("conv_perSampleGroups", r(1, 3 * 8, 6, 6), r(3 * 5, 8, 3, 3), None, pad=(1, 1, 1, 1), groups=3)

    def convt(name, x, w, b=None, stride=1, pad=0, out_pad=0, dilation=1, groups=1):
        y = F.conv_transpose2d(x, w, b, stride=stride, padding=pad, output_padding=out_pad, groups=groups, dilation=dilation)
        save(name, {"x": x, "weight": w, **({"bias": b} if b is not None else {}), "out": y},
             {"stride": [stride, stride], "padding": [pad, pad, pad, pad], "output_padding": [out_pad, out_pad],
              "dilation": [dilation, dilation], "groups": [groups]})

    convt("convt_k4_s2_p1", r(2, 6, 5, 5), r(6, 4, 4, 4), r(4), stride=2, pad=1)
    convt("convt_k4_s1_p0_dcgan_first", r(3, 10, 1, 1), r(10, 8, 4, 4), None)
    convt("convt_k5_s2_p2_op1", r(1, 4, 6, 6), r(4, 3, 5, 5), r(3), stride=2, pad=2, out_pad=1)
    convt("convt_k3_s2_groups2", r(2, 4, 4, 5), r(4, 3, 3, 3), r(6), stride=2, pad=1, out_pad=1, groups=2)
    convt("convt_k3_dil2", r(1, 3, 5, 5), r(3, 2, 3, 3), None, stride=1, pad=1, dilation=2)
    convt("convt_k3_s2_p0_sg2", r(2, 5, 4, 4), r(5, 3, 3, 3), None, stride=2)


def norm_cases():
    x = r(2, 5, 4, 3, scale=2) + 0.5
    mean, var, w, b = r(5), torch.rand(5) + 0.5, r(5), r(5)
    save("batch_norm", {"x": x, "mean": mean, "var": var, "weight": w, "bias": b,
                        "out": F.batch_norm(x, mean, var, w, b, training=False, eps=1e-3)}, {"eps": [1e-3]})
    save("instance_norm", {"x": x, "weight": w, "bias": b, "out": F.instance_norm(x, weight=w, bias=b, eps=1e-5)},
         {"eps": [1e-5]})
    lw, lb = r(4, 3), r(4, 3)
    save("layer_norm", {"x": x, "weight": lw, "bias": lb, "out": F.layer_norm(x, [4, 3], lw, lb, eps=1e-5)},
         {"eps": [1e-5], "dims": [2]})
    x2, rw = r(3, 4, 16), r(16)
    save("rms_norm", {"x": x2, "weight": rw, "out": F.rms_norm(x2, [16], rw, eps=1e-6)}, {"eps": [1e-6]})
    z = r(4, 512)
    save("pixel_norm", {"x": z, "out": z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()}, {"eps": [1e-8]})
    xc = r(2, 6, 3, 3)
    save("l2_normalize", {"x": xc, "out": F.normalize(xc, dim=1)})


def activation_cases():
    x = r(2, 3, 7, 5, scale=3)
    acts = {"relu": F.relu(x), "lrelu02": F.leaky_relu(x, 0.2), "lrelu001": F.leaky_relu(x, 0.01),
            "lrelu03": F.leaky_relu(x, 0.3), "selu": F.selu(x), "elu": F.elu(x), "tanh": torch.tanh(x),
            "sigmoid": torch.sigmoid(x), "gelu": F.gelu(x), "silu": F.silu(x), "softplus": F.softplus(x)}
    save("activations", {"x": x, **acts})
    b = r(3)
    big = x * 100
    save("bias_act_lrelu_clamp", {"x": big, "bias": b, "out": bias_act_ref(big, b, "lrelu", clamp=256)},
         {"clamp": [256]})
    save("bias_act_linear", {"x": x, "bias": b, "out": bias_act_ref(x, b)})
    save("bias_act_relu_gain", {"x": x, "bias": b, "out": bias_act_ref(x, b, "relu", gain=0.5, clamp=1.0)},
         {"gain": [0.5], "clamp": [1.0]})


def resample_cases():
    x = r(2, 3, 5, 7)
    save("upsample_nearest2", {"x": x, "out": F.interpolate(x, scale_factor=2, mode="nearest")})
    save("upsample_bilinear2", {"x": x, "out": F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)})
    save("upsample_bilinear_size", {"x": x, "out": F.interpolate(x, size=(9, 11), mode="bilinear", align_corners=False)},
         {"size": [9, 11]})
    save("max_pool2", {"x": x, "out": F.max_pool2d(x, 2)})
    save("avg_pool2", {"x": x, "out": F.avg_pool2d(x, 2)})


def upfirdn_cases():
    def case(name, x, f, up=(1, 1), down=(1, 1), pad=(0, 0, 0, 0), flip=False, gain=1.0):
        y = upfirdn2d_ref(x, f, up, down, pad, flip, gain)
        tensors = {"x": x, "out": y}
        if f is not None:
            tensors["filter"] = f
        save(name, tensors, {"up": up, "down": down, "padding": pad, "flip": [int(flip)], "gain": [gain]})

    f4 = setup_filter([1, 3, 3, 1])
    case("upfirdn_upsample2d", r(2, 3, 6, 5), f4, up=(2, 2), pad=(2, 1, 2, 1), gain=4)
    case("upfirdn_downsample2d", r(1, 4, 8, 10), f4, down=(2, 2), pad=(1, 1, 1, 1))
    case("upfirdn_blur_sg2", r(1, 3, 9, 9), f4, pad=(1, 1, 1, 1), gain=4)
    f12 = torch.tensor(np.hanning(14)[1:-1], dtype=torch.float32)
    f12 = f12 / f12.sum()
    case("upfirdn_sep12_up2_crop", r(1, 2, 10, 9), f12, up=(2, 2), pad=(-3, -2, 5, -4), gain=4)
    case("upfirdn_sep12_down2", r(1, 2, 16, 14), f12, down=(2, 2))
    fa = r(3, 4).abs() + 0.1
    case("upfirdn_full2d_asym", r(2, 2, 7, 6), fa, up=(2, 1), down=(1, 2), pad=(1, 2, 0, 3), gain=2)
    case("upfirdn_full2d_asym_flip", r(1, 2, 7, 6), fa, up=(1, 2), pad=(2, 1, 3, 0), flip=True)
    fb = r(5).abs() + 0.1
    case("upfirdn_sep5_asym_up3", r(1, 2, 4, 5), fb, up=(3, 3), down=(2, 2), pad=(2, 3, 1, 4), gain=9)
    case("upfirdn_identity_pad", r(1, 2, 4, 5), None, pad=(1, -1, -2, 2))


def filtered_lrelu_cases():
    f12 = torch.tensor(np.kaiser(12, 6.0), dtype=torch.float32)
    f12 = f12 / f12.sum()
    def case(name, x, fu, fd, b, up, down, pad, gain, slope, clamp):
        y = filtered_lrelu_ref(x, fu, fd, b, up, down, pad, gain, slope, clamp)
        t = {"x": x, "bias": b, "out": y}
        if fu is not None: t["up_filter"] = fu
        if fd is not None: t["down_filter"] = fd
        save(name, t, {"up": [up], "down": [down], "padding": pad, "gain": [gain], "slope": [slope],
                       "clamp": [clamp if clamp is not None else -1]})
    # SG3-like layer: 38 → up 2 → filtered → down 2 → 36, padding from the layer formula (total 17: 9/8).
    case("flrelu_sg3_layer", r(1, 4, 38, 38, scale=40), f12, f12, r(4), 2, 2, (9, 8, 9, 8), math.sqrt(2), 0.2, 256.0)
    case("flrelu_torgb", r(1, 3, 12, 12, scale=200), None, None, r(3), 1, 1, (0, 0, 0, 0), 1.0, 1.0, 256.0)
    # radial (non-separable) filters, as in StyleGAN3-R
    yy, xx = np.meshgrid(np.arange(6) - 2.5, np.arange(6) - 2.5, indexing="ij")
    rad = np.sinc(np.hypot(yy, xx) / 2.5) * np.kaiser(6, 3)[:, None] * np.kaiser(6, 3)[None, :]
    fr = torch.tensor(rad / rad.sum(), dtype=torch.float32)
    case("flrelu_radial", r(2, 2, 10, 10, scale=5), fr, fr, r(2), 2, 2, (4, 3, 4, 3), math.sqrt(2), 0.2, None)
    case("flrelu_up_only", r(1, 2, 9, 9), f12, None, r(2), 2, 1, (6, 5, 6, 5), math.sqrt(2), 0.2, None)


def modconv_cases():
    x, w, s = r(2, 4, 6, 6), r(5, 4, 3, 3), r(2, 4) + 1
    save("modconv_demod", {"x": x, "weight": w, "styles": s, "out": modulated_conv_ref(x, w, s, True, 1)},
         {"padding": [1]})
    wt = r(3, 4, 1, 1)
    save("modconv_nodemod_1x1", {"x": x, "weight": wt, "styles": s, "out": modulated_conv_ref(x, wt, s, False, 0)},
         {"padding": [0]})
    # StyleGAN3-style "full" conv: padding k-1
    save("modconv_full_pad", {"x": x, "weight": w, "styles": s, "out": modulated_conv_ref(x, w, s, True, 2)},
         {"padding": [2]})


def resample_conv_cases():
    """StyleGAN2 conv2d_resample paths written out: up = transposed conv (stored kernel) + FIR (pad 1, gain 4),
    down = FIR pad + stride-2 conv, skip 1x1 down = FIR then conv."""
    f = setup_filter([1, 3, 3, 1])
    x, w = r(2, 4, 6, 6), r(5, 4, 3, 3)
    # up=2, k=3, layer padding 1: conv_transpose2d(stride 2, pad 0) -> (2H+1), then upfirdn2d(pad [1,1,1,1], gain 4)
    y = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
    y = upfirdn2d_ref(y, f, pad=(1, 1, 1, 1), gain=4)
    save("resample_up2_k3", {"x": x, "weight": w, "filter": f, "out": y}, {"up": [2], "down": [1], "padding": [1]})
    # down=2, k=3, padding 1 (StyleGAN2 D): pad [2,2,2,2] + FIR, then conv stride 2
    y = F.conv2d(upfirdn2d_ref(x, f, pad=(2, 2, 2, 2)), w, stride=2)
    save("resample_down2_k3", {"x": x, "weight": w, "filter": f, "out": y}, {"up": [1], "down": [2], "padding": [1]})
    w1 = r(5, 4, 1, 1)
    y = F.conv2d(upfirdn2d_ref(x, f, down=(2, 2), pad=(1, 1, 1, 1)), w1)
    save("resample_down2_k1", {"x": x, "weight": w1, "filter": f, "out": y}, {"up": [1], "down": [2], "padding": [0]})
    # grouped (fused modconv) up path, 2 groups
    xg, wg = r(1, 2 * 3, 5, 5), r(2 * 4, 3, 3, 3)
    wt = wg.reshape(2, 4, 3, 3, 3).transpose(1, 2).reshape(2 * 3, 4, 3, 3)
    y = upfirdn2d_ref(F.conv_transpose2d(xg, wt, stride=2, groups=2), f, pad=(1, 1, 1, 1), gain=4)
    save("resample_up2_groups", {"x": xg, "weight": wg, "filter": f, "out": y},
         {"up": [2], "down": [1], "padding": [1], "groups": [2]})


def attention_cases():
    q, k, v = r(2, 3, 5, 8), r(2, 3, 7, 8), r(2, 3, 7, 4)
    save("attention", {"q": q, "k": k, "v": v,
                       "out": torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), dim=-1) @ v})
    keep = (torch.rand(2, 1, 1, 7) > 0.3).float()
    keep[..., 0] = 1
    sim = (q @ k.transpose(-1, -2)) * 0.5
    sim = sim.masked_fill(keep == 0, -torch.finfo(torch.float32).max)
    save("attention_masked", {"q": q, "k": k, "v": v, "keep": keep, "out": torch.softmax(sim, dim=-1) @ v},
         {"scale": [0.5]})
    save("attention_sdpa", {"q": q, "k": k, "v": v, "out": F.scaled_dot_product_attention(q, k, v)})
    x = r(3, 4, 6)
    save("softmax", {"x": x, "out": torch.softmax(x, dim=-1), "out_dim1": torch.softmax(x, dim=1)})


def spectral_cases():
    w = r(6, 3, 3, 3)
    wm = w.reshape(6, -1)
    u, v = F.normalize(r(6), dim=0), F.normalize(r(27), dim=0)
    sigma = torch.dot(u, torch.mv(wm, v))
    save("spectral_stored", {"weight": w, "u": u, "v": v, "out": w / sigma})
    u0 = r(1, 6) * 0.3   # BigGAN-PyTorch G_ema u0 is not unit-norm
    eps = 1e-6
    vv = F.normalize(torch.matmul(u0, wm), eps=eps)
    uu = F.normalize(torch.matmul(vv, wm.t()), eps=eps)
    sv = torch.squeeze(torch.matmul(torch.matmul(vv, wm.t()), uu.t()))
    save("spectral_power", {"weight": w, "u": u0.reshape(-1), "out": w / sv, "sigma": sv.reshape(1),
                            "u_out": uu.reshape(-1), "v_out": vv.reshape(-1)}, {"eps": [eps]})


def shape_cases():
    x = r(2, 3, 5, 4)
    save("pad_modes", {"x": x,
                       "zeros": F.pad(x, [1, 2, 3, 0]),
                       "crop": F.pad(x, [-1, 2, 0, -2]),
                       "reflect": F.pad(x, [1, 2, 3, 1], mode="reflect"),
                       "replicate": F.pad(x, [2, 1, 0, 3], mode="replicate")})
    xs = r(2, 12, 3, 4)
    save("pixel_shuffle", {"x": xs, "out": F.pixel_shuffle(xs, 2)})
    emb = r(10, 6)
    idx = torch.tensor([[3, 0], [9, 3]])
    save("embedding", {"weight": emb, "indices": idx.float(), "out": F.embedding(idx, emb)})
    save("permute_slice_concat", {"x": x, "permuted": x.permute(0, 2, 3, 1), "sliced": x[:, 1:3, ::2],
                                  "concat": torch.cat([x, x[:, :2] * 2], dim=1)})
    a, b = r(4, 5), r(4, 5)
    save("lerp", {"a": a, "b": b, "out03": torch.lerp(a, b, 0.3), "out07": torch.lerp(a, b, 0.7)})
    save("mean_dims", {"x": x, "out": x.mean(dim=(2, 3), keepdim=True), "out_dim1": x.mean(dim=1)})
    y = r(3, 1, 4)
    save("broadcast_ops", {"a": x[0], "b": y, "add": x[0] + y, "mul": x[0] * y, "sub": x[0] - y, "div_b": y.abs() + 1,
                           "div": x[0] / (y.abs() + 1)})


if __name__ == "__main__":
    for fn in [linear_cases, conv_cases, norm_cases, activation_cases, resample_cases, upfirdn_cases,
               filtered_lrelu_cases, modconv_cases, resample_conv_cases, attention_cases, spectral_cases, shape_cases]:
        fn()
    print(f"wrote {len(os.listdir(OUT))} files to {os.path.normpath(OUT)} with torch {torch.__version__}", file=sys.stderr)
