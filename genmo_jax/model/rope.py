"""Rotary position embedding (RoPE), interleaved-pair convention of the GEM release.

Channel pairs (2k, 2k+1) of every head are rotated by the angle pos * 10000^(-2k/head_dim)
(SPEC B 2.4). Angles and the rotation are computed in float32 whatever the activation dtype,
and the tables are built the way the release builds them (float32 throughout) so that
converted checkpoints reproduce its outputs to float tolerance.
"""

import jax.numpy as jnp
import numpy as np


def rope_angles(num_positions: int, head_dim: int, *, base: float = 10000.0) -> np.ndarray:
    """Rotation angles for positions 0..num_positions-1.

    Returns: (num_positions, head_dim) float32 radians; channels 2k and 2k+1 share the angle
    pos * base^(-2k/head_dim).
    """
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head dimension, got head_dim={head_dim}")
    positions = np.arange(num_positions, dtype=np.float32)
    exponents = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
    inv_freq = (np.float32(1.0) / np.power(np.float32(base), exponents)).astype(np.float32)
    angles = np.outer(positions, inv_freq).astype(np.float32)      # (P, head_dim/2)
    return np.repeat(angles, 2, axis=-1)                           # (P, head_dim)


def rope_angles_traced(num_positions: int, head_dim: int, *, base: float = 10000.0):
    """`rope_angles` computed inside the program (same float32 arithmetic), so long sequences
    do not embed an (L, head_dim) constant in every layer. Returns (L, head_dim) float32."""
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head dimension, got head_dim={head_dim}")
    exponents = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
    inv_freq = (np.float32(1.0) / np.power(np.float32(base), exponents)).astype(np.float32)
    angles = jnp.arange(num_positions, dtype=jnp.float32)[:, None] * jnp.asarray(inv_freq)
    return jnp.repeat(angles, 2, axis=-1)


def apply_rope(x: jnp.ndarray, angles: jnp.ndarray) -> jnp.ndarray:
    """Rotate interleaved channel pairs of `x` by `angles`.

    Args:
      x: (..., L, H, head_dim) queries or keys.
      angles: (L, head_dim) float32 from `rope_angles` (already sliced to L positions).
    Returns: same shape and dtype as x; computed in float32.
    """
    dtype = x.dtype
    x32 = x.astype(jnp.float32)
    angles = jnp.asarray(angles, jnp.float32)[:, None, :]           # (L, 1, head_dim)
    pairs = x32.reshape(x32.shape[:-1] + (-1, 2))
    # rotate_half: (a, b) -> (-b, a) within every pair
    rotated = jnp.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(x32.shape)
    out = x32 * jnp.cos(angles) + rotated * jnp.sin(angles)
    return out.astype(dtype)
