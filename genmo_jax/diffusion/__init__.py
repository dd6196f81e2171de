"""Diffusion for GENMO: cosine schedule, forward noising, DDIM with guidance, estimation mode.

    from genmo_jax.diffusion import cosine_schedule, ddim_timesteps, ddim_sample, estimate, q_sample
"""

from genmo_jax.diffusion.sampler import ddim_sample, estimate, guided_model_fn
from genmo_jax.diffusion.schedule import (NoiseSchedule, cosine_schedule, ddim_timesteps, q_posterior, q_sample,
                                          space_timesteps)

__all__ = ["NoiseSchedule", "cosine_schedule", "ddim_sample", "ddim_timesteps", "estimate", "guided_model_fn",
           "q_posterior", "q_sample", "space_timesteps"]
