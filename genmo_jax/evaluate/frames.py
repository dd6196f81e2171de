"""Per-frame metric values with their validity, and the frame-weighted mean of the benchmarks.

Every estimation metric returns a `PerFrame`: values aligned to frames (after invalid frames
were dropped, see `compact_frames`) and a boolean `valid` of the same shape. The benchmarks
(GVHMR/WHAM/GEM, PEERS.md 3.3) concatenate the per-frame errors of all valid frames of all
sequences and average them, so a long sequence weighs more than a short one: `frame_mean`
does exactly that for a list of `PerFrame`s of any shapes.
"""

from typing import NamedTuple, Sequence

import jax.numpy as jnp
import numpy as np


class PerFrame(NamedTuple):
    """values: (..., L) or (..., L, K) floats; valid: bool, same shape. A pytree (jit-safe)."""

    values: jnp.ndarray
    valid: jnp.ndarray

    def mean(self):
        """Mean over every valid entry (all leading axes pooled); NaN when nothing is valid."""
        total = jnp.sum(jnp.where(self.valid, self.values, 0.0))
        count = jnp.sum(self.valid)
        return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)

    def to_numpy(self):
        """The valid entries as a flat float64 numpy array (the reference's concatenated list)."""
        values = np.asarray(self.values, np.float64)
        return values[np.asarray(self.valid, bool)]


def frame_mean(items: Sequence[PerFrame]) -> float:
    """Frame-weighted mean over several sequences' `PerFrame`s (the benchmark aggregation)."""
    if not items:
        raise ValueError("frame_mean needs at least one PerFrame")
    flat = np.concatenate([item.to_numpy() for item in items])
    return float(flat.mean()) if flat.size else float("nan")


def compact_frames(mask, *arrays):
    """Moves the valid frames of one sequence to the front, keeping their order.

    The reference code indexes `x[mask]` before computing finite differences and 100-frame
    chunks, so consecutive valid frames become neighbours across any gap (PEERS.md 3.7 #1).
    This is the static-shape equivalent: a stable sort that puts valid frames first.

    Args:
      mask: (L,) bool, or None (all valid).
      *arrays: arrays whose first axis is the L frames.
    Returns:
      (valid, *compacted): valid (L,) bool = frame index < number of valid frames.
    """
    num_frames = arrays[0].shape[0]
    if mask is None:
        return (jnp.ones((num_frames,), bool), *arrays)
    mask = jnp.asarray(mask, bool)
    if mask.shape != (num_frames,):
        raise ValueError(f"mask must be ({num_frames},) to match the frames; got {mask.shape}")
    order = jnp.argsort(~mask, stable=True)
    valid = jnp.arange(num_frames) < mask.sum()
    return (valid, *(jnp.take(a, order, axis=0) for a in arrays))
