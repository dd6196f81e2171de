"""GENMO loss terms (SPEC B 4.2) and their masks, as pure functions of arrays.

Shapes: B batch, L frames, N points (joints or vertices). Units: metres, pixels where stated.
Camera maths (pred_cam <-> translation) and contact labels live in ``genmo_jax.motion``.
Reduction follows the release: every term is a mean over **all** elements of its tensor, masked
elements counting as zeros (``release_mean``), so the weights of SPEC B 4.2 keep their meaning.

Masks (Boolean, from ``loss_masks``):
  valid     frames < length;
  full3d    valid and not a 2D-only row          (x0 MSE, cr_j3d, cr_verts, pred_cam);
  reproj    full3d and not camera-only (3DPW)   (j2d, verts2d);
  world     same rows as reproj                 (transl_w, gv_j3d);
  contact   world and not invalid-contact       (contact BCE);
  twod      valid and a 2D-only row             (the estimation-guided 2D terms, SPEC A6).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

MIN_DEPTH = 0.3            # metres: projections clamp depth here; points nearer are not supervised
CAM_DIMS_START = 136       # x dims >= 136 (camera/GV orientation, velocity) need world/camera GT


def release_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Sum of ``values`` where ``mask`` (broadcast to ``values``) over the number of ALL elements.

    NaN/inf at masked-out elements do not leak (``where``, not multiplication).
    """
    mask = jnp.broadcast_to(mask, values.shape)
    return jnp.sum(jnp.where(mask, values, 0.0)) / values.size


def valid_mask(length: jax.Array, num_frames: int) -> jax.Array:
    """(B,) int -> (B, L) bool, True on frames < length."""
    return jnp.arange(num_frames)[None, :] < jnp.asarray(length)[:, None]


def loss_masks(length, num_frames: int, twod_only, incam_only, invalid_contact) -> dict:
    """The per-frame masks of SPEC B 4.2. Flags are (B,) bool; returns (B, L) bool arrays."""
    valid = valid_mask(length, num_frames)
    twod = jnp.asarray(twod_only, bool)[:, None]
    incam = jnp.asarray(incam_only, bool)[:, None]
    no_contact = jnp.asarray(invalid_contact, bool)[:, None]
    full3d = valid & ~twod
    reproj = full3d & ~incam
    return {"valid": valid, "full3d": full3d, "reproj": reproj, "world": reproj,
            "contact": reproj & ~no_contact, "twod": valid & twod}


def x0_mask(masks: dict, incam_only, dim: int = 151) -> jax.Array:
    """(B, L, dim) mask of the x0 MSE: full3d frames, minus dims >= 136 on camera-only rows."""
    cam_dims = jnp.arange(dim) >= CAM_DIMS_START
    incam = jnp.asarray(incam_only, bool)[:, None, None]
    return masks["full3d"][..., None] & ~(incam & cam_dims)


def x0_mse(pred: jax.Array, target: jax.Array, mask: jax.Array,
           dim_weights: jax.Array | None = None) -> jax.Array:
    """``simple``: MSE on the normalised vector. pred/target (B, L, D); mask (B, L, D);
    dim_weights (D,) optional factor per dim on the squared error (the release: none)."""
    square = jnp.square(pred - target)
    return release_mean(square if dim_weights is None else square * dim_weights, mask)


def root_relative_mse(pred: jax.Array, gt: jax.Array, pred_root: jax.Array,
                      gt_root: jax.Array, mask: jax.Array) -> jax.Array:
    """``cr_j3d`` / ``cr_verts``: MSE of points relative to a root, metres^2.

    pred, gt (B, L, N, 3); pred_root, gt_root (B, L, 3) (joint 0 for cr_j3d, the COCO hip
    midpoint for cr_verts); mask (B, L).
    """
    diff = (pred - pred_root[..., None, :]) - (gt - gt_root[..., None, :])
    return release_mean(jnp.square(diff), mask[..., None, None])


def gravity_view_mse(pred: jax.Array, gt: jax.Array, pred_c2gv: jax.Array, gt_c2gv: jax.Array,
                     mask: jax.Array) -> jax.Array:
    """``gv_j3d``: MSE of root-relative joints turned from the camera into the gravity-view
    frame, metres^2 (not in the release; the paper's world-space joint loss without the
    trajectory).

    pred, gt (B, L, N, 3) camera-frame joints, joint 0 the root; pred_c2gv (B, L, 3, 3) =
    R_gv R_c^T of the predicted orientations, gt_c2gv (B, L, 3, 3) the GT R_c2gv; mask (B, L).
    Root-relative camera-frame joints are R_c times the posed skeleton, so this compares
    R_gv_pred * skeleton_pred with R_gv_gt * skeleton_gt: the GV (= world, up to a per-frame
    yaw the rollout supplies) orientation in metres, which the release supervises only through
    6 of the 151 dims of the x0 MSE.
    """
    rel_pred = pred - pred[..., :1, :]
    rel_gt = gt - gt[..., :1, :]
    diff = (jnp.einsum("blij,blnj->blni", pred_c2gv, rel_pred)
            - jnp.einsum("blij,blnj->blni", gt_c2gv, rel_gt))
    return release_mean(jnp.square(diff), mask[..., None, None])


def project_to_bbox01(points_c: jax.Array, K: jax.Array, bbox_xys: jax.Array) -> jax.Array:
    """Pinhole projection then bbox normalisation ("bi01": (p - lu) / (rb - lu)).

    points_c (B, L, N, 3) camera frame, metres (depth clamped to >= 0.3 m); K (B, L, 3, 3)
    pixels; bbox_xys (B, L, 3) (centre x, centre y, size) pixels. Returns (B, L, N, 2); the
    bbox maps to [0, 1]^2.
    """
    z = jnp.maximum(points_c[..., 2:3], MIN_DEPTH)
    uv1 = jnp.concatenate([points_c[..., :2] / z, jnp.ones_like(z)], axis=-1)
    pix = jnp.einsum("blij,blnj->blni", K, uv1)[..., :2]
    size = jnp.maximum(bbox_xys[..., 2:3], 1e-6)[..., None, :]      # (B, L, 1, 1)
    lu = bbox_xys[..., None, :2] - 0.5 * size
    return (pix - lu) / size


def pixels_to_bbox01(kp_pix: jax.Array, bbox_xys: jax.Array) -> jax.Array:
    """(B, L, N, 2) pixels -> bbox-normalised [0, 1] coordinates (same map as above)."""
    size = jnp.maximum(bbox_xys[..., 2:3], 1e-6)[..., None, :]
    return (kp_pix - (bbox_xys[..., None, :2] - 0.5 * size)) / size


def reprojection_mask(gt_c: jax.Array, pred_c: jax.Array, gt_01: jax.Array,
                      frames: jax.Array) -> jax.Array:
    """(B, L, N) bool: frames ∧ GT and predicted depth > 0.3 ∧ GT inside the bbox ∧ finite."""
    inside = jnp.all((gt_01 > 0.0) & (gt_01 < 1.0), axis=-1)
    finite = jnp.all(jnp.isfinite(gt_01), axis=-1)
    depth = (gt_c[..., 2] > MIN_DEPTH) & (pred_c[..., 2] > MIN_DEPTH)
    return frames[..., None] & inside & finite & depth


def reprojection_mse(pred_01: jax.Array, gt_01: jax.Array, mask: jax.Array) -> jax.Array:
    """``j2d`` / ``verts2d`` / 2D-only keypoints: MSE in bbox units. (B, L, N, 2); mask (B, L, N)."""
    return release_mean(jnp.square(pred_01 - jnp.where(mask[..., None], gt_01, 0.0)),
                        mask[..., None])


def pred_cam_mask(gt_pred_cam: jax.Array, gt_coco_c: jax.Array, bbox_xys: jax.Array,
                  frames: jax.Array) -> jax.Array:
    """(B, L) bool of the ``transl_c`` term: frames ∧ min GT COCO depth > 0.3 ∧ 0.3 < s < 5 ∧
    |tx|, |ty| < 3 ∧ bbox size > 0 ∧ finite."""
    s, tx, ty = gt_pred_cam[..., 0], gt_pred_cam[..., 1], gt_pred_cam[..., 2]
    ok = (jnp.min(gt_coco_c[..., 2], axis=-1) > MIN_DEPTH) & (s > 0.3) & (s < 5.0)
    ok &= (jnp.abs(tx) < 3.0) & (jnp.abs(ty) < 3.0) & (bbox_xys[..., 2] > 0)
    ok &= jnp.all(jnp.isfinite(gt_pred_cam), axis=-1)
    return frames & ok


def pred_cam_mse(pred: jax.Array, gt: jax.Array, mask: jax.Array) -> jax.Array:
    """``transl_c``: MSE of (s, tx, ty); non-finite targets become -1 (release). mask (B, L)."""
    gt = jnp.where(jnp.isfinite(gt), gt, -1.0)
    return release_mean(jnp.square(pred - gt), mask[..., None])


def rollout_translation(v_local: jax.Array, rot_w: jax.Array, t0: jax.Array) -> jax.Array:
    """World translation from root-local velocities: t[0] = t0, t[k] = t0 + Σ_{j<k} R[j] v[j].

    v_local (B, L, 3) m/frame in the root frame (v_local = R^T (t[k+1] - t[k]), SPEC A2);
    rot_w (B, L, 3, 3) root orientation in the world; t0 (B, 3). Returns (B, L, 3) m.
    """
    step = jnp.einsum("blij,blj->bli", rot_w, v_local)
    csum = jnp.cumsum(step, axis=1) - step                    # exclusive prefix sum
    return t0[:, None, :] + csum


def transl_w_l1(pred_v_local: jax.Array, gt_rot_w: jax.Array, gt_transl_w: jax.Array,
                mask: jax.Array) -> jax.Array:
    """``transl_w``: L1 between GT world translation and the rollout of the predicted local
    velocity with GT orientation and GT first position. (B, L, 3); mask (B, L)."""
    rolled = rollout_translation(pred_v_local, gt_rot_w, gt_transl_w[:, 0])
    return release_mean(jnp.abs(rolled - gt_transl_w), mask[..., None])


def contact_bce(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    """``static_conf_bce``: BCE with logits. logits, labels (B, L, J); mask (B, L)."""
    return release_mean(optax.sigmoid_binary_cross_entropy(logits, labels), mask[..., None])


def acceleration_l2(points: jax.Array, frames: jax.Array) -> jax.Array:
    """Regulariser for 2D-only rows: squared second difference of points (B, L, N, 3), m^2,
    on frames whose two neighbours are also in ``frames`` (B, L)."""
    acc = points[:, 2:] - 2.0 * points[:, 1:-1] + points[:, :-2]
    ok = frames[:, 2:] & frames[:, 1:-1] & frames[:, :-2]
    return release_mean(jnp.square(acc), ok[..., None, None])
