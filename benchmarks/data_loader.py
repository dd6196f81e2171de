"""Throughput of the mixed Grain training pipeline (genmo_jax/data/pipeline.py).

    python benchmarks/data_loader.py [--batch 128] [--workers 0 1 2] [--batches 3]
                                     [--step-rate tiny=STEPS_PER_S ...]

Data: procedural clips (`python -m genmo_jax.data.procedural`, generated once into --cache) mixed
with the AMASS, HumanML3D and AIST++ fixtures converted by `genmo_jax.data.convert` (weights
0.5 / 0.2 / 0.2 / 0.1), window 120, full simulation in the workers. Prints batches/s and
samples/s per worker count, after one warm-up batch (worker start-up excluded). With
--step-rate NAME=R (train steps per second of a config at the same batch size) it prints the
loader/consumer ratio (PERFORMANCE.md target >= 3).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import ml_collections

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from genmo_jax.data import convert, fixtures, pipeline
from genmo_jax.data.converters import common


def prepare_shards(cache: Path, clips: int) -> dict[str, str]:
    """Shard directories of the four benchmark datasets (built once)."""
    dirs = {name: cache / name for name in ("procedural", "amass", "humanml3d", "aistpp")}
    if not (dirs["procedural"] / "index.json").is_file():
        subprocess.run([sys.executable, "-m", "genmo_jax.data.procedural", "--clips", str(clips),
                        "--out", str(dirs["procedural"]), "--seed", "0"], check=True,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        rest_joints = common.default_rest_joints()
    except ImportError:
        rest_joints = fixtures.synthetic_rest_joints
    raw = cache / "raw"
    if not (dirs["amass"] / "index.json").is_file():
        fixtures.write_amass(raw / "amass")
        convert.convert("amass", str(raw / "amass"), str(dirs["amass"]), rest_joints)
    if not (dirs["humanml3d"] / "index.json").is_file():
        fixtures.write_humanml3d(raw / "humanml3d", raw / "amass")
        convert.convert("humanml3d", str(raw / "humanml3d"), str(dirs["humanml3d"]), rest_joints,
                        amass=str(raw / "amass"))
    if not (dirs["aistpp"] / "index.json").is_file():
        fixtures.write_aistpp(raw / "aistpp")
        convert.convert("aistpp", str(raw / "aistpp"), str(dirs["aistpp"]), rest_joints)
    return {name: str(path) for name, path in dirs.items()}


def make_config(shard_dirs: dict, batch: int, workers: int) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data = ml_collections.ConfigDict()
    c.data.datasets = tuple(shard_dirs)
    c.data.shard_dirs = ml_collections.ConfigDict(shard_dirs)
    c.data.weights = ml_collections.ConfigDict(
        {"procedural": 0.5, "amass": 0.2, "humanml3d": 0.2, "aistpp": 0.1})
    c.data.batch_size = batch
    c.data.window = 120
    c.data.simulation = ml_collections.ConfigDict()
    c.data.dataset_simulation = ml_collections.ConfigDict()
    c.data.num_workers = workers
    c.data.per_worker_buffer_size = 2
    c.data.read_threads = 2
    c.data.read_buffer = 16
    return c


def measure(config, batches: int) -> tuple[float, float]:
    """(warm-up seconds, seconds per batch) over `batches` batches after one warm-up batch."""
    iterator = pipeline.make_iterator(config, process_index=0, process_count=1)
    try:
        start = time.perf_counter()
        next(iterator)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        return warm, (time.perf_counter() - start) / batches
    finally:
        getattr(iterator, "close", lambda: None)()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batches", type=int, default=3, help="timed batches per setting")
    parser.add_argument("--clips", type=int, default=60, help="procedural clips to generate")
    parser.add_argument("--cache", default=str(Path.home() / ".cache/genmo_jax/bench_data"))
    parser.add_argument("--step-rate", action="append", default=[],
                        help="NAME=STEPS_PER_SECOND of a train config at this batch size")
    args = parser.parse_args(argv)
    from absl import flags
    flags.FLAGS.mark_as_parsed()   # grain's mp_prefetch reads an absl flag (JAX_PRACTICES 2.5)
    shard_dirs = prepare_shards(Path(args.cache), args.clips)
    step_rates = {k: float(v) for k, v in (s.split("=", 1) for s in args.step_rate)}
    print(f"batch {args.batch}, window 120, datasets {list(shard_dirs)}")
    print(f"{'workers':>7} {'warm-up s':>9} {'batches/s':>9} {'samples/s':>9}" +
          "".join(f" {'ratio ' + k:>14}" for k in step_rates))
    for workers in args.workers:
        warm, per_batch = measure(make_config(shard_dirs, args.batch, workers), args.batches)
        rate = 1.0 / per_batch
        ratios = "".join(f" {rate / r:>14.2f}" for r in step_rates.values())
        print(f"{workers:>7} {warm:>9.1f} {rate:>9.3f} {rate * args.batch:>9.1f}{ratios}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
