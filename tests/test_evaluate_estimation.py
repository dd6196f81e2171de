"""Estimation metrics against hand-computed cases, scipy's Procrustes and loop transcriptions
of the reference code (GVHMR eval_utils, TRAM run_eval chunking)."""

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial
from scipy.spatial.transform import Rotation

from genmo_jax.evaluate import estimation as est
from genmo_jax.evaluate.alignment import fit_similarity
from genmo_jax.evaluate.frames import PerFrame, compact_frames, frame_mean


def _random_motion(rng, frames=30, joints=24):
    base = rng.normal(size=(1, joints, 3)) * 0.3
    drift = np.cumsum(rng.normal(size=(frames, 1, 3)) * 0.02, axis=0)
    wiggle = rng.normal(size=(frames, joints, 3)) * 0.01
    return (base + drift + wiggle).astype(np.float32)


def _similarity(points, scale, rotvec, shift):
    rot = Rotation.from_rotvec(rotvec).as_matrix()
    return (scale * points @ rot.T + shift).astype(np.float32)


def _umeyama_np(src, dst, with_scale=True):
    """Independent float64 Umeyama on (N, 3) points (reflection-fixed)."""
    ms, md = src.mean(0), dst.mean(0)
    xs, xd = src - ms, dst - md
    u, d, vh = np.linalg.svd(xd.T @ xs / len(src))
    s = np.eye(3)
    s[2, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vh))
    rot = u @ s @ vh
    scale = np.trace(np.diag(d) @ s) / (xs**2).sum(-1).mean() if with_scale else 1.0
    return lambda p: scale * p @ rot.T + (md - scale * rot @ ms)


def test_similarity_fit_matches_scipy_procrustes_and_fixes_reflections():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(20, 3))
    pred = _similarity(gt, 0.7, [0.3, -1.0, 0.4], [1.0, 2.0, -0.5]) + rng.normal(size=(20, 3)) * 0.05
    fit = fit_similarity(pred.astype(np.float64), gt)
    aligned = np.asarray(fit.apply(pred))
    # scipy.spatial.procrustes standardises both sets; its disparity is our relative residual.
    _, _, disparity = scipy.spatial.procrustes(gt, pred)
    gt_c = gt - gt.mean(0)
    np.testing.assert_allclose(((aligned - gt) ** 2).sum() / (gt_c**2).sum(), disparity, rtol=1e-4)
    # Rotation: orthogonal_procrustes(A, B) minimises |A R - B| for row vectors, i.e. R = ours^T.
    rot_ref, _ = scipy.linalg.orthogonal_procrustes(pred - pred.mean(0), gt_c)
    np.testing.assert_allclose(np.asarray(fit.rotation).T, rot_ref, atol=1e-4)
    # A mirror image: scipy's orthogonal fit reflects, ours must stay a proper rotation.
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    rot_reflect, _ = scipy.linalg.orthogonal_procrustes(mirrored, gt)
    assert np.linalg.det(rot_reflect) < 0
    fit_m = fit_similarity(mirrored, gt)
    np.testing.assert_allclose(np.linalg.det(np.asarray(fit_m.rotation)), 1.0, atol=1e-5)


def test_pa_mpjpe_zero_for_similarity_and_mpjpe_hand_values():
    rng = np.random.default_rng(1)
    gt = _random_motion(rng, frames=5)
    pred = np.stack([_similarity(g, 1.3, rng.normal(size=3), rng.normal(size=3)) for g in gt])
    np.testing.assert_allclose(est.pa_mpjpe(pred, gt).values, 0.0, atol=1e-2)  # mm, float32
    # A pure translation is removed by the pelvis alignment.
    np.testing.assert_allclose(est.mpjpe(gt + np.float32(0.5), gt).values, 0.0, atol=1e-3)
    # One non-pelvis joint off by 10 cm: 100 mm / 24 joints in every frame.
    moved = gt.copy()
    moved[:, 15, 0] += 0.1
    np.testing.assert_allclose(est.mpjpe(moved, gt).values, 100.0 / 24, rtol=1e-4)
    # 3DPW 14-joint set uses joints (2, 3) for the pelvis.
    gt14 = gt[:, :14]
    shifted = gt14.copy()
    shifted[:, [2, 3], 0] += 0.2  # pelvis moves by 0.2 -> all other 12 joints are off by 0.2 after alignment
    np.testing.assert_allclose(est.mpjpe(shifted, gt14, joint_set="3dpw14").values,
                               1000 * 0.2 * 12 / 14, rtol=1e-4)
    with pytest.raises(ValueError, match="joint_set"):
        est.mpjpe(gt14, gt14)


def test_pve_uses_the_joint_pelvis():
    rng = np.random.default_rng(2)
    gt_j = _random_motion(rng, frames=4)
    gt_v = _random_motion(rng, frames=4, joints=50)
    shift = np.float32([0.1, -0.2, 0.3])
    np.testing.assert_allclose(est.pve(gt_v + shift, gt_v, gt_j + shift, gt_j).values, 0.0, atol=1e-3)
    # Vertices moved without the joints: error = the vertex shift.
    np.testing.assert_allclose(est.pve(gt_v + shift, gt_v, gt_j, gt_j).values,
                               1000 * np.linalg.norm(shift), rtol=1e-5)


def test_accel_and_jitter_zero_for_constant_velocity_and_exact_for_polynomials():
    t = np.arange(40, dtype=np.float32)[:, None, None] / 30.0
    rng = np.random.default_rng(3)
    start = rng.normal(size=(1, 24, 3)).astype(np.float32)
    velocity = np.float32([0.5, 0.0, -1.0])
    linear = start + velocity * t
    assert float(est.jitter(linear).mean()) == pytest.approx(0.0, abs=1e-2)
    assert float(est.accel_error(linear, start + 0 * t).mean()) == pytest.approx(0.0, abs=1e-2)
    # Pelvis-aligned Accel: body parts accelerating at a = 2 m/s^2 relative to a still GT body.
    accel = np.zeros((1, 24, 3), np.float32)
    accel[0, 10:, 1] = 2.0
    quadratic = start + 0.5 * accel * t**2
    expected = 2.0 * 14 / 24
    np.testing.assert_allclose(est.accel_error(quadratic, start + 0 * t).to_numpy(), expected, rtol=1e-2)
    # Jitter of x = c t^3 / 6 is c (third derivative), reported in units of 10 m/s^3.
    cubic = start + np.float32([0.0, 60.0, 0.0]) * t**3 / 6
    np.testing.assert_allclose(est.jitter(cubic).to_numpy(), 6.0, rtol=1e-2)
    assert est.jitter(cubic).to_numpy().shape == (37,)
    assert est.accel_error(quadratic, quadratic).to_numpy().shape == (38,)


def test_masked_frames_are_dropped_and_gaps_spanned():
    rng = np.random.default_rng(4)
    gt = _random_motion(rng, frames=25)
    pred = gt + rng.normal(size=gt.shape).astype(np.float32) * 0.02
    keep = np.ones(25, bool)
    keep[[0, 7, 8, 20]] = False
    junk_gt, junk_pred = gt.copy(), pred.copy()
    junk_gt[~keep] = 1e3
    junk_pred[~keep] = -1e3
    for name in ["pa_mpjpe", "mpjpe", "accel"]:
        full = est.camera_metrics(junk_pred, junk_gt, mask=keep)[name].to_numpy()
        ref = est.camera_metrics(pred[keep], gt[keep])[name].to_numpy()
        np.testing.assert_allclose(full, ref, rtol=1e-4, err_msg=name)
    for name in ["wa2_mpjpe", "waa_mpjpe", "rte", "jitter"]:
        full = est.global_metrics(junk_pred, junk_gt, mask=keep)[name].to_numpy()
        ref = est.global_metrics(pred[keep], gt[keep])[name].to_numpy()
        np.testing.assert_allclose(full, ref, rtol=1e-3, atol=1e-4, err_msg=name)
    valid, moved = compact_frames(np.array([False, True, True]), np.arange(3))
    np.testing.assert_array_equal(valid, [True, True, False])
    np.testing.assert_array_equal(moved[:2], [1, 2])


def _chunked_reference(pred, gt, chunking):
    """Loop transcription of GVHMR compute_global_metrics / TRAM run_eval chunking."""
    n = len(gt)
    if chunking == "gvhmr":
        bounds = [(s, min(n, s + 100)) for s in range(0, n, 100)]
    else:
        bounds = []
        for s in range(0, n - 100, 100):
            e = s + 100
            if s + 200 > n:
                e = n - 1
            bounds.append((s, e))
    first, whole = [], []
    for s, e in bounds:
        g, p = gt[s:e].astype(np.float64), pred[s:e].astype(np.float64)
        f_first = _umeyama_np(p[:2].reshape(-1, 3), g[:2].reshape(-1, 3))
        f_whole = _umeyama_np(p.reshape(-1, 3), g.reshape(-1, 3))
        first.append(np.linalg.norm(f_first(p) - g, axis=-1).mean(-1) * 1000)
        whole.append(np.linalg.norm(f_whole(p) - g, axis=-1).mean(-1) * 1000)
    return np.concatenate(first), np.concatenate(whole)


@pytest.mark.parametrize("frames,chunking", [(150, "gvhmr"), (250, "tram"), (200, "tram"), (150, "tram")])
def test_w_mpjpe100_matches_the_reference_chunk_loop(frames, chunking):
    rng = np.random.default_rng(frames)
    gt = _random_motion(rng, frames=frames, joints=6)
    drift = np.cumsum(rng.normal(size=(frames, 1, 3)) * 0.01, axis=0).astype(np.float32)
    pred = _similarity(gt.reshape(-1, 3), 1.1, [0.0, 0.5, 0.0], [1, 0, 0]).reshape(gt.shape) + drift
    first, whole = est.w_mpjpe100(pred, gt, chunking=chunking)
    ref_first, ref_whole = _chunked_reference(pred, gt, chunking)
    np.testing.assert_allclose(first.to_numpy(), ref_first, rtol=2e-3, atol=1e-2)
    np.testing.assert_allclose(whole.to_numpy(), ref_whole, rtol=2e-3, atol=1e-2)
    # A global similarity transform of the GT scores zero on both.
    exact = _similarity(gt.reshape(-1, 3), 0.8, [0.2, 0.1, 0.3], [0, 1, 0]).reshape(gt.shape)
    a, b = est.w_mpjpe100(exact, gt, chunking=chunking)
    assert float(a.mean()) < 0.05 and float(b.mean()) < 0.05


def test_rte_rigid_alignment_and_path_normalisation():
    rng = np.random.default_rng(5)
    gt = _random_motion(rng, frames=60)
    rigid = _similarity(gt.reshape(-1, 3), 1.0, [0.1, 1.2, -0.3], [3, 0, 1]).reshape(gt.shape)
    assert float(est.root_translation_error(rigid, gt).mean()) < 1e-2
    # Against an independent rigid fit (scipy orthogonal_procrustes) of the root trajectories.
    pred = gt + rng.normal(size=gt.shape).astype(np.float32) * 0.05
    p, g = pred[:, 0].astype(np.float64), gt[:, 0].astype(np.float64)
    rot, _ = scipy.linalg.orthogonal_procrustes(p - p.mean(0), g - g.mean(0))
    aligned = (p - p.mean(0)) @ rot + g.mean(0)
    path = np.linalg.norm(np.diff(g, axis=0), axis=-1).sum()
    expected = np.linalg.norm(aligned - g, axis=-1) / path * 100
    np.testing.assert_allclose(est.root_translation_error(pred, gt).to_numpy(), expected, rtol=1e-3)


def test_foot_sliding_planted_foot_moving_2cm_per_frame_is_20mm():
    frames = 12
    gt_feet = np.zeros((frames, 4, 3), np.float32)  # planted
    pred_feet = np.zeros_like(gt_feet)
    pred_feet[:, 0, 0] = 0.02 * np.arange(frames)  # slides 2 cm per frame
    pred_feet[:, 1:, 2] = 0.02 * np.arange(frames)[:, None]
    fs = est.foot_sliding(pred_feet, gt_feet)
    assert fs.to_numpy().shape == ((frames - 1) * 4,)
    np.testing.assert_allclose(fs.mean(), 20.0, rtol=1e-5)
    # GT moving 2 cm/frame is not in contact: nothing is scored.
    assert not np.asarray(est.foot_sliding(pred_feet, pred_feet).valid).any()
    # Through global_metrics with a 6890-vertex SMPL mesh.
    verts = np.zeros((frames, 6890, 3), np.float32)
    pred_verts = verts.copy()
    pred_verts[:, list(est.SMPL_FOOT_VERTICES), 0] = 0.02 * np.arange(frames)[:, None]
    joints = _random_motion(np.random.default_rng(6), frames=frames)
    out = est.global_metrics(joints, joints, pred_verts, verts)
    np.testing.assert_allclose(out["fs"].mean(), 20.0, rtol=1e-5)


def test_batched_inputs_and_frame_weighted_mean():
    rng = np.random.default_rng(7)
    gts = [_random_motion(rng, frames=30) for _ in range(3)]
    preds = [g + rng.normal(size=g.shape).astype(np.float32) * 0.03 for g in gts]
    lengths = np.array([30, 20, 10])
    mask = np.arange(30)[None, :] < lengths[:, None]
    batched = est.global_metrics(np.stack(preds), np.stack(gts), mask=mask)
    # Padded sequences (mask = frame < length) equal truncated ones (test above), one compile here.
    singles = [est.global_metrics(p, g, mask=m) for p, g, m in zip(preds, gts, mask)]
    for name in ["waa_mpjpe", "jitter", "rte"]:
        pooled = frame_mean([single[name] for single in singles])
        np.testing.assert_allclose(float(batched[name].mean()), pooled, rtol=1e-4)
    assert frame_mean([PerFrame(np.array([1.0, 3.0]), np.array([True, True])),
                       PerFrame(np.array([5.0, 9.0]), np.array([True, False]))]) == pytest.approx(3.0)
