"""Camera maths: weak-perspective pred_cam <-> translation, projection, angular velocity, bbox.

Conventions (CONVENTIONS.md): OpenCV camera (x right, y down, z forward); extrinsics are
world-to-camera, x_c = R_w2c x_w + t_w2c; intrinsics K (..., 3, 3) in pixels; bounding boxes
`bbx_xys` (..., 3) = (centre x, centre y, side of the square box) in pixels.
"""

import functools

import jax
import jax.numpy as jnp

from genmo_jax.body.rotations import (
    axis_angle_to_matrix,
    matmul3,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    matvec3,
)

__all__ = [
    "PRED_CAM_MIN_SCALE",
    "pred_cam_to_transl",
    "transl_to_pred_cam",
    "project_points",
    "cam_angvel_from_R_w2c",
    "bbox_info",
    "normalize_kp2d_to_bbox",
    "world_to_camera_params",
]

PRED_CAM_MIN_SCALE = 0.25  # the release clamps the decoded weak-perspective scale at this value
_EPS = 1e-9


def _focal_and_centre(K):
    K = jnp.asarray(K)
    return K[..., 0, 0], K[..., :2, 2]


@functools.partial(jax.jit, static_argnames="min_scale")
def pred_cam_to_transl(pred_cam, bbx_xys, K, min_scale=PRED_CAM_MIN_SCALE):
    """Weak-perspective (s, tx, ty) in the bbox -> full-perspective camera translation (SPEC B 1.5).

    tz = 2 f / (s b); tx_full = tx + 2 (cx_b - cx) / (s b); ty_full = ty + 2 (cy_b - cy) / (s b).
    Args: pred_cam (..., 3); bbx_xys (..., 3) px; K (..., 3, 3) px (f = K[0, 0]);
      min_scale: s is clamped to at least this (the release's 0.25); None disables it.
    Returns: transl (..., 3) metres, the SMPL `transl` in the camera frame.
    """
    pred_cam = jnp.asarray(pred_cam)
    scale = pred_cam[..., 0]
    if min_scale is not None:
        scale = jnp.maximum(scale, min_scale)
    focal, centre = _focal_and_centre(K)
    bbx_xys = jnp.asarray(bbx_xys)
    denom = scale * bbx_xys[..., 2] + _EPS
    tz = 2.0 * focal / denom
    tx = pred_cam[..., 1] + 2.0 * (bbx_xys[..., 0] - centre[..., 0]) / denom
    ty = pred_cam[..., 2] + 2.0 * (bbx_xys[..., 1] - centre[..., 1]) / denom
    return jnp.stack([tx, ty, tz], axis=-1)


@jax.jit
def transl_to_pred_cam(transl, bbx_xys, K):
    """Inverse of `pred_cam_to_transl` (the supervision target): s = 2 f / (tz b),
    tx = Tx - tz / f (cx_b - cx), ty = Ty - tz / f (cy_b - cy). (..., 3) -> (..., 3)."""
    transl = jnp.asarray(transl)
    focal, centre = _focal_and_centre(K)
    bbx_xys = jnp.asarray(bbx_xys)
    tz = transl[..., 2]
    scale = 2.0 * focal / (tz * bbx_xys[..., 2] + _EPS)
    tx = transl[..., 0] - tz / focal * (bbx_xys[..., 0] - centre[..., 0])
    ty = transl[..., 1] - tz / focal * (bbx_xys[..., 1] - centre[..., 1])
    return jnp.stack([scale, tx, ty], axis=-1)


@functools.partial(jax.jit, static_argnames="min_depth")
def project_points(points_c, K, min_depth=1e-6):
    """Pinhole projection of camera-frame points (..., N, 3) m with K (..., 3, 3) -> (..., N, 2) px.

    Depths are clamped to at least `min_depth` (points behind the camera stay finite).
    """
    points_c = jnp.asarray(points_c)
    K = jnp.asarray(K)
    depth = jnp.maximum(points_c[..., 2:3], min_depth)
    normalized = points_c[..., :2] / depth
    pixels = matvec3(K[..., None, :2, :2], normalized)
    return pixels + K[..., None, :2, 2]


@jax.jit
def cam_angvel_from_R_w2c(R_w2c, length=None):
    """Camera angular velocity condition: 6D of R_w2c[t+1] R_w2c[t]^T, last frame repeated.

    (..., L, 3, 3) -> (..., L, 6). length: optional (...,) valid frames; the last valid frame
    then repeats its predecessor (padding never leaks in). One valid frame gives the identity
    (1, 0, 0, 0, 1, 0).
    """
    R_w2c = jnp.asarray(R_w2c)
    num_frames = R_w2c.shape[-3]
    identity = jnp.broadcast_to(jnp.eye(3, dtype=R_w2c.dtype), R_w2c.shape)
    if num_frames < 2:
        return matrix_to_rotation_6d(identity)
    step = matmul3(R_w2c[..., 1:, :, :], jnp.swapaxes(R_w2c[..., :-1, :, :], -1, -2))
    step = jnp.concatenate([step, step[..., -1:, :, :]], axis=-3)
    if length is not None:
        length = jnp.asarray(length)[..., None]
        source = jnp.clip(jnp.minimum(jnp.arange(num_frames), length - 2), 0)
        step = jnp.take_along_axis(step, source[..., None, None], axis=-3)
        step = jnp.where((length >= 2)[..., None, None], step, identity)
    return matrix_to_rotation_6d(step)


@jax.jit
def bbox_info(bbx_xys, K):
    """CLIFF / BEDLAM bbox condition ((cx_b - cx) / f, (cy_b - cy) / f, b / f): (..., 3)."""
    bbx_xys = jnp.asarray(bbx_xys)
    focal, centre = _focal_and_centre(K)
    shifted = jnp.concatenate([bbx_xys[..., :2] - centre, bbx_xys[..., 2:3]], axis=-1)
    return shifted / focal[..., None]


@functools.partial(jax.jit, static_argnames="min_size")
def normalize_kp2d_to_bbox(kp2d, bbx_xys, min_size=1e-2):
    """2D keypoints in pixels -> bbox-normalised xy_n = 2 (xy - c_bbox) / s_bbox, in [-1, 1] inside.

    Args: kp2d (..., K, 2) or (..., K, 3) with confidence; bbx_xys (..., 3) px (size clamped to
      at least `min_size`).
    Returns the same shape; with a confidence channel, points outside the box square get
    confidence 0 (the model's visibility gate; SPEC B 2.2).
    """
    kp2d = jnp.asarray(kp2d)
    bbx_xys = jnp.asarray(bbx_xys)
    size = jnp.maximum(bbx_xys[..., None, 2:3], min_size)
    xy = 2.0 * (kp2d[..., :2] - bbx_xys[..., None, :2]) / size
    if kp2d.shape[-1] == 2:
        return xy
    inside = jnp.all(jnp.abs(xy) <= 1.0, axis=-1)
    return jnp.concatenate([xy, jnp.where(inside, kp2d[..., 2], 0.0)[..., None]], axis=-1)


@jax.jit
def world_to_camera_params(global_orient_w, transl_w, R_w2c, t_w2c, root_offset):
    """World root parameters -> camera-frame root parameters (the body rotates about its root).

    R_c = R_w2c R_w; t_c = R_w2c (t_w + o) + t_w2c - o, with o the rest-pose root joint position
    for the body's betas (`smpl.rest_joints(model, betas)[..., 0, :]`).
    Args: global_orient_w (..., 3) rad; transl_w (..., 3) m; R_w2c (..., 3, 3); t_w2c (..., 3) m;
      root_offset (..., 3) m. Returns (global_orient_c (..., 3) rad, transl_c (..., 3) m).
    """
    R_w2c = jnp.asarray(R_w2c)
    root_offset = jnp.asarray(root_offset)
    rot_c = matmul3(R_w2c, axis_angle_to_matrix(global_orient_w))
    root_c = matvec3(R_w2c, jnp.asarray(transl_w) + root_offset)
    transl_c = root_c + t_w2c - root_offset
    return matrix_to_axis_angle(rot_c), transl_c
