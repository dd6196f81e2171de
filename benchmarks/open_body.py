"""CPU cost of the open body's forward passes: full mesh vs light mesh vs the 437 sparse vertices.

`python benchmarks/open_body.py --frames 64 --repeats 5` prints ms per call and the ratios to the
skeleton-only forward (the losses' fast path).
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.body import smpl
from genmo_jax.body.open_body import open_body_path


def _time(fn, repeats):
    jax.block_until_ready(fn())  # compile
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn())
    return 1e3 * (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.frames
    betas = jnp.asarray(rng.normal(size=(n, 10)), jnp.float32)
    orient = jnp.asarray(rng.normal(scale=0.3, size=(n, 3)), jnp.float32)
    pose = jnp.asarray(rng.normal(scale=0.3, size=(n, 63)), jnp.float32)
    transl = jnp.zeros((n, 3))
    rows = []
    for variant in ("full", "lite"):
        model = smpl.load_body_model(open_body_path(variant))
        rows.append((f"{variant} skeleton_forward (24 joints)",
                     _time(lambda: smpl.skeleton_forward(model, betas, orient, pose, transl), args.repeats)))
        rows.append((f"{variant} forward, all {model.v_template.shape[0]} vertices",
                     _time(lambda: smpl.forward(model, betas, orient, pose, transl)["vertices"], args.repeats)))
        ids = model.sparse_vertex_ids
        rows.append((f"{variant} forward, 437 sparse vertices",
                     _time(lambda: smpl.forward(model, betas, orient, pose, transl, ids)["vertices"], args.repeats)))
    base = rows[0][1]
    print(f"{n} frames, {jax.devices()[0].platform}, {args.repeats} repeats")
    for name, ms in rows:
        print(f"  {name:45s} {ms:9.2f} ms   x{ms / base:7.1f} vs full skeleton_forward")


if __name__ == "__main__":
    main()
