"""Attention for the GENMO denoiser: RoPE self-attention with a sliding window, and
multi-caption text cross-attention.

Self-attention (SPEC B 2.4-2.5, A9). Frame i attends to keys [a_i, b_i) with
    a_i = min(L - W, max(0, i - W//2)),   b_i = max(W, min(L, i + W//2)),
a fixed-width window of W = 120 frames that shifts inward at the sequence ends, and only when
L > W (full attention otherwise); keys at padding frames (index >= length) are masked. For
L > W it is computed blocked: queries in blocks of `block` frames, each block against the
W + block keys that cover all its windows, so time and memory grow linearly in L; the result
equals the dense masked definition (`dense_window_mask`), which the tests check.

Text cross-attention (SPEC B 2.4, A5). `torch.nn.MultiheadAttention` semantics (packed q/k/v,
no RoPE, no key mask on the tokens); K captions, each with a frame window [start, end): rows
outside a caption's window get no update from it (masked scores, then the row is zeroed, never
NaN), and the captions' updates are summed.

Shapes: x (B, L, d); heads H with head_dim = d / H.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmo_jax.model import rope
from genmo_jax.model.layers import torch_linear_init

# Masked scores use a large finite negative, not -inf: an all-masked row then gives a finite
# (uniform) softmax that is zeroed afterwards, so neither values nor gradients see NaN.
_MASKED_SCORE = -1e30


def window_bounds(length: int, window: int):
    """Per-query key range [a_i, b_i) of the sliding window (SPEC B 2.5).

    Returns: a, b (length,) int numpy arrays. For length <= window every query sees all keys.
    """
    i = np.arange(length)
    if length <= window:
        return np.zeros(length, np.int64), np.full(length, length, np.int64)
    half = window // 2
    a = np.minimum(length - window, np.maximum(0, i - half))
    b = np.maximum(window, np.minimum(length, i + half))
    return a, b


def dense_window_mask(length: int, window: int) -> np.ndarray:
    """(L, L) bool, True where query i may attend to key j (the dense reference definition)."""
    a, b = window_bounds(length, window)
    j = np.arange(length)
    return (j[None, :] >= a[:, None]) & (j[None, :] < b[:, None])


def masked_attention(q, k, v, allowed, dropout=None):
    """Softmax attention with a Boolean mask; rows with no allowed key return zeros.

    Args:
      q: (..., Lq, H, D); k, v: (..., Lk, H, D) (same leading dims).
      allowed: bool, broadcastable to (..., H, Lq, Lk).
      dropout: optional callable applied to the attention probabilities.
    Returns: (..., Lq, H, D).
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = jnp.einsum("...qhd,...khd->...hqk", q, k) * scale
    scores = jnp.where(allowed, scores, _MASKED_SCORE)
    probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(q.dtype)
    row_has_key = jnp.any(allowed, axis=-1, keepdims=True)
    probs = jnp.where(row_has_key, probs, 0.0)
    if dropout is not None:
        probs = dropout(probs)
    return jnp.einsum("...hqk,...khd->...qhd", probs, v)


def local_self_attention(q, k, v, length, window: int, *, block: int = 64, dropout=None):
    """Sliding-window self-attention with key padding, linear in L.

    Args:
      q, k, v: (B, L, H, D) (RoPE already applied to q, k).
      length: (B,) int valid frames; keys >= length are masked.
      window: W; full attention when L <= W.
      block: query block size for L > W (memory ~ B * H * L * (W + block)).
    Returns: (B, L, H, D); query rows with no allowed key are zero.
    """
    batch, num_frames = q.shape[:2]
    key_valid = jnp.arange(num_frames)[None, :] < length[:, None]           # (B, L)
    if num_frames <= window:
        allowed = key_valid[:, None, None, :]                                # (B, 1, 1, L)
        return masked_attention(q, k, v, allowed, dropout)

    block = max(1, min(block, window))
    num_blocks = -(-num_frames // block)
    padded = num_blocks * block
    chunk = window + block
    # Index arithmetic is traced (iota), not numpy constants: for long L those would be
    # O(L * chunk) constants embedded once per layer.
    # First key of each block's chunk = the window start of the block's first query; the
    # chunk then covers every window of the block (window starts grow by <= 1 per frame).
    starts = jnp.clip(jnp.arange(num_blocks) * block - window // 2, 0, num_frames - window)
    key_index = starts[:, None] + jnp.arange(chunk)[None, :]                # (nb, C)
    key_len = padded + chunk
    q_pad = jnp.pad(q, ((0, 0), (0, padded - num_frames), (0, 0), (0, 0)))
    k_pad = jnp.pad(k, ((0, 0), (0, key_len - num_frames), (0, 0), (0, 0)))
    v_pad = jnp.pad(v, ((0, 0), (0, key_len - num_frames), (0, 0), (0, 0)))
    q_blk = q_pad.reshape(batch, num_blocks, block, *q.shape[2:])          # (B, nb, Bq, H, D)
    k_blk = jnp.take(k_pad, key_index, axis=1, mode="clip")                # (B, nb, C, H, D)
    v_blk = jnp.take(v_pad, key_index, axis=1, mode="clip")

    # window part of the mask, (nb, Bq, C): a_i <= key < b_i (SPEC B 2.5)
    query = jnp.arange(padded).reshape(num_blocks, block)
    half = window // 2
    a = jnp.minimum(num_frames - window, jnp.maximum(0, query - half))
    b = jnp.maximum(window, jnp.minimum(num_frames, query + half))
    in_window = (key_index[:, None, :] >= a[..., None]) & (key_index[:, None, :] < b[..., None])
    # key padding, (B, nb, C); indices past the sequence are >= length too
    key_ok = key_index[None] < length[:, None, None]
    allowed = in_window[None] & key_ok[:, :, None, :]                       # (B, nb, Bq, C)
    out = masked_attention(q_blk, k_blk, v_blk, allowed[:, :, None], dropout)
    return out.reshape(batch, padded, *q.shape[2:])[:, :num_frames]


class RoPESelfAttention(nnx.Module):
    """Separate q/k/v/proj Linear layers, RoPE on q and k, sliding window (`RoPEAttention`)."""

    def __init__(self, dim: int, num_heads: int, *, window: int = 120, dropout: float = 0.0,
                 block: int = 64, rngs: nnx.Rngs):
        if dim % num_heads:
            raise ValueError(f"latent_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.window = window
        self.block = block
        init = torch_linear_init()
        self.query = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.key = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.value = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.proj = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x, length, *, deterministic: bool = True):
        """x (B, L, d), length (B,) -> (B, L, d)."""
        batch, num_frames, dim = x.shape
        heads = (batch, num_frames, self.num_heads, dim // self.num_heads)
        angles = rope.rope_angles_traced(num_frames, dim // self.num_heads)
        q = rope.apply_rope(self.query(x).reshape(heads), angles)
        k = rope.apply_rope(self.key(x).reshape(heads), angles)
        v = self.value(x).reshape(heads)
        drop = None if deterministic else (lambda p: self.dropout(p, deterministic=False))
        out = local_self_attention(q, k, v, length, self.window, block=self.block, dropout=drop)
        return self.proj(out.reshape(batch, num_frames, dim))


class TextCrossAttention(nnx.Module):
    """`nn.MultiheadAttention` over K captions with per-caption frame windows."""

    def __init__(self, dim: int, num_heads: int, *, dropout: float = 0.0, rngs: nnx.Rngs):
        if dim % num_heads:
            raise ValueError(f"latent_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        init = nnx.initializers.xavier_uniform()      # MHA's in_proj init, zero biases
        self.query = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.key = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.value = nnx.Linear(dim, dim, kernel_init=init, rngs=rngs)
        self.out = nnx.Linear(dim, dim, kernel_init=torch_linear_init(), rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x, text, windows, *, deterministic: bool = True):
        """Cross-attend frames to captions.

        Args:
          x: (B, L, d) frames (already layer-normed).
          text: (B, K, T, d) embedded caption tokens.
          windows: (B, K, 2) int [start, end) frame range of each caption.
        Returns: (B, L, d) = sum over captions k of out_proj(attn_k) on rows inside window k,
          zero on rows outside every window.
        """
        batch, num_frames, dim = x.shape
        head_dim = dim // self.num_heads
        q = self.query(x).reshape(batch, num_frames, self.num_heads, head_dim)
        k = self.key(text).reshape(text.shape[:3] + (self.num_heads, head_dim))
        v = self.value(text).reshape(text.shape[:3] + (self.num_heads, head_dim))
        frame = jnp.arange(num_frames)
        rows = (frame[None, None, :] >= windows[..., :1]) & (frame[None, None, :] < windows[..., 1:])
        allowed = rows[:, :, None, :, None]                                   # (B, K, 1, L, 1)
        allowed = jnp.broadcast_to(allowed, allowed.shape[:-1] + (text.shape[2],))
        drop = None if deterministic else (lambda p: self.dropout(p, deterministic=False))
        q = jnp.broadcast_to(q[:, None], (batch, text.shape[1]) + q.shape[1:])
        per_caption = masked_attention(q, k, v, allowed, drop)               # (B, K, L, H, hd)
        # out_proj is affine: sum_k m_k (a_k W + b) = (sum_k m_k a_k) W + (sum_k m_k) b,
        # and a_k is already zero on rows outside window k.
        attended = per_caption.sum(axis=1).reshape(batch, num_frames, dim)
        coverage = rows.sum(axis=1).astype(x.dtype)[..., None]               # (B, L, 1)
        return attended @ self.out.kernel[...] + coverage * self.out.bias[...]
