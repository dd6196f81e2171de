"""Sinusoid tables and the timestep embedder (SPEC B 2.3).

The release keeps one table PE (5000, d), PE[p, 2i] = sin(p * 10000^(-2i/d)),
PE[p, 2i+1] = cos(same), used both for the diffusion timestep (looked up at the original
0..999 index, never rescaled) and for the positions of the text tokens.
"""

import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax.model.layers import torch_linear_init

MAX_POSITIONS = 5000


def sinusoid_table(num_positions: int, dim: int) -> np.ndarray:
    """(num_positions, dim) float32; sin at even channels, cos at odd ones.

    Computed in float32 step by step like the release, so that large positions (t = 999)
    round the same way.
    """
    position = np.arange(num_positions, dtype=np.float32)[:, None]
    div_term = np.exp(np.arange(0, dim, 2, dtype=np.float32)
                      * np.float32(-np.log(10000.0) / dim)).astype(np.float32)
    arg = (position * div_term).astype(np.float32)
    table = np.zeros((num_positions, dim), np.float32)
    table[:, 0::2] = np.sin(arg)
    table[:, 1::2] = np.cos(arg[:, : dim // 2])
    return table


class TimestepEmbedder(nnx.Module):
    """emb(t) = Linear(d, d) . SiLU . Linear(d, d) applied to PE[t]."""

    def __init__(self, dim: int, *, rngs: nnx.Rngs):
        init = torch_linear_init()
        self.dim = dim
        self.linear1 = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.linear2 = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)

    def __call__(self, t, dtype=jnp.float32):
        """t (B,) int in 0..999 -> (B, d). The table rows are float32 arithmetic, cast to
        `dtype` (the compute dtype) before the MLP."""
        return self.linear2(nnx.silu(self.linear1(sinusoid_rows(t, self.dim).astype(dtype))))


def sinusoid_rows(positions, dim: int):
    """Rows `positions` (...,) int of `sinusoid_table`, computed on the fly: (..., dim) float32.

    Same float32 arithmetic as the table (no 5000 x d constant in the compiled program).
    """
    div_term = np.exp(np.arange(0, dim, 2, dtype=np.float32)
                      * np.float32(-np.log(10000.0) / dim)).astype(np.float32)
    arg = positions.astype(jnp.float32)[..., None] * jnp.asarray(div_term)
    pairs = jnp.stack([jnp.sin(arg), jnp.cos(arg)], axis=-1)           # (..., d/2, 2)
    return pairs.reshape(positions.shape + (-1,))[..., :dim]
