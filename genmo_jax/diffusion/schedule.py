"""The diffusion noise schedule: cosine betas, forward noising, posterior, DDIM respacing.

SPEC B §3 (the GEM release, OpenAI guided-diffusion lineage): T = 1000 steps, cosine schedule
(Nichol & Dhariwal) ᾱ(t) = cos²(((t/T + 0.008)/1.008)·π/2), β_t = min(1 − ᾱ(t+1)/ᾱ(t), 0.999),
the network predicts x0, variance FIXED_SMALL (the DDPM posterior variance).

Index convention (guided-diffusion's): timestep t ∈ {0, ..., T-1}; `alphas_cumprod[t]` is the
signal level of x_t, so even t = 0 is slightly noisy (ᾱ_0 ≈ 0.99996) and x0 is the clean data.

Tables are built once on the host in float64 (as guided-diffusion does) and gathered as float32
constants inside jitted code. The timestep fed to the network is always the ORIGINAL 0..T-1
index, also after respacing (`rescale_timesteps = False` in the release).
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """Per-timestep tables, each (T,) float64 numpy, indexed by the original timestep t."""

    betas: np.ndarray
    alphas_cumprod: np.ndarray        # ᾱ_t
    alphas_cumprod_prev: np.ndarray   # ᾱ_{t-1}, with ᾱ_{-1} := 1

    @property
    def num_timesteps(self) -> int:
        return int(self.betas.shape[0])

    @property
    def posterior_variance(self) -> np.ndarray:
        """β̃_t = β_t (1 − ᾱ_{t-1}) / (1 − ᾱ_t): variance of q(x_{t-1} | x_t, x0)."""
        return self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    @property
    def posterior_mean_coef_x0(self) -> np.ndarray:
        return self.betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    @property
    def posterior_mean_coef_xt(self) -> np.ndarray:
        return (1.0 - self.alphas_cumprod_prev) * np.sqrt(1.0 - self.betas) / (1.0 - self.alphas_cumprod)


def betas_for_alpha_bar(num_timesteps: int, alpha_bar, max_beta: float = 0.999) -> np.ndarray:
    """β_i = min(1 − ᾱ((i+1)/T) / ᾱ(i/T), max_beta) for i in 0..T-1, float64 (T,)."""
    t = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
    abar = alpha_bar(t)
    return np.minimum(1.0 - abar[1:] / abar[:-1], max_beta)


def cosine_alpha_bar(t: np.ndarray, offset: float = 0.008) -> np.ndarray:
    """Continuous-time cosine signal level ᾱ(t), t ∈ [0, 1] (Nichol & Dhariwal 2021, eq. 17)."""
    return np.cos((t + offset) / (1.0 + offset) * math.pi / 2) ** 2


def schedule_from_betas(betas: np.ndarray) -> NoiseSchedule:
    """Builds the tables for any β sequence, float64 (T,) in (0, 1]."""
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or not np.all((betas > 0) & (betas <= 1)):
        raise ValueError("betas must be a 1-D array with values in (0, 1]")
    alphas_cumprod = np.cumprod(1.0 - betas)
    alphas_cumprod_prev = np.concatenate([[1.0], alphas_cumprod[:-1]])
    return NoiseSchedule(betas=betas, alphas_cumprod=alphas_cumprod, alphas_cumprod_prev=alphas_cumprod_prev)


def cosine_schedule(num_timesteps: int = 1000) -> NoiseSchedule:
    """The release's schedule (SPEC B §3): cosine ᾱ, β clipped at 0.999, T = `num_timesteps`."""
    if num_timesteps < 1:
        raise ValueError(f"num_timesteps must be >= 1, got {num_timesteps}")
    return schedule_from_betas(betas_for_alpha_bar(num_timesteps, cosine_alpha_bar))


def _gather(table: np.ndarray, t: jnp.ndarray, ndim: int) -> jnp.ndarray:
    """table[t] as float32, shaped (N, 1, ..., 1) to broadcast against an (N, ...) array of rank ndim."""
    values = jnp.asarray(table, dtype=jnp.float32)[t]
    return values.reshape(values.shape + (1,) * (ndim - values.ndim))


def q_sample(schedule: NoiseSchedule, x0: jnp.ndarray, t: jnp.ndarray, noise: jnp.ndarray) -> jnp.ndarray:
    """Forward noising x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.

    x0, noise: (N, ...) ; t: (N,) int32 original timesteps. Returns (N, ...) like x0.
    """
    sqrt_abar = _gather(np.sqrt(schedule.alphas_cumprod), t, x0.ndim)
    sqrt_one_minus = _gather(np.sqrt(1.0 - schedule.alphas_cumprod), t, x0.ndim)
    return (sqrt_abar * x0 + sqrt_one_minus * noise).astype(x0.dtype)


def q_posterior(schedule: NoiseSchedule, x0: jnp.ndarray, x_t: jnp.ndarray, t: jnp.ndarray):
    """Mean and variance of q(x_{t-1} | x_t, x0) (DDPM eq. 6-7).

    x0, x_t: (N, ...); t: (N,) int32. Returns (mean (N, ...), variance (N, 1, ..., 1)).
    """
    mean = (_gather(schedule.posterior_mean_coef_x0, t, x0.ndim) * x0
            + _gather(schedule.posterior_mean_coef_xt, t, x0.ndim) * x_t)
    return mean, _gather(schedule.posterior_variance, t, x0.ndim)


def predict_eps_from_x0(schedule: NoiseSchedule, x_t: jnp.ndarray, t: jnp.ndarray, x0: jnp.ndarray) -> jnp.ndarray:
    """ε = (x_t/√ᾱ_t − x0) / √(1/ᾱ_t − 1), the noise implied by an x0 prediction. Shapes (N, ...)."""
    recip = _gather(np.sqrt(1.0 / schedule.alphas_cumprod), t, x_t.ndim)
    recipm1 = _gather(np.sqrt(1.0 / schedule.alphas_cumprod - 1.0), t, x_t.ndim)
    return (recip * x_t - x0) / recipm1


# ----------------------------------------------------------------------------- respacing


def space_timesteps(num_timesteps: int, section_counts) -> list[int]:
    """guided-diffusion's `space_timesteps`: which original steps a respaced sampler visits.

    `section_counts` is an int, a list of ints, a comma-separated string ("10,15,20": split the T
    steps into equal sections and take that many evenly rounded steps from each), or "ddimN"
    (the fixed integer stride that gives exactly N steps). Returns the sorted list of timesteps.

    The rounding follows the reference exactly (accumulated float stride, Python's round-half-even),
    so `space_timesteps(1000, 50)` is the release's list {0, 20, 41, 61, ..., 979, 999}.
    """
    if isinstance(section_counts, str):
        if section_counts.startswith("ddim"):
            desired = int(section_counts[len("ddim"):])
            for stride in range(1, num_timesteps):
                if len(range(0, num_timesteps, stride)) == desired:
                    return list(range(0, num_timesteps, stride))
            raise ValueError(f"cannot create exactly {desired} steps with an integer stride from {num_timesteps}")
        section_counts = [int(x) for x in section_counts.split(",")]
    elif isinstance(section_counts, int):
        section_counts = [section_counts]
    section_counts = list(section_counts)
    if not section_counts or any(c < 1 for c in section_counts):
        raise ValueError(f"section counts must be positive, got {section_counts}")
    size_per = num_timesteps // len(section_counts)
    extra = num_timesteps % len(section_counts)
    start = 0
    steps = []
    for i, count in enumerate(section_counts):
        size = size_per + (1 if i < extra else 0)
        if size < count:
            raise ValueError(f"cannot divide a section of {size} steps into {count}")
        frac_stride = 1 if count <= 1 else (size - 1) / (count - 1)
        cur = 0.0
        for _ in range(count):
            steps.append(start + round(cur))
            cur += frac_stride
        start += size
    return sorted(set(steps))


def ddim_timesteps(num_timesteps: int, num_steps: int) -> np.ndarray:
    """The release's DDIM respacing (`timestep_respacing = str(num_steps)`): sorted int32 (num_steps,)."""
    if not 1 <= num_steps <= num_timesteps:
        raise ValueError(f"sample steps must be in 1..{num_timesteps}, got {num_steps}")
    return np.asarray(space_timesteps(num_timesteps, str(num_steps)), dtype=np.int32)
