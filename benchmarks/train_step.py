"""Train-step throughput: steps/s, samples/s, achieved FLOP/s and MFU vs a measured matmul peak.

    python benchmarks/train_step.py --config configs/tiny.py --shards DIR [--devices 8]
        [--batch 16] [--window 120] [--steps 5] [--set model.latent_dim=512 ...]
        [--baseline-objective OLD_OBJECTIVE.py] [--compile-only] [--flops-per-step GFLOP]
        [--save-batch FILE.npz] [--profile DIR] [--hlo-out FILE.txt.gz]

Runs the real GENMO train step (dual-mode objective, denoiser, open body) on batches of the
procedural world (DIR: shards + stats.npz from `python -m genmo_jax.data.procedural` and
`python -m genmo_jax.data.stats`). FLOPs come from XLA's cost analysis of the compiled step; the
peak is the best of a few f32 2048^3 matmuls (bf16 4096^3 on GPU) on one device of the same
machine. --devices N simulates N CPU devices (to show the sharding overhead, not speed).

--baseline-objective FILE compiles a second step whose loss is FILE's ``genmo_loss`` (e.g. an
older ``genmo_jax/train/objective.py``: ``git show REV:genmo_jax/train/objective.py > FILE``)
and times the two steps alternately on the same batches, so a before/after ratio is measured
under the same machine load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/tiny.py")
    p.add_argument("--shards", default="", help="procedural shards + stats.npz")
    p.add_argument("--batch-npz", default="", help="instead of --shards: one saved batch "
                   "(rows tiled to --batch), e.g. for a machine without grain")
    p.add_argument("--stats", default="", help="stats.npz (with --batch-npz)")
    p.add_argument("--devices", type=int, default=0, help="simulated CPU devices (0 = as is)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--window", type=int, default=120)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--fsdp", type=int, default=1)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--set", nargs="*", default=[], help="extra overrides a.b=value")
    p.add_argument("--save-batch", default="",
                   help="save the first batch of --shards (all keys) to FILE.npz and exit: the "
                        "--batch-npz input on a machine without grain (benchmarks/gpu_train_step.sh)")
    p.add_argument("--compile-only", action="store_true",
                   help="only lower + compile the step: print compile time, program size (with "
                        "the fusions by origin) and XLA FLOPs")
    p.add_argument("--flops-per-step", type=float, default=0.0,
                   help="GFLOP per step to use instead of XLA's count (its lowered-program cost "
                        "analysis is CPU-only: on GPU pass the CPU figure for the same sizes)")
    p.add_argument("--hlo-out", default="",
                   help="write the compiled (optimised) step's HLO text, gzipped, to FILE: names "
                        "its fusions as the --profile kernels are named")
    p.add_argument("--profile", default="",
                   help="after timing, trace 3 more steps into DIR and print where the device "
                        "time goes (benchmarks/trace_summary.py)")
    p.add_argument("--baseline-objective", default="",
                   help="an objective.py to time side by side with the current one")
    return p.parse_args()


def _peak_flops(jax, jnp, dtype):
    n = 2048 if dtype == "float32" else 8192
    x = jnp.ones((n, n), dtype)
    f = jax.jit(lambda a: a @ a)
    f(x).block_until_ready()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        f(x).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def _program_stats(compiled, text: str, breakdown=False):
    """Size of the compiled step: XLA fusions (each a kernel to generate: what dominates a GPU
    compile), while loops, and the temporary memory XLA planned (GiB). breakdown: also the
    fusions grouped by origin (the first jitted function in their op metadata, else the layer
    scan, the forward/backward pass or the top level: optimizer, EMA, casts). text: its HLO."""
    import collections
    import re

    memory = compiled.memory_analysis()
    temp = f"{memory.temp_size_in_bytes / 2 ** 30:.2f} GiB" if memory is not None else "n/a"
    stats = (f"{text.count(' fusion(')} fusions, {text.count(' while(')} while loops, "
             f"temp memory {temp}")
    if not breakdown:
        return stats
    origins = collections.Counter()
    for line in text.splitlines():
        if " fusion(" not in line:
            continue
        op_name = re.search(r'op_name="([^"]*)"', line)
        op_name = op_name.group(1) if op_name else ""
        functions = [f for f in re.findall(r"jit\(([^()]+)\)", op_name) if f != "train_step"]
        origins[functions[0] if functions else "layer scan" if "while" in op_name else
                "forward/backward" if "jvp(" in op_name else "top level"] += 1
    return stats + "".join(f"\n    {n:6d} {origin}" for origin, n in origins.most_common(12))


def main():
    args = _parse()
    if args.devices:
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
    sys.path.insert(0, os.getcwd())
    import jax
    import jax.numpy as jnp
    from absl import flags
    from flax import nnx
    from ml_collections import config_flags  # noqa: F401

    flags.FLAGS.mark_as_parsed()
    import importlib.util

    from genmo_jax import parallel
    from genmo_jax.train import genmo_task
    from genmo_jax.train import state as state_lib
    from genmo_jax.train import step as step_lib

    spec = importlib.util.spec_from_file_location("bench_config", args.config)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    c = module.get_config()
    c.data.shard_dirs = {c.data.datasets[0]: args.shards or "."}
    if args.stats:
        c.data.stats = args.stats
    c.data.datasets = (c.data.datasets[0],)
    c.data.weights = {c.data.datasets[0]: 1.0}
    c.data.batch_size, c.data.window = args.batch, args.window
    c.train.compute_dtype = args.dtype
    for item in args.set:
        key, value = item.split("=", 1)
        node = c
        *path, last = key.split(".")
        for part in path:
            node = node[part]
        old = node[last]
        if isinstance(old, bool):
            node[last] = value.lower() in ("1", "true")
        elif isinstance(old, tuple):
            node[last] = tuple(v for v in value.split(",") if v)
        else:
            node[last] = type(old)(value)

    task = genmo_task.GenmoTask()
    task.setup(c)
    if args.save_batch:
        import numpy as np
        it = task.make_iterator(c, args.batch, 0, 1)
        it.keys = genmo_task.BATCH_KEYS
        batch = {k: v for k, v in next(it).items() if k not in ("text", "text_windows")}
        it.close()
        np.savez_compressed(args.save_batch, **batch)
        print(f"saved {len(batch)} keys of {args.batch} rows to {args.save_batch}")
        return
    mesh = parallel.make_mesh(-1, args.fsdp)
    tx = state_lib.make_optimizer(c.train)
    mdef, state, shardings = state_lib.init_state(lambda: task.build_model(c), tx, mesh,
                                                  int(c.mesh.min_shard_size))
    losses = {"current": task.loss_fn}
    if args.baseline_objective:
        import dataclasses
        base_spec = importlib.util.spec_from_file_location("baseline_objective",
                                                           args.baseline_objective)
        base = importlib.util.module_from_spec(base_spec)
        sys.modules["baseline_objective"] = base     # dataclasses look their module up
        base_spec.loader.exec_module(base)
        spec_b = base.ObjectiveSpec(**{f.name: getattr(task.spec, f.name)
                                       for f in dataclasses.fields(base.ObjectiveSpec)})
        losses["baseline"] = lambda model, batch, key: base.genmo_loss(model, batch, key, spec_b)

    def jit_step(name, model_def):
        fn = step_lib.make_train_step(model_def, losses[name], tx, compute_dtype=args.dtype)
        return step_lib.jit_train_step(fn, shardings, mesh)

    steps = {name: jit_step(name, mdef) for name in losses}
    if args.batch_npz:
        import numpy as np
        saved = dict(np.load(args.batch_npz))
        rows = len(saved["length"])
        reps = -(-args.batch // rows)
        one = {k: np.concatenate([v] * reps)[: args.batch] for k, v in saved.items()}
        if c.model.get("text_blocks", False):
            one["text"] = np.zeros((args.batch, 4, int(c.model.max_text_len),
                                    int(c.model.text_dim)), np.float32)
            one["text_windows"] = np.zeros((args.batch, 4, 2), np.int32)
        batches = [one] * (args.steps + 1)
    else:
        it = task.make_iterator(c, args.batch, 0, 1)
        it.keys = genmo_task.BATCH_KEYS       # all keys: an older objective may read more
        batches = [next(it) for _ in range(args.steps + 1)]
        it.close()
    fed = set(genmo_task.batch_keys(c)) | {"text", "text_windows"}

    def unrolled_flops(name, batch):
        """XLA's FLOPs of the step with the layer scan unrolled: its cost analysis counts a loop
        body once, so the scanned program's own figure would miss all layers but one. Counted
        on the lowered (unoptimised) program, which only the CPU backend analyses."""
        if args.flops_per_step:
            return args.flops_per_step * 1e9
        if jax.default_backend() != "cpu":
            return float("nan")
        c_unrolled = c.copy_and_resolve_references()
        c_unrolled.model.scan_unroll = int(c.model.num_layers)
        mdef_unrolled, _, _ = state_lib.split_model(
            nnx.eval_shape(lambda: task.build_model(c_unrolled)))
        lowered = jit_step(name, mdef_unrolled).lower(state, batch, rng)
        cost = lowered.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return float(cost.get("flops", 0.0))

    rng = jax.random.key(0)
    results = {}
    with jax.set_mesh(mesh):
        glob_all = [parallel.shard_batch(b, mesh) for b in batches]
        glob_cur = [{k: v for k, v in b.items() if k in fed} for b in glob_all]
        compiled, states = {}, {}
        for name, step in steps.items():
            t0 = time.perf_counter()
            glob = glob_cur if name == "current" else glob_all
            compiled[name] = step.lower(state, glob[0], rng).compile()
            compile_s = time.perf_counter() - t0
            hlo = compiled[name].as_text()   # tens of MB at full size: render it once
            if args.hlo_out and name == "current":
                import gzip
                with gzip.open(args.hlo_out, "wt") as f:
                    f.write(hlo)
            print(f"[{name}] compiled in {compile_s:.1f} s; "
                  f"{_program_stats(compiled[name], hlo, args.compile_only)}",
                  flush=True)
            results[name] = {"compile_s": compile_s, "flops": unrolled_flops(name, glob[0]),
                             "times": []}
            print(f"[{name}] XLA flops/step {results[name]['flops'] / 1e9:.2f} GFLOP", flush=True)
            if args.compile_only:
                continue
            # each step donates its input state: give every variant its own copy
            states[name] = jax.tree.map(jnp.copy, state)
            states[name], m = compiled[name](states[name], glob[0], rng)
            jax.block_until_ready(m)
            results[name]["loss"] = float(m["loss"])
        if args.compile_only:
            return
        for i in range(1, len(batches)):
            for name in steps:          # alternate: both variants see the same load
                b = (glob_cur if name == "current" else glob_all)[i]
                t = time.perf_counter()
                states[name], m = compiled[name](states[name], b, rng)
                jax.block_until_ready(m)
                results[name]["times"].append(time.perf_counter() - t)
    ndev = jax.device_count()
    peak = _peak_flops(jax, jnp, "float32" if jax.default_backend() == "cpu" else "bfloat16")
    params = state_lib.param_count(state["params"])
    print(f"config={args.config} params={params/1e6:.2f}M B={args.batch} L={args.window} "
          f"devices={ndev} mesh={dict(mesh.shape)} dtype={args.dtype} "
          f"backend={jax.default_backend()} load={os.getloadavg()[0]:.1f}")
    for name, r in results.items():
        times = sorted(r["times"])
        step_s = times[len(times) // 2]
        achieved = r["flops"] / step_s
        print(f"[{name}] compile {r['compile_s']:.1f} s; step median {step_s:.3f} s "
              f"(min {times[0]:.3f}) -> {1/step_s:.2f} steps/s, {args.batch/step_s:.1f} "
              f"samples/s", flush=True)
        print(f"[{name}] XLA flops/step {r['flops']/1e9:.2f} GFLOP "
              f"({'per device' if ndev > 1 else 'total'}); achieved {achieved/1e9:.1f} GFLOP/s; "
              f"one-device matmul peak {peak/1e9:.1f} GFLOP/s; MFU {achieved / peak:.1%} "
              f"(of one device); first-step loss {r['loss']:.4f}")
        r["step_s"] = step_s
    if args.profile:
        from trace_summary import summarize
        profiled = 3
        with jax.profiler.trace(args.profile, create_perfetto_trace=True):
            for i in range(profiled):
                states["current"], m = compiled["current"](
                    states["current"], glob_cur[1 + i % (len(batches) - 1)], rng)
            jax.block_until_ready(m)
        print(summarize(args.profile, steps=profiled, hlo=args.hlo_out), flush=True)
    if "baseline" in results:
        cur, base = results["current"], results["baseline"]
        print(f"current / baseline: step time x{cur['step_s'] / base['step_s']:.2f}, "
              f"compile time x{cur['compile_s'] / base['compile_s']:.2f}")


if __name__ == "__main__":
    main()
