"""Normalisation statistics of the motion vector: compute, save/load (stats.npz), apply (SPEC A3).

x_norm = (x - mean) / std_used, std_used = max(std, 1) when `clip_std` (the release default:
only dimensions with std > 1 are scaled, all others are only mean-subtracted; SPEC B 1.2), else
the true std floored at `MIN_STD` (GVHMR's choice; configs/tiny.py). The floor keeps dimensions
the data never moves (the procedural world's feet, wrists and hands: std exactly 0) from being
divided by ~0; every dimension that varies (6D entries ~0.05..0.7, root velocities ~0.003..0.03
m/frame) is scaled to unit (or, below the floor, smaller) variance.
Statistics are always computed from data by our own code, never hard-coded.
"""

import functools
import os

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "NormStats",
    "StatsAccumulator",
    "compute_stats",
    "save_stats",
    "load_stats",
    "normalize",
    "denormalize",
    "MIN_STD",
]

MIN_STD = 1e-2   # floor of the unclipped std (same units as the dimension)


@flax.struct.dataclass
class NormStats:
    """Per-dimension mean and (population) standard deviation, each (D,) (D = 151 for x)."""

    mean: jnp.ndarray
    std: jnp.ndarray


class StatsAccumulator:
    """Streaming mean/std over many arrays (e.g. one shard at a time), in float64 numpy."""

    def __init__(self, dim):
        self.dim = dim
        self.count = 0.0
        self.total = np.zeros(dim, np.float64)
        self.total_sq = np.zeros(dim, np.float64)
        self._shift = None  # first valid frame: subtracted before squaring for stability

    def add(self, x, mask=None):
        """x (..., D); mask (...) bool of valid frames (None: all valid)."""
        x = np.asarray(x, np.float64)
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected last axis {self.dim}, got shape {x.shape}")
        rows = x.reshape(-1, self.dim)
        if mask is not None:
            mask = np.broadcast_to(np.asarray(mask, bool), x.shape[:-1]).reshape(-1)
            rows = rows[mask]
        if not len(rows):
            return self
        if self._shift is None:
            self._shift = rows[0].copy()
        centred = rows - self._shift
        self.count += len(rows)
        self.total += centred.sum(axis=0)
        self.total_sq += (centred * centred).sum(axis=0)
        return self

    def result(self):
        if self.count == 0:
            raise ValueError("no valid frames to compute statistics from")
        mean_centred = self.total / self.count
        var = np.maximum(self.total_sq / self.count - mean_centred**2, 0.0)
        return NormStats(
            mean=jnp.asarray(mean_centred + self._shift, jnp.float32),
            std=jnp.asarray(np.sqrt(var), jnp.float32),
        )


def compute_stats(x, mask=None):
    """NormStats of x (..., D) over the valid frames given by mask (...) bool (None: all)."""
    x = np.asarray(x)
    return StatsAccumulator(x.shape[-1]).add(x, mask).result()


def save_stats(path, stats):
    """Writes `mean` and `std` (float32) to an .npz file (conventionally `stats.npz`)."""
    path = os.fspath(path)
    np.savez(path, mean=np.asarray(stats.mean, np.float32), std=np.asarray(stats.std, np.float32))


def load_stats(path, dim=None):
    """Reads a stats .npz written by `save_stats`; dim: expected D (e.g. 151) or None."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"normalisation statistics not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        for key in ("mean", "std"):
            if key not in data:
                raise ValueError(f"{path}: missing key '{key}' in statistics file")
        mean, std = np.asarray(data["mean"], np.float32), np.asarray(data["std"], np.float32)
    if mean.ndim != 1 or mean.shape != std.shape or (dim is not None and mean.shape[0] != dim):
        expected = f"({dim},)" if dim is not None else "equal 1-D shapes"
        raise ValueError(f"{path}: 'mean' {mean.shape} and 'std' {std.shape}, expected {expected}")
    if np.any(std < 0) or not np.all(np.isfinite(std)) or not np.all(np.isfinite(mean)):
        raise ValueError(f"{path}: 'std' must be finite and >= 0 and 'mean' finite")
    return NormStats(mean=jnp.asarray(mean), std=jnp.asarray(std))


def _effective_std(stats, clip_std):
    std = jnp.asarray(stats.std)
    return jnp.maximum(std, 1.0) if clip_std else jnp.maximum(std, MIN_STD)


@functools.partial(jax.jit, static_argnames="clip_std")
def normalize(x, stats, clip_std=True):
    """(x - mean) / std_used, std_used = max(std, 1) if clip_std else max(std, MIN_STD). (..., D)."""
    return (jnp.asarray(x) - stats.mean) / _effective_std(stats, clip_std)


@functools.partial(jax.jit, static_argnames="clip_std")
def denormalize(x_norm, stats, clip_std=True):
    """Inverse of `normalize`. (..., D)."""
    return jnp.asarray(x_norm) * _effective_std(stats, clip_std) + stats.mean
