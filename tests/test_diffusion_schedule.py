"""Cosine schedule, forward noising, posterior and DDIM respacing against closed forms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.diffusion import schedule as sch

# The release's 50-step DDIM timesteps (SPEC B §3), written out by hand.
RELEASE_DDIM50 = [0, 20, 41, 61, 82, 102, 122, 143, 163, 183, 204, 224, 245, 265, 285, 306, 326, 347,
                  367, 387, 408, 428, 449, 469, 489, 510, 530, 550, 571, 591, 612, 632, 652, 673, 693,
                  714, 734, 754, 775, 795, 816, 836, 856, 877, 897, 917, 938, 958, 979, 999]


def test_cosine_schedule_matches_closed_form():
    s = sch.cosine_schedule(1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
    # Away from the clipped last step, ᾱ_t = f(t+1)/f(0) (the product telescopes).
    for t in [0, 1, 10, 500, 900, 998]:
        assert s.alphas_cumprod[t] == pytest.approx(f(t + 1) / f(0), rel=1e-9)
    assert s.betas[-1] == pytest.approx(0.999)
    assert np.all(s.betas[:-1] < 0.999)
    assert s.alphas_cumprod[0] == pytest.approx(0.99996, abs=1e-5)           # SPEC B §3
    assert s.alphas_cumprod[999] == pytest.approx(2.4e-9, rel=0.05)
    assert np.all(np.diff(s.alphas_cumprod) < 0)
    np.testing.assert_allclose(s.alphas_cumprod_prev[1:], s.alphas_cumprod[:-1])


def test_q_sample_is_the_closed_form():
    s = sch.cosine_schedule()
    k1, k2 = jax.random.split(jax.random.key(0))
    x0 = jax.random.normal(k1, (4, 6, 3))
    noise = jax.random.normal(k2, (4, 6, 3))
    t = jnp.array([0, 17, 500, 999], jnp.int32)
    got = np.asarray(sch.q_sample(s, x0, t, noise))
    abar = s.alphas_cumprod[np.asarray(t)][:, None, None]
    want = np.sqrt(abar) * np.asarray(x0) + np.sqrt(1 - abar) * np.asarray(noise)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_q_sample_statistics():
    s = sch.cosine_schedule()
    t = jnp.full((20000,), 300, jnp.int32)
    x0 = jnp.full((20000, 1), 2.0)
    xt = np.asarray(sch.q_sample(s, x0, t, jax.random.normal(jax.random.key(1), x0.shape)))
    abar = s.alphas_cumprod[300]
    assert xt.mean() == pytest.approx(2.0 * math.sqrt(abar), abs=0.03)
    assert xt.var() == pytest.approx(1 - abar, rel=0.05)


def test_posterior_equals_bayes_rule():
    """q(x_{t-1}|x_t,x0) ∝ N(x_{t-1}; √ᾱ_{t-1} x0, 1−ᾱ_{t-1}) · N(x_t; √α_t x_{t-1}, β_t)."""
    s = sch.cosine_schedule()
    rng = np.random.default_rng(0)
    t = np.array([1, 5, 200, 700, 999])
    x0 = rng.normal(size=(5, 3)).astype(np.float32)
    xt = rng.normal(size=(5, 3)).astype(np.float32)
    mean, var = sch.q_posterior(s, jnp.asarray(x0), jnp.asarray(xt), jnp.asarray(t, jnp.int32))
    abar_prev = s.alphas_cumprod[t - 1][:, None]
    beta = s.betas[t][:, None]
    precision = 1 / (1 - abar_prev) + (1 - beta) / beta
    want_var = 1 / precision
    want_mean = want_var * (np.sqrt(abar_prev) * x0 / (1 - abar_prev) + np.sqrt(1 - beta) * xt / beta)
    np.testing.assert_allclose(np.asarray(var) * np.ones((1, 3)), want_var * np.ones((1, 3)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(mean), want_mean, rtol=1e-4, atol=1e-5)


def test_predict_eps_inverts_q_sample():
    s = sch.cosine_schedule()
    k1, k2 = jax.random.split(jax.random.key(3))
    x0 = jax.random.normal(k1, (3, 5, 2))
    eps = jax.random.normal(k2, (3, 5, 2))
    t = jnp.array([3, 400, 990], jnp.int32)
    xt = sch.q_sample(s, x0, t, eps)
    np.testing.assert_allclose(np.asarray(sch.predict_eps_from_x0(s, xt, t, x0)), np.asarray(eps), atol=2e-4)


def test_release_50_step_list_exact():
    got = sch.ddim_timesteps(1000, 50)
    assert got.dtype == np.int32
    assert got.tolist() == RELEASE_DDIM50
    assert sch.space_timesteps(1000, "50") == RELEASE_DDIM50
    assert sch.space_timesteps(1000, 50) == RELEASE_DDIM50


def _reference_section(start, size, count):
    """guided-diffusion's rule written another way: sequentially accumulated float stride
    (np.cumsum adds in order, like the reference's `cur_idx += frac_stride`), round half even."""
    stride = 1.0 if count <= 1 else (size - 1) / (count - 1)
    positions = np.cumsum(np.concatenate([[0.0], np.full(count - 1, stride)]))
    return (start + np.round(positions).astype(int)).tolist()


@pytest.mark.parametrize("count", [1, 2, 5, 10, 21, 23, 25, 49, 50, 59, 100, 250, 333, 999, 1000])
def test_respacing_matches_reference_rule(count):
    got = sch.space_timesteps(1000, count)
    assert got == sorted(set(_reference_section(0, 1000, count)))
    assert len(got) == count
    assert got[0] == 0
    if count > 1:
        assert got[-1] == 999


def test_respacing_sections_and_ddim_stride():
    # Sections: 300 steps split into 3 x 100, with 10, 15 and 20 steps in each.
    got = sch.space_timesteps(300, "10,15,20")
    want = _reference_section(0, 100, 10) + _reference_section(100, 100, 15) + _reference_section(200, 100, 20)
    assert got == sorted(set(want)) and len(got) == 45
    assert sch.space_timesteps(1000, "ddim50") == list(range(0, 1000, 20))
    with pytest.raises(ValueError):
        sch.space_timesteps(10, "ddim7")
    with pytest.raises(ValueError):
        sch.ddim_timesteps(1000, 0)
    with pytest.raises(ValueError):
        sch.space_timesteps(10, [11])
