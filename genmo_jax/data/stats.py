"""`python -m genmo_jax.data.stats --shards DIR [DIR...] [--out FILE]`: normalisation statistics.

SPEC A3: mean and std of the 151-d motion vector (`genmo_jax.motion.representation`) computed
from the training shards, written as `stats.npz` {mean (151,), std (151,), count ()} beside the
shards (`DIR/stats.npz` for one directory; `--out` for several). `std` is the raw standard
deviation; `clip_std` (std := max(std, 1)) is applied where the statistics are used
(`genmo_jax.motion.normalization`).

What is measured is what training sees: each record is drawn `samples_per_record` times
through the training simulation (`simulate.make_training_sample`: speed-augmented crop, random
yaw, simulated or dataset camera, which the camera-frame and gravity-view orientation slices
depend on), encoded with `encode_motion`, and pooled over the valid frames. Frames are pooled
over all directories alike (mixing weights are not applied). Samples without world motion
(`flag_2d_only`) or with camera-only supervision (`flag_spv_incam_only`) are left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genmo_jax.data import shards

FEATURE_DIM = 151
ENCODE_BATCH = 64


def encode_samples(samples: list[dict], velocity_convention: str = "gvhmr") -> np.ndarray:
    """Simulated samples (simulate.make_training_sample keys, equal L) -> (N, L, 151) float32."""
    from genmo_jax.motion import representation

    def stack(key):
        return np.stack([np.asarray(s[key], np.float32) for s in samples])

    params_c = {"body_pose": stack("body_pose"), "betas": stack("betas"),
                "global_orient": stack("global_orient_c")}
    params_w = {"global_orient": stack("global_orient_w"), "transl": stack("transl_w")}
    length = np.asarray([int(s["length"]) for s in samples], np.int32)
    x = representation.encode_motion(params_c, params_w, stack("R_c2gv"),
                                     velocity_convention=velocity_convention, length=length)
    return np.asarray(x)


def compute_stats(directories, samples_per_record: int | None = None, seed: int = 0,
                  simulation: dict | None = None, velocity_convention: str = "gvhmr",
                  progress: bool = True) -> dict:
    """Statistics over every record of the shard `directories`.

    samples_per_record: simulated crops per record; None = max(1, frames // window), the
    release's per-epoch sampling. simulation: SimulationConfig fields (default recipe).
    Returns {"mean" (151,), "std" (151,), "count" ()}.
    """
    from genmo_jax.data import simulate
    from genmo_jax.motion import normalization

    config = simulate.SimulationConfig.from_config(simulation)
    moments = normalization.StatsAccumulator(FEATURE_DIM)
    rng = np.random.default_rng(seed)
    pending: list[dict] = []

    def flush():
        if pending:
            x = encode_samples(pending, velocity_convention)
            valid = np.arange(x.shape[1])[None] < np.asarray([s["length"] for s in pending])[:, None]
            moments.add(x, valid)
            pending.clear()

    for directory in directories:
        source = shards.ShardSource(directory)
        bar = tqdm(range(len(source)), desc=f"stats {source.dataset}", unit="clip",
                   disable=not progress)
        for index in bar:
            record = source[index]
            if bool(record["flag_2d_only"]) or bool(record["flag_spv_incam_only"]):
                continue
            draws = samples_per_record or max(1, int(source.num_frames[index]) // config.length)
            for _ in range(draws):
                pending.append(simulate.make_training_sample(record, rng, config))
                if len(pending) >= ENCODE_BATCH:
                    flush()
    flush()
    if moments.count == 0:
        raise ValueError(f"no frames with world motion in {list(map(str, directories))}")
    result = moments.result()
    return {"mean": np.asarray(result.mean, np.float32), "std": np.asarray(result.std, np.float32),
            "count": np.int64(moments.count)}


def write_stats(stats: dict, path: str | Path) -> None:
    """Writes stats.npz atomically (temp file + rename); read it with normalization.load_stats."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, **stats)
    temporary.replace(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.data.stats",
                                     description="151-d normalisation statistics of shards")
    parser.add_argument("--shards", nargs="+", required=True, help="shard directories")
    parser.add_argument("--out", default=None, help="output file (default DIR/stats.npz)")
    parser.add_argument("--samples-per-record", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--velocity-convention", default="gvhmr", choices=("gvhmr", "release"),
                        help="local velocity convention of the 151-d vector (SPEC A2 / B 1.3)")
    args = parser.parse_args(argv)
    if args.out is None and len(args.shards) > 1:
        parser.error("--out is required with several --shards directories")
    out = args.out or str(Path(args.shards[0]) / "stats.npz")
    stats = compute_stats(args.shards, args.samples_per_record, args.seed,
                          velocity_convention=args.velocity_convention)
    write_stats(stats, out)
    print(f"stats over {int(stats['count'])} frames -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
