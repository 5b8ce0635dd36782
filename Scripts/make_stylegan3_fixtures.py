#!/usr/bin/env python3
"""Writes small StyleGAN3 network pickles and their goldens (GOLDEN.md) with the official NVlabs code.

Usage: make_stylegan3_fixtures.py STYLEGAN3_CHECKOUT OUT_DIR

STYLEGAN3_CHECKOUT is your own clone of https://github.com/NVlabs/stylegan3 (not part of this project).
Needs torch, numpy, scipy (CPU is enough). The pickles are written the way training_loop.py writes snapshots
(plain pickle.dump of {G, D, G_ema, augment_pipe, training_set_kwargs}), except that the module source text
the persistence decorator embeds is replaced by a one-line placeholder, so no NVlabs code ends up in them.
Weights and buffers are perturbed away from their initial values so that biases, w_avg, magnitude_ema and the
input affine all matter; one fixture also stores a non-identity input transform.
"""
import copy
import os
import pickle
import sys
import types

import numpy as np


def shim_pkg_resources():
    # conv2d_gradfix imports pkg_resources.parse_version, which setuptools >= 81 no longer ships.
    try:
        import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    m = types.ModuleType('pkg_resources')
    try:
        from packaging.version import parse as parse_version
    except ImportError:
        def parse_version(v):  # good enough for "torch version >= 1.11"
            parts = []
            for p in v.split('+')[0].split('.'):
                digits = ''.join(ch for ch in p if ch.isdigit())
                parts.append(int(digits) if digits else 0)
            return tuple(parts)
    m.parse_version = parse_version
    sys.modules['pkg_resources'] = m


CONFIGS = [
    # StyleGAN3-R: 1x1 convs, radial (2-D) down filters, conditional.
    dict(name='sg3-r-16-cond', batch=3, psi=0.7, transform=None,
         G=dict(z_dim=12, c_dim=3, w_dim=16, img_resolution=16, img_channels=3,
                mapping_kwargs=dict(num_layers=2), channel_base=2048, channel_max=32, num_layers=5,
                num_critical=2, margin_size=10, num_fp16_res=0, conv_clamp=256, conv_kernel=1,
                use_radial_filters=True, magnitude_ema_beta=0.999)),
    # StyleGAN3-T with non-default hyper-parameters, no clamp, a stored transform; sampling rate doubles (up=4).
    dict(name='sg3-t-32-cond', batch=2, psi=0.6, transform=((0.1, -0.2), 15.0),
         G=dict(z_dim=8, c_dim=4, w_dim=12, img_resolution=32, img_channels=3,
                mapping_kwargs=dict(num_layers=3, lr_multiplier=0.02), channel_base=1024, channel_max=24,
                num_layers=6, num_critical=3, margin_size=6, output_scale=0.5, filter_size=4, conv_clamp=None,
                num_fp16_res=2)),
    # StyleGAN3-T with the default 14-layer schedule at 64 px (rates 16 -> 32 -> 64), unconditional, RGBA.
    dict(name='sg3-t-64-uncond', batch=2, psi=1.0, transform=None,
         G=dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=64, img_channels=4,
                mapping_kwargs=dict(num_layers=2), channel_base=512, channel_max=16, num_fp16_res=4,
                conv_clamp=256)),
]


def make_transform(translate, angle):
    # The image-space transform gen_images.py builds; the input buffer holds its inverse.
    s, c = np.sin(angle / 360.0 * np.pi * 2), np.cos(angle / 360.0 * np.pi * 2)
    return np.array([[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]])


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    checkout, out = sys.argv[1], sys.argv[2]
    sys.path.insert(0, checkout)
    shim_pkg_resources()
    import torch
    from training import networks_stylegan3 as net

    classes = [net.Generator, net.MappingNetwork, net.FullyConnectedLayer, net.SynthesisNetwork,
               net.SynthesisInput, net.SynthesisLayer]
    sources = {cls: cls._orig_module_src for cls in classes}

    os.makedirs(out, exist_ok=True)
    for index, cfg in enumerate(CONFIGS):
        torch.manual_seed(1000 + index)
        rng = np.random.RandomState(2000 + index)
        G = net.Generator(**cfg['G']).eval().requires_grad_(False)
        with torch.no_grad():
            for name, p in G.named_parameters():
                p.add_(torch.randn_like(p) * (0.3 if p.ndim <= 1 else 0.2 * p.std().clamp(min=0.5)))
            for name, b in G.named_buffers():
                if name.endswith('magnitude_ema'):
                    b.copy_(torch.tensor(float(rng.uniform(0.4, 2.5))))
                elif name.endswith('w_avg'):
                    b.copy_(torch.randn_like(b) * 0.5)
            if cfg['transform'] is not None:
                t, a = cfg['transform']
                G.synthesis.input.transform.copy_(torch.from_numpy(np.linalg.inv(make_transform(t, a))))
        G_ema = copy.deepcopy(G)
        snapshot = dict(G=G, D=None, G_ema=G_ema, augment_pipe=None,
                        training_set_kwargs=dict(class_name='training.dataset.ImageFolderDataset',
                                                 path='~/datasets/x.zip', use_labels=cfg['G']['c_dim'] > 0,
                                                 max_size=None, xflip=False,
                                                 resolution=cfg['G']['img_resolution'], random_seed=0))
        for k, v in snapshot.items():
            if isinstance(v, torch.nn.Module):
                snapshot[k] = copy.deepcopy(v).eval().requires_grad_(False).cpu()
        pkl = os.path.join(out, cfg['name'] + '.pkl')
        # Keep NVlabs source text out of the pickle (copies above still need the real one).
        for cls in classes:
            cls._orig_module_src = '# module source omitted from this fixture\n'
        with open(pkl, 'wb') as f:
            pickle.dump(snapshot, f)
        for cls in classes:
            cls._orig_module_src = sources[cls]

        n, c_dim = cfg['batch'], cfg['G']['c_dim']
        z = torch.from_numpy(rng.randn(n, cfg['G']['z_dim']).astype(np.float32))
        c = torch.zeros([n, c_dim])
        for i in range(n):
            if c_dim:
                c[i, rng.randint(c_dim)] = 1
        with torch.no_grad():
            g = snapshot['G_ema']
            ws = g.mapping(z, c, truncation_psi=cfg['psi'])
            img = g(z, c, truncation_psi=cfg['psi'], force_fp32=True)
        np.savez(os.path.join(out, cfg['name'] + '.golden.npz'), z=z.numpy(), c=c.numpy(),
                 truncation=np.array(cfg['psi'], dtype=np.float32), ws=ws.numpy(), image=img.numpy())
        print(cfg['name'], 'layers', list(g.synthesis.layer_names), 'image', tuple(img.shape),
              'bytes', os.path.getsize(pkl))


if __name__ == '__main__':
    main()
