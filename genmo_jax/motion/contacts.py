"""Contact (static-joint) labels from world joint speed (SPEC B 2.8)."""

import jax
import jax.numpy as jnp

__all__ = ["CONTACT_SPEED_THRESHOLD", "joint_speed", "contact_labels"]

CONTACT_SPEED_THRESHOLD = 0.15  # m/s


@jax.jit
def joint_speed(joints_w, fps=30.0):
    """Forward-difference speed |p[t+1] - p[t]| * fps, last frame repeated.

    (..., L, J, 3) metres -> (..., L, J) metres per second. A single frame gives speed 0.
    """
    joints_w = jnp.asarray(joints_w)
    if joints_w.shape[-3] < 2:
        return jnp.zeros(joints_w.shape[:-1], joints_w.dtype)
    step = jnp.linalg.norm(joints_w[..., 1:, :, :] - joints_w[..., :-1, :, :], axis=-1) * fps
    return jnp.concatenate([step, step[..., -1:, :]], axis=-2)


@jax.jit
def contact_labels(joints_w, threshold=CONTACT_SPEED_THRESHOLD, fps=30.0):
    """True where a joint is static (speed < threshold m/s): (..., L, J, 3) -> (..., L, J) bool.

    Pass the contact joints, e.g. `joints_w[..., skeletons.CONTACT_JOINTS, :]`, to get the six
    contact-head targets. (The release divides by 0.033 s, i.e. fps ~ 30.3.)
    """
    return joint_speed(joints_w, fps) < threshold
