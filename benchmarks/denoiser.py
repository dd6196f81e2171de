"""Time the GENMO denoiser: forward / forward+backward at B=8, L=120, and long-sequence scaling.

    .venv/bin/python benchmarks/denoiser.py                         # everything
    .venv/bin/python benchmarks/denoiser.py --sizes regression      # skip the 411M full model
    .venv/bin/python benchmarks/denoiser.py --no-long               # skip the L sweep
    .venv/bin/python benchmarks/denoiser.py --torch                 # + side-by-side torch

--torch also times benchmarks/torch_reference.py (a torch transcription of the release's network,
checked against the golden outputs) in the same process right after each JAX case, so the ratio
"torch / jax" does not depend on how busy the shared machine is (PERFORMANCE.md's figures were
taken on a quiet machine; the machine's load moves absolute times by 2-4x).

Random weights, fp32, inputs like the release's benchmark (PERFORMANCE.md): noisy x_t, timesteps,
the fused condition features, lengths, and (full size) T5-sized text states (B, 50, 1024).
Each case is jitted; compile time is reported apart; run time = median of --repeats runs after
one warm-up. FLOPs come from the compiled program's cost analysis; GFLOP/s is compared with this
machine's measured fp32 matmul peak (a 2048^3 GEMM, same process). Memory = the compiled
program's temporary buffers (XLA memory analysis), i.e. the activation working set.
Ratios > 1 mean faster than the release figures of PERFORMANCE.md (same 2-core machine class).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))      # torch_reference

from configs import full, regression  # noqa: E402
from genmo_jax.model.denoiser import MOTION_DIM, Denoiser  # noqa: E402

# PERFORMANCE.md: the release (torch 2.13 CPU eager, 2 threads), median seconds
RELEASE = {
    ("regression", "forward"): (0.69 + 0.88) / 2,
    ("regression", "forward+backward"): (2.36 + 2.70) / 2,
    ("full", "forward"): 6.4,
    ("full", "forward+backward"): (19.5 + 20.7) / 2,
}
RELEASE_LONG = {120: 1.11e-3 * 120, 1200: 2.8, 4800: 45.6}     # regression size, B = 1


def _config(size):
    return {"regression": regression, "full": full}[size].get_config().model


def _inputs(model_cfg, batch, num_frames, seed=0):
    rng = np.random.default_rng(seed)
    args = (jnp.asarray(rng.normal(size=(batch, num_frames, MOTION_DIM)), jnp.float32),
            jnp.asarray(rng.integers(0, 1000, batch), jnp.int32),
            jnp.asarray(rng.normal(size=(batch, num_frames, model_cfg.latent_dim)), jnp.float32),
            jnp.full((batch,), num_frames, jnp.int32))
    text = None
    if model_cfg.text_blocks:
        text = jnp.asarray(rng.normal(size=(batch, 50, model_cfg.text_dim)), jnp.float32)
    return args, text


def _timed(fn, *args, repeats):
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))                     # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    flops = float((cost or {}).get("flops", float("nan")))
    mem = compiled.memory_analysis()
    temp = float(getattr(mem, "temp_size_in_bytes", float("nan"))) if mem is not None else float("nan")
    return {"median_s": statistics.median(times), "min_s": min(times), "compile_s": compile_s,
            "flops": flops, "temp_bytes": temp}


def matmul_peak_gflops(n=2048, repeats=5):
    a = jnp.asarray(np.random.default_rng(0).normal(size=(n, n)), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    jax.block_until_ready(f(a, a))
    best = min(_once(f, a) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _once(f, a):
    t0 = time.perf_counter()
    jax.block_until_ready(f(a, a))
    return time.perf_counter() - t0


def build(model_cfg):
    model = Denoiser(model_cfg, rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    nparams = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))
    return graphdef, params, rest, nparams


def _torch_time(size, batch, num_frames, backward, repeats):
    """Median seconds of the torch transcription (eager fp32, all CPU threads)."""
    import torch

    import torch_reference
    torch.set_num_threads(os.cpu_count())
    cfg = _config(size)
    torch.manual_seed(0)
    net = torch_reference.Network(cfg.latent_dim, cfg.num_layers, cfg.num_heads, cfg.mlp_ratio,
                                  cfg.text_dim if cfg.text_blocks else None,
                                  cfg.attention_window)
    rng = np.random.default_rng(0)
    xt = torch.from_numpy(rng.normal(size=(batch, num_frames, MOTION_DIM)).astype(np.float32))
    t = torch.from_numpy(rng.integers(0, 1000, batch))
    f_cond = torch.from_numpy(rng.normal(size=(batch, num_frames, cfg.latent_dim)).astype(
        np.float32))
    length = torch.full((batch,), num_frames)
    text = (torch.from_numpy(rng.normal(size=(batch, 50, cfg.text_dim)).astype(np.float32))
            if cfg.text_blocks else None)

    def once():
        t0 = time.perf_counter()
        if backward:
            net.zero_grad()
            out = net(xt, t, f_cond, length, text)
            sum(v.pow(2).mean() for v in out.values()).backward()
        else:
            with torch.no_grad():
                net(xt, t, f_cond, length, text)
        return time.perf_counter() - t0

    once()
    return statistics.median(once() for _ in range(repeats))


def bench_b8(size, repeats, peak, side_by_side=False):
    model_cfg = _config(size)
    t0 = time.perf_counter()
    graphdef, params, rest, nparams = build(model_cfg)
    print(f"\n[{size}] {model_cfg.latent_dim} x {model_cfg.num_layers}, {nparams / 1e6:.1f}M params "
          f"(built in {time.perf_counter() - t0:.1f} s), B=8, L=120", flush=True)
    args, text = _inputs(model_cfg, 8, 120)

    def forward(params, rest, args, text):
        return nnx.merge(graphdef, params, rest)(*args, text=text)["x0"]

    def loss(params, rest, args, text):
        out = nnx.merge(graphdef, params, rest)(*args, text=text)
        return sum(jnp.mean(v ** 2) for v in out.values())

    cases = {"forward": jax.jit(forward), "forward+backward": jax.jit(jax.grad(loss))}
    for name, fn in cases.items():
        r = _timed(fn, params, rest, args, text, repeats=repeats)
        gflops = r["flops"] / r["median_s"] / 1e9
        release = RELEASE[(size, name)]
        print(f"  {name:17s} median {r['median_s']:.3f} s (min {r['min_s']:.3f}, compile "
              f"{r['compile_s']:.1f} s) | {r['flops'] / 1e9:.1f} GFLOP -> {gflops:.1f} GFLOP/s = "
              f"{100 * gflops / peak:.0f}% of peak | release {release:.2f} s -> ratio "
              f"{release / r['median_s']:.2f}x", flush=True)
        if side_by_side:
            ref = _torch_time(size, 8, 120, name != "forward", repeats)
            print(f"  {'':17s} torch transcription now: {ref:.3f} s -> side-by-side ratio "
                  f"{ref / r['median_s']:.2f}x", flush=True)


def bench_long(lengths, repeats, side_by_side=False):
    model_cfg = _config("regression")
    graphdef, params, rest, _ = build(model_cfg)
    print(f"\n[regression] forward, B=1, L sweep (window {model_cfg.attention_window})", flush=True)
    fn = jax.jit(lambda p, r, a: nnx.merge(graphdef, p, r)(*a)["x0"])
    results = {}
    for num_frames in lengths:
        args, _ = _inputs(model_cfg, 1, num_frames)
        r = _timed(fn, params, rest, args, repeats=repeats if num_frames <= 4800 else 1)
        results[num_frames] = r
        release = RELEASE_LONG.get(num_frames)
        rel = f" | release {release:.2f} s -> ratio {release / r['median_s']:.1f}x" if release else ""
        print(f"  L={num_frames:6d} median {r['median_s']:.3f} s ({1e3 * r['median_s'] / num_frames:.3f}"
              f" ms/frame, compile {r['compile_s']:.1f} s), temp memory "
              f"{r['temp_bytes'] / 2 ** 20:.1f} MiB{rel}", flush=True)
        if side_by_side and num_frames <= 4800:
            ref = _torch_time("regression", 1, num_frames, False, 1 if num_frames > 1200 else 3)
            print(f"  {'':7s}torch transcription now: {ref:.3f} s -> side-by-side ratio "
                  f"{ref / r['median_s']:.1f}x", flush=True)
    base = lengths[0]
    for num_frames in lengths[1:]:
        t = results[num_frames]["median_s"] / results[base]["median_s"]
        m = results[num_frames]["temp_bytes"] / results[base]["temp_bytes"]
        print(f"  L {num_frames}/{base} = {num_frames / base:.0f}x frames: time x{t:.1f}, "
              f"memory x{m:.1f}")
    if 1200 in results and 4800 in results:
        ratio = results[4800]["median_s"] / results[1200]["median_s"]
        print(f"  cost(4800)/cost(1200) = {ratio:.2f} (target <= 4.4; release "
              f"{RELEASE_LONG[4800] / RELEASE_LONG[1200]:.1f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["regression", "full"],
                        choices=["regression", "full"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[120, 1200, 4800, 19200])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-long", action="store_true")
    parser.add_argument("--torch", action="store_true", help="time the torch transcription too")
    args = parser.parse_args()
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    peak = matmul_peak_gflops()
    print(f"measured fp32 matmul peak (2048^3): {peak:.1f} GFLOP/s (PERFORMANCE.md: ~157)")
    for size in args.sizes:
        bench_b8(size, args.repeats, peak, args.torch)
    if not args.no_long:
        bench_long(args.lengths, args.repeats, args.torch)


if __name__ == "__main__":
    main()
