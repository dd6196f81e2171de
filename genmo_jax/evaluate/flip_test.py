"""Flip-test averaging of the estimation benchmarks (SPEC B 6.4 step 3; GVHMR / GEM, 3DPW and EMDB).

A second estimation pass runs on horizontally flipped inputs (flipped image features, 2D keypoints
with left/right swapped and x -> W - 1 - x, camera R and t pre-multiplied by diag(1, -1, -1)); its
camera-frame SMPL(-X) parameters are mirrored back and averaged with the original pass:

- mirroring about the camera's y-z plane (x -> -x): joints 0..21 swap left/right
  (`skeletons.SMPLX_BODY_FLIP_PERM`) and each axis-angle (x, y, z) becomes (x, -y, -z), i.e.
  R -> M R M with M = diag(-1, 1, 1);
- betas: arithmetic mean; global_orient and body_pose: per-joint rotation mean = the mean of the two
  rotation matrices projected onto SO(3) by SVD (for two rotations this is the geodesic midpoint);
- the camera translation stays the original pass's; in the world frame, body_pose and betas are
  replaced by the averages while the world root (global_orient, transl) stays the original's.
Inputs follow docs/CONVENTIONS.md: `global_orient` (..., 3), `body_pose` (..., 63) axis-angle,
`betas` (..., 10); other keys are passed through from the original pass. jnp, jit-safe.
"""

import jax.numpy as jnp

from genmo_jax.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from genmo_jax.body.skeletons import SMPLX_BODY_FLIP_PERM

_MIRROR_AXIS_ANGLE = jnp.array([1.0, -1.0, -1.0])


def _full_pose(params):
    return jnp.concatenate([params["global_orient"][..., None, :],
                            params["body_pose"].reshape(params["body_pose"].shape[:-1] + (21, 3))], -2)


def _split_pose(full, like):
    out = dict(like)
    out["global_orient"] = full[..., 0, :]
    out["body_pose"] = full[..., 1:, :].reshape(full.shape[:-2] + (63,))
    return out


def mirror_pose(params):
    """Mirrors global_orient and body_pose (22 joints) about x -> -x; other keys are copied."""
    for key in ("global_orient", "body_pose"):
        if key not in params:
            raise ValueError(f"mirror_pose: params lack '{key}'")
    full = _full_pose(params)[..., jnp.array(SMPLX_BODY_FLIP_PERM), :] * _MIRROR_AXIS_ANGLE
    return _split_pose(full, params)


def rotation_mean(axis_angle_a, axis_angle_b):
    """Per-joint mean of two rotations (..., 3): (R_a + R_b) / 2 projected onto SO(3) by SVD."""
    mean = (axis_angle_to_matrix(axis_angle_a) + axis_angle_to_matrix(axis_angle_b)) / 2
    u, _, vh = jnp.linalg.svd(mean)
    sign = jnp.sign(jnp.linalg.det(u @ vh))
    fix = jnp.ones(mean.shape[:-1]).at[..., 2].set(sign)
    return matrix_to_axis_angle(jnp.einsum("...ij,...j,...jk->...ik", u, fix, vh))


def flip_test_average(params, flipped_params):
    """Camera-frame params of the original and the flipped pass -> averaged params (original transl)."""
    mirrored = mirror_pose(flipped_params)
    averaged = _split_pose(rotation_mean(_full_pose(params), _full_pose(mirrored)), params)
    if "betas" in params and "betas" in flipped_params:
        averaged["betas"] = (params["betas"] + flipped_params["betas"]) / 2
    return averaged


def apply_to_world(world_params, averaged):
    """World params with body_pose and betas from the flip-test average; the world root is kept."""
    out = dict(world_params)
    out["body_pose"] = averaged["body_pose"]
    if "betas" in averaged:
        out["betas"] = averaged["betas"]
    return out
