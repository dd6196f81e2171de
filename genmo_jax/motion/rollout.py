"""World-frame recovery from decoded GV values and camera angular velocity (SPEC B 1.4).

The world frame of the result is the GV frame of frame 0 ("GV0"): y-up, heading of the first
camera along +z, root translation starting at 0. Steps, per sequence:
  R_c2gv[t] = R_gv[t] R_c[t]^T; the camera optical axis in GV_t before and after the camera
  motion R_{t->t+1} (from cam_angvel[t]) gives the yaw step theta[t] between GV_t and GV_{t+1}
  (horizontal headings; atan2, exact also for tiny steps); optional Gaussian smoothing of theta
  (sigma 3 frames, radius 12, replicate padding); R_{t->0} = yaw(sum_{s<t} theta[s]) (all steps
  are about y, so the chained product is a cumulative sum); R_w[t] = R_{t->0} R_gv[t];
  t_w[k] = sum_{j<k} R_w[j] v_local[j].

Indexing: step t -> t-1 uses theta[t-1], computed from the camera motion between frames t-1 and t,
so encoding then rolling out reproduces the world motion exactly (tested). The release's loop
uses theta[t] for that step (one frame early); `release_indexing=True` reproduces it.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.body.rotations import (
    axis_angle_to_matrix,
    matmul3,
    matrix_to_axis_angle,
    matvec3,
    rotation_6d_to_matrix,
)

__all__ = [
    "SMOOTH_SIGMA",
    "SMOOTH_RADIUS",
    "yaw_matrix",
    "yaw_steps",
    "gaussian_smooth",
    "rollout_world",
    "init_rollout",
    "rollout_step",
    "rollout_scan",
]

SMOOTH_SIGMA = 3.0  # frames
SMOOTH_RADIUS = 12  # int(4 sigma + 0.5), as GVHMR's get_gaussian_kernel


@jax.jit
def yaw_matrix(angle):
    """Rotation about +y by `angle` (..., ) radians -> (..., 3, 3)."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    zeros, ones = jnp.zeros_like(angle), jnp.ones_like(angle)
    return jnp.stack(
        [
            jnp.stack([c, zeros, s], axis=-1),
            jnp.stack([zeros, ones, zeros], axis=-1),
            jnp.stack([-s, zeros, c], axis=-1),
        ],
        axis=-2,
    )


def _safe_atan2(y, x):
    """atan2 with value and gradient 0 at (0, 0) (a degenerate, vertical heading)."""
    degenerate = (jnp.abs(x) < 1e-12) & (jnp.abs(y) < 1e-12)
    return jnp.where(degenerate, 0.0, jnp.arctan2(y, jnp.where(degenerate, 1.0, x)))


@jax.jit
def yaw_steps(rot_gv, rot_c, cam_rot_step):
    """Yaw angle (..., L) radians about +y of GV_{t+1} relative to GV_t.

    rot_gv, rot_c: (..., L, 3, 3) root rotations in GV and camera frames; cam_rot_step:
    (..., L, 3, 3) camera-t to camera-(t+1) rotation R_w2c[t+1] R_w2c[t]^T.
    """
    r_c2gv = matmul3(rot_gv, jnp.swapaxes(rot_c, -1, -2))
    view = r_c2gv[..., :, 2]  # camera t optical axis in GV_t
    # Camera t+1's optical axis in GV_t.
    view_next = matmul3(r_c2gv, jnp.swapaxes(cam_rot_step, -1, -2))[..., :, 2]
    # Signed angle about +y from the next heading to the current one (horizontal components
    # only): the release's normalise(view_next x view) * acos(view . view_next), written with
    # atan2 so that tiny steps keep float32 precision.
    cross_y = view_next[..., 2] * view[..., 0] - view_next[..., 0] * view[..., 2]
    dot = view[..., 0] * view_next[..., 0] + view[..., 2] * view_next[..., 2]
    # The step rotates GV_t onto GV_{t+1}: heading(view_next) = heading(view) + angle.
    return -_safe_atan2(cross_y, dot)


def _gaussian_kernel(sigma=SMOOTH_SIGMA, radius=SMOOTH_RADIUS):
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_smooth(values, sigma=SMOOTH_SIGMA, radius=SMOOTH_RADIUS, length=None):
    """Gaussian smoothing along the last axis with replicate padding, (..., L) -> (..., L).

    length: optional (...,) valid frames; the padding replicates the last valid value, so frames
    >= length never influence valid frames.
    """
    values = jnp.asarray(values)
    num_frames = values.shape[-1]
    if length is not None:
        last = jnp.asarray(length)[..., None] - 1
        values = jnp.take_along_axis(values, jnp.clip(jnp.minimum(jnp.arange(num_frames), last), 0), axis=-1)
    pad = [(0, 0)] * (values.ndim - 1) + [(radius, radius)]
    padded = jnp.pad(values, pad, mode="edge")
    kernel = _gaussian_kernel(sigma, radius)
    # 2 radius + 1 shifted views (a static tap loop, not a loop over frames).
    return sum(float(kernel[k]) * padded[..., k : k + num_frames] for k in range(2 * radius + 1))


@functools.partial(jax.jit, static_argnames=("smooth", "release_indexing"))
def rollout_world(
    global_orient_gv,
    global_orient_c,
    cam_angvel,
    local_transl_vel,
    smooth=True,
    length=None,
    release_indexing=False,
):
    """World root orientation and translation from decoded values (batch version).

    Args:
      global_orient_gv, global_orient_c: (..., L, 3) axis-angle root orientations (decoded).
      cam_angvel: (..., L, 6) 6D of R_w2c[t+1] R_w2c[t]^T, last repeated (`cam_angvel_from_R_w2c`).
      local_transl_vel: (..., L, 3) metres per frame in the root frame (decoded).
      smooth: Gaussian smoothing of the yaw steps (sigma 3, radius 12, replicate padding).
      length: optional (...,) valid frames; frames >= length never influence valid frames.
      release_indexing: use the release's off-by-one yaw indexing (module docstring).
    Returns:
      {"global_orient": (..., L, 3) rad, "transl": (..., L, 3) m} in the GV0 world frame.
    """
    rot_gv = axis_angle_to_matrix(global_orient_gv)
    rot_c = axis_angle_to_matrix(global_orient_c)
    steps = yaw_steps(rot_gv, rot_c, rotation_6d_to_matrix(cam_angvel))
    if length is not None:
        # The last valid frame's step would look at padding: repeat its predecessor's instead.
        frame = jnp.arange(steps.shape[-1])
        source = jnp.clip(jnp.minimum(frame, jnp.asarray(length)[..., None] - 2), 0)
        steps = jnp.take_along_axis(steps, source, axis=-1)
    if smooth:
        steps = gaussian_smooth(steps, length=length)
    if release_indexing:
        heading = jnp.cumsum(steps, axis=-1) - steps[..., :1]  # frame t uses steps 1..t
    else:
        heading = jnp.cumsum(steps, axis=-1) - steps  # frame t uses steps 0..t-1
    rot_w = matmul3(yaw_matrix(heading), rot_gv)
    vel_w = matvec3(rot_w, jnp.asarray(local_transl_vel))
    transl = jnp.cumsum(vel_w, axis=-2) - vel_w  # t_w[k] = sum_{j<k} R_w[j] v[j]
    return {"global_orient": matrix_to_axis_angle(rot_w), "transl": transl}


def init_rollout(batch_shape=(), dtype=jnp.float32):
    """State of the streaming rollout: accumulated heading (batch,) rad and translation (batch, 3) m."""
    return {"heading": jnp.zeros(batch_shape, dtype), "transl": jnp.zeros(tuple(batch_shape) + (3,), dtype)}


@jax.jit
def rollout_step(state, global_orient_gv, global_orient_c, cam_angvel, local_transl_vel):
    """One frame of the streaming rollout (no smoothing); equals `rollout_world(smooth=False)`.

    Args: state from `init_rollout` / the previous step; one frame of each input, (..., 3) or
    (..., 6) for cam_angvel. Returns (new_state, {"global_orient": (..., 3), "transl": (..., 3)}).
    The frame's own velocity and yaw step only move the state for the next frame.
    """
    rot_gv = axis_angle_to_matrix(global_orient_gv)
    rot_c = axis_angle_to_matrix(global_orient_c)
    step = yaw_steps(rot_gv, rot_c, rotation_6d_to_matrix(cam_angvel))
    rot_w = matmul3(yaw_matrix(state["heading"]), rot_gv)
    out = {"global_orient": matrix_to_axis_angle(rot_w), "transl": state["transl"]}
    new_state = {
        "heading": state["heading"] + step,
        "transl": state["transl"] + matvec3(rot_w, jnp.asarray(local_transl_vel)),
    }
    return new_state, out


@jax.jit
def rollout_scan(global_orient_gv, global_orient_c, cam_angvel, local_transl_vel):
    """`rollout_step` scanned over the frame axis -2 of (..., L, C) inputs (jax.lax.scan)."""
    batch_shape = jnp.shape(global_orient_gv)[:-2]
    per_frame = (global_orient_gv, global_orient_c, cam_angvel, local_transl_vel)
    inputs = tuple(jnp.moveaxis(jnp.asarray(a), -2, 0) for a in per_frame)
    _, outs = jax.lax.scan(lambda s, xs: rollout_step(s, *xs), init_rollout(batch_shape), inputs)
    return {k: jnp.moveaxis(v, 0, -2) for k, v in outs.items()}
