"""Generation metrics: FID against scipy.linalg.sqrtm, diversity, BAS, PFC and keyframe errors
on hand-computed cases."""

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.transform import Rotation

from genmo_jax.evaluate import generation as gen


def _fid_scipy(a, b):
    """The reference formula (Guo et al. / Bailando calculate_frechet_distance) with sqrtm."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    covmean = covmean.real
    return (m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def test_fid_zero_for_identical_sets_and_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert gen.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    b = rng.normal(size=(150, 8)) @ rng.normal(size=(8, 8)) * 0.5 + 1.0
    np.testing.assert_allclose(gen.frechet_distance(a, b), _fid_scipy(a, b), rtol=1e-6)
    # Closed form for 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2.
    np.testing.assert_allclose(
        gen.frechet_distance_from_statistics([0.0], [[4.0]], [3.0], [[1.0]]), 9.0 + 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="N >= 2"):
        gen.frechet_distance(a[:1], b)


def test_diversity_and_dance_feature_metrics():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    assert gen.mean_pairwise_distance(points) == pytest.approx((5 + 10 + 5) / 3)
    rng = np.random.default_rng(1)
    gt_k, gt_g = rng.normal(size=(30, 72)) * 5 + 2, rng.uniform(size=(30, 32))
    same = gen.dance_feature_metrics(gt_k, gt_g, gt_k, gt_g)
    # N < D: rank-deficient covariances; zero up to eigensolver rounding (traces are ~72).
    assert same["fid_k"] == pytest.approx(0.0, abs=1e-5) and same["fid_g"] == pytest.approx(0.0, abs=1e-5)
    assert same["div_k"] == pytest.approx(same["div_k_gt"])
    # Normalisation uses the GT statistics for both sets.
    norm_gt, norm_gen = gen.normalize_with_reference(gt_k, gt_k * 2)
    np.testing.assert_allclose(norm_gt.mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(norm_gen, (gt_k * 2 - gt_k.mean(0)) / (gt_k.std(0) + 1e-10))


def test_aist_features_zero_start_and_truncation():
    rng = np.random.default_rng(2)
    dance = np.cumsum(rng.normal(size=(40, 24, 3)) * 0.02, axis=0) + rng.normal(size=(1, 24, 3))
    k1, g1 = gen.aist_features(dance, max_frames=30)
    k2, g2 = gen.aist_features(dance[:30] + np.array([5.0, 0.0, -3.0]), max_frames=30)  # moved in the world
    np.testing.assert_allclose(k1, k2, rtol=1e-4)
    np.testing.assert_array_equal(g1, g2)
    assert k1.shape == (72,) and g1.shape == (32,)


def _periodic_dance(frames=181, period=30, phase=15):
    """All joints translate with per-frame step 1 + cos(2 pi (t - phase) / period) ... shifted so
    the speed minima (zero speed) sit at t = phase + k * period."""
    t = np.arange(frames - 1)
    step = 0.01 * (1 - np.cos(2 * np.pi * (t - phase) / period))
    x = np.concatenate([[0.0], np.cumsum(step)])
    joints = np.zeros((frames, 24, 3)) + np.arange(24)[None, :, None] * 0.05
    joints[:, :, 0] += x[:, None]
    return joints


def test_bas_is_one_at_the_music_beats_and_gaussian_off_beat():
    joints = _periodic_dance()
    beats = gen.motion_beats(joints)
    interior = np.array([45, 75, 105, 135])
    assert set(interior) <= set(beats.tolist())
    for variant in ["bailando", "gem"]:
        assert gen.beat_alignment_score(interior, joints, variant) == pytest.approx(1.0)
        # Music beats 3 frames off the motion beats: exp(-3^2 / (2 * 3^2)).
        assert gen.beat_alignment_score(interior + 3, joints, variant) == pytest.approx(np.exp(-0.5))
    # Bailando ignores music beats at or after frame T - 1 (the speed curve's length); GEM does not.
    late = np.array([45, 180])
    assert gen.beat_alignment_score(late, joints, "bailando") == pytest.approx(1.0)
    assert gen.beat_alignment_score(late, joints, "gem") < 1.0
    np.testing.assert_array_equal(gen.beats_from_onehot([0, 1, 0, 0, 1]), [1, 4])


def test_bas_fact_variant_averages_over_motion_beats():
    joints = _periodic_dance()
    beats = gen.motion_beats(joints, "fact")
    # FACT's speed index is shifted by one frame (v_t = |p_t - p_{t-1}|): minima at phase + 1.
    np.testing.assert_array_equal(beats, [16, 46, 76, 106, 136, 166])
    assert gen.beat_alignment_score(beats, joints, "fact") == pytest.approx(1.0)
    # One music beat at 46: motion beats at distance 30k score exp(-(30k)^2 / 18) ~ 0 except 46.
    assert gen.beat_alignment_score([46], joints, "fact") == pytest.approx(1 / 6, rel=1e-6)
    with pytest.raises(ValueError, match="variant"):
        gen.beat_alignment_score([1], joints, "unknown")


def test_pfc_hand_case_and_static_feet():
    frames, fps = 20, 30.0
    t = np.arange(frames) / fps
    joints = np.zeros((frames, 24, 3))
    joints[:, 0, 0] = 0.5 * 2.0 * t**2  # root: constant horizontal acceleration 2 m/s^2 -> a_hat = 1
    joints[:, [7, 10], 2] = 0.03 * np.arange(frames)[:, None]  # left foot slides 3 cm/frame
    joints[:, 8, 2] = 0.02 * np.arange(frames)  # right ankle 2 cm/frame, right toe 5 cm/frame
    joints[:, 11, 2] = 0.05 * np.arange(frames)
    np.testing.assert_allclose(gen.physical_foot_contact([joints], fps), 1e4 * 0.03 * 0.02, rtol=1e-6)
    # Vertical motion of the feet is not horizontal sliding; downward root acceleration is clamped.
    still = joints.copy()
    still[:, [7, 10, 8, 11], 2] = 0.0
    still[:, [7, 10, 8, 11], 1] = 0.02 * np.arange(frames)[:, None]
    assert gen.physical_foot_contact([still], fps) == pytest.approx(0.0)
    # A downward root acceleration (up component) is clamped to 0: only the 2 m/s^2 remains.
    falling = joints.copy()
    falling[:, 0, 1] = -0.5 * 9.8 * t**2
    np.testing.assert_allclose(gen.physical_foot_contact([falling], fps), 1e4 * 0.03 * 0.02, rtol=1e-6)
    # Vertical root acceleration +5 then -5 m/s^2 (no horizontal): a_hat = 1 for the first half
    # of the T-2 acceleration frames, 0 (clamped) for the second half.
    accel = np.where(np.arange(frames - 2) < (frames - 2) // 2, 5.0, -5.0)
    velocity = np.concatenate([[0.0], np.cumsum(accel) / fps])
    bouncing = joints.copy()
    bouncing[:, 0, 0] = 0.0
    bouncing[:, 0, 1] = np.concatenate([[0.0], np.cumsum(velocity) / fps])
    np.testing.assert_allclose(gen.physical_foot_contact([bouncing], fps), 1e4 * 0.03 * 0.02 * 0.5, rtol=1e-6)
    z_up = joints[..., [0, 2, 1]]  # EDGE's own axes
    np.testing.assert_allclose(gen.physical_foot_contact([z_up], fps, up_axis=2),
                               gen.physical_foot_contact([joints], fps, up_axis=1), rtol=1e-9)


def test_keyframe_errors_and_protocol():
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(60, 24, 3))
    rot = Rotation.from_rotvec([0.2, -0.4, 0.1]).as_matrix()
    pred = 1.2 * gt @ rot.T + np.array([1.0, 0.0, 2.0])
    keys = gen.inbetween_keyframes(60, 5, rng)
    np.testing.assert_array_equal(keys, [0, 15, 30, 44, 59])  # round(59 * i / 4), half to even
    errors = gen.keyframe_errors(pred, gt, keys)
    assert errors["wa_mpjpe"] == pytest.approx(0.0, abs=1e-6) and errors["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    # One keyframe translated: PA removes it, WA (one fit over all keyframes) does not.
    moved = gt.copy()
    moved[30] += 0.3
    errors = gen.keyframe_errors(moved, gt, keys)
    assert errors["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6) and errors["wa_mpjpe"] > 10.0
    two = gen.inbetween_keyframes(60, 2, rng)
    assert two[0] == 0 and 30 <= two[1] < 60
    assert gen.min_over_samples([{"a": 3.0, "b": 1.0}, {"a": 2.0, "b": 5.0}]) == {"a": 2.0, "b": 1.0}
    with pytest.raises(ValueError, match="2 or 5"):
        gen.inbetween_keyframes(60, 3, rng)


def test_keyframe_trajectory_errors_hand_case():
    gt = np.zeros((1, 6, 3))
    pred = gt.copy()
    pred[0, [1, 3, 5], 0] = [0.1, 0.3, 0.6]  # keyframe errors along x
    pred[0, 2, 0] = 9.0  # not a keyframe: ignored
    mask = np.zeros((1, 6), bool)
    mask[0, [1, 3, 5]] = True
    strict = gen.keyframe_trajectory_errors(pred, gt, mask)
    assert strict["traj_fail_20cm"][0] == 1.0 and strict["traj_fail_50cm"][0] == 1.0
    assert strict["loc_fail_20cm"][0] == pytest.approx(2 / 3) and strict["loc_fail_50cm"][0] == pytest.approx(1 / 3)
    assert strict["mean_error"][0] == pytest.approx(1 / 3)
    mean_based = gen.keyframe_trajectory_errors(pred, gt, mask, strict=False)
    assert mean_based["traj_fail_20cm"][0] == 1.0 and mean_based["traj_fail_50cm"][0] == 0.0
    # Only the chosen axes count: a vertical error is invisible to the default xz comparison.
    lifted = gt.copy()
    lifted[0, :, 1] = 1.0
    assert gen.keyframe_trajectory_errors(lifted, gt, mask)["mean_error"][0] == 0.0


def test_skating_ratio_grounded_sliding_feet():
    frames, fps = 21, 20.0
    joints = np.zeros((frames, 22, 3))
    joints[:, [10, 11], 0] = np.arange(frames)[:, None] * 1.0 / fps  # both feet slide at 1 m/s on the floor
    assert gen.skating_ratio(joints, fps) == 1.0  # the zero-padded 5-step average is still >= 0.6 m/s
    lifted = joints.copy()
    lifted[:, 10:12, 1] = 0.1  # 10 cm up: no contact
    assert gen.skating_ratio(lifted, fps) == 0.0
    slow = joints * 0.3  # 0.3 m/s is below the 0.5 m/s threshold
    assert gen.skating_ratio(slow, fps) == 0.0
    one_step = np.zeros((frames, 22, 3))
    one_step[11:, 10, 0] = 0.1  # a single 2 m/s jump of one foot: its 5-step average is 0.4 m/s
    assert gen.skating_ratio(one_step, fps) == 0.0
