"""DDIM sampler, guidance and estimation mode against closed forms on a toy Gaussian world."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.diffusion import sampler as smp
from genmo_jax.diffusion import schedule as sch

SCHEDULE = sch.cosine_schedule(1000)
# Toy data: x0 ~ N(MU, SIGMA²) independently per dimension.
MU = np.array([1.5, -0.5, 0.0, 3.0])
SIGMA = np.array([0.5, 1.0, 2.0, 0.2])


def optimal_x0_gain(t):
    """E[x0 | x_t] = MU + k (x_t − √ᾱ MU) with k = √ᾱ σ² / (ᾱ σ² + 1 − ᾱ) (Gaussian conditioning)."""
    abar = SCHEDULE.alphas_cumprod[t]
    return np.sqrt(abar) * SIGMA ** 2 / (abar * SIGMA ** 2 + 1 - abar), abar


def gaussian_model_fn(x, t, shrink=1.0):
    """The exact posterior-mean x0 predictor for the toy data, (N, L, 4) -> {"x0": (N, L, 4)};
    `shrink` < 1 miscalibrates its gain so that the sampled distribution depends on eta."""
    abar = jnp.asarray(SCHEDULE.alphas_cumprod, jnp.float32)[t][:, None, None]
    mu, var = jnp.asarray(MU, jnp.float32), jnp.asarray(SIGMA ** 2, jnp.float32)
    gain = shrink * jnp.sqrt(abar) * var / (abar * var + 1 - abar)
    return {"x0": mu + gain * (x - jnp.sqrt(abar) * mu)}


def ddpm_ancestral_moments(shrink=1.0):
    """Exact mean/variance after ancestral DDPM (posterior mean + β̃ noise, DDPM eq. 6-7) from
    x_999 ~ N(0, 1), in float64: every step is affine in x for this predictor."""
    m, v = np.zeros(4), np.ones(4)
    for t in range(999, -1, -1):
        gain, abar = optimal_x0_gain(t)
        gain = shrink * gain
        abar_prev = SCHEDULE.alphas_cumprod_prev[t]
        beta = SCHEDULE.betas[t]
        c_x0 = beta * np.sqrt(abar_prev) / (1 - abar)
        c_xt = (1 - abar_prev) * np.sqrt(1 - beta) / (1 - abar)
        slope = c_x0 * gain + c_xt
        offset = c_x0 * MU * (1 - gain * np.sqrt(abar))
        m, v = slope * m + offset, slope ** 2 * v
        if t > 0:
            v = v + beta * (1 - abar_prev) / (1 - abar)
    return m, v


def ddim_eta0_reference(x_T, timesteps):
    """DDIM (Song et al. eq. 12, η = 0) in float64 numpy, step by step on explicit samples."""
    x = np.asarray(x_T, np.float64)
    ts = sorted(timesteps)[::-1]
    for i, t in enumerate(ts):
        gain, abar = optimal_x0_gain(t)
        x0 = MU + gain * (x - np.sqrt(abar) * MU)
        abar_prev = SCHEDULE.alphas_cumprod[ts[i + 1]] if i + 1 < len(ts) else 1.0
        eps = (x - np.sqrt(abar) * x0) / np.sqrt(1 - abar)
        x = np.sqrt(abar_prev) * x0 + np.sqrt(1 - abar_prev) * eps
    return x


@pytest.mark.parametrize("shrink", [1.0, 0.7])
def test_ddim_eta1_all_steps_matches_ancestral_ddpm_statistics(shrink):
    n = 6000
    x_T = jax.random.normal(jax.random.key(0), (n, 1, 4))
    model_fn = functools.partial(gaussian_model_fn, shrink=shrink)
    sample = jax.jit(lambda x, eta, rng: smp.ddim_sample(model_fn, x, schedule=SCHEDULE, timesteps=np.arange(1000),
                                                         eta=eta, rng=rng))
    m_ref, v_ref = ddpm_ancestral_moments(shrink)
    if shrink == 1.0:
        # The exact DDPM chain with the optimal predictor lands (nearly) on the data distribution.
        np.testing.assert_allclose(m_ref, MU, atol=0.02)
        np.testing.assert_allclose(np.sqrt(v_ref), SIGMA, rtol=0.05)

    def z_scores(eta):
        x0 = np.asarray(sample(x_T, eta, jax.random.key(1))["x0"])[:, 0]
        return np.abs(x0.mean(0) - m_ref) / np.sqrt(v_ref / n), np.abs(x0.var(0) / v_ref - 1) / np.sqrt(2 / n)

    # Our DDIM(η=1, 1000 steps) samples have the ancestral chain's moments (5 standard errors).
    mean_z, var_z = z_scores(1.0)
    assert np.all(mean_z < 5) and np.all(var_z < 5), (mean_z, var_z)
    if shrink != 1.0:
        # With a miscalibrated predictor the deterministic sampler lands elsewhere: the test can fail.
        mean_z, var_z = z_scores(0.0)
        assert np.max(var_z) > 20, var_z


def test_ddim_eta1_step_is_the_ddpm_posterior():
    """With consecutive timesteps and η = 1, one DDIM step = posterior mean + √β̃ · noise, exactly."""
    tables = smp._step_tables(SCHEDULE, np.arange(1000))
    rng = np.random.default_rng(0)
    for i in [0, 1, 500, 998, 999]:
        t = int(tables["t"][i])
        coef = {k: jnp.asarray(v[i], jnp.float32 if k not in ("t", "is_last") else None) for k, v in tables.items()}
        xt, x0, noise = (jnp.asarray(rng.normal(size=(2, 3, 4)), jnp.float32) for _ in range(3))
        got = smp.ddim_update(xt, x0, coef, 1.0, noise)
        mean, var = sch.q_posterior(SCHEDULE, x0, xt, jnp.full((2,), t, jnp.int32))
        want = mean + (jnp.sqrt(var) if t > 0 else 0.0) * noise
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-4, atol=2e-4)


def test_ddim_eta0_50_steps_matches_float64_reference():
    timesteps = sch.ddim_timesteps(1000, 50)
    x_T = jax.random.normal(jax.random.key(2), (64, 3, 4))
    got = jax.jit(lambda x: smp.ddim_sample(gaussian_model_fn, x, schedule=SCHEDULE, timesteps=timesteps))(x_T)
    want = ddim_eta0_reference(np.asarray(x_T), timesteps.tolist())
    np.testing.assert_allclose(np.asarray(got["x0"]), want, rtol=1e-4, atol=1e-4)


def _conditional_toy(weights):
    """A toy denoiser with heads x0 (D), pred_cam (3), contact (6); `cond` (N, L, 2) is its condition."""
    w_x, w_c, w_cam, w_contact = weights

    def apply(x, t, cond):
        h = jnp.tanh(x @ w_x + cond @ w_c + 1e-3 * t[:, None, None])
        return {"x0": h[..., :4], "pred_cam": h @ w_cam, "contact": h @ w_contact}

    return apply


def _weights(seed):
    ks = jax.random.split(jax.random.key(seed), 4)
    return (jax.random.normal(ks[0], (4, 8)) * 0.5, jax.random.normal(ks[1], (2, 8)),
            jax.random.normal(ks[2], (8, 3)), jax.random.normal(ks[3], (8, 6)))


def test_guidance_scale_one_equals_conditional_output():
    apply = _conditional_toy(_weights(0))
    cond = jax.random.normal(jax.random.key(5), (3, 7, 2))
    doubled = jnp.concatenate([cond, jnp.zeros_like(cond)])  # unconditional rows: condition dropped
    x_T = jax.random.normal(jax.random.key(6), (3, 7, 4))
    kw = dict(schedule=SCHEDULE, timesteps=sch.ddim_timesteps(1000, 20), eta=0.5, rng=jax.random.key(7))
    guided = jax.jit(lambda x: smp.ddim_sample(lambda xx, tt: apply(xx, tt, doubled), x, guidance_scale=1.0, **kw))(x_T)
    plain = jax.jit(lambda x: smp.ddim_sample(lambda xx, tt: apply(xx, tt, cond), x, **kw))(x_T)
    for key in ("x0", "pred_cam", "contact"):
        np.testing.assert_allclose(np.asarray(guided[key]), np.asarray(plain[key]), atol=1e-5)
    # And guidance really changes the result at the release's scale.
    strong = smp.ddim_sample(lambda xx, tt: apply(xx, tt, doubled), x_T, guidance_scale=2.5, **kw)
    assert np.abs(np.asarray(strong["x0"]) - np.asarray(plain["x0"])).max() > 1e-2


def test_guidance_blends_every_head_from_one_doubled_call():
    apply = _conditional_toy(_weights(1))
    cond = jax.random.normal(jax.random.key(8), (2, 5, 2))
    uncond = jnp.zeros_like(cond)
    seen_batches = []

    def model_fn(x, t):
        seen_batches.append(x.shape[0])
        return apply(x, t, jnp.concatenate([cond, uncond]))

    x = jax.random.normal(jax.random.key(9), (2, 5, 4))
    t = jnp.array([999, 999], jnp.int32)
    got = smp.guided_model_fn(model_fn, 2.5)(x, t)
    assert seen_batches == [4]
    c, u = apply(x, t, cond), apply(x, t, uncond)
    for key in ("x0", "pred_cam", "contact"):
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(u[key] + 2.5 * (c[key] - u[key])), atol=1e-5)


def test_sampler_traces_the_model_once_for_any_step_count():
    calls = []

    def model_fn(x, t):
        calls.append(x.shape)
        return gaussian_model_fn(x, t)

    x_T = jnp.zeros((2, 9, 4))
    for steps in (5, 50):
        calls.clear()
        fn = jax.jit(lambda x: smp.ddim_sample(model_fn, x, schedule=SCHEDULE, timesteps=sch.ddim_timesteps(1000, steps),
                                               guidance_scale=2.0))
        jaxpr = jax.make_jaxpr(fn)(x_T)
        assert len(calls) <= 2, calls            # eval_shape + the loop body, not once per step
        assert all(shape[0] == 4 for shape in calls)
        assert "while" in str(jaxpr) or "scan" in str(jaxpr)


@pytest.mark.parametrize("shape", [(1, 7, 4), (3, 300, 4)])
def test_sampler_any_batch_and_length(shape):
    out = smp.ddim_sample(gaussian_model_fn, jax.random.normal(jax.random.key(0), shape), schedule=SCHEDULE,
                          timesteps=sch.ddim_timesteps(1000, 10), eta=1.0, rng=jax.random.key(1))
    assert out["x0"].shape == shape and np.all(np.isfinite(np.asarray(out["x0"])))


def test_keyframes_pass_through_the_closure():
    """In-betweening lives in the denoiser: a toy that overwrites keyframe dims of x_t before
    predicting must return exactly the keyframes there, with and without guidance."""
    length = 30
    mask = jnp.zeros((1, length, 4)).at[:, jnp.array([0, 10, 29]), :3].set(1.0)
    keyframes = jax.random.normal(jax.random.key(3), (1, length, 4))

    def denoiser(x, t, kf, m):
        x = x * (1 - m) + kf * m                                # the release's clean overwrite
        smoothed = (jnp.roll(x, 1, axis=1) + x + jnp.roll(x, -1, axis=1)) / 3
        return {"x0": smoothed * (1 - m) + kf * m}

    x_T = jax.random.normal(jax.random.key(4), (1, length, 4))
    kw = dict(schedule=SCHEDULE, timesteps=sch.ddim_timesteps(1000, 25))
    plain = smp.ddim_sample(lambda x, t: denoiser(x, t, keyframes, mask), x_T, **kw)["x0"]
    doubled = lambda a: jnp.concatenate([a, a])
    guided = smp.ddim_sample(lambda x, t: denoiser(x, t, doubled(keyframes), doubled(mask)), x_T,
                             guidance_scale=2.5, **kw)["x0"]
    for result in (plain, guided):
        on_keys = np.asarray(mask, bool)
        np.testing.assert_allclose(np.asarray(result)[on_keys], np.asarray(keyframes)[on_keys], atol=1e-5)
        assert np.abs(np.asarray(result)[~on_keys] - np.asarray(x_T)[~on_keys]).max() > 1e-3


def test_estimation_mode_is_one_deterministic_pass_at_t999():
    apply = _conditional_toy(_weights(2))
    cond = jax.random.normal(jax.random.key(10), (2, 11, 2))
    seen = []

    def model_fn(x, t):
        seen.append(1)
        return apply(x, t, cond)

    fn = jax.jit(lambda: smp.estimate(model_fn, (2, 11, 4)))
    first, second = fn(), fn()
    assert len(seen) == 1
    want = apply(jnp.zeros((2, 11, 4)), jnp.full((2,), 999, jnp.int32), cond)
    for key in want:
        np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(second[key]))
        np.testing.assert_allclose(np.asarray(first[key]), np.asarray(want[key]), atol=1e-6)


def test_deterministic_sampler_repeats_and_errors_are_clear():
    x_T = jax.random.normal(jax.random.key(11), (2, 5, 4))
    kw = dict(schedule=SCHEDULE, timesteps=sch.ddim_timesteps(1000, 8))
    a = smp.ddim_sample(gaussian_model_fn, x_T, **kw)["x0"]
    b = smp.ddim_sample(gaussian_model_fn, x_T, **kw)["x0"]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="rng"):
        smp.ddim_sample(gaussian_model_fn, x_T, eta=1.0, **kw)
    with pytest.raises(ValueError, match="x0"):
        smp.ddim_sample(lambda x, t: {"motion": x}, x_T, **kw)
    with pytest.raises(ValueError, match="timesteps"):
        smp.ddim_sample(gaussian_model_fn, x_T, schedule=SCHEDULE, timesteps=[5, 5, 1000])
