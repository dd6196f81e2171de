"""`python -m genmo_jax.data.stats --shards DIR [DIR...] [--out FILE]`: normalisation statistics.

SPEC A3: mean and std of the 151-d motion vector (docs/CONVENTIONS.md table) computed from the
training shards, written as `stats.npz` {mean (151,), std (151,), count ()} beside the shards
(`DIR/stats.npz` for one directory; `--out` for several). `std` is the raw standard deviation;
`clip_std` (std := max(std, 1)) is applied where the statistics are used.

What is measured is what training sees: each record is drawn `samples_per_record` times
through the training simulation (`simulate.make_training_sample`: speed-augmented crop, random
yaw, simulated or dataset camera, which the camera-frame and gravity-view orientation slices
depend on), encoded, and pooled over the valid frames. Samples without world motion
(`flag_2d_only`) or with camera-only supervision (`flag_spv_incam_only`) are left out.

The encoding is `encode_151` below, written from the CONVENTIONS table (numpy, float64):
body_pose 6D | betas | global_orient_c 6D | R_c2gv @ R_root_c 6D | v_local = R_root_w^T
(t_w[k+1] - t_w[k]) with the last valid frame repeating the one before.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from genmo_jax.data import shards

FEATURE_DIM = 151


def rotation_6d(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two rows, flattened (CONVENTIONS 6D)."""
    return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)


def _matrices(axis_angle: np.ndarray) -> np.ndarray:
    shape = axis_angle.shape[:-1]
    return Rotation.from_rotvec(axis_angle.reshape(-1, 3)).as_matrix().reshape(*shape, 3, 3)


def encode_151(sample: dict) -> np.ndarray:
    """A simulated sample (simulate.make_training_sample keys) -> (L, 151) float64.

    Frames at or after `length` are copies of the last valid frame's features.
    """
    length = int(sample["length"])
    num = np.shape(sample["body_pose"])[0]
    body_pose = _matrices(np.asarray(sample["body_pose"], np.float64).reshape(num, 21, 3))
    rot_c = _matrices(np.asarray(sample["global_orient_c"], np.float64))
    rot_w = _matrices(np.asarray(sample["global_orient_w"], np.float64))
    rot_gv = np.asarray(sample["R_c2gv"], np.float64) @ rot_c
    transl = np.asarray(sample["transl_w"], np.float64)
    velocity = np.zeros((num, 3))
    if length > 1:
        velocity[:length - 1] = transl[1:length] - transl[:length - 1]
        velocity[length - 1:] = velocity[length - 2]
    local_velocity = np.einsum("lji,lj->li", rot_w, velocity)      # R^T v
    betas = np.broadcast_to(np.asarray(sample["betas"], np.float64), (num, 10))
    features = np.concatenate([rotation_6d(body_pose).reshape(num, 126), betas,
                               rotation_6d(rot_c), rotation_6d(rot_gv), local_velocity], -1)
    features[length:] = features[length - 1]
    return features


class RunningMoments:
    """Pooled mean / std over rows, accumulated in float64 (Chan et al. parallel update)."""

    def __init__(self, dim: int = FEATURE_DIM):
        self.count, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)

    def update(self, rows: np.ndarray) -> None:
        if rows.shape[0] == 0:
            return
        count = rows.shape[0]
        mean = rows.mean(0)
        m2 = ((rows - mean) ** 2).sum(0)
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * count / total
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1))


def compute_stats(directories, samples_per_record: int | None = None, seed: int = 0,
                  simulation: dict | None = None, progress: bool = True) -> dict:
    """Statistics over every record of the shard `directories`.

    samples_per_record: simulated crops per record; None = max(1, frames // window), the
    release's per-epoch sampling. simulation: SimulationConfig fields (default recipe).
    Returns {"mean" (151,), "std" (151,), "count" ()}.
    """
    from genmo_jax.data import simulate

    config = simulate.SimulationConfig.from_config(simulation)
    moments = RunningMoments()
    rng = np.random.default_rng(seed)
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
                sample = simulate.make_training_sample(record, rng, config)
                moments.update(encode_151(sample)[:int(sample["length"])])
    if moments.count == 0:
        raise ValueError(f"no frames with world motion in {list(map(str, directories))}")
    return {"mean": moments.mean.astype(np.float32), "std": moments.std.astype(np.float32),
            "count": np.int64(moments.count)}


def write_stats(stats: dict, path: str | Path) -> None:
    """Writes stats.npz atomically (temp file + rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, **stats)
    temporary.replace(path)


def load_stats(path: str | Path) -> dict:
    """Reads stats.npz -> {"mean" (151,), "std" (151,)}; errors name the file and field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"normalisation statistics {str(path)!r} not found (run "
                                "python -m genmo_jax.data.stats)")
    with np.load(path, allow_pickle=False) as data:
        for key in ("mean", "std"):
            if key not in data.files or data[key].shape != (FEATURE_DIM,):
                raise ValueError(f"{str(path)!r}: field {key!r} missing or not ({FEATURE_DIM},)")
        return {"mean": data["mean"], "std": data["std"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.data.stats",
                                     description="151-d normalisation statistics of shards")
    parser.add_argument("--shards", nargs="+", required=True, help="shard directories")
    parser.add_argument("--out", default=None, help="output file (default DIR/stats.npz)")
    parser.add_argument("--samples-per-record", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.out is None and len(args.shards) > 1:
        parser.error("--out is required with several --shards directories")
    out = args.out or str(Path(args.shards[0]) / "stats.npz")
    stats = compute_stats(args.shards, args.samples_per_record, args.seed)
    write_stats(stats, out)
    print(f"stats over {int(stats['count'])} frames -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
