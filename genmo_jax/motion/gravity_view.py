"""Gravity-view (GV) frame: per frame, attached to the camera, yaw-free and gravity-aligned.

GV axes expressed in the camera frame (GENMO-refactor semantics, SPEC B 1.4, CONVENTIONS.md):
  y = -gravity (points up), z = the camera optical axis projected onto the plane orthogonal
  to y, x = y cross z. R_c2gv has these axes as rows, so R_c2gv @ v_c = v_gv. For a level
  camera (camera y pointing down along gravity) R_c2gv = diag(-1, -1, 1).
"""

import jax
import jax.numpy as jnp

from genmo_jax.body.rotations import matvec3

__all__ = ["gravity_view_rotation", "WORLD_GRAVITY"]

WORLD_GRAVITY = (0.0, -1.0, 0.0)  # y-up world (CONVENTIONS.md); AZ datasets pass (0, 0, -1)


def _safe_normalize(v, eps=1e-9):
    norm_sq = jnp.sum(v * v, axis=-1, keepdims=True)
    small = norm_sq < eps * eps
    return jnp.where(small, 0.0, v / jnp.sqrt(jnp.where(small, 1.0, norm_sq))), small


@jax.jit
def gravity_view_rotation(R_w2c, gravity_w=WORLD_GRAVITY):
    """Camera-to-GV rotation from the world-to-camera rotation and the world gravity direction.

    Args:
      R_w2c: (..., 3, 3) world-to-camera rotations.
      gravity_w: (3,) or (..., 3) gravity direction in world coordinates (any length).
    Returns:
      R_c2gv: (..., 3, 3). When the optical axis is parallel to gravity (camera looking straight
      up or down) the heading falls back to the camera x axis: z = x_cam cross y.
    """
    R_w2c = jnp.asarray(R_w2c)
    gravity_w = jnp.asarray(gravity_w, R_w2c.dtype)
    gravity_w = jnp.broadcast_to(gravity_w, R_w2c.shape[:-1])
    gravity_c = matvec3(R_w2c, gravity_w)
    y_axis, _ = _safe_normalize(-gravity_c)
    optical = jnp.zeros_like(y_axis).at[..., 2].set(1.0)
    z_axis, degenerate = _safe_normalize(optical - jnp.sum(optical * y_axis, -1, keepdims=True) * y_axis)
    cam_x = jnp.zeros_like(y_axis).at[..., 0].set(1.0)
    z_fallback, _ = _safe_normalize(jnp.cross(cam_x, y_axis))
    z_axis = jnp.where(degenerate, z_fallback, z_axis)
    x_axis = jnp.cross(y_axis, z_axis)
    return jnp.stack([x_axis, y_axis, z_axis], axis=-2)
