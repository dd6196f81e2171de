"""RoPE: closed-form rotation, interleaved pairs, scores depend only on relative position."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.model import rope


def test_angles_closed_form():
    angles = rope.rope_angles(300, 16)
    pos = np.arange(300)[:, None]
    k = np.arange(8)
    expected = np.repeat(pos * 10000.0 ** (-2.0 * k / 16), 2, axis=-1)
    np.testing.assert_allclose(angles, expected, rtol=1e-6, atol=1e-4)
    assert angles.dtype == np.float32


def test_rotation_is_complex_multiplication_of_interleaved_pairs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 3, 8)).astype(np.float32)       # (B, L, H, D)
    angles = rope.rope_angles(7, 8)
    out = np.asarray(rope.apply_rope(jnp.asarray(x), angles))
    z = x[..., 0::2] + 1j * x[..., 1::2]
    theta = angles[:, None, 0::2]
    rotated = z * np.exp(1j * theta)
    np.testing.assert_allclose(out[..., 0::2], rotated.real, atol=1e-5)
    np.testing.assert_allclose(out[..., 1::2], rotated.imag, atol=1e-5)
    # a rotation keeps norms
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)


def test_scores_depend_only_on_relative_position():
    rng = np.random.default_rng(1)
    q = jnp.asarray(rng.normal(size=(1, 1, 1, 32)).astype(np.float32))
    k = jnp.asarray(rng.normal(size=(1, 1, 1, 32)).astype(np.float32))
    table = rope.rope_angles(400, 32)

    def score(i, j):
        return float(jnp.sum(rope.apply_rope(q, table[i:i + 1]) * rope.apply_rope(k, table[j:j + 1])))

    for i, j in [(0, 5), (10, 3), (7, 7)]:
        base = score(i, j)
        for shift in (1, 50, 250):
            assert score(i + shift, j + shift) == pytest.approx(base, abs=2e-4)
    # and it does depend on the offset
    assert abs(score(0, 5) - score(0, 9)) > 1e-3


def test_float32_inside_for_bfloat16_inputs():
    x = jnp.ones((1, 4, 2, 8), jnp.bfloat16)
    out = rope.apply_rope(x, rope.rope_angles(4, 8))
    assert out.dtype == jnp.bfloat16
    ref = rope.apply_rope(x.astype(jnp.float32), rope.rope_angles(4, 8))
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref), atol=1e-2)


def test_odd_head_dim_is_an_error():
    with pytest.raises(ValueError, match="even head dimension"):
        rope.rope_angles(4, 7)


def test_traced_angles_equal_the_table():
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda: rope.rope_angles_traced(500, 64))()),
                                  rope.rope_angles(500, 64))
