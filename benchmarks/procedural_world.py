"""Throughput of the procedural motion world and of the per-sample simulation (one process).

    python benchmarks/procedural_world.py [--clips 40] [--samples 200]

Prints clips/s and frames/s of `world.generate_clip` (everyday clips; dance clips add the
music synthesis), records/s of the record conversion, and samples/s of
`simulate.make_training_sample` at L = 120, and the ratio of simulation samples/s to the 128
samples a batch needs (batches/s one worker can feed).
"""

import argparse
import time

import numpy as np

from genmo_jax.data import simulate
from genmo_jax.data.procedural import records, world
from genmo_jax.data.procedural.skeleton import RestSkeleton


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    skeleton = RestSkeleton.smpl_like()

    start = time.perf_counter()
    clips = [world.generate_clip(np.random.default_rng(i), skeleton, dance_prob=0.0)
             for i in range(args.clips)]
    seconds = time.perf_counter() - start
    frames = sum(c["transl"].shape[0] for c in clips)
    print(f"generate_clip: {args.clips / seconds:.1f} clips/s, {frames / seconds:.0f} frames/s "
          f"(mean clip {frames / args.clips / 30:.1f} s)")

    start = time.perf_counter()
    recs = [records.clip_to_record(c, f"c{i}") for i, c in enumerate(clips)]
    print(f"clip_to_record: {args.clips / (time.perf_counter() - start):.0f} records/s")

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for i in range(args.samples):
        simulate.make_training_sample(recs[i % len(recs)], rng)
    rate = args.samples / (time.perf_counter() - start)
    print(f"make_training_sample (L=120): {rate:.0f} samples/s per process = "
          f"{rate / 128:.2f} batches/s of 128")


if __name__ == "__main__":
    main()
