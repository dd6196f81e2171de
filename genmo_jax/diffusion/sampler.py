"""DDIM sampling with classifier-free guidance, and estimation mode (SPEC A8, B §3).

Model protocol
--------------
    model_fn(x_t, t) -> dict[str, array]
        x_t: (N, L, D) float32, the noisy normalised motion;
        t:   (N,) int32, ORIGINAL timesteps in 0..T-1 (never respaced indices);
        returns a dict of (N, L, ·) arrays that contains at least "x0" (N, L, D), the
        predicted clean motion. Other heads (pred_cam, contact logits, hidden states, ...) are
        carried along and guided the same way.

`model_fn` is a closure over the network parameters and the conditions; it is traced once
inside the jitted loop. With guidance the sampler calls it ONCE per step on the doubled batch
`concat([x, x])` (2B rows) with the same timesteps twice: rows [:B] must be computed with the
conditional inputs and rows [B:] with the unconditional ones (text, music and audio dropped;
video, 2D and camera kept). The caller builds these doubled conditions. Every output head is
then blended as out = u + s·(c − u) (the release applies it to every key).

Keyframe in-betweening lives inside the denoiser (it overwrites the keyframe dims of x_t with
clean values before its input stem, SPEC B §3.4); the keyframes reach it through the closure,
so nothing here knows about them.

Everything here is pure jnp and jit-able; the step loop is a `lax.fori_loop`, so one compiled
program serves any number of steps given as a static timestep list, for any batch and length.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.diffusion.schedule import NoiseSchedule

ModelFn = Callable[[jnp.ndarray, jnp.ndarray], dict]


def guided_model_fn(model_fn: ModelFn, guidance_scale) -> ModelFn:
    """Wraps `model_fn` with classifier-free guidance on the doubled batch.

    The returned function takes x (B, L, D), t (B,) and returns a dict of (B, ...) arrays,
    u + s·(c − u) for every key, where c = rows [:B] and u = rows [B:] of one call to
    `model_fn(concat([x, x]), concat([t, t]))`. `guidance_scale` may be a traced scalar.
    """

    def call(x, t):
        batch = x.shape[0]
        out = model_fn(jnp.concatenate([x, x], axis=0), jnp.concatenate([t, t], axis=0))

        def blend(value):
            if value.shape[0] != 2 * batch:
                raise ValueError(
                    f"model_fn output has leading size {value.shape[0]}, expected the doubled batch {2 * batch}")
            cond, uncond = value[:batch], value[batch:]
            return uncond + guidance_scale * (cond - uncond)

        return jax.tree.map(blend, out)

    return call


def _step_tables(schedule: NoiseSchedule, timesteps) -> dict[str, np.ndarray]:
    """Per-step coefficients in the order they are visited (largest t first), float64 on host."""
    timesteps = np.asarray(timesteps)
    if timesteps.ndim != 1 or timesteps.size == 0:
        raise ValueError("timesteps must be a non-empty 1-D list of original timesteps")
    timesteps = np.sort(timesteps.astype(np.int64))
    if np.any(np.diff(timesteps) == 0) or timesteps[0] < 0 or timesteps[-1] >= schedule.num_timesteps:
        raise ValueError(f"timesteps must be distinct and in 0..{schedule.num_timesteps - 1}")
    abar = schedule.alphas_cumprod[timesteps]
    # The respaced chain's ᾱ_prev is ᾱ at the previously visited step (1 before the first).
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    tables = {
        "t": timesteps.astype(np.int32),
        "recip": np.sqrt(1.0 / abar),                 # x_t/√ᾱ
        "recipm1": np.sqrt(1.0 / abar - 1.0),         # √(1/ᾱ − 1)
        "sqrt_abar_prev": np.sqrt(abar_prev),
        "one_minus_abar_prev": 1.0 - abar_prev,
        # σ = η · √((1 − ᾱ_prev)/(1 − ᾱ)) · √(1 − ᾱ/ᾱ_prev)   (DDIM eq. 16)
        "sigma_per_eta": np.sqrt((1.0 - abar_prev) / (1.0 - abar)) * np.sqrt(1.0 - abar / abar_prev),
        "is_last": (np.arange(timesteps.size) == 0),  # the t = τ_0 step adds no noise
    }
    return {k: v[::-1].copy() for k, v in tables.items()}


def ddim_update(x_t, x0, coef: dict, eta, noise):
    """One DDIM step from x_t to x_{t_prev} given the predicted x0 (guided-diffusion `ddim_sample`).

    x_t, x0, noise: (B, L, D); coef: scalars of `_step_tables` for this step; eta: scalar.
    """
    eps = (coef["recip"] * x_t - x0) / coef["recipm1"]
    sigma = eta * coef["sigma_per_eta"]
    direction = jnp.sqrt(jnp.maximum(coef["one_minus_abar_prev"] - sigma ** 2, 0.0))
    mean = coef["sqrt_abar_prev"] * x0 + direction * eps
    return mean + jnp.where(coef["is_last"], 0.0, sigma) * noise


def ddim_sample(model_fn: ModelFn, x_T: jnp.ndarray, *, schedule: NoiseSchedule, timesteps,
                eta=0.0, guidance_scale=None, rng: jax.Array | None = None) -> dict:
    """DDIM from x_T down to t = timesteps[0], optionally with classifier-free guidance.

    Args:
      model_fn: see the module docstring.
      x_T: (B, L, D) float32 initial noise (N(0, I) in the release).
      schedule: the training noise schedule (`cosine_schedule()`).
      timesteps: static list of original timesteps to visit, e.g. `ddim_timesteps(1000, 50)`;
        1000 consecutive steps with eta = 1 is ancestral DDPM sampling.
      eta: DDIM stochasticity, 0 = deterministic (the release's test setting). May be traced.
      guidance_scale: None for one conditional call per step; otherwise the CFG scale s (the
        release uses 2.5) and `model_fn` gets the doubled batch. May be traced.
      rng: key for the per-step noise; required unless eta is the Python number 0.

    Returns:
      The (guided) output dict of the last step, each (B, L, ·); its "x0" is the final sample.
    """
    if rng is None and not (isinstance(eta, (int, float)) and eta == 0):
        raise ValueError("ddim_sample needs rng when eta may be non-zero")
    call = model_fn if guidance_scale is None else guided_model_fn(model_fn, guidance_scale)
    tables = {k: jnp.asarray(v, dtype=jnp.int32 if k == "t" else (bool if k == "is_last" else jnp.float32))
              for k, v in _step_tables(schedule, timesteps).items()}
    num_steps = int(tables["t"].shape[0])
    batch = x_T.shape[0]
    x_T = x_T.astype(jnp.float32)

    out_shapes = jax.eval_shape(call, x_T, jnp.zeros((batch,), jnp.int32))
    if "x0" not in out_shapes:
        raise ValueError(f"model_fn must return a dict with key 'x0', got keys {sorted(out_shapes)}")
    out_init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), out_shapes)

    def body(i, carry):
        x, _ = carry
        coef = {k: v[i] for k, v in tables.items()}
        out = call(x, jnp.full((batch,), coef["t"], jnp.int32))
        noise = jnp.zeros_like(x) if rng is None else jax.random.normal(jax.random.fold_in(rng, i), x.shape, x.dtype)
        x_next = ddim_update(x, out["x0"].astype(jnp.float32), coef, eta, noise)
        return x_next, out

    x_final, out = jax.lax.fori_loop(0, num_steps, body, (x_T, out_init))
    # At the last step ᾱ_prev = 1 and no noise is added, so x_final equals that step's x0.
    return {**out, "x0": x_final}


def estimate(model_fn: ModelFn, shape, *, num_timesteps: int = 1000) -> dict:
    """Estimation ("regression") mode: one pass on x_t = 0 at the largest timestep T − 1.

    shape: (B, L, D) of the motion. Returns `model_fn`'s output dict, its "x0" the estimate.
    """
    batch = shape[0]
    return model_fn(jnp.zeros(shape, jnp.float32), jnp.full((batch,), num_timesteps - 1, jnp.int32))
