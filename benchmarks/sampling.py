"""Time 50-step guided DDIM sampling (and the one-pass estimation mode) with the GENMO denoiser.

    .venv/bin/python benchmarks/sampling.py                      # tiny + regression, 10 s (300 frames)
    .venv/bin/python benchmarks/sampling.py --sizes tiny --long  # + the 10 s vs 80 s cost ratio
    .venv/bin/python benchmarks/sampling.py --sizes full         # the PERFORMANCE.md full-size case

Batch 1, 30 fps, guidance 2.5, eta 0, random weights; the guided pair runs as one doubled batch
per step inside one jitted `lax.fori_loop`. Compile time (lower + compile) is reported apart from
run time (min and median of --repeats runs). Reference figures (PERFORMANCE.md, the release on
this machine): full size 1 x 300, 50 steps + CFG = 248 s. For the regression size the release has
no sampling figure; we print the ratio to 100 x its measured B=1 forward cost (1.17 ms/frame at
L=300, i.e. 100 x 0.351 s = 35.1 s), labelled "derived".
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from genmo_jax.diffusion.sampler import ddim_sample, estimate  # noqa: E402
from genmo_jax.diffusion.schedule import cosine_schedule, ddim_timesteps  # noqa: E402
from genmo_jax.model.denoiser import MOTION_DIM, Denoiser  # noqa: E402

RELEASE_FULL_SAMPLE_300 = 248.0           # s, PERFORMANCE.md
RELEASE_REGRESSION_FORWARD_300 = 1.17e-3 * 300   # s per B=1 forward at L=300, PERFORMANCE.md


def random_conditions(model_cfg, num_frames: int, seed: int):
    """Video + 2D + camera (+ music, + one caption when the model has text blocks), batch 1."""
    rng = np.random.default_rng(seed)
    keys = set(model_cfg.conditions)
    cond = {}
    if "obs" in keys:
        xy = rng.uniform(-1, 1, (1, num_frames, 17, 2))
        cond["obs"] = np.concatenate([xy, np.ones((1, num_frames, 17, 1))], -1).astype(np.float32)
    if "f_cliffcam" in keys:
        cond["f_cliffcam"] = rng.normal(0, 0.3, (1, num_frames, 3)).astype(np.float32)
    if "f_imgseq" in keys:
        cond["f_imgseq"] = rng.normal(size=(1, num_frames, int(model_cfg.image_feature_dim))).astype(np.float32)
    if "f_cam_angvel" in keys:
        cond["cam_angvel"] = (np.array([1, 0, 0, 0, 1, 0], np.float32)
                              + rng.normal(0, 1e-3, (1, num_frames, 6))).astype(np.float32)
    if "encoded_music" in keys:
        cond["music"] = rng.normal(size=(1, num_frames, int(model_cfg.music_dim))).astype(np.float32)
    text = None
    if model_cfg.get("text_blocks", False):
        text = np.zeros((1, int(model_cfg.max_text_len), int(model_cfg.text_dim)), np.float32)
        text[:, :12] = rng.normal(size=(1, 12, int(model_cfg.text_dim)))
    return cond, text


def make_sampler(graphdef, steps: int, guidance: float):
    schedule, timesteps = cosine_schedule(1000), ddim_timesteps(1000, steps)

    @jax.jit
    def sample(state, cond, text, x_T):
        model = nnx.merge(graphdef, state)
        feats = model.embed_conditions(cond)
        batch, num_frames = x_T.shape[:2]
        # Rows [:B] conditional, rows [B:] unconditional (music/audio dropped, text zeroed).
        f_pair = jnp.concatenate([feats["f_cond"], feats["f_uncond"]])
        length = jnp.full((2 * batch,), num_frames, jnp.int32)
        text_pair = None if text is None else jnp.concatenate([text, jnp.zeros_like(text)])

        def model_fn(x, t):
            return model(x, t, f_pair, length, text=text_pair)

        return ddim_sample(model_fn, x_T, schedule=schedule, timesteps=timesteps, guidance_scale=guidance)

    @jax.jit
    def estimate_once(state, cond, text, x_T):
        model = nnx.merge(graphdef, state)
        feats = model.embed_conditions(cond)
        length = jnp.full((x_T.shape[0],), x_T.shape[1], jnp.int32)
        return estimate(lambda x, t: model(x, t, feats["f_cond"], length, text=text), x_T.shape)

    return sample, estimate_once


def time_compiled(fn, args, repeats: int):
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return compile_s, min(times), statistics.median(times)


def run(size: str, seconds: float, steps: int, guidance: float, repeats: int, with_estimate: bool = True):
    config = importlib.import_module(f"configs.{size}").get_config()
    model = Denoiser(config.model, rngs=nnx.Rngs(params=0, dropout=1))
    graphdef, state = nnx.split(model)
    num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    num_frames = int(round(seconds * 30))
    cond, text = random_conditions(config.model, num_frames, seed=0)
    x_T = jax.random.normal(jax.random.key(0), (1, num_frames, MOTION_DIM))
    sample, estimate_once = make_sampler(graphdef, steps, guidance)
    args = (state, cond, text, x_T)
    compile_s, best, median = time_compiled(sample, args, repeats)
    out = sample(*args)
    assert np.all(np.isfinite(np.asarray(out["x0"]))), "non-finite sample"
    result = {"size": size, "params_M": num_params / 1e6, "frames": num_frames, "compile_s": compile_s,
              "best_s": best, "median_s": median}
    if with_estimate:
        est_compile, est_best, est_median = time_compiled(estimate_once, args, max(repeats, 3))
        result.update(est_compile_s=est_compile, est_best_s=est_best, est_fps=num_frames / est_best)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="tiny,regression", help="comma-separated configs: tiny, regression, full")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--guidance", type=float, default=2.5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long", action="store_true", help="also time 80 s (2400 frames) and print the ratio")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.device_count()} device(s)), "
          f"{args.steps} DDIM steps, guidance {args.guidance}, batch 1 (guided pair batched)")
    for size in args.sizes.split(","):
        r = run(size, 10.0, args.steps, args.guidance, args.repeats)
        line = (f"[{size}] {r['params_M']:.1f}M params, 10 s = {r['frames']} frames: sample {r['best_s']:.2f} s best / "
                f"{r['median_s']:.2f} s median (compile {r['compile_s']:.1f} s), "
                f"{r['best_s'] / (2 * args.steps) * 1e3:.1f} ms per network call; estimation one pass "
                f"{r['est_best_s'] * 1e3:.1f} ms = {r['est_fps']:.0f} frames/s (compile {r['est_compile_s']:.1f} s)")
        if size == "full":
            # The release figure is for 50 steps; scale it when fewer/more steps are timed.
            release = RELEASE_FULL_SAMPLE_300 * args.steps / 50
            line += (f"; release {release:.1f} s for {args.steps} steps (248 s per 50) -> speed-up "
                     f"x{release / r['best_s']:.2f} (target >= 2)")
        elif size == "regression":
            derived = 2 * args.steps * RELEASE_REGRESSION_FORWARD_300
            line += (f"; derived release {derived:.1f} s -> speed-up x{derived / r['best_s']:.2f}; "
                     f"estimation x{r['est_fps'] / 1500:.2f} of the 1500 frames/s target")
        print(line, flush=True)
        if args.long:
            long = run(size, 80.0, args.steps, args.guidance, max(1, args.repeats - 1))
            print(f"[{size}] 80 s = {long['frames']} frames: sample {long['best_s']:.2f} s best (compile "
                  f"{long['compile_s']:.1f} s); cost ratio 80 s / 10 s = {long['best_s'] / r['best_s']:.2f} "
                  f"(8.0 = linear in length); estimation 80 s / 10 s = "
                  f"{long['est_best_s'] / r['est_best_s']:.2f}", flush=True)


if __name__ == "__main__":
    main()
