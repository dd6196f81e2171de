"""Benchmark test-set generation: `BatchSampler` (padded batch, one compile) vs one
`sample.make_sampler` per item (one compile per distinct length), as a benchmark run would do.

    .venv/bin/python benchmarks/generation_sampler.py                 # tiny size, 12 items
    .venv/bin/python benchmarks/generation_sampler.py --items 32 --steps 50 --latent 512 --layers 12

Random weights, DDIM + CFG 2.5, no condition besides the level static camera; item lengths drawn
uniformly from 60..294 frames (HumanML3D's 2-9.8 s at 30 fps). Prints the wall time of both paths
including compilation (what a benchmark run costs), the batched path's warm time, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs import tiny  # noqa: E402
from genmo_jax import load_params, params_io  # noqa: E402
from genmo_jax import sample as sample_lib  # noqa: E402
from genmo_jax import timeline as timeline_lib  # noqa: E402
from genmo_jax.body.select import body_model_from_config  # noqa: E402
from genmo_jax.evaluate.generation_sampler import BatchSampler, item_noise  # noqa: E402
from genmo_jax.model.denoiser import Denoiser  # noqa: E402
from genmo_jax.motion.normalization import NormStats  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args()
    config = tiny.get_config()
    config.model.latent_dim, config.model.num_layers = args.latent, args.layers
    model = Denoiser(config.model, rngs=nnx.Rngs(0))
    stats = {"mean": np.zeros(151, np.float32), "std": np.ones(151, np.float32)}
    folder = tempfile.mkdtemp()
    params_io.save_params(folder, model, config, stats)
    exported = load_params(folder)
    body = body_model_from_config(config.body)
    lengths = np.random.default_rng(0).integers(60, 295, args.items)
    items = [dict(num_frames=int(n), noise=item_noise(0, i, int(n))) for i, n in enumerate(lengths)]
    print(f"{jax.devices()[0].platform}: {args.items} items, lengths {lengths.min()}-{lengths.max()}, "
          f"{args.steps} DDIM steps + CFG, latent {args.latent} x {args.layers} layers")

    start = time.perf_counter()
    sampler = BatchSampler(exported, body, int(lengths.max()), args.items, ddim_steps=args.steps)
    batched = sampler.sample(items)
    batched_total = time.perf_counter() - start
    start = time.perf_counter()
    sampler.sample(items)
    batched_warm = time.perf_counter() - start

    norm = NormStats(mean=jnp.asarray(stats["mean"]), std=jnp.asarray(stats["std"]))
    start = time.perf_counter()
    max_diff = 0.0
    for i, item in enumerate(items):
        tl = timeline_lib.Timeline(num_frames=item["num_frames"], ddim_steps=args.steps,
                                   intrinsics=timeline_lib.default_intrinsics(1000, 1000))
        jitted, state = sample_lib.make_sampler(exported.model, config, tl, norm)
        key = jax.random.fold_in(jax.random.key(0), i)  # item_noise's key: the same motion
        joints = sample_lib.decode_outputs(jitted(state, key), tl, norm, body)[0]["joints_w"]
        max_diff = max(max_diff, float(np.abs(joints - batched[i]["joints_w"]).max()))
    per_item_total = time.perf_counter() - start

    print(f"per-item make_sampler (compile per length): {per_item_total:8.2f} s")
    print(f"BatchSampler, first call (one compile):      {batched_total:8.2f} s")
    print(f"BatchSampler, warm:                          {batched_warm:8.2f} s "
          f"({args.items / batched_warm:.2f} items/s)")
    print(f"ratio per-item / batched (with compiles):    {per_item_total / batched_total:8.2f}x")
    print(f"max joint difference between the two paths:  {max_diff * 1000:.4f} mm")


if __name__ == "__main__":
    main()
