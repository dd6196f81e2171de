"""Estimation metrics of the paper's Tables 1-2 (SPEC B 6.1-6.2, PEERS.md 3.3, 3.6, 3.7).

Camera frame: MPJPE, PA-MPJPE, PVE (mm) and Accel (m/s^2). World frame: W-MPJPE100,
WA-MPJPE100 (mm), RTE (% of GT path length), Jitter (units of 10 m/s^3) and foot sliding (mm).
Inputs are joints/vertices in metres at `fps` (30). Each function takes one or many sequences:
arrays (..., L, J, 3) with an optional mask (..., L) of valid frames, and returns `PerFrame`s;
pool sequences with `frames.frame_mean` (frame-weighted, as the reference does).

Reference behaviour reproduced (GVHMR `hmr4d/utils/eval/eval_utils.py` = GEM `eval_utils.py`):
- Invalid frames are dropped *before* everything (`x[mask]`), so Accel, Jitter, foot sliding
  and the 100-frame chunks span gaps between valid frames (`frames.compact_frames`).
- Pelvis = mean of joints (1, 2) for the 24 SMPL joints (EMDB, RICH), (2, 3) for the 3DPW
  14-joint set; each skeleton (and its vertices) is shifted by its own joint pelvis.
- W-MPJPE100 / WA-MPJPE100 fit a *similarity* (with scale) per chunk: on the joints of the
  chunk's first two frames / on all the chunk's joints. Chunks are `range(0, N, 100)` with a
  shorter last chunk (`chunking="gvhmr"`, the default); `chunking="tram"` reproduces TRAM's
  `run_eval.py` (remainder merged into the last chunk, the last frame never scored, a whole
  last chunk dropped when N is a multiple of 100).
- RTE: rigid fit (scale 1) of the whole predicted root trajectory (joint 0) onto the GT one;
  per-frame error / total GT path length (sum of per-frame root displacements) x 100.
- Foot sliding: a foot point is in contact in frame t when its GT displacement t -> t+1 is
  below 1 cm; FS averages the predicted displacement over (frame, point) contacts, x 1000.

Choices where the references are ambiguous or differ (documented, see also PEERS.md 3.7):
- Accel: GVHMR keeps all N-2 values; WHAM/TRAM also drop the first and last one. We follow
  GVHMR/GEM (the paper's numbers come from GEM's code).
- Values are aligned to the *compacted* frame index: entry t of Accel is the triple
  (t, t+1, t+2), of Jitter the window (t..t+3), of foot sliding the step t -> t+1.
"""

import functools

import jax
import jax.numpy as jnp

from genmo_jax.evaluate.alignment import fit_similarity, similarity_from_moments
from genmo_jax.evaluate.frames import PerFrame, compact_frames

METRES_TO_MM = 1000.0
# Pelvis = mean of these joint indices, per joint set (SPEC B 6.1).
PELVIS_JOINTS = {"smpl24": (1, 2), "3dpw14": (2, 3)}
# SMPL (6890-vertex) foot vertices used by the foot-sliding metric (SPEC B 6.2).
SMPL_FOOT_VERTICES = (3216, 3387, 6617, 6787)
CHUNKINGS = ("gvhmr", "tram")


def _pelvis(joints, joint_set):
    if joint_set not in PELVIS_JOINTS:
        raise ValueError(f"joint_set must be one of {sorted(PELVIS_JOINTS)}; got {joint_set!r}")
    expected = 24 if joint_set == "smpl24" else 14
    if joints.shape[-2] != expected:
        raise ValueError(f"joint_set {joint_set!r} needs {expected} joints; got {joints.shape[-2]}")
    return joints[..., PELVIS_JOINTS[joint_set], :].mean(-2, keepdims=True)


def _check_points(name, pred, gt):
    if pred.shape != gt.shape or pred.ndim < 3 or pred.shape[-1] != 3:
        raise ValueError(f"{name}: prediction and GT must both be (..., L, N, 3); got {pred.shape} and {gt.shape}")


def _point_error(a, b):
    """Mean over points of the L2 distance: (..., N, 3) x2 -> (...)."""
    return jnp.linalg.norm(a - b, axis=-1).mean(-1)


def _mask_or_ones(mask, leading_shape):
    if mask is None:
        return jnp.ones(leading_shape, bool)
    mask = jnp.asarray(mask, bool)
    if mask.shape != leading_shape:
        raise ValueError(f"mask must have shape {leading_shape} (..., L); got {mask.shape}")
    return mask


# ----- camera-frame metrics (SPEC B 6.1) -----


@functools.partial(jax.jit, static_argnames=("joint_set",))
def mpjpe(pred_joints, gt_joints, mask=None, joint_set="smpl24"):
    """MPJPE (mm) after subtracting each skeleton's own pelvis. (..., L, J, 3) -> PerFrame (..., L)."""
    _check_points("mpjpe", pred_joints, gt_joints)
    pred = pred_joints - _pelvis(pred_joints, joint_set)
    gt = gt_joints - _pelvis(gt_joints, joint_set)
    valid = _mask_or_ones(mask, pred.shape[:-2])
    return PerFrame(_point_error(pred, gt) * METRES_TO_MM, valid)


@functools.partial(jax.jit, static_argnames=("joint_set",))
def pa_mpjpe(pred_joints, gt_joints, mask=None, joint_set="smpl24"):
    """PA-MPJPE (mm): per-frame similarity Procrustes (reflection-fixed) of pred onto GT."""
    _check_points("pa_mpjpe", pred_joints, gt_joints)
    pred = pred_joints - _pelvis(pred_joints, joint_set)
    gt = gt_joints - _pelvis(gt_joints, joint_set)
    aligned = fit_similarity(pred, gt).apply(pred)
    valid = _mask_or_ones(mask, pred.shape[:-2])
    return PerFrame(_point_error(aligned, gt) * METRES_TO_MM, valid)


@functools.partial(jax.jit, static_argnames=("joint_set",))
def pve(pred_vertices, gt_vertices, pred_joints, gt_joints, mask=None, joint_set="smpl24"):
    """PVE (mm): vertex error after shifting each mesh by its own skeleton's joint pelvis.

    Vertices (..., L, V, 3), joints (..., L, J, 3) -> PerFrame (..., L).
    """
    _check_points("pve", pred_vertices, gt_vertices)
    pred = pred_vertices - _pelvis(pred_joints, joint_set)
    gt = gt_vertices - _pelvis(gt_joints, joint_set)
    valid = _mask_or_ones(mask, pred.shape[:-2])
    return PerFrame(_point_error(pred, gt) * METRES_TO_MM, valid)


@functools.partial(jnp.vectorize, signature="(l,j,c),(l,j,c),(l)->(l),(l)", excluded={3})
def _accel_one(pred, gt, mask, fps):
    valid, pred, gt = compact_frames(mask, pred, gt)
    accel_pred = pred[:-2] - 2 * pred[1:-1] + pred[2:]
    accel_gt = gt[:-2] - 2 * gt[1:-1] + gt[2:]
    error = _point_error(accel_pred, accel_gt) * fps**2
    values = jnp.concatenate([error, jnp.zeros((2,), error.dtype)])
    return values, valid & jnp.roll(valid, -2) & (jnp.arange(valid.shape[0]) < valid.shape[0] - 2)


@functools.partial(jax.jit, static_argnames=("joint_set", "fps",))
def accel_error(pred_joints, gt_joints, mask=None, joint_set="smpl24", fps=30.0):
    """Acceleration error (m/s^2): |second difference pred - GT| averaged over joints, x fps^2.

    Computed on pelvis-aligned joints over the valid frames (gaps spanned). -> PerFrame (..., L).
    """
    _check_points("accel_error", pred_joints, gt_joints)
    pred = pred_joints - _pelvis(pred_joints, joint_set)
    gt = gt_joints - _pelvis(gt_joints, joint_set)
    values, valid = _accel_one(pred, gt, _mask_or_ones(mask, pred.shape[:-2]), fps)
    return PerFrame(values, valid)


@functools.partial(jax.jit, static_argnames=("joint_set", "fps",))
def camera_metrics(pred_joints, gt_joints, pred_vertices=None, gt_vertices=None, mask=None,
                   joint_set="smpl24", fps=30.0):
    """All camera-frame metrics: {"pa_mpjpe", "mpjpe", "pve" (when vertices given), "accel"}."""
    out = {
        "pa_mpjpe": pa_mpjpe(pred_joints, gt_joints, mask, joint_set),
        "mpjpe": mpjpe(pred_joints, gt_joints, mask, joint_set),
    }
    if (pred_vertices is None) != (gt_vertices is None):
        raise ValueError("camera_metrics: give both pred_vertices and gt_vertices, or neither")
    if pred_vertices is not None:
        out["pve"] = pve(pred_vertices, gt_vertices, pred_joints, gt_joints, mask, joint_set)
    out["accel"] = accel_error(pred_joints, gt_joints, mask, joint_set, fps)
    return out


# ----- world-frame metrics (SPEC B 6.2) -----


def _chunk_assignment(valid, chunk_length, chunking):
    """Chunk index and scored flag for each compacted frame (see the module docstring)."""
    t = jnp.arange(valid.shape[0])
    n = valid.sum()
    if chunking == "gvhmr":
        return t // chunk_length, valid
    # TRAM: starts = range(0, n - C, C); the last chunk ends at n - 1, or at its start + C
    # when n is a multiple of C (then the remaining C frames are never scored).
    num_chunks = jnp.maximum((n - 1) // chunk_length, 0)
    end = jnp.where(n % chunk_length == 0, num_chunks * chunk_length, n - 1)
    chunk = jnp.minimum(t // chunk_length, jnp.maximum(num_chunks - 1, 0))
    return chunk, (t < end) & (num_chunks > 0)


def _segment_moments(pred, gt, weights, segments, num_segments):
    """Per-segment Umeyama moments of frames (L, J, 3) weighted by (L,), in two passes (O(L J)).

    Centring with each segment's own means before the outer products keeps float32 exact for
    world coordinates far from the origin.
    """
    num_joints = pred.shape[1]
    total = jax.ops.segment_sum(weights, segments, num_segments) * num_joints  # points per segment
    safe = jnp.maximum(total, 1e-12)[:, None]
    w = weights[:, None]
    mean_pred = jax.ops.segment_sum(w * pred.sum(1), segments, num_segments) / safe
    mean_gt = jax.ops.segment_sum(w * gt.sum(1), segments, num_segments) / safe
    pred_c = pred - mean_pred[segments][:, None]
    gt_c = gt - mean_gt[segments][:, None]
    outer = jnp.einsum("l,lji,ljk->lik", weights, gt_c, pred_c)
    cov = jax.ops.segment_sum(outer, segments, num_segments) / safe[..., None]
    var = jax.ops.segment_sum(weights * jnp.sum(pred_c**2, (-1, -2)), segments, num_segments) / safe[:, 0]
    return mean_pred, mean_gt, cov, var


@functools.partial(jnp.vectorize, signature="(l,j,c),(l,j,c),(l)->(l),(l),(l)", excluded={3, 4})
def _chunked_one(pred, gt, mask, chunk_length, chunking):
    valid, pred, gt = compact_frames(mask, pred, gt)
    num_frames = pred.shape[0]
    chunk, scored = _chunk_assignment(valid, chunk_length, chunking)
    num_slots = -(-num_frames // chunk_length)
    chunk = jnp.clip(chunk, 0, num_slots - 1)
    first_two = scored & (jnp.arange(num_frames) - chunk * chunk_length < 2)

    def chunk_error(weights):
        moments = _segment_moments(pred, gt, weights.astype(pred.dtype), chunk, num_slots)
        fit = similarity_from_moments(*moments)
        frame_fit = jax.tree_util.tree_map(lambda a: a[chunk], fit)  # the transform of each frame's chunk
        return _point_error(frame_fit.apply(pred), gt) * METRES_TO_MM

    return chunk_error(first_two), chunk_error(scored), scored


@functools.partial(jax.jit, static_argnames=("chunk_length", "chunking",))
def w_mpjpe100(pred_joints, gt_joints, mask=None, chunk_length=100, chunking="gvhmr"):
    """(W-MPJPE100, WA-MPJPE100) in mm: per-chunk similarity on the first two frames / all frames.

    World joints (..., L, J, 3) in metres -> two PerFrame (..., L). See the module docstring
    for the chunking protocols.
    """
    _check_points("w_mpjpe100", pred_joints, gt_joints)
    if chunking not in CHUNKINGS:
        raise ValueError(f"chunking must be one of {CHUNKINGS}; got {chunking!r}")
    mask = _mask_or_ones(mask, pred_joints.shape[:-2])
    first, whole, scored = _chunked_one(jnp.asarray(pred_joints), jnp.asarray(gt_joints), mask,
                                        chunk_length, chunking)
    return PerFrame(first, scored), PerFrame(whole, scored)


@functools.partial(jnp.vectorize, signature="(l,c),(l,c),(l)->(l),(l)")
def _rte_one(pred_root, gt_root, mask):
    valid, pred_root, gt_root = compact_frames(mask, pred_root, gt_root)
    fit = fit_similarity(pred_root, gt_root, valid.astype(pred_root.dtype), with_scale=False)
    aligned = fit.apply(pred_root)
    steps = jnp.linalg.norm(gt_root[1:] - gt_root[:-1], axis=-1)
    path_length = jnp.sum(jnp.where(valid[1:], steps, 0.0))
    error = jnp.linalg.norm(gt_root - aligned, axis=-1) / path_length
    return error * 100.0, valid


@functools.partial(jax.jit, static_argnames=("root_index",))
def root_translation_error(pred_joints, gt_joints, mask=None, root_index=0):
    """RTE (% of the GT path length) after a rigid fit of the whole root trajectory.

    Joints (..., L, J, 3) (or root positions (..., L, 3) with root_index=None) -> PerFrame (..., L).
    """
    pred = jnp.asarray(pred_joints)
    gt = jnp.asarray(gt_joints)
    if root_index is not None:
        _check_points("root_translation_error", pred, gt)
        pred, gt = pred[..., root_index, :], gt[..., root_index, :]
    mask = _mask_or_ones(mask, pred.shape[:-1])
    values, valid = _rte_one(pred, gt, mask)
    return PerFrame(values, valid)


@functools.partial(jnp.vectorize, signature="(l,j,c),(l)->(l),(l)", excluded={2})
def _jitter_one(joints, mask, fps):
    valid, joints = compact_frames(mask, joints)
    third = joints[3:] - 3 * joints[2:-1] + 3 * joints[1:-2] - joints[:-3]
    jitter = jnp.linalg.norm(third * fps**3, axis=-1).mean(-1) / 10.0
    values = jnp.concatenate([jitter, jnp.zeros((3,), jitter.dtype)])
    return values, jnp.roll(valid, -3) & (jnp.arange(valid.shape[0]) < valid.shape[0] - 3)


@functools.partial(jax.jit, static_argnames=("fps",))
def jitter(pred_joints, mask=None, fps=30.0):
    """Jitter of the predicted world joints in units of 10 m/s^3: |third difference| x fps^3 / 10."""
    joints = jnp.asarray(pred_joints)
    if joints.ndim < 3 or joints.shape[-1] != 3:
        raise ValueError(f"jitter: joints must be (..., L, J, 3); got {joints.shape}")
    values, valid = _jitter_one(joints, _mask_or_ones(mask, joints.shape[:-2]), fps)
    return PerFrame(values, valid)


@functools.partial(jnp.vectorize, signature="(l,v,c),(l,v,c),(l)->(l,v),(l,v)", excluded={3})
def _foot_sliding_one(pred_feet, gt_feet, mask, threshold):
    valid, pred_feet, gt_feet = compact_frames(mask, pred_feet, gt_feet)
    gt_step = jnp.linalg.norm(gt_feet[1:] - gt_feet[:-1], axis=-1)
    pred_step = jnp.linalg.norm(pred_feet[1:] - pred_feet[:-1], axis=-1)
    pad = jnp.zeros((1, gt_step.shape[1]), gt_step.dtype)
    step_valid = (valid[1:])[:, None]
    contact = jnp.concatenate([(gt_step < threshold) & step_valid, pad.astype(bool)])
    return jnp.concatenate([pred_step, pad]) * METRES_TO_MM, contact


@functools.partial(jax.jit, static_argnames=("contact_threshold",))
def foot_sliding(pred_feet, gt_feet, mask=None, contact_threshold=0.01):
    """Foot sliding (mm): predicted per-frame displacement of foot points where the GT one is < 1 cm.

    Args:
      pred_feet, gt_feet: (..., L, V, 3) foot points in metres (SMPL: `SMPL_FOOT_VERTICES` of
        the world vertices; any other body: its chosen foot points).
    Returns:
      PerFrame (..., L, V): valid = GT contact of that point on the step t -> t+1.
    """
    _check_points("foot_sliding", pred_feet, gt_feet)
    mask = _mask_or_ones(mask, pred_feet.shape[:-2])
    values, valid = _foot_sliding_one(jnp.asarray(pred_feet), jnp.asarray(gt_feet), mask,
                                      contact_threshold)
    return PerFrame(values, valid)


def global_metrics(pred_joints, gt_joints, pred_vertices=None, gt_vertices=None, mask=None,
                   fps=30.0, chunking="gvhmr", foot_vertices=SMPL_FOOT_VERTICES):
    """All world-frame metrics: {"wa2_mpjpe" (W-MPJPE100), "waa_mpjpe" (WA-MPJPE100), "rte",
    "jitter", "fs" (when vertices given)}; the keys are the reference code's names.

    Joints (..., L, J, 3), vertices (..., L, V, 3) in metres; foot_vertices: indices into V.
    """
    foot_vertices = tuple(int(i) for i in foot_vertices)  # hashable: a static jit argument
    return _global_metrics(pred_joints, gt_joints, pred_vertices, gt_vertices, mask, fps, chunking, foot_vertices)


@functools.partial(jax.jit, static_argnames=("fps", "chunking", "foot_vertices",))
def _global_metrics(pred_joints, gt_joints, pred_vertices, gt_vertices, mask, fps, chunking, foot_vertices):
    first, whole = w_mpjpe100(pred_joints, gt_joints, mask, chunking=chunking)
    out = {
        "wa2_mpjpe": first,
        "waa_mpjpe": whole,
        "rte": root_translation_error(pred_joints, gt_joints, mask),
        "jitter": jitter(pred_joints, mask, fps),
    }
    if (pred_vertices is None) != (gt_vertices is None):
        raise ValueError("global_metrics: give both pred_vertices and gt_vertices, or neither")
    if pred_vertices is not None:
        ids = jnp.asarray(foot_vertices)
        if max(foot_vertices) >= pred_vertices.shape[-2]:
            raise ValueError(
                f"foot_vertices {tuple(foot_vertices)} out of range for {pred_vertices.shape[-2]} vertices "
                "(the default indices are SMPL's 6890-vertex mesh)")
        out["fs"] = foot_sliding(jnp.take(pred_vertices, ids, axis=-2), jnp.take(gt_vertices, ids, axis=-2), mask)
    return out
