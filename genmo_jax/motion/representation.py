"""The 151-d per-frame motion vector (SPEC B 1.1, A2): encode from SMPL parameters, decode back.

| slice   | name             | content                                                        |
| 0:126   | body_pose        | joints 1..21, 6D each (first two rows of R), joint-major        |
| 126:136 | betas            | 10 shape coefficients                                           |
| 136:142 | global_orient_c  | root orientation in the camera frame, 6D                        |
| 142:148 | global_orient_gv | R_c2gv @ R_root_c, 6D                                           |
| 148:151 | local_transl_vel | R_root_w[k]^T (t_w[k+1] - t_w[k]) m/frame, last valid repeated  |

Shapes: (..., L, D) with L frames; smpl_params dicts hold axis-angle (radians) and metres
(CONVENTIONS.md). The world-frame recovery from the decoded values is `rollout.rollout_world`.
"""

import functools

import jax
import jax.numpy as jnp

from genmo_jax.body.rotations import (
    axis_angle_to_matrix,
    matmul3,
    matvec3,
    matrix_to_rotation_6d,
    rotation_6d_to_axis_angle,
)

__all__ = [
    "MOTION_DIM",
    "NUM_BETAS",
    "BODY_POSE",
    "BETAS",
    "GLOBAL_ORIENT_C",
    "GLOBAL_ORIENT_GV",
    "LOCAL_TRANSL_VEL",
    "SLICES",
    "encode_motion",
    "decode_motion",
    "local_transl_velocity",
]

MOTION_DIM = 151
NUM_BODY_JOINTS = 21
NUM_BETAS = 10
BODY_POSE = slice(0, 126)
BETAS = slice(126, 136)
GLOBAL_ORIENT_C = slice(136, 142)
GLOBAL_ORIENT_GV = slice(142, 148)
LOCAL_TRANSL_VEL = slice(148, 151)
SLICES = {
    "body_pose": BODY_POSE,
    "betas": BETAS,
    "global_orient_c": GLOBAL_ORIENT_C,
    "global_orient_gv": GLOBAL_ORIENT_GV,
    "local_transl_vel": LOCAL_TRANSL_VEL,
}

VELOCITY_CONVENTIONS = ("gvhmr", "release")


def _frame_difference(transl, length=None):
    """t[k+1] - t[k] along axis -2, the last valid frame repeating its predecessor's value.

    transl (..., L, 3); length (...,) int or None (all L frames valid). A sequence with a single
    valid frame gets zero velocity. Frames >= length never influence valid frames.
    """
    num_frames = transl.shape[-2]
    if num_frames < 2:
        return jnp.zeros_like(transl)
    diff = transl[..., 1:, :] - transl[..., :-1, :]
    diff = jnp.concatenate([diff, diff[..., -1:, :]], axis=-2)
    if length is None:
        return diff
    length = jnp.asarray(length)[..., None]
    frame = jnp.arange(num_frames)
    source = jnp.clip(jnp.minimum(frame, length - 2), 0, num_frames - 1)  # (..., L)
    diff = jnp.take_along_axis(diff, source[..., None], axis=-2)
    return jnp.where((length >= 2)[..., None], diff, 0.0)


@functools.partial(jax.jit, static_argnames="velocity_convention")
def local_transl_velocity(global_orient_w, transl_w, length=None, velocity_convention="gvhmr"):
    """Root translation velocity in the root's own frame, (..., L, 3) metres per frame.

    gvhmr (SPEC A2): v_local[k] = R_root_w[k]^T (t_w[k+1] - t_w[k]).
    release: R_root_w[k] (t_w[k+1] - t_w[k]), the GEM encoder's transposed contraction, only to
    build targets compatible with the released weights (SPEC B 1.3).
    """
    if velocity_convention not in VELOCITY_CONVENTIONS:
        raise ValueError(
            f"velocity_convention must be one of {VELOCITY_CONVENTIONS}, got {velocity_convention!r}"
        )
    rot_w = axis_angle_to_matrix(global_orient_w)
    vel_w = _frame_difference(jnp.asarray(transl_w), length)
    if velocity_convention == "gvhmr":
        rot_w = jnp.swapaxes(rot_w, -1, -2)
    return matvec3(rot_w, vel_w)


@functools.partial(jax.jit, static_argnames="velocity_convention")
def encode_motion(smpl_params_c, smpl_params_w, R_c2gv, velocity_convention="gvhmr", length=None):
    """SMPL parameters -> the 151-d motion vector (unnormalised).

    Args:
      smpl_params_c: camera frame, {"body_pose": (..., L, 63), "betas": (..., L, 10),
        "global_orient": (..., L, 3)} (its "transl" is not part of x).
      smpl_params_w: world frame (y-up), {"global_orient": (..., L, 3), "transl": (..., L, 3)}.
      R_c2gv: (..., L, 3, 3) camera-to-gravity-view rotations (`gravity_view_rotation`).
      velocity_convention: "gvhmr" (default, SPEC A2) or "release" (SPEC B 1.3).
      length: optional (...,) int number of valid frames (the last valid frame's velocity is
        repeated from its predecessor; padding never leaks in).
    Returns:
      x: (..., L, 151).
    """
    for key in ("body_pose", "betas", "global_orient"):
        if key not in smpl_params_c:
            raise ValueError(f"smpl_params_c is missing '{key}'")
    for key in ("global_orient", "transl"):
        if key not in smpl_params_w:
            raise ValueError(f"smpl_params_w is missing '{key}'")
    body_pose = jnp.asarray(smpl_params_c["body_pose"])
    if body_pose.shape[-1] != 3 * NUM_BODY_JOINTS:
        raise ValueError(f"smpl_params_c['body_pose'] must end in 63, got shape {body_pose.shape}")
    betas = jnp.asarray(smpl_params_c["betas"])
    if betas.shape[-1] != NUM_BETAS:
        raise ValueError(f"smpl_params_c['betas'] must end in {NUM_BETAS}, got shape {betas.shape}")
    per_joint = body_pose.reshape(body_pose.shape[:-1] + (NUM_BODY_JOINTS, 3))
    body_6d = matrix_to_rotation_6d(axis_angle_to_matrix(per_joint))
    rot_c = axis_angle_to_matrix(smpl_params_c["global_orient"])
    rot_gv = matmul3(jnp.asarray(R_c2gv), rot_c)
    local_vel = local_transl_velocity(
        smpl_params_w["global_orient"], smpl_params_w["transl"], length, velocity_convention
    )
    lead = body_6d.shape[:-2]
    return jnp.concatenate(
        [
            body_6d.reshape(lead + (6 * NUM_BODY_JOINTS,)),
            jnp.broadcast_to(betas, lead + (NUM_BETAS,)),
            matrix_to_rotation_6d(rot_c),
            matrix_to_rotation_6d(rot_gv),
            jnp.broadcast_to(local_vel, lead + (3,)),
        ],
        axis=-1,
    )


@jax.jit
def decode_motion(x):
    """The 151-d motion vector (unnormalised) -> dict of per-frame values.

    Returns {"body_pose": (..., L, 63) rad, "betas": (..., L, 10), "global_orient_c":
    (..., L, 3) rad, "global_orient_gv": (..., L, 3) rad, "local_transl_vel": (..., L, 3) m/frame}.
    Rotations go back through Gram-Schmidt, so any 6D input decodes to valid rotations.
    """
    x = jnp.asarray(x)
    if x.shape[-1] != MOTION_DIM:
        raise ValueError(f"motion vector must have last axis {MOTION_DIM}, got shape {x.shape}")
    lead = x.shape[:-1]
    body_pose = rotation_6d_to_axis_angle(x[..., BODY_POSE].reshape(lead + (NUM_BODY_JOINTS, 6)))
    return {
        "body_pose": body_pose.reshape(lead + (3 * NUM_BODY_JOINTS,)),
        "betas": x[..., BETAS],
        "global_orient_c": rotation_6d_to_axis_angle(x[..., GLOBAL_ORIENT_C]),
        "global_orient_gv": rotation_6d_to_axis_angle(x[..., GLOBAL_ORIENT_GV]),
        "local_transl_vel": x[..., LOCAL_TRANSL_VEL],
    }
