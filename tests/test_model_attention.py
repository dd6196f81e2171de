"""Sliding-window self-attention (blocked == dense masked reference) and multi-text attention."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmo_jax.model import attention


def _release_window_mask(num_frames, max_len=120):
    """The release's Python loop (gem_denoiser.py), True = blocked, applied only when L > max_len."""
    blocked = np.ones((num_frames, num_frames), bool)
    for i in range(num_frames):
        min_ind = max(0, i - max_len // 2)
        max_ind = min(num_frames, i + max_len // 2)
        eff = min(max_len, num_frames)
        blocked[i, min(num_frames - eff, min_ind):max(eff, max_ind)] = False
    return blocked


def _dense_reference(q, k, v, length, window):
    """Dense L x L masked softmax attention in float64 numpy (the definition)."""
    num_frames = q.shape[1]
    allowed = (~_release_window_mask(num_frames, window) if num_frames > window
               else np.ones((num_frames, num_frames), bool))
    out = np.zeros(q.shape, np.float64)
    for b in range(q.shape[0]):
        mask = allowed & (np.arange(num_frames)[None, :] < length[b])
        s = np.einsum("qhd,khd->hqk", q[b], k[b]) / np.sqrt(q.shape[-1])
        s = np.where(mask[None], s, -np.inf)
        with np.errstate(invalid="ignore"):
            p = np.exp(s - s.max(-1, keepdims=True))
            p = p / p.sum(-1, keepdims=True)
        p = np.nan_to_num(p)
        out[b] = np.einsum("hqk,khd->qhd", p, v[b])
    return out


@pytest.mark.parametrize("num_frames", [60, 120, 121, 500])
def test_window_bounds_match_release_loop(num_frames):
    if num_frames > 120:
        np.testing.assert_array_equal(attention.dense_window_mask(num_frames, 120),
                                      ~_release_window_mask(num_frames))
    else:
        assert attention.dense_window_mask(num_frames, 120).all()
    a, b = attention.window_bounds(num_frames, 120)
    assert np.all(b - a == min(num_frames, 120))          # fixed width, shifted inward


@pytest.mark.parametrize("num_frames", [60, 120, 121, 500])
@pytest.mark.parametrize("block", [64, 37])
def test_blocked_equals_dense(num_frames, block):
    rng = np.random.default_rng(num_frames + block)
    q, k, v = (rng.normal(size=(2, num_frames, 2, 8)).astype(np.float32) for _ in range(3))
    length = np.array([num_frames, max(1, num_frames * 2 // 3)])
    fn = jax.jit(lambda q, k, v, n: attention.local_self_attention(q, k, v, n, 120, block=block))
    out = fn(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), jnp.asarray(length))
    ref = _dense_reference(q, k, v, length, 120)
    for b in range(2):   # rows past `length` are padding; compare valid rows
        np.testing.assert_allclose(np.asarray(out)[b, :length[b]], ref[b, :length[b]], atol=2e-5)


def test_blocked_memory_is_linear():
    """The compiled program's temporary memory grows ~linearly with L (no L x L buffer)."""
    def temp_bytes(num_frames):
        x = jax.ShapeDtypeStruct((1, num_frames, 2, 8), jnp.float32)
        n = jax.ShapeDtypeStruct((1,), jnp.int32)
        fn = jax.jit(lambda q, k, v, l: attention.local_self_attention(q, k, v, l, 120))
        mem = fn.lower(x, x, x, n).compile().memory_analysis()
        if mem is None:
            pytest.skip("backend gives no memory analysis")
        return mem.temp_size_in_bytes + mem.output_size_in_bytes
    small, large = temp_bytes(1200), temp_bytes(9600)
    assert large / small < 8 * 1.3     # dense would be 64x


def test_fully_masked_rows_and_gradients_are_finite():
    rng = np.random.default_rng(3)
    q, k, v = (jnp.asarray(rng.normal(size=(2, 200, 2, 8)).astype(np.float32)) for _ in range(3))
    length = jnp.array([0, 30])      # sample 0 has no valid key at all; sample 1 many empty rows

    def loss(q, k, v):
        return jnp.sum(attention.local_self_attention(q, k, v, length, 120) ** 2)

    out = jax.jit(attention.local_self_attention, static_argnums=4)(q, k, v, length, 120)
    assert np.all(np.isfinite(np.asarray(out)))
    np.testing.assert_array_equal(np.asarray(out[0]), 0.0)
    grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(q, k, v)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))


class _Jitted:
    """A module called through jax.jit (eager NNX calls dispatch op by op: slow)."""

    def __init__(self, module):
        self.module = module
        graphdef, state = nnx.split(module)
        self.fn = jax.jit(lambda *args: nnx.merge(graphdef, state)(*args))

    def __call__(self, *args):
        return self.fn(*args)

    def __getattr__(self, name):
        return getattr(self.module, name)


def _cross_attention(seed=0, dim=16, heads=4):
    return _Jitted(attention.TextCrossAttention(dim, heads, rngs=nnx.Rngs(seed)))


def test_cross_attention_windows_zero_rows_and_sum():
    module = _cross_attention()
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(1, 40, 16)).astype(np.float32))
    text = jnp.asarray(rng.normal(size=(1, 2, 5, 16)).astype(np.float32))
    windows = jnp.array([[[0, 20], [10, 30]]])
    both = np.asarray(module(x, text, windows))
    assert np.all(both[0, 30:] == 0.0)            # outside every window: no text update
    full = lambda t: np.asarray(module(x, t, jnp.array([[[0, 40]]])))
    only0, only1 = full(text[:, :1]), full(text[:, 1:])
    np.testing.assert_allclose(both[0, :10], only0[0, :10], atol=1e-5)
    np.testing.assert_allclose(both[0, 10:20], only0[0, 10:20] + only1[0, 10:20], atol=1e-5)
    np.testing.assert_allclose(both[0, 20:30], only1[0, 20:30], atol=1e-5)


def test_cross_attention_matches_torch_mha_formula():
    """Single caption, full window: softmax(q k^T / sqrt(hd)) v through out_proj, per head."""
    module = _cross_attention(seed=1)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 9, 16)).astype(np.float32)
    text = rng.normal(size=(2, 5, 16)).astype(np.float32)
    out = np.asarray(module(jnp.asarray(x), jnp.asarray(text)[:, None], jnp.array([[[0, 9]]] * 2)))
    p = lambda lin, a: a @ np.asarray(lin.kernel[...]) + np.asarray(lin.bias[...])
    q = p(module.query, x).reshape(2, 9, 4, 4)
    k = p(module.key, text).reshape(2, 5, 4, 4)
    v = p(module.value, text).reshape(2, 5, 4, 4)
    s = np.einsum("bqhd,bkhd->bhqk", q, k) / 2.0
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    ref = p(module.out, np.einsum("bhqk,bkhd->bqhd", a, v).reshape(2, 9, 16))
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_cross_attention_gradients_finite_with_empty_windows():
    module = _cross_attention()
    rng = np.random.default_rng(6)
    x = jnp.asarray(rng.normal(size=(1, 12, 16)).astype(np.float32))
    text = jnp.asarray(rng.normal(size=(1, 2, 5, 16)).astype(np.float32))
    windows = jnp.array([[[3, 3], [0, 4]]])          # caption 0 covers nothing

    def loss(x, text):
        return jnp.sum(module(x, text, windows) ** 2)

    gx, gt = jax.jit(jax.grad(loss, argnums=(0, 1)))(x, text)
    assert np.all(np.isfinite(np.asarray(gx))) and np.all(np.isfinite(np.asarray(gt)))
    np.testing.assert_array_equal(np.asarray(gt[0, 0]), 0.0)   # caption 0 cannot matter


@pytest.mark.parametrize("window", [7, 10])
@pytest.mark.parametrize("num_frames", [11, 23, 40])
def test_blocked_equals_dense_small_and_odd_windows(window, num_frames):
    rng = np.random.default_rng(window * 100 + num_frames)
    q, k, v = (rng.normal(size=(2, num_frames, 1, 4)).astype(np.float32) for _ in range(3))
    length = np.array([num_frames, num_frames - 3])
    fn = jax.jit(lambda q, k, v, n: attention.local_self_attention(q, k, v, n, window, block=1))
    out = np.asarray(fn(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), jnp.asarray(length)))
    ref = _dense_reference(q, k, v, length, window)
    for b in range(2):
        np.testing.assert_allclose(out[b, :length[b]], ref[b, :length[b]], atol=2e-5)
