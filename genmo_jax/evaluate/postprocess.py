"""Test-time post-processing of the estimation benchmarks: the static-joint translation fix
(SPEC B 6.4 step 1; GVHMR / GEM `postprocess.pp_static_joint`), as a pure jnp function.

Given world joints from FK, the world root translation and the contact logits of the six contact
joints [L_ankle 7, L_foot 10, R_ankle 8, R_foot 11, L_wrist 20, R_wrist 21]:
  d[t] = p[t+1] - p[t] of the contact joints (t < L-1), with the logits of frame t;
  weights = softmax over the joints whose logit > 0 (the others get logit - 1e6); a step with no
  positive joint gets no correction;
  transl increments minus the weighted joint displacement, re-integrated from transl[0];
  x and z Gaussian-smoothed (sigma 3 frames, radius 12, replicate padding);
  y shifted so that the lowest joint over the whole sequence (joints moved with the new
  translation) is at height 0.
With `length` (valid frames; the arrays may be padded beyond it, e.g. to a compile bucket),
padded frames never change the valid ones: steps from the last valid frame on get no correction,
the smoothing replicates the last valid value and the ground is the lowest valid joint.
The contact IK step (CCD on four chains) is `contact_ik`.
"""

import jax
import jax.numpy as jnp

from genmo_jax.motion.rollout import gaussian_smooth

CONTACT_JOINTS = (7, 10, 8, 11, 20, 21)


@jax.jit
def static_joint_translation(joints_w, transl_w, contact_logits, length=None):
    """(..., L, J, 3) world joints, (..., L, 3) translation, (..., L, 6) logits -> new (..., L, 3).

    length: optional (...,) int valid frames (default: all L)."""
    joints_w, transl_w, contact_logits = jnp.asarray(joints_w), jnp.asarray(transl_w), jnp.asarray(contact_logits)
    if contact_logits.shape[-1] != len(CONTACT_JOINTS) or transl_w.shape[-1] != 3:
        raise ValueError(f"need transl (..., L, 3) and contact logits (..., L, 6); got {transl_w.shape}, "
                         f"{contact_logits.shape}")
    contact = joints_w[..., jnp.array(CONTACT_JOINTS), :]
    step = contact[..., 1:, :, :] - contact[..., :-1, :, :]  # (..., L-1, 6, 3)
    logits = contact_logits[..., :-1, :]
    static = logits > 0
    weights = jax.nn.softmax(jnp.where(static, logits, logits - 1e6), axis=-1)
    correction = jnp.sum(step * weights[..., None], axis=-2) * static.any(-1)[..., None]  # (..., L-1, 3)
    num_frames = transl_w.shape[-2]
    if length is not None:  # steps t -> t+1 with t+1 >= length touch padding
        inside = jnp.arange(num_frames - 1) < jnp.asarray(length)[..., None] - 1
        correction = correction * inside[..., None]
    increments = transl_w[..., 1:, :] - transl_w[..., :-1, :] - correction
    new = jnp.concatenate([transl_w[..., :1, :], transl_w[..., :1, :] + jnp.cumsum(increments, axis=-2)], axis=-2)
    smooth_length = None if length is None else jnp.asarray(length)[..., None]  # one per smoothed channel
    smoothed = jnp.moveaxis(gaussian_smooth(jnp.moveaxis(new[..., [0, 2]], -1, -2), length=smooth_length), -2, -1)
    new = new.at[..., 0].set(smoothed[..., 0]).at[..., 2].set(smoothed[..., 1])
    moved = joints_w - transl_w[..., None, :] + new[..., None, :]
    heights = moved[..., 1]
    if length is not None:
        valid = jnp.arange(num_frames) < jnp.asarray(length)[..., None]
        heights = jnp.where(valid[..., None], heights, jnp.inf)
    ground = jnp.min(heights, axis=(-2, -1))
    return new.at[..., 1].add(-ground[..., None])
